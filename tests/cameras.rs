//! The camera pipeline's offline runs, end to end through the binary: synthetic multi-camera
//! scenes generated with exact ground truth (other seeds, camera counts, frame rates, a camera
//! with a wrong calibration, no appearance vectors), scored by motmetrics; the single-camera
//! tracker on TUD-Campus and TUD-Stadtmitte with corrupted ground truth as detections.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a failed unwrap is a failed test.

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_urbanstream")
}

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts")
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("urbanstream-cameras-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s.trim().lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{e}: {s}"))
}

fn f(v: &serde_json::Value, path: &[&str]) -> f64 {
    let mut v = v;
    for p in path {
        v = &v[*p];
    }
    v.as_f64().unwrap_or_else(|| panic!("{path:?} missing"))
}

/// Generates a scene, runs `urbanstream mtmc` on it, scores it.
fn scene(name: &str, args: &[&str]) -> (serde_json::Value, serde_json::Value) {
    let dir = tempdir(name);
    let scene = dir.join("scene");
    run(Command::new("python3")
        .arg(scripts().join("mtmc_scene.py"))
        .arg(&scene)
        .args(args));
    let out = dir.join("out");
    let summary = json(&run(Command::new(bin())
        .args(["mtmc", "--scene"])
        .arg(&scene)
        .arg("--out")
        .arg(&out)));
    let score = json(&run(Command::new("python3")
        .arg(scripts().join("mtmc_score.py"))
        .arg(&scene)
        .arg(&out)));
    let _ = std::fs::remove_dir_all(&dir);
    (summary, score)
}

fn assert_scene(
    name: &str,
    score: &serde_json::Value,
    camera_mota: f64,
    mtmc_idf1: f64,
    floor_mota: f64,
) {
    let report = format!("{name}: {score}");
    assert!(
        f(score, &["camera_mota"]) >= camera_mota,
        "per-camera MOTA {report}"
    );
    assert!(
        f(score, &["mtmc_idf1"]) >= mtmc_idf1,
        "cross-camera IDF1 {report}"
    );
    assert!(
        f(score, &["floor", "mota"]) >= floor_mota,
        "floor MOTA {report}"
    );
    assert!(f(score, &["floor_rmse_m"]) <= 0.3, "floor RMSE {report}");
    assert!(f(score, &["identity_ratio"]) <= 1.6, "identities {report}");
}

#[test]
fn four_cameras_at_ten_fps_with_appearance() {
    let (summary, score) = scene(
        "ten",
        &[
            "--seed",
            "101",
            "--people",
            "14",
            "--cameras",
            "4",
            "--fps",
            "10",
            "--seconds",
            "40",
        ],
    );
    assert_eq!(summary["cameras"], 4);
    assert_scene("ten", &score, 0.85, 0.8, 0.85);
}

#[test]
fn slow_frame_rate_many_people_and_returns() {
    let (_, score) = scene(
        "slow",
        &[
            "--seed",
            "102",
            "--people",
            "20",
            "--cameras",
            "5",
            "--fps",
            "2",
            "--seconds",
            "60",
            "--reentries",
            "3",
        ],
    );
    assert_scene("slow", &score, 0.75, 0.7, 0.7);
}

#[test]
fn a_camera_with_a_wrong_calibration_is_found_and_corrected() {
    let (summary, score) = scene(
        "bad",
        &[
            "--seed",
            "103",
            "--people",
            "12",
            "--cameras",
            "5",
            "--fps",
            "15",
            "--seconds",
            "30",
            "--bad-camera-m",
            "0.4",
        ],
    );
    assert_scene("bad", &score, 0.8, 0.75, 0.8);
    // The generator moves camera 0's written position; its estimated offset is the largest.
    let offsets = summary["camera_offsets_m"].as_object().unwrap();
    let size = |k: &str| {
        offsets[k][0]
            .as_f64()
            .unwrap()
            .hypot(offsets[k][1].as_f64().unwrap())
    };
    let worst = offsets
        .keys()
        .max_by(|a, b| size(a).total_cmp(&size(b)))
        .unwrap()
        .clone();
    assert_eq!(worst, "0", "{offsets:?}");
    assert!(size("0") > 0.2, "{offsets:?}");
}

#[test]
fn geometry_and_motion_alone_without_appearance() {
    let (_, score) = scene(
        "plain",
        &[
            "--seed",
            "104",
            "--people",
            "10",
            "--cameras",
            "3",
            "--fps",
            "10",
            "--no-embeddings",
            "--height",
            "6",
        ],
    );
    assert_scene("plain", &score, 0.85, 0.75, 0.8);
}

fn motmetrics_data() -> PathBuf {
    let out = run(Command::new("python3").args([
        "-c",
        "import motmetrics, os; print(os.path.dirname(motmetrics.__file__))",
    ]));
    Path::new(out.trim()).join("data")
}

