//! Decode throughput of typical Codec 8 Extended frames (an FMC125 with an LVCAN200: 25 IO
//! elements per record, 8 records, about 1.2 KB, near the documented 1280-byte packet), with
//! nom-teltonika on the same bytes as the reference.
//!
//! `cargo bench -p urbanstream-actors --bench decode`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use urbanstream_actors::teltonika::codec::{
    decode_avl_frame, encode_avl_frame, AvlRecord, CodecId, GpsElement, IoElement, IoValue,
    Priority,
};

fn typical_record(i: u64) -> AvlRecord {
    let mut io = Vec::new();
    for (k, id) in [239u16, 240, 21, 81, 82, 89, 90, 69, 80, 200]
        .iter()
        .enumerate()
    {
        io.push(IoElement {
            id: *id,
            value: IoValue::U8((i as u8).wrapping_add(k as u8)),
        });
    }
    for (k, id) in [66u16, 67, 182, 24, 84, 85, 115, 181, 9].iter().enumerate() {
        io.push(IoElement {
            id: *id,
            value: IoValue::U16(1000 + i as u16 + k as u16),
        });
    }
    for (k, id) in [16u16, 83, 87, 241].iter().enumerate() {
        io.push(IoElement {
            id: *id,
            value: IoValue::U32(120_000 + i as u32 * 7 + k as u32),
        });
    }
    io.push(IoElement {
        id: 11,
        value: IoValue::U64(893_700_218),
    });
    io.push(IoElement {
        id: 14,
        value: IoValue::U64(500_686_954),
    });
    AvlRecord {
        timestamp_ms: 1_764_000_000_000 + i * 1000,
        priority: Priority::Low,
        gps: GpsElement {
            longitude: 171_910_000 + i as i32,
            latitude: 447_722_000 - i as i32,
            altitude: 163,
            angle: 90,
            satellites: 11,
            speed: 32,
        },
        event_io_id: 0,
        generation_type: None,
        io,
    }
}

fn bench(c: &mut Criterion) {
    let records: Vec<AvlRecord> = (0..8).map(typical_record).collect();
    let frame = match encode_avl_frame(CodecId::Codec8Ext, &records) {
        Ok(f) => f,
        Err(e) => panic!("bench frame: {e}"),
    };
    let mut g = c.benchmark_group("codec8e_frame");

    g.throughput(Throughput::Bytes(frame.len() as u64));
    g.bench_function("urbanstream_bytes", |b| {
        b.iter(|| decode_avl_frame(black_box(&frame)))
    });
    g.bench_function("nom_teltonika_owned_bytes", |b| {
        b.iter(|| nom_teltonika::decoder::parse_frame(black_box(&frame)).map(|(_, f)| f.evaluate()))
    });
    g.bench_function("nom_teltonika_view_bytes", |b| {
        b.iter(|| nom_teltonika::decoder::parse_frame(black_box(&frame)).map(|(_, f)| f.codec()))
    });

    g.throughput(Throughput::Elements(records.len() as u64));
    g.bench_function("urbanstream_records", |b| {
        b.iter(|| decode_avl_frame(black_box(&frame)))
    });
    g.bench_function("nom_teltonika_owned_records", |b| {
        b.iter(|| nom_teltonika::decoder::parse_frame(black_box(&frame)).map(|(_, f)| f.evaluate()))
    });
    g.finish();
}

criterion_group!(benches, bench);

fn crc(c: &mut Criterion) {
    let data = vec![0x5Au8; 1200];
    let mut g = c.benchmark_group("crc16_ibm");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("1200_bytes", |b| {
        b.iter(|| urbanstream_actors::teltonika::codec::crc16_ibm(black_box(&data)))
    });
    g.finish();
}

criterion_group!(crc_benches, crc);
criterion_main!(benches, crc_benches);
