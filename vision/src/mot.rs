//! MOTChallenge text files and NumPy `.npy` arrays, the formats offline runs read and write.

use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
    #[error("npy: {0}")]
    Npy(String),
}

/// One detection line: `frame,-1,x,y,w,h,score,…` (frames from 1).
#[derive(Debug, Clone, PartialEq)]
pub struct DetRow {
    pub frame: u64,
    pub id: i64,
    pub bbox: [f64; 4],
    pub score: f64,
    /// 0-based line number among the file's data lines (the row of a matching `.npy`).
    pub line: usize,
}

/// Parses a MOTChallenge detection or result file. Blank lines and `#` comments are skipped;
/// a line that is not a box is an error naming it.
pub fn parse_mot(text: &str) -> Result<Vec<DetRow>, FormatError> {
    let mut rows = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let bad = |reason: &str| FormatError::Line {
            line: n + 1,
            reason: reason.to_string(),
        };
        let f: Vec<&str> = l
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .collect();
        if f.len() < 6 {
            return Err(bad("need at least frame,id,x,y,w,h"));
        }
        let num = |i: usize| -> Result<f64, FormatError> {
            f[i].parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| bad(&format!("field {} ({:?}) is not a number", i + 1, f[i])))
        };
        let frame = num(0)?;
        if frame < 1.0 || frame.fract() != 0.0 || frame > 1e9 {
            return Err(bad("frame must be a whole number from 1"));
        }
        let bbox = [num(2)?, num(3)?, num(4)?, num(5)?];
        if bbox[2] < 0.0 || bbox[3] < 0.0 {
            return Err(bad("width and height must not be negative"));
        }
        let score = if f.len() > 6 { num(6)? } else { 1.0 };
        rows.push(DetRow {
            frame: frame as u64,
            id: num(1)? as i64,
            bbox,
            score,
            line: rows.len(),
        });
    }
    Ok(rows)
}

/// Rows by frame, in file order within a frame.
pub fn by_frame(rows: &[DetRow]) -> BTreeMap<u64, Vec<&DetRow>> {
    let mut m: BTreeMap<u64, Vec<&DetRow>> = BTreeMap::new();
    for r in rows {
        m.entry(r.frame).or_default().push(r);
    }
    m
}

/// A result line: `frame,id,x,y,w,h,score,-1,-1,-1`.
pub fn write_result_line(out: &mut String, frame: u64, id: u64, b: [f64; 4], score: f64) {
    let _ = writeln!(
        out,
        "{frame},{id},{:.2},{:.2},{:.2},{:.2},{:.3},-1,-1,-1",
        b[0], b[1], b[2], b[3], score
    );
}

/// A 2-D little-endian float32 or float64 array, as `numpy.save` writes it (C order).
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix32 {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f32>,
}

impl Matrix32 {
    pub fn row(&self, i: usize) -> Option<&[f32]> {
        (i < self.rows).then(|| &self.data[i * self.cols..(i + 1) * self.cols])
    }
}

pub fn parse_npy(bytes: &[u8]) -> Result<Matrix32, FormatError> {
    let err = |s: &str| FormatError::Npy(s.to_string());
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(err("not a .npy file (bad magic)"));
    }
    let major = bytes[6];
    let (hlen, start) = match major {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(err("truncated header"));
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => return Err(FormatError::Npy(format!("unsupported version {v}"))),
    };
    let header = bytes
        .get(start..start + hlen)
        .ok_or_else(|| err("truncated header"))?;
    let header = std::str::from_utf8(header)
        .map_err(|e| FormatError::Npy(format!("header is not text: {e}")))?;
    let field = |key: &str| -> Option<&str> {
        let i = header.find(&format!("'{key}'"))?;
        let rest = header[i + key.len() + 2..]
            .trim_start()
            .strip_prefix(':')?
            .trim_start();
        Some(rest)
    };
    let descr = field("descr").ok_or_else(|| err("no descr"))?;
    let width = if descr.starts_with("'<f4'") {
        4
    } else if descr.starts_with("'<f8'") {
        8
    } else {
        return Err(FormatError::Npy(format!(
            "only little-endian float32/float64 arrays are read, not {}",
            descr.split(',').next().unwrap_or("")
        )));
    };
    if field("fortran_order").is_some_and(|v| v.starts_with("True")) {
        return Err(err("Fortran-order arrays are not read; save with C order"));
    }
    let shape = field("shape").ok_or_else(|| err("no shape"))?;
    let inner = shape
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| err("bad shape"))?;
    let dims: Vec<usize> = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|e| FormatError::Npy(format!("bad shape: {e}")))?;
    let (rows, cols) = match dims.as_slice() {
        [r, c] => (*r, *c),
        [r] => (*r, 1),
        _ => {
            return Err(FormatError::Npy(format!(
                "expected a 2-D array, shape is {dims:?}"
            )))
        }
    };
    let body = &bytes[start + hlen..];
    let n = rows
        .checked_mul(cols)
        .ok_or_else(|| err("shape overflows"))?;
    if body.len() < n * width {
        return Err(FormatError::Npy(format!(
            "data is {} bytes, shape needs {}",
            body.len(),
            n * width
        )));
    }
    let data: Vec<f32> = if width == 4 {
        body.chunks_exact(4)
            .take(n)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    } else {
        body.chunks_exact(8)
            .take(n)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32)
            .collect()
    };
    Ok(Matrix32 { rows, cols, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mot_lines_and_names_bad_ones() {
        let rows = parse_mot("1,-1,10,20,30,40,0.9,-1,-1,-1\n\n# c\n2 -1 1 2 3 4 0.5\n").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].frame, 2);
        assert_eq!(rows[1].line, 1);
        assert_eq!(rows[0].bbox, [10.0, 20.0, 30.0, 40.0]);
        let e = parse_mot("1,-1,10,20,30,40\n0,-1,1,1,1,1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2"), "{e}");
        assert!(parse_mot("1,-1,x,20,30,40").is_err());
        assert!(parse_mot("1,-1,1,20,-3,40").is_err());
    }

    fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + h.len() + 1) % 64 != 0 {
            h.push(' ');
        }
        h.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(h.len() as u16).to_le_bytes());
        b.extend_from_slice(h.as_bytes());
        b.extend_from_slice(data);
        b
    }

    #[test]
    fn reads_npy_float_arrays() {
        let vals: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let m = parse_npy(&npy("<f4", "(2, 3)", &vals)).unwrap();
        assert_eq!((m.rows, m.cols), (2, 3));
        assert_eq!(m.row(1), Some(&[4.0f32, 5.0, 6.0][..]));
        assert_eq!(m.row(2), None);
        let d: Vec<u8> = [0.5f64, 1.5].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(
            parse_npy(&npy("<f8", "(2, 1)", &d)).unwrap().data,
            vec![0.5, 1.5]
        );
        assert!(parse_npy(&npy("<i4", "(1, 1)", &[0; 4])).is_err());
        assert!(parse_npy(&npy("<f4", "(2, 3)", &vals[..8])).is_err());
        assert!(parse_npy(b"garbage!!!!").is_err());
    }
}
