//! One actor per bus. Its link worker owns the link and serialises transactions: a poll
//! schedule per robot, commands, and a stop lane that jumps every queue (at most the one
//! transaction already on the wire is ahead of a stop; on TCP stops have a connection of
//! their own). What a robot answers goes to its entity as a [`RobotReport`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::Utc;
use tokio::sync::{mpsc, oneshot, watch};
use urbanstream_schema::{BusId, RobotId};

use super::frame::{Request, Response};
use super::link::{Endpoint, Link, ModbusError};
use super::map::{Identity, RegisterMap};
use crate::commands::{CommandError, Deliver};
use crate::entity::{EntityKey, IngestReadings, Observation, Reading, RobotCommand};
use crate::metrics::{
    ACTOR_MAILBOX_FULL_TOTAL, MODBUS_ESTOP_SECONDS, MODBUS_LINKS_UP, MODBUS_REQUESTS_TOTAL,
    MODBUS_REQUEST_SECONDS, ROBOT_READINGS_UNSTORED_TOTAL,
};
use crate::registry::{
    AuthorizeDevice, CloseConnection, ConnectionEnded, ConnectionHandle, ConnectionId,
};

/// How a bus is reached and paced.
#[derive(Debug, Clone, PartialEq)]
pub struct BusConfig {
    pub id: BusId,
    pub name: String,
    pub endpoint: Endpoint,
    pub poll_every: Duration,
    /// Every transaction's deadline.
    pub timeout: Duration,
    /// How long a command waits for the robot's sequence echo.
    pub command_timeout: Duration,
}

/// A robot on the bus.
#[derive(Debug, Clone)]
pub struct UnitConfig {
    pub robot: RobotId,
    pub unit: u8,
    pub map: Arc<RegisterMap>,
}

/// An emergency stop's outcome: the device acknowledged the coil write after `latency`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StopAck {
    pub robot_id: RobotId,
    pub acknowledged: bool,
    /// From the request taken to the device's acknowledgement, microseconds.
    pub latency_us: u64,
    /// Why it was not acknowledged.
    pub error: Option<String>,
}

/// Stop one robot now.
#[derive(Message)]
#[rtype(result = "StopAck")]
pub struct EmergencyStop {
    pub robot: RobotId,
    pub taken: Instant,
}

/// Stop every robot on the bus (RTU: a broadcast first, then each one confirmed).
#[derive(Message)]
#[rtype(result = "Vec<StopAck>")]
pub struct EmergencyStopAll {
    pub taken: Instant,
}

/// A module found by a scan.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Found {
    pub unit_id: u8,
    /// From FC43/14 when answered, else the identity registers.
    pub identity: Option<Identity>,
    pub vendor: Option<String>,
    pub product: Option<String>,
}

/// Scan unit ids for modules.
#[derive(Message)]
#[rtype(result = "Result<Vec<Found>, String>")]
pub struct Discover {
    pub first: u8,
    pub last: u8,
    pub per_unit: Duration,
    /// Where the modules keep their identity registers: the bus's map.
    pub map: Arc<RegisterMap>,
}

/// The robots on the bus changed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetUnits(pub Vec<UnitConfig>);

enum Stop {
    One {
        unit: UnitConfig,
        taken: Instant,
        reply: oneshot::Sender<StopAck>,
    },
    All {
        units: Vec<UnitConfig>,
        taken: Instant,
        reply: oneshot::Sender<Vec<StopAck>>,
    },
}

enum Job {
    Command {
        unit: UnitConfig,
        command: RobotCommand,
        reply: oneshot::Sender<Result<String, CommandError>>,
    },
    Discover {
        first: u8,
        last: u8,
        per_unit: Duration,
        map: Arc<RegisterMap>,
        reply: oneshot::Sender<Result<Vec<Found>, String>>,
    },
    Units(Vec<UnitConfig>),
    /// Poll these robots next (a stop was written: show its effect without waiting a period).
    PollSoon(Vec<RobotId>),
}

/// What the worker needs from outside.
#[derive(Clone)]
pub struct BusContext {
    pub registry: Recipient<AuthorizeDevice>,
    pub ended: Recipient<ConnectionEnded>,
}

