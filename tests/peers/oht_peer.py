#!/usr/bin/env python3
"""A Modbus peer that is not ours: pymodbus serving the `oht50-v1` register map for a few
overhead hoist robots, over TCP or RTU (a serial device such as one end of a socat pty pair).

It keeps only what the map says: a control-cycle counter that moves every 100 ms, a command
block (holding 100-103) whose sequence is echoed in input 13 with result 0 (1 when the
robot is stopped), the emergency stop coil latching status bit 3 and state 4 until a
reset_fault command, identity registers 200-212 and FC43 device identification.

A unit may keep its stop on another coil (`--stop-coils 0,5`: unit 1 on coil 0, unit 2 on
coil 5, …, as a second register map would say); `--coil-log FILE` appends every coil write
a unit takes as `unit address value` lines.

    oht_peer.py --units 2 (--tcp 127.0.0.1:5020 | --serial /dev/pts/7)
"""
import argparse
import asyncio

from pymodbus import FramerType, ModbusDeviceIdentification
from pymodbus.datastore import ModbusDeviceContext, ModbusServerContext
from pymodbus.server import StartAsyncSerialServer, StartAsyncTcpServer


class Robot(ModbusDeviceContext):
    """One unit, addressed from 0 as the map gives it."""

    def __init__(self, unit, stop_coil=0, coil_log=None):
        super().__init__()
        self.unit = unit
        self.stop_coil = stop_coil
        self.coil_log = coil_log
        self.tables = {
            "i": [0] * 16,
            "h": [0] * 256,
            "c": [False] * 8,
            "d": [False] * 8,
        }
        ir = self.tables["i"]
        station = unit + 1
        position = station * 2000
        ir[0] = 0b1_0001  # ready, homed
        ir[2], ir[3] = position >> 16, position & 0xFFFF
        ir[6], ir[7] = 800, 250  # 80.0 %, 25.0 degrees
        ir[8] = ir[9] = station
        hr = self.tables["h"]
        model = b"PYMODBUS-OHT\0\0\0\0\0\0\0\0"
        for i in range(10):
            hr[200 + i] = model[2 * i] << 8 | model[2 * i + 1]
        hr[210], hr[211], hr[212] = 0, 7000 + unit, 0x0203

    def stopped(self):
        return self.tables["c"][self.stop_coil]

    def getValues(self, func_code, address, count=1):
        table = self.tables.get(self.decode(func_code))
        return table[address:address + count]

    def setValues(self, func_code, address, values):
        kind = self.decode(func_code)
        table = self.tables[kind]
        table[address:address + len(values)] = values
        ir = self.tables["i"]
        if kind == "c" and self.coil_log:
            with open(self.coil_log, "a", encoding="ascii") as log:
                for i, v in enumerate(values):
                    log.write(f"{self.unit} {address + i} {int(bool(v))}\n")
        if kind == "c" and address == self.stop_coil and values[0]:
            ir[0] = (ir[0] | 1 << 3) & ~1  # estop_active, not ready
            ir[1] = 4  # emergency_stopped
        if kind == "h" and address == 100 and len(values) == 4:
            command, _argument, _speed, seq = values
            if command == 6:  # reset_fault
                self.tables["c"][self.stop_coil] = False
                ir[0] = (ir[0] & ~(1 << 3)) | 1
                ir[1] = 0
                ir[14] = 0
            else:
                ir[14] = 1 if self.stopped() else 0
            ir[13] = seq

    def tick(self):
        ir = self.tables["i"]
        ir[12] = (ir[12] + 1) & 0xFFFF


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--units", type=int, default=2)
    p.add_argument("--tcp")
    p.add_argument("--serial")
    p.add_argument("--baud", type=int, default=115200)
    p.add_argument("--stop-coils", default="0")
    p.add_argument("--coil-log")
    a = p.parse_args()
    coils = [int(c) for c in a.stop_coils.split(",")]
    robots = {
        u: Robot(u, coils[(u - 1) % len(coils)], a.coil_log) for u in range(1, a.units + 1)
    }
    context = ModbusServerContext(devices=robots, single=False)
    identity = ModbusDeviceIdentification(
        info_name={"VendorName": "pymodbus", "ProductCode": "OHT-50", "MajorMinorRevision": "2.3"}
    )

    async def cycle():
        while True:
            await asyncio.sleep(0.1)
            for r in robots.values():
                r.tick()

    asyncio.create_task(cycle())
    if a.tcp:
        host, port = a.tcp.rsplit(":", 1)
        await StartAsyncTcpServer(context=context, address=(host, int(port)), identity=identity)
    else:
        await StartAsyncSerialServer(
            context=context,
            port=a.serial,
            baudrate=a.baud,
            framer=FramerType.RTU,
            identity=identity,
            broadcast_enable=True,
        )


if __name__ == "__main__":
    asyncio.run(main())
