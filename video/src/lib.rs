//! The video adapter: frames from a file or an RTSP URL through OpenCV, people found by OpenCV's
//! HOG people detector (weight-free: the SVM ships inside OpenCV) or a TorchScript model, and an
//! appearance vector per box; the people found go to a camera actor to be tracked (live, and
//! offline through `urbanstream_actors::replay`). Decoding runs on its own thread, bounded to a
//! few frames ahead of detection.

mod appearance;
pub mod live;
#[cfg(feature = "torch")]
pub mod torch;

pub use appearance::stripe_histogram;

use opencv::core::{Mat, Rect, Size, Vector};
use opencv::objdetect::HOGDescriptor;
use opencv::prelude::*;
use opencv::{imgproc, videoio};
use std::path::PathBuf;
use std::sync::mpsc::sync_channel;
use std::time::Instant;
use urbanstream_vision::tracker::{suppress, Detection};

#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    #[error("opencv: {0}")]
    OpenCv(#[from] opencv::Error),
    #[error("cannot open video {0:?} (missing file, unsupported codec or unreachable stream)")]
    Open(String),
    #[error("unknown detector {0:?}: use `hog` or `torchscript:PATH`")]
    UnknownDetector(String),
    #[error("unknown embedder {0:?}: use `colour` or `torchscript:PATH`")]
    UnknownEmbedder(String),
    #[error("a TorchScript model ({0}) needs a build with the `torch` feature (libtorch); this build has HOG and colour appearance only")]
    NoTorch(String),
    #[error("TorchScript model {0}: {1}")]
    Model(String, String),
    #[error("{0}")]
    Config(String),
}

/// Finds people in a BGR frame.
pub trait PeopleDetector: Send {
    fn detect(&mut self, frame: &Mat) -> Result<Vec<Detection>, VideoError>;
}

/// Gives people's boxes an appearance vector (L2-normalised), where it can.
pub trait AppearanceModel: Send {
    fn describe(&mut self, frame: &Mat, people: &mut [Detection]) -> Result<(), VideoError>;
}

/// Which detector finds the people.
#[derive(Debug, Clone, PartialEq)]
pub enum DetectorSpec {
    Hog,
    TorchScript(PathBuf),
}

impl DetectorSpec {
    pub fn parse(s: &str) -> Result<Self, VideoError> {
        match s.split_once(':') {
            None if s == "hog" => Ok(Self::Hog),
            Some(("torchscript", path)) if !path.is_empty() => {
                Ok(Self::TorchScript(PathBuf::from(path)))
            }
            _ => Err(VideoError::UnknownDetector(s.to_string())),
        }
    }

    /// The detector, ready to run; frames are scaled by `scale` before detection. A TorchScript
    /// model is loaded and tried on a blank frame here, so a file that breaks the contract
    /// fails at start.
    pub fn build(&self, scale: f64) -> Result<Box<dyn PeopleDetector>, VideoError> {
        match self {
            Self::Hog => {
                let mut hog = HogDetector::new()?;
                hog.scale = scale;
                Ok(Box::new(hog))
            }
            #[cfg(feature = "torch")]
            Self::TorchScript(p) => Ok(Box::new(torch::TorchDetector::load(p, scale)?)),
            #[cfg(not(feature = "torch"))]
            Self::TorchScript(p) => Err(VideoError::NoTorch(p.display().to_string())),
        }
    }
}

/// Which model describes people's appearance.
#[derive(Debug, Clone, PartialEq)]
pub enum EmbedderSpec {
    /// Per-stripe colour histograms of the box (weight-free; see `stripe_histogram`).
    Colour,
    TorchScript(PathBuf),
}

impl EmbedderSpec {
    pub fn parse(s: &str) -> Result<Self, VideoError> {
        match s.split_once(':') {
            None if s == "colour" || s == "color" => Ok(Self::Colour),
            Some(("torchscript", path)) if !path.is_empty() => {
                Ok(Self::TorchScript(PathBuf::from(path)))
            }
            _ => Err(VideoError::UnknownEmbedder(s.to_string())),
        }
    }

