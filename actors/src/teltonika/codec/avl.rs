//! AVL data: Codec 8, Codec 8 Extended and Codec 16 records, decode and encode.

use serde::Serialize;

use super::crc::crc16_ibm;
use super::error::{DecodeError, DecodeErrorKind, EncodeError};
use super::reader::Reader;

/// The AVL codecs a tracker may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum CodecId {
    #[serde(rename = "8")]
    Codec8,
    #[serde(rename = "8E")]
    Codec8Ext,
    #[serde(rename = "16")]
    Codec16,
}

impl CodecId {
    pub fn id(self) -> u8 {
        match self {
            Self::Codec8 => 0x08,
            Self::Codec8Ext => 0x8E,
            Self::Codec16 => 0x10,
        }
    }

    pub fn from_id(id: u8) -> Option<Self> {
        match id {
            0x08 => Some(Self::Codec8),
            0x8E => Some(Self::Codec8Ext),
            0x10 => Some(Self::Codec16),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Codec8 => "codec8",
            Self::Codec8Ext => "codec8e",
            Self::Codec16 => "codec16",
        }
    }
}

/// Record priority as the device assigns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    High,
    Panic,
}

impl Priority {
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(Self::Low),
            1 => Some(Self::High),
            2 => Some(Self::Panic),
            _ => None,
        }
    }

    pub fn byte(self) -> u8 {
        match self {
            Self::Low => 0,
            Self::High => 1,
            Self::Panic => 2,
        }
    }
}

/// The GPS element, kept as sent (degrees × 10⁷) so that it round-trips exactly. A position
/// off the globe is the adapter's to drop: the record's other values are still good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GpsElement {
    pub longitude: i32,
    pub latitude: i32,
    pub altitude: i16,
    pub angle: u16,
    pub satellites: u8,
    pub speed: u16,
}

impl GpsElement {
    pub fn latitude_deg(&self) -> f64 {
        f64::from(self.latitude) / 1e7
    }

    pub fn longitude_deg(&self) -> f64 {
        f64::from(self.longitude) / 1e7
    }

    /// A record without a fix carries the last known position with satellites = 0.
    pub fn valid(&self) -> bool {
        self.satellites > 0
    }
}

impl Serialize for GpsElement {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("GpsElement", 7)?;
        s.serialize_field("lat", &self.latitude_deg())?;
        s.serialize_field("lon", &self.longitude_deg())?;
        s.serialize_field("altitude", &self.altitude)?;
        s.serialize_field("angle", &self.angle)?;
        s.serialize_field("satellites", &self.satellites)?;
        s.serialize_field("speed_kmh", &self.speed)?;
        s.serialize_field("valid", &self.valid())?;
        s.end()
    }
}

/// One IO element value, by its width on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IoValue {
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    /// A 16-byte element, sent only by devices with 16-byte IO elements switched on
    /// ([`DecodeOptions::sixteen_byte_io`]); kept raw.
    B16([u8; 16]),
    /// Variable-length (NX) element, Codec 8 Extended only.
    Bytes(Vec<u8>),
}

impl IoValue {
    /// The unsigned integer value of a fixed-width element.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Self::U8(v) => Some(v.into()),
            Self::U16(v) => Some(v.into()),
            Self::U32(v) => Some(v.into()),
            Self::U64(v) => Some(v),
            Self::B16(_) | Self::Bytes(_) => None,
        }
    }

    /// The bytes of a value that is not an integer (16-byte and variable-length elements).
    pub fn raw_bytes(&self) -> Option<&[u8]> {
        match self {
            Self::B16(b) => Some(b),
            Self::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The value read as a two's complement signed integer of its own width.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Self::U8(v) => Some((v as i8).into()),
            Self::U16(v) => Some((v as i16).into()),
            Self::U32(v) => Some((v as i32).into()),
            Self::U64(v) => Some(v as i64),
            Self::B16(_) | Self::Bytes(_) => None,
        }
    }

    pub(crate) fn width_group(&self) -> usize {
        match self {
            Self::U8(_) => 0,
            Self::U16(_) => 1,
            Self::U32(_) => 2,
            Self::U64(_) => 3,
            Self::B16(_) => 4,
            Self::Bytes(_) => 5,
        }
    }
}

