//! One simulated tracker: logs in, sends its buffered records, waits for the ACK and resends
//! what was not acknowledged, as a Teltonika device does.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use urbanstream_actors::teltonika::codec::{
    encode_avl_frame, encode_login, AvlRecord, CodecId, GpsElement, IoElement, IoValue, Priority,
};
use urbanstream_schema::Imei;

use super::route::{Bus, BusState};
use super::{Options, Progress};

/// What one device did.
#[derive(Debug, Clone, Default)]
pub struct DeviceReport {
    pub imei: Option<Imei>,
    /// Records sent at least once.
    pub sent: u64,
    pub acked: u64,
    /// Retransmissions of records sent before.
    pub resent: u64,
    pub frames: u64,
    /// ACK latency of each acknowledged frame, microseconds.
    pub latencies_us: Vec<u32>,
    /// Time from each connection attempt to its accepted login, microseconds.
    pub logins_us: Vec<u32>,
    /// Device time of the first and last acknowledged record.
    pub first_ts: Option<u64>,
    pub last_ts: Option<u64>,
    pub login_rejected: bool,
    pub errors: u64,
}

pub struct DeviceSpec {
    pub imei: Imei,
    pub bus: Arc<Bus>,
    /// Seconds into the line's timetable at start, so buses spread along it.
    pub offset_s: f64,
    pub fuel_start_l: f64,
    /// The local address to connect from (None: the system's choice).
    pub source: Option<std::net::IpAddr>,
}

struct Conn {
    stream: TcpStream,
}

enum ConnectError {
    Rejected,
    Io(std::io::Error),
}

