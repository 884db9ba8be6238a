//! From spectrogram magnitudes back to a waveform: the short-time Fourier
//! transform, its inverse by weighted overlap-add, Griffin-Lim phase
//! reconstruction, and the log-magnitude images a spectrogram GAN models
//! ([`LogMagnitude`], [`BinScaler`]).
//!
//! A magnitude spectrogram has no phase; Griffin-Lim finds a signal whose
//! STFT magnitude matches it by alternating projections (docs/gan.md).

use serde::{Deserialize, Serialize};

use dl_core::data::split::SplitRng;
use dl_core::{Error, Result};

use crate::audio::{Fft, hann_window};

/// Framing of a short-time Fourier transform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StftConfig {
    /// Samples per frame (the Hann window's length).
    pub frame_len: usize,
    /// Samples between the starts of consecutive frames.
    pub hop: usize,
    /// FFT size: a power of two, at least `frame_len`.
    pub n_fft: usize,
}

impl StftConfig {
    /// Checks the fields; Griffin-Lim needs frames that overlap (`hop < frame_len`).
    pub fn validate(&self) -> Result<()> {
        const C: &str = "StftConfig";
        if self.n_fft < 2 || !self.n_fft.is_power_of_two() || self.n_fft > 1 << 16 {
            return Err(Error::config(C, "n_fft", format!("must be a power of two in 2..=65536, got {}", self.n_fft)));
        }
        if self.frame_len < 2 || self.frame_len > self.n_fft {
            return Err(Error::config(
                C,
                "frame_len",
                format!("must be in 2..={} (n_fft), got {}", self.n_fft, self.frame_len),
            ));
        }
        if self.hop == 0 || self.hop >= self.frame_len {
            return Err(Error::config(
                C,
                "hop",
                format!("must be in 1..{} (frames must overlap), got {}", self.frame_len, self.hop),
            ));
        }
        Ok(())
    }

    /// Frequency bins of one frame: `n_fft / 2 + 1`.
    pub fn bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Samples covered by `frames` frames: `(frames - 1) * hop + frame_len`.
    pub fn samples(&self, frames: usize) -> usize {
        frames.saturating_sub(1) * self.hop + self.frame_len
    }
}

/// A complex spectrogram, `[bins, frames]` row-major (frequency rows, time columns).
#[derive(Debug, Clone, PartialEq)]
pub struct Spectrum {
    /// Frequency bins (`n_fft / 2 + 1`).
    pub bins: usize,
    /// Time frames.
    pub frames: usize,
    /// Real parts.
    pub re: Vec<f32>,
    /// Imaginary parts.
    pub im: Vec<f32>,
}

impl Spectrum {
    /// `|X|`, `[bins, frames]`.
    pub fn magnitude(&self) -> Vec<f32> {
        self.re.iter().zip(&self.im).map(|(r, i)| r.hypot(*i)).collect()
    }
}

/// An STFT with its window and FFT twiddles built once.
#[derive(Debug, Clone)]
pub struct Stft {
    cfg: StftConfig,
    window: Vec<f32>,
    fft: Fft,
}

impl Stft {
    /// Validates `cfg` and precomputes the Hann window and the FFT.
    pub fn new(cfg: &StftConfig) -> Result<Self> {
        cfg.validate()?;
        Ok(Stft { cfg: cfg.clone(), window: hann_window(cfg.frame_len), fft: Fft::new(cfg.n_fft) })
    }

    /// The configuration.
    pub fn config(&self) -> &StftConfig {
        &self.cfg
    }

    /// `frames` Hann-windowed frames of `samples` (frame `t` starts at
    /// `t * hop`, as in [`crate::audio::Spectrogram`]; samples past the end
    /// are zeros), each zero-padded to `n_fft` and transformed.
    pub fn forward(&self, samples: &[f32], frames: usize) -> Spectrum {
        let (n, bins) = (self.cfg.n_fft, self.cfg.bins());
        let mut out = Spectrum { bins, frames, re: vec![0.0; bins * frames], im: vec![0.0; bins * frames] };
        let (mut re, mut im) = (vec![0.0f32; n], vec![0.0f32; n]);
        for t in 0..frames {
            re.fill(0.0);
            im.fill(0.0);
            let start = t * self.cfg.hop;
            for (i, w) in self.window.iter().enumerate() {
                re[i] = samples.get(start + i).copied().unwrap_or(0.0) * w;
            }
            self.fft.run(&mut re, &mut im);
            for k in 0..bins {
                out.re[k * frames + t] = re[k];
                out.im[k * frames + t] = im[k];
            }
        }
        out
    }

