//! Stream framing for the TCP session: the IMEI login, then AVL and Codec 12 frames, with
//! the single 0xFF keep-alive byte some devices send between frames.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::{Buf, BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};
use urbanstream_schema::Imei;

use super::avl::{AvlPacket, DecodeOptions};
use super::command::{encode_command_frame, CommandFrame};
use super::error::{DecodeError, DecodeErrorKind, RejectReason};
use super::{decode_tcp_frame_with, TcpFrame};

/// Default upper bound of one TCP frame, envelope included.
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024;
/// The keep-alive byte.
const KEEP_ALIVE: u8 = 0xFF;
/// Longest IMEI field accepted in a login.
const MAX_IMEI_LEN: usize = 32;
/// Preamble + length + codec + 2 counts + CRC.
const MIN_FRAME: usize = 4 + 4 + 3 + 4;

/// What the device sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    Login(Imei),
    KeepAlive,
    Avl(AvlPacket),
    Command(CommandFrame),
    /// A frame that failed validation. `fatal` means the stream cannot be resynchronised
    /// and the connection must close.
    Rejected(Rejection),
}

/// A refused frame and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub error: DecodeError,
    pub fatal: bool,
}

impl Rejection {
    pub fn reason(&self) -> RejectReason {
        self.error.reason()
    }
}

/// What the server sends.
#[derive(Debug, Clone, PartialEq)]
pub enum Outbound {
    /// `01` accept / `00` reject.
    LoginReply(bool),
    /// Number of records accepted, 4 bytes big-endian.
    Ack(u32),
    Command(CommandFrame),
}

/// Parses a complete login message: 2-byte length and ASCII IMEI.
pub fn decode_login(bytes: &[u8]) -> Result<Imei, DecodeError> {
    if bytes.len() < 2 {
        return Err(DecodeError::new(
            bytes.len(),
            DecodeErrorKind::Truncated("IMEI length"),
        ));
    }
    let len = usize::from(u16::from_be_bytes([bytes[0], bytes[1]]));
    if bytes.len() - 2 != len {
        let kind = if bytes.len() - 2 < len {
            DecodeErrorKind::Truncated("IMEI")
        } else {
            DecodeErrorKind::Trailing(bytes.len() - 2 - len)
        };
        return Err(DecodeError::new(bytes.len().min(2 + len), kind));
    }
    Imei::from_ascii(&bytes[2..])
        .map_err(|e| DecodeError::new(2, DecodeErrorKind::Imei(e.to_string())))
}

/// Encodes a login message as a device sends it.
pub fn encode_login(imei: Imei) -> Vec<u8> {
    let digits = imei.to_ascii();
    let mut out = Vec::with_capacity(digits.len() + 2);
    out.extend_from_slice(&(digits.len() as u16).to_be_bytes());
    out.extend_from_slice(&digits);
    out
}

/// The decode options of one connection, learnt at login (from the device's model) and
/// read by its decoder for every frame after.
#[derive(Debug, Clone, Default)]
pub struct SharedOptions(Arc<AtomicBool>);

impl SharedOptions {
    pub fn set(&self, opts: DecodeOptions) {
        self.0.store(opts.sixteen_byte_io, Ordering::Relaxed);
    }

    pub fn get(&self) -> DecodeOptions {
        DecodeOptions {
            sixteen_byte_io: self.0.load(Ordering::Relaxed),
        }
    }
}

/// `tokio_util` codec for one TCP connection. Never allocates from an untrusted length: a
/// frame is buffered only once its declared length has been checked against `max_frame`.
#[derive(Debug)]
pub struct TeltonikaCodec {
    max_frame: usize,
    awaiting_login: bool,
    /// Set after a fatal rejection: the rest of the stream is discarded.
    poisoned: bool,
    options: SharedOptions,
}

impl TeltonikaCodec {
    /// A codec for a new connection, which starts with the IMEI login.
    pub fn new(max_frame: usize) -> Self {
        Self {
            max_frame: max_frame.max(MIN_FRAME),
            awaiting_login: true,
            poisoned: false,
            options: SharedOptions::default(),
        }
    }

    /// Reads frames with the options set on `options` (by the session, after login).
    pub fn with_options(mut self, options: SharedOptions) -> Self {
        self.options = options;
        self
    }

