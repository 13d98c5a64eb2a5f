//! The alert state machines, pure: fed samples and events in device time, they return what
//! to raise, repeat and clear. One `Evaluator` holds the state of every (rule, device,
//! subject); what raises and clears an alert is each condition's (`conditions/`), the
//! lifecycle — one open alert per subject, dedup, cooldown, hold — is this module's.

use std::collections::{HashMap, VecDeque};

use serde_json::Value;
use urbanstream_schema::{AlertId, DeviceId, GeofenceId, VehicleId};

use super::alert_rule::{Rule, Severity};
use super::conditions::Cx;
use crate::entity::{EntityEvent, EntityKind, Health};
use crate::geo::FenceIndex;

/// One live or late reading's facts, as the rules need them.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// The kind of entity sampled: a rule sees only its condition's kind.
    pub kind: EntityKind,
    pub device_id: DeviceId,
    pub vehicle_id: Option<VehicleId>,
    pub group: Option<String>,
    /// Device time.
    pub at_ms: i64,
    /// Server time of arrival (offline detection runs on the server's clock).
    pub received_ms: i64,
    pub speed_kmh: f64,
    pub ignition: Option<bool>,
    pub position: Option<(f64, f64)>,
    pub fuel_pct: Option<f64>,
    /// Trouble codes; `Some(empty)` when the device reported none.
    pub dtc: Option<Vec<String>>,
    /// The device's green-driving report (IO 253): 1 acceleration, 2 braking, 3 cornering.
    pub green_driving: Option<u8>,
    /// The lowest speed limit of the geofences the vehicle is in, and that fence, as its
    /// actor decided with each fence's hysteresis (live readings).
    pub fence_limit: Option<(f64, GeofenceId)>,
    /// An edge node's heartbeat.
    pub health: Option<Health>,
    /// An edge node's detections: (object type, location).
    pub detections: Vec<(String, Option<String>)>,
    /// Battery charge, percent (a robot's report).
    pub battery_pct: Option<f64>,
    /// Temperature, °C (a robot's report).
    pub temperature_c: Option<f64>,
}

/// An alert to store and announce.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    pub id: AlertId,
    pub rule_id: i64,
    pub kind: &'static str,
    pub severity: Severity,
    pub device_id: DeviceId,
    pub vehicle_id: Option<VehicleId>,
    pub subject: String,
    pub message: String,
    pub details: Value,
    /// Raised by late readings: stored as history, already cleared.
    pub late: bool,
    pub occurrences: i32,
    pub raised_ms: i64,
    pub last_ms: i64,
    pub cleared_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    Raise(NewAlert),
    /// Another occurrence while active (dedup).
    Repeat {
        id: AlertId,
        at_ms: i64,
        details: Value,
    },
    /// The condition ended.
    Clear {
        id: AlertId,
        at_ms: i64,
    },
}

/// An alert open for a (rule, device, subject).
#[derive(Debug, Clone, PartialEq)]
struct Active {
    id: AlertId,
    last_ms: i64,
}

#[derive(Debug, Clone, Default)]
struct Slot {
    subject: String,
    active: Option<Active>,
    cleared_ms: Option<i64>,
}

/// What a condition remembers of one entity between samples.
#[derive(Debug, Clone, Default)]
pub struct Memory {
    /// When the condition began (overspeed, idling), before it lasted long enough.
    pub since_ms: Option<i64>,
    /// The extreme value seen since then (the top speed of an excess).
    pub peak: f64,
    /// Recent (time, value) samples (fuel levels while parked).
    pub samples: VecDeque<(i64, f64)>,
}

/// A rule's state for one entity: its condition's memory and its alerts by subject.
#[derive(Debug, Clone, Default)]
pub struct RuleState {
    pub(super) memory: Memory,
    slots: Vec<Slot>,
}

