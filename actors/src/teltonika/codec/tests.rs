//! The protocol's documented examples (shared/testdata/teltonika/EXAMPLES.md) and property
//! tests of the codec.

use bytes::BytesMut;
use proptest::prelude::*;
use tokio_util::codec::{Decoder, Encoder};
use urbanstream_schema::Imei;

use super::*;

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn io(rec: &AvlRecord, id: u16) -> &IoValue {
    &rec.io.iter().find(|e| e.id == id).unwrap().value
}

const A: &str = "000000000000003608010000016B40D8EA30010000000000000000000000000000000105021503010101425E0F01F10000601A014E0000000000000000010000C7CF";
const B: &str = "000000000000002808010000016B40D9AD80010000000000000000000000000000000103021503010101425E100000010000F22A";
const C: &str = "000000000000004308020000016B40D57B480100000000000000000000000000000001010101000000000000016B40D5C198010000000000000000000000000000000101010101000000020000252C";
const D: &str = "000000000000004A8E010000016B412CEE000100000000000000000000000000000000010005000100010100010011001D00010010015E2C880002000B000000003544C87A000E000000001DD7E06A00000100002994";
const E: &str = "000000000000005F10020000016BDBC7833000000000000000000000000000000000000B05040200010000030002000B00270042563A00000000016BDBC7871800000000000000000000000000000000000B05040200010000030002000B00260042563A00000200005FB3";
const F1: &str = "003DCAFE0105000F33353230393330383634303336353508010000016B4F815B30010000000000000000000000000000000103021503010101425DBC000001";
const F2: &str = "005FCAFE0107000F3335323039333038363430333635358E010000016B4F831C680100000000000000000000000000000000010005000100010100010011009D00010010015E2C880002000B000000003544C87A000E000000001DD7E06A000001";
const G: &str = "000000000000000F0C010500000007676574696E666F0100004312";
const G2: &str = "00000000000000900C010600000088494E493A323031392F372F323220373A3232205254433A323031392F372F323220373A3533205253543A32204552523A312053523A302042523A302043463A302046473A3020464C3A302054553A302F302055543A3020534D533A30204E4F4750533A303A3330204750533A31205341543A302052533A332052463A36352053463A31204D443A30010000C78F";
const G3_CMD: &str = "000000000000000D0C010500000005676574696F01000000CB";
const G3_RESP: &str = "00000000000000370C01060000002F4449313A31204449323A30204449333A302041494E313A302041494E323A313639323420444F313A3020444F323A3101000066E3";
const GETVER: &str = "000000000000000E0C010500000006676574766572010000A4C2";
const H1: &str = "000000000000005F8E010000015FBA40B620000F0DCDE420959D30008A000006000000000006000100EF0000010011001E000100100000CBDF0002000B000000003544C875000E0000000029BFE4D10001010000110000000000000000000000000000000000010000D153";

#[test]
fn login_example() {
    let imei = decode_login(&hex("000F333536333037303432343431303133")).unwrap();
    assert_eq!(imei.to_string(), "356307042441013");
    assert_eq!(
        encode_login(imei),
        hex("000F333536333037303432343431303133")
    );
}

#[test]
fn codec8_first_example() {
    let p = decode_avl_frame(&hex(A)).unwrap();
    assert_eq!(p.codec, CodecId::Codec8);
    assert_eq!(p.records.len(), 1);
    let r = &p.records[0];
    assert_eq!(r.timestamp_ms, 1_560_161_086_000);
    assert_eq!(r.priority, Priority::High);
    assert_eq!(r.gps, GpsElement::default());
    assert!(!r.gps.valid());
    assert_eq!(r.event_io_id, 1);
    assert_eq!(r.io.len(), 5);
    assert_eq!(io(r, 21), &IoValue::U8(3));
    assert_eq!(io(r, 1), &IoValue::U8(1));
    assert_eq!(io(r, 66), &IoValue::U16(24079));
    assert_eq!(io(r, 241), &IoValue::U32(24602));
    assert_eq!(io(r, 78), &IoValue::U64(0));
    assert_eq!(encode_avl_frame(p.codec, &p.records).unwrap(), hex(A));
}

