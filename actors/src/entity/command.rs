//! Commands to a robot, in the robot's terms: what REST validates, the ledger stores (as
//! JSON) and a robot adapter writes to its wire.

use serde::{Deserialize, Serialize};

/// One robot command. The ledger stores it as its JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum RobotCommand {
    MoveToStation {
        station: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        speed_mm_s: Option<u16>,
    },
    /// A controlled stop (not the emergency stop, which has its own lane).
    Stop,
    Home {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        speed_mm_s: Option<u16>,
    },
    HoistUp {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hoist_mm: Option<u16>,
    },
    HoistDown {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hoist_mm: Option<u16>,
    },
    ResetFault,
    GoCharge {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        speed_mm_s: Option<u16>,
    },
}

impl RobotCommand {
    pub fn name(&self) -> &'static str {
        match self {
            Self::MoveToStation { .. } => "move_to_station",
            Self::Stop => "stop",
            Self::Home { .. } => "home",
            Self::HoistUp { .. } => "hoist_up",
            Self::HoistDown { .. } => "hoist_down",
            Self::ResetFault => "reset_fault",
            Self::GoCharge { .. } => "go_charge",
        }
    }

    /// The command's argument (a station, or a hoist target in mm; 0 for none).
    pub fn argument(&self) -> u16 {
        match self {
            Self::MoveToStation { station, .. } => *station,
            Self::HoistUp { hoist_mm } | Self::HoistDown { hoist_mm } => hoist_mm.unwrap_or(0),
            _ => 0,
        }
    }

    /// The speed limit it asks for (0: the robot's own).
    pub fn speed_mm_s(&self) -> u16 {
        match self {
            Self::MoveToStation { speed_mm_s, .. }
            | Self::Home { speed_mm_s }
            | Self::GoCharge { speed_mm_s } => speed_mm_s.unwrap_or(0),
            _ => 0,
        }
    }

    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_text(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_round_trip_through_the_ledger_text() {
        let c = RobotCommand::MoveToStation {
            station: 4,
            speed_mm_s: Some(800),
        };
        assert_eq!(
            c.to_text(),
            r#"{"command":"move_to_station","station":4,"speed_mm_s":800}"#
        );
        assert_eq!(RobotCommand::from_text(&c.to_text()), Ok(c));
        assert_eq!(
            RobotCommand::from_text(r#"{"command":"stop"}"#),
            Ok(RobotCommand::Stop)
        );
        assert!(RobotCommand::from_text(r#"{"command":"fly"}"#).is_err());
        assert!(RobotCommand::from_text(r#"{"command":"move_to_station"}"#).is_err());
        assert_eq!(c.argument(), 4);
        assert_eq!(c.speed_mm_s(), 800);
    }
}
