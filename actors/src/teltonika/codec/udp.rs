//! Teltonika over UDP: a channel header, AVL packet id and IMEI around the AVL data, no CRC.

use urbanstream_schema::Imei;

use super::avl::{decode_avl_data, encode_avl_data, AvlPacket, AvlRecord, CodecId, DecodeOptions};
use super::error::{DecodeError, DecodeErrorKind, EncodeError};
use super::reader::Reader;

/// One decoded UDP datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpPacket {
    /// Channel packet id, echoed in the ACK.
    pub packet_id: u16,
    /// AVL packet id, echoed in the ACK.
    pub avl_packet_id: u8,
    pub imei: Imei,
    pub packet: AvlPacket,
}

/// Decodes one UDP datagram strictly.
pub fn decode_udp(datagram: &[u8]) -> Result<UdpPacket, DecodeError> {
    decode_udp_with(datagram, DecodeOptions::default())
}

/// [`decode_udp`] with a device's options.
pub fn decode_udp_with(datagram: &[u8], opts: DecodeOptions) -> Result<UdpPacket, DecodeError> {
    let mut r = Reader::new(datagram, 0);
    let length = usize::from(r.u16("UDP length")?);
    if length != r.remaining() {
        let kind = if length > r.remaining() {
            DecodeErrorKind::Truncated("UDP packet")
        } else {
            DecodeErrorKind::Trailing(r.remaining() - length)
        };
        return Err(DecodeError::new(0, kind));
    }
    let packet_id = r.u16("packet id")?;
    let marker_offset = r.offset();
    let marker = r.u8("not-usable byte")?;
    if marker != 0x01 {
        return Err(DecodeError::new(
            marker_offset,
            DecodeErrorKind::Invalid {
                field: "not-usable byte",
                detail: format!("0x{marker:02X}, expected 0x01"),
            },
        ));
    }
    let avl_packet_id = r.u8("AVL packet id")?;
    let imei_offset = r.offset();
    let imei_len = usize::from(r.u16("IMEI length")?);
    let imei_bytes = r.bytes(imei_len, "IMEI")?;
    let imei = Imei::from_ascii(imei_bytes)
        .map_err(|e| DecodeError::new(imei_offset, DecodeErrorKind::Imei(e.to_string())))?;
    let packet = decode_avl_data(&mut r, opts)?;
    if r.remaining() != 0 {
        return Err(r.err(DecodeErrorKind::Trailing(r.remaining())));
    }
    Ok(UdpPacket {
        packet_id,
        avl_packet_id,
        imei,
        packet,
    })
}

/// The IMEI a datagram's header names, its length checked; the records are not read (how
/// depends on the device's model).
pub fn udp_imei(datagram: &[u8]) -> Result<Imei, DecodeError> {
    let mut r = Reader::new(datagram, 0);
    let length = usize::from(r.u16("UDP length")?);
    if length != r.remaining() {
        return Err(DecodeError::new(
            0,
            DecodeErrorKind::Truncated("UDP packet"),
        ));
    }
    r.u16("packet id")?;
    r.u8("not-usable byte")?;
    r.u8("AVL packet id")?;
    let imei_offset = r.offset();
    let imei_len = usize::from(r.u16("IMEI length")?);
    let imei_bytes = r.bytes(imei_len, "IMEI")?;
    Imei::from_ascii(imei_bytes)
        .map_err(|e| DecodeError::new(imei_offset, DecodeErrorKind::Imei(e.to_string())))
}

/// Encodes a UDP datagram as a device sends it.
pub fn encode_udp(
    packet_id: u16,
    avl_packet_id: u8,
    imei: Imei,
    codec: CodecId,
    records: &[AvlRecord],
) -> Result<Vec<u8>, EncodeError> {
    encode_udp_with(
        packet_id,
        avl_packet_id,
        imei,
        codec,
        records,
        DecodeOptions::default(),
    )
}

/// [`encode_udp`] as a device with `opts` writes it.
pub fn encode_udp_with(
    packet_id: u16,
    avl_packet_id: u8,
    imei: Imei,
    codec: CodecId,
    records: &[AvlRecord],
    opts: DecodeOptions,
) -> Result<Vec<u8>, EncodeError> {
    let imei = imei.to_ascii();
    let mut body = Vec::with_capacity(64 * records.len() + 24);
    body.extend_from_slice(&packet_id.to_be_bytes());
    body.push(0x01);
    body.push(avl_packet_id);
    body.extend_from_slice(&(imei.len() as u16).to_be_bytes());
    body.extend_from_slice(&imei);
    encode_avl_data(codec, records, opts, &mut body)?;
    let len = u16::try_from(body.len())
        .map_err(|_overflow| EncodeError::TooMany("bytes for one datagram"))?;
    let mut out = Vec::with_capacity(body.len() + 2);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// The server's answer: `0005` + packet id + `01` + AVL packet id + accepted count.
pub fn encode_udp_ack(packet_id: u16, avl_packet_id: u8, accepted: u8) -> [u8; 7] {
    let [hi, lo] = packet_id.to_be_bytes();
    [0x00, 0x05, hi, lo, 0x01, avl_packet_id, accepted]
}
