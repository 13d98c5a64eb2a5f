//! Camera calibrations as OpenCV's `FileStorage` writes them (the YAML or XML files that
//! `calibrateCamera` / `solvePnP` users keep): the `!!opencv-matrix` / `type_id="opencv-matrix"`
//! nodes, read by name into a [`CalibrationSpec`]. Only matrices (rows, cols, data) are read;
//! other nodes are skipped.

use std::collections::HashMap;

use crate::geometry::CalibrationSpec;

/// A matrix node: rows, columns and its values row by row.
#[derive(Debug, Clone, PartialEq)]
pub struct Mat {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f64>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FileStorageError {
    #[error("not an OpenCV FileStorage file (no %YAML header nor <opencv_storage>)")]
    NotFileStorage,
    #[error("matrix `{0}`: {1}")]
    BadMatrix(String, String),
    #[error("`{0}` must be {1}, it is {2}×{3}")]
    WrongShape(&'static str, &'static str, usize, usize),
    #[error("no calibration matrices found (camera_matrix/K, R/rvec, t/tvec, or H)")]
    Empty,
}

/// Every matrix node of a FileStorage text (YAML or XML), by name.
pub fn read_matrices(text: &str) -> Result<HashMap<String, Mat>, FileStorageError> {
    let head = text.trim_start();
    if head.starts_with("%YAML") {
        read_yaml(text)
    } else if head.starts_with("<?xml") || head.starts_with("<opencv_storage") {
        read_xml(text)
    } else {
        Err(FileStorageError::NotFileStorage)
    }
}

fn numbers(name: &str, s: &str) -> Result<Vec<f64>, FileStorageError> {
    s.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse::<f64>().map_err(|_e| {
                FileStorageError::BadMatrix(name.into(), format!("`{t}` is not a number"))
            })
        })
        .collect()
}

fn matrix(
    name: &str,
    rows: Option<usize>,
    cols: Option<usize>,
    data: Vec<f64>,
) -> Result<Mat, FileStorageError> {
    let bad = |m: String| FileStorageError::BadMatrix(name.into(), m);
    let (rows, cols) = (
        rows.ok_or_else(|| bad("no rows".into()))?,
        cols.ok_or_else(|| bad("no cols".into()))?,
    );
    if rows * cols != data.len() {
        return Err(bad(format!(
            "{rows}×{cols} needs {} values, has {}",
            rows * cols,
            data.len()
        )));
    }
    Ok(Mat { rows, cols, data })
}

fn read_yaml(text: &str) -> Result<HashMap<String, Mat>, FileStorageError> {
    let mut out = HashMap::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let Some((name, rest)) = line.split_once(':') else {
            i += 1;
            continue;
        };
        if !rest.trim_start().starts_with("!!opencv-matrix") || line.starts_with(' ') {
            i += 1;
            continue;
        }
        let name = name.trim().to_owned();
        let (mut rows, mut cols, mut data) = (None, None, None);
        i += 1;
        // The node's fields are the indented lines that follow.
        while i < lines.len() && (lines[i].starts_with(' ') || lines[i].trim().is_empty()) {
            let l = lines[i].trim();
            if let Some(v) = l.strip_prefix("rows:") {
                rows = v.trim().parse().ok();
            } else if let Some(v) = l.strip_prefix("cols:") {
                cols = v.trim().parse().ok();
            } else if let Some(v) = l.strip_prefix("data:") {
                // `[ a, b, …` up to the closing bracket, over as many lines as it takes.
                let mut s = v.trim().trim_start_matches('[').to_owned();
                while !s.contains(']') && i + 1 < lines.len() {
                    i += 1;
                    s.push(' ');
                    s.push_str(lines[i].trim());
                }
                let s = s.split(']').next().unwrap_or_default();
                data = Some(numbers(&name, s)?);
            }
            i += 1;
        }
        out.insert(
            name.clone(),
            matrix(&name, rows, cols, data.unwrap_or_default())?,
        );
    }
    Ok(out)
}

/// The text between `<tag>` and `</tag>` within `s`.
fn element<'a>(s: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = s.find(&open)? + open.len();
    let end = s[start..].find(&format!("</{tag}>"))? + start;
    Some(&s[start..end])
}

