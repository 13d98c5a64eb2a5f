//! Typed facts: what a reading says, by canonical name. Names are parsed once, when a
//! profile (or an adapter's table) is loaded; everything above compares enum variants.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

macro_rules! canonical {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)+) => {
        /// A canonical fact name, the same across device models and kinds. Names a table
        /// uses that are not listed here are kept as [`Io::Other`].
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum Io {
            $($(#[$doc])* $variant,)+
            /// A name without a meaning of its own here (kept, stored and shown).
            Other(Arc<str>),
        }

        impl Io {
            /// The canonical name for `name`; unknown names become [`Io::Other`].
            pub fn parse(name: &str) -> Self {
                match name {
                    $($name => Self::$variant,)+
                    other => Self::Other(Arc::from(other)),
                }
            }

            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $name,)+
                    Self::Other(name) => name,
                }
            }
        }
    };
}

canonical! {
    Ignition = "ignition",
    Movement = "movement",
    ExternalVoltageV = "external_voltage_v",
    BatteryVoltageV = "battery_voltage_v",
    GsmSignal = "gsm_signal",
    Hdop = "hdop",
    SpeedKmh = "speed_kmh",
    OdometerM = "odometer_m",
    CanSpeedKmh = "can_speed_kmh",
    AcceleratorPedalPct = "accelerator_pedal_pct",
    /// Fuel used since the counter's start (the CAN fuel counter).
    FuelConsumedL = "fuel_consumed_l",
    FuelLevelL = "fuel_level_l",
    FuelLevelPct = "fuel_level_pct",
    FuelRateLph = "fuel_rate_lph",
    EngineRpm = "engine_rpm",
    EngineHoursH = "engine_hours_h",
    EngineLoadPct = "engine_load_pct",
    /// Coolant temperature.
    EngineTempC = "engine_temp_c",
    TotalMileageM = "total_mileage_m",
    /// The CAN odometer in kilometres (tables that give it so).
    CanOdometerKm = "can_odometer_km",
    /// Door flags as one bit mask (bit 0 the first door).
    DoorStatus = "door_status",
    Door1Open = "door1_open",
    Door2Open = "door2_open",
    Door3Open = "door3_open",
    BrakeActive = "brake_active",
    CruiseControl = "cruise_control",
    CheckEngine = "check_engine",
    /// Diagnostic trouble codes.
    Dtc = "dtc",
    /// The tracker's own harsh-driving report: 1 acceleration, 2 braking, 3 cornering.
    GreenDrivingType = "green_driving_type",
}

impl fmt::Display for Io {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A named, scaled value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Integer(u64),
    Number(f64),
    Text(String),
    Codes(Vec<String>),
}

impl Value {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Integer(v) => Some(*v as f64),
            Self::Number(v) => Some(*v),
            Self::Bool(b) => Some(f64::from(u8::from(*b))),
            Self::Text(_) | Self::Codes(_) => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Bool(b) => Some(*b),
            Self::Integer(v) => Some(*v != 0),
            _ => None,
        }
    }

    /// Trouble codes, from a code list or a comma or space separated text.
    pub fn as_codes(&self) -> Option<Vec<String>> {
        match self {
            Self::Codes(c) => Some(c.clone()),
            Self::Text(t) => Some(
                t.split([',', ' '])
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
            _ => None,
        }
    }
}

/// The facts of one reading, in the order the device sent them. A reading carries a score
/// of them at most, so a scan of the list beats a map.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts(pub Vec<(Io, Value)>);

impl Facts {
    pub fn get(&self, io: &Io) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == io).map(|(_, v)| v)
    }

    pub fn f64(&self, io: &Io) -> Option<f64> {
        self.get(io).and_then(Value::as_f64)
    }

    pub fn bool(&self, io: &Io) -> Option<bool> {
        self.get(io).and_then(Value::as_bool)
    }

    /// Sets `io`, replacing an earlier value.
    pub fn set(&mut self, io: &Io, value: &Value) {
        match self.0.iter_mut().find(|(k, _)| k == io) {
            Some((_, v)) => v.clone_from(value),
            None => self.0.push((io.clone(), value.clone())),
        }
    }

    /// Takes every fact of `other` over, newest wins.
    pub fn merge(&mut self, other: &Facts) {
        for (k, v) in &other.0 {
            self.set(k, v);
        }
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &(Io, Value)> {
        self.0.iter()
    }
}

/// A JSON object of canonical name → value.
impl Serialize for Facts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k.as_str(), v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_once_and_print_back() {
        for name in [
            "ignition",
            "fuel_level_pct",
            "dtc",
            "door2_open",
            "can_odometer_km",
        ] {
            let io = Io::parse(name);
            assert!(!matches!(io, Io::Other(_)), "{name} is canonical");
            assert_eq!(io.as_str(), name);
        }
        assert_eq!(Io::parse("pto_state"), Io::Other(Arc::from("pto_state")));
        assert_eq!(Io::parse("pto_state").as_str(), "pto_state");
    }

    #[test]
    fn facts_merge_newest_wins_and_serialize_as_an_object() {
        let mut live = Facts(vec![(Io::Ignition, Value::Bool(false))]);
        live.merge(&Facts(vec![
            (Io::Ignition, Value::Bool(true)),
            (Io::EngineRpm, Value::Integer(900)),
        ]));
        assert_eq!(live.bool(&Io::Ignition), Some(true));
        assert_eq!(live.f64(&Io::EngineRpm), Some(900.0));
        assert_eq!(
            serde_json::to_value(&live).unwrap(),
            serde_json::json!({"ignition": true, "engine_rpm": 900})
        );
        assert_eq!(
            Value::Text("P0420, P0171".into()).as_codes(),
            Some(vec!["P0420".into(), "P0171".into()])
        );
    }
}
