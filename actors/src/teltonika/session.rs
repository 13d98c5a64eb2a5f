//! One actor per tracker TCP connection: AwaitingImei → Streaming → Closed.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::io::{FramedWrite, WriteHandler};
use actix::prelude::*;
use chrono::Utc;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_util::codec::FramedRead;
use urbanstream_schema::Imei;

use super::codec::{
    AvlPacket, CommandFrame, CommandKind, Inbound, Outbound, RejectReason, Rejection,
    SharedOptions, TeltonikaCodec,
};
use super::io_profile::{IoProfile, IoProfiles};
use crate::commands::{CommandError, Deliver};
use crate::entity::{ClockBounds, EntityKey, IngestReadings};
use crate::metrics::*;
use crate::registry::{
    AuthorizeDevice, CloseConnection, CloseReason, ConnectionEnded, ConnectionHandle, ConnectionId,
    LoginRefused,
};

/// The read buffer a session starts with. A tracker's usual frame (one to a few records) is
/// a few hundred bytes; the decoder reserves what a longer frame announces. tokio-util's
/// default of 8 KiB a connection is most of a connected tracker's memory in a city's fleet.
const READ_BUFFER: usize = 512;

/// Settings every session shares.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    pub max_frame: usize,
    pub idle_timeout: Duration,
    /// How long an ACK may wait for the entity actor (and, later, the durable write).
    pub ack_timeout: Duration,
    pub command_timeout: Duration,
    /// Rejected frames in a row before the peer is disconnected.
    pub max_bad_frames: u32,
    /// Commands in flight per device.
    pub max_pending_commands: usize,
    /// How each device model's IO is named and its frames read.
    pub profiles: Arc<IoProfiles>,
    /// The device times taken; records outside are acknowledged and quarantined.
    pub clock: ClockBounds,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            max_frame: super::codec::DEFAULT_MAX_FRAME,
            idle_timeout: Duration::from_secs(600),
            ack_timeout: Duration::from_secs(30),
            command_timeout: Duration::from_secs(30),
            max_bad_frames: 3,
            max_pending_commands: 8,
            profiles: Arc::new(IoProfiles::none()),
            clock: ClockBounds::default(),
        }
    }
}

enum State {
    AwaitingImei,
    Streaming {
        imei: Imei,
        entity: Recipient<IngestReadings>,
        profile: Arc<IoProfile>,
    },
    Closed,
}

/// A connection's halves: plain TCP, or TLS on `teltonika.tls_listen`.
pub type ReadHalf = Box<dyn tokio::io::AsyncRead + Unpin + Send>;
pub type WriteHalf = Box<dyn tokio::io::AsyncWrite + Unpin + Send>;

type Writer = FramedWrite<Outbound, WriteHalf, TeltonikaCodec>;

pub struct TeltonikaSessionActor {
    id: ConnectionId,
    peer: SocketAddr,
    state: State,
    writer: Writer,
    /// Set once the device's model is known: how its frames are read.
    options: SharedOptions,
    authorize: Recipient<AuthorizeDevice>,
    ended: Recipient<ConnectionEnded>,
    settings: Arc<SessionSettings>,
    last_activity: Instant,
    bad_frames: u32,
    pending_commands: VecDeque<oneshot::Sender<Result<String, CommandError>>>,
}

impl TeltonikaSessionActor {
    /// Starts a session for an accepted TCP connection on the current arbiter.
    pub fn start(
        stream: TcpStream,
        peer: SocketAddr,
        authorize: Recipient<AuthorizeDevice>,
        ended: Recipient<ConnectionEnded>,
        settings: Arc<SessionSettings>,
    ) -> Addr<Self> {
        let (read, write) = stream.into_split();
        Self::start_on(
            (Box::new(read), Box::new(write)),
            peer,
            authorize,
            ended,
            settings,
        )
    }

