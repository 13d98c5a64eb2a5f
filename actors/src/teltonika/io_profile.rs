//! IO element profiles: a data table per device model that names and scales raw IO ids.
//!
//! The tables themselves live in configuration (`teltonika.io_profiles` in
//! `config/default.toml`); this module only interprets them.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::codec::{DecodeOptions, IoElement, IoValue};
use crate::entity::{Facts, Io, Value};

/// How a raw value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IoKind {
    /// Unsigned integer × scale.
    #[default]
    Number,
    /// Two's complement integer of the element's width × scale.
    Signed,
    /// 0 → false, anything else → true.
    Bool,
    /// Bit mask, kept as an integer.
    Bitmask,
    /// ASCII text (variable-length elements).
    Text,
    /// Diagnostic trouble codes: ASCII, comma or space separated.
    Dtc,
}

/// One row of a profile table.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IoElementDef {
    pub id: u16,
    /// Canonical field name, the same across profiles (e.g. `fuel_level_l`).
    pub name: String,
    #[serde(default)]
    pub kind: IoKind,
    #[serde(default = "one")]
    pub scale: f64,
    /// Added after scaling (a coolant temperature sent as °C + 40 has `offset = -40`).
    #[serde(default)]
    pub offset: f64,
    #[serde(default)]
    pub unit: Option<String>,
}

/// How a profile's devices write their frames, beyond the codec id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProfileOptions {
    /// Records with a 16-byte IO group after the 8-byte one (the FMB "extended records"
    /// setting).
    pub sixteen_byte_io: bool,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug)]
struct Entry {
    /// The canonical name, parsed once here.
    name: Io,
    kind: IoKind,
    scale: f64,
    offset: f64,
}

/// A compiled profile.
#[derive(Debug)]
pub struct IoProfile {
    name: String,
    by_id: HashMap<u16, Entry>,
    options: ProfileOptions,
}

/// Why a profile table is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("IO profile `{profile}` maps id {id} twice")]
    DuplicateId { profile: String, id: u16 },
    #[error(
        "IO profile `{profile}` id {id}: scale must be a finite non-zero number and offset finite"
    )]
    BadScale { profile: String, id: u16 },
    #[error("options are given for unknown IO profile `{0}`")]
    OptionsWithoutProfile(String),
    #[error("device model `{model}` refers to unknown IO profile `{profile}`")]
    UnknownProfile { model: String, profile: String },
    #[error("default IO profile `{0}` is not defined")]
    NoDefault(String),
}

impl IoProfile {
    pub fn new(name: &str, defs: &[IoElementDef]) -> Result<Self, ProfileError> {
        Self::with_options(name, defs, ProfileOptions::default())
    }

