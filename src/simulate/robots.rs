//! `urbanstream simulate robots`: a Modbus TCP server with one unit per overhead hoist
//! robot, speaking the `oht50-v1` register map, with believable physics: driving between
//! stations along a rail, hoisting, battery drain and charging, temperature, the host
//! heartbeat watchdog (silence for 1 s: the robot stops itself), the emergency stop coil
//! (latched until `reset_fault`), and faults and scanner violations at a rate or on request:
//! simulator-only holding registers 300 (write a fault code; 0 clears it), 301 (scanner
//! field violated: 1 / 0) and 302 (hardware e-stop button pressed: 1 / 0).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_modbus::prelude::{ExceptionCode, Request, Response, SlaveRequest};

/// Stations are this far apart along the rail.
pub const STATION_SPACING_MM: u32 = 2_000;
const CRUISE_MM_S: f64 = 1_000.0;
const HOIST_MM_S: f64 = 250.0;
const HOIST_DOWN_MM: u16 = 800;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Activity {
    Idle,
    Moving,
    Hoisting,
    Homing,
    Charging,
}

/// One simulated robot.
#[derive(Debug, Clone)]
pub struct SimRobot {
    activity: Activity,
    position_mm: f64,
    target_mm: f64,
    target_station: u16,
    speed_limit: f64,
    speed: f64,
    hoist_mm: f64,
    hoist_target: f64,
    battery_permille: f64,
    temperature_c: f64,
    load_hg: u16,
    heartbeat: u16,
    estop_latched: bool,
    pub estop_button: bool,
    pub scanner_field: bool,
    door_open: bool,
    fault_code: u16,
    command_seq: u16,
    command_result: u16,
    homed: bool,
    host_beat: u16,
    host_beat_changed: Instant,
    /// Holding registers 100–103 as last written.
    command_regs: [u16; 4],
    serial: u32,
}

impl SimRobot {
    pub fn new(unit: u8) -> Self {
        let station = u16::from(unit % 8) + 1;
        Self {
            activity: Activity::Idle,
            position_mm: f64::from(u32::from(station) * STATION_SPACING_MM),
            target_mm: f64::from(u32::from(station) * STATION_SPACING_MM),
            target_station: station,
            speed_limit: CRUISE_MM_S,
            speed: 0.0,
            hoist_mm: 0.0,
            hoist_target: 0.0,
            battery_permille: 900.0 - f64::from(unit) * 7.0 % 300.0,
            temperature_c: 28.0,
            load_hg: 0,
            heartbeat: 0,
            estop_latched: false,
            estop_button: false,
            scanner_field: false,
            door_open: false,
            fault_code: 0,
            command_seq: 0,
            command_result: 0,
            homed: true,
            host_beat: 0,
            host_beat_changed: Instant::now(),
            command_regs: [0; 4],
            serial: 50_000 + u32::from(unit),
        }
    }

    fn station(&self) -> u16 {
        let at = self.position_mm / f64::from(STATION_SPACING_MM);
        if (at - at.round()).abs() * f64::from(STATION_SPACING_MM) < 5.0 && self.speed == 0.0 {
            at.round() as u16
        } else {
            0
        }
    }

    fn stopped_by_safety(&self) -> bool {
        self.estop_latched || self.estop_button || self.fault_code != 0
    }