#[test]
fn codec8_second_example() {
    let p = decode_avl_frame(&hex(B)).unwrap();
    let r = &p.records[0];
    assert_eq!(r.timestamp_ms, 1_560_161_136_000);
    assert_eq!(r.io.len(), 3);
    assert_eq!(io(r, 21), &IoValue::U8(3));
    assert_eq!(io(r, 1), &IoValue::U8(1));
    assert_eq!(io(r, 66), &IoValue::U16(24080));
    assert_eq!(encode_avl_frame(p.codec, &p.records).unwrap(), hex(B));
}

#[test]
fn codec8_third_example_two_records() {
    let p = decode_avl_frame(&hex(C)).unwrap();
    assert_eq!(p.records.len(), 2);
    assert_eq!(p.records[0].timestamp_ms, 1_560_160_861_000);
    assert_eq!(io(&p.records[0], 1), &IoValue::U8(0));
    assert_eq!(p.records[1].timestamp_ms, 1_560_160_879_000);
    assert_eq!(io(&p.records[1], 1), &IoValue::U8(1));
    assert_eq!(encode_avl_frame(p.codec, &p.records).unwrap(), hex(C));
}

#[test]
fn codec8_extended_example() {
    let p = decode_avl_frame(&hex(D)).unwrap();
    assert_eq!(p.codec, CodecId::Codec8Ext);
    let r = &p.records[0];
    assert_eq!(r.timestamp_ms, 1_560_166_592_000);
    assert_eq!(r.event_io_id, 1);
    assert_eq!(io(r, 1), &IoValue::U8(1));
    assert_eq!(io(r, 17), &IoValue::U16(29));
    assert_eq!(io(r, 16), &IoValue::U32(22_949_000));
    assert_eq!(io(r, 11), &IoValue::U64(893_700_218));
    assert_eq!(io(r, 14), &IoValue::U64(500_686_954));
    assert_eq!(r.io.len(), 5);
    assert_eq!(encode_avl_frame(p.codec, &p.records).unwrap(), hex(D));
}

#[test]
fn codec16_example() {
    let p = decode_avl_frame(&hex(E)).unwrap();
    assert_eq!(p.codec, CodecId::Codec16);
    assert_eq!(p.records.len(), 2);
    let (r1, r2) = (&p.records[0], &p.records[1]);
    assert_eq!(r1.timestamp_ms, 1_562_760_414_000);
    assert_eq!(r1.priority, Priority::Low);
    assert_eq!(r1.event_io_id, 11);
    assert_eq!(r1.generation_type, Some(5));
    assert_eq!(io(r1, 1), &IoValue::U8(0));
    assert_eq!(io(r1, 3), &IoValue::U8(0));
    assert_eq!(io(r1, 11), &IoValue::U16(39));
    assert_eq!(io(r1, 66), &IoValue::U16(22074));
    assert_eq!(r2.timestamp_ms, 1_562_760_415_000);
    assert_eq!(io(r2, 11), &IoValue::U16(38));
    assert_eq!(encode_avl_frame(p.codec, &p.records).unwrap(), hex(E));
}

#[test]
fn codec8_extended_historical_example_with_nx() {
    let p = decode_avl_frame(&hex(H1)).unwrap();
    let r = &p.records[0];
    assert_eq!(r.timestamp_ms, 1_510_658_324_000);
    assert_eq!(r.priority, Priority::Low);
    assert!((r.gps.longitude_deg() - 25.256_291_6).abs() < 1e-9);
    assert!((r.gps.latitude_deg() - 54.667_601_6).abs() < 1e-9);
    assert_eq!(
        (r.gps.altitude, r.gps.angle, r.gps.satellites, r.gps.speed),
        (138, 0, 6, 0)
    );
    assert_eq!(r.event_io_id, 0);
    assert_eq!(io(r, 239), &IoValue::U8(0));
    assert_eq!(io(r, 17), &IoValue::U16(30));
    assert_eq!(io(r, 16), &IoValue::U32(52191));
    assert_eq!(io(r, 11), &IoValue::U64(893_700_213));
    assert_eq!(io(r, 14), &IoValue::U64(700_441_809));
    assert_eq!(io(r, 256), &IoValue::Bytes(vec![0; 17]));
    assert_eq!(encode_avl_frame(p.codec, &p.records).unwrap(), hex(H1));
}