    /// The inverse of [`forward`](Self::forward) by weighted overlap-add:
    /// each frame is inverse-transformed, windowed again and added at its
    /// place; every sample is divided by the sum of the squared windows over
    /// it. `istft(stft(x)) == x` wherever a window covers a sample with
    /// non-zero weight (all but the very first sample, where the periodic
    /// Hann window is 0). Returns [`StftConfig::samples`]`(frames)` samples.
    ///
    /// # Errors
    /// [`Error::Shape`] when the spectrum's bins are not the config's.
    pub fn inverse(&self, spec: &Spectrum) -> Result<Vec<f32>> {
        let (n, bins, frames) = (self.cfg.n_fft, self.cfg.bins(), spec.frames);
        if spec.bins != bins || spec.re.len() != bins * frames || spec.im.len() != bins * frames {
            return Err(Error::shape(
                "inverse STFT",
                format!("{bins} bins x {frames} frames (re and im)"),
                format!("{} bins, {} / {} values", spec.bins, spec.re.len(), spec.im.len()),
            ));
        }
        let len = self.cfg.samples(frames);
        let (mut out, mut norm) = (vec![0.0f32; len], vec![0.0f32; len]);
        let (mut re, mut im) = (vec![0.0f32; n], vec![0.0f32; n]);
        for t in 0..frames {
            // The full conjugate-symmetric spectrum of a real frame, conjugated:
            // FFT(conj(X)) = n * conj(IFFT(X)), and the result is real.
            for k in 0..bins {
                re[k] = spec.re[k * frames + t];
                im[k] = -spec.im[k * frames + t];
            }
            for k in bins..n {
                re[k] = re[n - k];
                im[k] = -im[n - k];
            }
            im[0] = 0.0;
            im[n / 2] = 0.0;
            self.fft.run(&mut re, &mut im);
            let start = t * self.cfg.hop;
            for (i, w) in self.window.iter().enumerate() {
                out[start + i] += w * re[i] / n as f32;
                norm[start + i] += w * w;
            }
        }
        for (v, s) in out.iter_mut().zip(&norm) {
            *v = if *s > 1e-8 { *v / s } else { 0.0 };
        }
        Ok(out)
    }
}

/// Griffin-Lim settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GriffinLimConfig {
    /// Projection rounds.
    pub iterations: usize,
    /// Momentum of the fast variant (Perraudin et al. 2013); 0 = the original
    /// algorithm, 0.99 is the usual choice.
    pub momentum: f32,
    /// Seed of the random initial phases.
    pub seed: u64,
}

impl Default for GriffinLimConfig {
    fn default() -> Self {
        GriffinLimConfig { iterations: 64, momentum: 0.99, seed: 0 }
    }
}

impl GriffinLimConfig {
    /// Checks the fields.
    pub fn validate(&self) -> Result<()> {
        const C: &str = "GriffinLimConfig";
        if self.iterations == 0 || self.iterations > 10_000 {
            return Err(Error::config(C, "iterations", format!("must be in 1..=10000, got {}", self.iterations)));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(Error::config(C, "momentum", format!("must be in [0, 1), got {}", self.momentum)));
        }
        Ok(())
    }
}