    /// One control cycle of `dt`.
    pub fn step(&mut self, dt: f64, fault_rate_per_s: f64) {
        self.heartbeat = self.heartbeat.wrapping_add(1);
        if self.estop_button {
            self.estop_latched = true;
        }
        // Silence means stop: the host stopped writing its heartbeat.
        if matches!(
            self.activity,
            Activity::Moving | Activity::Homing | Activity::Hoisting
        ) && self.host_beat_changed.elapsed() > Duration::from_secs(1)
        {
            self.activity = Activity::Idle;
            self.target_mm = self.position_mm;
        }
        if fault_rate_per_s > 0.0 && rand::random::<f64>() < fault_rate_per_s * dt {
            if rand::random::<bool>() {
                self.fault_code = 10 + rand::random::<u16>() % 20;
            } else {
                self.scanner_field = true;
            }
        } else if self.scanner_field && rand::random::<f64>() < 0.5 * dt {
            self.scanner_field = false;
        }
        if self.stopped_by_safety() || self.scanner_field {
            self.speed = 0.0;
            if self.stopped_by_safety() {
                self.activity = Activity::Idle;
                self.target_mm = self.position_mm;
            }
        }
        match self.activity {
            Activity::Moving | Activity::Homing if !self.scanner_field => {
                let left = self.target_mm - self.position_mm;
                let v = self.speed_limit.min(CRUISE_MM_S);
                let step = v * dt;
                if left.abs() <= step {
                    self.position_mm = self.target_mm;
                    self.speed = 0.0;
                    if self.activity == Activity::Homing {
                        self.homed = true;
                    }
                    self.activity = if self.target_mm == 0.0 && self.command_regs[0] == 7 {
                        Activity::Charging
                    } else {
                        Activity::Idle
                    };
                } else {
                    self.position_mm += step * left.signum();
                    self.speed = v * left.signum();
                }
                self.battery_permille -= 0.05 * dt * 10.0;
                self.temperature_c += (45.0 - self.temperature_c) * 0.02 * dt;
            }
            Activity::Hoisting if !self.scanner_field => {
                let left = self.hoist_target - self.hoist_mm;
                let step = HOIST_MM_S * dt;
                if left.abs() <= step {
                    self.hoist_mm = self.hoist_target;
                    self.activity = Activity::Idle;
                    self.load_hg = if self.hoist_target > 0.0 && self.load_hg == 0 {
                        150
                    } else {
                        self.load_hg
                    };
                } else {
                    self.hoist_mm += step * left.signum();
                }
                self.battery_permille -= 0.08 * dt * 10.0;
            }
            Activity::Charging => {
                self.battery_permille = (self.battery_permille + 5.0 * dt).min(1000.0);
                if self.battery_permille >= 1000.0 {
                    self.activity = Activity::Idle;
                }
            }
            _ => {
                self.temperature_c += (28.0 - self.temperature_c) * 0.01 * dt;
                self.battery_permille -= 0.01 * dt;
            }
        }
        self.battery_permille = self.battery_permille.clamp(0.0, 1000.0);
    }

    fn state_code(&self) -> u16 {
        if self.estop_latched {
            4
        } else if self.fault_code != 0 {
            3
        } else {
            match self.activity {
                Activity::Idle => 0,
                Activity::Moving => 1,
                Activity::Hoisting => 2,
                Activity::Homing => 5,
                Activity::Charging => 6,
            }
        }
    }

    /// Input registers 0–14 of `oht50-v1`.
    pub fn inputs(&self) -> [u16; 15] {
        let moving =
            matches!(self.activity, Activity::Moving | Activity::Homing) && self.speed != 0.0;
        let bits = u16::from(!self.stopped_by_safety())
            | u16::from(moving) << 1
            | u16::from(self.fault_code != 0) << 2
            | u16::from(self.estop_latched) << 3
            | u16::from(self.homed) << 4
            | u16::from(self.load_hg > 0) << 5
            | u16::from(self.activity == Activity::Hoisting) << 6
            | u16::from(self.activity == Activity::Charging) << 7;
        let pos = self.position_mm.max(0.0) as u32;
        [
            bits,
            self.state_code(),
            (pos >> 16) as u16,
            (pos & 0xFFFF) as u16,
            (self.speed as i16) as u16,
            self.hoist_mm as u16,
            self.battery_permille as u16,
            ((self.temperature_c * 10.0) as i16) as u16,
            self.station(),
            self.target_station,
            self.fault_code,
            self.load_hg,
            self.heartbeat,
            self.command_seq,
            self.command_result,
        ]
    }

    fn identity(&self) -> [u16; 13] {
        let mut regs = [0u16; 13];
        for (i, c) in b"OHT-50 SIM\0\0".chunks(2).take(10).enumerate() {
            regs[i] = u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]);
        }
        regs[10] = (self.serial >> 16) as u16;
        regs[11] = (self.serial & 0xFFFF) as u16;
        regs[12] = 0x0102;
        regs
    }

    /// A command written to registers 100–103.
    fn command(&mut self, regs: [u16; 4]) {
        let [code, arg, speed, seq] = regs;
        self.command_regs = regs;
        let ok = |s: &mut Self| {
            s.command_seq = seq;
            s.command_result = 0;
        };
        let reject = |s: &mut Self| {
            s.command_seq = seq;
            s.command_result = 1;
        };
        if speed > 0 {
            self.speed_limit = f64::from(speed);
        } else {
            self.speed_limit = CRUISE_MM_S;
        }
        match code {
            6 => {
                if self.estop_button {
                    reject(self);
                } else {
                    self.estop_latched = false;
                    self.fault_code = 0;
                    ok(self);
                }
            }
            2 => {
                self.activity = Activity::Idle;
                self.target_mm = self.position_mm;
                self.speed = 0.0;
                ok(self);
            }
            _ if self.stopped_by_safety() => reject(self),
            1 if arg > 0 => {
                self.target_station = arg;
                self.target_mm = f64::from(u32::from(arg) * STATION_SPACING_MM);
                self.activity = Activity::Moving;
                ok(self);
            }
            3 => {
                self.target_station = 0;
                self.target_mm = 0.0;
                self.activity = Activity::Homing;
                ok(self);
            }
            4 | 5 => {
                if self.station() == 0 || self.speed != 0.0 {
                    reject(self);
                } else {
                    self.hoist_target = if code == 5 {
                        f64::from(if arg > 0 { arg } else { HOIST_DOWN_MM })
                    } else {
                        0.0
                    };
                    self.activity = Activity::Hoisting;
                    ok(self);
                }
            }
            7 => {
                self.target_station = 0;
                self.target_mm = 0.0;
                self.activity = Activity::Moving;
                ok(self);
            }
            _ => reject(self),
        }
    }
}