#[test]
fn udp_examples_and_acks() {
    let p = decode_udp(&hex(F1)).unwrap();
    assert_eq!(p.packet_id, 0xCAFE);
    assert_eq!(p.avl_packet_id, 5);
    assert_eq!(p.imei.to_string(), "352093086403655");
    assert_eq!(p.packet.records[0].timestamp_ms, 1_560_407_006_000);
    assert_eq!(io(&p.packet.records[0], 66), &IoValue::U16(23996));
    assert_eq!(
        encode_udp_ack(p.packet_id, p.avl_packet_id, 1).to_vec(),
        hex("0005CAFE010501")
    );
    let again = encode_udp(
        p.packet_id,
        p.avl_packet_id,
        p.imei,
        p.packet.codec,
        &p.packet.records,
    );
    assert_eq!(again.unwrap(), hex(F1));

    let p = decode_udp(&hex(F2)).unwrap();
    assert_eq!(p.packet.codec, CodecId::Codec8Ext);
    assert_eq!(p.avl_packet_id, 7);
    assert_eq!(p.packet.records[0].timestamp_ms, 1_560_407_121_000);
    assert_eq!(io(&p.packet.records[0], 17), &IoValue::U16(157));
    assert_eq!(
        encode_udp_ack(p.packet_id, p.avl_packet_id, 1).to_vec(),
        hex("0005CAFE010701")
    );
}

#[test]
fn codec12_encodes_byte_exact() {
    for (text, frame) in [("getinfo", G), ("getio", G3_CMD), ("getver", GETVER)] {
        assert_eq!(
            encode_command_frame(&CommandFrame::command(text)).unwrap(),
            hex(frame)
        );
        assert_eq!(
            decode_command_frame(&hex(frame)).unwrap(),
            CommandFrame::command(text)
        );
    }
}

#[test]
fn codec12_responses_decode() {
    let r = decode_command_frame(&hex(G2)).unwrap();
    assert_eq!(r.kind, CommandKind::Response);
    assert_eq!(r.text(), "INI:2019/7/22 7:22 RTC:2019/7/22 7:53 RST:2 ERR:1 SR:0 BR:0 CF:0 FG:0 FL:0 TU:0/0 UT:0 SMS:0 NOGPS:0:30 GPS:1 SAT:0 RS:3 RF:65 SF:1 MD:0");
    let r = decode_command_frame(&hex(G3_RESP)).unwrap();
    assert_eq!(r.text(), "DI1:1 DI2:0 DI3:0 AIN1:0 AIN2:16924 DO1:0 DO2:1");
    assert_eq!(encode_command_frame(&r).unwrap(), hex(G3_RESP));
}

