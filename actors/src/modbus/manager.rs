//! The buses from the database: one [`ModbusBusActor`] each, restarted when its settings
//! change; routes stops and scans to the bus a robot is on.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use urbanstream_schema::models::{BusRow, RobotRow};
use urbanstream_schema::store::{DbError, Store};
use urbanstream_schema::{BusId, RobotId};

use super::bus::{
    BusConfig, BusContext, Discover, EmergencyStop, EmergencyStopAll, Found, ModbusBusActor,
    SetUnits, StopAck, UnitConfig,
};
use super::link::Endpoint;
use super::map::RegisterMap;

/// Timeouts every bus shares; they may change at run time ([`Retune`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModbusSettings {
    pub timeout: Duration,
    pub command_timeout: Duration,
    /// Polls per second when a bus does not set its own.
    pub default_poll_hz: f64,
}

/// One per process.
pub struct ModbusManagerActor {
    store: Store,
    context: BusContext,
    settings: ModbusSettings,
    maps: Arc<HashMap<String, Arc<RegisterMap>>>,
    buses: HashMap<BusId, (BusConfig, Addr<ModbusBusActor>)>,
    robot_bus: HashMap<RobotId, BusId>,
    /// The first configured map: what a scan reads identities with on a bus whose robots
    /// do not agree on one (or that has none yet).
    default_map: Option<Arc<RegisterMap>>,
    /// Per bus, the map every robot on it uses, when they share one.
    bus_map: HashMap<BusId, Arc<RegisterMap>>,
}

impl ModbusManagerActor {
    pub fn new(
        store: Store,
        context: BusContext,
        settings: ModbusSettings,
        maps: Vec<RegisterMap>,
    ) -> Self {
        let default_map = maps.first().cloned().map(Arc::new);
        Self {
            store,
            context,
            settings,
            default_map,
            bus_map: HashMap::new(),
            maps: Arc::new(
                maps.into_iter()
                    .map(|m| (m.name.clone(), Arc::new(m)))
                    .collect(),
            ),
            buses: HashMap::new(),
            robot_bus: HashMap::new(),
        }
    }

    fn config_of(&self, b: &BusRow) -> Option<BusConfig> {
        let endpoint = match b.kind.as_str() {
            "tcp" => Endpoint::Tcp {
                address: b.address.clone()?,
            },
            "rtu" => Endpoint::Rtu {
                path: b.path.clone()?,
                baud: u32::try_from(b.baud).ok()?,
                parity: b.parity.chars().next().unwrap_or('N'),
                stop_bits: u8::try_from(b.stop_bits).ok()?,
            },
            _ => return None,
        };
        let hz = if b.poll_hz > 0.0 {
            b.poll_hz
        } else {
            self.settings.default_poll_hz
        };
        Some(BusConfig {
            id: BusId(b.id),
            name: b.name.clone(),
            endpoint,
            poll_every: Duration::from_secs_f64(1.0 / hz.clamp(0.1, 1000.0)),
            timeout: self.settings.timeout,
            command_timeout: self.settings.command_timeout,
        })
    }

    fn apply(&mut self, buses: Vec<BusRow>, robots: Vec<RobotRow>) {
        let mut units: HashMap<BusId, Vec<UnitConfig>> = HashMap::new();
        self.robot_bus.clear();
        for r in robots {
            let Some(map) = self.maps.get(&r.map).cloned() else {
                tracing::warn!(robot = r.id, map = %r.map, "robot has an unknown register map; not polled");
                continue;
            };
            let Ok(unit) = u8::try_from(r.unit_id) else {
                continue;
            };
            self.robot_bus.insert(RobotId(r.id), BusId(r.bus_id));
            units.entry(BusId(r.bus_id)).or_default().push(UnitConfig {
                robot: RobotId(r.id),
                unit,
                map,
            });
        }
        self.bus_map = units
            .iter()
            .filter_map(|(bus, on)| {
                let first = on.first()?;
                on.iter()
                    .all(|u| u.map.name == first.map.name)
                    .then(|| (*bus, first.map.clone()))
            })
            .collect();
        let mut keep = HashMap::new();
        for b in &buses {
            let Some(cfg) = self.config_of(b) else {
                tracing::warn!(bus = %b.name, "bus settings incomplete; not started");
                continue;
            };
            let id = cfg.id;
            let on_bus = units.remove(&id).unwrap_or_default();
            match self.buses.remove(&id) {
                // Unchanged: keep the link; changed (endpoint, pace, timeouts): a new bus actor.
                Some((old, addr)) if old == cfg => {
                    addr.do_send(SetUnits(on_bus));
                    keep.insert(id, (old, addr));
                }
                previous => {
                    if let Some((_, addr)) = previous {
                        addr.do_send(StopBus);
                    }
                    let context = self.context.clone();
                    let c = cfg.clone();
                    let addr = ModbusBusActor::new(c, context, on_bus).start();
                    keep.insert(id, (cfg, addr));
                }
            }
        }
        for (_, (_, addr)) in self.buses.drain() {
            addr.do_send(StopBus);
        }
        self.buses = keep;
    }
}