fn read_xml(text: &str) -> Result<HashMap<String, Mat>, FileStorageError> {
    let mut out = HashMap::new();
    let mut rest = text;
    while let Some(at) = rest.find("type_id=\"opencv-matrix\"") {
        // The element's name is the tag this attribute belongs to.
        let open = rest[..at].rfind('<').unwrap_or(0);
        let name = rest[open + 1..at].trim().to_owned();
        let close = format!("</{name}>");
        let body_start = rest[at..].find('>').map_or(rest.len(), |p| at + p + 1);
        let body_end = rest[body_start..]
            .find(&close)
            .map_or(rest.len(), |p| body_start + p);
        let body = &rest[body_start..body_end];
        let rows = element(body, "rows").and_then(|v| v.trim().parse().ok());
        let cols = element(body, "cols").and_then(|v| v.trim().parse().ok());
        let data = numbers(&name, element(body, "data").unwrap_or_default())?;
        out.insert(name.clone(), matrix(&name, rows, cols, data)?);
        rest = &rest[body_end.min(rest.len())..];
    }
    Ok(out)
}

/// The first of `names` present.
fn pick<'a>(m: &'a HashMap<String, Mat>, names: &[&str]) -> Option<(&'static str, &'a Mat)> {
    names
        .iter()
        .find_map(|n| m.get(*n).map(|mat| (leak_name(n), mat)))
}

fn leak_name(n: &str) -> &'static str {
    match n {
        "camera_matrix" | "cameraMatrix" | "K" | "intrinsic" => "camera_matrix",
        "R" | "rotation_matrix" => "R",
        "H" | "homography" | "H_img_to_floor" => "H",
        _ => "matrix",
    }
}

fn m3(name: &'static str, m: &Mat) -> Result<[[f64; 3]; 3], FileStorageError> {
    if (m.rows, m.cols) != (3, 3) {
        return Err(FileStorageError::WrongShape(name, "3×3", m.rows, m.cols));
    }
    Ok([0, 1, 2].map(|r| [0, 1, 2].map(|c| m.data[r * 3 + c])))
}

fn v3(name: &'static str, m: &Mat) -> Result<[f64; 3], FileStorageError> {
    if m.data.len() != 3 {
        return Err(FileStorageError::WrongShape(
            name,
            "3×1 or 1×3",
            m.rows,
            m.cols,
        ));
    }
    Ok([m.data[0], m.data[1], m.data[2]])
}