impl Serialize for IoValue {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.raw_bytes() {
            Some(b) => {
                let hex: String = b.iter().map(|x| format!("{x:02X}")).collect();
                serializer.serialize_str(&hex)
            }
            None => serializer.serialize_u64(self.as_u64().unwrap_or_default()),
        }
    }
}

/// One IO element: AVL id and value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IoElement {
    pub id: u16,
    pub value: IoValue,
}

/// One AVL record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AvlRecord {
    /// Milliseconds since 1970-01-01 UTC, device time.
    pub timestamp_ms: u64,
    pub priority: Priority,
    pub gps: GpsElement,
    /// IO id that triggered the record; 0 when not generated on an event.
    pub event_io_id: u16,
    /// Codec 16 only.
    pub generation_type: Option<u8>,
    /// Elements in wire order: 1-, 2-, 4-, 8-, 16-byte, then variable-length groups.
    pub io: Vec<IoElement>,
}

/// A decoded AVL packet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AvlPacket {
    pub codec: CodecId,
    pub records: Vec<AvlRecord>,
}

/// How a device's frames are read beyond what the codec id says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Records carry one more IO group after the 8-byte one: a count, then elements of an id
    /// and a 16-byte value, ids and count as wide as the codec's others (1 byte each in
    /// Codec 8). FMB firmware writes it with its "extended" records setting; nothing in the
    /// frame says so, hence a per-model option of the IO profile.
    pub sixteen_byte_io: bool,
}

/// Per-codec widths of the record's header fields and IO ids and counts.
#[derive(Clone, Copy)]
struct Layout {
    wide_ids: bool,
    wide_counts: bool,
    wide_event: bool,
    generation_type: bool,
    nx: bool,
}

impl Layout {
    fn of(codec: CodecId) -> Self {
        match codec {
            CodecId::Codec8 => Wire8::LAYOUT,
            CodecId::Codec8Ext => Wire8Ext::LAYOUT,
            CodecId::Codec16 => Wire16::LAYOUT,
        }
    }

    #[inline(always)]
    fn count(self, r: &mut Reader<'_>, what: &'static str) -> Result<usize, DecodeError> {
        if self.wide_counts {
            r.u16(what).map(usize::from)
        } else {
            r.u8(what).map(usize::from)
        }
    }

    #[inline(always)]
    fn id(self, r: &mut Reader<'_>) -> Result<u16, DecodeError> {
        if self.wide_ids {
            r.u16("IO id")
        } else {
            r.u8("IO id").map(u16::from)
        }
    }
}

/// A codec's layout as a type, so that the record decoder is compiled once per codec with
/// every width known at compile time.
trait Wire {
    const LAYOUT: Layout;
}

struct Wire8;
struct Wire8Ext;
struct Wire16;

impl Wire for Wire8 {
    const LAYOUT: Layout = Layout {
        wide_ids: false,
        wide_counts: false,
        wide_event: false,
        generation_type: false,
        nx: false,
    };
}

impl Wire for Wire8Ext {
    const LAYOUT: Layout = Layout {
        wide_ids: true,
        wide_counts: true,
        wide_event: true,
        generation_type: false,
        nx: true,
    };
}

impl Wire for Wire16 {
    const LAYOUT: Layout = Layout {
        wide_ids: true,
        wide_counts: false,
        wide_event: true,
        generation_type: true,
        nx: false,
    };
}

/// Smallest record on the wire (codec 8, no IO): 8+1+15+1+1+4 counts.
const MIN_RECORD_LEN: usize = 30;

