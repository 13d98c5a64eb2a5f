//! Who may call what: the route table's access column, enforced for every request by one
//! middleware. A route that matched but has no entry is refused (secure by default).

use std::net::IpAddr;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, ResponseError};
use urbanstream_actors::hub::Topic;
use urbanstream_actors::metrics as m;
use urbanstream_schema::models::NewAudit;

use super::{ApiError, HttpState, ROUTES};
use crate::auth::{now_ms, AuthService, Principal, Role};

/// Every role.
pub const EVERYONE: &[Role] = &Role::ALL;
/// History, exports and analytics.
pub const HISTORY: &[Role] = &[Role::Admin, Role::Dispatcher, Role::Analyst];
/// Acting on vehicles and alerts: device commands, acknowledgements.
pub const DISPATCH: &[Role] = &[Role::Admin, Role::Dispatcher];
/// Robots and cameras.
pub const OPERATE: &[Role] = &[Role::Admin, Role::Operator];
/// Users, keys, devices, vehicles, rules, configuration, the audit log.
pub const ADMIN: &[Role] = &[Role::Admin];

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: health, readiness, login, refresh, the API document.
    Public,
    /// `/metrics`: the bearer token `auth.metrics_token` when set.
    Metrics,
    /// The handler authenticates (`/ws`: a token in the query or the first message).
    Handler,
    /// A user or API key with one of these roles.
    Roles(&'static [Role]),
}

impl Access {
    pub fn allows(self, role: Role) -> bool {
        match self {
            Self::Roles(roles) => roles.contains(&role),
            Self::Public | Self::Metrics | Self::Handler => true,
        }
    }
}

/// HTTP methods the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Patch,
    Delete,
}

impl Verb {
    pub fn method(self) -> Method {
        match self {
            Self::Get => Method::GET,
            Self::Post => Method::POST,
            Self::Patch => Method::PATCH,
            Self::Delete => Method::DELETE,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }
}

/// One row of the route table.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    pub verb: Verb,
    /// actix pattern, e.g. `/api/v1/devices/{imei}`.
    pub path: &'static str,
    pub access: Access,
}

/// Routes served by other components (Swagger UI) that the table must still name.
pub const EXTRA_ROUTES: &[RouteSpec] = &[
    RouteSpec {
        verb: Verb::Get,
        path: "/api/v1/openapi.json",
        access: Access::Public,
    },
    RouteSpec {
        verb: Verb::Get,
        path: "/api/docs/{_:.*}",
        access: Access::Public,
    },
];

/// Which roles may subscribe to a WebSocket topic.
pub fn topic_roles(topic: &Topic) -> &'static [Role] {
    match topic {
        Topic::Fleet | Topic::Device(_) | Topic::Vehicle(_) => EVERYONE,
        Topic::Events => &[Role::Admin, Role::Dispatcher, Role::Operator, Role::Analyst],
    }
}

/// The entry for a matched pattern and method.
pub fn lookup(method: &Method, pattern: &str) -> Option<&'static RouteSpec> {
    ROUTES
        .iter()
        .chain(EXTRA_ROUTES)
        .find(|r| r.path == pattern && r.verb.method() == method)
}

/// Set by a handler of a public route to name the actor of its audit entry (a login).
#[derive(Debug, Clone)]
pub struct AuditNote {
    pub actor: String,
    pub actor_kind: &'static str,
    pub detail: Option<String>,
}

/// The id of a request, sent back as `X-Request-Id` and kept in the audit log.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The bearer credential of a request, if any.
pub fn bearer(req: &actix_web::HttpRequest) -> Option<&str> {
    let h = req.headers();
    h.get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .or_else(|| h.get("x-api-key").and_then(|v| v.to_str().ok()))
        .map(str::trim)
}

fn reject(reason: &'static str, e: ApiError) -> ApiError {
    metrics::counter!(m::AUTH_REJECTED_TOTAL, "reason" => reason).increment(1);
    e
}

fn client_ip(req: &ServiceRequest) -> Option<IpAddr> {
    req.peer_addr().map(|a| a.ip())
}