// Two FMB130 captures with the "extended" records setting (published with an open-source
// tracking server's decoder tests): Codec 8, eleven records each, the first with no IO
// elements at all (a 7-byte IO header: event id, total and five group counts), the second
// with elements in the 1-, 2- and 4-byte groups and one 16-byte element (id 203).
const X1: &str = "0000000000000158080b0000015d4b4dc07a00d5dbd13eec04324e020e0000120000000000000000000000015d4b4cd5e800d5dbd13eec04324e020e0000120000000000000000000000015d4b4beb8800d5dbd13eec04324e020e0000130000000000000000000000015d4b4b012800d5dbd13eec04324e020e0000120000000000000000000000015d4b4a16c800d5dbd13eec04324e020f0000110000000000000000000000015d4b492c6800d5dbd13eec04324e020f0000110000000000000000000000015d4b48420800d5dbd13eec04324e020f0000120000000000000000000000015d4b4757a800d5dbd13eec04324e020f00000f0000000000000000000000015d4b466d4800d5dbd13eec04324e020f0000100000000000000000000000015d4b4582e800d5dbd13eec04324e020f0000110000000000000000000000015d4b44988800d5dbd13eec04324e020f0000110000000000000000000b0000ec10";
const X2: &str = concat!(
    "00000000000003b5080b0000015ab5642a8800d5db1769ec01d70a020a00e3040004000e0501010200030004006000060900100a00010b0000130000422f1318000302c700000000f7000000000001cb000000000000000000000000000000000000015ab5642e7000d5db178aec01d6d6020a0070040003000e0501010200030004006000060900100a00000b0000130000422f1318000302c700000000f7000000000001cb000000000000000000000000000000000000015ab567050000d5db1805ec01da3c02060101040006000e05010102000300040060000609000f0a00010b0000130000422f0c18000302c700000046f7000000000001cb000000000000000000000000000000000000015ab56708e800d5db1723ec01d9ec020600e5040006000e05010102000300040060000609000f0a00010b0000130000422f1018000502c700000003f7000000000001cb000000000000000000000000000000000000015ab5685cc000d5db20f7ec01d8fa02080033050007000e05010102000300040060000609000f0a00010b0000130000422f0a18000502c700000030f7000000000001cb000000000000000000000000000000000000015ab5693b6800d5db2367ec01d9430211011b040006000e05010102000300040060000609000f0a00010b0000130000422f0c18000302c700000027f7000000000001cb000000000000000000000000000000000000015ab569433800d5db1fb2ec01d9310211008b040006000e0501010200030004006000060900110a00000b0000130000422f1318000402c700000009f7000000000001cb000000000000000000000000000000000000015ab56a0e5800d5db22a2ec01da5502100041050007000e05010102000300040060000609000f0a00000b0000130000422f1118000602c70000000ef7000000000001cb000000000000000000000000000000000000015ab56a700000d5db2afcec01ddb2020a0012050008000e05010102000300040060000609000e0a00000b0000130000422f0918000502c70",
    "0000026f7000000000001cb000000000000000000000000000000000000015ab56a73e800d5db2ad8ec01de65020a014e050008000e05010102000300040060000609000f0a00010b0000130000422f0818000702c700000002f7000000000001cb000000000000000000000000000000000000015ab56a7bb800d5db2971ec01e00e020a013f040008000e0501010200030004006000060900100a00020b0000130000422f0b18000802c700000004f7000000000001cb000000000000000000000000000000000b00007c5f",
);

const SIXTEEN: DecodeOptions = DecodeOptions {
    sixteen_byte_io: true,
};

#[test]
fn fmb_extended_records_captures_decode_with_their_16_byte_group() {
    let empty = decode_avl_frame_with(&hex(X1), SIXTEEN).unwrap();
    assert_eq!(empty.codec, CodecId::Codec8);
    assert_eq!(empty.records.len(), 11);
    assert!(empty
        .records
        .iter()
        .all(|r| r.io.is_empty() && r.event_io_id == 0));
    let p = decode_avl_frame_with(&hex(X2), SIXTEEN).unwrap();
    assert_eq!(p.records.len(), 11);
    let first = &p.records[0];
    assert_eq!(first.io.len(), 14);
    assert_eq!(io(first, 1), &IoValue::U8(1), "digital input 1");
    assert_eq!(io(first, 66), &IoValue::U16(0x2F13), "external voltage");
    assert_eq!(io(first, 247), &IoValue::U32(0));
    assert_eq!(io(first, 203), &IoValue::B16([0; 16]));
    assert!((first.gps.latitude_deg() + 33.5423734).abs() < 1e-9);
    assert!((first.gps.longitude_deg() + 70.7061911).abs() < 1e-9);
    assert_eq!(io(&p.records[2], 199), &IoValue::U32(0x46));
    // Without the option neither capture is read (the 16-byte group is taken for the
    // second record count or the next record's timestamp).
    assert!(decode_avl_frame(&hex(X1)).is_err());
    assert!(decode_avl_frame(&hex(X2)).is_err());
    // What the codec writes back is byte for byte what the device sent.
    assert_eq!(
        encode_avl_frame_with(CodecId::Codec8, &p.records, SIXTEEN).unwrap(),
        hex(X2)
    );
}

