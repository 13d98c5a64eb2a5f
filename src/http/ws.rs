use actix_web::{web, HttpRequest, HttpResponse};

use super::{ApiError, HttpState};

#[derive(serde::Deserialize)]
struct TokenQuery {
    token: Option<String>,
}
use crate::ws::WsSessionActor;

/// Largest message a client may send.
const MAX_CLIENT_MESSAGE: usize = 16 * 1024;

/// `GET /ws`: upgrades to a WebSocket served by its own session actor.
#[utoipa::path(get, path = "/ws", tag = "operations", params(("token" = Option<String>, Query, description = "Access token or API key; or send {\"op\":\"auth\",\"token\"} first")), responses((status = 101, description = "Switching to the WebSocket protocol"), (status = 400, description = "Not a WebSocket upgrade"), (status = 401, description = "Invalid token", body = crate::http::error::ErrorBody)), security(()))]
pub async fn ws(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<HttpState>,
) -> actix_web::Result<HttpResponse> {
    // A token in the query authenticates before the upgrade; otherwise the first message.
    let token = web::Query::<TokenQuery>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.into_inner().token);
    let principal = match token {
        Some(t) => Some((
            state.auth.authenticate(&t).await.map_err(ApiError::from)?,
            t,
        )),
        None => None,
    };
    let (response, session, stream) = actix_ws::handle(&req, body)?;
    let stream = stream
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .aggregate_continuations()
        .max_continuation_size(MAX_CLIENT_MESSAGE);
    WsSessionActor::start(
        session,
        stream,
        state.hub.clone(),
        state.directory.clone(),
        state.auth.clone(),
        principal,
        (
            state
                .sessions
                .as_ref()
                .map(|s| s.feeds.clone())
                .unwrap_or_default(),
            state.ws.clone(),
        ),
    );
    Ok(response)
}
