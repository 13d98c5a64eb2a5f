//! The Modbus link over a real serial line (two pseudo-terminals joined by socat) against a
//! scripted device: a late reply is never taken for the next request's, and bad CRCs and
//! exceptions are errors of their own, the link usable after each.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_serial::SerialPortBuilderExt;
use urbanstream_actors::modbus::frame::{crc16, rtu_frame, FrameError, Request, Response};
use urbanstream_actors::modbus::link::{Endpoint, Link, ModbusError};

struct Line {
    socat: std::process::Child,
    dir: PathBuf,
}

impl Drop for Line {
    fn drop(&mut self) {
        let _ = self.socat.kill();
        let _ = self.socat.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// (line, host end, device end)
fn line() -> (Line, String, String) {
    let dir = std::env::temp_dir().join(format!(
        "urbanstream-link-{}-{:?}",
        std::process::id(),
        Instant::now()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("host"), dir.join("device"));
    let socat = std::process::Command::new("socat")
        .arg(format!("pty,raw,echo=0,link={}", a.display()))
        .arg(format!("pty,raw,echo=0,link={}", b.display()))
        .spawn()
        .expect("socat (scripts/test.sh installs it)");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !(a.exists() && b.exists()) {
        assert!(Instant::now() < deadline, "socat made no pty pair");
        std::thread::sleep(Duration::from_millis(20));
    }
    (
        Line { socat, dir },
        a.display().to_string(),
        b.display().to_string(),
    )
}

fn registers(unit: u8, value: u16) -> Vec<u8> {
    let [hi, lo] = value.to_be_bytes();
    rtu_frame(unit, &[0x04, 2, hi, lo])
}

/// What the device does with the n-th request it reads.
enum Act {
    ReplyAfter(Duration, Vec<u8>),
}

/// A device that reads one 8-byte request at a time and acts on it as scripted.
fn device(path: String, script: Vec<Act>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut port = tokio_serial::new(&path, 115_200)
            .open_native_async()
            .unwrap();
        for act in script {
            let mut req = [0u8; 8];
            port.read_exact(&mut req).await.unwrap();
            assert_eq!(crc16(&req[..6]).to_le_bytes(), [req[6], req[7]]);
            let Act::ReplyAfter(wait, bytes) = act;
            tokio::time::sleep(wait).await;
            port.write_all(&bytes).await.unwrap();
            port.flush().await.unwrap();
        }
    })
}

async fn open(path: String) -> Link {
    let endpoint = Endpoint::Rtu {
        path,
        baud: 115_200,
        parity: 'N',
        stop_bits: 1,
    };
    Link::open(&endpoint, Duration::from_secs(1)).await.unwrap()
}

const READ: Request = Request::ReadInputRegisters { addr: 0, count: 1 };

#[tokio::test]
async fn a_late_reply_is_never_taken_for_the_next_request() {
    let (_line, host, dev) = line();
    let device = device(
        dev,
        vec![
            // Answers the first request long after its deadline, then the second at once:
            // the two replies reach the host back to back.
            Act::ReplyAfter(Duration::from_millis(150), registers(1, 111)),
            Act::ReplyAfter(Duration::ZERO, registers(1, 222)),
            Act::ReplyAfter(Duration::ZERO, registers(1, 333)),
        ],
    );
    let mut link = open(host).await;
    let first = link.transact(1, &READ, Duration::from_millis(50)).await;
    assert!(matches!(first, Err(ModbusError::Timeout(_))), "{first:?}");
    let second = link.transact(1, &READ, Duration::from_millis(500)).await;
    assert_ne!(
        second,
        Ok(Response::Registers(vec![111])),
        "the first request's late reply was taken for the second's"
    );
    assert!(second.is_err(), "ambiguous replies are refused: {second:?}");
    let third = link.transact(1, &READ, Duration::from_millis(500)).await;
    assert_eq!(third, Ok(Response::Registers(vec![333])));
    device.await.unwrap();
}

#[tokio::test]
async fn bad_crc_and_exceptions_are_errors_and_the_link_goes_on() {
    let (_line, host, dev) = line();
    let mut corrupt = registers(1, 7);
    corrupt[3] ^= 0xFF;
    let device = device(
        dev,
        vec![
            Act::ReplyAfter(Duration::ZERO, corrupt),
            Act::ReplyAfter(Duration::ZERO, rtu_frame(1, &[0x84, 0x02])),
            Act::ReplyAfter(Duration::ZERO, registers(2, 9)),
            Act::ReplyAfter(Duration::ZERO, registers(1, 42)),
        ],
    );
    let mut link = open(host).await;
    let t = Duration::from_millis(300);
    assert_eq!(
        link.transact(1, &READ, t).await,
        Err(ModbusError::Frame(FrameError::Crc))
    );
    assert_eq!(
        link.transact(1, &READ, t).await,
        Err(ModbusError::Frame(FrameError::Exception(2)))
    );
    // A reply from another unit is not this one's answer.
    assert!(matches!(
        link.transact(1, &READ, t).await,
        Err(ModbusError::Frame(FrameError::Mismatch(_)))
    ));
    assert_eq!(
        link.transact(1, &READ, t).await,
        Ok(Response::Registers(vec![42]))
    );
    device.await.unwrap();
}