/// The robots of one simulated bus, by unit id (1-based).
pub type Fleet = Arc<Mutex<Vec<SimRobot>>>;

#[derive(Clone)]
struct SimService {
    fleet: Fleet,
}

impl SimService {
    fn answer(&self, unit: u8, req: Request<'static>) -> Result<Option<Response>, ExceptionCode> {
        let mut fleet = self
            .fleet
            .lock()
            .map_err(|_poisoned| ExceptionCode::ServerDeviceFailure)?;
        let units: Vec<usize> = if unit == 0 {
            (0..fleet.len()).collect()
        } else {
            let i = usize::from(unit) - 1;
            if i >= fleet.len() {
                // Nobody at that address: a real bus stays silent.
                return Ok(None);
            }
            vec![i]
        };
        let mut response = None;
        for i in units {
            let r = &mut fleet[i];
            response = Some(match &req {
                Request::ReadInputRegisters(addr, n) => {
                    let regs = r.inputs();
                    let (a, n) = (usize::from(*addr), usize::from(*n));
                    let v = regs
                        .get(a..a + n)
                        .ok_or(ExceptionCode::IllegalDataAddress)?;
                    Response::ReadInputRegisters(v.to_vec())
                }
                Request::ReadDiscreteInputs(addr, n) => {
                    let bits = [r.estop_button, r.scanner_field, r.door_open, false];
                    let (a, n) = (usize::from(*addr), usize::from(*n));
                    let v = bits
                        .get(a..a + n)
                        .ok_or(ExceptionCode::IllegalDataAddress)?;
                    Response::ReadDiscreteInputs(v.to_vec())
                }
                Request::ReadHoldingRegisters(addr, n) if (200..=212).contains(addr) => {
                    let regs = r.identity();
                    let a = usize::from(*addr - 200);
                    let v = regs
                        .get(a..a + usize::from(*n))
                        .ok_or(ExceptionCode::IllegalDataAddress)?;
                    Response::ReadHoldingRegisters(v.to_vec())
                }
                Request::ReadHoldingRegisters(addr, n) if (100..=103).contains(addr) => {
                    let a = usize::from(*addr - 100);
                    let v = r
                        .command_regs
                        .get(a..a + usize::from(*n))
                        .ok_or(ExceptionCode::IllegalDataAddress)?;
                    Response::ReadHoldingRegisters(v.to_vec())
                }
                Request::WriteSingleCoil(0, on) => {
                    if *on {
                        r.estop_latched = true;
                        r.activity = Activity::Idle;
                        r.speed = 0.0;
                        r.target_mm = r.position_mm;
                    }
                    Response::WriteSingleCoil(0, *on)
                }
                Request::WriteSingleCoil(1, on) => Response::WriteSingleCoil(1, *on),
                Request::WriteSingleRegister(110, v) => {
                    if *v != r.host_beat {
                        r.host_beat = *v;
                        r.host_beat_changed = Instant::now();
                    }
                    Response::WriteSingleRegister(110, *v)
                }
                Request::WriteMultipleRegisters(100, values) if values.len() == 4 => {
                    r.host_beat_changed = Instant::now();
                    r.command([values[0], values[1], values[2], values[3]]);
                    Response::WriteMultipleRegisters(100, 4)
                }
                Request::WriteSingleRegister(addr @ 300..=302, v) => {
                    match addr {
                        300 => r.fault_code = *v,
                        301 => r.scanner_field = *v != 0,
                        _ => r.estop_button = *v != 0,
                    }
                    Response::WriteSingleRegister(*addr, *v)
                }
                Request::WriteMultipleRegisters(_, _)
                | Request::WriteSingleRegister(_, _)
                | Request::WriteSingleCoil(_, _) => return Err(ExceptionCode::IllegalDataAddress),
                _ => return Err(ExceptionCode::IllegalFunction),
            });
        }
        Ok(if unit == 0 { None } else { response })
    }
}