/// One per bus.
pub struct ModbusBusActor {
    config: BusConfig,
    context: BusContext,
    units: HashMap<RobotId, UnitConfig>,
    jobs: Option<mpsc::Sender<Job>>,
    stops: Option<mpsc::UnboundedSender<Stop>>,
}

impl ModbusBusActor {
    pub fn new(config: BusConfig, context: BusContext, units: Vec<UnitConfig>) -> Self {
        Self {
            config,
            context,
            units: units.into_iter().map(|u| (u.robot, u)).collect(),
            jobs: None,
            stops: None,
        }
    }
}

impl Actor for ModbusBusActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let (jobs_tx, jobs_rx) = mpsc::channel(256);
        let (stop_tx, stop_rx) = mpsc::unbounded_channel();
        let deliver = ctx.address().recipient::<Deliver>();
        let close = ctx.address().recipient::<CloseConnection>();
        let units: Vec<UnitConfig> = self.units.values().cloned().collect();
        let worker = Worker {
            config: self.config.clone(),
            context: self.context.clone(),
            deliver,
            close,
            units: Vec::new(),
            pending: HashMap::new(),
            next_seq: (rand::random::<u16>() % 60_000) + 1,
            host_beat: 0,
        };
        let lane = match self.config.endpoint {
            // TCP: stops take their own connection, beside the polling one.
            Endpoint::Tcp { .. } => {
                tokio::spawn(stop_lane(self.config.clone(), stop_rx, jobs_tx.clone()));
                None
            }
            // RTU: one line; the worker serves stops before anything else.
            Endpoint::Rtu { .. } => Some(stop_rx),
        };
        tokio::spawn(worker.run(jobs_rx, lane, units));
        self.jobs = Some(jobs_tx);
        self.stops = Some(stop_tx);
        tracing::info!(bus = %self.config.name, endpoint = %self.config.endpoint.describe(), "modbus bus started");
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        // Closing the channels ends the worker and the stop lane.
        self.jobs = None;
        self.stops = None;
        tracing::info!(bus = %self.config.name, "modbus bus stopped");
    }
}

impl Handler<EmergencyStop> for ModbusBusActor {
    type Result = ResponseFuture<StopAck>;

    fn handle(&mut self, msg: EmergencyStop, _ctx: &mut Self::Context) -> Self::Result {
        let robot = msg.robot;
        let Some(unit) = self.units.get(&robot).cloned() else {
            return Box::pin(async move { refused(robot, "robot is not on this bus") });
        };
        let (tx, rx) = oneshot::channel();
        let sent = self.stops.as_ref().is_some_and(|s| {
            s.send(Stop::One {
                unit,
                taken: msg.taken,
                reply: tx,
            })
            .is_ok()
        });
        Box::pin(async move {
            if !sent {
                return refused(robot, "bus is not running");
            }
            rx.await
                .unwrap_or_else(|_closed| refused(robot, "bus stopped"))
        })
    }
}

impl Handler<EmergencyStopAll> for ModbusBusActor {
    type Result = ResponseFuture<Vec<StopAck>>;

    fn handle(&mut self, msg: EmergencyStopAll, _ctx: &mut Self::Context) -> Self::Result {
        let units: Vec<UnitConfig> = self.units.values().cloned().collect();
        let robots: Vec<RobotId> = units.iter().map(|u| u.robot).collect();
        let (tx, rx) = oneshot::channel();
        let sent = self.stops.as_ref().is_some_and(|s| {
            s.send(Stop::All {
                units,
                taken: msg.taken,
                reply: tx,
            })
            .is_ok()
        });
        Box::pin(async move {
            match (sent, rx.await) {
                (true, Ok(acks)) => acks,
                _ => robots
                    .into_iter()
                    .map(|r| refused(r, "bus is not running"))
                    .collect(),
            }
        })
    }
}

fn refused(robot: RobotId, why: &str) -> StopAck {
    StopAck {
        robot_id: robot,
        acknowledged: false,
        latency_us: 0,
        error: Some(why.to_owned()),
    }
}

impl Handler<Deliver> for ModbusBusActor {
    type Result = ResponseFuture<Result<String, CommandError>>;