/// A waveform whose STFT magnitude approximates `magnitude` (`[bins, frames]`,
/// non-negative), by (fast) Griffin-Lim: start from random phases, then
/// repeatedly take the signal of (magnitude, phases) by [`Stft::inverse`],
/// transform it again and keep only its phases, extrapolated by `momentum`.
///
/// # Errors
/// [`Error::Shape`] when `magnitude` is not `bins x frames` with `frames > 0`;
/// [`Error::Invalid`] for a negative or non-finite value; the config's errors.
pub fn griffin_lim(stft: &Stft, magnitude: &[f32], frames: usize, cfg: &GriffinLimConfig) -> Result<Vec<f32>> {
    cfg.validate()?;
    let bins = stft.config().bins();
    if frames == 0 || magnitude.len() != bins * frames {
        return Err(Error::shape(
            "Griffin-Lim magnitudes",
            format!("{bins} bins x {frames} frames (frames >= 1)"),
            format!("{} values", magnitude.len()),
        ));
    }
    if let Some(i) = magnitude.iter().position(|m| !m.is_finite() || *m < 0.0) {
        return Err(Error::Invalid(format!(
            "Griffin-Lim magnitudes: value {} at bin {}, frame {} is not a finite non-negative number",
            magnitude[i],
            i / frames,
            i % frames
        )));
    }
    let mut rng = SplitRng::new(cfg.seed);
    let (mut cos, mut sin): (Vec<f32>, Vec<f32>) = (0..magnitude.len())
        .map(|_| {
            let a = std::f32::consts::TAU * rng.next_f32();
            (a.cos(), a.sin())
        })
        .unzip();
    let (mut prev_re, mut prev_im) = (vec![0.0f32; magnitude.len()], vec![0.0f32; magnitude.len()]);
    let with_phase = |cos: &[f32], sin: &[f32]| Spectrum {
        bins,
        frames,
        re: magnitude.iter().zip(cos).map(|(m, c)| m * c).collect(),
        im: magnitude.iter().zip(sin).map(|(m, s)| m * s).collect(),
    };
    let beta = cfg.momentum / (1.0 + cfg.momentum);
    for _ in 0..cfg.iterations {
        let signal = stft.inverse(&with_phase(&cos, &sin))?;
        let rebuilt = stft.forward(&signal, frames);
        for i in 0..magnitude.len() {
            let re = rebuilt.re[i] - beta * prev_re[i];
            let im = rebuilt.im[i] - beta * prev_im[i];
            let norm = re.hypot(im);
            (cos[i], sin[i]) = if norm > 1e-16 { (re / norm, im / norm) } else { (1.0, 0.0) };
        }
        prev_re = rebuilt.re;
        prev_im = rebuilt.im;
    }
    stft.inverse(&with_phase(&cos, &sin))
}

/// Spectral convergence `||target - |STFT(signal)| ||_F / ||target||_F`: how
/// far a signal's magnitudes are from the ones asked for (0 = exact).
///
/// # Errors
/// [`Error::Shape`] when `target` is not `bins x frames`.
pub fn spectral_convergence(stft: &Stft, target: &[f32], frames: usize, signal: &[f32]) -> Result<f64> {
    let bins = stft.config().bins();
    if target.len() != bins * frames {
        return Err(Error::shape("spectral convergence target", format!("{bins} x {frames}"), target.len()));
    }
    let got = stft.forward(signal, frames).magnitude();
    let diff: f64 = target.iter().zip(&got).map(|(a, b)| f64::from(a - b).powi(2)).sum();
    let norm: f64 = target.iter().map(|a| f64::from(*a).powi(2)).sum();
    Ok((diff / norm.max(1e-30)).sqrt())
}

/// Added to magnitudes before the logarithm, so that silence stays finite.
const FLOOR: f32 = 1e-4;

/// Log-magnitude spectrogram images of clips, and the way back to audio:
/// `ln(|X| + 1e-4)` of the STFT, the top (Nyquist) bin dropped so that the
/// rows are `n_fft / 2` (a power of two, as up-sampling generators want).
#[derive(Debug, Clone)]
pub struct LogMagnitude {
    stft: Stft,
    frames: usize,
}

impl LogMagnitude {
    /// Images of `frames` frames with the framing of `cfg`.
    ///
    /// # Errors
    /// The config's errors; [`Error::Config`] for 0 frames.
    pub fn new(cfg: &StftConfig, frames: usize) -> Result<Self> {
        if frames == 0 {
            return Err(Error::config("LogMagnitude", "frames", "must be at least 1"));
        }
        Ok(LogMagnitude { stft: Stft::new(cfg)?, frames })
    }

    /// Rows of an image: `n_fft / 2`.
    pub fn bins(&self) -> usize {
        self.stft.config().n_fft / 2
    }

    /// Columns of an image.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// The STFT.
    pub fn stft(&self) -> &Stft {
        &self.stft
    }