    pub fn with_options(
        name: &str,
        defs: &[IoElementDef],
        options: ProfileOptions,
    ) -> Result<Self, ProfileError> {
        let mut by_id = HashMap::with_capacity(defs.len());
        for d in defs {
            if !d.scale.is_finite() || d.scale == 0.0 || !d.offset.is_finite() {
                return Err(ProfileError::BadScale {
                    profile: name.into(),
                    id: d.id,
                });
            }
            let entry = Entry {
                name: Io::parse(&d.name),
                kind: d.kind,
                scale: d.scale,
                offset: d.offset,
            };
            if by_id.insert(d.id, entry).is_some() {
                return Err(ProfileError::DuplicateId {
                    profile: name.into(),
                    id: d.id,
                });
            }
        }
        Ok(Self {
            name: name.into(),
            by_id,
            options,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// How this profile's devices write their frames.
    pub fn decode_options(&self) -> DecodeOptions {
        DecodeOptions {
            sixteen_byte_io: self.options.sixteen_byte_io,
        }
    }

    /// Names and scales the known elements; unknown ids are left out here (the raw IO
    /// keeps every element).
    pub fn named(&self, io: &[IoElement]) -> Facts {
        let mut out = Vec::with_capacity(io.len());
        for e in io {
            if let Some(entry) = self.by_id.get(&e.id) {
                if let Some(v) = interpret(entry, &e.value) {
                    out.push((entry.name.clone(), v));
                }
            }
        }
        Facts(out)
    }
}

fn scaled(raw: f64, entry: &Entry) -> Value {
    Value::Number(raw * entry.scale + entry.offset)
}

fn interpret(entry: &Entry, value: &IoValue) -> Option<Value> {
    if let Some(b) = value.raw_bytes() {
        return match entry.kind {
            IoKind::Text => Some(Value::Text(ascii(b))),
            IoKind::Dtc => Some(Value::Codes(
                ascii(b)
                    .split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            )),
            _ => None,
        };
    }
    match entry.kind {
        IoKind::Bool => value.as_u64().map(|n| Value::Bool(n != 0)),
        IoKind::Bitmask => value.as_u64().map(Value::Integer),
        IoKind::Signed => value.as_i64().map(|n| scaled(n as f64, entry)),
        IoKind::Number => value.as_u64().map(|n| {
            if entry.scale == 1.0 && entry.offset == 0.0 {
                Value::Integer(n)
            } else {
                scaled(n as f64, entry)
            }
        }),
        IoKind::Text | IoKind::Dtc => value.as_u64().map(Value::Integer),
    }
}

fn ascii(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .trim_matches(char::from(0))
        .trim()
        .to_owned()
}

/// Every profile, and which device model uses which.
#[derive(Debug, Clone)]
pub struct IoProfiles {
    profiles: HashMap<String, Arc<IoProfile>>,
    models: HashMap<String, Arc<IoProfile>>,
    default: Arc<IoProfile>,
}

impl IoProfiles {
    /// Builds the set from configuration tables: profile name → rows, model → profile name,
    /// profile name → options.
    pub fn new(
        tables: &HashMap<String, Vec<IoElementDef>>,
        models: &HashMap<String, String>,
        options: &HashMap<String, ProfileOptions>,
        default: &str,
    ) -> Result<Self, ProfileError> {
        if let Some(name) = options.keys().find(|n| !tables.contains_key(*n)) {
            return Err(ProfileError::OptionsWithoutProfile(name.clone()));
        }
        let mut profiles = HashMap::with_capacity(tables.len());
        for (name, defs) in tables {
            let opts = options.get(name).copied().unwrap_or_default();
            profiles.insert(
                name.clone(),
                Arc::new(IoProfile::with_options(name, defs, opts)?),
            );
        }
        let default = profiles
            .get(default)
            .cloned()
            .ok_or_else(|| ProfileError::NoDefault(default.into()))?;
        let mut by_model = HashMap::with_capacity(models.len());
        for (model, profile) in models {
            let p = profiles
                .get(profile)
                .cloned()
                .ok_or_else(|| ProfileError::UnknownProfile {
                    model: model.clone(),
                    profile: profile.clone(),
                })?;
            by_model.insert(model.to_ascii_lowercase(), p);
        }
        Ok(Self {
            profiles,
            models: by_model,
            default,
        })
    }

    /// No tables: every model reads with an empty profile (its IO is kept raw only).
    pub fn none() -> Self {
        let empty = Arc::new(IoProfile {
            name: "none".into(),
            by_id: HashMap::new(),
            options: ProfileOptions::default(),
        });
        Self {
            profiles: HashMap::from([("none".to_owned(), empty.clone())]),
            models: HashMap::new(),
            default: empty,
        }
    }

    /// The profile of a device model (case-insensitive), or the default one.
    pub fn for_model(&self, model: &str) -> Arc<IoProfile> {
        self.models
            .get(&model.to_ascii_lowercase())
            .or_else(|| self.profiles.get(model))
            .cloned()
            .unwrap_or_else(|| self.default.clone())
    }

    pub fn by_name(&self, name: &str) -> Option<Arc<IoProfile>> {
        self.profiles.get(name).cloned()
    }

    pub fn default_profile(&self) -> Arc<IoProfile> {
        self.default.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(id: u16, name: &str, kind: IoKind, scale: f64) -> IoElementDef {
        IoElementDef {
            id,
            name: name.into(),
            kind,
            scale,
            offset: 0.0,
            unit: None,
        }
    }

    #[test]
    fn names_and_scales_known_ids_only() {
        let p = IoProfile::new(
            "t",
            &[
                def(239, "ignition", IoKind::Bool, 1.0),
                def(66, "external_voltage_v", IoKind::Number, 0.001),
                def(85, "engine_rpm", IoKind::Number, 1.0),
                def(115, "engine_temp_c", IoKind::Signed, 0.1),
                def(281, "dtc", IoKind::Dtc, 1.0),
            ],
        )
        .unwrap();
        let io = vec![
            IoElement {
                id: 239,
                value: IoValue::U8(1),
            },
            IoElement {
                id: 66,
                value: IoValue::U16(24079),
            },
            IoElement {
                id: 85,
                value: IoValue::U16(1500),
            },
            IoElement {
                id: 115,
                value: IoValue::U16((-55i16) as u16),
            },
            IoElement {
                id: 281,
                value: IoValue::Bytes(b"P0420,P0171".to_vec()),
            },
            IoElement {
                id: 999,
                value: IoValue::U8(7),
            },
        ];
        let named = p.named(&io);
        let get = |n: &str| named.get(&Io::parse(n)).cloned();
        assert_eq!(get("ignition"), Some(Value::Bool(true)));
        assert!((get("external_voltage_v").unwrap().as_f64().unwrap() - 24.079).abs() < 1e-9);
        assert_eq!(get("engine_rpm"), Some(Value::Integer(1500)));
        assert!((get("engine_temp_c").unwrap().as_f64().unwrap() + 5.5).abs() < 1e-9);
        assert_eq!(
            get("dtc"),
            Some(Value::Codes(vec!["P0420".into(), "P0171".into()]))
        );
        assert_eq!(named.len(), 5);
    }

    #[test]
    fn rejects_duplicate_ids_and_unknown_profiles() {
        let dup = IoProfile::new(
            "x",
            &[
                def(1, "a", IoKind::Number, 1.0),
                def(1, "b", IoKind::Number, 1.0),
            ],
        );
        assert!(matches!(dup, Err(ProfileError::DuplicateId { id: 1, .. })));
        let tables = HashMap::from([("a".to_string(), vec![def(1, "a", IoKind::Number, 1.0)])]);
        let models = HashMap::from([("FMC125".to_string(), "missing".to_string())]);
        assert!(matches!(
            IoProfiles::new(&tables, &models, &HashMap::new(), "a"),
            Err(ProfileError::UnknownProfile { .. })
        ));
        assert!(matches!(
            IoProfiles::new(&tables, &HashMap::new(), &HashMap::new(), "zzz"),
            Err(ProfileError::NoDefault(_))
        ));
    }

    #[test]
    fn model_lookup_is_case_insensitive_with_default() {
        let tables = HashMap::from([
            ("a".to_string(), vec![def(1, "one", IoKind::Number, 1.0)]),
            ("b".to_string(), vec![def(2, "two", IoKind::Number, 1.0)]),
        ]);
        let models = HashMap::from([("FMC125".to_string(), "b".to_string())]);
        let set = IoProfiles::new(&tables, &models, &HashMap::new(), "a").unwrap();
        assert_eq!(set.for_model("fmc125").name(), "b");
        assert_eq!(set.for_model("unknown-model").name(), "a");
    }
}

#[cfg(test)]
mod offset_tests {
    use super::*;

    #[test]
    fn an_offset_is_added_after_scaling_and_options_follow_the_profile() {
        let coolant = IoElementDef {
            id: 274,
            name: "engine_temp_c".into(),
            kind: IoKind::Number,
            scale: 1.0,
            offset: -40.0,
            unit: Some("°C".into()),
        };
        let p = IoProfile::new("t", std::slice::from_ref(&coolant)).unwrap();
        let facts = p.named(&[IoElement {
            id: 274,
            value: IoValue::U8(130),
        }]);
        assert_eq!(facts.f64(&Io::EngineTempC), Some(90.0));
        let tables = HashMap::from([("wide".to_string(), vec![coolant])]);
        let wide = HashMap::from([(
            "wide".to_string(),
            ProfileOptions {
                sixteen_byte_io: true,
            },
        )]);
        let set = IoProfiles::new(&tables, &HashMap::new(), &wide, "wide").unwrap();
        assert!(set.default_profile().decode_options().sixteen_byte_io);
        let stray = HashMap::from([("nope".to_string(), ProfileOptions::default())]);
        assert!(matches!(
            IoProfiles::new(&tables, &HashMap::new(), &stray, "wide"),
            Err(ProfileError::OptionsWithoutProfile(_))
        ));
    }
}