async fn connect(
    target: SocketAddr,
    source: Option<std::net::IpAddr>,
    imei: Imei,
    timeout: Duration,
) -> Result<Conn, ConnectError> {
    let fut = async {
        let mut stream = match source {
            None => TcpStream::connect(target).await,
            Some(ip) => {
                let socket = if ip.is_ipv4() {
                    tokio::net::TcpSocket::new_v4()
                } else {
                    tokio::net::TcpSocket::new_v6()
                }
                .map_err(ConnectError::Io)?;
                socket
                    .bind(SocketAddr::new(ip, 0))
                    .map_err(ConnectError::Io)?;
                socket.connect(target).await
            }
        }
        .map_err(ConnectError::Io)?;
        stream.set_nodelay(true).map_err(ConnectError::Io)?;
        stream
            .write_all(&encode_login(imei))
            .await
            .map_err(ConnectError::Io)?;
        let reply = stream.read_u8().await.map_err(ConnectError::Io)?;
        if reply == 1 {
            Ok(Conn { stream })
        } else {
            Err(ConnectError::Rejected)
        }
    };
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r,
        Err(_elapsed) => Err(ConnectError::Io(std::io::ErrorKind::TimedOut.into())),
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The record a bus's tracker writes for a moment.
pub fn record_at(spec: &DeviceSpec, state: &BusState, ts: u64, codec: CodecId) -> AvlRecord {
    let moving = state.speed_kmh > 0.5;
    let consumed_l = state.distance_m / 1000.0 * 0.35;
    let fuel_l = (spec.fuel_start_l - consumed_l).max(0.0);
    let rpm = if moving {
        900.0 + state.speed_kmh * 22.0
    } else {
        700.0
    };
    let io = vec![
        IoElement {
            id: 239,
            value: IoValue::U8(1),
        },
        IoElement {
            id: 240,
            value: IoValue::U8(u8::from(moving)),
        },
        IoElement {
            id: 21,
            value: IoValue::U8(4),
        },
        IoElement {
            id: 81,
            value: IoValue::U8(state.speed_kmh.round() as u8),
        },
        IoElement {
            id: 82,
            value: IoValue::U8(if moving { 30 } else { 0 }),
        },
        IoElement {
            id: 89,
            value: IoValue::U8((fuel_l / spec.fuel_start_l * 100.0).round() as u8),
        },
        IoElement {
            id: 90,
            value: IoValue::U8(if state.doors_open { 0b11 } else { 0 }),
        },
        IoElement {
            id: 66,
            value: IoValue::U16(27_600),
        },
        IoElement {
            id: 67,
            value: IoValue::U16(4_100),
        },
        IoElement {
            id: 182,
            value: IoValue::U16(8),
        },
        IoElement {
            id: 24,
            value: IoValue::U16(state.speed_kmh.round() as u16),
        },
        IoElement {
            id: 84,
            value: IoValue::U16((fuel_l * 10.0).round() as u16),
        },
        IoElement {
            id: 85,
            value: IoValue::U16(rpm.round() as u16),
        },
        IoElement {
            id: 115,
            value: IoValue::U16(880),
        },
        IoElement {
            id: 16,
            value: IoValue::U32(state.distance_m.round() as u32),
        },
        IoElement {
            id: 83,
            value: IoValue::U32((consumed_l * 10.0).round() as u32),
        },
        IoElement {
            id: 87,
            value: IoValue::U32(120_000_000 + state.distance_m.round() as u32),
        },
    ];
    AvlRecord {
        timestamp_ms: ts,
        priority: Priority::Low,
        gps: GpsElement {
            longitude: (state.lon * 1e7).round() as i32,
            latitude: (state.lat * 1e7).round() as i32,
            altitude: 163,
            angle: state.heading.round() as u16 % 360,
            satellites: 11,
            speed: state.speed_kmh.round() as u16,
        },
        event_io_id: if state.doors_open { 90 } else { 0 },
        generation_type: (codec == CodecId::Codec16).then_some(if state.doors_open {
            5
        } else {
            7
        }),
        io,
    }
}

/// Runs one device until `deadline`, then tries to get its buffer acknowledged until
/// `drain_deadline`.
pub async fn run(
    spec: DeviceSpec,
    opts: Arc<Options>,
    progress: Arc<Progress>,
    deadline: Instant,
    drain_deadline: Instant,
    sent_at: Option<super::SentAt>,
) -> DeviceReport {
    let mut report = DeviceReport {
        imei: Some(spec.imei),
        ..DeviceReport::default()
    };
    let interval = opts.send_interval;
    let stagger =
        Duration::from_secs_f64(rand::rng().random_range(0.0..interval.as_secs_f64().max(0.001)));
    tokio::time::sleep(stagger).await;
    if opts.rate == 0.0 {
        return hold_idle(spec, &opts, &progress, deadline, report).await;
    }

    let start = Instant::now();
    let start_ms = now_ms();
    let mut generated: u64 = 0;
    let mut last_ts: u64 = 0;
    let mut pending: VecDeque<AvlRecord> = VecDeque::new();
    // How many records at the front of `pending` were sent at least once.
    let mut sent_before: usize = 0;
    let mut conn: Option<Conn> = None;
    let mut backoff = Duration::from_millis(100);
    let mut next_tick = Instant::now();

    loop {
        let now = Instant::now();
        if now >= drain_deadline || (now >= deadline && pending.is_empty()) {
            break;
        }
        if now < deadline {
            let due = (now.duration_since(start).as_secs_f64() * opts.rate).floor() as u64;
            while generated < due && pending.len() < opts.buffer_records {
                let sim_s = generated as f64 / opts.rate;
                let ts = (start_ms + (sim_s * 1000.0) as u64).max(last_ts + 1);
                last_ts = ts;
                let state = spec.bus.at(spec.offset_s + sim_s);
                pending.push_back(record_at(&spec, &state, ts, opts.codec));
                generated += 1;
            }
        }
        if !pending.is_empty() {
            if conn.is_none() {
                match log_in(&spec, &opts, &progress, &mut report, &mut backoff).await {
                    Attempt::Up(c) => conn = Some(c),
                    Attempt::Rejected => break,
                    Attempt::Retry => continue,
                }
            }
            let n = pending.len().min(opts.max_records_per_frame);
            let batch: Vec<AvlRecord> = pending.iter().take(n).cloned().collect();
            let frame = match encode_avl_frame(opts.codec, &batch) {
                Ok(f) => f,
                Err(e) => {
                    tracing::error!("simulator built an unencodable record: {e}");
                    break;
                }
            };
            let fresh = n.saturating_sub(sent_before) as u64;
            let again = n.min(sent_before) as u64;
            report.sent += fresh;
            report.resent += again;
            progress.sent.fetch_add(fresh, Ordering::Relaxed);
            progress.resent.fetch_add(again, Ordering::Relaxed);
            sent_before = sent_before.max(n);
            if let Some(s) = &sent_at {
                s.record(spec.imei, batch[n - 1].timestamp_ms);
            }
            let written_at = Instant::now();
            let result = match conn.as_mut() {
                Some(c) => exchange(&mut c.stream, &frame, opts.ack_timeout).await,
                None => Err(std::io::ErrorKind::NotConnected.into()),
            };
            match result {
                Ok(ack) if ack as usize == n => {
                    let us = written_at.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                    report.latencies_us.push(us);
                    report.frames += 1;
                    report.acked += n as u64;
                    progress.acked.fetch_add(n as u64, Ordering::Relaxed);
                    report.first_ts.get_or_insert(batch[0].timestamp_ms);
                    report.last_ts = Some(batch[n - 1].timestamp_ms);
                    pending.drain(..n);
                    sent_before -= n;
                    // More buffered than one frame holds: send the rest right away.
                    if pending.len() >= opts.max_records_per_frame {
                        continue;
                    }
                }
                Ok(ack) => {
                    // A count other than what was sent: the device keeps the packet and resends it.
                    tracing::debug!(imei = %spec.imei, ack, n, "partial ACK; resending");
                }
                Err(e) => {
                    tracing::debug!(imei = %spec.imei, "exchange failed: {e}; reconnecting");
                    report.errors += 1;
                    progress.errors.fetch_add(1, Ordering::Relaxed);
                    progress.connected.fetch_sub(1, Ordering::Relaxed);
                    conn = None;
                    continue;
                }
            }
        }
        next_tick += interval;
        let now = Instant::now();
        if next_tick < now {
            next_tick = now;
        }
        let wake = if now < deadline {
            next_tick.min(deadline)
        } else {
            next_tick
        };
        tokio::time::sleep_until(wake.into()).await;
    }
    if conn.take().is_some() {
        progress.connected.fetch_sub(1, Ordering::Relaxed);
    }
    report
}

/// An idle tracker: logs in and stays connected, sending nothing, until `deadline`.
async fn hold_idle(
    spec: DeviceSpec,
    opts: &Options,
    progress: &Progress,
    deadline: Instant,
    mut report: DeviceReport,
) -> DeviceReport {
    let mut backoff = Duration::from_millis(100);
    while Instant::now() < deadline {
        match log_in(&spec, opts, progress, &mut report, &mut backoff).await {
            Attempt::Up(mut c) => {
                // The server says nothing to an idle tracker; a read that ends is a close.
                let mut byte = [0u8; 1];
                let closed =
                    tokio::time::timeout_at(deadline.into(), c.stream.read(&mut byte)).await;
                progress.connected.fetch_sub(1, Ordering::Relaxed);
                if closed.is_err() {
                    break;
                }
                report.errors += 1;
                progress.errors.fetch_add(1, Ordering::Relaxed);
            }
            Attempt::Rejected => break,
            Attempt::Retry => {}
        }
    }
    report
}

/// How one login attempt went.
enum Attempt {
    Up(Conn),
    /// The server refused the IMEI: the device gives up.
    Rejected,
    /// It failed and was waited out (`backoff`, doubled for the next one): try again.
    Retry,
}

/// One login attempt, counted in the report and the live progress.
async fn log_in(
    spec: &DeviceSpec,
    opts: &Options,
    progress: &Progress,
    report: &mut DeviceReport,
    backoff: &mut Duration,
) -> Attempt {
    let attempt = Instant::now();
    match connect(opts.target, spec.source, spec.imei, opts.ack_timeout).await {
        Ok(c) => {
            let us = attempt.elapsed().as_micros().min(u128::from(u32::MAX));
            report.logins_us.push(us as u32);
            progress.connected.fetch_add(1, Ordering::Relaxed);
            *backoff = Duration::from_millis(100);
            Attempt::Up(c)
        }
        Err(ConnectError::Rejected) => {
            report.login_rejected = true;
            progress.rejected.fetch_add(1, Ordering::Relaxed);
            Attempt::Rejected
        }
        Err(ConnectError::Io(e)) => {
            report.errors += 1;
            progress.errors.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(imei = %spec.imei, "connect failed: {e}");
            tokio::time::sleep(*backoff).await;
            *backoff = (*backoff * 2).min(Duration::from_secs(5));
            Attempt::Retry
        }
    }
}

async fn exchange(stream: &mut TcpStream, frame: &[u8], timeout: Duration) -> std::io::Result<u32> {
    let fut = async {
        stream.write_all(frame).await?;
        stream.read_u32().await
    };
    tokio::time::timeout(timeout, fut)
        .await
        .unwrap_or_else(|_elapsed| Err(std::io::ErrorKind::TimedOut.into()))
}
