//! The alert state machines, pure: fed samples in device time, they return what to raise,
//! repeat and clear. One `Evaluator` holds the state of every (rule, device, subject).

use std::collections::{HashMap, VecDeque};

use serde_json::{json, Value};

use super::alert_rule::{Condition, Rule, Severity};
use super::geofence::FenceIndex;

/// One live or late record's facts, as the rules need them.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub device_id: i64,
    pub vehicle_id: Option<i64>,
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
    /// actor decided with each fence's hysteresis (live records).
    pub fence_limit: Option<(f64, i64)>,
}

/// A geofence event of the vehicle, as its actor raised it.
#[derive(Debug, Clone, PartialEq)]
pub enum FenceChange {
    Entered {
        fence: i64,
        name: String,
        at_ms: i64,
    },
    Exited {
        fence: i64,
        name: String,
        at_ms: i64,
    },
    Crossed {
        fence: i64,
        name: String,
        at_ms: i64,
    },
}

/// An alert to store and announce.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    pub id: String,
    pub rule_id: i64,
    pub kind: &'static str,
    pub severity: Severity,
    pub device_id: i64,
    pub vehicle_id: Option<i64>,
    pub subject: String,
    pub message: String,
    pub details: Value,
    /// Raised by late records: stored as history, already cleared.
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
        id: String,
        at_ms: i64,
        details: Value,
    },
    /// The condition ended.
    Clear {
        id: String,
        at_ms: i64,
    },
}

/// An alert open for a (rule, device, subject).
#[derive(Debug, Clone, PartialEq)]
struct Active {
    id: String,
    last_ms: i64,
}

#[derive(Debug, Clone, Default)]
struct Slot {
    subject: String,
    active: Option<Active>,
    cleared_ms: Option<i64>,
}

#[derive(Debug, Clone, Default)]
struct RuleState {
    /// When the condition began (overspeed, idling), before it lasted long enough.
    since_ms: Option<i64>,
    peak: f64,
    /// Fuel samples while parked.
    samples: VecDeque<(i64, f64)>,
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
    vehicle_id: Option<i64>,
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

/// Who an alert is about, for a raise.
struct Subject<'a> {
    rule: &'a Rule,
    device_id: i64,
    vehicle_id: Option<i64>,
    subject: &'a str,
}

#[derive(Debug, Default)]
pub struct Evaluator {
    devices: HashMap<i64, DeviceState>,
}

