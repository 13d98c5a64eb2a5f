//! A robot's state machine, its safety conditions and which commands its state allows:
//! pure functions of what its adapter reported.
//!
//! ```text
//! Disconnected ──report──► Idle ⇄ Moving / Hoisting
//!      ▲                    │  ▲
//!      │ link lost          ▼  │ reset (hardware button released)
//!      └──────────── Fault / EmergencyStopped
//! any reachable state ──control cycle counter frozen for k polls──► Stale
//! ```

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;
use urbanstream_schema::RobotId;

use crate::entity::{EntityEvent, RobotCommand, RobotMode, RobotReport, RobotState, SafetyKind};

/// A robot as readers see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RobotSnapshot {
    pub robot_id: RobotId,
    pub state: RobotState,
    /// The latest registers read, when the robot ever answered.
    pub report: Option<RobotReport>,
    /// Safety conditions in force.
    pub safety: BTreeSet<SafetyKind>,
    pub last_seen: Option<DateTime<Utc>>,
    /// Why the last poll failed, while the robot does not answer.
    pub link_error: Option<String>,
}

/// What one observation changed.
#[derive(Debug, Default, PartialEq)]
pub struct Seen {
    /// The snapshot changed in a way subscribers see (state, position, safety, …).
    pub changed: bool,
    pub events: Vec<EntityEvent>,
}

/// The robot's state machine.
#[derive(Debug, Clone)]
pub struct RobotLogic {
    pub snapshot: RobotSnapshot,
    /// Polls with the same control cycle counter before the robot is stale.
    pub stale_after: u32,
    /// Failed polls in a row before the robot is disconnected.
    pub offline_after: u32,
    unchanged: u32,
    failures: u32,
}

impl RobotLogic {
    pub fn new(robot_id: RobotId, stale_after: u32, offline_after: u32) -> Self {
        Self {
            snapshot: RobotSnapshot {
                robot_id,
                state: RobotState::Disconnected,
                report: None,
                safety: BTreeSet::new(),
                last_seen: None,
                link_error: None,
            },
            stale_after: stale_after.max(1),
            offline_after: offline_after.max(1),
            unchanged: 0,
            failures: 0,
        }
    }

    /// The registers were read.
    pub fn report(&mut self, r: &RobotReport, at: DateTime<Utc>) -> Seen {
        let previous = self.snapshot.report.as_ref();
        if previous.is_some_and(|p| p.heartbeat == r.heartbeat) {
            self.unchanged = self.unchanged.saturating_add(1);
        } else {
            self.unchanged = 0;
        }
        self.failures = 0;
        let stale = self.unchanged >= self.stale_after;
        let state = derive_state(r, stale);
        let safety = safety_of(r, stale);
        let visible_change = previous.is_none_or(|p| visible_change(p, r));
        self.snapshot.report = Some(r.clone());
        self.snapshot.last_seen = Some(at);
        self.snapshot.link_error = None;
        let mut seen = self.transition(state, safety, at, detail_of(r));
        seen.changed |= visible_change;
        seen
    }

    /// A poll got no (valid) answer.
    pub fn unreachable(&mut self, reason: &str, at: DateTime<Utc>) -> Seen {
        self.failures = self.failures.saturating_add(1);
        if self.failures < self.offline_after && self.snapshot.state != RobotState::Disconnected {
            return Seen::default();
        }
        let already = self.snapshot.link_error.as_deref() == Some(reason)
            && self.snapshot.state == RobotState::Disconnected
            && self.snapshot.safety.contains(&SafetyKind::LinkLost);
        if already {
            return Seen::default();
        }
        self.snapshot.link_error = Some(reason.to_owned());
        self.unchanged = 0;
        let mut safety = BTreeSet::new();
        safety.insert(SafetyKind::LinkLost);
        let mut seen = self.transition(RobotState::Disconnected, safety, at, reason.to_owned());
        seen.changed = true;
        seen
    }

