//! Access control end to end: the role × route matrix from the route table, the OpenAPI
//! document against the served routes, tokens (expiry, refresh rotation, reuse, logout),
//! API keys, lockout, WebSocket topics, audit, headers and the `user` command.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a failed unwrap is a failed test.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{fresh_pg, settings, TestApp, ADMIN_PASSWORD};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use urbanstream::http::access::{Access, EXTRA_ROUTES};
use urbanstream::http::ROUTES;

const REGISTERED: &str = "356307042441000";

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or(Value::Null)
}

/// A concrete path for a route pattern.
fn concrete(pattern: &str) -> String {
    pattern
        .replace("{imei}", REGISTERED)
        .replace("{id}", "1")
        .replace("{_:.*}", "index.html")
}

#[actix_rt::test]
async fn every_route_admits_exactly_the_roles_of_its_table_entry() {
    let app = TestApp::start(settings(|_| {})).await;
    let roles = ["ADMIN", "DISPATCHER", "OPERATOR", "ANALYST", "VIEWER"];
    let mut tokens = Vec::new();
    for r in roles {
        let name = format!("matrix-{}", r.to_lowercase());
        tokens.push((r, app.user_token(&name, r).await, name));
    }
    let mut checked = 0;
    for spec in ROUTES.iter().chain(EXTRA_ROUTES) {
        let path = concrete(spec.path);
        let method = spec.verb.as_str();
        let body = matches!(method, "POST" | "PATCH" | "PUT").then(|| json!({}));
        // Anonymous.
        let (status, text) = app.request_as(None, method, &path, body.as_ref()).await;
        match spec.access {
            Access::Roles(_) => assert_eq!(status, 401, "anonymous {method} {path}: {text}"),
            _ => assert!(
                status != 401 && status != 403,
                "anonymous {method} {path}: {status} {text}"
            ),
        }
        for (role, token, name) in &tokens {
            // Logging out ends the session: use a fresh one.
            let fresh;
            let token = if spec.path.ends_with("/auth/logout") {
                let (s, v) = app.login(name, &format!("{name}-password")).await;
                assert_eq!(s, 200);
                fresh = v["access_token"].as_str().unwrap().to_owned();
                &fresh
            } else {
                token
            };
            let (status, text) = app
                .request_as(Some(token), method, &path, body.as_ref())
                .await;
            let allowed = spec.access.allows(role.parse().unwrap());
            if allowed {
                assert!(
                    status != 401 && status != 403,
                    "{role} {method} {path} should be allowed: {status} {text}"
                );
            } else {
                assert_eq!(
                    status, 403,
                    "{role} {method} {path} should be forbidden: {text}"
                );
                assert_eq!(json_of(&text)["error"]["code"], "forbidden");
            }
            checked += 1;
        }
    }
    assert!(checked >= ROUTES.len() * roles.len());
    // Refusals are counted by reason.
    assert!(
        app.metric("urbanstream_auth_rejected_total{reason=\"forbidden\"}")
            .await
            > 0.0
    );
    assert!(
        app.metric("urbanstream_auth_rejected_total{reason=\"unauthenticated\"}")
            .await
            > 0.0
    );
}

#[actix_rt::test]
async fn the_openapi_document_lists_exactly_the_served_routes() {
    let app = TestApp::start(settings(|_| {})).await;
    let (status, body) = app
        .request_as(None, "GET", "/api/v1/openapi.json", None)
        .await;
    assert_eq!(status, 200);
    let doc = json_of(&body);
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (verb, op) in item.as_object().unwrap() {
            documented.insert((verb.to_uppercase(), path.clone()));
            // Every operation names who may call it.
            let d = op["description"].as_str().unwrap_or_default();
            assert!(
                d.contains("Roles:")
                    || d.contains("Open to anyone")
                    || d.contains("metrics_token")
                    || d.contains("token"),
                "{verb} {path}: {d}"
            );
        }
    }
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .filter(|r| r.path != "/api/docs")
        .map(|r| (r.verb.as_str().to_owned(), r.path.to_owned()))
        .collect();
    assert_eq!(documented, served, "OpenAPI paths vs the route table");
    // Every served route is reachable: its pattern matches (no JSON 404 "no route").
    for spec in ROUTES {
        let (status, text) = app
            .request(spec.verb.as_str(), &concrete(spec.path), Some(&json!({})))
            .await;
        assert!(
            !(status == 404 && text.contains("no route")),
            "{} {} not served",
            spec.verb.as_str(),
            spec.path
        );
    }
    // Auth schemes and the error schema are in the document.
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["api_key"]["name"], "X-API-Key");
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    // Swagger UI is served from the binary.
    let (status, page) = app
        .request_as(None, "GET", "/api/docs/index.html", None)
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("swagger"), "{page}");
}