    /// Starts a session on a connection's halves (a TLS stream's, say).
    pub fn start_on(
        (read, write): (ReadHalf, WriteHalf),
        peer: SocketAddr,
        authorize: Recipient<AuthorizeDevice>,
        ended: Recipient<ConnectionEnded>,
        settings: Arc<SessionSettings>,
    ) -> Addr<Self> {
        Self::create(move |ctx| {
            let options = SharedOptions::default();
            ctx.add_stream(FramedRead::with_capacity(
                read,
                TeltonikaCodec::new(settings.max_frame).with_options(options.clone()),
                READ_BUFFER,
            ));
            let writer = FramedWrite::new(write, TeltonikaCodec::new(settings.max_frame), ctx);
            Self {
                id: ConnectionId::next(),
                peer,
                state: State::AwaitingImei,
                writer,
                options,
                authorize,
                ended,
                settings,
                last_activity: Instant::now(),
                bad_frames: 0,
                pending_commands: VecDeque::new(),
            }
        })
    }

    fn imei(&self) -> Option<Imei> {
        match &self.state {
            State::Streaming { imei, .. } => Some(*imei),
            _ => None,
        }
    }

    /// Flushes what is queued, then stops. The read side is ignored from here on.
    fn close(&mut self, reason: &'static str, ctx: &mut Context<Self>) {
        if matches!(self.state, State::Closed) {
            return;
        }
        metrics::counter!(TELTONIKA_DISCONNECTS_TOTAL, "reason" => reason).increment(1);
        tracing::debug!(peer = %self.peer, imei = ?self.imei(), reason, "closing session");
        self.leave_registry();
        self.state = State::Closed;
        self.writer.close();
        // If the peer does not read, do not wait for the flush forever.
        ctx.run_later(Duration::from_secs(2), |_, ctx| ctx.stop());
    }

    fn leave_registry(&mut self) {
        if let State::Streaming { imei, .. } = self.state {
            let _ = self.ended.try_send(ConnectionEnded {
                key: EntityKey::Tracker(imei),
                connection: self.id,
            });
        }
    }

    fn on_login(&mut self, imei: Imei, ctx: &mut Context<Self>) {
        if !matches!(self.state, State::AwaitingImei) {
            return self.reject(RejectReason::UnexpectedFrame, "second login", true, ctx);
        }
        let handle = ConnectionHandle {
            id: self.id,
            close: ctx.address().recipient(),
            deliver: Some(ctx.address().recipient()),
        };
        let request = self.authorize.send(AuthorizeDevice {
            key: EntityKey::Tracker(imei),
            connection: Some(handle),
        });
        ctx.wait(
            request
                .into_actor(self)
                .map(move |res, act, ctx| match res {
                    Ok(Ok(grant)) => {
                        metrics::counter!(TELTONIKA_LOGINS_TOTAL, "result" => "accepted")
                            .increment(1);
                        tracing::debug!(peer = %act.peer, %imei, "device logged in");
                        let profile = act.settings.profiles.for_model(&grant.model);
                        act.options.set(profile.decode_options());
                        act.state = State::Streaming {
                            imei,
                            entity: grant.entity,
                            profile,
                        };
                        act.writer.write(Outbound::LoginReply(true));
                    }
                    Ok(Err(LoginRefused::Storage(e))) => {
                        // Not a verdict on the device: close without a reply so that it
                        // reconnects, instead of the reject byte that tells it to stop.
                        metrics::counter!(TELTONIKA_LOGINS_TOTAL, "result" => "error").increment(1);
                        tracing::warn!(peer = %act.peer, %imei, "login not decided: {e}");
                        act.close("registry_error", ctx);
                    }
                    Ok(Err(refused)) => {
                        metrics::counter!(TELTONIKA_LOGINS_TOTAL, "result" => "rejected")
                            .increment(1);
                        tracing::info!(peer = %act.peer, %imei, "login refused: {refused}");
                        act.writer.write(Outbound::LoginReply(false));
                        act.close("login_refused", ctx);
                    }
                    Err(_mailbox) => {
                        tracing::warn!(peer = %act.peer, %imei, "device registry unavailable");
                        act.close("registry_unavailable", ctx);
                    }
                }),
        );
    }

