//! Feeds arbitrary bytes through the Modbus adapter's decoders: RTU reply framing and CRC,
//! a response to each request kind, and the register map's decoding of what a robot
//! answers. Any panic is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use urbanstream_actors::modbus::frame::{rtu_pdu, rtu_reply_len, Request};
use urbanstream_actors::modbus::{Identity, RegisterMap};

fuzz_target!(|data: &[u8]| {
    let Some((&unit, rest)) = data.split_first() else {
        return;
    };
    let _ = rtu_reply_len(rest);
    let pdu = rtu_pdu(rest, unit).unwrap_or(rest);
    let requests = [
        Request::ReadInputRegisters { addr: 0, count: 16 },
        Request::ReadHoldingRegisters { addr: 200, count: 13 },
        Request::ReadDiscreteInputs { addr: 0, count: 4 },
        Request::ReadCoils { addr: 0, count: 2 },
        Request::WriteSingleCoil { addr: 0, on: true },
        Request::WriteSingleRegister { addr: 110, value: 7 },
        Request::WriteMultipleRegisters { addr: 100, values: vec![1, 2, 3, 4] },
        Request::ReadDeviceIdentification,
    ];
    for r in &requests {
        let _ = r.parse(pdu);
    }
    let regs: Vec<u16> = rest
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    let bits: Vec<bool> = rest.iter().map(|b| b & 1 == 1).collect();
    let map = RegisterMap::oht50_v1();
    let _ = map.decode(&regs, &bits);
    let _ = Identity::decode(&regs);
});
