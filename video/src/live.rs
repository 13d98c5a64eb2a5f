//! A live camera: frames from a video file (played at its own rate, as a camera would send
//! them) or a stream URL (RTSP, HTTP), people found in them, and — while someone watches — the
//! picture with the camera's tracks drawn over it, as JPEG.
//!
//! Two threads per camera, neither on the async runtime: one decodes and paces, one detects
//! and encodes. Between them a single slot holds the newest frame: when detection falls
//! behind, the frame it did not get to is replaced and counted (`skipped_load`), so a slow
//! machine tracks fewer frames instead of queueing them. A stream that fails is reopened with
//! a growing pause (1 s to 30 s), and the camera is told it failed and recovered.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opencv::core::{Mat, Point, Rect, Scalar, Size, Vector};
use opencv::prelude::*;
use opencv::{imgcodecs, imgproc, videoio};
use urbanstream_vision::tracker::{suppress, Detection};

use crate::{AppearanceModel, DetectorSpec, EmbedderSpec, PeopleDetector, VideoError};

/// Where a live camera's results go: the camera entity behind it.
pub trait LiveSink: Send + Sync + 'static {
    /// Whether the camera wants frames now (it is running).
    fn running(&self) -> bool;
    /// The people found in a frame taken at `time_s` (seconds since the Unix epoch).
    fn detections(&self, time_s: f64, detections: Vec<Detection>);
    /// Seconds spent finding them (detector and appearance).
    fn detect_seconds(&self, seconds: f64);
    /// Whether anyone watches the picture.
    fn watched(&self) -> bool;
    /// The tracks to draw over the picture: `(id, [x, y, w, h])` in frame pixels.
    fn overlay(&self) -> Vec<(u64, [f64; 4])>;
    /// One picture, JPEG.
    fn picture(&self, time_s: f64, jpeg: Vec<u8>);
    /// A frame not tracked, and why (`skipped_load`, `rate_cap`, `decode_error`, `detect_error`).
    fn dropped(&self, reason: &'static str);
    /// The source failed (cannot open, stream ended, decoder error).
    fn failed(&self, why: &str);
    /// The source works again after a failure.
    fn recovered(&self);
}

/// How a live camera reads, detects and shows.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// A file path, or a URL (`rtsp://…`, `http://…`) that OpenCV's FFmpeg backend opens.
    pub source: String,
    pub detector: DetectorSpec,
    pub embedder: EmbedderSpec,
    /// Detect on every n-th frame taken; the tracker predicts across the others.
    pub detect_every: u64,
    /// Frames are scaled by this before detection.
    pub detect_scale: f64,
    /// At most this many frames a second are taken from the source; the rest are skipped.
    pub max_fps: f64,
    /// A file starts again at its end (otherwise it waits for the camera's next run).
    pub repeat: bool,
    /// Boxes scoring below this are not passed on.
    pub min_score: f64,
    /// Pictures for viewers: at most this many a second, at most this wide, and about this
    /// many bytes each (JPEG quality adapts between 30 and 90 to stay near it).
    pub picture_fps: f64,
    pub picture_width: u32,
    pub picture_bytes: usize,
}

impl Default for LiveOptions {
    fn default() -> Self {
        Self {
            source: String::new(),
            detector: DetectorSpec::Hog,
            embedder: EmbedderSpec::Colour,
            detect_every: 1,
            detect_scale: 1.0,
            max_fps: 10.0,
            repeat: false,
            min_score: 0.1,
            picture_fps: 5.0,
            picture_width: 640,
            picture_bytes: 40_000,
        }
    }
}

/// A running live camera; dropping it stops its threads.
pub struct LiveCamera {
    stop: Arc<AtomicBool>,
    slot: Arc<Slot>,
    threads: Vec<JoinHandle<()>>,
}

impl Drop for LiveCamera {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.slot.ready.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// The newest decoded frame, waiting for detection.
#[derive(Default)]
struct Slot {
    frame: Mutex<Option<(Mat, f64)>>,
    ready: Condvar,
}

impl Slot {
    /// Puts a frame; `true` when it replaced one detection never took.
    fn put(&self, frame: Mat, time_s: f64) -> bool {
        let replaced = match self.frame.lock() {
            Ok(mut f) => f.replace((frame, time_s)).is_some(),
            Err(_) => false,
        };
        self.ready.notify_one();
        replaced
    }

    /// The next frame, waiting for one; `None` once `stop` is set.
    fn take(&self, stop: &AtomicBool) -> Option<(Mat, f64)> {
        let mut f = self.frame.lock().ok()?;
        loop {
            if stop.load(Ordering::Relaxed) {
                return None;
            }
            if let Some(x) = f.take() {
                return Some(x);
            }
            f = self
                .ready
                .wait_timeout(f, Duration::from_millis(200))
                .ok()?
                .0;
        }
    }
}

fn wall_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Sleeps up to `d`, waking early when `stop` is set; `false` when stopped.
fn nap(d: Duration, stop: &AtomicBool) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        std::thread::sleep((until - Instant::now()).min(Duration::from_millis(50)));
    }
    !stop.load(Ordering::Relaxed)
}

