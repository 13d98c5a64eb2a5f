//! Identifier newtypes. IDs never travel as bare strings or integers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A tracker's IMEI: 15 ASCII digits on the wire (some firmware sends 16 or 17, an IMEISV).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Imei(u64);

/// Why a string is not an IMEI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImeiError {
    #[error("IMEI must be {min} to {max} digits, got {0}", min = Imei::MIN_DIGITS, max = Imei::MAX_DIGITS)]
    Length(usize),
    #[error("IMEI must be ASCII digits, found byte 0x{byte:02X} at position {position}")]
    NotDigit { position: usize, byte: u8 },
}

impl Imei {
    pub const MIN_DIGITS: usize = 15;
    pub const MAX_DIGITS: usize = 17;

    /// Parses the ASCII digits of an IMEI as sent in a Teltonika login.
    pub fn from_ascii(bytes: &[u8]) -> Result<Self, ImeiError> {
        if !(Self::MIN_DIGITS..=Self::MAX_DIGITS).contains(&bytes.len()) {
            return Err(ImeiError::Length(bytes.len()));
        }
        let mut value: u64 = 0;
        for (position, &byte) in bytes.iter().enumerate() {
            if !byte.is_ascii_digit() {
                return Err(ImeiError::NotDigit { position, byte });
            }
            // 17 digits < 10^17 < u64::MAX: no overflow possible.
            value = value * 10 + u64::from(byte - b'0');
        }
        // Keep the digit count: a leading zero is significant on the wire.
        Ok(Self(value | ((bytes.len() as u64) << 57)))
    }

    /// Number of digits as received.
    pub fn digits(self) -> usize {
        (self.0 >> 57) as usize
    }

    fn number(self) -> u64 {
        self.0 & ((1 << 57) - 1)
    }

    /// The IMEI as ASCII digits, the way a device sends it.
    pub fn to_ascii(self) -> Vec<u8> {
        self.to_string().into_bytes()
    }

    /// Builds the IMEI with the given 15-digit number (used by the simulator and tests).
    pub fn from_number(n: u64) -> Result<Self, ImeiError> {
        Self::from_str(&format!("{n:015}"))
    }
}

impl fmt::Display for Imei {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:0width$}", self.number(), width = self.digits())
    }
}

impl fmt::Debug for Imei {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Imei({self})")
    }
}

impl FromStr for Imei {
    type Err = ImeiError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_ascii(s.as_bytes())
    }
}

impl Serialize for Imei {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Imei {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A database row id with a type of its own, so that a vehicle id is never passed where a
/// device id belongs. Serialized as the bare number.
macro_rules! row_id {
    ($(#[$doc:meta] $name:ident),+ $(,)?) => {$(
        #[$doc]
        #[derive(
            Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<i64> for $name {
            fn from(id: i64) -> Self {
                Self(id)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    )+};
}

row_id!(
    /// Database id of a device row (a tracker today; every kind of device has one).
    DeviceId,
    /// Database id of a vehicle row.
    VehicleId,
    /// Database id of a geofence.
    GeofenceId,
    /// Database id of a route.
    RouteId,
    /// Database id of a stop.
    StopId,
    /// Database id of a robot.
    RobotId,
    /// Database id of a Modbus bus.
    BusId,
);

/// An alert's id: a UUID v7 made by the rule engine, so ids sort by creation time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AlertId(pub String);

impl AlertId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AlertId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imei_round_trips_with_leading_zeros() {
        for s in ["356307042441013", "000000000000001", "35630704244101399"] {
            let imei: Imei = s.parse().unwrap();
            assert_eq!(imei.to_string(), s);
            assert_eq!(imei.to_ascii(), s.as_bytes());
        }
    }

    #[test]
    fn imei_rejects_bad_input() {
        assert_eq!("12345".parse::<Imei>(), Err(ImeiError::Length(5)));
        assert_eq!(
            "35630704244101A".parse::<Imei>(),
            Err(ImeiError::NotDigit {
                position: 14,
                byte: b'A'
            })
        );
        assert_eq!(
            "123456789012345678".parse::<Imei>(),
            Err(ImeiError::Length(18))
        );
    }

    #[test]
    fn imeis_with_different_digit_counts_differ() {
        let a: Imei = "012345678901234".parse().unwrap();
        let b: Imei = "0012345678901234".parse().unwrap();
        assert_ne!(a, b);
    }
}

/// An edge node's id as it presents itself (MQTT username, topic segment): 1 to 50 of
/// `A-Z a-z 0-9 _ - .`, kept inline so that keys stay `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    len: u8,
    bytes: [u8; NodeId::MAX_LEN],
}

/// Why a string is not a node id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeIdError {
    #[error("node id must be 1 to {max} characters, got {0}", max = NodeId::MAX_LEN)]
    Length(usize),
    #[error("node id may hold only A-Z a-z 0-9 _ - . (found {0:?})")]
    Character(char),
}

impl NodeId {
    pub const MAX_LEN: usize = 50;

    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl FromStr for NodeId {
    type Err = NodeIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || s.len() > Self::MAX_LEN {
            return Err(NodeIdError::Length(s.chars().count()));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
        {
            return Err(NodeIdError::Character(c));
        }
        let mut bytes = [0; Self::MAX_LEN];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        Ok(Self {
            len: s.len() as u8,
            bytes,
        })
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({})", self.as_str())
    }
}

impl Serialize for NodeId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for NodeId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod node_id_tests {
    use super::*;

    #[test]
    fn node_ids_parse_and_refuse_what_a_topic_cannot_carry() {
        let id: NodeId = "cam-node_01.a".parse().unwrap();
        assert_eq!(id.to_string(), "cam-node_01.a");
        assert_eq!(
            serde_json::from_str::<NodeId>("\"n1\"").unwrap().as_str(),
            "n1"
        );
        assert_eq!("".parse::<NodeId>(), Err(NodeIdError::Length(0)));
        assert_eq!("a/b".parse::<NodeId>(), Err(NodeIdError::Character('/')));
        assert_eq!("a+".parse::<NodeId>(), Err(NodeIdError::Character('+')));
        assert!("x".repeat(51).parse::<NodeId>().is_err());
        assert!("x".repeat(50).parse::<NodeId>().is_ok());
    }
}
