//! Authentication: users with argon2id passwords, short-lived access JWTs with rotating
//! refresh tokens, API keys for machines, rate limits and the login lockout. What each role
//! may reach is `http::access`'s table.

pub mod accounts;
mod limits;
mod role;
mod secret;
mod settings;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use urbanstream_schema::models::UserRow;
use urbanstream_schema::store::{DbError, Store};

pub use limits::{Limiter, Limits, LoginGuard};
pub use role::{
    topic_roles, Principal, PrincipalKind, Role, UnknownRole, ADMIN, DISPATCH, EVERYONE, HISTORY,
    OPERATE, PEOPLE, STOP, WATCH,
};
pub use secret::{
    check_password, hash_password, new_api_key, random_token, token_hash, verify_password,
    PasswordError, API_KEY_PREFIX,
};
pub use settings::{AuthSettings, InvalidSetting, MIN_SIGNING_KEY_BYTES};

/// Why a request is not let in.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{0}")]
    Unauthorized(&'static str),
    /// A rotated refresh token came back: its session is revoked.
    #[error("refresh token was already used; the session is revoked")]
    Reused,
    #[error("too many attempts; retry in {} s", .0.as_secs().max(1))]
    TooMany(Duration),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{0}")]
    Internal(String),
}

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: String,
    pub name: String,
    pub role: Role,
    /// The login (refresh-token family) this token belongs to.
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
}

/// What a login or refresh returns.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds the access token is valid.
    pub expires_in: u64,
    pub token_type: &'static str,
}

/// How long an API key lookup is trusted before the database is asked again; a key
/// revoked on another node stops working within this time.
const API_KEY_CACHE_TTL: Duration = Duration::from_secs(5);
/// `last_used_ms` is written at most this often per key.
const API_KEY_TOUCH_EVERY: Duration = Duration::from_secs(60);

struct CachedKey {
    principal: Option<Principal>,
    fetched: Instant,
    touched: Option<Instant>,
}