impl RuleState {
    fn slot(&mut self, subject: &str) -> &mut Slot {
        match self.slots.iter().position(|s| same(&s.subject, subject)) {
            Some(i) => &mut self.slots[i],
            None => {
                self.slots.push(Slot {
                    subject: subject.to_owned(),
                    ..Slot::default()
                });
                let last = self.slots.len() - 1;
                &mut self.slots[last]
            }
        }
    }
}

#[derive(Debug, Clone, Default)]
struct DeviceState {
    kind: EntityKind,
    /// Whether anything came from it since this engine started (else it is known only from
    /// the database: its actor, not running, cannot tell of its silence).
    heard: bool,
    /// When this engine learnt of it from the database (server time).
    known_since_ms: Option<i64>,
    vehicle_id: Option<VehicleId>,
    group: Option<String>,
    last_speed: Option<(i64, f64)>,
    last_received_ms: Option<i64>,
    /// Per rule, in the order of the rules last evaluated (see `align`).
    rules: Vec<(i64, RuleState)>,
}

impl DeviceState {
    /// Puts the rule states in the order of `rules` (a rule's index finds its state with no
    /// hashing); states of rules no longer there are dropped, new rules start afresh.
    fn align(&mut self, rules: &[Rule]) {
        if self.rules.len() == rules.len() && self.rules.iter().zip(rules).all(|(s, r)| s.0 == r.id)
        {
            return;
        }
        let mut old = std::mem::take(&mut self.rules);
        self.rules = rules
            .iter()
            .map(|r| match old.iter().position(|(id, _)| *id == r.id) {
                Some(i) => old.swap_remove(i),
                None => (r.id, RuleState::default()),
            })
            .collect();
    }

    /// A rule's state by id, for restoring before the rules are known.
    fn state(&mut self, rule_id: i64) -> &mut RuleState {
        match self.rules.iter().position(|(id, _)| *id == rule_id) {
            Some(i) => &mut self.rules[i].1,
            None => {
                self.rules.push((rule_id, RuleState::default()));
                let last = self.rules.len() - 1;
                &mut self.rules[last].1
            }
        }
    }
}

#[derive(Debug, Default)]
pub struct Evaluator {
    devices: HashMap<DeviceId, DeviceState>,
}

impl Evaluator {
    /// Takes up an alert left open before a restart, or the clear that starts a cooldown.
    pub fn restore(
        &mut self,
        rule_id: i64,
        device_id: DeviceId,
        subject: &str,
        open: Option<(AlertId, i64)>,
        cleared_ms: Option<i64>,
    ) {
        let slot = self
            .devices
            .entry(device_id)
            .or_default()
            .state(rule_id)
            .slot(subject);
        if let Some((id, last_ms)) = open {
            slot.active = Some(Active { id, last_ms });
        }
        if cleared_ms.is_some() {
            slot.cleared_ms = slot.cleared_ms.max(cleared_ms);
        }
    }

    /// A device of `kind` known to exist, last heard from at `last_ms` (server time), learnt
    /// of at `now_ms`: offline rules watch it from now on.
    pub fn known(
        &mut self,
        device_id: DeviceId,
        kind: EntityKind,
        (vehicle_id, group): (Option<VehicleId>, Option<String>),
        last_ms: Option<i64>,
        now_ms: i64,
    ) {
        let d = self.devices.entry(device_id).or_default();
        if !d.heard {
            d.kind = kind;
            d.known_since_ms = Some(now_ms);
        }
        d.vehicle_id = vehicle_id;
        d.group = group;
        d.last_received_ms = d.last_received_ms.max(last_ms);
    }

    /// An alert cleared from outside (a user): the next occurrence raises a new one.
    pub fn forget(&mut self, alert_id: &AlertId, at_ms: i64) {
        for d in self.devices.values_mut() {
            for (_, r) in &mut d.rules {
                for s in &mut r.slots {
                    if s.active.as_ref().is_some_and(|a| &a.id == alert_id) {
                        s.active = None;
                        s.cleared_ms = Some(at_ms);
                    }
                }
            }
        }
    }

