//! One Modbus link (a TCP connection to a gateway or device, or a serial port) and the
//! transactions on it: every request under a deadline, and a reply matched to its request —
//! by transaction id on TCP; on RTU by unit, function and CRC, with the input flushed after a
//! timeout or a bad frame so that a late reply is never taken for the next request's.

use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::frame::{self, FrameError, Request, Response};
use crate::metrics::{MODBUS_ERRORS_TOTAL, MODBUS_FLUSHED_BYTES_TOTAL};

/// Where a bus is.
#[derive(Debug, Clone, PartialEq)]
pub enum Endpoint {
    Tcp {
        address: String,
    },
    Rtu {
        path: String,
        baud: u32,
        /// `N`, `E` or `O`.
        parity: char,
        stop_bits: u8,
    },
}

impl Endpoint {
    pub fn describe(&self) -> String {
        match self {
            Self::Tcp { address } => format!("tcp://{address}"),
            Self::Rtu {
                path,
                baud,
                parity,
                stop_bits,
            } => format!("rtu:{path}@{baud}/8{parity}{stop_bits}"),
        }
    }

    /// The quiet time that ends an RTU frame (3.5 characters of 11 bits, at least 2 ms so
    /// that a pseudo-terminal's scheduling jitter is not taken for a gap).
    fn quiet(&self) -> Duration {
        match self {
            Self::Rtu { baud, .. } => {
                let us = 38_500_000 / u64::from((*baud).max(1200));
                Duration::from_micros(us.max(2_000))
            }
            Self::Tcp { .. } => Duration::ZERO,
        }
    }
}

/// Why a transaction failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModbusError {
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    #[error("link: {0}")]
    Io(String),
    #[error(transparent)]
    Frame(#[from] FrameError),
}