impl Evaluator {
    /// Takes up an alert left open before a restart, or the clear that starts a cooldown.
    pub fn restore(
        &mut self,
        rule_id: i64,
        device_id: i64,
        subject: &str,
        open: Option<(String, i64)>,
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

    /// A device known to exist, last heard from at `last_ms` (server time): offline rules
    /// watch it from now on.
    pub fn known(
        &mut self,
        device_id: i64,
        vehicle_id: Option<i64>,
        group: Option<String>,
        last_ms: Option<i64>,
    ) {
        let d = self.devices.entry(device_id).or_default();
        d.vehicle_id = vehicle_id;
        d.group = group;
        d.last_received_ms = d.last_received_ms.max(last_ms);
    }

    /// An alert cleared from outside (a user): the next occurrence raises a new one.
    pub fn forget(&mut self, alert_id: &str, at_ms: i64) {
        for d in self.devices.values_mut() {
            for (_, r) in &mut d.rules {
                for s in &mut r.slots {
                    if s.active.as_ref().is_some_and(|a| a.id == alert_id) {
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

    /// A live record, in device-time order for its device.
    pub fn observe(&mut self, rules: &[Rule], s: &Sample, out: &mut Vec<Transition>) {
        let dev = self.devices.entry(s.device_id).or_default();
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
            if !rule.enabled || !rule.targets.covers(s.vehicle_id, s.group.as_deref()) {
                continue;
            }
            let who = Subject {
                rule,
                device_id: s.device_id,
                vehicle_id: s.vehicle_id,
                subject: "",
            };
            if let Some(hold) = rule.condition.hold_ms() {
                expire(st, hold, s.at_ms, out);
            }
            match &rule.condition {
                Condition::Overspeed(p) => {
                    let fence = s.fence_limit.filter(|_| p.use_geofence_limits);
                    let limit = match (p.limit_kmh, fence) {
                        (Some(a), Some((b, _))) if b < a => Some((b, fence.map(|f| f.1))),
                        (Some(a), _) => Some((a, None)),
                        (None, Some((b, f))) => Some((b, Some(f))),
                        (None, None) => None,
                    };
                    let Some((limit, fence_id)) = limit else {
                        st.since_ms = None;
                        end(st, who.subject, s.at_ms, out);
                        continue;
                    };
                    if s.speed_kmh > limit {
                        let since = *st.since_ms.get_or_insert(s.at_ms);
                        st.peak = if s.at_ms == since {
                            s.speed_kmh
                        } else {
                            st.peak.max(s.speed_kmh)
                        };
                        if (s.at_ms - since) as f64 >= p.min_duration_s * 1000.0 {
                            let (speed, peak) = (s.speed_kmh, st.peak);
                            begin(
                                st,
                                &who,
                                since,
                                || {
                                    (
                                    format!("Speed {speed:.0} km/h over the limit of {limit:.0} km/h"),
                                    json!({"speed_kmh": speed, "limit_kmh": limit, "max_speed_kmh": peak, "geofence_id": fence_id, "since_ms": since}),
                                )
                                },
                                out,
                            );
                        }
                    } else if s.speed_kmh <= limit - p.clear_margin_kmh {
                        st.since_ms = None;
                        end(st, who.subject, s.at_ms, out);
                    }
                }
                Condition::ExcessiveIdle(p) => {
                    let idle = s.ignition == Some(true) && s.speed_kmh < p.moving_kmh;
                    if idle {
                        let since = *st.since_ms.get_or_insert(s.at_ms);
                        let idle_s = (s.at_ms - since) as f64 / 1000.0;
                        if idle_s > p.max_idle_s {
                            begin(
                                st,
                                &who,
                                s.at_ms,
                                || {
                                    (
                                        format!(
                                            "Idling for {:.0} min with the engine on",
                                            idle_s / 60.0
                                        ),
                                        json!({"idle_since_ms": since, "idle_s": idle_s}),
                                    )
                                },
                                out,
                            );
                        }
                    } else {
                        st.since_ms = None;
                        end(st, who.subject, s.at_ms, out);
                    }
                }
                Condition::LowFuel(p) => {
                    let Some(pct) = s.fuel_pct else { continue };
                    let clear_at = p.clear_above_pct.unwrap_or((p.below_pct + 5.0).min(100.0));
                    if pct < p.below_pct {
                        begin(
                            st,
                            &who,
                            s.at_ms,
                            || {
                                (
                                    format!("Fuel level {pct:.0} % (under {:.0} %)", p.below_pct),
                                    json!({"fuel_pct": pct, "below_pct": p.below_pct}),
                                )
                            },
                            out,
                        );
                    } else if pct >= clear_at {
                        end(st, who.subject, s.at_ms, out);
                    }
                }
                Condition::FuelDrop(p) => {
                    let parked = s.speed_kmh < p.moving_kmh && s.ignition != Some(true);
                    let Some(pct) = s.fuel_pct else { continue };
                    if !parked {
                        st.samples.clear();
                        continue;
                    }
                    let window = (p.window_s * 1000.0) as i64;
                    while st
                        .samples
                        .front()
                        .is_some_and(|(t, _)| s.at_ms - t > window)
                    {
                        st.samples.pop_front();
                    }
                    st.samples.push_back((s.at_ms, pct));
                    let top = st.samples.iter().map(|x| x.1).fold(f64::MIN, f64::max);
                    if top - pct >= p.min_drop_pct {
                        st.samples.clear();
                        st.samples.push_back((s.at_ms, pct));
                        pulse(
                            st,
                            &who,
                            s.at_ms,
                            || {
                                (
                                    format!(
                                        "Fuel fell {:.0} % while parked ({top:.0} → {pct:.0} %)",
                                        top - pct
                                    ),
                                    json!({"from_pct": top, "to_pct": pct, "drop_pct": top - pct}),
                                )
                            },
                            out,
                        );
                    }
                }
                Condition::EngineError(p) => {
                    let Some(codes) = &s.dtc else { continue };
                    let watched: Vec<&String> = codes
                        .iter()
                        .filter(|c| p.codes.is_empty() || p.codes.contains(c))
                        .collect();
                    if watched.is_empty() {
                        end(st, who.subject, s.at_ms, out);
                    } else {
                        let list: Vec<String> = watched.into_iter().cloned().collect();
                        begin(
                            st,
                            &who,
                            s.at_ms,
                            || {
                                (
                                    format!("Engine trouble codes {}", list.join(", ")),
                                    json!({ "codes": list }),
                                )
                            },
                            out,
                        );
                    }
                }
                Condition::DeviceOffline(_) => {
                    end(st, who.subject, s.received_ms, out);
                }
                Condition::HarshBraking(p) | Condition::HarshAcceleration(p) => {
                    let braking = matches!(rule.condition, Condition::HarshBraking(_));
                    let hit = match s.green_driving.filter(|_| p.use_device_events) {
                        Some(code) => (code == if braking { 2 } else { 1 }).then(|| json!({"source": "device", "green_driving_type": code})),
                        None => delta.and_then(|(from, dt)| {
                            let rate = (s.speed_kmh - from) / dt;
                            let rate = if braking { -rate } else { rate };
                            (dt <= p.max_gap_s && rate >= p.threshold_kmh_per_s).then(|| {
                                json!({"source": "speed", "from_kmh": from, "to_kmh": s.speed_kmh, "over_s": dt, "rate_kmh_per_s": rate})
                            })
                        }),
                    };
                    if let Some(details) = hit {
                        let what = if braking {
                            "Harsh braking"
                        } else {
                            "Harsh acceleration"
                        };
                        pulse(st, &who, s.at_ms, || (what.to_owned(), details), out);
                    }
                }
                Condition::GeofenceEnter(_) | Condition::GeofenceExit(_) => {}
            }
        }
    }

    /// Geofence events of a vehicle.
    pub fn observe_fences(
        &mut self,
        rules: &[Rule],
        s: &Sample,
        changes: &[FenceChange],
        out: &mut Vec<Transition>,
    ) {
        let dev = self.devices.entry(s.device_id).or_default();
        dev.align(rules);
        for (rule, (_, st)) in rules.iter().zip(dev.rules.iter_mut()) {
            let (enter_rule, fences) = match &rule.condition {
                Condition::GeofenceEnter(p) => (true, &p.geofence_ids),
                Condition::GeofenceExit(p) => (false, &p.geofence_ids),
                _ => continue,
            };
            if !rule.enabled || !rule.targets.covers(s.vehicle_id, s.group.as_deref()) {
                continue;
            }
            for change in changes {
                let (fence, name, at, inside_after, crossed) = match change {
                    FenceChange::Entered { fence, name, at_ms } => {
                        (*fence, name, *at_ms, true, false)
                    }
                    FenceChange::Exited { fence, name, at_ms } => {
                        (*fence, name, *at_ms, false, false)
                    }
                    FenceChange::Crossed { fence, name, at_ms } => {
                        (*fence, name, *at_ms, false, true)
                    }
                };
                if !fences.is_empty() && !fences.contains(&fence) {
                    continue;
                }
                let subject = fence.to_string();
                let who = Subject {
                    rule,
                    device_id: s.device_id,
                    vehicle_id: s.vehicle_id,
                    subject: &subject,
                };
                let details = || {
                    let verb = match (enter_rule, crossed) {
                        (_, true) => "Crossed",
                        (true, false) => "Entered",
                        (false, false) => "Left",
                    };
                    (
                        format!("{verb} geofence {name}"),
                        json!({"geofence_id": fence, "geofence": name, "crossed": crossed}),
                    )
                };
                if crossed {
                    if enter_rule {
                        begin(st, &who, at, details, out);
                        end(st, who.subject, at, out);
                    }
                } else {
                    if inside_after == enter_rule {
                        begin(st, &who, at, details, out);
                    } else {
                        end(st, who.subject, at, out);
                    }
                }
            }
        }
    }

    /// Late records: each rule's point conditions checked record by record, one alert per
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
                || !rule
                    .targets
                    .covers(first.vehicle_id, first.group.as_deref())
            {
                continue;
            }
            let mut hits: Vec<(i64, Value)> = Vec::new();
            for s in samples {
                let hit = match &rule.condition {
                    Condition::Overspeed(p) => {
                        let fence = p
                            .use_geofence_limits
                            .then(|| lowest_limit(fences, s.position))
                            .flatten()
                            .map(|f| f.0);
                        let limit = match (p.limit_kmh, fence) {
                            (Some(a), Some(b)) => Some(a.min(b)),
                            (a, b) => a.or(b),
                        };
                        limit
                            .filter(|l| s.speed_kmh > *l)
                            .map(|l| json!({"speed_kmh": s.speed_kmh, "limit_kmh": l}))
                    }
                    Condition::LowFuel(p) => s
                        .fuel_pct
                        .filter(|f| *f < p.below_pct)
                        .map(|f| json!({"fuel_pct": f})),
                    Condition::EngineError(p) => s
                        .dtc
                        .as_ref()
                        .filter(|c| c.iter().any(|c| p.codes.is_empty() || p.codes.contains(c)))
                        .map(|c| json!({"codes": c})),
                    _ => None,
                };
                if let Some(d) = hit {
                    hits.push((s.at_ms, d));
                }
            }
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

    /// Offline detection, on the server's clock.
    pub fn tick(&mut self, rules: &[Rule], now_ms: i64, out: &mut Vec<Transition>) {
        for (device_id, dev) in &mut self.devices {
            let Some(last) = dev.last_received_ms else {
                continue;
            };
            dev.align(rules);
            for (rule, (_, st)) in rules.iter().zip(dev.rules.iter_mut()) {
                let Condition::DeviceOffline(p) = &rule.condition else {
                    continue;
                };
                if !rule.enabled || !rule.targets.covers(dev.vehicle_id, dev.group.as_deref()) {
                    continue;
                }
                let silent_s = (now_ms - last) as f64 / 1000.0;
                if silent_s <= p.after_s {
                    continue;
                }
                let who = Subject {
                    rule,
                    device_id: *device_id,
                    vehicle_id: dev.vehicle_id,
                    subject: "",
                };
                begin(
                    st,
                    &who,
                    now_ms,
                    || {
                        (
                            format!("No data for {:.0} min", silent_s / 60.0),
                            json!({"last_seen_ms": last, "silent_s": silent_s}),
                        )
                    },
                    out,
                );
            }
        }
    }
}

/// The lowest speed limit among the fences at a position, and its fence.
fn lowest_limit(fences: &FenceIndex, position: Option<(f64, f64)>) -> Option<(f64, i64)> {
    let (lat, lon) = position?;
    if fences.is_empty() {
        return None;
    }
    fences
        .containing(lat, lon)
        .into_iter()
        .filter_map(|id| {
            fences
                .get(id)
                .and_then(|f| f.speed_limit_kmh)
                .map(|l| (l, id))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
}

/// String equality without a call into `memcmp` for the common empty subject.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && (a.is_empty() || a == b)
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A condition that holds for a while began (or goes on): raise once, unless cooling down.
fn begin(
    st: &mut RuleState,
    who: &Subject<'_>,
    at_ms: i64,
    describe: impl FnOnce() -> (String, Value),
    out: &mut Vec<Transition>,
) {
    let cooldown = who.rule.cooldown_ms;
    let slot = st.slot(who.subject);
    if slot.active.is_some() || slot.cleared_ms.is_some_and(|c| at_ms < c + cooldown) {
        return;
    }
    let (message, details) = describe();
    let id = new_id();
    slot.active = Some(Active {
        id: id.clone(),
        last_ms: at_ms,
    });
    out.push(raise(who, id, message, details, at_ms));
}

/// The condition ended: clear its open alert.
fn end(st: &mut RuleState, subject: &str, at_ms: i64, out: &mut Vec<Transition>) {
    let Some(slot) = st.slots.iter_mut().find(|s| same(&s.subject, subject)) else {
        return;
    };
    if let Some(a) = slot.active.take() {
        out.push(Transition::Clear { id: a.id, at_ms });
        slot.cleared_ms = Some(at_ms);
    }
}

/// A condition of an instant: raise, or count one more occurrence of the open alert.
fn pulse(
    st: &mut RuleState,
    who: &Subject<'_>,
    at_ms: i64,
    describe: impl FnOnce() -> (String, Value),
    out: &mut Vec<Transition>,
) {
    if let Some(a) = &mut st.slot(who.subject).active {
        a.last_ms = at_ms;
        let id = a.id.clone();
        out.push(Transition::Repeat {
            id,
            at_ms,
            details: describe().1,
        });
        return;
    }
    begin(st, who, at_ms, describe, out);
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

fn raise(who: &Subject<'_>, id: String, message: String, details: Value, at_ms: i64) -> Transition {
    Transition::Raise(NewAlert {
        id,
        rule_id: who.rule.id,
        kind: who.rule.condition.kind(),
        severity: who.rule.severity,
        device_id: who.device_id,
        vehicle_id: who.vehicle_id,
        subject: who.subject.to_owned(),
        message,
        details,
        late: false,
        occurrences: 1,
        raised_ms: at_ms,
        last_ms: at_ms,
        cleared_ms: None,
    })
}

#[cfg(test)]
mod tests;