/// A Codec 8 record written out by hand as FMB firmware with 16-byte IO elements lays it
/// out: 1-byte event id, total, group counts and ids; the 16-byte group after the 8-byte one.
fn hand_record(ts: u64, value16: [u8; 16]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&ts.to_be_bytes());
    b.push(1); // priority
    b.extend_from_slice(&179_000_000i32.to_be_bytes()); // lon
    b.extend_from_slice(&446_000_000i32.to_be_bytes()); // lat
    b.extend_from_slice(&120i16.to_be_bytes());
    b.extend_from_slice(&90u16.to_be_bytes());
    b.push(9);
    b.extend_from_slice(&42u16.to_be_bytes());
    b.push(239); // event id
    b.push(6); // total
    b.extend_from_slice(&[2, 239, 1, 240, 1]); // 1-byte group
    b.extend_from_slice(&[1, 66, 0x30, 0x39]); // 2-byte group
    b.extend_from_slice(&[1, 199, 0, 0, 0x01, 0x00]); // 4-byte group
    b.extend_from_slice(&[1, 78, 1, 2, 3, 4, 5, 6, 7, 8]); // 8-byte group
    b.extend_from_slice(&[1, 203]); // 16-byte group
    b.extend_from_slice(&value16);
    b
}

fn hand_frame(records: &[Vec<u8>]) -> Vec<u8> {
    let mut data = vec![0x08, records.len() as u8];
    for r in records {
        data.extend_from_slice(r);
    }
    data.push(records.len() as u8);
    let mut out = Vec::new();
    avl::seal_envelope(&data, &mut out);
    out
}

#[test]
fn codec8_with_16_byte_elements_in_every_group() {
    let v16: [u8; 16] = core::array::from_fn(|i| 0xA0 + i as u8);
    let frame = hand_frame(&[
        hand_record(1_700_000_000_000, v16),
        hand_record(1_700_000_001_000, [0xFF; 16]),
        hand_record(1_700_000_002_000, [0; 16]),
    ]);
    let p = decode_avl_frame_with(&frame, SIXTEEN).unwrap();
    assert_eq!(p.records.len(), 3);
    let r = &p.records[0];
    assert_eq!(r.event_io_id, 239);
    assert_eq!(r.io.len(), 6);
    assert_eq!(io(r, 240), &IoValue::U8(1));
    assert_eq!(io(r, 66), &IoValue::U16(12345));
    assert_eq!(io(r, 199), &IoValue::U32(256));
    assert_eq!(io(r, 78), &IoValue::U64(0x0102_0304_0506_0708));
    assert_eq!(io(r, 203), &IoValue::B16(v16));
    assert_eq!(io(&p.records[1], 203), &IoValue::B16([0xFF; 16]));
    assert_eq!(
        serde_json::to_value(io(r, 203)).unwrap(),
        serde_json::json!("A0A1A2A3A4A5A6A7A8A9AAABACADAEAF"),
        "kept raw, as hex"
    );
    assert_eq!(
        encode_avl_frame_with(CodecId::Codec8, &p.records, SIXTEEN).unwrap(),
        frame
    );
    assert!(
        decode_avl_frame(&frame).is_err(),
        "the plain layout refuses it"
    );
    // A total that does not match the groups is refused with the option too.
    let mut bad = hand_record(1_700_000_000_000, v16);
    bad[25] = 7; // the total: 7, where the groups hold 6
    assert!(decode_avl_frame_with(&hand_frame(&[bad]), SIXTEEN).is_err());
    // 16-byte values cannot be written without the option.
    assert!(encode_avl_frame(CodecId::Codec8, &p.records).is_err());
    // Over UDP the same records are read the same way.
    let udp = encode_udp_with(
        1,
        2,
        Imei::from_number(356_307_042_441_013).unwrap(),
        CodecId::Codec8,
        &p.records,
        SIXTEEN,
    )
    .unwrap();
    assert_eq!(decode_udp_with(&udp, SIXTEEN).unwrap().packet, p);
}

#[test]
fn codec12_camera_data_is_a_raw_payload() {
    let seal = |data: &[u8]| {
        let mut frame = vec![0, 0, 0, 0];
        frame.extend_from_slice(&(data.len() as u32).to_be_bytes());
        frame.extend_from_slice(data);
        frame.extend_from_slice(&u32::from(crc16_ibm(data)).to_be_bytes());
        frame
    };
    // codec 0x0C, 1 message, type 0x0D, 3 bytes, 1 message.
    let frame = seal(&hex("0C010D00000003FFD8FF01"));
    let f = decode_command_frame(&frame).unwrap();
    assert_eq!(f.kind, CommandKind::Camera);
    assert_eq!(f.payload, vec![0xFF, 0xD8, 0xFF]);
    assert_eq!(encode_command_frame(&f).unwrap(), frame);
    let other = seal(&hex("0C010E00000003FFD8FF01"));
    let e = decode_command_frame(&other).unwrap_err();
    assert!(
        e.to_string().contains("0x0E"),
        "other types stay refused: {e}"
    );
}

