use actix_web::{web, HttpRequest, HttpResponse};

use super::HttpState;
use crate::ws::WsSessionActor;

/// Largest message a client may send.
const MAX_CLIENT_MESSAGE: usize = 16 * 1024;

/// `GET /ws`: upgrades to a WebSocket served by its own session actor.
pub async fn ws(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<HttpState>,
) -> actix_web::Result<HttpResponse> {
    let (response, session, stream) = actix_ws::handle(&req, body)?;
    let stream = stream
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .aggregate_continuations()
        .max_continuation_size(MAX_CLIENT_MESSAGE);
    WsSessionActor::start(session, stream, state.hub.clone(), state.registry.clone());
    Ok(response)
}