/// Authentication, the role check, rate limits and the audit log, around every request.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let request_id = format!("{:016x}", rand::random::<u64>());
    let Some(state) = req.app_data::<web::Data<HttpState>>().cloned() else {
        return Err(ApiError::internal("HttpState missing").into());
    };
    let auth = state.auth.clone();
    let pattern = req.match_pattern();
    let (decision, principal) = match decide(&req, &auth, pattern.as_deref()).await {
        Ok(p) => p,
        Err(e) => {
            let res = req.into_response(e.error_response()).map_into_right_body();
            return Ok(with_request_id(res, &request_id));
        }
    };
    req.extensions_mut().insert(RequestId(request_id.clone()));
    if let Some(p) = &principal {
        req.extensions_mut().insert(p.clone());
    }
    let audited = decision == Decision::Audit;
    let (method, path, ip) = (req.method().clone(), req.path().to_owned(), client_ip(&req));
    let res = next.call(req).await?;
    if audited {
        let note = res.request().extensions().get::<AuditNote>().cloned();
        let (actor, actor_kind, detail) = match (note, &principal) {
            (Some(n), _) => (n.actor, n.actor_kind, n.detail),
            (None, Some(p)) => (p.name.clone(), p.kind_label(), None),
            (None, None) => ("anonymous".to_owned(), "anonymous", None),
        };
        let entry = NewAudit {
            time_ms: now_ms(),
            actor,
            actor_kind: actor_kind.to_owned(),
            action: format!("{method} {}", pattern.as_deref().unwrap_or("?")),
            resource: path,
            status: i32::from(res.status().as_u16()),
            ip: ip.map(|i| i.to_string()),
            request_id: request_id.clone(),
            detail,
        };
        if let Err(e) = state.store.insert_audit(entry).await {
            metrics::counter!(m::AUDIT_WRITE_FAILURES_TOTAL).increment(1);
            tracing::error!(request_id, "audit entry not written: {e}");
        }
    }
    Ok(with_request_id(res.map_into_left_body(), &request_id))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Pass,
    Audit,
}

async fn decide(
    req: &ServiceRequest,
    auth: &Arc<AuthService>,
    pattern: Option<&str>,
) -> Result<(Decision, Option<Principal>), ApiError> {
    let Some(pattern) = pattern else {
        // Nothing matched: the router answers 404.
        return Ok((Decision::Pass, None));
    };
    let method = req.method();
    let changes = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    let Some(spec) = lookup(method, pattern) else {
        if *method == Method::OPTIONS || ROUTES.iter().any(|r| r.path == pattern) {
            // Another method of a listed route: CORS preflight, or the router's 405.
            return Ok((Decision::Pass, None));
        }
        tracing::error!(
            pattern,
            "route is served but not in the access table: refused"
        );
        return Err(reject(
            "unlisted",
            ApiError::Forbidden("this route is not open to anyone".into()),
        ));
    };
    let probe = matches!(spec.path, "/health" | "/ready") || spec.access == Access::Metrics;
    if !probe {
        if let Some(ip) = client_ip(req) {
            auth.limits.per_ip.check(&ip).map_err(|wait| {
                reject("rate_limited", crate::auth::AuthError::TooMany(wait).into())
            })?;
        }
    }
    let audit = if changes {
        Decision::Audit
    } else {
        Decision::Pass
    };
    match spec.access {
        Access::Public | Access::Handler => Ok((audit, None)),
        Access::Metrics => {
            if let Some(expected) = auth
                .settings()
                .metrics_token
                .as_deref()
                .filter(|t| !t.is_empty())
            {
                let given = bearer(req.request()).unwrap_or_default();
                if !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
                    return Err(reject(
                        "unauthenticated",
                        ApiError::Unauthorized("/metrics needs its bearer token".into()),
                    ));
                }
            }
            Ok((Decision::Pass, None))
        }
        Access::Roles(roles) => {
            let Some(credential) = bearer(req.request()) else {
                return Err(reject(
                    "unauthenticated",
                    ApiError::Unauthorized(
                        "sign in: send `Authorization: Bearer <access token or API key>`".into(),
                    ),
                ));
            };
            let principal = auth
                .authenticate(credential)
                .await
                .map_err(|e| reject("unauthenticated", e.into()))?;
            auth.limits
                .per_principal
                .check(&principal.limit_key())
                .map_err(|wait| {
                    reject("rate_limited", crate::auth::AuthError::TooMany(wait).into())
                })?;
            if !roles.contains(&principal.role) {
                return Err(reject(
                    "forbidden",
                    ApiError::Forbidden(format!(
                        "role {} may not {} {}",
                        principal.role,
                        spec.verb.as_str(),
                        spec.path
                    )),
                ));
            }
            Ok((audit, Some(principal)))
        }
    }
}

fn with_request_id<B>(mut res: ServiceResponse<B>, id: &str) -> ServiceResponse<B> {
    if let Ok(v) = HeaderValue::from_str(id) {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), v);
    }
    res
}

/// Compares secrets without an early exit.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
