//! Register maps: where a robot model keeps each value, as data (`[[modbus.maps]]` in
//! config), so that another model is a new table, not new code. Registers are 16-bit big
//! endian; a 32-bit value takes two registers, high word first.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::entity::{CommandResult, RobotCommand, RobotMode, RobotReport};

/// One model's register map.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterMap {
    pub name: String,
    /// Input register (FC04) address of each value.
    pub inputs: InputRegisters,
    /// Bit of the status register for each flag.
    pub status_bits: StatusBits,
    /// The controller's state codes.
    pub states: BTreeMap<String, u16>,
    /// First of the four command holding registers: command, argument, speed, sequence.
    pub command_register: u16,
    /// The command codes.
    pub commands: BTreeMap<String, u16>,
    /// Holding register the host writes a changing value to every cycle.
    pub host_heartbeat_register: u16,
    /// Holding registers of the identity block: model (ASCII, 10 registers), serial (u32),
    /// firmware (major << 8 | minor).
    pub identity_register: u16,
    pub estop_coil: u16,
    pub brake_release_coil: u16,
    /// Discrete input (FC02) address of each safety input.
    pub safety_inputs: SafetyInputs,
    /// Physical value = raw × scale.
    pub battery_scale: f64,
    pub temperature_scale: f64,
    pub load_scale: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputRegisters {
    pub status: u16,
    pub state: u16,
    /// u32, two registers.
    pub position_mm: u16,
    /// i16.
    pub speed_mm_s: u16,
    pub hoist_mm: u16,
    pub battery: u16,
    /// i16.
    pub temperature: u16,
    pub station: u16,
    pub target_station: u16,
    pub fault_code: u16,
    pub load: u16,
    pub heartbeat: u16,
    pub command_seq: u16,
    pub command_result: u16,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusBits {
    pub ready: u8,
    pub moving: u8,
    pub fault: u8,
    pub estop_active: u8,
    pub homed: u8,
    pub load_present: u8,
    pub hoist_busy: u8,
    pub charging: u8,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafetyInputs {
    pub estop_pressed: u16,
    pub scanner_field: u16,
    pub door_open: u16,
    pub overload: u16,
}

impl RegisterMap {
    /// The OHT-50 module map, version 1 (also in config/default.toml).
    pub fn oht50_v1() -> Self {
        let codes = |names: &[&str], first: u16| {
            names
                .iter()
                .enumerate()
                .map(|(i, n)| ((*n).to_owned(), first + i as u16))
                .collect()
        };
        Self {
            name: "oht50-v1".into(),
            inputs: InputRegisters {
                status: 0,
                state: 1,
                position_mm: 2,
                speed_mm_s: 4,
                hoist_mm: 5,
                battery: 6,
                temperature: 7,
                station: 8,
                target_station: 9,
                fault_code: 10,
                load: 11,
                heartbeat: 12,
                command_seq: 13,
                command_result: 14,
            },
            status_bits: StatusBits {
                ready: 0,
                moving: 1,
                fault: 2,
                estop_active: 3,
                homed: 4,
                load_present: 5,
                hoist_busy: 6,
                charging: 7,
            },
            states: codes(
                &[
                    "idle",
                    "moving",
                    "hoisting",
                    "fault",
                    "emergency_stopped",
                    "homing",
                    "charging",
                ],
                0,
            ),
            command_register: 100,
            commands: codes(
                &[
                    "move_to_station",
                    "stop",
                    "home",
                    "hoist_up",
                    "hoist_down",
                    "reset_fault",
                    "go_charge",
                ],
                1,
            ),
            host_heartbeat_register: 110,
            identity_register: 200,
            estop_coil: 0,
            brake_release_coil: 1,
            safety_inputs: SafetyInputs {
                estop_pressed: 0,
                scanner_field: 1,
                door_open: 2,
                overload: 3,
            },
            battery_scale: 0.1,
            temperature_scale: 0.1,
            load_scale: 0.1,
        }
    }

    /// Checks the map is usable: every command and state named, addresses in range.
    pub fn validate(&self) -> Result<(), String> {
        for c in [
            "move_to_station",
            "stop",
            "home",
            "hoist_up",
            "hoist_down",
            "reset_fault",
            "go_charge",
        ] {
            if !self.commands.contains_key(c) {
                return Err(format!("map {}: no code for command {c}", self.name));
            }
        }
        let b = &self.status_bits;
        for bit in [
            b.ready,
            b.moving,
            b.fault,
            b.estop_active,
            b.homed,
            b.load_present,
            b.hoist_busy,
            b.charging,
        ] {
            if bit > 15 {
                return Err(format!("map {}: status bit {bit} is beyond 15", self.name));
            }
        }
        if self.input_span().1 > 125 {
            return Err(format!(
                "map {}: input registers span more than 125",
                self.name
            ));
        }
        Ok(())
    }

    /// The input registers to read in one request: (first, count).
    pub fn input_span(&self) -> (u16, u16) {
        let i = &self.inputs;
        let all = [
            i.status,
            i.state,
            i.position_mm,
            i.position_mm + 1,
            i.speed_mm_s,
            i.hoist_mm,
            i.battery,
            i.temperature,
            i.station,
            i.target_station,
            i.fault_code,
            i.load,
            i.heartbeat,
            i.command_seq,
            i.command_result,
        ];
        let lo = all.iter().copied().min().unwrap_or(0);
        let hi = all.iter().copied().max().unwrap_or(0);
        (lo, hi - lo + 1)
    }

    /// The discrete inputs to read in one request: (first, count).
    pub fn safety_span(&self) -> (u16, u16) {
        let s = &self.safety_inputs;
        let all = [s.estop_pressed, s.scanner_field, s.door_open, s.overload];
        let lo = all.iter().copied().min().unwrap_or(0);
        let hi = all.iter().copied().max().unwrap_or(0);
        (lo, hi - lo + 1)
    }

    /// A report from the input registers read from `input_span().0` and the discrete
    /// inputs read from `safety_span().0`.
    pub fn decode(&self, regs: &[u16], bits: &[bool]) -> Option<RobotReport> {
        let (base, _) = self.input_span();
        let r = |a: u16| regs.get(usize::from(a - base)).copied();
        let i = &self.inputs;
        let status = r(i.status)?;
        let flag = |bit: u8| status & (1 << bit) != 0;
        let code = r(i.state)?;
        let mode = self
            .states
            .iter()
            .find(|(_, c)| **c == code)
            .map_or(RobotMode::Unknown, |(name, _)| mode_of(name));
        let (sbase, _) = self.safety_span();
        let b = |a: u16| bits.get(usize::from(a - sbase)).copied().unwrap_or(false);
        let s = &self.safety_inputs;
        let sb = &self.status_bits;
        Some(RobotReport {
            ready: flag(sb.ready),
            moving: flag(sb.moving),
            fault: flag(sb.fault),
            estop_active: flag(sb.estop_active),
            homed: flag(sb.homed),
            load_present: flag(sb.load_present),
            hoist_busy: flag(sb.hoist_busy),
            charging: flag(sb.charging),
            status_bits: status,
            mode,
            position_mm: (u32::from(r(i.position_mm)?) << 16) | u32::from(r(i.position_mm + 1)?),
            speed_mm_s: r(i.speed_mm_s)? as i16,
            hoist_mm: r(i.hoist_mm)?,
            battery_pct: f64::from(r(i.battery)?) * self.battery_scale,
            temperature_c: f64::from(r(i.temperature)? as i16) * self.temperature_scale,
            station: r(i.station)?,
            target_station: r(i.target_station)?,
            fault_code: r(i.fault_code)?,
            load_kg: f64::from(r(i.load)?) * self.load_scale,
            heartbeat: r(i.heartbeat)?,
            command_seq: r(i.command_seq)?,
            command_result: match r(i.command_result)? {
                0 => CommandResult::Ok,
                1 => CommandResult::Rejected,
                2 => CommandResult::Failed,
                3 => CommandResult::Running,
                _ => CommandResult::Unknown,
            },
            estop_pressed: b(s.estop_pressed),
            scanner_field: b(s.scanner_field),
            door_open: b(s.door_open),
            overload: b(s.overload),
        })
    }

    /// The four command registers (command, argument, speed, sequence) for one FC16 write.
    pub fn command_values(&self, cmd: &RobotCommand, seq: u16) -> Option<Vec<u16>> {
        let code = *self.commands.get(cmd.name())?;
        Some(vec![code, cmd.argument(), cmd.speed_mm_s(), seq])
    }
}

fn mode_of(name: &str) -> RobotMode {
    match name {
        "idle" => RobotMode::Idle,
        "moving" => RobotMode::Moving,
        "hoisting" => RobotMode::Hoisting,
        "fault" => RobotMode::Fault,
        "emergency_stopped" => RobotMode::EmergencyStopped,
        "homing" => RobotMode::Homing,
        "charging" => RobotMode::Charging,
        _ => RobotMode::Unknown,
    }
}

/// What registers 200–212 (the identity block) say.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Identity {
    pub model: String,
    pub serial: u32,
    pub firmware: String,
}

impl Identity {
    pub fn decode(regs: &[u16]) -> Option<Self> {
        let model: Vec<u8> = regs
            .get(..10)?
            .iter()
            .flat_map(|r| r.to_be_bytes())
            .take_while(|b| *b != 0)
            .collect();
        let serial = (u32::from(*regs.get(10)?) << 16) | u32::from(*regs.get(11)?);
        let fw = *regs.get(12)?;
        Some(Self {
            model: String::from_utf8_lossy(&model).trim().to_owned(),
            serial,
            firmware: format!("{}.{}", fw >> 8, fw & 0xFF),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oht50_map_decodes_its_registers() {
        let m = RegisterMap::oht50_v1();
        assert_eq!(m.validate(), Ok(()));
        assert_eq!(m.input_span(), (0, 15));
        assert_eq!(m.safety_span(), (0, 4));
        let regs = [
            0b0001_0011, // ready, moving, homed
            1,           // moving
            0x0001,
            0x86A0, // 100_000 mm
            (-250i16) as u16,
            40,
            875,             // 87.5 %
            (-52i16) as u16, // -5.2 °C
            3,
            5,
            0,
            123, // 12.3 kg
            999,
            17,
            3,
        ];
        let r = m.decode(&regs, &[false, true, false, false]).unwrap();
        assert!(r.ready && r.moving && r.homed && !r.fault);
        assert_eq!(r.mode, RobotMode::Moving);
        assert_eq!(r.position_mm, 100_000);
        assert_eq!(r.speed_mm_s, -250);
        assert!((r.battery_pct - 87.5).abs() < 1e-9);
        assert!((r.temperature_c + 5.2).abs() < 1e-9);
        assert!((r.load_kg - 12.3).abs() < 1e-9);
        assert_eq!((r.station, r.target_station, r.heartbeat), (3, 5, 999));
        assert_eq!(
            (r.command_seq, r.command_result),
            (17, CommandResult::Running)
        );
        assert!(r.scanner_field && !r.estop_pressed);
        assert!(m.decode(&regs[..10], &[]).is_none());
        let cmd = RobotCommand::HoistDown {
            hoist_mm: Some(300),
        };
        assert_eq!(m.command_values(&cmd, 9), Some(vec![5, 300, 0, 9]));
    }

    #[test]
    fn identity_block() {
        let mut regs = vec![0u16; 13];
        for (i, c) in b"OHT-50".chunks(2).enumerate() {
            regs[i] = u16::from_be_bytes([c[0], c[1]]);
        }
        regs[10] = 0x0001;
        regs[11] = 0x0002;
        regs[12] = 0x0103;
        let id = Identity::decode(&regs).unwrap();
        assert_eq!(id.model, "OHT-50");
        assert_eq!(id.serial, 65538);
        assert_eq!(id.firmware, "1.3");
    }
}
