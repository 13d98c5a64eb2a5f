//! Alert conditions: one module per kind behind [`Check`], registered by one line in
//! [`KINDS`]. A condition decides when its alert begins and ends (or pulses) from an
//! entity's samples, events and silence; the engine owns everything else — targets, one
//! open alert per subject, dedup, cooldown, hold, storage and announcements.
//!
//! A new condition (a robot's safety stop, an edge node's fault) is a new file here with its
//! parameters (serde, every one defaulted, unknown keys refused) and its `Check`, plus its
//! line in `KINDS`.

use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use urbanstream_schema::{DeviceId, VehicleId};

use super::alert_rule::{Rule, RuleError};
use super::logic::{Memory, RuleState, Sample, Transition};
use crate::entity::{EntityEvent, EntityKind};
use crate::geo::FenceIndex;

mod detection_burst;
mod device_offline;
mod engine_error;
mod excessive_idle;
mod fuel_drop;
mod geofence;
mod harsh;
mod low_fuel;
mod node_load;
mod node_status;
mod overspeed;
mod robot;

/// Every kind: its stored name and how its parameters are read.
const KINDS: &[(&str, Parse)] = &[
    ("OVERSPEED", parse::<overspeed::Overspeed>),
    ("GEOFENCE_ENTER", parse::<geofence::Enter>),
    ("GEOFENCE_EXIT", parse::<geofence::Exit>),
    ("EXCESSIVE_IDLE", parse::<excessive_idle::ExcessiveIdle>),
    ("LOW_FUEL", parse::<low_fuel::LowFuel>),
    ("FUEL_DROP", parse::<fuel_drop::FuelDrop>),
    ("ENGINE_ERROR", parse::<engine_error::EngineError>),
    ("DEVICE_OFFLINE", parse::<device_offline::DeviceOffline>),
    ("HARSH_BRAKING", parse::<harsh::HarshBraking>),
    ("HARSH_ACCELERATION", parse::<harsh::HarshAcceleration>),
    ("NODE_OFFLINE", parse::<node_status::NodeOffline>),
    ("NODE_FAULT", parse::<node_status::NodeFault>),
    ("NODE_CPU_HIGH", parse::<node_load::CpuHigh>),
    ("NODE_MEMORY_HIGH", parse::<node_load::MemoryHigh>),
    ("DETECTION_BURST", parse::<detection_burst::DetectionBurst>),
    ("ROBOT_ESTOP", parse::<robot::Estop>),
    ("ROBOT_FAULT", parse::<robot::Fault>),
    ("ROBOT_SAFETY_FIELD", parse::<robot::SafetyField>),
    ("ROBOT_OFFLINE", parse::<robot::Offline>),
    ("ROBOT_STALE", parse::<robot::Stale>),
    ("ROBOT_OVERLOAD", parse::<robot::Overload>),
    ("ROBOT_BATTERY_LOW", parse::<robot::BatteryLow>),
    ("ROBOT_OVER_TEMP", parse::<robot::OverTemp>),
];

