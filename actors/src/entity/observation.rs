//! What a device reports beyond a position and named values: a heartbeat with its own
//! health, performance figures, objects it detected, a consensus round it took part in, its
//! birth and its death. Device-neutral: an edge node reports them over MQTT today, a camera
//! adapter reports detections the same way.

use serde::Serialize;

/// Where a message stands in its device's stream: the device's boot counter and its
/// sequence number within that boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Sequence {
    pub boot: i64,
    pub seq: i64,
}

/// A device's own status, as edge nodes report it (lowercase on every wire we speak), plus
/// `offline`, which only we decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeStatus {
    /// Known, never heard from.
    Registered,
    Active,
    Idle,
    Fault,
    Offline,
}

impl NodeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::Active => "active",
            Self::Idle => "idle",
            Self::Fault => "fault",
            Self::Offline => "offline",
        }
    }

    /// A status a device may report of itself.
    pub fn reported(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "idle" => Some(Self::Idle),
            "fault" => Some(Self::Fault),
            _ => None,
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "registered" => Some(Self::Registered),
            "offline" => Some(Self::Offline),
            other => Self::reported(other),
        }
    }
}

/// A heartbeat's health figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    pub status: NodeStatus,
    /// Percent, 0–100.
    pub cpu_usage: f64,
    /// Percent, 0–100.
    pub memory_usage: f64,
    pub network_status: Option<String>,
    /// Watts.
    pub energy_consumption: Option<f64>,
}

/// A performance report (all optional: nodes report what they measure).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Performance {
    /// Detection pipeline latency, milliseconds.
    pub latency_ms: Option<f64>,
    /// Bytes (or the node's unit) not sent thanks to edge processing.
    pub bandwidth_saved: Option<f64>,
    pub energy_saved: Option<f64>,
}

/// A detection's box, in pixels or (normalized) fractions of the frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct BBox {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    #[serde(default)]
    pub normalized: bool,
}

/// One detected object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detection {
    pub stream_id: String,
    pub object_type: String,
    /// 0–1.
    pub confidence: f64,
    pub bbox: BBox,
    pub location: Option<String>,
    /// What else the device sent with it, kept as JSON.
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// A consensus round as one participant reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsensusReport {
    pub round_number: i64,
    /// Voter → its vote.
    pub votes: serde_json::Map<String, serde_json::Value>,
    /// The outcome the reporter saw.
    pub result: Option<serde_json::Value>,
    pub participants: Option<i32>,
    pub duration_ms: Option<i32>,
    pub success: Option<bool>,
}

/// A device announcing itself after a (re)start.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Birth {
    pub boot: Option<i64>,
    pub capabilities: serde_json::Value,
}

/// What one reading carries besides a fix and facts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Observation {
    Heartbeat(Health),
    Performance(Performance),
    Detections {
        detections: Vec<Detection>,
    },
    Consensus(ConsensusReport),
    Birth(Birth),
    /// The device said (or its broker said for it) that it is gone.
    Death,
    /// A robot's registers, read.
    Robot(Box<RobotReport>),
    /// The device did not answer its link (a timeout, an exception, the link down).
    Unreachable {
        reason: String,
    },
}

/// A robot's state, as REST and WebSocket show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RobotState {
    /// Its link does not answer (or it was never heard).
    Disconnected,
    Idle,
    Moving,
    Hoisting,
    Fault,
    EmergencyStopped,
    /// The link answers but the robot's control cycle counter stopped moving.
    Stale,
}

impl RobotState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disconnected => "disconnected",
            Self::Idle => "idle",
            Self::Moving => "moving",
            Self::Hoisting => "hoisting",
            Self::Fault => "fault",
            Self::EmergencyStopped => "emergency_stopped",
            Self::Stale => "stale",
        }
    }
}

/// What a robot reports of its own activity (its controller's state code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RobotMode {
    Idle,
    Moving,
    Hoisting,
    Fault,
    EmergencyStopped,
    Homing,
    Charging,
    /// A code the register map does not name.
    Unknown,
}

/// How the robot answered the last command it accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandResult {
    Ok,
    Rejected,
    Failed,
    Running,
    Unknown,
}

impl CommandResult {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
            Self::Running => "running",
            Self::Unknown => "unknown",
        }
    }
}

/// Safety conditions of a robot, each stored and alerted when it begins and ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SafetyKind {
    /// The robot's hardware emergency stop button is pressed.
    EstopPressed,
    /// The robot is latched in emergency stop (a stop was requested, or the button).
    EstopActive,
    /// The safety scanner's protective field is violated.
    ScannerField,
    /// The maintenance door is open.
    DoorOpen,
    Overload,
    /// The robot reports a fault code.
    Fault,
    /// The link answers but the robot's control cycle stopped.
    Stale,
    /// The robot does not answer.
    LinkLost,
}

impl SafetyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EstopPressed => "estop_pressed",
            Self::EstopActive => "estop_active",
            Self::ScannerField => "scanner_field",
            Self::DoorOpen => "door_open",
            Self::Overload => "overload",
            Self::Fault => "fault",
            Self::Stale => "stale",
            Self::LinkLost => "link_lost",
        }
    }

    /// `critical` for a stop, `warning` otherwise.
    pub fn severity(self) -> &'static str {
        match self {
            Self::EstopPressed | Self::EstopActive => "critical",
            Self::ScannerField | Self::Overload | Self::Fault | Self::LinkLost | Self::Stale => {
                "warning"
            }
            Self::DoorOpen => "info",
        }
    }
}

/// One reading of a robot's registers, in the robot's terms (the adapter's register map
/// turned them into these).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RobotReport {
    pub ready: bool,
    pub moving: bool,
    pub fault: bool,
    pub estop_active: bool,
    pub homed: bool,
    pub load_present: bool,
    pub hoist_busy: bool,
    pub charging: bool,
    /// The raw status bits, as stored.
    pub status_bits: u16,
    pub mode: RobotMode,
    pub position_mm: u32,
    pub speed_mm_s: i16,
    pub hoist_mm: u16,
    /// Percent, 0–100.
    pub battery_pct: f64,
    pub temperature_c: f64,
    pub station: u16,
    pub target_station: u16,
    /// 0: none.
    pub fault_code: u16,
    pub load_kg: f64,
    /// The robot's control cycle counter (+1 each cycle, wraps).
    pub heartbeat: u16,
    /// The sequence of the last command the robot accepted, and its result.
    pub command_seq: u16,
    pub command_result: CommandResult,
    /// Safety inputs.
    pub estop_pressed: bool,
    pub scanner_field: bool,
    pub door_open: bool,
    pub overload: bool,
}
