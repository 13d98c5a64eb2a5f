#!/usr/bin/env python3
"""A Modbus peer that is not ours: pymodbus serving the `oht50-v1` register map for a few
overhead hoist robots, over TCP or RTU (a serial device such as one end of a socat pty pair).

It keeps only what the map says: a control-cycle counter that moves every 100 ms, a command
block (holding 100-103) whose sequence is echoed in input 13 with result 0 (1 when the
robot is stopped), the emergency stop coil latching status bit 3 and state 4 until a
reset_fault command, identity registers 200-212 and FC43 device identification.

    oht_peer.py --units 2 (--tcp 127.0.0.1:5020 | --serial /dev/pts/7)
"""
import argparse
import asyncio

from pymodbus import FramerType, ModbusDeviceIdentification
from pymodbus.datastore import ModbusDeviceContext, ModbusServerContext
from pymodbus.server import StartAsyncSerialServer, StartAsyncTcpServer


class Robot(ModbusDeviceContext):
    """One unit, addressed from 0 as the map gives it."""

    def __init__(self, unit):
        super().__init__()
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
        return self.tables["c"][0]

    def getValues(self, func_code, address, count=1):
        table = self.tables.get(self.decode(func_code))
        return table[address:address + count]

    def setValues(self, func_code, address, values):
        kind = self.decode(func_code)
        table = self.tables[kind]
        table[address:address + len(values)] = values
        ir = self.tables["i"]
        if kind == "c" and address == 0 and values[0]:
            ir[0] = (ir[0] | 1 << 3) & ~1  # estop_active, not ready
            ir[1] = 4  # emergency_stopped
        if kind == "h" and address == 100 and len(values) == 4:
            command, _argument, _speed, seq = values
            if command == 6:  # reset_fault
                self.tables["c"][0] = False
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
    a = p.parse_args()
    robots = {u: Robot(u) for u in range(1, a.units + 1)}
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