#[test]
fn strict_checks_name_the_byte() {
    let mut bad = hex(A);
    let last = bad.len() - 1;
    bad[last] ^= 0x01;
    let err = decode_avl_frame(&bad).unwrap_err();
    assert_eq!(err.reason(), RejectReason::Crc);
    assert_eq!(err.offset, 8 + 54);
    assert_eq!(
        err.to_string(),
        "byte 62: CRC mismatch: declared 0x0000C7CE, computed 0xC7CF"
    );

    // NOD2 changed to 2, CRC recomputed: count mismatch.
    let mut data = hex(A)[8..8 + 54].to_vec();
    *data.last_mut().unwrap() = 2;
    let mut frame = Vec::new();
    super::avl::seal_envelope(&data, &mut frame);
    let err = decode_avl_frame(&frame).unwrap_err();
    assert_eq!(err.reason(), RejectReason::CountMismatch);
    assert_eq!(err.offset, 61);

    // Unknown codec with a valid CRC.
    let mut data = hex(A)[8..8 + 54].to_vec();
    data[0] = 0x07;
    let mut frame = Vec::new();
    super::avl::seal_envelope(&data, &mut frame);
    let err = decode_avl_frame(&frame).unwrap_err();
    assert_eq!(err.reason(), RejectReason::UnknownCodec);
    assert_eq!(err.offset, 8);

    // Declared length shorter than the frame.
    let mut frame = hex(A);
    frame[7] = 0x35;
    assert_eq!(
        decode_avl_frame(&frame).unwrap_err().reason(),
        RejectReason::LengthMismatch
    );
    assert_eq!(
        decode_avl_frame(&hex(A)[..20]).unwrap_err().reason(),
        RejectReason::LengthMismatch
    );
}

fn decode_all(codec: &mut TeltonikaCodec, buf: &mut BytesMut) -> Vec<Inbound> {
    let mut out = Vec::new();
    while let Some(item) = codec.decode(buf).unwrap() {
        out.push(item);
    }
    out
}

#[test]
fn framing_login_keepalive_and_frames_in_one_read() {
    let mut stream = hex("000F333536333037303432343431303133");
    stream.push(0xFF);
    stream.extend(hex(A));
    stream.extend(hex(C));
    stream.push(0xFF);
    stream.extend(hex(G2));
    let mut codec = TeltonikaCodec::new(DEFAULT_MAX_FRAME);
    let items = decode_all(&mut codec, &mut BytesMut::from(&stream[..]));
    assert_eq!(items.len(), 6);
    assert!(matches!(items[0], Inbound::Login(i) if i.to_string() == "356307042441013"));
    assert_eq!(items[1], Inbound::KeepAlive);
    assert!(matches!(&items[2], Inbound::Avl(p) if p.records.len() == 1));
    assert!(matches!(&items[3], Inbound::Avl(p) if p.records.len() == 2));
    assert_eq!(items[4], Inbound::KeepAlive);
    assert!(matches!(&items[5], Inbound::Command(c) if c.kind == CommandKind::Response));
}

#[test]
fn framing_rejects_bad_crc_and_stays_in_step() {
    let mut bad = hex(A);
    let n = bad.len();
    bad[n - 3] ^= 0x40;
    let mut stream = bad;
    stream.extend(hex(B));
    let mut codec = TeltonikaCodec::streaming(DEFAULT_MAX_FRAME);
    let items = decode_all(&mut codec, &mut BytesMut::from(&stream[..]));
    assert!(
        matches!(&items[0], Inbound::Rejected(r) if !r.fatal && r.reason() == RejectReason::Crc)
    );
    assert!(matches!(&items[1], Inbound::Avl(_)));
}