async fn token_flow(app: &TestApp) {
    let (s, first) = app.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(s, 200, "{first}");
    assert_eq!(first["token_type"], "Bearer");
    assert_eq!(first["expires_in"], 2);
    let access = first["access_token"].as_str().unwrap();
    let (s, me) = app
        .request_as(Some(access), "GET", "/api/v1/auth/me", None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(json_of(&me)["role"], "ADMIN");

    // Expiry.
    tokio::time::sleep(Duration::from_millis(2_600)).await;
    let (s, e) = app
        .request_as(Some(access), "GET", "/api/v1/auth/me", None)
        .await;
    assert_eq!(s, 401);
    assert!(e.contains("expired"), "{e}");

    // Rotation: the refresh token works once and is replaced.
    let refresh = |t: &str| json!({ "refresh_token": t });
    let r1 = first["refresh_token"].as_str().unwrap();
    let (s, second) = app
        .request_as(None, "POST", "/api/v1/auth/refresh", Some(&refresh(r1)))
        .await;
    assert_eq!(s, 200, "{second}");
    let second = json_of(&second);
    let r2 = second["refresh_token"].as_str().unwrap();
    assert_ne!(r1, r2);
    let a2 = second["access_token"].as_str().unwrap();
    assert_eq!(
        app.request_as(Some(a2), "GET", "/api/v1/auth/me", None)
            .await
            .0,
        200
    );

    // Reuse of r1: the whole family is revoked, r2 and its access token included.
    let (s, e) = app
        .request_as(None, "POST", "/api/v1/auth/refresh", Some(&refresh(r1)))
        .await;
    assert_eq!(s, 401);
    assert!(e.contains("already used"), "{e}");
    assert_eq!(
        app.request_as(None, "POST", "/api/v1/auth/refresh", Some(&refresh(r2)))
            .await
            .0,
        401
    );
    let (s, e) = app
        .request_as(Some(a2), "GET", "/api/v1/auth/me", None)
        .await;
    assert_eq!(s, 401);
    assert!(e.contains("revoked"), "{e}");

    // Logout revokes both tokens of that session only.
    let (_, third) = app.login("admin", ADMIN_PASSWORD).await;
    let (_, other) = app.login("admin", ADMIN_PASSWORD).await;
    let a3 = third["access_token"].as_str().unwrap();
    let (s, _) = app
        .request_as(Some(a3), "POST", "/api/v1/auth/logout", None)
        .await;
    assert_eq!(s, 204);
    assert_eq!(
        app.request_as(Some(a3), "GET", "/api/v1/auth/me", None)
            .await
            .0,
        401
    );
    let r3 = third["refresh_token"].as_str().unwrap();
    assert_eq!(
        app.request_as(None, "POST", "/api/v1/auth/refresh", Some(&refresh(r3)))
            .await
            .0,
        401
    );
    let a4 = other["access_token"].as_str().unwrap();
    assert_eq!(
        app.request_as(Some(a4), "GET", "/api/v1/auth/me", None)
            .await
            .0,
        200
    );

    // Garbage and tampered tokens.
    assert_eq!(
        app.request_as(Some("nonsense"), "GET", "/api/v1/auth/me", None)
            .await
            .0,
        401
    );
    let tampered = format!("{}x", &a4[..a4.len() - 1]);
    assert_eq!(
        app.request_as(Some(&tampered), "GET", "/api/v1/auth/me", None)
            .await
            .0,
        401
    );
    assert_eq!(
        app.request_as(None, "POST", "/api/v1/auth/refresh", Some(&refresh("nope")))
            .await
            .0,
        401
    );
    assert!(
        app.metric("urbanstream_auth_logins_total{outcome=\"reuse\"}")
            .await
            >= 1.0
    );
}

fn short_tokens(s: &mut urbanstream::config::Settings) {
    s.auth.access_ttl = Duration::from_secs(2);
}

#[actix_rt::test]
async fn tokens_expire_rotate_and_reuse_revokes_the_session_sqlite() {
    let app = TestApp::start(settings(short_tokens)).await;
    token_flow(&app).await;
}

#[actix_rt::test]
async fn tokens_expire_rotate_and_reuse_revokes_the_session_postgres() {
    let (_, url) = fresh_pg().await;
    let app = TestApp::start(settings(|s| {
        short_tokens(s);
        s.database.url = url;
    }))
    .await;
    token_flow(&app).await;
}

#[actix_rt::test]
async fn api_keys_are_shown_once_scoped_to_a_role_and_revocable() {
    let app = TestApp::start(settings(|_| {})).await;
    let (s, created) = app
        .request(
            "POST",
            "/api/v1/api-keys",
            Some(&json!({"name": "depot-screens", "role": "VIEWER"})),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    let created = json_of(&created);
    let key = created["key"].as_str().unwrap();
    assert!(key.starts_with("usk_"));
    assert_eq!(
        app.request_as(Some(key), "GET", "/api/v1/devices", None)
            .await
            .0,
        200
    );
    let (s, _) = app
        .request_as(
            Some(key),
            "POST",
            "/api/v1/devices",
            Some(&json!({"imei": "490154203237518", "model": "FMC125"})),
        )
        .await;
    assert_eq!(s, 403, "a VIEWER key may not register devices");
    // Listed without the key, with its last use.
    let (_, list) = app.request("GET", "/api/v1/api-keys", None).await;
    assert!(!list.contains(key));
    let list = json_of(&list);
    let item = &list["items"][0];
    assert_eq!(item["prefix"], created["prefix"]);
    assert!(item["last_used_ms"].as_i64().unwrap() > 0);
    assert!(item.get("key_hash").is_none());
    // Revoked: refused at once.
    let (s, _) = app
        .request(
            "DELETE",
            &format!("/api/v1/api-keys/{}", created["id"]),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        app.request_as(Some(key), "GET", "/api/v1/devices", None)
            .await
            .0,
        401
    );
    assert_eq!(
        app.request_as(Some("usk_madeup"), "GET", "/api/v1/devices", None)
            .await
            .0,
        401
    );
}

#[actix_rt::test]
async fn repeated_failed_logins_lock_the_name_with_growing_waits() {
    let app = TestApp::start(settings(|s| {
        s.auth.max_failed_logins = 3;
        s.auth.lockout_base = Duration::from_secs(1);
    }))
    .await;
    app.user_token("dana", "DISPATCHER").await;
    for _ in 0..3 {
        assert_eq!(app.login("dana", "wrong-password").await.0, 401);
    }
    // Locked even with the right password, and told how long to wait.
    let (status, head, body) = app
        .request_full(
            None,
            "POST",
            "/api/v1/auth/login",
            Some(&json!({"username": "dana", "password": "dana-password"})),
        )
        .await;
    assert_eq!(status, 429, "{body}");
    assert!(head.contains("retry-after: 1"), "{head}");
    // Other names are not affected.
    assert_eq!(app.login("admin", ADMIN_PASSWORD).await.0, 200);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    // One more failure doubles the lock.
    assert_eq!(app.login("dana", "wrong-again-password").await.0, 401);
    let (status, head, _) = app
        .request_full(
            None,
            "POST",
            "/api/v1/auth/login",
            Some(&json!({"username": "dana", "password": "dana-password"})),
        )
        .await;
    assert_eq!(status, 429);
    assert!(head.contains("retry-after: 2"), "{head}");
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(app.login("dana", "dana-password").await.0, 200);
    // Unknown users fail the same way, and every attempt is audited.
    assert_eq!(app.login("nobody", "whatever-password").await.0, 401);
    let (_, audit) = app
        .request(
            "GET",
            "/api/v1/audit?action=POST%20/api/v1/auth/login&limit=100",
            None,
        )
        .await;
    let audit = json_of(&audit);
    let items = audit["items"].as_array().unwrap();
    let failures = items.iter().filter(|e| e["status"] == 401).count();
    let locked = items.iter().filter(|e| e["status"] == 429).count();
    assert_eq!((failures, locked), (5, 2), "{audit}");
    assert!(items
        .iter()
        .any(|e| e["actor"] == "nobody" && e["actor_kind"] == "anonymous"));
    assert!(
        app.metric("urbanstream_auth_logins_total{outcome=\"locked\"}")
            .await
            >= 2.0
    );
}

#[actix_rt::test]
async fn users_are_managed_by_admins_and_changes_end_sessions() {
    let app = TestApp::start(settings(|_| {})).await;
    let viewer = app.user_token("vera", "VIEWER").await;
    // Taken name, short password, unknown role.
    for (body, status) in [
        (
            json!({"username": "vera", "password": "another-password", "role": "VIEWER"}),
            409,
        ),
        (
            json!({"username": "x", "password": "short", "role": "VIEWER"}),
            400,
        ),
        (
            json!({"username": "y", "password": "long-enough-pw", "role": "ROOT"}),
            400,
        ),
    ] {
        let (s, e) = app.request("POST", "/api/v1/users", Some(&body)).await;
        assert_eq!(s, status, "{body}: {e}");
    }
    assert_eq!(
        app.request_as(Some(&viewer), "GET", "/api/v1/users", None)
            .await
            .0,
        403
    );
    let (_, list) = app.request("GET", "/api/v1/users", None).await;
    assert!(!list.contains("argon2"), "hashes never leave the server");
    let id = json_of(&list)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "vera")
        .unwrap()["id"]
        .clone();
    // Promoted: the old token (VIEWER) stops working; a new login has the new role.
    let (s, u) = app
        .request(
            "PATCH",
            &format!("/api/v1/users/{id}"),
            Some(&json!({"role": "ANALYST"})),
        )
        .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(
        app.request_as(Some(&viewer), "GET", "/api/v1/auth/me", None)
            .await
            .0,
        401
    );
    let (_, pair) = app.login("vera", "vera-password").await;
    let analyst = pair["access_token"].as_str().unwrap().to_owned();
    let (_, me) = app
        .request_as(Some(&analyst), "GET", "/api/v1/auth/me", None)
        .await;
    assert_eq!(json_of(&me)["role"], "ANALYST");
    // Disabled: cannot sign in.
    app.request(
        "PATCH",
        &format!("/api/v1/users/{id}"),
        Some(&json!({"disabled": true})),
    )
    .await;
    assert_eq!(app.login("vera", "vera-password").await.0, 401);
    assert_eq!(
        app.request_as(Some(&analyst), "GET", "/api/v1/devices", None)
            .await
            .0,
        401
    );
    // An admin cannot lock itself out.
    let (s, _) = app
        .request("PATCH", "/api/v1/users/1", Some(&json!({"disabled": true})))
        .await;
    assert_eq!(s, 400);
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_frame(ws: &mut Ws) -> Message {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame in time")
            .expect("stream open")
            .expect("no protocol error");
        if !matches!(m, Message::Ping(_) | Message::Pong(_)) {
            return m;
        }
    }
}

async fn next_json(ws: &mut Ws) -> Value {
    match next_frame(ws).await {
        Message::Text(t) => json_of(&t),
        other => panic!("expected text, got {other:?}"),
    }
}

#[actix_rt::test]
async fn websocket_topics_follow_the_role_and_expiry_closes_the_socket() {
    let app = TestApp::start(settings(short_tokens)).await;
    let viewer = app.user_token("wally", "VIEWER").await;
    let addr = app.server.http_addr;

    // A bad token is refused before the upgrade.
    assert!(
        tokio_tungstenite::connect_async(format!("ws://{addr}/ws?token=bad"))
            .await
            .is_err()
    );

    // Without a token: nothing but `auth` is answered.
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .unwrap();
    ws.send(Message::Text(
        json!({"op": "subscribe", "topics": ["fleet"]})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    assert_eq!(next_json(&mut ws).await["error"]["code"], "unauthenticated");
    ws.send(Message::Text(
        json!({"op": "auth", "token": viewer}).to_string().into(),
    ))
    .await
    .unwrap();
    let hello = next_json(&mut ws).await;
    assert_eq!(hello["data"]["role"], "VIEWER", "{hello}");
    // VIEWER reads live positions, not events.
    ws.send(Message::Text(
        json!({"op": "subscribe", "topics": ["fleet", "events"]})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let denied = next_json(&mut ws).await;
    assert_eq!(denied["error"]["code"], "forbidden", "{denied}");
    assert!(denied["error"]["message"]
        .as_str()
        .unwrap()
        .contains("events"));
    assert_eq!(
        next_json(&mut ws).await["data"]["subscribed"],
        json!(["fleet"])
    );

    // The token runs out (2 s): the server closes with 1008 (policy violation).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let code = loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Close(Some(frame))))) => break frame.code,
            Ok(Some(Ok(_))) => continue,
            other => panic!("no close frame: {other:?}"),
        }
    };
    assert_eq!(code, CloseCode::Policy);
}

#[actix_rt::test]
async fn audit_log_records_who_changed_what() {
    let app = TestApp::start(settings(|_| {})).await;
    let (s, _) = app
        .request(
            "POST",
            "/api/v1/devices",
            Some(&json!({"imei": "490154203237518", "model": "FMC125"})),
        )
        .await;
    assert_eq!(s, 201);
    let (s, _) = app
        .request(
            "PATCH",
            "/api/v1/devices/490154203237518",
            Some(&json!({"name": "Bus 12"})),
        )
        .await;
    assert_eq!(s, 200);
    let (_, audit) = app.request("GET", "/api/v1/audit?actor=admin", None).await;
    let audit = json_of(&audit);
    let items = audit["items"].as_array().unwrap();
    // Newest first; reads are not audited.
    assert_eq!(items[0]["action"], "PATCH /api/v1/devices/{imei}");
    assert_eq!(items[0]["resource"], "/api/v1/devices/490154203237518");
    assert_eq!(items[0]["status"], 200);
    assert_eq!(items[1]["action"], "POST /api/v1/devices");
    assert_eq!(items[1]["status"], 201);
    assert_eq!(items[2]["action"], "POST /api/v1/auth/login");
    assert!(items
        .iter()
        .all(|e| !e["action"].as_str().unwrap().starts_with("GET")));
    assert!(items[0]["request_id"].as_str().unwrap().len() == 16);
}

/// Raw request with extra headers; returns the lower-cased head.
async fn raw_head(app: &TestApp, request: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(app.server.http_addr)
        .await
        .unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).await.unwrap();
    raw.split("\r\n\r\n").next().unwrap().to_lowercase()
}

#[actix_rt::test]
async fn responses_carry_security_headers_cors_and_request_ids() {
    let app = TestApp::start(settings(|s| {
        s.http.cors_origins = vec!["https://ops.example.org".into()];
    }))
    .await;
    let head = raw_head(
        &app,
        "GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    for h in [
        "x-content-type-options: nosniff",
        "x-frame-options: deny",
        "referrer-policy: no-referrer",
        "content-security-policy:",
        "x-request-id:",
    ] {
        assert!(head.contains(h), "{h} missing in {head}");
    }
    let preflight = "OPTIONS /api/v1/devices HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\
        Origin: https://ops.example.org\r\nAccess-Control-Request-Method: GET\r\n\
        Access-Control-Request-Headers: authorization\r\n\r\n";
    let head = raw_head(&app, preflight).await;
    assert!(
        head.contains("access-control-allow-origin: https://ops.example.org"),
        "{head}"
    );
    let other = preflight.replace("https://ops.example.org", "https://evil.example.com");
    let head = raw_head(&app, &other).await;
    assert!(!head.contains("access-control-allow-origin"), "{head}");
    // A body over the limit is refused with a clear 4xx, before anything else.
    let big = "x".repeat(70_000);
    let (s, e) = app
        .request(
            "POST",
            "/api/v1/users",
            Some(&json!({"username": big, "password": "p", "role": "VIEWER"})),
        )
        .await;
    assert_eq!(s, 413, "{e}");
}

#[actix_rt::test]
async fn metrics_token_guards_the_exposition() {
    let app = TestApp::start(settings(|s| {
        s.auth.metrics_token = Some("scrape-secret".into())
    }))
    .await;
    assert_eq!(app.request_as(None, "GET", "/metrics", None).await.0, 401);
    assert_eq!(
        app.request_as(Some("wrong"), "GET", "/metrics", None)
            .await
            .0,
        401
    );
    assert_eq!(
        app.request_as(Some("scrape-secret"), "GET", "/metrics", None)
            .await
            .0,
        200
    );
    // Probes stay open.
    assert_eq!(app.request_as(None, "GET", "/health", None).await.0, 200);
}

#[actix_rt::test]
async fn user_command_creates_a_user_that_can_sign_in() {
    let url = common::fresh_sqlite_url();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_urbanstream"))
        .args(["user", "add", "--username", "olga", "--role", "operator"])
        .env("URBANSTREAM__DATABASE__URL", &url)
        .env("URBANSTREAM__LOG__FILTER", "warn")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all_sync(b"olga-secret-pass\n");
    assert!(child.wait().unwrap().success());
    // The user exists, so no admin is bootstrapped; olga signs in as OPERATOR.
    let app = TestApp::start(settings(|s| s.database.url = url.clone())).await;
    assert!(app.token.is_none(), "no bootstrap admin when users exist");
    let (s, pair) = app.login("olga", "olga-secret-pass").await;
    assert_eq!(s, 200, "{pair}");
    let (_, me) = app
        .request_as(
            pair["access_token"].as_str(),
            "GET",
            "/api/v1/auth/me",
            None,
        )
        .await;
    assert_eq!(json_of(&me)["role"], "OPERATOR");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_urbanstream"))
        .args(["user", "add", "--username", "olga", "--role", "VIEWER"])
        .env("URBANSTREAM__DATABASE__URL", &url)
        .env("URBANSTREAM__LOG__FILTER", "warn")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin
                .take()
                .unwrap()
                .write_all_sync(b"another-password\n");
            c.wait()
        })
        .unwrap();
    assert!(!status.success(), "a taken name fails");
}

