//! The Teltonika TCP listener: accepts connections and starts one session actor each,
//! spread over the arbiter pool.

use std::sync::Arc;
use std::time::Duration;

use actix::Recipient;
use socket2::{SockRef, TcpKeepalive};
use tokio::net::TcpListener;

use super::session::{SessionSettings, TeltonikaSessionActor};
use crate::arbiters::ArbiterPool;
use crate::metrics::{TELTONIKA_ACCEPT_ERRORS_TOTAL, TLS_HANDSHAKE_FAILURES_TOTAL};
use crate::registry::{AuthorizeDevice, ConnectionEnded};

/// What the listener hands to every session.
#[derive(Clone)]
pub struct ListenerContext {
    pub authorize: Recipient<AuthorizeDevice>,
    pub ended: Recipient<ConnectionEnded>,
    pub settings: Arc<SessionSettings>,
    pub pool: ArbiterPool,
    /// TCP keepalive idle time; probes follow at a third of it.
    pub keepalive: Duration,
}

/// Accepts connections until the task is dropped. Accept errors (e.g. out of file
/// descriptors) back off instead of spinning.
pub async fn run_tcp_listener(listener: TcpListener, cx: ListenerContext) {
    serve(listener, cx, None).await;
}

/// The same over TLS (`teltonika.tls_listen`): each connection's handshake runs on the
/// arbiter of its session, within the session's idle timeout.
pub async fn run_tls_listener(
    listener: TcpListener,
    cx: ListenerContext,
    tls: tokio_rustls::TlsAcceptor,
) {
    serve(listener, cx, Some(tls)).await;
}

async fn serve(listener: TcpListener, cx: ListenerContext, tls: Option<tokio_rustls::TlsAcceptor>) {
    let mut backoff = Duration::from_millis(10);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(conn) => {
                backoff = Duration::from_millis(10);
                conn
            }
            Err(e) => {
                metrics::counter!(TELTONIKA_ACCEPT_ERRORS_TOTAL).increment(1);
                tracing::warn!("accept failed: {e}; retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let keepalive = TcpKeepalive::new()
            .with_time(cx.keepalive)
            .with_interval((cx.keepalive / 3).max(Duration::from_secs(1)));
        let sock = SockRef::from(&stream);
        if let Err(e) = sock
            .set_tcp_keepalive(&keepalive)
            .and_then(|()| sock.set_tcp_nodelay(true))
        {
            tracing::debug!(%peer, "socket options not set: {e}");
        }
        let std_stream = match stream.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(%peer, "could not hand over connection: {e}");
                continue;
            }
        };
        let cx2 = cx.clone();
        let tls = tls.clone();
        // The stream is registered with the event loop of the arbiter that runs the session.
        let spawned = cx.pool.next().spawn(async move {
            let stream = match tokio::net::TcpStream::from_std(std_stream) {
                Ok(stream) => stream,
                Err(e) => return tracing::warn!(%peer, "could not register connection: {e}"),
            };
            let Some(tls) = tls else {
                TeltonikaSessionActor::start(stream, peer, cx2.authorize, cx2.ended, cx2.settings);
                return;
            };
            let handshake = tokio::time::timeout(cx2.settings.idle_timeout, tls.accept(stream));
            match handshake.await {
                Ok(Ok(stream)) => {
                    let (read, write) = tokio::io::split(stream);
                    TeltonikaSessionActor::start_on(
                        (Box::new(read), Box::new(write)),
                        peer,
                        cx2.authorize,
                        cx2.ended,
                        cx2.settings,
                    );
                }
                failed => {
                    metrics::counter!(TLS_HANDSHAKE_FAILURES_TOTAL, "listener" => "teltonika")
                        .increment(1);
                    match failed {
                        Ok(Err(e)) => tracing::info!(%peer, "Teltonika TLS handshake failed: {e}"),
                        _ => tracing::info!(%peer, "Teltonika TLS handshake timed out"),
                    }
                }
            }
        });
        if !spawned {
            tracing::warn!(%peer, "session arbiter stopped; connection dropped");
        }
    }
}
