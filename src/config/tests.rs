//! Loading and validating settings.

use std::collections::HashMap;
use std::time::Duration;

use super::*;
use crate::auth::MIN_SIGNING_KEY_BYTES;

#[test]
fn defaults_load_and_validate() {
    let s = Settings::defaults_with(&[]).unwrap();
    assert_eq!(s.http.listen, "0.0.0.0:8080".parse().unwrap());
    assert_eq!(s.teltonika.listen, "0.0.0.0:5000".parse().unwrap());
    assert_eq!(s.teltonika.udp_listen, None);
    assert!(!s.teltonika.register_unknown);
    assert_eq!(s.teltonika.idle_timeout, Duration::from_secs(600));
    assert_eq!(s.teltonika.max_frame_bytes, 16 * 1024);
    assert_eq!(s.database.url, "sqlite://data/urbanstream.db");
    let err = Settings::defaults_with(&[("database.url", "mysql://x")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("database.url"), "{err}");
    let profiles = s.io_profiles().unwrap();
    assert_eq!(profiles.for_model("FMC125").name(), "fmc125");
    assert_eq!(
        profiles.for_model("FMC125-CAN-ALT").name(),
        "fmc125_can_alt"
    );
}

fn load_env(env: &str, vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    Settings::load(&Sources {
        env: Some(env.into()),
        vars: Some(
            vars.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ),
        ..Sources::default()
    })
}

#[test]
fn production_refuses_a_missing_or_short_signing_key() {
    let e = load_env("production", &[]).unwrap_err().to_string();
    assert!(e.contains("auth.signing_key"), "{e}");
    let e = load_env("production", &[("URBANSTREAM__AUTH__SIGNING_KEY", "short")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("at least 32 bytes"), "{e}");
    let key = "k".repeat(MIN_SIGNING_KEY_BYTES);
    let s = load_env("production", &[("URBANSTREAM__AUTH__SIGNING_KEY", &key)]).unwrap();
    assert_eq!(s.environment, "production");
    // Elsewhere a missing key means a random one per start.
    assert!(load_env("development", &[]).is_ok());
    // The key never shows in a debug print.
    assert!(!format!("{:?}", s.auth).contains(&key));
    let e = load_env(
        "development",
        &[("URBANSTREAM__AUTH__BOOTSTRAP_ADMIN_PASSWORD", "short")],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("auth.bootstrap_admin_password"), "{e}");
}

#[test]
fn environment_overrides_any_key() {
    let s = Settings::defaults_with(&[
        ("http.listen", "127.0.0.1:9999"),
        ("teltonika.register_unknown", "true"),
        ("teltonika.udp_listen", "127.0.0.1:5001"),
        ("teltonika.ack_timeout", "250ms"),
    ])
    .unwrap();
    assert_eq!(s.http.listen, "127.0.0.1:9999".parse().unwrap());
    assert!(s.teltonika.register_unknown);
    assert_eq!(
        s.teltonika.udp_listen,
        Some("127.0.0.1:5001".parse().unwrap())
    );
    assert_eq!(s.teltonika.ack_timeout, Duration::from_millis(250));
}

#[test]
fn unknown_keys_are_refused_by_name() {
    let err = Settings::defaults_with(&[("teltonika.listen_port", "5000")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("listen_port"), "{err}");
    assert!(err.contains("teltonika"), "{err}");
    let err = Settings::defaults_with(&[("nosuchsection.key", "1")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("nosuchsection"), "{err}");
}

#[test]
fn bad_values_name_the_key() {
    let err = Settings::defaults_with(&[("teltonika.idle_timeout", "soon")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("teltonika.idle_timeout"), "{err}");
    let err = Settings::defaults_with(&[("teltonika.max_frame_bytes", "10")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("teltonika.max_frame_bytes"), "{err}");
    let err = Settings::defaults_with(&[("teltonika.default_profile", "nope")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn file_layers_over_defaults() {
    let dir = std::env::temp_dir().join(format!("urbanstream-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("site.toml");
    std::fs::write(
        &file,
        "[teltonika]\nregister_unknown = true\n[[teltonika.devices]]\nimei = \"356307042441013\"\nmodel = \"FMC125\"\nname = \"Bus 12\"\n",
    )
    .unwrap();
    let s = Settings::load(&Sources {
        file: Some(file.clone()),
        vars: Some(HashMap::new()),
        ..Sources::default()
    })
    .unwrap();
    assert!(s.teltonika.register_unknown);
    assert_eq!(s.teltonika.devices.len(), 1);
    assert_eq!(s.teltonika.devices[0].name.as_deref(), Some("Bus 12"));
    std::fs::write(&file, "[teltonika]\nregister_unknwn = true\n").unwrap();
    let err = Settings::load(&Sources {
        file: Some(file),
        vars: Some(HashMap::new()),
        ..Sources::default()
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("register_unknwn"), "{err}");
}

#[test]
fn cameras_load_from_toml_and_bad_calibrations_are_refused() {
    let dir =
        std::env::temp_dir().join(format!("urbanstream-cameras-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.toml");
    std::fs::write(
        &good,
        r#"
[cameras.tracker]
lost_timeout_s = 3.0

[[cameras.list]]
id = 0
node = "box-1"
stream = "north"
size = [1280, 720]
calibration = { H_img_to_floor = [[0.01, 0.0, 0.0], [0.0, 0.02, 0.0], [0.0, 0.0, 1.0]] }

[[cameras.list]]
id = 1
node = "box-1"
stream = "south"
calibration = { points = [{ image = [0, 0], floor = [0, 0] }, { image = [100, 0], floor = [1, 0] }, { image = [100, 100], floor = [1, 1] }, { image = [0, 100], floor = [0, 1] }] }
"#,
    )
    .unwrap();
    let s = Settings::load(&Sources {
        file: Some(good),
        ..Sources::default()
    })
    .unwrap();
    assert_eq!(s.cameras.list.len(), 2);
    assert_eq!(s.cameras.tracker.lost_timeout_s, 3.0);
    assert!(
        s.cameras.list[0].calibration.h_img_to_floor.is_some(),
        "the homography key survives loading"
    );
    assert_eq!(s.cameras.list[1].fps, 10.0);

    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        r#"
[[cameras.list]]
id = 0
node = "box-1"
stream = "north"
calibration = { H_img_to_floor = [[1, 2, 3], [2, 4, 6], [0, 0, 1]] }
"#,
    )
    .unwrap();
    let err = Settings::load(&Sources {
        file: Some(bad.clone()),
        ..Sources::default()
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("cameras.list") && err.contains("degenerate"),
        "{err}"
    );
    std::fs::write(&bad, "[[cameras.list]]\nid = 0\nnode = \"a\"\nstream = \"s\"\ncalibration = { H_img_to_floor = [[1, 0, 0], [0, 1, 0], [0, 0, 1]] }\n[[cameras.list]]\nid = 0\nnode = \"a\"\nstream = \"t\"\ncalibration = {}\n").unwrap();
    let err = Settings::load(&Sources {
        file: Some(bad),
        ..Sources::default()
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("used twice"), "{err}");

    // A camera calibrated from an OpenCV FileStorage file; a missing or broken file is named.
    let yml = dir.join("cam.yml");
    std::fs::write(&yml, "%YAML:1.0\n---\ncamera_matrix: !!opencv-matrix\n   rows: 3\n   cols: 3\n   dt: d\n   data: [ 800., 0., 640., 0., 800., 360., 0., 0., 1. ]\nR: !!opencv-matrix\n   rows: 3\n   cols: 3\n   dt: d\n   data: [ 1., 0., 0., 0., -1., 0., 0., 0., -1. ]\ntvec: !!opencv-matrix\n   rows: 3\n   cols: 1\n   dt: d\n   data: [ -10., 7., 5. ]\n").unwrap();
    let file_cfg = dir.join("file.toml");
    let entry = |path: &std::path::Path| {
        format!(
            "[[cameras.list]]\nid = 0\nnode = \"a\"\nstream = \"s\"\ncalibration_file = \"{}\"\n",
            path.display()
        )
    };
    std::fs::write(&file_cfg, entry(&yml)).unwrap();
    let s = Settings::load(&Sources {
        file: Some(file_cfg.clone()),
        ..Sources::default()
    })
    .unwrap();
    let spec = s.cameras.list[0].calibration_spec().unwrap();
    assert_eq!(spec.t, Some([-10.0, 7.0, 5.0]));
    let missing = dir.join("none.yml");
    std::fs::write(&file_cfg, entry(&missing)).unwrap();
    let err = Settings::load(&Sources {
        file: Some(file_cfg),
        ..Sources::default()
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("none.yml"), "{err}");

    // Video cameras: a source instead of a node stream, with its video settings and a region
    // of interest; both kinds of feed at once, neither, or a bad setting is refused by name.
    let h = "calibration = { H_img_to_floor = [[0.01, 0, 0], [0, 0.01, 0], [0, 0, 1]] }";
    let load = |body: String| {
        let f = dir.join("video.toml");
        std::fs::write(&f, body).unwrap();
        Settings::load(&Sources {
            file: Some(f),
            ..Sources::default()
        })
    };
    let s = load(format!(
        "[[cameras.list]]\nid = 3\nsource = \"rtsp://cam-3/stream\"\nroi = [[0, 300], [640, 300], [640, 480]]\nvideo = {{ detect_every = 2, repeat = true }}\n{h}\n"
    ))
    .unwrap();
    let c = &s.cameras.list[0];
    assert_eq!(c.source.as_deref(), Some("rtsp://cam-3/stream"));
    assert_eq!((c.video.detect_every, c.video.repeat), (2, true));
    assert_eq!(c.video.detector, "hog");
    assert_eq!(c.roi.as_ref().map(Vec::len), Some(3));
    for (body, says) in [
        (
            format!("[[cameras.list]]\nid = 0\nsource = \"a.mp4\"\nnode = \"n\"\nstream = \"s\"\n{h}\n"),
            "not both",
        ),
        (format!("[[cameras.list]]\nid = 0\n{h}\n"), "needs `node`"),
        (
            format!("[[cameras.list]]\nid = 0\nnode = \"n\"\n{h}\n"),
            "both `node` and `stream`",
        ),
        (
            format!("[[cameras.list]]\nid = 0\nsource = \"a.mp4\"\nvideo = {{ detector = \"yolo\" }}\n{h}\n"),
            "detector",
        ),
        (
            format!("[[cameras.list]]\nid = 0\nsource = \"a.mp4\"\nroi = [[0, 0], [1, 1]]\n{h}\n"),
            "roi",
        ),
    ] {
        let err = load(body).unwrap_err().to_string();
        assert!(err.contains(says), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