    /// The image of `samples` (from its first sample; cropped, or padded
    /// with silence), `[bins, frames]` row-major, low frequencies first.
    pub fn image(&self, samples: &[f32]) -> Vec<f32> {
        let spec = self.stft.forward(samples, self.frames);
        spec.magnitude()[..self.bins() * self.frames].iter().map(|m| (m + FLOOR).ln()).collect()
    }

    /// A waveform for an image, by [`griffin_lim`] (the dropped Nyquist bin is silent).
    ///
    /// # Errors
    /// [`Error::Shape`] for an image of the wrong size, [`Error::Invalid`]
    /// for a non-finite value, the config's errors.
    pub fn waveform(&self, image: &[f32], cfg: &GriffinLimConfig) -> Result<Vec<f32>> {
        let (bins, frames) = (self.bins(), self.frames);
        if image.len() != bins * frames {
            return Err(Error::shape("log-magnitude image", format!("{bins} x {frames}"), image.len()));
        }
        let mut magnitude: Vec<f32> = image.iter().map(|v| (v.exp() - FLOOR).max(0.0)).collect();
        magnitude.resize((bins + 1) * frames, 0.0);
        griffin_lim(&self.stft, &magnitude, frames, cfg)
    }
}

/// Per-frequency standardisation of log-magnitude images into `[-1, 1]`
/// (SpecGAN, Donahue et al. 2019): each row loses the training set's mean
/// for that frequency and is divided by `clip` times its standard
/// deviation, then clamped. High frequencies, much quieter than low ones,
/// then use the generator's whole output range too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinScaler {
    /// Mean of each row.
    pub mean: Vec<f32>,
    /// Standard deviation of each row (at least 1e-3).
    pub std: Vec<f32>,
    /// Standard deviations mapped to 1.
    pub clip: f32,
}

impl BinScaler {
    /// The statistics of `images` (each `[bins, frames]`).
    ///
    /// # Errors
    /// [`Error::Empty`] with no images; [`Error::Shape`] for an image of
    /// another size; [`Error::Config`] for a `clip` that is not positive.
    pub fn fit(images: &[Vec<f32>], bins: usize, frames: usize, clip: f32) -> Result<Self> {
        if !(clip.is_finite() && clip > 0.0) {
            return Err(Error::config("BinScaler", "clip", format!("must be positive, got {clip}")));
        }
        if images.is_empty() || bins == 0 || frames == 0 {
            return Err(Error::empty("BinScaler::fit: no images"));
        }
        let (mut sum, mut sq) = (vec![0.0f64; bins], vec![0.0f64; bins]);
        for (i, image) in images.iter().enumerate() {
            if image.len() != bins * frames {
                return Err(Error::shape(
                    format!("BinScaler::fit image {i}"),
                    format!("{bins} x {frames}"),
                    image.len(),
                ));
            }
            for (k, row) in image.chunks(frames).enumerate() {
                sum[k] += row.iter().map(|&v| f64::from(v)).sum::<f64>();
                sq[k] += row.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>();
            }
        }
        let n = (images.len() * frames) as f64;
        let mean: Vec<f32> = sum.iter().map(|s| (s / n) as f32).collect();
        let std =
            sq.iter().zip(&sum).map(|(q, s)| ((q / n - (s / n).powi(2)).max(0.0).sqrt() as f32).max(1e-3)).collect();
        Ok(BinScaler { mean, std, clip })
    }

    fn check(&self, image: &[f32]) -> Result<usize> {
        let bins = self.mean.len();
        if bins == 0 || !image.len().is_multiple_of(bins) {
            return Err(Error::shape("scaled image", format!("a multiple of {bins} values"), image.len()));
        }
        Ok(image.len() / bins)
    }

    /// Applies `f(value, mean, clip * std)` to every value, row by row.
    fn map_rows(&self, image: &mut [f32], f: impl Fn(f32, f32, f32) -> f32) -> Result<()> {
        let frames = self.check(image)?;
        for (k, row) in image.chunks_mut(frames).enumerate() {
            let s = self.clip * self.std[k];
            for v in row {
                *v = f(*v, self.mean[k], s);
            }
        }
        Ok(())
    }

    /// Log-magnitudes to `[-1, 1]`, in place.
    ///
    /// # Errors
    /// [`Error::Shape`] when the image's length is not a multiple of the bins.
    pub fn scale(&self, image: &mut [f32]) -> Result<()> {
        self.map_rows(image, |v, mean, s| ((v - mean) / s).clamp(-1.0, 1.0))
    }