#[test]
fn framing_rejects_oversize_without_buffering_it() {
    let mut codec = TeltonikaCodec::streaming(1024);
    let mut buf = BytesMut::from(&hex("00000000FFFFFFF0")[..]);
    let items = decode_all(&mut codec, &mut buf);
    assert!(
        matches!(&items[0], Inbound::Rejected(r) if r.fatal && r.reason() == RejectReason::Oversize)
    );
    assert!(buf.capacity() < 1024);
    // Poisoned: the rest of the stream is ignored.
    let mut more = BytesMut::from(&hex(A)[..]);
    assert!(decode_all(&mut codec, &mut more).is_empty());
}

#[test]
fn framing_rejects_garbage_preamble_and_bad_login() {
    let mut codec = TeltonikaCodec::streaming(DEFAULT_MAX_FRAME);
    let items = decode_all(&mut codec, &mut BytesMut::from(&b"GET / HTTP/1.1\r\n"[..]));
    assert!(
        matches!(&items[0], Inbound::Rejected(r) if r.fatal && r.reason() == RejectReason::Preamble)
    );

    let mut codec = TeltonikaCodec::new(DEFAULT_MAX_FRAME);
    let items = decode_all(&mut codec, &mut BytesMut::from(&b"\x00\x0F3563"[..]));
    assert!(items.is_empty(), "a partial login waits for more bytes");
    let items = decode_all(
        &mut codec,
        &mut BytesMut::from(&b"\x00\x0F35630704244101A"[..]),
    );
    assert!(
        matches!(&items[0], Inbound::Rejected(r) if r.fatal && r.reason() == RejectReason::BadImei)
    );
}

#[test]
fn encoder_writes_replies_and_commands() {
    let mut codec = TeltonikaCodec::new(DEFAULT_MAX_FRAME);
    let mut dst = BytesMut::new();
    codec.encode(Outbound::LoginReply(true), &mut dst).unwrap();
    codec.encode(Outbound::LoginReply(false), &mut dst).unwrap();
    codec.encode(Outbound::Ack(2), &mut dst).unwrap();
    codec
        .encode(
            Outbound::Command(CommandFrame::command("getinfo")),
            &mut dst,
        )
        .unwrap();
    let mut expected = hex("010000000002");
    expected.extend(hex(G));
    assert_eq!(&dst[..], &expected[..]);
}

// ---- property tests ----

fn arb_value(codec: CodecId, opts: DecodeOptions) -> impl Strategy<Value = IoValue> {
    let fixed = prop_oneof![
        any::<u8>().prop_map(IoValue::U8),
        any::<u16>().prop_map(IoValue::U16),
        any::<u32>().prop_map(IoValue::U32),
        any::<u64>().prop_map(IoValue::U64),
    ];
    let fixed = if opts.sixteen_byte_io {
        prop_oneof![4 => fixed, 1 => any::<[u8; 16]>().prop_map(IoValue::B16)].boxed()
    } else {
        fixed.boxed()
    };
    if codec == CodecId::Codec8Ext {
        prop_oneof![4 => fixed, 1 => proptest::collection::vec(any::<u8>(), 0..40).prop_map(IoValue::Bytes)]
            .boxed()
    } else {
        fixed
    }
}

fn arb_record(codec: CodecId, opts: DecodeOptions) -> impl Strategy<Value = AvlRecord> {
    let id_max: u16 = if codec == CodecId::Codec8 {
        255
    } else {
        u16::MAX
    };
    let io = proptest::collection::vec((0..=id_max, arb_value(codec, opts)), 0..20).prop_map(|v| {
        let mut io: Vec<IoElement> = v
            .into_iter()
            .map(|(id, value)| IoElement { id, value })
            .collect();
        // Wire order: grouped by width.
        io.sort_by_key(|e| e.value.width_group());
        io
    });
    (
        any::<u64>(),
        0u8..3,
        (
            -1_800_000_000i32..=1_800_000_000,
            -900_000_000i32..=900_000_000,
        ),
        (any::<i16>(), 0u16..360, any::<u8>(), any::<u16>()),
        0..=id_max,
        0u8..8,
        io,
    )
        .prop_map(
            move |(ts, pri, (lon, lat), (alt, angle, sats, speed), event, gen, io)| AvlRecord {
                timestamp_ms: ts,
                priority: Priority::from_byte(pri).unwrap(),
                gps: GpsElement {
                    longitude: lon,
                    latitude: lat,
                    altitude: alt,
                    angle,
                    satellites: sats,
                    speed,
                },
                event_io_id: event,
                generation_type: (codec == CodecId::Codec16).then_some(gen),
                io,
            },
        )
}

