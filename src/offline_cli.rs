//! `urbanstream track` and `urbanstream mtmc`: the camera pipeline's trackers and fusion run
//! over files on the files' own clock, for evaluation and for users' own footage.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use urbanstream_actors::replay::{run_mtmc, run_single};
use urbanstream_vision::mot::{parse_mot, parse_npy, write_result_line};
use urbanstream_vision::offline::{load_scene, write_mtmc, OfflineConfig};

#[derive(Args)]
pub struct TrackArgs {
    /// Detections, MOTChallenge text (`frame,-1,x,y,w,h,score,…`, frames from 1).
    #[arg(long, conflicts_with = "video", required_unless_present = "video")]
    det: Option<PathBuf>,
    /// Appearance vectors for the detections (float32 `.npy`, row i ↔ line i of --det).
    #[arg(long, requires = "det")]
    emb: Option<PathBuf>,
    /// A video file (or RTSP URL) to detect people in (needs a build with `--features video`).
    #[arg(long)]
    video: Option<String>,
    /// The detector for --video: `hog` (OpenCV's people detector) or `torchscript:PATH`.
    #[arg(long, default_value = "hog")]
    detector: String,
    /// The appearance model for --video: `colour` (stripe histograms) or `torchscript:PATH`.
    #[arg(long, default_value = "colour")]
    embedder: String,
    /// Stop after this many frames of --video (0: all).
    #[arg(long, default_value_t = 0)]
    max_frames: u64,
    /// Detect on every n-th frame of --video only; the tracker predicts in between.
    #[arg(long, default_value_t = 1)]
    detect_every: u64,
    /// Scale --video frames by this before detection (HOG finds people ≥ 128 px tall; 2 finds
    /// people half that size, four times slower).
    #[arg(long, default_value_t = 1.0)]
    detect_scale: f64,
    /// Frames per second of the sequence (a video says its own).
    #[arg(long, default_value_t = 25.0)]
    fps: f64,
    /// Tracker settings (JSON, the fields of `OfflineConfig`; see README).
    #[arg(long)]
    params: Option<PathBuf>,
    /// Where to write the tracks, MOTChallenge text (`frame,id,x,y,w,h,score,-1,-1,-1`).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
pub struct MtmcArgs {
    /// A scene folder: cameras.json and cam{c}/det.txt (+ optional emb.npy).
    #[arg(long)]
    scene: PathBuf,
    /// Output folder: cam{c}/res.txt with global ids and floor.txt.
    #[arg(long)]
    out: PathBuf,
    /// Tracker and fusion settings (JSON, the fields of `OfflineConfig`; see README).
    #[arg(long)]
    params: Option<PathBuf>,
}

fn params(path: Option<&Path>) -> anyhow::Result<OfflineConfig> {
    let Some(p) = path else {
        return Ok(OfflineConfig::default());
    };
    let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
    let cfg: OfflineConfig = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a valid settings object", p.display()))?;
    cfg.validate()?;
    Ok(cfg)
}

pub fn track(a: TrackArgs) -> anyhow::Result<()> {
    let cfg = params(a.params.as_deref())?;
    if let Some(video) = &a.video {
        if !(a.detect_scale > 0.05 && a.detect_scale <= 8.0) || a.detect_every == 0 {
            anyhow::bail!("--detect-scale must be within (0.05, 8] and --detect-every at least 1");
        }
        return track_video(video, &a, &cfg);
    }
    let det = a.det.as_deref().context("--det or --video is required")?;
    if !(a.fps > 0.0 && a.fps <= 1000.0) {
        anyhow::bail!("--fps must be within (0, 1000]");
    }
    let text =
        std::fs::read_to_string(det).with_context(|| format!("reading {}", det.display()))?;
    let rows = parse_mot(&text).with_context(|| det.display().to_string())?;
    let emb = match &a.emb {
        Some(p) => {
            let m =
                parse_npy(&std::fs::read(p).with_context(|| format!("reading {}", p.display()))?)
                    .with_context(|| p.display().to_string())?;
            if m.rows != rows.len() {
                anyhow::bail!(
                    "{}: {} rows for {} detections",
                    p.display(),
                    m.rows,
                    rows.len()
                );
            }
            Some(m)
        }
        None => None,
    };
    let started = Instant::now();
    let out = actix_rt::System::new().block_on(run_single(&rows, emb.as_ref(), a.fps, &cfg))?;
    let elapsed = started.elapsed().as_secs_f64();
    let mut text = String::new();
    for &(f, id, b, s) in &out {
        write_result_line(&mut text, f, id, b, s);
    }
    write_file(&a.out, &text)?;
    let frames = rows.iter().map(|r| r.frame).max().unwrap_or(0);
    let mut ids: Vec<u64> = out.iter().map(|r| r.1).collect();
    ids.sort_unstable();
    ids.dedup();
    println!(
        "{}",
        serde_json::json!({"frames": frames, "detections": rows.len(), "tracks": ids.len(), "rows": out.len(), "seconds": elapsed,
            "ms_per_frame": if frames > 0 { elapsed * 1000.0 / frames as f64 } else { 0.0 }})
    );
    Ok(())
}

fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

#[cfg(not(feature = "video"))]
fn track_video(_video: &str, _a: &TrackArgs, _cfg: &OfflineConfig) -> anyhow::Result<()> {
    anyhow::bail!("this build has no video support: build with `cargo build --release --features video` (needs libopencv-dev and clang; see README)")
}

/// The video's detections, found on a thread of their own, tracked by a camera actor as
/// they come (a few frames ahead at most).
#[cfg(feature = "video")]
fn track_video(video: &str, a: &TrackArgs, cfg: &OfflineConfig) -> anyhow::Result<()> {
    use urbanstream_actors::replay::SingleCameraRun;
    use urbanstream_video::{DetectedFrame, VideoError};

    let spec = urbanstream_video::DetectorSpec::parse(&a.detector)?;
    let opts = urbanstream_video::VideoOptions {
        max_frames: a.max_frames,
        detect_every: a.detect_every,
        detect_scale: a.detect_scale,
        embedder: urbanstream_video::EmbedderSpec::parse(&a.embedder)?,
    };
    let started = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<DetectedFrame>(4);
    let source = video.to_string();
    let min_score = cfg.tracker.low_score;
    let detecting = std::thread::spawn(move || {
        urbanstream_video::detect_video(&source, &spec, min_score, &opts, |frame| {
            tx.blocking_send(frame)
                .map_err(|_closed| VideoError::Config("the tracker stopped".into()))
        })
    });
    // The camera starts with the first frame, which says the video's frame rate.
    let tracked = actix_rt::System::new().block_on(async {
        let mut run: Option<SingleCameraRun> = None;
        while let Some(f) = rx.recv().await {
            let r = match &mut run {
                Some(r) => r,
                None => run.insert(SingleCameraRun::start(f.fps, cfg).await?),
            };
            r.feed(f.frame, f.detections).await?;
        }
        match run {
            Some(r) => r.finish().await,
            None => Ok(Vec::new()),
        }
    });
    let detected = detecting.join();
    // A tracker that stopped is the cause of the detector's "the tracker stopped".
    let rows = tracked?;
    let run =
        detected.map_err(|_panic| anyhow::anyhow!("{video}: the detection thread failed"))??;
    let elapsed = started.elapsed().as_secs_f64();
    let mut text = String::new();
    for &(f, id, b, s) in &rows {
        write_result_line(&mut text, f, id, b, s);
    }
    write_file(&a.out, &text)?;
    let mut ids: Vec<u64> = rows.iter().map(|r| r.1).collect();
    ids.sort_unstable();
    ids.dedup();
    let ms_per_frame = if run.frames > 0 {
        elapsed * 1000.0 / run.frames as f64
    } else {
        0.0
    };
    println!(
        "{}",
        serde_json::json!({"frames": run.frames, "detections": run.detections, "tracks": ids.len(), "rows": rows.len(), "seconds": elapsed,
            "ms_per_frame": ms_per_frame, "detect_ms_per_frame": run.detect_ms_per_frame,
            "describe_ms_per_frame": run.describe_ms_per_frame, "fps": run.fps})
    );
    Ok(())
}

pub fn mtmc(a: MtmcArgs) -> anyhow::Result<()> {
    let cfg = params(a.params.as_deref())?;
    let cams = load_scene(&a.scene)?;
    let started = Instant::now();
    let result = actix_rt::System::new().block_on(run_mtmc(&cams, &cfg))?;
    let elapsed = started.elapsed().as_secs_f64();
    write_mtmc(&result, &cams, &a.out)?;
    let offsets: serde_json::Map<String, serde_json::Value> = result
        .camera_offsets
        .iter()
        .map(|(c, o)| (c.to_string(), serde_json::json!([o.0, o.1])))
        .collect();
    println!(
        "{}",
        serde_json::json!({"cameras": cams.len(), "detections": result.detections, "identities": result.identities,
            "merges": result.merges, "splits": result.splits, "reentries": result.reentries, "camera_offsets_m": offsets,
            "seconds": elapsed, "detections_per_s": result.detections as f64 / elapsed.max(1e-9)})
    );
    Ok(())
}