#[test]
fn single_camera_tracker_on_tud_with_corrupted_ground_truth() {
    let data = motmetrics_data();
    let dir = tempdir("tud");
    for (seq, mota, idf1) in [("TUD-Campus", 0.8, 0.75), ("TUD-Stadtmitte", 0.8, 0.75)] {
        let gt = data.join(seq).join("gt.txt");
        let det = dir.join(format!("{seq}-det.txt"));
        let res = dir.join(format!("{seq}-res.txt"));
        // 5 % box jitter, 10 % of people missed per frame, half a false positive per frame.
        run(Command::new("python3")
            .arg(scripts().join("mot_corrupt.py"))
            .arg(&gt)
            .arg(&det)
            .args([
                "--seed", "11", "--jitter", "0.05", "--drop", "0.1", "--fp", "0.5",
            ]));
        let summary = json(&run(Command::new(bin())
            .args(["track", "--fps", "25", "--det"])
            .arg(&det)
            .arg("--out")
            .arg(&res)));
        assert!(f(&summary, &["frames"]) > 50.0, "{summary}");
        let score = json(&run(Command::new("python3")
            .arg(scripts().join("mtmc_score.py"))
            .arg("--single")
            .arg(&gt)
            .arg(&res)));
        assert!(
            f(&score, &["mota"]) >= mota && f(&score, &["idf1"]) >= idf1,
            "{seq}: {score}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_files_are_refused_with_the_reason() {
    let dir = tempdir("bad-input");
    let fail = |args: &[&str]| {
        let out = Command::new(bin()).args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?} succeeded");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let det = dir.join("det.txt");
    std::fs::write(&det, "1,-1,10,10,20,40,0.9\n2,-1,ten,10,20,40,0.9\n").unwrap();
    let e = fail(&[
        "track",
        "--det",
        det.to_str().unwrap(),
        "--out",
        dir.join("r.txt").to_str().unwrap(),
    ]);
    assert!(e.contains("line 2"), "{e}");

    let scene = dir.join("scene");
    std::fs::create_dir_all(scene.join("cam0")).unwrap();
    std::fs::write(scene.join("cam0/det.txt"), "1,-1,10,10,20,40,0.9\n").unwrap();
    // A homography of rank 2 maps the floor onto a line.
    std::fs::write(
        scene.join("cameras.json"),
        r#"{"0": {"H_img_to_floor": [[1,2,3],[2,4,6],[0,0,1]], "fps": 10}}"#,
    )
    .unwrap();
    let e = fail(&[
        "mtmc",
        "--scene",
        scene.to_str().unwrap(),
        "--out",
        dir.join("o").to_str().unwrap(),
    ]);
    assert!(e.contains("degenerate"), "{e}");
    std::fs::write(scene.join("cameras.json"), "{not json").unwrap();
    let e = fail(&[
        "mtmc",
        "--scene",
        scene.to_str().unwrap(),
        "--out",
        dir.join("o").to_str().unwrap(),
    ]);
    assert!(e.contains("cameras.json"), "{e}");
    // Appearance rows must match detection lines.
    std::fs::write(
        scene.join("cameras.json"),
        r#"{"0": {"H_img_to_floor": [[0.01,0,0],[0,0.01,0],[0,0,1]], "fps": 10}}"#,
    )
    .unwrap();
    let mut npy = b"\x93NUMPY\x01\x00".to_vec();
    let mut h = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }".to_string();
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    npy.extend_from_slice(&(h.len() as u16).to_le_bytes());
    npy.extend_from_slice(h.as_bytes());
    npy.extend_from_slice(&[0u8; 16]);
    std::fs::write(scene.join("cam0/emb.npy"), &npy).unwrap();
    let e = fail(&[
        "mtmc",
        "--scene",
        scene.to_str().unwrap(),
        "--out",
        dir.join("o").to_str().unwrap(),
    ]);
    assert!(e.contains("2 rows for 1 detections"), "{e}");
    std::fs::remove_file(scene.join("cam0/emb.npy")).unwrap();
    run(Command::new(bin()).args([
        "mtmc",
        "--scene",
        scene.to_str().unwrap(),
        "--out",
        dir.join("o").to_str().unwrap(),
    ]));
    assert!(dir.join("o/cam0/res.txt").exists() && dir.join("o/floor.txt").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(feature = "video")]
#[test]
fn track_video_with_the_hog_detector() {
    let dir = tempdir("video");
    let res = dir.join("vtest.txt");
    let vtest = "/usr/share/doc/opencv-doc/examples/data/vtest.avi";
    let summary = json(&run(Command::new(bin())
        .args([
            "track",
            "--video",
            vtest,
            "--max-frames",
            "40",
            "--detect-every",
            "2",
            "--out",
        ])
        .arg(&res)));
    assert_eq!(f(&summary, &["frames"]), 40.0, "{summary}");
    assert!(f(&summary, &["tracks"]) >= 2.0, "{summary}");
    let rows = urbanstream_vision::mot::parse_mot(&std::fs::read_to_string(&res).unwrap()).unwrap();
    assert!(
        rows.len() >= 40 && rows.iter().all(|r| r.frame >= 1 && r.frame <= 40),
        "{} rows",
        rows.len()
    );
    // Frames between detected ones are filled in by the tracks' interpolation.
    assert!(
        rows.iter().any(|r| r.frame % 2 == 0),
        "only detected frames have boxes"
    );
    // Several people walk through the whole clip: some tracks last most of it.
    let mut per_track = std::collections::BTreeMap::<i64, usize>::new();
    for r in &rows {
        *per_track.entry(r.id).or_default() += 1;
    }
    let long = per_track.values().filter(|&&n| n >= 20).count();
    assert!(long >= 2, "tracks and their lengths: {per_track:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(not(feature = "video"))]
#[test]
fn track_video_without_the_feature_says_how_to_get_it() {
    let out = Command::new(bin())
        .args(["track", "--video", "clip.avi", "--out", "/dev/null"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--features video"));
}