    fn on_avl(&mut self, packet: AvlPacket, ctx: &mut Context<Self>) {
        let (imei, entity, profile) = match &self.state {
            State::Streaming {
                imei,
                entity,
                profile,
            } => (*imei, entity.clone(), profile.clone()),
            _ => {
                return self.reject(
                    RejectReason::UnexpectedFrame,
                    "AVL data before login",
                    true,
                    ctx,
                )
            }
        };
        self.bad_frames = 0;
        let codec = packet.codec;
        let started = Instant::now();
        let request = entity.send(super::adapter::intake(
            packet.records,
            &profile,
            self.settings.clock,
            Utc::now(),
        ));
        let request = tokio::time::timeout(self.settings.ack_timeout, request);
        // The ACK waits for the entity actor; no further frame is read meanwhile, so ACKs
        // leave in frame order and a slow consumer slows the device (backpressure).
        ctx.wait(request.into_actor(self).map(move |res, act, ctx| match res {
            Ok(Ok(Ok(outcome))) => {
                act.writer.write(Outbound::Ack(outcome.answered()));
                metrics::counter!(TELTONIKA_FRAMES_TOTAL, "codec" => codec.name(), "transport" => "tcp").increment(1);
                metrics::counter!(TELTONIKA_RECORDS_TOTAL).increment(u64::from(outcome.accepted));
                metrics::histogram!(TELTONIKA_ACK_LATENCY_SECONDS).record(started.elapsed().as_secs_f64());
            }
            Ok(Ok(Err(e))) => {
                tracing::warn!(%imei, error_kind = e.kind(), "frame not taken: {e}; no ACK");
                act.close("entity_error", ctx);
            }
            Ok(Err(_mailbox)) => {
                tracing::warn!(%imei, "entity actor gone; no ACK");
                act.close("entity_unavailable", ctx);
            }
            Err(_elapsed) => {
                tracing::warn!(%imei, timeout = ?act.settings.ack_timeout, "ACK timed out; closing so the device resends");
                act.close("ack_timeout", ctx);
            }
        }));
    }

    fn on_command(&mut self, frame: CommandFrame, ctx: &mut Context<Self>) {
        match frame.kind {
            CommandKind::Response => {}
            CommandKind::Camera => {
                // A part of a DualCam image: a valid frame, not an answer to a command.
                self.bad_frames = 0;
                metrics::counter!(TELTONIKA_CAMERA_FRAMES_TOTAL).increment(1);
                tracing::debug!(imei = ?self.imei(), bytes = frame.payload.len(), "camera data frame");
                return;
            }
            CommandKind::Command => {
                return self.reject(
                    RejectReason::UnexpectedFrame,
                    "Codec 12 command from a device",
                    false,
                    ctx,
                );
            }
        }
        self.bad_frames = 0;
        match self.pending_commands.pop_front() {
            Some(tx) => {
                metrics::counter!(TELTONIKA_COMMANDS_TOTAL, "result" => "answered").increment(1);
                let _ = tx.send(Ok(frame.text()));
            }
            None => {
                metrics::counter!(TELTONIKA_COMMANDS_TOTAL, "result" => "unsolicited").increment(1);
                tracing::debug!(imei = ?self.imei(), "unsolicited Codec 12 response ignored");
            }
        }
    }

    fn reject(&mut self, reason: RejectReason, detail: &str, fatal: bool, ctx: &mut Context<Self>) {
        metrics::counter!(TELTONIKA_FRAMES_REJECTED_TOTAL, "reason" => reason.as_str())
            .increment(1);
        tracing::warn!(peer = %self.peer, imei = ?self.imei(), %reason, "frame rejected, no ACK: {detail}");
        self.bad_frames += 1;
        if fatal || self.bad_frames >= self.settings.max_bad_frames {
            self.close(
                if fatal {
                    "protocol_error"
                } else {
                    "too_many_bad_frames"
                },
                ctx,
            );
        }
    }

    fn on_rejected(&mut self, r: Rejection, ctx: &mut Context<Self>) {
        if matches!(self.state, State::AwaitingImei) && r.reason() == RejectReason::BadImei {
            self.writer.write(Outbound::LoginReply(false));
        }
        self.reject(r.reason(), &r.error.to_string(), r.fatal, ctx);
    }
}

