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
use urbanstream_actors::metrics as m;
use urbanstream_schema::models::NewAudit;

use super::{ApiError, HttpState, ROUTES};
use crate::auth::{now_ms, AuthService, Principal, Role};

pub use crate::auth::{
    topic_roles, ADMIN, DISPATCH, EVERYONE, HISTORY, OPERATE, PEOPLE, STOP, WATCH,
};

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
    Put,
    Patch,
    Delete,
}

impl Verb {
    pub fn method(self) -> Method {
        match self {
            Self::Get => Method::GET,
            Self::Post => Method::POST,
            Self::Put => Method::PUT,
            Self::Patch => Method::PATCH,
            Self::Delete => Method::DELETE,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
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

/// Routes served by other components (Swagger UI, the dashboard) that the table must still name.
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
    // The dashboard's page and files: public, the page signs in against the API.
    RouteSpec {
        verb: Verb::Get,
        path: "/",
        access: Access::Public,
    },
    RouteSpec {
        verb: Verb::Get,
        path: "/assets/{file:.*}",
        access: Access::Public,
    },
    RouteSpec {
        verb: Verb::Get,
        path: "/dashboard.json",
        access: Access::Public,
    },
];

/// The entry for a matched pattern and method.
pub fn lookup(method: &Method, pattern: &str) -> Option<&'static RouteSpec> {
    ROUTES
        .iter()
        .chain(EXTRA_ROUTES)
        .find(|r| r.path == pattern && r.verb.method() == method)
}

/// Whether `path` fits a table pattern: `{name}` takes one segment, `{_:.*}` the rest.
/// Segment comparison instead of the router's regular expressions, on every request.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    // The static part first: most patterns differ there.
    match pattern.find('{') {
        None => return pattern == path,
        Some(i) if !path.starts_with(&pattern[..i]) => return false,
        Some(_) => {}
    }
    let mut pat = pattern.split('/');
    let mut segs = path.split('/');
    loop {
        match (pat.next(), segs.next()) {
            (None, None) => return true,
            (Some(p), _) if p.starts_with('{') && p.contains(":.*}") => return true,
            (Some(p), Some(s)) if p.starts_with('{') && p.ends_with('}') => {
                if s.is_empty() {
                    return false;
                }
            }
            (Some(p), Some(s)) if p == s => {}
            _ => return false,
        }
    }
}

/// The table entry for a request: the pattern that fits its path, and the entry for its
/// method on that pattern if there is one.
pub fn resolve(method: &Method, path: &str) -> Option<(&'static str, Option<&'static RouteSpec>)> {
    let mut pattern = None;
    for r in ROUTES.iter().chain(EXTRA_ROUTES) {
        if path_matches(r.path, path) {
            if r.verb.method() == method {
                return Some((r.path, Some(r)));
            }
            pattern.get_or_insert(r.path);
        }
    }
    pattern.map(|p| (p, None))
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
    let started = std::time::Instant::now();
    let method = method_label(req.method());
    let resolved = resolve(req.method(), req.path());
    // The route table's pattern: a bounded label, whatever the path holds.
    let route = resolved
        .and_then(|(_, spec)| spec)
        .map_or("unmatched", |s| s.path);
    let res = checked(req, next, resolved).await;
    metrics::histogram!(m::HTTP_REQUEST_DURATION_SECONDS, "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    res
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

async fn checked(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    resolved: Option<(&'static str, Option<&'static RouteSpec>)>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let request_id = format!("{:016x}", rand::random::<u64>());
    let Some(state) = req.app_data::<web::Data<HttpState>>().cloned() else {
        return Err(ApiError::internal("HttpState missing").into());
    };
    let auth = state.auth.clone();
    let (pattern, spec) = match resolved {
        Some((p, spec)) => (Some(p.to_owned()), spec),
        // Not in the table: ask the router whether it serves the path at all.
        None => (req.match_pattern(), None),
    };
    let (decision, principal) = match decide(&req, &auth, pattern.as_deref(), spec).await {
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
    spec: Option<&'static RouteSpec>,
) -> Result<(Decision, Option<Principal>), ApiError> {
    let Some(pattern) = pattern else {
        // Nothing matched: the router answers 404.
        return Ok((Decision::Pass, None));
    };
    let method = req.method();
    let changes = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    let Some(spec) = spec.or_else(|| lookup(method, pattern)) else {
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
    let class = match res.status().as_u16() {
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    metrics::counter!(m::HTTP_RESPONSES_TOTAL, "class" => class).increment(1);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_by_segment() {
        assert!(path_matches(
            "/api/v1/devices/{imei}",
            "/api/v1/devices/356307042441013"
        ));
        assert!(!path_matches("/api/v1/devices/{imei}", "/api/v1/devices/"));
        assert!(!path_matches(
            "/api/v1/devices/{imei}",
            "/api/v1/devices/1/latest"
        ));
        assert!(path_matches(
            "/api/v1/devices/{imei}/latest",
            "/api/v1/devices/1/latest"
        ));
        assert!(path_matches("/api/docs/{_:.*}", "/api/docs/swagger-ui.css"));
        assert!(path_matches("/api/docs/{_:.*}", "/api/docs/"));
        assert!(!path_matches("/health", "/healthz"));
        assert!(!path_matches("/health", "/health/x"));
    }

    #[test]
    fn resolve_finds_the_method_or_only_the_pattern() {
        let (p, spec) = resolve(&Method::GET, "/api/v1/devices/1/latest").unwrap();
        assert_eq!(p, "/api/v1/devices/{imei}/latest");
        assert_eq!(spec.unwrap().access, Access::Roles(EVERYONE));
        let (p, spec) = resolve(&Method::POST, "/api/v1/devices/1").unwrap();
        assert_eq!((p, spec.map(|s| s.path)), ("/api/v1/devices/{imei}", None));
        assert!(resolve(&Method::GET, "/nowhere").is_none());
    }

    #[test]
    fn every_table_pattern_resolves_to_itself() {
        for r in ROUTES.iter().chain(EXTRA_ROUTES) {
            let path = r
                .path
                .replace("{imei}", "356307042441013")
                .replace("{id}", "7")
                .replace("{_:.*}", "x");
            let (p, spec) = resolve(&r.verb.method(), &path).unwrap();
            assert_eq!(
                (p, spec.map(|s| s.access)),
                (r.path, Some(r.access)),
                "{}",
                r.path
            );
        }
    }
}