    fn transition(
        &mut self,
        state: RobotState,
        safety: BTreeSet<SafetyKind>,
        at: DateTime<Utc>,
        detail: String,
    ) -> Seen {
        let mut seen = Seen::default();
        let from = self.snapshot.state;
        if from != state {
            seen.events.push(EntityEvent::RobotStateChanged {
                at,
                from,
                to: state,
            });
            self.snapshot.state = state;
            seen.changed = true;
        }
        for ended in self.snapshot.safety.difference(&safety) {
            seen.events.push(EntityEvent::Safety {
                at,
                condition: *ended,
                active: false,
                detail: String::new(),
            });
        }
        for began in safety.difference(&self.snapshot.safety) {
            seen.events.push(EntityEvent::Safety {
                at,
                condition: *began,
                active: true,
                detail: detail.clone(),
            });
        }
        if self.snapshot.safety != safety {
            self.snapshot.safety = safety;
            seen.changed = true;
        }
        seen
    }
}

/// Whether subscribers are told: anything but the control cycle counter changed.
fn visible_change(previous: &RobotReport, r: &RobotReport) -> bool {
    let mut p = previous.clone();
    p.heartbeat = r.heartbeat;
    p != *r
}

/// The robot's state from one reading.
pub fn derive_state(r: &RobotReport, stale: bool) -> RobotState {
    if stale {
        RobotState::Stale
    } else if r.estop_active || r.estop_pressed || r.mode == RobotMode::EmergencyStopped {
        RobotState::EmergencyStopped
    } else if r.fault || r.fault_code != 0 || r.mode == RobotMode::Fault {
        RobotState::Fault
    } else if r.mode == RobotMode::Hoisting || r.hoist_busy {
        RobotState::Hoisting
    } else if r.moving || matches!(r.mode, RobotMode::Moving | RobotMode::Homing) {
        RobotState::Moving
    } else {
        RobotState::Idle
    }
}

/// The safety conditions one reading shows.
pub fn safety_of(r: &RobotReport, stale: bool) -> BTreeSet<SafetyKind> {
    let mut s = BTreeSet::new();
    let mut put = |on: bool, k: SafetyKind| {
        if on {
            s.insert(k);
        }
    };
    put(r.estop_pressed, SafetyKind::EstopPressed);
    put(
        r.estop_active || r.mode == RobotMode::EmergencyStopped,
        SafetyKind::EstopActive,
    );
    put(r.scanner_field, SafetyKind::ScannerField);
    put(r.door_open, SafetyKind::DoorOpen);
    put(r.overload, SafetyKind::Overload);
    put(r.fault || r.fault_code != 0, SafetyKind::Fault);
    put(stale, SafetyKind::Stale);
    s
}

fn detail_of(r: &RobotReport) -> String {
    if r.fault_code != 0 {
        format!("fault code {}", r.fault_code)
    } else {
        String::new()
    }
}

