//! Teltonika wire protocol: IMEI login, AVL frames (Codec 8, 8 Extended, 16) over TCP and
//! UDP, Codec 12 commands, and the stream framing used by the TCP session.
//!
//! Everything here is pure and usable without actix.

mod avl;
mod command;
mod crc;
mod error;
mod framing;
mod reader;
mod udp;

pub use avl::{
    decode_avl_frame, decode_avl_frame_with, encode_avl_frame, encode_avl_frame_with, AvlPacket,
    AvlRecord, CodecId, DecodeOptions, GpsElement, IoElement, IoValue, Priority,
};
pub use command::{
    decode_command_frame, encode_command_frame, CommandFrame, CommandKind, MAX_COMMAND_LEN,
};
pub use crc::crc16_ibm;
pub use error::{DecodeError, DecodeErrorKind, EncodeError, RejectReason};
pub use framing::{
    decode_login, encode_login, Inbound, Outbound, Rejection, SharedOptions, TeltonikaCodec,
    DEFAULT_MAX_FRAME,
};
pub use udp::{
    decode_udp, decode_udp_with, encode_udp, encode_udp_ack, encode_udp_with, udp_imei, UdpPacket,
};

/// Decodes any complete TCP frame: an AVL packet or a Codec 12 message.
pub fn decode_tcp_frame(frame: &[u8]) -> Result<TcpFrame, DecodeError> {
    decode_tcp_frame_with(frame, DecodeOptions::default())
}

/// [`decode_tcp_frame`] with a device's options.
pub fn decode_tcp_frame_with(frame: &[u8], opts: DecodeOptions) -> Result<TcpFrame, DecodeError> {
    match frame.get(8).copied() {
        Some(command::CODEC12) => decode_command_frame(frame).map(TcpFrame::Command),
        _ => decode_avl_frame_with(frame, opts).map(TcpFrame::Avl),
    }
}

/// A decoded TCP frame.
#[derive(Debug, Clone, PartialEq)]
pub enum TcpFrame {
    Avl(AvlPacket),
    Command(CommandFrame),
}

#[cfg(test)]
mod tests;