    /// The inverse of [`scale`](Self::scale) (for values inside the clamp), in place.
    ///
    /// # Errors
    /// As [`scale`](Self::scale).
    pub fn unscale(&self, image: &mut [f32]) -> Result<()> {
        self.map_rows(image, |v, mean, s| v * s + mean)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: f32 = 8000.0;

    fn stft(frame_len: usize, hop: usize, n_fft: usize) -> Stft {
        Stft::new(&StftConfig { frame_len, hop, n_fft }).unwrap()
    }

    /// A 750 Hz tone (bin 24 of a 256-point FFT) plus a chirp from 300 to 1,500 Hz, `len` samples at 8 kHz.
    fn known_signal(len: usize) -> Vec<f32> {
        let dur = len as f32 / RATE;
        (0..len)
            .map(|i| {
                let t = i as f32 / RATE;
                let chirp_phase = std::f32::consts::TAU * (300.0 * t + 0.5 * (1200.0 / dur) * t * t);
                0.3 * (std::f32::consts::TAU * 750.0 * t).sin() + 0.2 * chirp_phase.sin()
            })
            .collect()
    }

    #[test]
    fn the_inverse_stft_gives_the_signal_back() {
        let mut rng = SplitRng::new(3);
        for (frame_len, hop, n_fft) in [(256, 96, 256), (256, 64, 256), (100, 30, 128)] {
            let s = stft(frame_len, hop, n_fft);
            let frames = 20;
            let x: Vec<f32> = (0..s.config().samples(frames)).map(|_| rng.normal()).collect();
            let y = s.inverse(&s.forward(&x, frames)).unwrap();
            assert_eq!(y.len(), x.len());
            let err = |r: std::ops::Range<usize>| {
                x[r.clone()].iter().zip(&y[r]).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max)
            };
            // Sample 0 lies under the periodic Hann window's zero only; near
            // both ends a single small window weight divides rounding errors.
            let (all, inner) = (err(1..x.len()), err(frame_len..x.len() - frame_len));
            assert!(all < 1e-3 && inner < 1e-5, "{frame_len}/{hop}/{n_fft}: max error {all}, inside {inner}");
        }
    }

    #[test]
    fn griffin_lim_recovers_a_known_signal_from_its_magnitudes() {
        let s = stft(256, 64, 256);
        let frames = 60;
        let x = known_signal(s.config().samples(frames));
        let target = s.forward(&x, frames).magnitude();
        let sc = |cfg: &GriffinLimConfig| {
            let y = griffin_lim(&s, &target, frames, cfg).unwrap();
            spectral_convergence(&s, &target, frames, &y).unwrap()
        };
        let fast = sc(&GriffinLimConfig { iterations: 100, momentum: 0.99, seed: 1 });
        let plain = sc(&GriffinLimConfig { iterations: 100, momentum: 0.0, seed: 1 });
        let one = sc(&GriffinLimConfig { iterations: 1, momentum: 0.99, seed: 1 });
        assert!(fast < 0.08, "spectral convergence after 100 fast iterations: {fast}");
        eprintln!("spectral convergence: fast {fast}, plain {plain}, one round {one}");
        assert!(fast < plain && plain < one, "fast {fast}, plain {plain}, one round {one}");
        // The tone and the chirp are where they were: per frame, the loudest bin agrees.
        let y = griffin_lim(&s, &target, frames, &GriffinLimConfig { iterations: 100, ..Default::default() }).unwrap();
        let got = s.forward(&y, frames).magnitude();
        let bins = s.config().bins();
        let peak = |m: &[f32], t: usize| {
            (0..bins).max_by(|&a, &b| m[a * frames + t].total_cmp(&m[b * frames + t])).unwrap_or(0) as i64
        };
        for t in 2..frames - 2 {
            assert_eq!(peak(&target, t), 24, "frame {t}");
            assert!((peak(&got, t) - 24).abs() <= 1, "frame {t}: loudest bin {}", peak(&got, t));
        }
    }

