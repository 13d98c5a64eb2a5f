use std::fmt;

/// A decode failure: which byte (offset from the start of the input) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("byte {offset}: {kind}")]
pub struct DecodeError {
    pub offset: usize,
    pub kind: DecodeErrorKind,
}

impl DecodeError {
    pub fn new(offset: usize, kind: DecodeErrorKind) -> Self {
        Self { offset, kind }
    }

    /// Bounded reason label, for logs and the rejected-frames counter.
    pub fn reason(&self) -> RejectReason {
        self.kind.reason()
    }
}

/// What is wrong with the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeErrorKind {
    #[error("preamble must be 00000000, found {0:08X}")]
    Preamble(u32),
    #[error("data field length {length} exceeds the maximum of {max}")]
    Oversize { length: usize, max: usize },
    #[error("data field length {0} is too short for any frame")]
    Undersize(usize),
    #[error("unknown codec id 0x{0:02X}")]
    UnknownCodec(u8),
    #[error("record counts differ: {first} at the start, {second} at the end")]
    CountMismatch { first: u8, second: u8 },
    #[error("CRC mismatch: declared 0x{declared:08X}, computed 0x{computed:04X}")]
    Crc { declared: u32, computed: u16 },
    #[error("input ends inside {0}")]
    Truncated(&'static str),
    #[error("{0} bytes left over after the declared content")]
    Trailing(usize),
    #[error("invalid {field}: {detail}")]
    Invalid { field: &'static str, detail: String },
    #[error("invalid IMEI: {0}")]
    Imei(String),
}

impl DecodeErrorKind {
    pub fn reason(&self) -> RejectReason {
        match self {
            Self::Preamble(_) => RejectReason::Preamble,
            Self::Oversize { .. } => RejectReason::Oversize,
            Self::Undersize(_) | Self::Truncated(_) | Self::Trailing(_) => {
                RejectReason::LengthMismatch
            }
            Self::UnknownCodec(_) => RejectReason::UnknownCodec,
            Self::CountMismatch { .. } => RejectReason::CountMismatch,
            Self::Crc { .. } => RejectReason::Crc,
            Self::Invalid { .. } => RejectReason::InvalidField,
            Self::Imei(_) => RejectReason::BadImei,
        }
    }
}

/// Why a frame was refused: a bounded set, used as the `reason` metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    Preamble,
    Oversize,
    LengthMismatch,
    UnknownCodec,
    CountMismatch,
    Crc,
    InvalidField,
    BadImei,
    UnexpectedFrame,
}

impl RejectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Preamble => "preamble",
            Self::Oversize => "oversize",
            Self::LengthMismatch => "length_mismatch",
            Self::UnknownCodec => "unknown_codec",
            Self::CountMismatch => "count_mismatch",
            Self::Crc => "crc",
            Self::InvalidField => "invalid_field",
            Self::BadImei => "bad_imei",
            Self::UnexpectedFrame => "unexpected_frame",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value the chosen codec cannot carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("{codec} cannot carry {what}")]
    Unrepresentable { codec: &'static str, what: String },
    #[error("too many {0}")]
    TooMany(&'static str),
}