    fn handle(&mut self, msg: Deliver, _ctx: &mut Self::Context) -> Self::Result {
        let EntityKey::Robot(robot) = msg.key else {
            return Box::pin(async { Err(CommandError::NotConnected) });
        };
        let Some(unit) = self.units.get(&robot).cloned() else {
            return Box::pin(async { Err(CommandError::NotConnected) });
        };
        let command = match RobotCommand::from_text(&msg.text) {
            Ok(c) => c,
            Err(e) => return Box::pin(async move { Err(CommandError::Invalid(e)) }),
        };
        let (tx, rx) = oneshot::channel();
        let queued = self.jobs.as_ref().map(|j| {
            j.try_send(Job::Command {
                unit,
                command,
                reply: tx,
            })
        });
        Box::pin(async move {
            match queued {
                Some(Ok(())) => rx.await.unwrap_or(Err(CommandError::Disconnected)),
                Some(Err(mpsc::error::TrySendError::Full(_))) => Err(CommandError::Busy),
                _ => Err(CommandError::NotConnected),
            }
        })
    }
}

impl Handler<Discover> for ModbusBusActor {
    type Result = ResponseFuture<Result<Vec<Found>, String>>;

    fn handle(&mut self, msg: Discover, _ctx: &mut Self::Context) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        let queued = self.jobs.as_ref().is_some_and(|j| {
            j.try_send(Job::Discover {
                first: msg.first,
                last: msg.last,
                per_unit: msg.per_unit,
                map: msg.map,
                reply: tx,
            })
            .is_ok()
        });
        Box::pin(async move {
            if !queued {
                return Err("bus is busy or not running".into());
            }
            rx.await.unwrap_or_else(|_closed| Err("bus stopped".into()))
        })
    }
}

impl Handler<SetUnits> for ModbusBusActor {
    type Result = ();

    fn handle(&mut self, msg: SetUnits, _ctx: &mut Self::Context) {
        self.units = msg.0.iter().map(|u| (u.robot, u.clone())).collect();
        if let Some(j) = &self.jobs {
            if j.try_send(Job::Units(msg.0)).is_err() {
                metrics::counter!(ACTOR_MAILBOX_FULL_TOTAL, "actor" => "modbus_bus").increment(1);
            }
        }
    }
}

impl Handler<CloseConnection> for ModbusBusActor {
    type Result = ();

    /// The bus stays: it is the registry's only connection for its robots.
    fn handle(&mut self, _msg: CloseConnection, _ctx: &mut Self::Context) {}
}

/// A command written, waiting for the robot's sequence echo.
struct Pending {
    seq: u16,
    deadline: Instant,
    reply: oneshot::Sender<Result<String, CommandError>>,
}

struct Polled {
    cfg: UnitConfig,
    /// The robot's latest observation, for its forwarder (see [`forward`]).
    entity: Option<watch::Sender<Option<Observation>>>,
    connection: ConnectionId,
    /// Answering (registered with the ledger as connected).
    up: bool,
    next: Instant,
}

struct Worker {
    config: BusConfig,
    context: BusContext,
    deliver: Recipient<Deliver>,
    close: Recipient<CloseConnection>,
    units: Vec<Polled>,
    pending: HashMap<RobotId, Pending>,
    next_seq: u16,
    host_beat: u16,
}

