//! Modbus application data units: requests and responses (PDU), RTU framing with its
//! CRC-16 and Modbus TCP framing with its MBAP header. Pure: no I/O.

/// A request this master sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    ReadCoils {
        addr: u16,
        count: u16,
    },
    ReadDiscreteInputs {
        addr: u16,
        count: u16,
    },
    ReadHoldingRegisters {
        addr: u16,
        count: u16,
    },
    ReadInputRegisters {
        addr: u16,
        count: u16,
    },
    WriteSingleCoil {
        addr: u16,
        on: bool,
    },
    WriteSingleRegister {
        addr: u16,
        value: u16,
    },
    WriteMultipleRegisters {
        addr: u16,
        values: Vec<u16>,
    },
    /// FC 43 / MEI 14, basic device identification (vendor, product code, revision).
    ReadDeviceIdentification,
}

/// A device's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    Bits(Vec<bool>),
    Registers(Vec<u16>),
    /// A write echoed (address and value or count).
    Written {
        addr: u16,
        value: u16,
    },
    /// Device identification objects (id, value).
    Identification(Vec<(u8, String)>),
    /// A broadcast: no device answers one.
    Broadcast,
}

/// Why a reply is not the answer to the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("bad CRC")]
    Crc,
    #[error("exception {0:#04x} ({name})", name = exception_name(*.0))]
    Exception(u8),
    #[error("reply does not match the request: {0}")]
    Mismatch(String),
    #[error("malformed reply: {0}")]
    Malformed(String),
}

impl FrameError {
    /// Bounded, for metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Crc => "crc",
            Self::Exception(_) => "exception",
            Self::Mismatch(_) => "mismatch",
            Self::Malformed(_) => "malformed",
        }
    }
}

pub fn exception_name(code: u8) -> &'static str {
    match code {
        1 => "illegal function",
        2 => "illegal data address",
        3 => "illegal data value",
        4 => "server device failure",
        5 => "acknowledge",
        6 => "server device busy",
        0x0B => "gateway target failed to respond",
        _ => "other",
    }
}

impl Request {
    pub fn function(&self) -> u8 {
        match self {
            Self::ReadCoils { .. } => 0x01,
            Self::ReadDiscreteInputs { .. } => 0x02,
            Self::ReadHoldingRegisters { .. } => 0x03,
            Self::ReadInputRegisters { .. } => 0x04,
            Self::WriteSingleCoil { .. } => 0x05,
            Self::WriteSingleRegister { .. } => 0x06,
            Self::WriteMultipleRegisters { .. } => 0x10,
            Self::ReadDeviceIdentification => 0x2B,
        }
    }

    /// The protocol data unit: function code and data.
    pub fn pdu(&self) -> Vec<u8> {
        let mut p = vec![self.function()];
        match self {
            Self::ReadCoils { addr, count }
            | Self::ReadDiscreteInputs { addr, count }
            | Self::ReadHoldingRegisters { addr, count }
            | Self::ReadInputRegisters { addr, count } => {
                p.extend_from_slice(&addr.to_be_bytes());
                p.extend_from_slice(&count.to_be_bytes());
            }
            Self::WriteSingleCoil { addr, on } => {
                p.extend_from_slice(&addr.to_be_bytes());
                p.extend_from_slice(if *on { &[0xFF, 0x00] } else { &[0x00, 0x00] });
            }
            Self::WriteSingleRegister { addr, value } => {
                p.extend_from_slice(&addr.to_be_bytes());
                p.extend_from_slice(&value.to_be_bytes());
            }
            Self::WriteMultipleRegisters { addr, values } => {
                p.extend_from_slice(&addr.to_be_bytes());
                p.extend_from_slice(&(values.len() as u16).to_be_bytes());
                p.push((values.len() * 2) as u8);
                for v in values {
                    p.extend_from_slice(&v.to_be_bytes());
                }
            }
            Self::ReadDeviceIdentification => p.extend_from_slice(&[0x0E, 0x01, 0x00]),
        }
        p
    }