/// Decodes the AVL data field: codec id, count, records, count. Used by TCP and UDP.
pub(crate) fn decode_avl_data(
    r: &mut Reader<'_>,
    opts: DecodeOptions,
) -> Result<AvlPacket, DecodeError> {
    let codec_offset = r.offset();
    let codec_byte = r.u8("codec id")?;
    let codec = CodecId::from_id(codec_byte)
        .ok_or_else(|| DecodeError::new(codec_offset, DecodeErrorKind::UnknownCodec(codec_byte)))?;
    let first = r.u8("record count")?;
    // Bounded by the bytes present, whatever the count says.
    let mut records = Vec::with_capacity(usize::from(first).min(r.remaining() / MIN_RECORD_LEN));
    for _ in 0..first {
        records.push(match (codec, opts.sixteen_byte_io) {
            (CodecId::Codec8, false) => decode_record::<Wire8, false>(r)?,
            (CodecId::Codec8, true) => decode_record::<Wire8, true>(r)?,
            (CodecId::Codec8Ext, false) => decode_record::<Wire8Ext, false>(r)?,
            (CodecId::Codec8Ext, true) => decode_record::<Wire8Ext, true>(r)?,
            (CodecId::Codec16, false) => decode_record::<Wire16, false>(r)?,
            (CodecId::Codec16, true) => decode_record::<Wire16, true>(r)?,
        });
    }
    let second_offset = r.offset();
    let second = r.u8("second record count")?;
    if first != second {
        return Err(DecodeError::new(
            second_offset,
            DecodeErrorKind::CountMismatch { first, second },
        ));
    }
    Ok(AvlPacket { codec, records })
}

fn decode_record<W: Wire, const B16: bool>(r: &mut Reader<'_>) -> Result<AvlRecord, DecodeError> {
    let layout = W::LAYOUT;
    let timestamp_ms = r.u64("timestamp")?;
    let priority_offset = r.offset();
    let priority_byte = r.u8("priority")?;
    let priority = Priority::from_byte(priority_byte).ok_or_else(|| {
        DecodeError::new(
            priority_offset,
            DecodeErrorKind::Invalid {
                field: "priority",
                detail: format!("{priority_byte} is not 0, 1 or 2"),
            },
        )
    })?;
    let gps = GpsElement {
        longitude: r.i32("longitude")?,
        latitude: r.i32("latitude")?,
        altitude: r.i16("altitude")?,
        angle: r.u16("angle")?,
        satellites: r.u8("satellites")?,
        speed: r.u16("speed")?,
    };
    let event_io_id = if layout.wide_event {
        r.u16("event IO id")?
    } else {
        r.u8("event IO id")?.into()
    };
    let generation_type = if layout.generation_type {
        Some(r.u8("generation type")?)
    } else {
        None
    };
    let total_offset = r.offset();
    let total = layout.count(r, "IO count")?;
    let mut io = Vec::with_capacity(total.min(r.remaining() / 2));
    let mut seen = 0usize;
    // One pass per width over a slice checked once for the whole group: the stride is a
    // constant per codec, so the element reads need no further bounds checks.
    let id_len = if layout.wide_ids { 2 } else { 1 };
    macro_rules! group {
        ($variant:ident, $ty:ty) => {{
            let n = layout.count(r, "IO group count")?;
            seen += n;
            const WIDTH: usize = std::mem::size_of::<$ty>();
            let stride = id_len + WIDTH;
            let chunk = r.bytes(n * stride, "IO elements")?;
            for e in chunk.chunks_exact(stride) {
                let id = if layout.wide_ids {
                    u16::from_be_bytes([e[0], e[1]])
                } else {
                    u16::from(e[0])
                };
                let mut v = [0u8; WIDTH];
                v.copy_from_slice(&e[id_len..]);
                io.push(IoElement {
                    id,
                    value: IoValue::$variant(<$ty>::from_be_bytes(v)),
                });
            }
        }};
    }
    group!(U8, u8);
    group!(U16, u16);
    group!(U32, u32);
    group!(U64, u64);
    if B16 {
        let n = layout.count(r, "IO group count")?;
        seen += n;
        let chunk = r.bytes(n * (id_len + 16), "IO elements")?;
        for e in chunk.chunks_exact(id_len + 16) {
            let id = if layout.wide_ids {
                u16::from_be_bytes([e[0], e[1]])
            } else {
                u16::from(e[0])
            };
            let mut v = [0u8; 16];
            v.copy_from_slice(&e[id_len..]);
            io.push(IoElement {
                id,
                value: IoValue::B16(v),
            });
        }
    }
    if layout.nx {
        let n = layout.count(r, "NX count")?;
        seen += n;
        for _ in 0..n {
            let id = layout.id(r)?;
            let len = usize::from(r.u16("NX length")?);
            let value = r.bytes(len, "NX value")?.to_vec();
            io.push(IoElement {
                id,
                value: IoValue::Bytes(value),
            });
        }
    }
    if seen != total {
        return Err(DecodeError::new(
            total_offset,
            DecodeErrorKind::Invalid {
                field: "IO count",
                detail: format!("total says {total}, groups hold {seen}"),
            },
        ));
    }
    Ok(AvlRecord {
        timestamp_ms,
        priority,
        gps,
        event_io_id,
        generation_type,
        io,
    })
}