    /// The model, ready to run (a TorchScript model is loaded and tried here).
    pub fn build(&self) -> Result<Box<dyn AppearanceModel>, VideoError> {
        match self {
            Self::Colour => Ok(Box::new(ColourAppearance::default())),
            #[cfg(feature = "torch")]
            Self::TorchScript(p) => Ok(Box::new(torch::TorchEmbedder::load(p)?)),
            #[cfg(not(feature = "torch"))]
            Self::TorchScript(p) => Err(VideoError::NoTorch(p.display().to_string())),
        }
    }
}

/// The weight-free appearance: `stripe_histogram` of each box.
#[derive(Default)]
pub struct ColourAppearance {
    hsv: Mat,
}

impl AppearanceModel for ColourAppearance {
    fn describe(&mut self, frame: &Mat, people: &mut [Detection]) -> Result<(), VideoError> {
        if people.is_empty() {
            return Ok(());
        }
        imgproc::cvt_color(frame, &mut self.hsv, imgproc::COLOR_BGR2HSV, 0)?;
        for d in people {
            d.embedding = stripe_histogram(&self.hsv, d.bbox)?;
        }
        Ok(())
    }
}

/// The frame resized by `scale`, or `None` when the scale is 1.
pub(crate) fn scale_frame(frame: &Mat, scale: f64) -> Result<Option<Mat>, VideoError> {
    if (scale - 1.0).abs() <= 1e-6 {
        return Ok(None);
    }
    let mut m = Mat::default();
    imgproc::resize(
        frame,
        &mut m,
        Size::new(0, 0),
        scale,
        scale,
        imgproc::INTER_LINEAR,
    )?;
    Ok(Some(m))
}

/// OpenCV's HOG + linear SVM people detector (Dalal–Triggs, the 64×128 window).
pub struct HogDetector {
    hog: HOGDescriptor,
    /// Frames are scaled by this before detection (people under 128 px tall need > 1).
    pub scale: f64,
    /// Step of the detection window, pixels (8 is the usual; 4 finds more, slower).
    pub stride: i32,
}

impl HogDetector {
    pub fn new() -> Result<Self, VideoError> {
        let mut hog = HOGDescriptor::default()?;
        hog.set_svm_detector(HOGDescriptor::get_default_people_detector()?);
        Ok(Self {
            hog,
            scale: 1.0,
            stride: 8,
        })
    }

    /// People in a BGR frame. Scores are the SVM margin `w` through a logistic, `1 / (1 + e^(−2w))`:
    /// a box on the decision boundary scores 0.5.
    pub fn find(&self, frame: &Mat) -> Result<Vec<Detection>, VideoError> {
        let scaled = scale_frame(frame, self.scale)?;
        let img = scaled.as_ref().unwrap_or(frame);
        let mut found = Vector::<Rect>::new();
        let mut weights = Vector::<f64>::new();
        let s = Size::new(self.stride, self.stride);
        self.hog.detect_multi_scale_weights(
            img,
            &mut found,
            &mut weights,
            0.0,
            s,
            Size::new(16, 16),
            1.05,
            2.0,
            false,
        )?;
        let k = 1.0 / self.scale;
        Ok(found
            .iter()
            .zip(weights.iter())
            .map(|(r, w)| {
                // HOG's window has a margin around the person: trim it to the body.
                let (x, y, bw, bh) = (
                    f64::from(r.x) * k,
                    f64::from(r.y) * k,
                    f64::from(r.width) * k,
                    f64::from(r.height) * k,
                );
                Detection {
                    bbox: [x + 0.1 * bw, y + 0.05 * bh, 0.8 * bw, 0.9 * bh],
                    score: 1.0 / (1.0 + (-2.0 * w).exp()),
                    embedding: None,
                }
            })
            .collect())
    }
}

impl PeopleDetector for HogDetector {
    fn detect(&mut self, frame: &Mat) -> Result<Vec<Detection>, VideoError> {
        self.find(frame)
    }
}

/// What a video run found.
#[derive(Debug, Default)]
pub struct VideoRun {
    pub frames: u64,
    pub detections: usize,
    pub fps: f64,
    /// Time spent in the detector per detected frame, milliseconds (mean).
    pub detect_ms_per_frame: f64,
    /// Time spent on appearance vectors per detected frame, milliseconds (mean).
    pub describe_ms_per_frame: f64,
}