    /// How many alerts are open.
    pub fn open_count(&self) -> usize {
        self.devices
            .values()
            .flat_map(|d| d.rules.iter().map(|(_, r)| r))
            .flat_map(|r| &r.slots)
            .filter(|s| s.active.is_some())
            .count()
    }

    /// A live sample, in device-time order for its device.
    pub fn observe(&mut self, rules: &[Rule], s: &Sample, out: &mut Vec<Transition>) {
        let dev = self.devices.entry(s.device_id).or_default();
        dev.kind = s.kind;
        dev.heard = true;
        dev.vehicle_id = s.vehicle_id;
        dev.group.clone_from(&s.group);
        dev.last_received_ms = dev.last_received_ms.max(Some(s.received_ms));
        let delta = dev.last_speed.and_then(|(t, v)| {
            let dt = (s.at_ms - t) as f64 / 1000.0;
            (dt > 0.0).then_some((v, dt))
        });
        dev.last_speed = Some((s.at_ms, s.speed_kmh));
        dev.align(rules);
        for (rule, (_, st)) in rules.iter().zip(dev.rules.iter_mut()) {
            if !rule.enabled
                || rule.condition.check().kind() != s.kind
                || !rule.targets.covers(s.vehicle_id, s.group.as_deref())
            {
                continue;
            }
            let check = rule.condition.check();
            if let Some(hold) = check.hold_ms() {
                expire(st, hold, s.at_ms, out);
            }
            let mut cx = Cx {
                rule,
                device_id: s.device_id,
                vehicle_id: s.vehicle_id,
                st,
                out,
                delta,
            };
            check.sample(s, &mut cx);
        }
    }

    /// Events of an entity (geofences entered and left, …), in device-time order.
    pub fn observe_events(
        &mut self,
        rules: &[Rule],
        s: &Sample,
        events: &[EntityEvent],
        out: &mut Vec<Transition>,
    ) {
        let dev = self.devices.entry(s.device_id).or_default();
        dev.kind = s.kind;
        dev.heard = true;
        dev.align(rules);
        for (rule, (_, st)) in rules.iter().zip(dev.rules.iter_mut()) {
            if !rule.enabled
                || rule.condition.check().kind() != s.kind
                || !rule.targets.covers(s.vehicle_id, s.group.as_deref())
            {
                continue;
            }
            let check = rule.condition.check();
            let mut cx = Cx {
                rule,
                device_id: s.device_id,
                vehicle_id: s.vehicle_id,
                st,
                out,
                delta: None,
            };
            for e in events {
                check.event(e, &mut cx);
            }
        }
    }

    /// Late samples: each rule's point conditions checked sample by sample, one alert per
    /// rule for the frame, stored as history (already cleared), never live.
    pub fn observe_late(
        &mut self,
        rules: &[Rule],
        fences: &FenceIndex,
        samples: &[Sample],
        out: &mut Vec<Transition>,
    ) {
        let Some(first) = samples.first() else { return };
        for rule in rules {
            if !rule.enabled
                || rule.condition.check().kind() != first.kind
                || !rule
                    .targets
                    .covers(first.vehicle_id, first.group.as_deref())
            {
                continue;
            }
            let check = rule.condition.check();
            let hits: Vec<(i64, Value)> = samples
                .iter()
                .filter_map(|s| check.late(s, fences).map(|d| (s.at_ms, d)))
                .collect();
            let (Some((from, first_details)), Some((to, _))) =
                (hits.first().cloned(), hits.last().cloned())
            else {
                continue;
            };
            out.push(Transition::Raise(NewAlert {
                id: new_id(),
                rule_id: rule.id,
                kind: rule.condition.kind(),
                severity: rule.severity,
                device_id: first.device_id,
                vehicle_id: first.vehicle_id,
                subject: String::new(),
                message: format!(
                    "{} in late records ({} of {})",
                    rule.name,
                    hits.len(),
                    samples.len()
                ),
                details: first_details,
                late: true,
                occurrences: hits.len() as i32,
                raised_ms: from,
                last_ms: to,
                cleared_ms: Some(to),
            }));
        }
    }