    /// A codec past the login, for tests and tools that feed frames only.
    pub fn streaming(max_frame: usize) -> Self {
        Self {
            awaiting_login: false,
            ..Self::new(max_frame)
        }
    }

    fn fatal(&mut self, src: &mut BytesMut, error: DecodeError) -> Option<Inbound> {
        self.poisoned = true;
        src.clear();
        Some(Inbound::Rejected(Rejection { error, fatal: true }))
    }

    fn decode_login(&mut self, src: &mut BytesMut) -> Option<Inbound> {
        if src.len() < 2 {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([src[0], src[1]]));
        if !(1..=MAX_IMEI_LEN).contains(&len) {
            let error = DecodeError::new(
                0,
                DecodeErrorKind::Imei(format!("length {len} is not a plausible IMEI length")),
            );
            return self.fatal(src, error);
        }
        if src.len() < 2 + len {
            return None;
        }
        let login = src.split_to(2 + len);
        match decode_login(&login) {
            Ok(imei) => {
                self.awaiting_login = false;
                Some(Inbound::Login(imei))
            }
            Err(error) => self.fatal(src, error),
        }
    }
}

impl Decoder for TeltonikaCodec {
    type Item = Inbound;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Inbound>, std::io::Error> {
        if self.poisoned {
            src.clear();
            return Ok(None);
        }
        if self.awaiting_login {
            return Ok(self.decode_login(src));
        }
        match src.first() {
            None => return Ok(None),
            Some(&KEEP_ALIVE) => {
                src.advance(1);
                return Ok(Some(Inbound::KeepAlive));
            }
            Some(_) => {}
        }
        if src.len() < 8 {
            // A preamble that already went wrong need not wait for more bytes.
            if src.iter().take(4).any(|&b| b != 0) {
                let mut pre = [0u8; 4];
                for (d, s) in pre.iter_mut().zip(src.iter()) {
                    *d = *s;
                }
                let error = DecodeError::new(0, DecodeErrorKind::Preamble(u32::from_be_bytes(pre)));
                return Ok(self.fatal(src, error));
            }
            return Ok(None);
        }
        let preamble = u32::from_be_bytes([src[0], src[1], src[2], src[3]]);
        if preamble != 0 {
            return Ok(self.fatal(
                src,
                DecodeError::new(0, DecodeErrorKind::Preamble(preamble)),
            ));
        }
        let length = u32::from_be_bytes([src[4], src[5], src[6], src[7]]) as usize;
        let total = length.saturating_add(12);
        if total > self.max_frame {
            let error = DecodeError::new(
                4,
                DecodeErrorKind::Oversize {
                    length,
                    max: self.max_frame - 12,
                },
            );
            return Ok(self.fatal(src, error));
        }
        if total < MIN_FRAME {
            return Ok(self.fatal(src, DecodeError::new(4, DecodeErrorKind::Undersize(length))));
        }
        if src.len() < total {
            src.reserve(total - src.len());
            return Ok(None);
        }
        let frame = src.split_to(total);
        Ok(Some(
            match decode_tcp_frame_with(&frame, self.options.get()) {
                Ok(TcpFrame::Avl(packet)) => Inbound::Avl(packet),
                Ok(TcpFrame::Command(cmd)) => Inbound::Command(cmd),
                // The frame's extent is known, so the stream stays in step.
                Err(error) => Inbound::Rejected(Rejection {
                    error,
                    fatal: false,
                }),
            },
        ))
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Inbound>, std::io::Error> {
        // A partial frame at close is dropped unacknowledged; the device resends it.
        let item = self.decode(buf)?;
        if item.is_none() {
            buf.clear();
        }
        Ok(item)
    }
}

impl Encoder<Outbound> for TeltonikaCodec {
    type Error = std::io::Error;

    fn encode(&mut self, item: Outbound, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        match item {
            Outbound::LoginReply(ok) => dst.put_u8(u8::from(ok)),
            Outbound::Ack(n) => dst.put_u32(n),
            Outbound::Command(cmd) => {
                let bytes = encode_command_frame(&cmd)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
                dst.extend_from_slice(&bytes);
            }
        }
        Ok(())
    }
}
