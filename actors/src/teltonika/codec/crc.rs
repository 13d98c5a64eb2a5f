//! CRC-16/IBM (also known as CRC-16/ARC): poly 0x8005 reflected, init 0, no xorout.

use crc::{Crc, Table, CRC_16_ARC};

const CRC16: Crc<u16, Table<16>> = Crc::<u16, Table<16>>::new(&CRC_16_ARC);

/// CRC-16/IBM of `data`, as Teltonika computes it over codec id .. second record count.
pub fn crc16_ibm(data: &[u8]) -> u16 {
    CRC16.checksum(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value_matches_catalogue() {
        assert_eq!(crc16_ibm(b"123456789"), 0xBB3D);
    }

    #[test]
    fn matches_reference_bitwise_loop() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let mut crc: u16 = 0;
        for &b in &data {
            crc ^= u16::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xA001
                } else {
                    crc >> 1
                };
            }
        }
        assert_eq!(crc16_ibm(&data), crc);
    }
}