fn arb_packet() -> impl Strategy<Value = AvlPacket> {
    arb_packet_with(DecodeOptions::default())
}

fn arb_codec() -> impl Strategy<Value = CodecId> {
    prop_oneof![
        Just(CodecId::Codec8),
        Just(CodecId::Codec8Ext),
        Just(CodecId::Codec16)
    ]
}

fn arb_packet_with(opts: DecodeOptions) -> impl Strategy<Value = AvlPacket> {
    arb_codec().prop_flat_map(move |codec| {
        proptest::collection::vec(arb_record(codec, opts), 1..8)
            .prop_map(move |records| AvlPacket { codec, records })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn avl_round_trip(p in arb_packet()) {
        let bytes = encode_avl_frame(p.codec, &p.records).unwrap();
        prop_assert_eq!(decode_avl_frame(&bytes).unwrap(), p.clone());
        let imei = Imei::from_number(356_307_042_441_013).unwrap();
        let dgram = encode_udp(0x1234, 9, imei, p.codec, &p.records).unwrap();
        let udp = decode_udp(&dgram).unwrap();
        prop_assert_eq!(udp.packet, p);
        prop_assert_eq!(udp.imei, imei);
    }

    #[test]
    fn avl_round_trip_with_16_byte_elements(p in arb_packet_with(SIXTEEN)) {
        let bytes = encode_avl_frame_with(p.codec, &p.records, SIXTEEN).unwrap();
        prop_assert_eq!(decode_avl_frame_with(&bytes, SIXTEEN).unwrap(), p.clone());
        let imei = Imei::from_number(356_307_042_441_013).unwrap();
        let dgram = encode_udp_with(0x1234, 9, imei, p.codec, &p.records, SIXTEEN).unwrap();
        prop_assert_eq!(decode_udp_with(&dgram, SIXTEEN).unwrap().packet, p);
    }

    #[test]
    fn any_split_of_a_stream_yields_the_same_frames(
        packets in proptest::collection::vec(arb_packet(), 1..5),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let imei = Imei::from_number(356_307_042_441_013).unwrap();
        let mut stream = encode_login(imei);
        for p in &packets {
            stream.extend(encode_avl_frame(p.codec, &p.records).unwrap());
            stream.push(0xFF);
        }
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len())).collect();
        points.push(stream.len());
        points.sort_unstable();
        let mut codec = TeltonikaCodec::new(DEFAULT_MAX_FRAME);
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        let mut start = 0;
        for p in points {
            buf.extend_from_slice(&stream[start..p]);
            start = p;
            got.extend(decode_all(&mut codec, &mut buf));
        }
        let mut expected = vec![Inbound::Login(imei)];
        for p in packets {
            expected.push(Inbound::Avl(p));
            expected.push(Inbound::KeepAlive);
        }
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn corrupting_one_byte_is_detected_or_yields_another_valid_frame(
        p in arb_packet(),
        at in any::<prop::sample::Index>(),
        xor in 1u8..=255,
    ) {
        let original = encode_avl_frame(p.codec, &p.records).unwrap();
        let mut bytes = original.clone();
        let i = at.index(bytes.len());
        bytes[i] ^= xor;
        let mut codec = TeltonikaCodec::streaming(DEFAULT_MAX_FRAME);
        let mut buf = BytesMut::from(&bytes[..]);
        let mut accepted = Vec::new();
        while let Some(item) = codec.decode(&mut buf).unwrap() {
            if let Inbound::Avl(got) = item {
                accepted.push(got);
            }
        }
        // Never the original frame passed off as valid, never a panic.
        for got in accepted {
            prop_assert_ne!(got, p.clone());
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut codec = TeltonikaCodec::new(DEFAULT_MAX_FRAME);
        let mut buf = BytesMut::from(&bytes[..]);
        let _ = decode_all(&mut codec, &mut buf);
        let _ = decode_udp(&bytes);
        let _ = decode_tcp_frame(&bytes);
        let _ = decode_login(&bytes);
    }
}