    /// The server's clock: what silence raises (offline devices).
    pub fn tick(&mut self, rules: &[Rule], now_ms: i64, out: &mut Vec<Transition>) {
        for (device_id, dev) in &mut self.devices {
            let Some(last) = dev.last_received_ms else {
                continue;
            };
            dev.align(rules);
            for (rule, (_, st)) in rules.iter().zip(dev.rules.iter_mut()) {
                if !rule.enabled
                    || rule.condition.check().kind() != dev.kind
                    || !rule.targets.covers(dev.vehicle_id, dev.group.as_deref())
                {
                    continue;
                }
                let mut cx = Cx {
                    rule,
                    device_id: *device_id,
                    vehicle_id: dev.vehicle_id,
                    st,
                    out,
                    delta: None,
                };
                let check = rule.condition.check();
                check.silence(last, now_ms, &mut cx);
                if !dev.heard {
                    // Silent since this engine started, however long before it was heard.
                    check.unheard(
                        last.max(dev.known_since_ms.unwrap_or(last)),
                        now_ms,
                        &mut cx,
                    );
                }
            }
        }
    }
}

/// String equality without a call into `memcmp` for the common empty subject.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && (a.is_empty() || a == b)
}

fn new_id() -> AlertId {
    AlertId(uuid::Uuid::now_v7().to_string())
}

impl Cx<'_> {
    /// A condition that holds for a while began (or goes on): raise once, unless cooling
    /// down.
    pub fn begin(&mut self, subject: &str, at_ms: i64, describe: impl FnOnce() -> (String, Value)) {
        let cooldown = self.rule.cooldown_ms;
        let slot = self.st.slot(subject);
        if slot.active.is_some() || slot.cleared_ms.is_some_and(|c| at_ms < c + cooldown) {
            return;
        }
        let (message, details) = describe();
        let id = new_id();
        slot.active = Some(Active {
            id: id.clone(),
            last_ms: at_ms,
        });
        let raise = Transition::Raise(NewAlert {
            id,
            rule_id: self.rule.id,
            kind: self.rule.condition.kind(),
            severity: self.rule.severity,
            device_id: self.device_id,
            vehicle_id: self.vehicle_id,
            subject: subject.to_owned(),
            message,
            details,
            late: false,
            occurrences: 1,
            raised_ms: at_ms,
            last_ms: at_ms,
            cleared_ms: None,
        });
        self.out.push(raise);
    }

    /// The condition ended: clear its open alert.
    pub fn end(&mut self, subject: &str, at_ms: i64) {
        let Some(slot) = self.st.slots.iter_mut().find(|s| same(&s.subject, subject)) else {
            return;
        };
        if let Some(a) = slot.active.take() {
            self.out.push(Transition::Clear { id: a.id, at_ms });
            slot.cleared_ms = Some(at_ms);
        }
    }

    /// A condition of an instant: raise, or count one more occurrence of the open alert.
    pub fn pulse(&mut self, subject: &str, at_ms: i64, describe: impl FnOnce() -> (String, Value)) {
        if let Some(a) = &mut self.st.slot(subject).active {
            a.last_ms = at_ms;
            let id = a.id.clone();
            self.out.push(Transition::Repeat {
                id,
                at_ms,
                details: describe().1,
            });
            return;
        }
        self.begin(subject, at_ms, describe);
    }
}

/// Pulse alerts clear after `hold_ms` without another occurrence.
fn expire(st: &mut RuleState, hold_ms: i64, now_ms: i64, out: &mut Vec<Transition>) {
    for slot in &mut st.slots {
        if let Some(a) = &slot.active {
            if now_ms - a.last_ms >= hold_ms {
                let at = a.last_ms + hold_ms;
                out.push(Transition::Clear {
                    id: a.id.clone(),
                    at_ms: at,
                });
                slot.active = None;
                slot.cleared_ms = Some(at);
            }
        }
    }
}

#[cfg(test)]
mod tests;
