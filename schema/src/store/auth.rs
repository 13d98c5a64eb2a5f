//! Users, refresh tokens, API keys and the audit log, written once for both backends.

use diesel::{BoolExpressionMethods, ExpressionMethods, QueryDsl, SelectableHelper};

use super::{optional, DbError, Store};
use crate::models::{
    ApiKeyRow, AuditRow, NewApiKey, NewAudit, NewRefreshToken, NewUser, RefreshTokenRow,
    UserChanges, UserRow,
};
use crate::schema::{api_keys, audit_log, refresh_tokens, users};

/// Which audit entries to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Only entries older than this id (the cursor of the previous page).
    pub before_id: Option<i64>,
    pub limit: i64,
}

impl Store {
    pub async fn count_users(&self) -> Result<i64, DbError> {
        on_db!(self, |c| users::table.count().get_result::<i64>(c))
    }

    /// Inserts a user; a taken username is a conflict error.
    pub async fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        role: &str,
        now_ms: i64,
    ) -> Result<UserRow, DbError> {
        let (username, password_hash, role) = (
            username.to_owned(),
            password_hash.to_owned(),
            role.to_owned(),
        );
        on_db!(self, |c| diesel::insert_into(users::table)
            .values(NewUser {
                username: &username,
                password_hash: &password_hash,
                role: &role,
                disabled: false,
                created_ms: now_ms,
                password_changed_ms: now_ms,
            })
            .returning(UserRow::as_returning())
            .get_result(c))
    }

    pub async fn user_by_name(&self, username: &str) -> Result<Option<UserRow>, DbError> {
        let username = username.to_owned();
        optional(on_db!(self, |c| users::table
            .filter(users::username.eq(username))
            .select(UserRow::as_select())
            .first(c)))
    }

    pub async fn user(&self, id: i64) -> Result<Option<UserRow>, DbError> {
        optional(on_db!(self, |c| users::table
            .find(id)
            .select(UserRow::as_select())
            .first(c)))
    }

    /// Users in id order, after `after_id`.
    pub async fn users(&self, after_id: i64, limit: i64) -> Result<Vec<UserRow>, DbError> {
        on_db!(self, |c| users::table
            .filter(users::id.gt(after_id))
            .order(users::id)
            .limit(limit)
            .select(UserRow::as_select())
            .load(c))
    }

    pub async fn update_user(
        &self,
        id: i64,
        changes: UserChanges,
    ) -> Result<Option<UserRow>, DbError> {
        if changes == UserChanges::default() {
            return self.user(id).await;
        }
        optional(on_db!(self, |c| diesel::update(users::table.find(id))
            .set(changes.clone())
            .returning(UserRow::as_returning())
            .get_result(c)))
    }

    pub async fn insert_refresh_token(
        &self,
        user_id: i64,
        family: &str,
        token_hash: &str,
        created_ms: i64,
        expires_ms: i64,
    ) -> Result<(), DbError> {
        let (family, token_hash) = (family.to_owned(), token_hash.to_owned());
        on_db!(self, |c| diesel::insert_into(refresh_tokens::table)
            .values(NewRefreshToken {
                user_id,
                family: &family,
                token_hash: &token_hash,
                created_ms,
                expires_ms,
            })
            .execute(c))?;
        Ok(())
    }

    pub async fn refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<RefreshTokenRow>, DbError> {
        let token_hash = token_hash.to_owned();
        optional(on_db!(self, |c| refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(token_hash))
            .select(RefreshTokenRow::as_select())
            .first(c)))
    }

    /// Marks a refresh token used. False when it was already used or revoked: of two
    /// concurrent refreshes with one token, exactly one wins.
    pub async fn rotate_refresh_token(&self, id: i64, now_ms: i64) -> Result<bool, DbError> {
        let n = on_db!(self, |c| diesel::update(
            refresh_tokens::table.filter(
                refresh_tokens::id
                    .eq(id)
                    .and(refresh_tokens::rotated_ms.is_null())
                    .and(refresh_tokens::revoked_ms.is_null())
            )
        )
        .set(refresh_tokens::rotated_ms.eq(Some(now_ms)))
        .execute(c))?;
        Ok(n == 1)
    }

    /// Revokes every token of a family (logout, reuse of a rotated token).
    pub async fn revoke_refresh_family(&self, family: &str, now_ms: i64) -> Result<usize, DbError> {
        let family = family.to_owned();
        on_db!(self, |c| diesel::update(
            refresh_tokens::table.filter(
                refresh_tokens::family
                    .eq(family)
                    .and(refresh_tokens::revoked_ms.is_null())
            )
        )
        .set(refresh_tokens::revoked_ms.eq(Some(now_ms)))
        .execute(c))
    }

    /// Revokes every live token of a user (disabled, role or password changed); returns
    /// the families that were live.
    pub async fn revoke_user_tokens(
        &self,
        user_id: i64,
        now_ms: i64,
    ) -> Result<Vec<String>, DbError> {
        let families: Vec<String> = on_db!(self, |c| refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user_id))
            .filter(refresh_tokens::revoked_ms.is_null())
            .filter(refresh_tokens::expires_ms.gt(now_ms))
            .select(refresh_tokens::family)
            .distinct()
            .load(c))?;
        on_db!(self, |c| diesel::update(
            refresh_tokens::table.filter(
                refresh_tokens::user_id
                    .eq(user_id)
                    .and(refresh_tokens::revoked_ms.is_null())
            )
        )
        .set(refresh_tokens::revoked_ms.eq(Some(now_ms)))
        .execute(c))?;
        Ok(families)
    }

    /// Families revoked since `since_ms` whose tokens may still be alive: a starting node
    /// learns which access tokens to refuse.
    pub async fn revoked_families_since(&self, since_ms: i64) -> Result<Vec<String>, DbError> {
        on_db!(self, |c| refresh_tokens::table
            .filter(refresh_tokens::revoked_ms.ge(since_ms))
            .select(refresh_tokens::family)
            .distinct()
            .load(c))
    }

    /// Deletes refresh tokens that expired before `cutoff_ms`.
    pub async fn purge_refresh_tokens(&self, cutoff_ms: i64) -> Result<usize, DbError> {
        on_db!(self, |c| diesel::delete(
            refresh_tokens::table.filter(refresh_tokens::expires_ms.lt(cutoff_ms))
        )
        .execute(c))
    }

    pub async fn create_api_key(
        &self,
        name: &str,
        prefix: &str,
        key_hash: &str,
        role: &str,
        created_by: &str,
        now_ms: i64,
    ) -> Result<ApiKeyRow, DbError> {
        let (name, prefix, key_hash, role, created_by) = (
            name.to_owned(),
            prefix.to_owned(),
            key_hash.to_owned(),
            role.to_owned(),
            created_by.to_owned(),
        );
        on_db!(self, |c| diesel::insert_into(api_keys::table)
            .values(NewApiKey {
                name: &name,
                prefix: &prefix,
                key_hash: &key_hash,
                role: &role,
                created_ms: now_ms,
                created_by: &created_by,
            })
            .returning(ApiKeyRow::as_returning())
            .get_result(c))
    }

    pub async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRow>, DbError> {
        let key_hash = key_hash.to_owned();
        optional(on_db!(self, |c| api_keys::table
            .filter(api_keys::key_hash.eq(key_hash))
            .select(ApiKeyRow::as_select())
            .first(c)))
    }

    pub async fn api_keys(&self) -> Result<Vec<ApiKeyRow>, DbError> {
        on_db!(self, |c| api_keys::table
            .order(api_keys::id)
            .select(ApiKeyRow::as_select())
            .load(c))
    }

    /// Revokes a key (kept for the record); `None` when there is no such key.
    pub async fn revoke_api_key(&self, id: i64, now_ms: i64) -> Result<Option<ApiKeyRow>, DbError> {
        on_db!(self, |c| diesel::update(api_keys::table.filter(
            api_keys::id.eq(id).and(api_keys::revoked_ms.is_null())
        ))
        .set(api_keys::revoked_ms.eq(Some(now_ms)))
        .execute(c))?;
        optional(on_db!(self, |c| api_keys::table
            .find(id)
            .select(ApiKeyRow::as_select())
            .first(c)))
    }

    pub async fn touch_api_key(&self, id: i64, now_ms: i64) -> Result<(), DbError> {
        on_db!(self, |c| diesel::update(api_keys::table.find(id))
            .set(api_keys::last_used_ms.eq(Some(now_ms)))
            .execute(c))?;
        Ok(())
    }

    pub async fn insert_audit(&self, entry: NewAudit) -> Result<(), DbError> {
        on_db!(self, |c| diesel::insert_into(audit_log::table)
            .values(entry.clone())
            .execute(c))?;
        Ok(())
    }

    pub async fn audit(&self, f: AuditFilter) -> Result<Vec<AuditRow>, DbError> {
        on_db!(self, |c| {
            let mut q = audit_log::table.into_boxed();
            if let Some(actor) = f.actor.clone() {
                q = q.filter(audit_log::actor.eq(actor));
            }
            if let Some(action) = f.action.clone() {
                q = q.filter(audit_log::action.eq(action));
            }
            if let Some(from) = f.from_ms {
                q = q.filter(audit_log::time_ms.ge(from));
            }
            if let Some(to) = f.to_ms {
                q = q.filter(audit_log::time_ms.lt(to));
            }
            if let Some(before) = f.before_id {
                q = q.filter(audit_log::id.lt(before));
            }
            q.order(audit_log::id.desc())
                .limit(f.limit)
                .select(AuditRow::as_select())
                .load(c)
        })
    }
}