/// Options of a video run beyond the tracker's.
#[derive(Debug, Clone)]
pub struct VideoOptions {
    /// Stop after this many frames (0: the whole video).
    pub max_frames: u64,
    /// Detect on every n-th frame only; the tracker predicts in between.
    pub detect_every: u64,
    /// Frames are scaled by this before detection.
    pub detect_scale: f64,
    pub embedder: EmbedderSpec,
}

impl Default for VideoOptions {
    fn default() -> Self {
        Self {
            max_frames: 0,
            detect_every: 1,
            detect_scale: 1.0,
            embedder: EmbedderSpec::Colour,
        }
    }
}

/// One detected frame of a video.
#[derive(Debug, Clone)]
pub struct DetectedFrame {
    /// The video's frame rate.
    pub fps: f64,
    /// Frame number, from 1.
    pub frame: u64,
    pub detections: Vec<Detection>,
}

/// Decodes one video start to end and finds the people in it: every detected frame's
/// suppressed boxes (score at least `min_score`), with their appearance vectors, go to
/// `on_frame` in order — to be tracked there; an error from it ends the run.
pub fn detect_video(
    source: &str,
    spec: &DetectorSpec,
    min_score: f64,
    opts: &VideoOptions,
    mut on_frame: impl FnMut(DetectedFrame) -> Result<(), VideoError>,
) -> Result<VideoRun, VideoError> {
    let mut detector = spec.build(opts.detect_scale)?;
    let mut appearance = opts.embedder.build()?;
    let (mut cap, fps) = open_video(source)?;
    let (tx, rx) = sync_channel::<Mat>(4);
    let max_frames = opts.max_frames;
    let decoder = std::thread::spawn(move || -> Result<(), VideoError> {
        let mut n = 0u64;
        loop {
            let mut frame = Mat::default();
            if !cap.read(&mut frame)? || frame.empty() {
                return Ok(());
            }
            if tx.send(frame).is_err() {
                return Ok(());
            }
            n += 1;
            if max_frames > 0 && n >= max_frames {
                return Ok(());
            }
        }
    });
    let mut run = VideoRun {
        fps,
        ..VideoRun::default()
    };
    let (mut detect_s, mut describe_s) = (0.0, 0.0);
    let every = opts.detect_every.max(1);
    let mut failed = None;
    for frame in rx {
        run.frames += 1;
        let k = run.frames;
        if (k - 1) % every != 0 {
            continue;
        }
        let t0 = Instant::now();
        let found = detector.detect(&frame)?;
        let t1 = Instant::now();
        let mut dets = suppress(found, 0.5, min_score, None);
        appearance.describe(&frame, &mut dets)?;
        run.detections += dets.len();
        detect_s += (t1 - t0).as_secs_f64();
        describe_s += t1.elapsed().as_secs_f64();
        if let Err(e) = on_frame(DetectedFrame {
            fps,
            frame: k,
            detections: dets,
        }) {
            failed = Some(e);
            break;
        }
    }
    let decoded = decoder.join();
    if let Some(e) = failed {
        return Err(e);
    }
    match decoded {
        Ok(r) => r?,
        Err(_) => {
            return Err(VideoError::Open(format!(
                "{source}: the decoding thread failed"
            )))
        }
    }
    let detected = run.frames.div_ceil(every).max(1) as f64;
    run.detect_ms_per_frame = detect_s * 1000.0 / detected;
    run.describe_ms_per_frame = describe_s * 1000.0 / detected;
    Ok(run)
}

/// Opens a file or stream; its frame rate as the container states it (25 where it does not).
pub(crate) fn open_video(source: &str) -> Result<(videoio::VideoCapture, f64), VideoError> {
    let cap = videoio::VideoCapture::from_file(source, videoio::CAP_ANY)?;
    if !cap.is_opened()? {
        return Err(VideoError::Open(source.to_string()));
    }
    let fps = cap
        .get(videoio::CAP_PROP_FPS)
        .ok()
        .filter(|f| *f > 0.0 && *f < 1000.0)
        .unwrap_or(25.0);
    Ok((cap, fps))
}