/// Why the robot's state forbids a command (for a 409), or `Ok` when it may be sent.
pub fn validate(cmd: &RobotCommand, s: &RobotSnapshot) -> Result<(), String> {
    let state = s.state;
    if matches!(state, RobotState::Disconnected | RobotState::Stale) {
        return Err(format!(
            "robot is {}: it cannot take commands",
            state.as_str()
        ));
    }
    let Some(r) = &s.report else {
        return Err("robot has not been read yet".into());
    };
    match cmd {
        RobotCommand::Stop => Ok(()),
        RobotCommand::ResetFault => {
            if r.estop_pressed {
                Err("the hardware emergency stop button is pressed: release it first".into())
            } else if !matches!(state, RobotState::Fault | RobotState::EmergencyStopped) {
                Err(format!("robot is {}: nothing to reset", state.as_str()))
            } else {
                Ok(())
            }
        }
        RobotCommand::MoveToStation { station, .. } if *station == 0 => {
            Err("station must be 1 or more".into())
        }
        RobotCommand::MoveToStation { .. }
        | RobotCommand::Home { .. }
        | RobotCommand::GoCharge { .. }
        | RobotCommand::HoistUp { .. }
        | RobotCommand::HoistDown { .. } => {
            if matches!(state, RobotState::EmergencyStopped | RobotState::Fault) {
                return Err(format!(
                    "robot is {}: reset it before it moves",
                    state.as_str()
                ));
            }
            let hoist = matches!(
                cmd,
                RobotCommand::HoistUp { .. } | RobotCommand::HoistDown { .. }
            );
            if hoist && (state != RobotState::Idle || r.speed_mm_s != 0) {
                return Err(format!(
                    "robot is {}: it hoists only when stopped",
                    state.as_str()
                ));
            }
            if hoist && r.station == 0 {
                return Err("robot is not at a station: it hoists only at one".into());
            }
            if !hoist && state == RobotState::Hoisting {
                return Err("robot is hoisting: it moves once the hoist is done".into());
            }
            Ok(())
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::entity::CommandResult;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_700_000_000 + s, 0).unwrap()
    }

    pub(crate) fn idle(heartbeat: u16) -> RobotReport {
        RobotReport {
            ready: true,
            moving: false,
            fault: false,
            estop_active: false,
            homed: true,
            load_present: false,
            hoist_busy: false,
            charging: false,
            status_bits: 0b1_0001,
            mode: RobotMode::Idle,
            position_mm: 1000,
            speed_mm_s: 0,
            hoist_mm: 0,
            battery_pct: 80.0,
            temperature_c: 30.0,
            station: 2,
            target_station: 2,
            fault_code: 0,
            load_kg: 0.0,
            heartbeat,
            command_seq: 0,
            command_result: CommandResult::Ok,
            estop_pressed: false,
            scanner_field: false,
            door_open: false,
            overload: false,
        }
    }

    fn kinds(seen: &Seen) -> Vec<String> {
        seen.events
            .iter()
            .map(|e| match e {
                EntityEvent::RobotStateChanged { to, .. } => format!("state:{}", to.as_str()),
                EntityEvent::Safety {
                    condition, active, ..
                } => format!("{}:{}", condition.as_str(), active),
                other => other.kind().to_owned(),
            })
            .collect()
    }

    #[test]
    fn states_from_reports_in_order_of_precedence() {
        let mut r = idle(1);
        assert_eq!(derive_state(&r, false), RobotState::Idle);
        r.mode = RobotMode::Homing;
        assert_eq!(derive_state(&r, false), RobotState::Moving);
        r.mode = RobotMode::Moving;
        r.moving = true;
        assert_eq!(derive_state(&r, false), RobotState::Moving);
        r.hoist_busy = true;
        assert_eq!(derive_state(&r, false), RobotState::Hoisting);
        r.fault_code = 7;
        assert_eq!(derive_state(&r, false), RobotState::Fault);
        r.estop_pressed = true;
        assert_eq!(derive_state(&r, false), RobotState::EmergencyStopped);
        assert_eq!(derive_state(&r, true), RobotState::Stale);
        r.mode = RobotMode::Charging;
        r.estop_pressed = false;
        r.fault_code = 0;
        r.moving = false;
        r.hoist_busy = false;
        assert_eq!(derive_state(&r, false), RobotState::Idle);
    }

    #[test]
    fn first_report_connects_then_estop_and_reset_are_events() {
        let mut l = RobotLogic::new(RobotId(1), 3, 2);
        let seen = l.report(&idle(1), at(0));
        assert_eq!(kinds(&seen), vec!["state:idle"]);
        assert!(seen.changed);
        let mut stopped = idle(2);
        stopped.estop_active = true;
        stopped.mode = RobotMode::EmergencyStopped;
        let seen = l.report(&stopped, at(1));
        assert_eq!(
            kinds(&seen),
            vec!["state:emergency_stopped", "estop_active:true"]
        );
        let seen = l.report(&idle(3), at(2));
        assert_eq!(kinds(&seen), vec!["state:idle", "estop_active:false"]);
        // Nothing but the counter moved: nothing to tell.
        let seen = l.report(&idle(4), at(3));
        assert_eq!(seen, Seen::default());
    }

    #[test]
    fn a_frozen_control_cycle_is_stale_and_a_silent_link_disconnected() {
        let mut l = RobotLogic::new(RobotId(1), 3, 2);
        l.report(&idle(9), at(0));
        for s in 1..3 {
            assert!(l.report(&idle(9), at(s)).events.is_empty());
        }
        let seen = l.report(&idle(9), at(3));
        assert_eq!(kinds(&seen), vec!["state:stale", "stale:true"]);
        let seen = l.report(&idle(10), at(4));
        assert_eq!(kinds(&seen), vec!["state:idle", "stale:false"]);
        // One failed poll is tolerated; the second disconnects.
        assert_eq!(l.unreachable("timeout", at(5)), Seen::default());
        let seen = l.unreachable("timeout", at(6));
        assert_eq!(kinds(&seen), vec!["state:disconnected", "link_lost:true"]);
        assert_eq!(l.unreachable("timeout", at(7)), Seen::default());
        let seen = l.report(&idle(11), at(8));
        assert_eq!(kinds(&seen), vec!["state:idle", "link_lost:false"]);
    }

    #[test]
    fn a_robot_never_heard_is_lost_at_its_first_failure() {
        let mut l = RobotLogic::new(RobotId(1), 3, 3);
        let seen = l.unreachable("connection refused", at(0));
        assert_eq!(kinds(&seen), vec!["link_lost:true"]);
        assert_eq!(l.snapshot.state, RobotState::Disconnected);
    }

    #[test]
    fn the_state_decides_which_commands_go() {
        let mut l = RobotLogic::new(RobotId(1), 3, 2);
        let go = RobotCommand::MoveToStation {
            station: 3,
            speed_mm_s: None,
        };
        let up = RobotCommand::HoistUp { hoist_mm: None };
        assert!(validate(&go, &l.snapshot)
            .unwrap_err()
            .contains("disconnected"));
        l.report(&idle(1), at(0));
        assert_eq!(validate(&go, &l.snapshot), Ok(()));
        assert_eq!(validate(&up, &l.snapshot), Ok(()));
        assert!(validate(&RobotCommand::ResetFault, &l.snapshot).is_err());
        let bad = RobotCommand::MoveToStation {
            station: 0,
            speed_mm_s: None,
        };
        assert!(validate(&bad, &l.snapshot).is_err());

        let mut moving = idle(2);
        moving.moving = true;
        moving.mode = RobotMode::Moving;
        moving.speed_mm_s = 500;
        l.report(&moving, at(1));
        assert!(validate(&up, &l.snapshot).unwrap_err().contains("stopped"));
        assert_eq!(validate(&RobotCommand::Stop, &l.snapshot), Ok(()));

        let mut between = idle(3);
        between.station = 0;
        l.report(&between, at(2));
        assert!(validate(&up, &l.snapshot).unwrap_err().contains("station"));

        let mut stopped = idle(4);
        stopped.estop_active = true;
        stopped.estop_pressed = true;
        l.report(&stopped, at(3));
        assert!(validate(&go, &l.snapshot).unwrap_err().contains("reset"));
        assert!(validate(&RobotCommand::ResetFault, &l.snapshot)
            .unwrap_err()
            .contains("button"));
        stopped.estop_pressed = false;
        stopped.heartbeat = 5;
        l.report(&stopped, at(4));
        assert_eq!(validate(&RobotCommand::ResetFault, &l.snapshot), Ok(()));
    }
}