impl Actor for TeltonikaSessionActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        metrics::counter!(TELTONIKA_CONNECTIONS_TOTAL).increment(1);
        metrics::gauge!(TELTONIKA_SESSIONS_ACTIVE).increment(1.0);
        let every = (self.settings.idle_timeout / 4).max(Duration::from_millis(50));
        ctx.run_interval(every, |act, ctx| {
            if act.last_activity.elapsed() >= act.settings.idle_timeout {
                tracing::info!(peer = %act.peer, imei = ?act.imei(), "idle timeout");
                act.close("idle_timeout", ctx);
            }
        });
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        self.leave_registry();
        metrics::gauge!(TELTONIKA_SESSIONS_ACTIVE).decrement(1.0);
        for tx in self.pending_commands.drain(..) {
            let _ = tx.send(Err(CommandError::Disconnected));
        }
    }
}

impl StreamHandler<Result<Inbound, std::io::Error>> for TeltonikaSessionActor {
    fn handle(&mut self, item: Result<Inbound, std::io::Error>, ctx: &mut Self::Context) {
        if matches!(self.state, State::Closed) {
            return;
        }
        self.last_activity = Instant::now();
        match item {
            Ok(Inbound::Login(imei)) => self.on_login(imei, ctx),
            Ok(Inbound::KeepAlive) => metrics::counter!(TELTONIKA_KEEPALIVES_TOTAL).increment(1),
            Ok(Inbound::Avl(packet)) => self.on_avl(packet, ctx),
            Ok(Inbound::Command(frame)) => self.on_command(frame, ctx),
            Ok(Inbound::Rejected(r)) => self.on_rejected(r, ctx),
            Err(e) => {
                tracing::debug!(peer = %self.peer, "read error: {e}");
                self.close("io_error", ctx);
            }
        }
    }

    fn finished(&mut self, ctx: &mut Self::Context) {
        self.close("peer_closed", ctx);
        ctx.stop();
    }
}

impl WriteHandler<std::io::Error> for TeltonikaSessionActor {
    fn error(&mut self, err: std::io::Error, _ctx: &mut Self::Context) -> Running {
        tracing::debug!(peer = %self.peer, "write error: {err}");
        Running::Stop
    }
}

impl Handler<CloseConnection> for TeltonikaSessionActor {
    type Result = ();

    fn handle(&mut self, msg: CloseConnection, ctx: &mut Self::Context) {
        if msg.0 == CloseReason::Replaced {
            // The newer session already owns the registry entry.
            self.state = match std::mem::replace(&mut self.state, State::Closed) {
                State::Streaming { .. } => State::AwaitingImei,
                other => other,
            };
        }
        self.close(msg.0.as_str(), ctx);
    }
}

/// The ledger's command, over Codec 12.
impl Handler<Deliver> for TeltonikaSessionActor {
    type Result = ResponseFuture<Result<String, CommandError>>;

    fn handle(&mut self, msg: Deliver, _ctx: &mut Self::Context) -> Self::Result {
        let fail = |e: CommandError| -> Self::Result {
            metrics::counter!(TELTONIKA_COMMANDS_TOTAL, "result" => e.kind()).increment(1);
            Box::pin(async move { Err(e) })
        };
        if !matches!(self.state, State::Streaming { .. }) {
            return fail(CommandError::NotConnected);
        }
        if msg.text.is_empty() || msg.text.len() > super::codec::MAX_COMMAND_LEN {
            return fail(CommandError::Invalid(
                "command text must be 1 to 4096 bytes".into(),
            ));
        }
        if self.pending_commands.len() >= self.settings.max_pending_commands {
            return fail(CommandError::Busy);
        }
        let (tx, rx) = oneshot::channel();
        self.pending_commands.push_back(tx);
        self.writer
            .write(Outbound::Command(CommandFrame::command(msg.text)));
        metrics::counter!(TELTONIKA_COMMANDS_TOTAL, "result" => "sent").increment(1);
        let timeout = self.settings.command_timeout;
        Box::pin(async move {
            match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(answer)) => answer,
                Ok(Err(_closed)) => Err(CommandError::Disconnected),
                Err(_elapsed) => Err(CommandError::Timeout),
            }
        })
    }
}