/// Starts a live camera's threads. The detector and the appearance model are built here (a
/// model that cannot load fails the start); the source is opened by the decoding thread (and
/// reopened after failures), so an unreachable stream does not stop the server from starting.
pub fn spawn(opts: LiveOptions, sink: Arc<dyn LiveSink>) -> Result<LiveCamera, VideoError> {
    if opts.source.trim().is_empty() {
        return Err(VideoError::Config("a live camera needs a source".into()));
    }
    let mut models = (
        opts.detector.build(opts.detect_scale)?,
        opts.embedder.build()?,
    );
    let stop = Arc::new(AtomicBool::new(false));
    let slot = Arc::new(Slot::default());
    let decode = {
        let (opts, sink, stop, slot) = (opts.clone(), sink.clone(), stop.clone(), slot.clone());
        std::thread::Builder::new()
            .name("camera-decode".into())
            .spawn(move || decode_loop(&opts, &*sink, &stop, &slot))
            .map_err(|e| VideoError::Config(format!("cannot start a thread: {e}")))?
    };
    let detect = {
        let (stop, slot) = (stop.clone(), slot.clone());
        std::thread::Builder::new()
            .name("camera-detect".into())
            .spawn(move || detect_loop(&opts, &mut models, &*sink, &stop, &slot))
            .map_err(|e| VideoError::Config(format!("cannot start a thread: {e}")))?
    };
    Ok(LiveCamera {
        stop,
        slot,
        threads: vec![decode, detect],
    })
}

fn is_stream(source: &str) -> bool {
    source.contains("://")
}

fn open(source: &str) -> Result<(videoio::VideoCapture, f64), String> {
    crate::open_video(source).map_err(|e| match e {
        VideoError::OpenCv(e) => format!("cannot open {source}: {e}"),
        e => e.to_string(),
    })
}