    /// Parses the reply PDU (function code first) to this request.
    pub fn parse(&self, pdu: &[u8]) -> Result<Response, FrameError> {
        let Some(&fc) = pdu.first() else {
            return Err(FrameError::Malformed("empty".into()));
        };
        if fc == self.function() | 0x80 {
            return Err(FrameError::Exception(pdu.get(1).copied().unwrap_or(0)));
        }
        if fc != self.function() {
            return Err(FrameError::Mismatch(format!(
                "function {fc:#04x} to a {:#04x} request",
                self.function()
            )));
        }
        let short = || FrameError::Malformed(format!("{} bytes for function {fc:#04x}", pdu.len()));
        match self {
            Self::ReadCoils { count, .. } | Self::ReadDiscreteInputs { count, .. } => {
                let n = usize::from(*pdu.get(1).ok_or_else(short)?);
                let data = pdu.get(2..2 + n).ok_or_else(short)?;
                if n != usize::from(count.div_ceil(8)) {
                    return Err(FrameError::Mismatch(format!("{n} bytes for {count} bits")));
                }
                Ok(Response::Bits(
                    (0..usize::from(*count))
                        .map(|i| data[i / 8] & (1 << (i % 8)) != 0)
                        .collect(),
                ))
            }
            Self::ReadHoldingRegisters { count, .. } | Self::ReadInputRegisters { count, .. } => {
                let n = usize::from(*pdu.get(1).ok_or_else(short)?);
                let data = pdu.get(2..2 + n).ok_or_else(short)?;
                if n != usize::from(*count) * 2 {
                    return Err(FrameError::Mismatch(format!(
                        "{n} bytes for {count} registers"
                    )));
                }
                Ok(Response::Registers(
                    data.chunks_exact(2)
                        .map(|c| u16::from_be_bytes([c[0], c[1]]))
                        .collect(),
                ))
            }
            Self::WriteSingleCoil { addr, .. }
            | Self::WriteSingleRegister { addr, .. }
            | Self::WriteMultipleRegisters { addr, .. } => {
                let data = pdu.get(1..5).ok_or_else(short)?;
                let echoed = u16::from_be_bytes([data[0], data[1]]);
                if echoed != *addr {
                    return Err(FrameError::Mismatch(format!(
                        "write to {echoed} echoed for {addr}"
                    )));
                }
                Ok(Response::Written {
                    addr: echoed,
                    value: u16::from_be_bytes([data[2], data[3]]),
                })
            }
            Self::ReadDeviceIdentification => {
                // MEI type, read code, conformity, more follows, next object id, count.
                let head = pdu.get(1..7).ok_or_else(short)?;
                if head[0] != 0x0E {
                    return Err(FrameError::Mismatch("not a device identification".into()));
                }
                let mut objects = Vec::new();
                let mut at = 7;
                for _ in 0..head[5] {
                    let id = *pdu.get(at).ok_or_else(short)?;
                    let len = usize::from(*pdu.get(at + 1).ok_or_else(short)?);
                    let value = pdu.get(at + 2..at + 2 + len).ok_or_else(short)?;
                    objects.push((id, String::from_utf8_lossy(value).into_owned()));
                    at += 2 + len;
                }
                Ok(Response::Identification(objects))
            }
        }
    }
}