impl Actor for ModbusManagerActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.notify(Reload);
    }
}

/// New timeouts and default pace: buses they change are restarted with them.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Retune(pub ModbusSettings);

impl Handler<Retune> for ModbusManagerActor {
    type Result = ();

    fn handle(&mut self, msg: Retune, ctx: &mut Self::Context) {
        if self.settings != msg.0 {
            self.settings = msg.0;
            ctx.notify(Reload);
        }
    }
}

/// Read the buses and robots again (after a change through the API).
#[derive(Message)]
#[rtype(result = "Result<(), String>")]
pub struct Reload;

impl Handler<Reload> for ModbusManagerActor {
    type Result = ResponseActFuture<Self, Result<(), String>>;

    fn handle(&mut self, _msg: Reload, _ctx: &mut Self::Context) -> Self::Result {
        let store = self.store.clone();
        Box::pin(
            async move {
                let buses = store.buses().await?;
                let robots = store.robots().await?;
                Ok::<_, DbError>((buses, robots))
            }
            .into_actor(self)
            .map(|res, act, ctx| match res {
                Ok((buses, robots)) => {
                    act.apply(buses, robots);
                    Ok(())
                }
                Err(e) => {
                    tracing::warn!("modbus buses not loaded: {e}; retrying");
                    ctx.notify_later(Reload, Duration::from_secs(5));
                    Err(e.to_string())
                }
            }),
        )
    }
}

#[derive(Message)]
#[rtype(result = "()")]
struct StopBus;

impl Handler<StopBus> for ModbusBusActor {
    type Result = ();

    fn handle(&mut self, _msg: StopBus, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

/// Stop one robot now.
#[derive(Message)]
#[rtype(result = "StopAck")]
pub struct StopRobot {
    pub robot: RobotId,
    pub taken: Instant,
}

impl Handler<StopRobot> for ModbusManagerActor {
    type Result = ResponseFuture<StopAck>;

    fn handle(&mut self, msg: StopRobot, _ctx: &mut Self::Context) -> Self::Result {
        let bus = self
            .robot_bus
            .get(&msg.robot)
            .and_then(|b| self.buses.get(b))
            .map(|(_, a)| a.clone());
        let robot = msg.robot;
        Box::pin(async move {
            let unknown = StopAck {
                robot_id: robot,
                acknowledged: false,
                latency_us: 0,
                error: Some("robot is on no running bus".into()),
            };
            match bus {
                Some(b) => b
                    .send(EmergencyStop {
                        robot,
                        taken: msg.taken,
                    })
                    .await
                    .unwrap_or(unknown),
                None => unknown,
            }
        })
    }
}

/// Stop every robot on every bus.
#[derive(Message)]
#[rtype(result = "Vec<StopAck>")]
pub struct StopAllRobots {
    pub taken: Instant,
}

impl Handler<StopAllRobots> for ModbusManagerActor {
    type Result = ResponseFuture<Vec<StopAck>>;

    fn handle(&mut self, msg: StopAllRobots, _ctx: &mut Self::Context) -> Self::Result {
        let buses: Vec<_> = self.buses.values().map(|(_, a)| a.clone()).collect();
        Box::pin(async move {
            let all = buses
                .iter()
                .map(|b| b.send(EmergencyStopAll { taken: msg.taken }));
            futures_util::future::join_all(all)
                .await
                .into_iter()
                .flat_map(Result::unwrap_or_default)
                .collect()
        })
    }
}

/// Scan one bus.
#[derive(Message)]
#[rtype(result = "Result<Vec<Found>, String>")]
pub struct DiscoverOn {
    pub bus: BusId,
    pub first: u8,
    pub last: u8,
    pub per_unit: Duration,
}

impl Handler<DiscoverOn> for ModbusManagerActor {
    type Result = ResponseFuture<Result<Vec<Found>, String>>;

    fn handle(&mut self, msg: DiscoverOn, _ctx: &mut Self::Context) -> Self::Result {
        let bus = self.buses.get(&msg.bus).map(|(_, a)| a.clone());
        let map = self
            .bus_map
            .get(&msg.bus)
            .or(self.default_map.as_ref())
            .cloned();
        Box::pin(async move {
            let Some(b) = bus else {
                return Err("bus is not running".into());
            };
            let Some(map) = map else {
                return Err("no register map is configured".into());
            };
            b.send(Discover {
                first: msg.first,
                last: msg.last,
                per_unit: msg.per_unit,
                map,
            })
            .await
            .unwrap_or_else(|e| Err(e.to_string()))
        })
    }
}