impl Worker {
    async fn run(
        mut self,
        mut jobs: mpsc::Receiver<Job>,
        mut stops: Option<mpsc::UnboundedReceiver<Stop>>,
        units: Vec<UnitConfig>,
    ) {
        self.set_units(units).await;
        let mut backoff = Duration::from_millis(200);
        loop {
            let mut link = match Link::open(&self.config.endpoint, self.config.timeout * 4).await {
                Ok(l) => {
                    backoff = Duration::from_millis(200);
                    metrics::gauge!(MODBUS_LINKS_UP).increment(1.0);
                    l
                }
                Err(e) => {
                    tracing::warn!(bus = %self.config.name, "modbus link not open: {e}; retrying in {backoff:?}");
                    self.all_unreachable(&e.to_string()).await;
                    let jitter = Duration::from_millis(rand::random::<u64>() % 100);
                    // Jobs and stops are answered while the link is down.
                    let until = tokio::time::Instant::now() + backoff + jitter;
                    loop {
                        tokio::select! {
                            _ = tokio::time::sleep_until(until) => break,
                            Some(s) = recv_stop(&mut stops) => refuse_stop(s, "link down"),
                            job = jobs.recv() => match job {
                                Some(j) => self.refuse_job(j).await,
                                None => return,
                            },
                        }
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    continue;
                }
            };
            let broken = self.serve(&mut link, &mut jobs, &mut stops).await;
            metrics::gauge!(MODBUS_LINKS_UP).decrement(1.0);
            match broken {
                None => return,
                Some(e) => {
                    tracing::warn!(bus = %self.config.name, "modbus link lost: {e}; reconnecting");
                    self.all_unreachable(&e.to_string()).await;
                }
            }
        }
    }

    /// Serves an open link until it breaks (`Some`) or the actor goes (`None`).
    async fn serve(
        &mut self,
        link: &mut Link,
        jobs: &mut mpsc::Receiver<Job>,
        stops: &mut Option<mpsc::UnboundedReceiver<Stop>>,
    ) -> Option<ModbusError> {
        loop {
            // The stop lane first, every time the link is free.
            while let Some(s) = try_stop(stops) {
                if let Some(e) = self.stop(link, s).await {
                    return Some(e);
                }
            }
            let due = self
                .units
                .iter()
                .map(|u| u.next)
                .min()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
            tokio::select! {
                biased;
                Some(s) = recv_stop(stops) => {
                    if let Some(e) = self.stop(link, s).await {
                        return Some(e);
                    }
                }
                job = jobs.recv() => match job {
                    None => return None,
                    Some(j) => {
                        if let Some(e) = self.job(link, j, stops).await {
                            return Some(e);
                        }
                    }
                },
                _ = tokio::time::sleep_until(due.into()) => {
                    if let Some(e) = self.poll_due(link, stops).await {
                        return Some(e);
                    }
                }
            }
        }
    }

    async fn set_units(&mut self, units: Vec<UnitConfig>) {
        let now = Instant::now();
        let mut next = Vec::with_capacity(units.len());
        for (i, cfg) in units.into_iter().enumerate() {
            if let Some(pos) = self.units.iter().position(|p| p.cfg.robot == cfg.robot) {
                let mut p = self.units.swap_remove(pos);
                p.cfg = cfg;
                next.push(p);
                continue;
            }
            let entity = self
                .context
                .registry
                .send(AuthorizeDevice {
                    key: EntityKey::Robot(cfg.robot),
                    connection: None,
                })
                .await
                .ok()
                .and_then(Result::ok)
                .map(|g| {
                    let (tx, rx) = watch::channel(None);
                    tokio::spawn(forward(cfg.robot, rx, g.entity));
                    tx
                });
            // Spread the first polls over one period.
            let offset = self.config.poll_every.mul_f64(i as f64 / 16.0 % 1.0);
            next.push(Polled {
                cfg,
                entity,
                connection: ConnectionId::next(),
                up: false,
                next: now + offset,
            });
        }
        for gone in &self.units {
            if gone.up {
                self.end_connection(gone);
            }
        }
        self.units = next;
    }

    fn end_connection(&self, p: &Polled) {
        let _ = self.context.ended.try_send(ConnectionEnded {
            key: EntityKey::Robot(p.cfg.robot),
            connection: p.connection,
        });
    }

    async fn refuse_job(&mut self, job: Job) {
        match job {
            Job::Command { reply, .. } => {
                let _ = reply.send(Err(CommandError::NotConnected));
            }
            Job::Discover { reply, .. } => {
                let _ = reply.send(Err("link down".into()));
            }
            Job::Units(u) => self.set_units(u).await,
            Job::PollSoon(_) => {}
        }
    }

    fn poll_soon(&mut self, robots: &[RobotId]) {
        let now = Instant::now();
        for u in &mut self.units {
            if robots.contains(&u.cfg.robot) {
                u.next = now;
            }
        }
    }

    async fn all_unreachable(&mut self, reason: &str) {
        for i in 0..self.units.len() {
            self.unreachable(i, reason);
        }
        for (_, p) in self.pending.drain() {
            let _ = p.reply.send(Err(CommandError::Disconnected));
        }
    }

    fn unreachable(&mut self, i: usize, reason: &str) {
        let p = &mut self.units[i];
        if p.up {
            p.up = false;
            let ended = ConnectionEnded {
                key: EntityKey::Robot(p.cfg.robot),
                connection: p.connection,
            };
            let _ = self.context.ended.try_send(ended);
        }
        let obs = Observation::Unreachable {
            reason: reason.to_owned(),
        };
        send(&self.units[i], obs);
    }

    async fn transact(
        &mut self,
        link: &mut Link,
        unit: u8,
        req: &Request,
        lane: &'static str,
    ) -> Result<Response, ModbusError> {
        let started = Instant::now();
        let result = link.transact(unit, req, self.config.timeout).await;
        let outcome = if result.is_ok() { "ok" } else { "error" };
        metrics::counter!(MODBUS_REQUESTS_TOTAL, "lane" => lane, "outcome" => outcome).increment(1);
        metrics::histogram!(MODBUS_REQUEST_SECONDS, "lane" => lane)
            .record(started.elapsed().as_secs_f64());
        result
    }

    /// Polls every robot that is due; stops are served between transactions.
    async fn poll_due(
        &mut self,
        link: &mut Link,
        stops: &mut Option<mpsc::UnboundedReceiver<Stop>>,
    ) -> Option<ModbusError> {
        let now = Instant::now();
        for i in 0..self.units.len() {
            if self.units[i].next > now {
                continue;
            }
            self.units[i].next = now + self.config.poll_every;
            if let Some(e) = self.poll(link, i, stops).await {
                return Some(e);
            }
        }
        None
    }

    async fn poll(
        &mut self,
        link: &mut Link,
        i: usize,
        stops: &mut Option<mpsc::UnboundedReceiver<Stop>>,
    ) -> Option<ModbusError> {
        let cfg = self.units[i].cfg.clone();
        let map = cfg.map.clone();
        let (first, count) = map.input_span();
        let regs = match self
            .transact(
                link,
                cfg.unit,
                &Request::ReadInputRegisters { addr: first, count },
                "poll",
            )
            .await
        {
            Ok(Response::Registers(r)) => r,
            Ok(_) => return None,
            Err(e) if e.link_broken() => return Some(e),
            Err(e) => {
                self.unreachable(i, &e.to_string());
                return None;
            }
        };
        while let Some(s) = try_stop(stops) {
            if let Some(e) = self.stop(link, s).await {
                return Some(e);
            }
        }
        let (sfirst, scount) = map.safety_span();
        let bits = match self
            .transact(
                link,
                cfg.unit,
                &Request::ReadDiscreteInputs {
                    addr: sfirst,
                    count: scount,
                },
                "poll",
            )
            .await
        {
            Ok(Response::Bits(b)) => b,
            Ok(_) => Vec::new(),
            Err(e) if e.link_broken() => return Some(e),
            Err(e) => {
                self.unreachable(i, &e.to_string());
                return None;
            }
        };
        // The host heartbeat: the robot stops itself when this stops changing.
        self.host_beat = self.host_beat.wrapping_add(1);
        let beat = Request::WriteSingleRegister {
            addr: map.host_heartbeat_register,
            value: self.host_beat,
        };
        if let Err(e) = self.transact(link, cfg.unit, &beat, "poll").await {
            if e.link_broken() {
                return Some(e);
            }
        }
        let Some(report) = map.decode(&regs, &bits) else {
            self.unreachable(i, "registers do not fit the map");
            return None;
        };
        if let Some(p) = self.pending.get(&cfg.robot) {
            if report.command_seq == p.seq {
                let outcome = match report.command_result {
                    crate::entity::CommandResult::Rejected => Err(CommandError::Invalid(
                        "the robot rejected the command".into(),
                    )),
                    crate::entity::CommandResult::Failed => {
                        Err(CommandError::Invalid("the robot failed the command".into()))
                    }
                    r => Ok(format!("sequence {} echoed ({})", p.seq, r.as_str())),
                };
                if let Some(p) = self.pending.remove(&cfg.robot) {
                    let _ = p.reply.send(outcome);
                }
            } else if p.deadline <= Instant::now() {
                if let Some(p) = self.pending.remove(&cfg.robot) {
                    let _ = p.reply.send(Err(CommandError::Timeout));
                }
            }
        }
        let unit = &mut self.units[i];
        if !unit.up {
            unit.up = true;
            // Answering: the ledger may send its commands now.
            let _ = self
                .context
                .registry
                .send(AuthorizeDevice {
                    key: EntityKey::Robot(cfg.robot),
                    connection: Some(ConnectionHandle {
                        id: unit.connection,
                        close: self.close.clone(),
                        deliver: Some(self.deliver.clone()),
                    }),
                })
                .await;
        }
        send(&self.units[i], Observation::Robot(Box::new(report)));
        None
    }

    async fn job(
        &mut self,
        link: &mut Link,
        job: Job,
        stops: &mut Option<mpsc::UnboundedReceiver<Stop>>,
    ) -> Option<ModbusError> {
        match job {
            Job::Units(u) => self.set_units(u).await,
            Job::PollSoon(robots) => self.poll_soon(&robots),
            Job::Command {
                unit,
                command,
                reply,
            } => {
                let seq = self.next_seq;
                self.next_seq = self.next_seq.wrapping_add(1).max(1);
                let Some(values) = unit.map.command_values(&command, seq) else {
                    let _ = reply.send(Err(CommandError::Invalid(format!(
                        "map {} has no code for {}",
                        unit.map.name,
                        command.name()
                    ))));
                    return None;
                };
                let req = Request::WriteMultipleRegisters {
                    addr: unit.map.command_register,
                    values,
                };
                match self.transact(link, unit.unit, &req, "command").await {
                    Ok(_) => {
                        if let Some(old) = self.pending.insert(
                            unit.robot,
                            Pending {
                                seq,
                                deadline: Instant::now() + self.config.command_timeout,
                                reply,
                            },
                        ) {
                            let _ = old.reply.send(Err(CommandError::Busy));
                        }
                        // Read the echo at once rather than at the next scheduled poll.
                        if let Some(i) = self.units.iter().position(|p| p.cfg.robot == unit.robot) {
                            return self.poll(link, i, stops).await;
                        }
                    }
                    Err(e) => {
                        let broken = e.link_broken();
                        let _ = reply.send(Err(match e {
                            ModbusError::Timeout(_) => CommandError::Timeout,
                            other => CommandError::Invalid(other.to_string()),
                        }));
                        if broken {
                            return Some(ModbusError::Io("link broken".into()));
                        }
                    }
                }
            }
            Job::Discover {
                first,
                last,
                per_unit,
                map,
                reply,
            } => {
                let mut found = Vec::new();
                for unit in first..=last {
                    while let Some(s) = try_stop(stops) {
                        if let Some(e) = self.stop(link, s).await {
                            let _ = reply.send(Err(e.to_string()));
                            return Some(e);
                        }
                    }
                    match discover_one(link, unit, &map, per_unit).await {
                        Ok(Some(f)) => found.push(f),
                        Ok(None) => {}
                        Err(e) => {
                            let _ = reply.send(Err(e.to_string()));
                            return Some(e);
                        }
                    }
                }
                let _ = reply.send(Ok(found));
            }
        }
        None
    }

    /// The stop lane on the shared (RTU) link.
    async fn stop(&mut self, link: &mut Link, stop: Stop) -> Option<ModbusError> {
        match stop {
            Stop::One { unit, taken, reply } => {
                let (ack, broken) = write_stop(link, &unit, taken, self.config.timeout).await;
                let _ = reply.send(ack);
                self.poll_soon(&[unit.robot]);
                broken
            }
            Stop::All {
                units,
                taken,
                reply,
            } => {
                // Every robot at once when they all keep their stop on one coil (a
                // broadcast, unit 0, has no answer); each one then written and confirmed by
                // its own answer, all of them before any poll.
                if let Some(coil) = shared_estop_coil(&units) {
                    let _ = link
                        .transact(
                            0,
                            &Request::WriteSingleCoil {
                                addr: coil,
                                on: true,
                            },
                            self.config.timeout,
                        )
                        .await;
                }
                let mut acks = Vec::new();
                let mut broken = None;
                for u in &units {
                    let (ack, lost) = write_stop(link, u, taken, self.config.timeout).await;
                    acks.push(ack);
                    if lost.is_some() {
                        broken = lost;
                        break;
                    }
                }
                let robots: Vec<RobotId> = units.iter().map(|u| u.robot).collect();
                self.poll_soon(&robots);
                let _ = reply.send(acks);
                broken
            }
        }
    }
}

/// The e-stop coil every unit shares, if they all share one: only then may one broadcast
/// stop them all (a robot whose map keeps its stop elsewhere would take it as another
/// coil).
fn shared_estop_coil(units: &[UnitConfig]) -> Option<u16> {
    let first = units.first()?.map.estop_coil;
    units
        .iter()
        .all(|u| u.map.estop_coil == first)
        .then_some(first)
}

async fn write_stop(
    link: &mut Link,
    unit: &UnitConfig,
    taken: Instant,
    timeout: Duration,
) -> (StopAck, Option<ModbusError>) {
    let req = Request::WriteSingleCoil {
        addr: unit.map.estop_coil,
        on: true,
    };
    let result = link.transact(unit.unit, &req, timeout).await;
    let latency = taken.elapsed();
    let outcome = if result.is_ok() { "ok" } else { "error" };
    metrics::counter!(MODBUS_REQUESTS_TOTAL, "lane" => "stop", "outcome" => outcome).increment(1);
    match result {
        Ok(_) => {
            metrics::histogram!(MODBUS_ESTOP_SECONDS).record(latency.as_secs_f64());
            tracing::warn!(robot = %unit.robot, latency_us = latency.as_micros() as u64, "emergency stop acknowledged");
            (
                StopAck {
                    robot_id: unit.robot,
                    acknowledged: true,
                    latency_us: latency.as_micros() as u64,
                    error: None,
                },
                None,
            )
        }
        Err(e) => {
            tracing::error!(robot = %unit.robot, "emergency stop not acknowledged: {e}");
            let broken = e.link_broken().then(|| e.clone());
            (
                StopAck {
                    robot_id: unit.robot,
                    acknowledged: false,
                    latency_us: latency.as_micros() as u64,
                    error: Some(e.to_string()),
                },
                broken,
            )
        }
    }
}

/// TCP: the stop lane's own connection, opened ahead of need and kept.
async fn stop_lane(
    config: BusConfig,
    mut stops: mpsc::UnboundedReceiver<Stop>,
    jobs: mpsc::Sender<Job>,
) {
    let mut link: Option<Link> = None;
    let mut retry_at = Instant::now();
    loop {
        if link.is_none() && Instant::now() >= retry_at {
            match Link::open(&config.endpoint, config.timeout * 4).await {
                Ok(l) => {
                    metrics::gauge!(MODBUS_LINKS_UP).increment(1.0);
                    link = Some(l);
                }
                Err(e) => {
                    tracing::debug!(bus = %config.name, "stop lane not connected: {e}");
                    retry_at = Instant::now() + Duration::from_secs(1);
                }
            }
        }
        let wait = if link.is_some() {
            Duration::from_secs(3600)
        } else {
            retry_at.saturating_duration_since(Instant::now())
        };
        let stop = tokio::select! {
            s = stops.recv() => match s {
                Some(s) => s,
                None => return,
            },
            _ = tokio::time::sleep(wait) => continue,
        };
        if link.is_none() {
            // One more try right now: a stop is worth a connect.
            if let Ok(l) = Link::open(&config.endpoint, config.timeout * 4).await {
                metrics::gauge!(MODBUS_LINKS_UP).increment(1.0);
                link = Some(l);
            }
        }
        let Some(l) = link.as_mut() else {
            refuse_stop(stop, "stop connection down");
            continue;
        };
        let mut broken = false;
        let stopped: Vec<RobotId> = match &stop {
            Stop::One { unit, .. } => vec![unit.robot],
            Stop::All { units, .. } => units.iter().map(|u| u.robot).collect(),
        };
        match stop {
            Stop::One { unit, taken, reply } => {
                let (ack, b) = write_stop(l, &unit, taken, config.timeout).await;
                broken = b.is_some();
                let _ = reply.send(ack);
            }
            Stop::All {
                units,
                taken,
                reply,
            } => {
                let mut acks = Vec::new();
                for u in &units {
                    let (ack, b) = write_stop(l, u, taken, config.timeout).await;
                    acks.push(ack);
                    broken |= b.is_some();
                }
                let _ = reply.send(acks);
            }
        }
        // The polling connection shows the stop at once rather than at the next period.
        let _ = jobs.try_send(Job::PollSoon(stopped));
        if broken {
            metrics::gauge!(MODBUS_LINKS_UP).decrement(1.0);
            link = None;
        }
    }
}

fn refuse_stop(stop: Stop, why: &str) {
    match stop {
        Stop::One { unit, reply, .. } => {
            let _ = reply.send(refused(unit.robot, why));
        }
        Stop::All { units, reply, .. } => {
            let _ = reply.send(units.iter().map(|u| refused(u.robot, why)).collect());
        }
    }
}

fn try_stop(stops: &mut Option<mpsc::UnboundedReceiver<Stop>>) -> Option<Stop> {
    stops.as_mut().and_then(|s| s.try_recv().ok())
}

async fn recv_stop(stops: &mut Option<mpsc::UnboundedReceiver<Stop>>) -> Option<Stop> {
    match stops {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

/// One unit of a scan: FC43/14 when answered, else the identity registers; `None` when
/// nothing answers.
async fn discover_one(
    link: &mut Link,
    unit: u8,
    map: &RegisterMap,
    within: Duration,
) -> Result<Option<Found>, ModbusError> {
    let mut found = Found {
        unit_id: unit,
        identity: None,
        vendor: None,
        product: None,
    };
    let mut answered = false;
    match link
        .transact(unit, &Request::ReadDeviceIdentification, within)
        .await
    {
        Ok(Response::Identification(objects)) => {
            answered = true;
            for (id, v) in objects {
                match id {
                    0 => found.vendor = Some(v),
                    1 => found.product = Some(v),
                    _ => {}
                }
            }
        }
        // 0x0A / 0x0B: a gateway says nothing is at that unit id.
        Err(ModbusError::Frame(super::frame::FrameError::Exception(0x0A | 0x0B))) => {}
        Err(ModbusError::Frame(super::frame::FrameError::Exception(_))) => answered = true,
        Err(e) if e.link_broken() => return Err(e),
        _ => {}
    }
    let identity_at = map.identity_register;
    match link
        .transact(
            unit,
            &Request::ReadHoldingRegisters {
                addr: identity_at,
                count: 13,
            },
            within,
        )
        .await
    {
        Ok(Response::Registers(r)) => {
            answered = true;
            found.identity = Identity::decode(&r);
        }
        Err(ModbusError::Frame(super::frame::FrameError::Exception(0x0A | 0x0B))) => {}
        Err(ModbusError::Frame(_)) => answered = true,
        Err(e) if e.link_broken() => return Err(e),
        _ => {}
    }
    Ok(answered.then_some(found))
}

/// Hands a robot's observation to its forwarder: never waits, so polling and the stop lane
/// never wait on the database.
fn send(p: &Polled, observation: Observation) {
    if let Some(latest) = &p.entity {
        latest.send_replace(Some(observation));
    }
}

/// One per robot: takes its latest observation to its entity and waits for the answer (the
/// rows committed) before taking the next. While an answer is awaited the bus goes on
/// polling and newer observations replace the one waiting: a slow database slows what the
/// robot's entity sees, as a slower poll would, and loses nothing it was given (its safety
/// events are kept until stored). Ends when the bus lets the robot go.
async fn forward(
    robot: RobotId,
    mut latest: watch::Receiver<Option<Observation>>,
    entity: Recipient<IngestReadings>,
) {
    while latest.changed().await.is_ok() {
        let Some(observation) = latest.borrow_and_update().clone() else {
            continue;
        };
        let now = Utc::now();
        let reading = Reading {
            at_ms: now.timestamp_millis(),
            fix: None,
            facts: Default::default(),
            raw: String::new(),
            sequence: None,
            observations: vec![observation],
        };
        match entity.send(IngestReadings::new(vec![reading], now)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                metrics::counter!(ROBOT_READINGS_UNSTORED_TOTAL, "reason" => e.kind()).increment(1);
                tracing::debug!(%robot, "robot reading not stored: {e}");
            }
            Err(_gone) => return,
        }
    }
}