impl tokio_modbus::server::Service for SimService {
    type Request = SlaveRequest<'static>;
    type Response = Option<Response>;
    type Exception = ExceptionCode;
    type Future = std::future::Ready<Result<Self::Response, Self::Exception>>;

    fn call(&self, req: Self::Request) -> Self::Future {
        std::future::ready(self.answer(req.slave, req.request))
    }
}

/// One line of live progress: robots by state code, mean battery.
pub fn progress(fleet: &Fleet) -> String {
    let Ok(f) = fleet.lock() else {
        return String::new();
    };
    let names = [
        "idle", "moving", "hoisting", "fault", "estop", "homing", "charging",
    ];
    let mut counts = [0usize; 7];
    let mut battery = 0.0;
    for r in f.iter() {
        let i = r.inputs();
        counts[usize::from(i[1]).min(6)] += 1;
        battery += f64::from(i[6]) / 10.0;
    }
    let states: Vec<String> = names
        .iter()
        .zip(counts)
        .filter(|(_, n)| *n > 0)
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
    format!(
        "{} | battery {:.0} % on average",
        states.join(", "),
        battery / f.len().max(1) as f64
    )
}

/// A fleet of `n` robots at rest at their stations.
pub fn fleet(n: u8) -> Fleet {
    Arc::new(Mutex::new((1..=n).map(SimRobot::new).collect()))
}

/// Steps the physics every `tick` until dropped.
pub async fn run_physics(fleet: Fleet, tick: Duration, fault_rate_per_hour: f64) {
    let mut interval = tokio::time::interval(tick);
    let rate = fault_rate_per_hour / 3600.0;
    loop {
        interval.tick().await;
        if let Ok(mut f) = fleet.lock() {
            for r in f.iter_mut() {
                r.step(tick.as_secs_f64(), rate);
            }
        }
    }
}

/// Serves `fleet` over Modbus TCP on `listener` until the task is dropped.
pub async fn serve_tcp(listener: tokio::net::TcpListener, fleet: Fleet) -> std::io::Result<()> {
    let server = tokio_modbus::server::tcp::Server::new(listener);
    let on_connected = |stream, addr: SocketAddr| {
        let service = SimService {
            fleet: fleet.clone(),
        };
        async move {
            tokio_modbus::server::tcp::accept_tcp_connection(stream, addr, move |_| {
                Ok(Some(service.clone()))
            })
        }
    };
    server
        .serve(&on_connected, |e| {
            tracing::debug!("simulated robot connection: {e}")
        })
        .await
}

/// Serves `fleet` over Modbus RTU on the serial device `path` until the task is dropped.
pub async fn serve_rtu(path: &str, baud: u32, fleet: Fleet) -> std::io::Result<()> {
    use tokio_serial::SerialPortBuilderExt;
    let port = tokio_serial::new(path, baud)
        .open_native_async()
        .map_err(std::io::Error::other)?;
    let server = tokio_modbus::server::rtu::Server::new(port);
    server.serve_forever(SimService { fleet }).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_robot_drives_to_a_station_and_hoists_there() {
        let mut r = SimRobot::new(1);
        r.command([1, 4, 0, 9]);
        assert_eq!((r.command_seq, r.command_result), (9, 0));
        for _ in 0..100 {
            r.host_beat_changed = Instant::now();
            r.step(0.1, 0.0);
        }
        assert_eq!(r.inputs()[8], 4, "at station 4");
        r.command([5, 500, 0, 10]);
        assert_eq!(r.command_result, 0);
        for _ in 0..30 {
            r.host_beat_changed = Instant::now();
            r.step(0.1, 0.0);
        }
        assert_eq!(r.inputs()[5], 500);
        // Faults on request, through the simulator's own registers.
        let svc = SimService {
            fleet: Arc::new(Mutex::new(vec![r.clone()])),
        };
        let answer = svc.answer(1, Request::WriteSingleRegister(300, 17));
        assert_eq!(answer, Ok(Some(Response::WriteSingleRegister(300, 17))));
        let inputs = svc.fleet.lock().unwrap()[0].inputs();
        assert_eq!((inputs[1], inputs[10]), (3, 17), "faulted with code 17");
        assert!(progress(&svc.fleet).starts_with("fault 1"));
        // The stop coil latches; moves are rejected until a reset.
        r.estop_latched = true;
        r.command([1, 2, 0, 11]);
        assert_eq!(r.command_result, 1);
        assert_eq!(r.inputs()[1], 4);
        r.command([6, 0, 0, 12]);
        assert_eq!((r.command_seq, r.command_result), (12, 0));
        assert_eq!(r.inputs()[1], 0);
    }
}