impl ModbusError {
    /// Bounded, for metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Timeout(_) => "timeout",
            Self::Io(_) => "io",
            Self::Frame(f) => f.reason(),
        }
    }

    /// Whether the link itself is broken (reconnect), rather than one device not answering.
    pub fn link_broken(&self) -> bool {
        matches!(self, Self::Io(_))
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An open link.
pub struct Link {
    io: Box<dyn Io>,
    endpoint: Endpoint,
    next_transaction: u16,
    buf: Vec<u8>,
    /// RTU: the last transaction timed out or read a bad frame, so a late reply may still be
    /// on its way; until one clean transaction, a reply counts only if the line stays quiet
    /// after it (a late reply and the real one back to back are refused, not guessed at).
    suspect: bool,
}

impl Link {
    pub async fn open(endpoint: &Endpoint, within: Duration) -> Result<Self, ModbusError> {
        let io: Box<dyn Io> = match endpoint {
            Endpoint::Tcp { address } => {
                let stream = tokio::time::timeout(within, tokio::net::TcpStream::connect(address))
                    .await
                    .map_err(|_elapsed| ModbusError::Io(format!("connect to {address} timed out")))?
                    .map_err(|e| ModbusError::Io(format!("connect to {address}: {e}")))?;
                stream
                    .set_nodelay(true)
                    .map_err(|e| ModbusError::Io(e.to_string()))?;
                Box::new(stream)
            }
            Endpoint::Rtu {
                path,
                baud,
                parity,
                stop_bits,
            } => {
                use tokio_serial::SerialPortBuilderExt;
                let parity = match parity {
                    'E' => tokio_serial::Parity::Even,
                    'O' => tokio_serial::Parity::Odd,
                    _ => tokio_serial::Parity::None,
                };
                let stop = if *stop_bits == 2 {
                    tokio_serial::StopBits::Two
                } else {
                    tokio_serial::StopBits::One
                };
                let port = tokio_serial::new(path, *baud)
                    .data_bits(tokio_serial::DataBits::Eight)
                    .parity(parity)
                    .stop_bits(stop)
                    .open_native_async()
                    .map_err(|e| ModbusError::Io(format!("open {path}: {e}")))?;
                Box::new(port)
            }
        };
        let mut link = Self {
            io,
            endpoint: endpoint.clone(),
            next_transaction: 1,
            buf: Vec::with_capacity(260),
            suspect: false,
        };
        // Whatever a previous session left on the line is not an answer to us.
        link.flush_input(Duration::ZERO).await;
        Ok(link)
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Sends `req` to `unit` and waits at most `timeout` for its reply. Unit 0 on RTU is a
    /// broadcast: nothing answers it.
    pub async fn transact(
        &mut self,
        unit: u8,
        req: &Request,
        timeout: Duration,
    ) -> Result<Response, ModbusError> {
        let result = match self.endpoint {
            Endpoint::Tcp { .. } => self.transact_tcp(unit, req, timeout).await,
            Endpoint::Rtu { .. } => self.transact_rtu(unit, req, timeout).await,
        };
        if let Err(e) = &result {
            metrics::counter!(MODBUS_ERRORS_TOTAL, "reason" => e.reason()).increment(1);
        }
        result
    }

    async fn transact_tcp(
        &mut self,
        unit: u8,
        req: &Request,
        timeout: Duration,
    ) -> Result<Response, ModbusError> {
        let tid = self.next_transaction;
        self.next_transaction = self.next_transaction.wrapping_add(1);
        let out = frame::tcp_frame(tid, unit, &req.pdu());
        let deadline = Instant::now() + timeout;
        self.write(&out, deadline, timeout).await?;
        loop {
            let mut head = [0u8; 7];
            self.read_exact_by(&mut head, deadline, timeout).await?;
            let len = usize::from(u16::from_be_bytes([head[4], head[5]]));
            if !(2..=254).contains(&len) || head[2..4] != [0, 0] {
                // Not Modbus framing: the stream cannot be trusted any more.
                return Err(ModbusError::Io(format!("bad MBAP header {head:02x?}")));
            }
            let mut pdu = vec![0u8; len - 1];
            self.read_exact_by(&mut pdu, deadline, timeout).await?;
            let got = u16::from_be_bytes([head[0], head[1]]);
            if got != tid {
                // A reply to an earlier request that timed out: skip it.
                metrics::counter!(MODBUS_ERRORS_TOTAL, "reason" => "late_reply").increment(1);
                continue;
            }
            if head[6] != unit {
                return Err(FrameError::Mismatch(format!(
                    "reply from unit {} to a request to unit {unit}",
                    head[6]
                ))
                .into());
            }
            return Ok(req.parse(&pdu)?);
        }
    }

    async fn transact_rtu(
        &mut self,
        unit: u8,
        req: &Request,
        timeout: Duration,
    ) -> Result<Response, ModbusError> {
        // Bytes that arrived while nobody asked (a late reply) are dropped before we ask.
        self.drain_pending();
        let out = frame::rtu_frame(unit, &req.pdu());
        let deadline = Instant::now() + timeout;
        self.write(&out, deadline, timeout).await?;
        if unit == 0 {
            // A broadcast: no answer; leave the line quiet before the next request.
            tokio::time::sleep(self.endpoint.quiet()).await;
            return Ok(Response::Broadcast);
        }
        self.buf.clear();
        let mut chunk = [0u8; 256];
        let result = loop {
            match frame::rtu_reply_len(&self.buf) {
                Some(usize::MAX) => {
                    break Err(FrameError::Malformed(format!(
                        "unknown function {:#04x}",
                        self.buf[1]
                    ))
                    .into())
                }
                Some(n) if self.buf.len() >= n => {
                    let reply = &self.buf[..n];
                    break frame::rtu_pdu(reply, unit)
                        .and_then(|pdu| req.parse(pdu))
                        .map_err(ModbusError::from);
                }
                Some(n) if n > 256 => {
                    break Err(FrameError::Malformed(format!("frame of {n} bytes")).into())
                }
                _ => {}
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.io.read(&mut chunk)).await {
                Err(_elapsed) => break Err(ModbusError::Timeout(timeout)),
                Ok(Ok(0)) => break Err(ModbusError::Io("serial port closed".into())),
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
                Ok(Err(e)) => break Err(ModbusError::Io(e.to_string())),
            }
        };
        match &result {
            Ok(_) => {
                let n = frame::rtu_reply_len(&self.buf).unwrap_or(0);
                let extra = self.buf.len() > n || (self.suspect && self.more_follows().await);
                if extra {
                    // Two frames where one was asked for: one of them is a late reply to an
                    // earlier request, and which one cannot be told. Refused; line cleared.
                    self.flush_input(Duration::ZERO).await;
                    self.suspect = true;
                    metrics::counter!(MODBUS_ERRORS_TOTAL, "reason" => "late_reply").increment(1);
                    return Err(FrameError::Mismatch(
                        "more data followed the reply (a late reply to an earlier request)".into(),
                    )
                    .into());
                }
                self.suspect = false;
            }
            Err(ModbusError::Io(_)) => {}
            Err(ModbusError::Timeout(_)) => {
                // A reply may still come: discard for one more deadline, then until quiet.
                self.flush_input(timeout).await;
                self.suspect = true;
            }
            Err(_) => {
                self.flush_input(Duration::ZERO).await;
                self.suspect = true;
            }
        }
        result
    }

    async fn write(
        &mut self,
        out: &[u8],
        deadline: Instant,
        timeout: Duration,
    ) -> Result<(), ModbusError> {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, async {
            self.io.write_all(out).await?;
            self.io.flush().await
        })
        .await
        {
            Err(_elapsed) => Err(ModbusError::Timeout(timeout)),
            Ok(Err(e)) => Err(ModbusError::Io(e.to_string())),
            Ok(Ok(())) => Ok(()),
        }
    }

    async fn read_exact_by(
        &mut self,
        buf: &mut [u8],
        deadline: Instant,
        timeout: Duration,
    ) -> Result<(), ModbusError> {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, self.io.read_exact(buf)).await {
            Err(_elapsed) => Err(ModbusError::Timeout(timeout)),
            Ok(Err(e)) => Err(ModbusError::Io(e.to_string())),
            Ok(Ok(_)) => Ok(()),
        }
    }

    /// Drops what is already readable without waiting.
    fn drain_pending(&mut self) {
        let waker = futures_util::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        let mut chunk = [0u8; 256];
        let mut dropped = 0u64;
        loop {
            let mut rb = tokio::io::ReadBuf::new(&mut chunk);
            match std::pin::Pin::new(&mut self.io).poll_read(&mut cx, &mut rb) {
                std::task::Poll::Ready(Ok(())) if !rb.filled().is_empty() => {
                    dropped += rb.filled().len() as u64;
                }
                _ => break,
            }
        }
        if dropped > 0 {
            metrics::counter!(MODBUS_FLUSHED_BYTES_TOTAL).increment(dropped);
        }
    }

    /// Whether more bytes arrive within a frame gap (RTU).
    async fn more_follows(&mut self) -> bool {
        let mut chunk = [0u8; 256];
        match tokio::time::timeout(self.endpoint.quiet() * 4, self.io.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            _ => false,
        }
    }

    /// Reads and drops input for at least `guard`, then until the line has been quiet for a
    /// frame gap (RTU) — the rest of a reply that came too late, or noise — so the next
    /// reply starts clean.
    async fn flush_input(&mut self, guard: Duration) {
        let quiet = match self.endpoint {
            Endpoint::Tcp { .. } => return,
            Endpoint::Rtu { .. } => self.endpoint.quiet() * 4,
        };
        let mut chunk = [0u8; 256];
        let mut dropped = 0u64;
        let started = Instant::now();
        let give_up = started + guard + Duration::from_millis(250);
        while Instant::now() < give_up {
            let wait = (started + guard)
                .saturating_duration_since(Instant::now())
                .max(quiet);
            match tokio::time::timeout(wait, self.io.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => dropped += n as u64,
                Ok(Ok(_) | Err(_)) => break,
                Err(_elapsed) if Instant::now() < started + guard => {}
                Err(_elapsed) => break,
            }
        }
        if dropped > 0 {
            metrics::counter!(MODBUS_FLUSHED_BYTES_TOTAL).increment(dropped);
        }
        self.buf.clear();
    }
}