fn decode_loop(opts: &LiveOptions, sink: &dyn LiveSink, stop: &AtomicBool, slot: &Slot) {
    let stream = is_stream(&opts.source);
    let min_gap = if opts.max_fps > 0.0 {
        0.9 / opts.max_fps
    } else {
        0.0
    };
    let mut backoff = Duration::from_secs(1);
    let mut failing = false;
    'open: while !stop.load(Ordering::Relaxed) {
        let (mut cap, fps) = match open(&opts.source) {
            Ok(c) => c,
            Err(why) => {
                if !failing {
                    sink.failed(&why);
                    failing = true;
                }
                if !nap(backoff, stop) {
                    return;
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        if failing {
            sink.recovered();
            failing = false;
        }
        backoff = Duration::from_secs(1);
        let period = 1.0 / fps;
        // Files play at their own rate from `base`, `played` frames in.
        let mut base = Instant::now();
        let mut played = 0u64;
        let mut last_taken = f64::NEG_INFINITY;
        // A file that ended waits for the camera's next run to start again.
        let mut ended = false;
        let mut idle = false;
        let mut frame = Mat::default();
        loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            if !sink.running() {
                idle = true;
                if stream {
                    // A live stream goes on; reading keeps its buffer from going stale.
                    if !cap.grab().unwrap_or(false) {
                        sink.failed("the stream ended");
                        failing = true;
                        continue 'open;
                    }
                } else if !nap(Duration::from_millis(20), stop) {
                    return;
                }
                continue;
            }
            if idle {
                idle = false;
                if ended {
                    // A new run of the camera plays the file from the start.
                    continue 'open;
                }
                base = Instant::now() - Duration::from_secs_f64(played as f64 * period);
            }
            if ended {
                if !nap(Duration::from_millis(20), stop) {
                    return;
                }
                continue;
            }
            if !stream {
                let due = base + Duration::from_secs_f64(played as f64 * period);
                let now = Instant::now();
                if due > now && !nap(due - now, stop) {
                    return;
                }
            }
            match cap.read(&mut frame) {
                Ok(true) if !frame.empty() => {}
                Ok(_) if !stream => {
                    if opts.repeat {
                        continue 'open;
                    }
                    ended = true;
                    continue;
                }
                Ok(_) => {
                    sink.failed("the stream ended");
                    failing = true;
                    continue 'open;
                }
                Err(e) => {
                    sink.dropped("decode_error");
                    if stream {
                        sink.failed(&format!("decoding failed: {e}"));
                        failing = true;
                        continue 'open;
                    }
                    continue;
                }
            }
            played += 1;
            let now = wall_seconds();
            if now - last_taken < min_gap {
                sink.dropped("rate_cap");
                continue;
            }
            last_taken = now;
            if slot.put(std::mem::take(&mut frame), now) {
                sink.dropped("skipped_load");
            }
        }
    }
}

/// A camera's detector and appearance model.
type Models = (Box<dyn PeopleDetector>, Box<dyn AppearanceModel>);

fn detect_loop(
    opts: &LiveOptions,
    models: &mut Models,
    sink: &dyn LiveSink,
    stop: &AtomicBool,
    slot: &Slot,
) {
    let every = opts.detect_every.max(1);
    let mut taken = 0u64;
    let mut quality = 80;
    let mut last_picture = f64::NEG_INFINITY;
    while let Some((mut frame, t)) = slot.take(stop) {
        taken += 1;
        if (taken - 1) % every == 0 {
            let started = Instant::now();
            match find_people(models, &frame, opts.min_score) {
                Ok(dets) => {
                    sink.detect_seconds(started.elapsed().as_secs_f64());
                    sink.detections(t, dets);
                }
                Err(_) => sink.dropped("detect_error"),
            }
        }
        if opts.picture_fps > 0.0 && t - last_picture >= 0.9 / opts.picture_fps && sink.watched() {
            last_picture = t;
            if let Ok(jpeg) = picture(&mut frame, &sink.overlay(), opts, &mut quality) {
                sink.picture(t, jpeg);
            }
        }
    }
}

fn find_people(
    (detector, appearance): &mut Models,
    frame: &Mat,
    min_score: f64,
) -> Result<Vec<Detection>, VideoError> {
    let mut dets = suppress(detector.detect(frame)?, 0.5, min_score, None);
    appearance.describe(frame, &mut dets)?;
    Ok(dets)
}

/// Colour of a track's box: a hue per id, so a person keeps their colour.
fn track_colour(id: u64) -> Scalar {
    let h = (id.wrapping_mul(2_654_435_761) % 360) as f64;
    let (r, g, b) = hsv_to_rgb(h, 0.85, 1.0);
    Scalar::new(b * 255.0, g * 255.0, r * 255.0, 0.0)
}

fn hsv_to_rgb(h: f64, s: f64, v: f64) -> (f64, f64, f64) {
    let c = v * s;
    let x = c * (1.0 - ((h / 60.0) % 2.0 - 1.0).abs());
    let m = v - c;
    let (r, g, b) = match (h / 60.0) as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    (r + m, g + m, b + m)
}

/// The frame with the tracks drawn on it, at most `picture_width` wide, as JPEG. The quality
/// moves by 5 towards the byte budget after each picture.
fn picture(
    frame: &mut Mat,
    tracks: &[(u64, [f64; 4])],
    opts: &LiveOptions,
    quality: &mut i32,
) -> Result<Vec<u8>, VideoError> {
    let width = frame.cols().max(1);
    let thick = (width / 400).max(2);
    for &(id, b) in tracks {
        let colour = track_colour(id);
        let r = Rect::new(b[0] as i32, b[1] as i32, b[2] as i32, b[3] as i32);
        imgproc::rectangle(frame, r, colour, thick, imgproc::LINE_8, 0)?;
        imgproc::put_text(
            frame,
            &id.to_string(),
            Point::new(r.x, (r.y - 4).max(12)),
            imgproc::FONT_HERSHEY_SIMPLEX,
            0.5 * f64::from(thick),
            colour,
            thick,
            imgproc::LINE_8,
            false,
        )?;
    }
    let scaled;
    let img = if width > opts.picture_width as i32 && opts.picture_width > 0 {
        let k = f64::from(opts.picture_width) / f64::from(width);
        let mut m = Mat::default();
        imgproc::resize(frame, &mut m, Size::new(0, 0), k, k, imgproc::INTER_AREA)?;
        scaled = m;
        &scaled
    } else {
        &*frame
    };
    let mut buf = Vector::<u8>::new();
    let params = Vector::<i32>::from_slice(&[imgcodecs::IMWRITE_JPEG_QUALITY, *quality]);
    imgcodecs::imencode(".jpg", img, &mut buf, &params)?;
    let target = opts.picture_bytes.max(1000);
    if buf.len() > target + target / 5 {
        *quality = (*quality - 5).max(30);
    } else if buf.len() < target * 7 / 10 {
        *quality = (*quality + 5).min(90);
    }
    Ok(buf.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_steady_per_id_and_differ_between_neighbours() {
        assert_eq!(track_colour(7), track_colour(7));
        assert_ne!(track_colour(7), track_colour(8));
        let (r, g, b) = hsv_to_rgb(120.0, 1.0, 1.0);
        assert!((r, g, b) == (0.0, 1.0, 0.0));
    }

    #[test]
    fn the_slot_keeps_the_newest_frame_and_says_when_one_was_skipped() {
        let slot = Slot::default();
        let stop = AtomicBool::new(false);
        assert!(!slot.put(Mat::default(), 1.0));
        assert!(slot.put(Mat::default(), 2.0));
        let (_, t) = slot.take(&stop).unwrap();
        assert_eq!(t, 2.0);
        stop.store(true, Ordering::Relaxed);
        assert!(slot.take(&stop).is_none());
    }
}
