//! `urbanstream decode`: shows what a login, TCP frame, byte stream or UDP datagram holds.

use std::collections::BTreeMap;

use chrono::SecondsFormat;
use serde_json::{json, Value};
use urbanstream_actors::entity::device_time;
use urbanstream_actors::teltonika::codec::{
    decode_login, decode_tcp_frame, decode_udp, AvlPacket, DecodeError, DecodeErrorKind, TcpFrame,
};
use urbanstream_actors::teltonika::io_profile::IoProfile;

/// Parses hex, ignoring whitespace, `0x` prefixes and separators `:`/`-`.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let cleaned: String = text
        .replace("0x", "")
        .replace("0X", "")
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':' && *c != '-')
        .collect();
    if let Some((i, c)) = cleaned.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(format!("not a hex digit {c:?} at character {i}"));
    }
    if cleaned.len() % 2 != 0 {
        return Err(format!("odd number of hex digits ({})", cleaned.len()));
    }
    hex::decode(&cleaned).map_err(|e| e.to_string())
}

/// Decodes every message in `input` (a login, TCP frames with keep-alive bytes between them,
/// or one UDP datagram) to one JSON value each. Fails on the first bad byte.
pub fn decode_all(input: &[u8], profile: &IoProfile) -> Result<Vec<Value>, DecodeError> {
    if input.is_empty() {
        return Err(DecodeError::new(
            0,
            DecodeErrorKind::Truncated("input (it is empty)"),
        ));
    }
    if let Some(v) = try_udp(input, profile) {
        return Ok(vec![v]);
    }
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < input.len() {
        let rest = &input[pos..];
        if rest[0] == 0xFF {
            out.push(json!({ "type": "keepalive" }));
            pos += 1;
            continue;
        }
        let shift = |e: DecodeError| DecodeError::new(e.offset + pos, e.kind);
        if rest.len() >= 2 && rest[..2] != [0, 0] {
            // A login: 2-byte length, then the IMEI.
            let len = 2 + usize::from(u16::from_be_bytes([rest[0], rest[1]]));
            let imei = decode_login(&rest[..len.min(rest.len())]).map_err(shift)?;
            out.push(json!({ "type": "login", "imei": imei.to_string() }));
            pos += len;
            continue;
        }
        let len = if rest.len() >= 8 {
            12usize
                .saturating_add(u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize)
        } else {
            rest.len()
        };
        let frame = &rest[..len.min(rest.len())];
        let value = match decode_tcp_frame(frame).map_err(shift)? {
            TcpFrame::Avl(p) => avl_json(&p, profile, json!({ "type": "avl", "transport": "tcp" })),
            TcpFrame::Command(c) => json!({ "type": "command", "kind": c.kind, "text": c.text() }),
        };
        out.push(value);
        pos += frame.len();
    }
    Ok(out)
}

fn try_udp(input: &[u8], profile: &IoProfile) -> Option<Value> {
    if input.len() < 2 || usize::from(u16::from_be_bytes([input[0], input[1]])) != input.len() - 2 {
        return None;
    }
    // A login has the same shape; a UDP packet carries the 0x01 marker at byte 4.
    if input.len() > 4 && input[2..].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let p = decode_udp(input).ok()?;
    let head = json!({
        "type": "avl",
        "transport": "udp",
        "packet_id": p.packet_id,
        "avl_packet_id": p.avl_packet_id,
        "imei": p.imei.to_string(),
    });
    Some(avl_json(&p.packet, profile, head))
}

fn avl_json(p: &AvlPacket, profile: &IoProfile, mut head: Value) -> Value {
    let records: Vec<Value> = p
        .records
        .iter()
        .map(|r| {
            let io: BTreeMap<String, Value> = r
                .io
                .iter()
                .map(|e| (e.id.to_string(), serde_json::to_value(&e.value).unwrap_or(Value::Null)))
                .collect();
            let named = serde_json::to_value(profile.named(&r.io))
                .unwrap_or(Value::Null);
            json!({
                "timestamp": device_time(i64::try_from(r.timestamp_ms).unwrap_or(i64::MAX)).to_rfc3339_opts(SecondsFormat::AutoSi, true),
                "priority": r.priority,
                "gps": r.gps,
                "event_io_id": r.event_io_id,
                "generation_type": r.generation_type,
                "io": io,
                "named": named,
            })
        })
        .collect();
    if let Value::Object(m) = &mut head {
        m.insert("codec".into(), json!(p.codec));
        m.insert("profile".into(), json!(profile.name()));
        m.insert("record_count".into(), json!(p.records.len()));
        m.insert("records".into(), Value::Array(records));
    }
    head
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> std::sync::Arc<IoProfile> {
        crate::config::Settings::defaults_with(&[])
            .unwrap()
            .io_profiles()
            .unwrap()
            .default_profile()
    }

    #[test]
    fn decodes_documented_codec8_frame_to_json() {
        let bytes = parse_hex("000000000000003608010000016B40D8EA30010000000000000000000000000000000105021503010101425E0F01F10000601A014E0000000000000000010000C7CF").unwrap();
        let v = decode_all(&bytes, &profile()).unwrap();
        assert_eq!(v.len(), 1);
        let r = &v[0]["records"][0];
        assert_eq!(v[0]["codec"], "8");
        assert_eq!(r["timestamp"], "2019-06-10T10:04:46Z");
        assert_eq!(r["priority"], "high");
        assert_eq!(r["gps"]["valid"], false);
        assert_eq!(r["io"]["66"], 24079);
        assert_eq!(r["io"]["241"], 24602);
        assert!((r["named"]["external_voltage_v"].as_f64().unwrap() - 24.079).abs() < 1e-9);
        assert_eq!(r["named"]["gsm_signal"], 3);
    }

    #[test]
    fn decodes_login_stream_and_udp() {
        let mut bytes = parse_hex("000F333536333037303432343431303133").unwrap();
        bytes.push(0xFF);
        bytes.extend(parse_hex("000000000000000F0C010500000007676574696E666F0100004312").unwrap());
        let v = decode_all(&bytes, &profile()).unwrap();
        assert_eq!(v[0], json!({"type": "login", "imei": "356307042441013"}));
        assert_eq!(v[1]["type"], "keepalive");
        assert_eq!(
            v[2],
            json!({"type": "command", "kind": "command", "text": "getinfo"})
        );

        let udp = parse_hex("003DCAFE0105000F33353230393330383634303336353508010000016B4F815B30010000000000000000000000000000000103021503010101425DBC000001").unwrap();
        let v = decode_all(&udp, &profile()).unwrap();
        assert_eq!(v[0]["transport"], "udp");
        assert_eq!(v[0]["imei"], "352093086403655");
        assert_eq!(v[0]["records"][0]["io"]["66"], 23996);
    }

    #[test]
    fn errors_name_the_byte() {
        let mut bytes = parse_hex("000F333536333037303432343431303133").unwrap();
        let frame = parse_hex("000000000000002808010000016B40D9AD80010000000000000000000000000000000103021503010101425E100000010000F22B").unwrap();
        bytes.extend(frame);
        let err = decode_all(&bytes, &profile()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "byte 65: CRC mismatch: declared 0x0000F22B, computed 0xF22A"
        );
        assert!(parse_hex("00zz").unwrap_err().contains("character 2"));
    }
}