/// A calibration from a FileStorage text: intrinsics (`camera_matrix`, `cameraMatrix`, `K`),
/// distortion (`distortion_coefficients`, `dist_coeffs`, `distCoeffs`, `D`), pose (`R` or
/// `rvec`, and `t` or `tvec`) and/or an image→floor homography (`H`, `homography`,
/// `H_img_to_floor`).
pub fn calibration_from_text(text: &str) -> Result<CalibrationSpec, FileStorageError> {
    let m = read_matrices(text)?;
    let mut spec = CalibrationSpec::default();
    if let Some((n, k)) = pick(&m, &["camera_matrix", "cameraMatrix", "K", "intrinsic"]) {
        spec.k = Some(m3(n, k)?);
    }
    if let Some(d) = [
        "distortion_coefficients",
        "dist_coeffs",
        "distCoeffs",
        "D",
        "dist",
    ]
    .iter()
    .find_map(|n| m.get(*n))
    {
        spec.dist = Some(d.data.clone());
    }
    if let Some((n, r)) = pick(&m, &["R", "rotation_matrix"]) {
        spec.r = Some(m3(n, r)?);
    } else if let Some(r) = ["rvec", "rvecs", "rotation_vector"]
        .iter()
        .find_map(|n| m.get(*n))
    {
        spec.rvec = Some(v3("rvec", r)?);
    }
    if let Some(t) = ["t", "tvec", "tvecs", "translation_vector", "T"]
        .iter()
        .find_map(|n| m.get(*n))
    {
        spec.t = Some(v3("tvec", t)?);
    }
    if let Some((n, h)) = pick(&m, &["H", "homography", "H_img_to_floor"]) {
        spec.h_img_to_floor = Some(m3(n, h)?);
    }
    if spec.k.is_none() && spec.h_img_to_floor.is_none() {
        return Err(FileStorageError::Empty);
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::FloorCalibration;

    const YAML: &str = "%YAML:1.0\n---\nimage_width: 1280\ncamera_matrix: !!opencv-matrix\n   rows: 3\n   cols: 3\n   dt: d\n   data: [ 8.0000000000000000e+02, 0., 6.4e+02, 0., 800., 360., 0.,\n       0., 1. ]\ndistortion_coefficients: !!opencv-matrix\n   rows: 1\n   cols: 5\n   dt: d\n   data: [ -0.05, 0.01, 0., 0., 0. ]\nR: !!opencv-matrix\n   rows: 3\n   cols: 3\n   dt: d\n   data: [ 1., 0., 0., 0., -1., 0., 0., 0., -1. ]\ntvec: !!opencv-matrix\n   rows: 3\n   cols: 1\n   dt: d\n   data: [ -10., 7., 5. ]\n";

    const XML: &str = "<?xml version=\"1.0\"?>\n<opencv_storage>\n<cameraMatrix type_id=\"opencv-matrix\">\n  <rows>3</rows>\n  <cols>3</cols>\n  <dt>d</dt>\n  <data>\n    800. 0. 640. 0. 800. 360. 0. 0. 1.</data></cameraMatrix>\n<distCoeffs type_id=\"opencv-matrix\">\n  <rows>5</rows>\n  <cols>1</cols>\n  <dt>d</dt>\n  <data>\n    -0.05 0.01 0. 0. 0.</data></distCoeffs>\n<rvec type_id=\"opencv-matrix\"><rows>3</rows><cols>1</cols><dt>d</dt><data>3.141592653589793 0. 0.</data></rvec>\n<tvec type_id=\"opencv-matrix\"><rows>3</rows><cols>1</cols><dt>d</dt><data>-10. 7. 5.</data></tvec>\n</opencv_storage>\n";

    #[test]
    fn yaml_and_xml_give_the_same_calibration() {
        let a = calibration_from_text(YAML).unwrap();
        let b = calibration_from_text(XML).unwrap();
        assert_eq!(
            a.k,
            Some([[800.0, 0.0, 640.0], [0.0, 800.0, 360.0], [0.0, 0.0, 1.0]])
        );
        assert_eq!(a.k, b.k);
        assert_eq!(a.dist, Some(vec![-0.05, 0.01, 0.0, 0.0, 0.0]));
        assert_eq!(a.dist, b.dist);
        assert_eq!(a.t, b.t);
        assert_eq!(a.t, Some([-10.0, 7.0, 5.0]));
        assert!(a.r.is_some() && b.rvec.is_some());
        // A camera 5 m above (10, 7) looking straight down, from either file: the image
        // centre is right below it, and 80 pixels right is half a metre along x.
        for spec in [a, b] {
            let cal = FloorCalibration::from_spec(&spec).unwrap();
            let (x, y) = cal.to_floor(640.0, 360.0).unwrap();
            assert!((x - 10.0).abs() < 1e-6 && (y - 7.0).abs() < 1e-6, "{x} {y}");
            let (x, _) = cal.to_floor(720.0, 360.0).unwrap();
            assert!((x - 10.5).abs() < 0.01, "{x}");
        }
    }

    #[test]
    fn broken_files_say_what_is_wrong() {
        assert_eq!(
            calibration_from_text("{}").unwrap_err(),
            FileStorageError::NotFileStorage
        );
        assert_eq!(
            calibration_from_text("%YAML:1.0\n---\nimage_width: 3\n").unwrap_err(),
            FileStorageError::Empty
        );
        let short = YAML.replace("data: [ -10., 7., 5. ]", "data: [ -10., 7. ]");
        assert!(
            matches!(calibration_from_text(&short), Err(FileStorageError::BadMatrix(n, _)) if n == "tvec")
        );
        let word = XML.replace("-10. 7. 5.", "-10. x 5.");
        assert!(matches!(
            calibration_from_text(&word),
            Err(FileStorageError::BadMatrix(..))
        ));
        let wide = YAML.replace("   rows: 3\n   cols: 3\n", "   rows: 1\n   cols: 9\n");
        assert!(matches!(
            calibration_from_text(&wide),
            Err(FileStorageError::WrongShape("camera_matrix", ..))
        ));
    }
}