/// Checks the TCP envelope (preamble, length, CRC) of a complete frame and returns its data
/// field. Shared by AVL and Codec 12 frames.
pub(crate) fn open_envelope(frame: &[u8]) -> Result<&[u8], DecodeError> {
    if frame.len() < 12 {
        return Err(DecodeError::new(
            frame.len(),
            DecodeErrorKind::Truncated("frame envelope"),
        ));
    }
    let mut r = Reader::new(frame, 0);
    let preamble = r.u32("preamble")?;
    if preamble != 0 {
        return Err(DecodeError::new(0, DecodeErrorKind::Preamble(preamble)));
    }
    let length = r.u32("data field length")? as usize;
    let present = frame.len().saturating_sub(12);
    if length > present {
        return Err(DecodeError::new(
            frame.len(),
            DecodeErrorKind::Truncated("data field"),
        ));
    }
    if length < present {
        return Err(DecodeError::new(
            8 + length + 4,
            DecodeErrorKind::Trailing(present - length),
        ));
    }
    let data = &frame[8..8 + length];
    let declared_bytes = &frame[8 + length..];
    let declared = u32::from_be_bytes([
        declared_bytes[0],
        declared_bytes[1],
        declared_bytes[2],
        declared_bytes[3],
    ]);
    let computed = crc16_ibm(data);
    if declared != u32::from(computed) {
        return Err(DecodeError::new(
            8 + length,
            DecodeErrorKind::Crc { declared, computed },
        ));
    }
    Ok(data)
}

/// Decodes one complete TCP AVL frame (preamble through CRC), strictly.
pub fn decode_avl_frame(frame: &[u8]) -> Result<AvlPacket, DecodeError> {
    decode_avl_frame_with(frame, DecodeOptions::default())
}

/// [`decode_avl_frame`] with a device's options.
pub fn decode_avl_frame_with(frame: &[u8], opts: DecodeOptions) -> Result<AvlPacket, DecodeError> {
    let data = open_envelope(frame)?;
    let mut r = Reader::new(data, 8);
    let packet = decode_avl_data(&mut r, opts)?;
    if r.remaining() != 0 {
        return Err(r.err(DecodeErrorKind::Trailing(r.remaining())));
    }
    Ok(packet)
}

fn unrepresentable(codec: CodecId, what: String) -> EncodeError {
    EncodeError::Unrepresentable {
        codec: codec.name(),
        what,
    }
}

/// Appends the AVL data field (codec id .. second count) for `records`.
pub(crate) fn encode_avl_data(
    codec: CodecId,
    records: &[AvlRecord],
    opts: DecodeOptions,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let count = u8::try_from(records.len()).map_err(|_overflow| EncodeError::TooMany("records"))?;
    let layout = Layout::of(codec);
    out.push(codec.id());
    out.push(count);
    for rec in records {
        encode_record(codec, layout, opts, rec, out)?;
    }
    out.push(count);
    Ok(())
}

fn put_count(
    layout: Layout,
    codec: CodecId,
    n: usize,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    if layout.wide_counts {
        let n = u16::try_from(n).map_err(|_overflow| EncodeError::TooMany("IO elements"))?;
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        let n = u8::try_from(n)
            .map_err(|_overflow| unrepresentable(codec, format!("{n} IO elements in one group")))?;
        out.push(n);
    }
    Ok(())
}