trait WriteAllSync {
    fn write_all_sync(self, bytes: &[u8]);
}

impl WriteAllSync for std::process::ChildStdin {
    fn write_all_sync(mut self, bytes: &[u8]) {
        std::io::Write::write_all(&mut self, bytes).unwrap();
    }
}

#[actix_rt::test]
async fn rate_limits_per_principal_and_per_address_answer_429_with_retry_after() {
    let app = TestApp::start(settings(|s| {
        s.auth.rate_per_principal = 1;
        s.auth.burst_per_principal = 3;
    }))
    .await;
    let token = app.token.clone().unwrap();
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let (status, head, _) = app
            .request_full(Some(&token), "GET", "/api/v1/devices", None)
            .await;
        if status == 429 {
            assert!(head.contains("retry-after: 1"), "{head}");
        }
        statuses.push(status);
    }
    assert_eq!(
        statuses,
        vec![200, 200, 200, 429, 429],
        "the burst, then refusals"
    );
    // Another user has a bucket of its own (the admin's refills one request a second).
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let other = app.user_token("rita", "VIEWER").await;
    assert_eq!(
        app.request_as(Some(&other), "GET", "/api/v1/devices", None)
            .await
            .0,
        200
    );

    let app = TestApp::start(settings(|s| {
        s.auth.rate_per_ip = 1;
        s.auth.burst_per_ip = 4;
    }))
    .await;
    // The harness's login took one; open routes count too, probes do not.
    let statuses: Vec<u16> = futures_util::future::join_all((0..5).map(|_| async {
        app.request_as(None, "GET", "/api/v1/openapi.json", None)
            .await
            .0
    }))
    .await;
    assert_eq!(
        statuses.iter().filter(|&&s| s == 429).count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(app.request_as(None, "GET", "/health", None).await.0, 200);
    assert!(
        app.metric("urbanstream_auth_rejected_total{reason=\"rate_limited\"}")
            .await
            >= 2.0
    );
}