/// CRC-16/MODBUS (polynomial 0xA001 reflected, initial 0xFFFF).
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &b in data {
        crc ^= u16::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// An RTU frame: unit, PDU, CRC (low byte first).
pub fn rtu_frame(unit: u8, pdu: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(pdu.len() + 3);
    f.push(unit);
    f.extend_from_slice(pdu);
    let crc = crc16(&f);
    f.extend_from_slice(&crc.to_le_bytes());
    f
}

/// The length of the RTU reply frame starting at `buf[0]`, once enough of it is there to
/// tell; `None` until then.
pub fn rtu_reply_len(buf: &[u8]) -> Option<usize> {
    let fc = *buf.get(1)?;
    if fc & 0x80 != 0 {
        return Some(5);
    }
    match fc {
        0x01..=0x04 => Some(3 + usize::from(*buf.get(2)?) + 2),
        0x05 | 0x06 | 0x0F | 0x10 => Some(8),
        0x2B => {
            // unit fc mei code conformity more next count, then (id len value)*.
            let count = *buf.get(7)?;
            let mut at = 8;
            for _ in 0..count {
                let len = usize::from(*buf.get(at + 1)?);
                at += 2 + len;
            }
            Some(at + 2)
        }
        // Unknown function: the frame cannot be delimited; the caller flushes.
        _ => Some(usize::MAX),
    }
}

/// Checks an RTU reply frame's CRC and unit; returns its PDU.
pub fn rtu_pdu(frame: &[u8], unit: u8) -> Result<&[u8], FrameError> {
    if frame.len() < 4 {
        return Err(FrameError::Malformed(format!("{} bytes", frame.len())));
    }
    let (body, crc) = frame.split_at(frame.len() - 2);
    if crc16(body) != u16::from_le_bytes([crc[0], crc[1]]) {
        return Err(FrameError::Crc);
    }
    if body[0] != unit {
        return Err(FrameError::Mismatch(format!(
            "reply from unit {} to a request to unit {unit}",
            body[0]
        )));
    }
    Ok(&body[1..])
}

/// A Modbus TCP frame: MBAP header (transaction, protocol 0, length, unit) and PDU.
pub fn tcp_frame(transaction: u16, unit: u8, pdu: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(pdu.len() + 7);
    f.extend_from_slice(&transaction.to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&((pdu.len() + 1) as u16).to_be_bytes());
    f.push(unit);
    f.extend_from_slice(pdu);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_of_the_specifications_example() {
        // The serial line guide's example: read 3 holding registers from 0x006B of unit 1;
        // its CRC is 0x1774, sent low byte first.
        let f = rtu_frame(
            1,
            &Request::ReadHoldingRegisters {
                addr: 0x6B,
                count: 3,
            }
            .pdu(),
        );
        assert_eq!(f, vec![0x01, 0x03, 0x00, 0x6B, 0x00, 0x03, 0x74, 0x17]);
        assert_eq!(crc16(b"123456789"), 0x4B37);
    }

    #[test]
    fn replies_are_delimited_checked_and_parsed() {
        let req = Request::ReadInputRegisters { addr: 0, count: 2 };
        let reply = rtu_frame(7, &[0x04, 4, 0x00, 0x2A, 0x12, 0x34]);
        assert_eq!(rtu_reply_len(&reply[..2]), None);
        assert_eq!(rtu_reply_len(&reply[..3]), Some(reply.len()));
        let pdu = rtu_pdu(&reply, 7).unwrap();
        assert_eq!(req.parse(pdu), Ok(Response::Registers(vec![42, 0x1234])));
        // Wrong unit, bad CRC, a count that is not the request's.
        assert!(matches!(rtu_pdu(&reply, 8), Err(FrameError::Mismatch(_))));
        let mut bad = reply.clone();
        bad[3] ^= 1;
        assert_eq!(rtu_pdu(&bad, 7), Err(FrameError::Crc));
        let other = Request::ReadInputRegisters { addr: 0, count: 3 };
        assert!(matches!(other.parse(pdu), Err(FrameError::Mismatch(_))));
        // An exception.
        let ex = rtu_frame(7, &[0x84, 0x02]);
        assert_eq!(rtu_reply_len(&ex), Some(5));
        assert_eq!(
            req.parse(rtu_pdu(&ex, 7).unwrap()),
            Err(FrameError::Exception(2))
        );
    }

    #[test]
    fn writes_and_bits() {
        let coil = Request::WriteSingleCoil { addr: 0, on: true };
        assert_eq!(coil.pdu(), vec![0x05, 0, 0, 0xFF, 0]);
        assert_eq!(
            coil.parse(&[0x05, 0, 0, 0xFF, 0]),
            Ok(Response::Written {
                addr: 0,
                value: 0xFF00
            })
        );
        let regs = Request::WriteMultipleRegisters {
            addr: 100,
            values: vec![1, 3, 0, 9],
        };
        assert_eq!(
            regs.pdu(),
            vec![0x10, 0, 100, 0, 4, 8, 0, 1, 0, 3, 0, 0, 0, 9]
        );
        assert_eq!(
            regs.parse(&[0x10, 0, 100, 0, 4]),
            Ok(Response::Written {
                addr: 100,
                value: 4
            })
        );
        let bits = Request::ReadDiscreteInputs { addr: 0, count: 4 };
        assert_eq!(
            bits.parse(&[0x02, 1, 0b0000_0101]),
            Ok(Response::Bits(vec![true, false, true, false]))
        );
        let tcp = tcp_frame(0x0102, 3, &coil.pdu());
        assert_eq!(tcp, vec![1, 2, 0, 0, 0, 6, 3, 0x05, 0, 0, 0xFF, 0]);
    }

    #[test]
    fn device_identification() {
        let req = Request::ReadDeviceIdentification;
        let mut pdu = vec![0x2B, 0x0E, 0x01, 0x01, 0x00, 0x00, 2];
        pdu.extend_from_slice(&[0, 4]);
        pdu.extend_from_slice(b"ACME");
        pdu.extend_from_slice(&[1, 3]);
        pdu.extend_from_slice(b"OHT");
        let frame = rtu_frame(1, &pdu);
        assert_eq!(rtu_reply_len(&frame), Some(frame.len()));
        assert_eq!(
            req.parse(rtu_pdu(&frame, 1).unwrap()),
            Ok(Response::Identification(vec![
                (0, "ACME".into()),
                (1, "OHT".into())
            ]))
        );
    }
}