    #[test]
    fn griffin_lim_and_stft_refuse_bad_input() {
        let s = stft(256, 64, 256);
        let cfg = GriffinLimConfig::default();
        assert!(matches!(griffin_lim(&s, &[1.0; 10], 3, &cfg), Err(Error::Shape { .. })));
        assert!(matches!(griffin_lim(&s, &[], 0, &cfg), Err(Error::Shape { .. })));
        let mut m = vec![1.0; 129 * 2];
        m[3] = f32::NAN;
        let e = griffin_lim(&s, &m, 2, &cfg).unwrap_err().to_string();
        assert!(e.contains("bin 1, frame 1"), "{e}");
        m[3] = -1.0;
        assert!(matches!(griffin_lim(&s, &m, 2, &cfg), Err(Error::Invalid(_))));
        m[3] = 1.0;
        for bad in [
            GriffinLimConfig { iterations: 0, ..Default::default() },
            GriffinLimConfig { momentum: 1.0, ..Default::default() },
        ] {
            assert!(matches!(griffin_lim(&s, &m, 2, &bad), Err(Error::Config { .. })));
        }
        for (frame_len, hop, n_fft) in [(256, 256, 256), (256, 0, 256), (300, 64, 256), (256, 64, 200)] {
            assert!(Stft::new(&StftConfig { frame_len, hop, n_fft }).is_err(), "{frame_len}/{hop}/{n_fft}");
        }
        let spec = Spectrum { bins: 65, frames: 1, re: vec![0.0; 65], im: vec![0.0; 65] };
        assert!(matches!(s.inverse(&spec), Err(Error::Shape { .. })));
    }

    #[test]
    fn log_magnitude_images_turn_back_into_their_signal() {
        let lm = LogMagnitude::new(&StftConfig { frame_len: 256, hop: 96, n_fft: 256 }, 40).unwrap();
        assert_eq!((lm.bins(), lm.frames()), (128, 40));
        let x = known_signal(3000);
        let image = lm.image(&x);
        assert_eq!(image.len(), 128 * 40);
        // Past the clip's end (frame 32 starts at 3,072) the image is silence.
        assert!((image[39] - FLOOR.ln()).abs() < 1e-6);
        let y = lm.waveform(&image, &GriffinLimConfig { iterations: 100, ..Default::default() }).unwrap();
        let target = lm.stft().forward(&x, 40).magnitude();
        let sc = spectral_convergence(lm.stft(), &target, 40, &y).unwrap();
        assert!(sc < 0.1, "spectral convergence {sc}");
        assert!(matches!(lm.waveform(&image[1..], &GriffinLimConfig::default()), Err(Error::Shape { .. })));
        assert!(LogMagnitude::new(&StftConfig { frame_len: 256, hop: 96, n_fft: 256 }, 0).is_err());
    }

    #[test]
    fn the_bin_scaler_standardises_each_row_and_inverts() {
        // Two images of 2 bins x 2 frames: row 0 holds 1, 3, 5, 7; row 1 holds 10 four times.
        let images = vec![vec![1.0, 3.0, 10.0, 10.0], vec![5.0, 7.0, 10.0, 10.0]];
        let s = BinScaler::fit(&images, 2, 2, 2.0).unwrap();
        assert_eq!(s.mean, vec![4.0, 10.0]);
        assert!((s.std[0] - 5f32.sqrt()).abs() < 1e-6);
        assert_eq!(s.std[1], 1e-3);
        let mut x = images[0].clone();
        s.scale(&mut x).unwrap();
        assert!((x[0] + 3.0 / (2.0 * 5f32.sqrt())).abs() < 1e-6 && x[2] == 0.0, "{x:?}");
        s.unscale(&mut x).unwrap();
        assert!(x.iter().zip(&images[0]).all(|(a, b)| (a - b).abs() < 1e-5), "{x:?}");
        // Beyond `clip` standard deviations, values are clamped.
        let mut far = vec![100.0, -100.0, 10.0, 10.0];
        s.scale(&mut far).unwrap();
        assert_eq!(&far[..2], &[1.0, -1.0]);
        assert!(matches!(s.scale(&mut [0.0; 3]), Err(Error::Shape { .. })));
        assert!(matches!(BinScaler::fit(&images, 3, 2, 2.0), Err(Error::Shape { .. })));
        assert!(matches!(BinScaler::fit(&[], 2, 2, 2.0), Err(Error::Empty { .. })));
        assert!(matches!(BinScaler::fit(&images, 2, 2, 0.0), Err(Error::Config { .. })));
    }
}