/// One node's authentication state.
pub struct AuthService {
    store: Store,
    settings: AuthSettings,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Sessions (refresh families) whose access tokens are refused, until when (ms).
    revoked: RwLock<HashMap<String, i64>>,
    api_keys: Mutex<HashMap<String, CachedKey>>,
    pub limits: Limits,
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl AuthService {
    pub fn new(store: Store, settings: AuthSettings) -> Self {
        let key = match settings.signing_key.as_deref().filter(|k| !k.is_empty()) {
            Some(k) => k.as_bytes().to_vec(),
            None => {
                tracing::warn!(
                    "auth.signing_key is not set: access tokens are signed with a random key \
                     that ends with this process and other nodes refuse"
                );
                rand::random::<[u8; 32]>().to_vec()
            }
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[settings.issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 0;
        let limits = Limits {
            per_principal: Limiter::new(
                settings.rate_per_principal,
                Duration::from_secs(1),
                settings.burst_per_principal,
            ),
            per_ip: Limiter::new(
                settings.rate_per_ip,
                Duration::from_secs(1),
                settings.burst_per_ip,
            ),
            login_per_ip: Limiter::new(
                settings.logins_per_ip_per_minute,
                Duration::from_secs(60),
                settings.logins_per_ip_per_minute,
            ),
            login: LoginGuard::new(
                settings.max_failed_logins,
                settings.lockout_base,
                settings.lockout_max,
            ),
        };
        Self {
            store,
            encoding: EncodingKey::from_secret(&key),
            decoding: DecodingKey::from_secret(&key),
            validation,
            settings,
            revoked: RwLock::new(HashMap::new()),
            api_keys: Mutex::new(HashMap::new()),
            limits,
        }
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// Creates `admin` from `auth.bootstrap_admin_password` when no user exists yet.
    pub async fn bootstrap(&self) -> Result<(), AuthError> {
        if self.store.count_users().await? > 0 {
            return Ok(());
        }
        match self
            .settings
            .bootstrap_admin_password
            .clone()
            .filter(|p| !p.is_empty())
        {
            Some(password) => {
                let hash = blocking(move || hash_password(&password)).await?;
                match self
                    .store
                    .create_user("admin", &hash, Role::Admin.as_str(), now_ms())
                    .await
                {
                    Ok(_) => tracing::info!(
                        "created user `admin` (ADMIN) from auth.bootstrap_admin_password"
                    ),
                    // Another node created it at the same moment.
                    Err(e) if urbanstream_schema::store::is_conflict(&e) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            None => tracing::warn!(
                "no users yet: only /health, /ready and /auth/login answer until one is created \
                 with `urbanstream user add --username admin --role ADMIN` (or start with \
                 URBANSTREAM__AUTH__BOOTSTRAP_ADMIN_PASSWORD set)"
            ),
        }
        Ok(())
    }

    fn issue_access(
        &self,
        user: &UserRow,
        role: Role,
        session: &str,
    ) -> Result<(String, u64), AuthError> {
        let now = chrono::Utc::now().timestamp();
        let ttl = self.settings.access_ttl.as_secs().max(1);
        let claims = Claims {
            sub: user.id.to_string(),
            name: user.username.clone(),
            role,
            sid: session.to_owned(),
            iat: now,
            exp: now + i64::try_from(ttl).unwrap_or(i64::MAX / 2),
            iss: self.settings.issuer.clone(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map(|t| (t, ttl))
            .map_err(|e| AuthError::Internal(format!("signing: {e}")))
    }

    async fn issue_pair(&self, user: &UserRow, session: &str) -> Result<TokenPair, AuthError> {
        let role: Role = user
            .role
            .parse()
            .map_err(|e: UnknownRole| AuthError::Internal(e.to_string()))?;
        let (access_token, expires_in) = self.issue_access(user, role, session)?;
        let refresh_token = random_token();
        let now = now_ms();
        let ttl = i64::try_from(self.settings.refresh_ttl.as_millis()).unwrap_or(i64::MAX / 2);
        self.store
            .insert_refresh_token(
                user.id,
                session,
                &token_hash(&refresh_token),
                now,
                now + ttl,
            )
            .await?;
        Ok(TokenPair {
            access_token,
            refresh_token,
            expires_in,
            token_type: "Bearer",
        })
    }

    /// Checks a password login. The caller records the outcome in the audit log.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        ip: Option<IpAddr>,
    ) -> Result<TokenPair, AuthError> {
        if let Some(ip) = ip {
            self.limits
                .login_per_ip
                .check(&ip)
                .map_err(AuthError::TooMany)?;
        }
        let now = Instant::now();
        self.limits
            .login
            .check(username, now)
            .map_err(AuthError::TooMany)?;
        let user = self.store.user_by_name(username).await?;
        let phc = user.as_ref().map_or_else(
            || secret::dummy_hash().to_owned(),
            |u| u.password_hash.clone(),
        );
        let password = password.to_owned();
        let matches =
            blocking(move || Ok::<_, PasswordError>(verify_password(&password, &phc))).await?;
        match user {
            Some(user) if matches && !user.disabled => {
                self.limits.login.succeeded(username);
                let session = hex::encode(rand::random::<[u8; 16]>());
                self.issue_pair(&user, &session).await
            }
            _ => {
                if let Some(lock) = self.limits.login.failed(username, now) {
                    tracing::warn!(
                        username,
                        "login locked for {lock:?} after repeated failures"
                    );
                }
                Err(AuthError::Unauthorized("invalid username or password"))
            }
        }
    }

    /// Swaps a refresh token for a new pair. A token used a second time revokes its whole
    /// family: whoever holds a stolen copy and the rightful owner are both signed out.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, AuthError> {
        const INVALID: AuthError = AuthError::Unauthorized("refresh token is invalid or expired");
        let row = self
            .store
            .refresh_token(&token_hash(refresh_token))
            .await?
            .ok_or(INVALID)?;
        let now = now_ms();
        if row.revoked_ms.is_some() || row.expires_ms <= now {
            return Err(INVALID);
        }
        if row.rotated_ms.is_some() || !self.store.rotate_refresh_token(row.id, now).await? {
            self.revoke_session(&row.family).await?;
            tracing::warn!(
                user_id = row.user_id,
                "refresh token reused: session revoked"
            );
            return Err(AuthError::Reused);
        }
        let user = self.store.user(row.user_id).await?.ok_or(INVALID)?;
        if user.disabled {
            return Err(AuthError::Unauthorized("user is disabled"));
        }
        self.issue_pair(&user, &row.family).await
    }

    /// Ends a login: its refresh tokens and access tokens stop working.
    pub async fn revoke_session(&self, family: &str) -> Result<(), AuthError> {
        self.store.revoke_refresh_family(family, now_ms()).await?;
        self.deny(family);
        Ok(())
    }

    /// Ends every login of a user (disabled, role or password changed).
    pub async fn revoke_user(&self, user_id: i64) -> Result<(), AuthError> {
        for family in self.store.revoke_user_tokens(user_id, now_ms()).await? {
            self.deny(&family);
        }
        Ok(())
    }

    fn deny(&self, family: &str) {
        let until = now_ms() + i64::try_from(self.settings.access_ttl.as_millis()).unwrap_or(0);
        if let Ok(mut r) = self.revoked.write() {
            r.insert(family.to_owned(), until);
        }
    }

    /// Learns the sessions other nodes revoked, and forgets those whose access tokens have
    /// all expired. Run every few seconds.
    pub async fn sync_revocations(&self) -> Result<(), AuthError> {
        let ttl = i64::try_from(self.settings.access_ttl.as_millis()).unwrap_or(0);
        let now = now_ms();
        let families = self.store.revoked_families_since(now - ttl).await?;
        if let Ok(mut r) = self.revoked.write() {
            r.retain(|_, until| *until > now);
            for f in families {
                r.entry(f).or_insert(now + ttl);
            }
        }
        self.limits.per_principal.prune();
        self.limits.per_ip.prune();
        self.limits.login_per_ip.prune();
        if let Ok(mut keys) = self.api_keys.lock() {
            keys.retain(|_, k| k.fetched.elapsed() < API_KEY_CACHE_TTL);
        }
        Ok(())
    }

    /// Verifies an access token (signature, issuer, expiry, revocation).
    pub fn verify_access(&self, token: &str) -> Result<Principal, AuthError> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    AuthError::Unauthorized("access token expired")
                }
                _ => AuthError::Unauthorized("access token is invalid"),
            })?
            .claims;
        // RFC 7519: valid only *before* `exp` (the library also admits the second of `exp`).
        if claims.exp <= chrono::Utc::now().timestamp() {
            return Err(AuthError::Unauthorized("access token expired"));
        }
        let revoked = self
            .revoked
            .read()
            .map(|r| r.contains_key(&claims.sid))
            .unwrap_or(true);
        if revoked {
            return Err(AuthError::Unauthorized("session was revoked"));
        }
        let id = claims
            .sub
            .parse()
            .map_err(|_parse| AuthError::Unauthorized("access token is invalid"))?;
        Ok(Principal {
            name: claims.name,
            role: claims.role,
            kind: PrincipalKind::User {
                id,
                session: claims.sid,
                expires_ms: claims.exp.saturating_mul(1000),
            },
        })
    }

    /// Looks an API key up (cached for a few seconds) and records its use.
    pub async fn verify_api_key(&self, key: &str) -> Result<Principal, AuthError> {
        const INVALID: AuthError = AuthError::Unauthorized("API key is invalid or revoked");
        let hash = token_hash(key);
        let (cached, touch) = {
            let keys = self.api_keys.lock().map_err(|_poisoned| INVALID)?;
            match keys.get(&hash) {
                Some(k) if k.fetched.elapsed() < API_KEY_CACHE_TTL => (
                    Some(k.principal.clone()),
                    k.touched.is_none_or(|t| t.elapsed() >= API_KEY_TOUCH_EVERY),
                ),
                _ => (None, true),
            }
        };
        let principal = match cached {
            Some(p) => p,
            None => {
                let row = self.store.api_key_by_hash(&hash).await?;
                let principal = row.filter(|r| r.revoked_ms.is_none()).and_then(|r| {
                    Some(Principal {
                        role: r.role.parse().ok()?,
                        name: r.name,
                        kind: PrincipalKind::ApiKey { id: r.id },
                    })
                });
                if let Ok(mut keys) = self.api_keys.lock() {
                    let touched = keys.get(&hash).and_then(|k| k.touched);
                    keys.insert(
                        hash.clone(),
                        CachedKey {
                            principal: principal.clone(),
                            fetched: Instant::now(),
                            touched,
                        },
                    );
                }
                principal
            }
        };
        let principal = principal.ok_or(INVALID)?;
        if touch {
            if let PrincipalKind::ApiKey { id } = principal.kind {
                if let Ok(mut keys) = self.api_keys.lock() {
                    if let Some(k) = keys.get_mut(&hash) {
                        k.touched = Some(Instant::now());
                    }
                }
                self.store.touch_api_key(id, now_ms()).await?;
            }
        }
        Ok(principal)
    }

    /// Forgets a key at once on this node (revoked here).
    pub fn forget_api_key(&self, key_hash: &str) {
        if let Ok(mut keys) = self.api_keys.lock() {
            keys.remove(key_hash);
        }
    }

    /// A bearer credential: an API key (`usk_…`) or an access token.
    pub async fn authenticate(&self, credential: &str) -> Result<Principal, AuthError> {
        if credential.starts_with(API_KEY_PREFIX) {
            self.verify_api_key(credential).await
        } else {
            self.verify_access(credential)
        }
    }
}

/// Runs CPU-heavy password work off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, PasswordError> + Send + 'static,
) -> Result<T, AuthError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AuthError::Internal(format!("password task: {e}")))?
        .map_err(|e| AuthError::Internal(e.to_string()))
}