fn put_id(layout: Layout, codec: CodecId, id: u16, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    if layout.wide_ids {
        out.extend_from_slice(&id.to_be_bytes());
    } else {
        let id =
            u8::try_from(id).map_err(|_overflow| unrepresentable(codec, format!("IO id {id}")))?;
        out.push(id);
    }
    Ok(())
}

fn encode_record(
    codec: CodecId,
    layout: Layout,
    opts: DecodeOptions,
    rec: &AvlRecord,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    out.extend_from_slice(&rec.timestamp_ms.to_be_bytes());
    out.push(rec.priority.byte());
    let g = &rec.gps;
    out.extend_from_slice(&g.longitude.to_be_bytes());
    out.extend_from_slice(&g.latitude.to_be_bytes());
    out.extend_from_slice(&g.altitude.to_be_bytes());
    out.extend_from_slice(&g.angle.to_be_bytes());
    out.push(g.satellites);
    out.extend_from_slice(&g.speed.to_be_bytes());
    if layout.wide_event {
        out.extend_from_slice(&rec.event_io_id.to_be_bytes());
    } else {
        let id = u8::try_from(rec.event_io_id).map_err(|_overflow| {
            unrepresentable(codec, format!("event IO id {}", rec.event_io_id))
        })?;
        out.push(id);
    }
    if layout.generation_type {
        out.push(rec.generation_type.unwrap_or(0));
    }
    if !layout.nx && rec.io.iter().any(|e| matches!(e.value, IoValue::Bytes(_))) {
        return Err(unrepresentable(codec, "variable-length IO elements".into()));
    }
    if !opts.sixteen_byte_io && rec.io.iter().any(|e| matches!(e.value, IoValue::B16(_))) {
        return Err(unrepresentable(codec, "16-byte IO elements".into()));
    }
    put_count(layout, codec, rec.io.len(), out)?;
    // Groups by width: 1, 2, 4, 8 bytes, then 16 bytes where the device sends them, then
    // variable-length ones where the codec has them.
    let groups = [true, true, true, true, opts.sixteen_byte_io, layout.nx];
    for group in (0..groups.len()).filter(|&g| groups[g]) {
        let members = || {
            rec.io
                .iter()
                .filter(move |e| e.value.width_group() == group)
        };
        put_count(layout, codec, members().count(), out)?;
        for e in members() {
            put_id(layout, codec, e.id, out)?;
            match &e.value {
                IoValue::U8(v) => out.push(*v),
                IoValue::U16(v) => out.extend_from_slice(&v.to_be_bytes()),
                IoValue::U32(v) => out.extend_from_slice(&v.to_be_bytes()),
                IoValue::U64(v) => out.extend_from_slice(&v.to_be_bytes()),
                IoValue::B16(b) => out.extend_from_slice(b),
                IoValue::Bytes(b) => {
                    let len = u16::try_from(b.len())
                        .map_err(|_overflow| EncodeError::TooMany("NX bytes"))?;
                    out.extend_from_slice(&len.to_be_bytes());
                    out.extend_from_slice(b);
                }
            }
        }
    }
    Ok(())
}

/// Wraps a data field in the TCP envelope: preamble, length, data, CRC.
pub(crate) fn seal_envelope(data: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&u32::from(crc16_ibm(data)).to_be_bytes());
}

/// Encodes a complete TCP AVL frame. IO elements are written grouped by width.
pub fn encode_avl_frame(codec: CodecId, records: &[AvlRecord]) -> Result<Vec<u8>, EncodeError> {
    encode_avl_frame_with(codec, records, DecodeOptions::default())
}

/// [`encode_avl_frame`] as a device with `opts` writes it.
pub fn encode_avl_frame_with(
    codec: CodecId,
    records: &[AvlRecord],
    opts: DecodeOptions,
) -> Result<Vec<u8>, EncodeError> {
    let mut data = Vec::with_capacity(64 * records.len() + 3);
    encode_avl_data(codec, records, opts, &mut data)?;
    let mut out = Vec::with_capacity(data.len() + 12);
    seal_envelope(&data, &mut out);
    Ok(out)
}