/// What one kind of condition does. Every method has a default that does nothing, so a
/// condition implements only what it watches.
pub trait Check: fmt::Debug + Send + Sync + 'static {
    /// The kind of entity this condition watches; the others never reach it.
    fn kind(&self) -> EntityKind {
        EntityKind::Tracker
    }

    /// Checked once, when the rule is read; the message names the parameter.
    fn validate(&self) -> Result<(), RuleError> {
        Ok(())
    }

    /// For conditions of an instant (a harsh brake): how long an alert stays open after its
    /// last occurrence. The others stay open while their condition holds.
    fn hold_ms(&self) -> Option<i64> {
        None
    }

    /// A live sample of an entity, in device-time order.
    fn sample(&self, _s: &Sample, _cx: &mut Cx<'_>) {}

    /// An event of the entity (a geofence entered, …).
    fn event(&self, _e: &EntityEvent, _cx: &mut Cx<'_>) {}

    /// A late sample is history: the details of a hit, if this condition sees one in it.
    fn late(&self, _s: &Sample, _fences: &FenceIndex) -> Option<Value> {
        None
    }

    /// The server's clock: the entity has sent nothing since `last_ms`.
    fn silence(&self, _last_ms: i64, _now_ms: i64, _cx: &mut Cx<'_>) {}

    /// The server's clock, for an entity known from before a restart and not heard from
    /// since (last at `last_ms`): its own actor, not running, cannot tell of its silence, so
    /// conditions its actor would raise (a node or a robot gone offline) raise it here.
    fn unheard(&self, _last_ms: i64, _now_ms: i64, _cx: &mut Cx<'_>) {}
}

/// One rule's view of one entity while a condition runs: its memory, and the lifecycle
/// calls (`begin`, `end`, `pulse`, in `logic.rs`) that turn what it sees into transitions.
pub struct Cx<'a> {
    pub(super) rule: &'a Rule,
    pub(super) device_id: DeviceId,
    pub(super) vehicle_id: Option<VehicleId>,
    pub(super) st: &'a mut RuleState,
    pub(super) out: &'a mut Vec<Transition>,
    /// The previous sample's speed and the seconds since it (live samples).
    pub delta: Option<(f64, f64)>,
}

impl Cx<'_> {
    /// What this condition remembers of this entity.
    pub fn memory(&mut self) -> &mut Memory {
        &mut self.st.memory
    }

    /// Begins an alert on `subject` once more than `after_s` passed since `last_ms`, its
    /// message from the minutes of silence.
    pub fn begin_if_silent(
        &mut self,
        after_s: f64,
        subject: &str,
        (last_ms, now_ms): (i64, i64),
        message: impl FnOnce(f64) -> String,
    ) {
        let silent_s = (now_ms - last_ms) as f64 / 1000.0;
        if silent_s <= after_s {
            return;
        }
        self.begin(subject, now_ms, || {
            (
                message(silent_s / 60.0),
                serde_json::json!({"last_seen_ms": last_ms, "silent_s": silent_s}),
            )
        });
    }
}

type Parse = fn(&'static str, &Value) -> Result<Arc<dyn Erased>, RuleError>;

fn parse<P>(kind: &'static str, params: &Value) -> Result<Arc<dyn Erased>, RuleError>
where
    P: Check + Serialize + DeserializeOwned,
{
    let params = if params.is_null() {
        serde_json::json!({})
    } else {
        params.clone()
    };
    let p: P = serde_json::from_value(params)
        .map_err(|e| RuleError::Invalid(format!("params of {kind}: {e}")))?;
    p.validate()?;
    Ok(Arc::new(Parsed { kind, params: p }))
}

/// A parsed condition of any kind.
trait Erased: fmt::Debug + Send + Sync {
    fn kind(&self) -> &'static str;
    fn params(&self) -> Value;
    fn check(&self) -> &dyn Check;
}

#[derive(Debug)]
struct Parsed<P> {
    kind: &'static str,
    params: P,
}

impl<P: Check + Serialize> Erased for Parsed<P> {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn params(&self) -> Value {
        serde_json::to_value(&self.params).unwrap_or_default()
    }

    fn check(&self) -> &dyn Check {
        &self.params
    }
}

/// What a rule watches, with its thresholds: a kind and its parameters, every one
/// defaulted.
#[derive(Debug, Clone)]
pub struct Condition(Arc<dyn Erased>);

impl Condition {
    /// Parses a kind and its parameters (`null` or `{}`: every default).
    pub fn parse(kind: &str, params: &Value) -> Result<Self, RuleError> {
        let Some((kind, parse)) = KINDS.iter().find(|(k, _)| *k == kind) else {
            return Err(RuleError::Invalid(format!(
                "unknown rule kind `{kind}`; expected one of {}",
                Self::kinds().collect::<Vec<_>>().join(", ")
            )));
        };
        parse(kind, params).map(Self)
    }

    /// Every kind, in the order they are registered.
    pub fn kinds() -> impl Iterator<Item = &'static str> {
        KINDS.iter().map(|(k, _)| *k)
    }

    /// The stored kind name.
    pub fn kind(&self) -> &'static str {
        self.0.kind()
    }

    /// The parameters with every default filled in.
    pub fn params(&self) -> Value {
        self.0.params()
    }

    pub fn check(&self) -> &dyn Check {
        self.0.check()
    }

    /// See [`Check::hold_ms`].
    pub fn hold_ms(&self) -> Option<i64> {
        self.0.check().hold_ms()
    }
}

impl PartialEq for Condition {
    fn eq(&self, other: &Self) -> bool {
        self.kind() == other.kind() && self.params() == other.params()
    }
}

/// `Ok` when `v` is a finite number above zero; the message names it.
/// A percentage with a hysteresis band (LOW_FUEL, ROBOT_BATTERY_LOW): `clear_above_pct`,
/// when given, lies between `below_pct` and 100.
fn validate_pct_band(below_pct: f64, clear_above_pct: Option<f64>) -> Result<(), RuleError> {
    positive("below_pct", below_pct)?;
    if clear_above_pct.is_some_and(|c| !(c >= below_pct && c <= 100.0)) {
        return Err(RuleError::Invalid(
            "clear_above_pct must lie between below_pct and 100".into(),
        ));
    }
    Ok(())
}

/// Begins the condition while `pct` is under `below_pct` (described by `describe`), ends it
/// once `pct` is at or above `clear_above_pct` (default `below_pct` + 5, at most 100), so a
/// value hovering at the threshold does not flap.
fn pct_band(
    below_pct: f64,
    clear_above_pct: Option<f64>,
    pct: f64,
    at_ms: i64,
    cx: &mut Cx<'_>,
    describe: impl FnOnce() -> (String, serde_json::Value),
) {
    let clear_at = clear_above_pct.unwrap_or((below_pct + 5.0).min(100.0));
    if pct < below_pct {
        cx.begin("", at_ms, describe);
    } else if pct >= clear_at {
        cx.end("", at_ms);
    }
}

fn positive(name: &str, v: f64) -> Result<(), RuleError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(RuleError::Invalid(format!(
            "{name} must be a positive number"
        )))
    }
}

/// `Ok` when `v` is a finite number, zero or more; the message names it.
fn non_negative(name: &str, v: f64) -> Result<(), RuleError> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(RuleError::Invalid(format!("{name} must be zero or more")))
    }
}

fn secs_to_ms(s: f64) -> i64 {
    (s * 1000.0) as i64
}
