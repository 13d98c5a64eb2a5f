//! Codec 12: GPRS commands from server to device (type 0x05), their responses (type 0x06),
//! and camera data from DualCam accessories (type 0x0D, parts of an image), kept as their
//! raw payload.

use serde::Serialize;

use super::avl::{open_envelope, seal_envelope};
use super::error::{DecodeError, DecodeErrorKind, EncodeError};
use super::reader::Reader;

pub(crate) const CODEC12: u8 = 0x0C;
const TYPE_COMMAND: u8 = 0x05;
const TYPE_RESPONSE: u8 = 0x06;
const TYPE_CAMERA: u8 = 0x0D;
/// Longest command or response text accepted.
pub const MAX_COMMAND_LEN: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CommandKind {
    /// Server → device.
    Command,
    /// Device → server.
    Response,
    /// Device → server: a part of a camera image (DualCam), raw bytes.
    Camera,
}

impl CommandKind {
    fn byte(self) -> u8 {
        match self {
            Self::Command => TYPE_COMMAND,
            Self::Response => TYPE_RESPONSE,
            Self::Camera => TYPE_CAMERA,
        }
    }
}

/// One Codec 12 message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandFrame {
    pub kind: CommandKind,
    #[serde(serialize_with = "lossy_text")]
    pub payload: Vec<u8>,
}

fn lossy_text<S: serde::Serializer>(payload: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(payload))
}

impl CommandFrame {
    pub fn command(text: impl Into<Vec<u8>>) -> Self {
        Self {
            kind: CommandKind::Command,
            payload: text.into(),
        }
    }

    pub fn response(text: impl Into<Vec<u8>>) -> Self {
        Self {
            kind: CommandKind::Response,
            payload: text.into(),
        }
    }

    /// The payload as text (devices answer in ASCII).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.payload).into_owned()
    }
}

/// Decodes one complete Codec 12 TCP frame.
pub fn decode_command_frame(frame: &[u8]) -> Result<CommandFrame, DecodeError> {
    let data = open_envelope(frame)?;
    let mut r = Reader::new(data, 8);
    let codec = r.u8("codec id")?;
    if codec != CODEC12 {
        return Err(DecodeError::new(8, DecodeErrorKind::UnknownCodec(codec)));
    }
    let first = r.u8("command quantity")?;
    if first != 1 {
        return Err(DecodeError::new(
            9,
            DecodeErrorKind::Invalid {
                field: "command quantity",
                detail: format!("{first}, expected 1"),
            },
        ));
    }
    let type_offset = r.offset();
    let kind = match r.u8("command type")? {
        TYPE_COMMAND => CommandKind::Command,
        TYPE_RESPONSE => CommandKind::Response,
        TYPE_CAMERA => CommandKind::Camera,
        other => {
            return Err(DecodeError::new(
                type_offset,
                DecodeErrorKind::Invalid {
                    field: "command type",
                    detail: format!("0x{other:02X}, expected 0x05, 0x06 or 0x0D"),
                },
            ))
        }
    };
    let size = r.u32("command size")? as usize;
    let payload = r.bytes(size, "command text")?.to_vec();
    let second_offset = r.offset();
    let second = r.u8("second command quantity")?;
    if second != first {
        return Err(DecodeError::new(
            second_offset,
            DecodeErrorKind::CountMismatch { first, second },
        ));
    }
    if r.remaining() != 0 {
        return Err(r.err(DecodeErrorKind::Trailing(r.remaining())));
    }
    Ok(CommandFrame { kind, payload })
}

/// Encodes a complete Codec 12 TCP frame.
pub fn encode_command_frame(frame: &CommandFrame) -> Result<Vec<u8>, EncodeError> {
    if frame.payload.len() > MAX_COMMAND_LEN {
        return Err(EncodeError::TooMany("command bytes"));
    }
    let mut data = Vec::with_capacity(frame.payload.len() + 8);
    data.push(CODEC12);
    data.push(1);
    data.push(frame.kind.byte());
    data.extend_from_slice(&(frame.payload.len() as u32).to_be_bytes());
    data.extend_from_slice(&frame.payload);
    data.push(1);
    let mut out = Vec::with_capacity(data.len() + 12);
    seal_envelope(&data, &mut out);
    Ok(out)
}
