//! Audio: 16-bit PCM WAV parsing, `.tar.gz` archives of WAVs, and
//! log-(mel-)spectrogram features.
//!
//! A spectrogram turns a waveform into an image (frequency x time) so that
//! convolutional networks can classify sounds: the short-time Fourier
//! transform shows which frequencies are present in each short frame, the mel
//! scale spaces the frequency bands like human pitch perception (fine at low
//! frequencies, coarse at high ones), and the logarithm compresses the huge
//! dynamic range of power so that quiet and loud clips look alike.
//!
//! Everything here is plain Rust (a small radix-2 FFT included), so features
//! are identical on every backend and machine, and need no system library.

use std::f64::consts::PI;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use dl_core::{Error, Result};

/// A mono waveform.
#[derive(Debug, Clone, PartialEq)]
pub struct Wav {
    /// Samples per second.
    pub sample_rate: u32,
    /// Samples scaled to [-1, 1): the 16-bit value divided by 32768.
    pub samples: Vec<f32>,
}

impl Wav {
    /// Length in seconds.
    pub fn duration_secs(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sample_rate.max(1))
    }
}

/// `WAVE_FORMAT_PCM`.
const FORMAT_PCM: u16 = 1;
/// `WAVE_FORMAT_EXTENSIBLE`: the real format is the first 2 bytes of the sub-format GUID.
const FORMAT_EXTENSIBLE: u16 = 0xFFFE;
/// Data-chunk size written by streaming encoders that could not seek back.
const STREAMING_SIZE: u32 = u32::MAX;

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// Parses a RIFF/WAVE file holding mono 16-bit little-endian PCM.
///
/// Chunks other than `fmt ` and `data` (`LIST`, `fact`, ...) are skipped, as
/// RIFF requires. Anything this reader cannot turn into a correct mono
/// waveform is an [`Error::Data`] naming `name` and the byte offset of the
/// offending chunk: a non-PCM encoding, a sample size other than 16 bits,
/// more than one channel (mixing down silently would hide a wrong dataset),
/// a `data` chunk before `fmt `, and a truncated chunk. Only the streaming
/// placeholder size `0xFFFFFFFF` is read as "to the end of the file".
pub fn parse_wav(bytes: &[u8], name: &str) -> Result<Wav> {
    let err = |pos: usize, msg: String| Error::data(name, format!("byte {pos}"), msg);
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" {
        return Err(err(0, "not a RIFF file (no `RIFF` magic)".into()));
    }
    if &bytes[8..12] != b"WAVE" {
        return Err(err(8, format!("RIFF form `{}`, expected `WAVE`", bytes[8..12].escape_ascii())));
    }
    let mut pos = 12;
    let mut rate: Option<u32> = None;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let size = u32_at(bytes, pos + 4);
        let body = pos + 8;
        let remaining = bytes.len() - body;
        let declared = size as usize;
        if id == b"data" {
            let rate = rate.ok_or_else(|| err(pos, "`data` chunk before the `fmt ` chunk".into()))?;
            let len = if size == STREAMING_SIZE { remaining - remaining % 2 } else { declared };
            if len > remaining {
                return Err(err(
                    pos,
                    format!("`data` chunk declares {len} bytes but only {remaining} remain (truncated file)"),
                ));
            }
            if len % 2 != 0 {
                return Err(err(pos, format!("`data` chunk has {len} bytes, not a whole number of 16-bit samples")));
            }
            let samples =
                bytes[body..body + len].chunks_exact(2).map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])) / 32768.0);
            return Ok(Wav { sample_rate: rate, samples: samples.collect() });
        }
        if declared > remaining {
            return Err(err(
                pos,
                format!("`{}` chunk declares {declared} bytes but only {remaining} remain", id.escape_ascii()),
            ));
        }
        if id == b"fmt " {
            rate = Some(parse_fmt(&bytes[body..body + declared]).map_err(|msg| err(pos, msg))?);
        }
        // Chunks are padded to an even length.
        pos = body + declared + (declared & 1);
    }
    Err(err(bytes.len(), "no `data` chunk".into()))
}

/// Checks a `fmt ` chunk body; returns the sample rate, or why it is unsupported.
fn parse_fmt(fmt: &[u8]) -> std::result::Result<u32, String> {
    if fmt.len() < 16 {
        return Err(format!("`fmt ` chunk has {} bytes, expected at least 16", fmt.len()));
    }
    let mut tag = u16_at(fmt, 0);
    if tag == FORMAT_EXTENSIBLE && fmt.len() >= 26 {
        tag = u16_at(fmt, 24);
    }
    let (channels, rate, bits) = (u16_at(fmt, 2), u32_at(fmt, 4), u16_at(fmt, 14));
    if tag != FORMAT_PCM {
        return Err(format!("format tag {tag:#06x}: only integer PCM (1) is supported"));
    }
    if bits != 16 {
        return Err(format!("{bits}-bit samples: only 16-bit PCM is supported"));
    }
    if channels != 1 {
        return Err(format!("{channels} channels: only mono is supported"));
    }
    if rate == 0 {
        return Err("sample rate 0".into());
    }
    Ok(rate)
}

/// A mono 16-bit PCM RIFF/WAVE file of `wav`: samples are clamped to
/// [-1, 1) and rounded to 16 bits (what [`parse_wav`] reads back).
pub fn encode_wav(wav: &Wav) -> Vec<u8> {
    let data: Vec<u8> = wav
        .samples
        .iter()
        .flat_map(|s| ((s * 32768.0).round().clamp(-32768.0, 32767.0) as i16).to_le_bytes())
        .collect();
    let mut v = Vec::with_capacity(44 + data.len());
    v.extend(b"RIFF");
    v.extend((36 + data.len() as u32).to_le_bytes());
    v.extend(b"WAVEfmt ");
    v.extend(16u32.to_le_bytes());
    v.extend(FORMAT_PCM.to_le_bytes());
    v.extend(1u16.to_le_bytes());
    v.extend(wav.sample_rate.to_le_bytes());
    v.extend((wav.sample_rate * 2).to_le_bytes());
    v.extend(2u16.to_le_bytes());
    v.extend(16u16.to_le_bytes());
    v.extend(b"data");
    v.extend((data.len() as u32).to_le_bytes());
    v.extend(data);
    v
}

/// Writes [`encode_wav`]`(wav)` to `path` atomically (a synced temporary
/// file renamed over it, so a kill never leaves half a file).
///
/// # Errors
/// [`Error::Io`] naming the path; [`Error::Invalid`] for a clip too long
/// for a WAV file's 32-bit sizes.
pub fn write_wav(path: impl AsRef<Path>, wav: &Wav) -> Result<()> {
    let path = path.as_ref();
    if wav.samples.len() > (u32::MAX as usize - 36) / 2 {
        return Err(Error::Invalid(format!("{}: {} samples do not fit a WAV file", path.display(), wav.samples.len())));
    }
    dl_core::train::checkpointer::write_atomically(path, &encode_wav(wav))
}

/// Reads a single `.wav` file (see [`parse_wav`]).
pub fn read_wav(path: impl AsRef<Path>) -> Result<Wav> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
    parse_wav(&bytes, &path.display().to_string())
}

/// Reads every `.wav` member of a `.tar.gz` archive, in archive order, as
/// `(member path, wav)`; other members (folders, `README`s) are skipped.
///
/// Streaming through the archive keeps one clip in memory at a time besides
/// the result. Errors name the archive and the member (index and path), and
/// for a malformed clip also the byte offset inside it.
pub fn read_wav_tar_gz(path: impl AsRef<Path>) -> Result<Vec<(String, Wav)>> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|e| Error::io("opening", path, e))?;
    let mut archive = tar::Archive::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file)));
    let entries = archive.entries().map_err(|e| Error::data(path, "member 0", e))?;
    let mut out = Vec::new();
    // Members are read whole: their declared sizes together must fit in half
    // the memory available (a header can claim terabytes of zeros).
    let mut budget = dl_core::memory::read_budget();
    for (i, entry) in entries.enumerate() {
        let mut entry = entry.map_err(|e| Error::data(path, format!("member {i}"), e))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry.path().map_err(|e| Error::data(path, format!("member {i}"), e))?.display().to_string();
        let is_wav = Path::new(&name).extension().is_some_and(|x| x.eq_ignore_ascii_case("wav"));
        if !is_wav {
            continue;
        }
        let size = entry.header().size().map_err(|e| Error::data(path, format!("member {i} `{name}`"), e))?;
        if size > budget {
            return Err(Error::data(
                path,
                format!("member {i} `{name}`"),
                format!(
                    "declares {} of data, more than the {} left of half the memory available",
                    dl_core::memory::human(size),
                    dl_core::memory::human(budget)
                ),
            ));
        }
        budget -= size;
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(|e| Error::data(path, format!("member {i} `{name}`"), e))?;
        let wav = parse_wav(&bytes, &name).map_err(|e| match e {
            Error::Data { position, message, .. } => {
                Error::data(path, format!("member {i} `{name}`, {position}"), message)
            }
            other => other,
        })?;
        out.push((name, wav));
    }
    Ok(out)
}

/// Spectrogram parameters.
///
/// The output has a fixed number of `frames` so that every clip becomes an
/// image of the same size: longer clips are cropped, shorter ones padded with
/// silence (the value `ln(1e-6)`), which is what a CNN's fixed input needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpectrogramConfig {
    /// Samples per analysis frame (the Hann window's length).
    pub frame_len: usize,
    /// Samples between the starts of consecutive frames.
    pub hop: usize,
    /// FFT size: a power of two, at least `frame_len` (frames are zero-padded).
    pub n_fft: usize,
    /// Mel bands; 0 = the plain log-power spectrogram with `n_fft / 2 + 1` bins.
    pub n_mels: usize,
    /// Sample rate of the clips (and that the mel scale is laid out for), Hz.
    pub sample_rate: u32,
    /// Frames (columns) in the output.
    pub frames: usize,
}

/// Largest accepted `n_fft`: far above any speech setting, small enough that
/// a typo in a config cannot ask for gigabytes.
const MAX_N_FFT: usize = 1 << 16;
/// Largest accepted output (`bins * frames` values, 256 MiB of `f32`), for the same reason.
const MAX_OUTPUT: usize = 1 << 26;

impl SpectrogramConfig {
    /// Checks the parameters; every problem is an [`Error::Config`] naming the field.
    pub fn validate(&self) -> Result<()> {
        const C: &str = "SpectrogramConfig";
        if self.n_fft < 2 || !self.n_fft.is_power_of_two() || self.n_fft > MAX_N_FFT {
            return Err(Error::config(
                C,
                "n_fft",
                format!("must be a power of two in 2..={MAX_N_FFT}, got {}", self.n_fft),
            ));
        }
        if self.frame_len == 0 || self.frame_len > self.n_fft {
            return Err(Error::config(
                C,
                "frame_len",
                format!("must be in 1..={} (n_fft), got {}", self.n_fft, self.frame_len),
            ));
        }
        if self.hop == 0 {
            return Err(Error::config(C, "hop", "must be at least 1"));
        }
        if self.frames == 0 {
            return Err(Error::config(C, "frames", "must be at least 1"));
        }
        if self.sample_rate == 0 {
            return Err(Error::config(C, "sample_rate", "must be at least 1"));
        }
        if self.n_mels > self.n_fft / 2 + 1 {
            return Err(Error::config(
                C,
                "n_mels",
                format!("must be at most n_fft / 2 + 1 = {}, got {}", self.n_fft / 2 + 1, self.n_mels),
            ));
        }
        if self.bins().checked_mul(self.frames).is_none_or(|len| len > MAX_OUTPUT) {
            return Err(Error::config(
                C,
                "frames",
                format!("{} bins x {} frames is more than {MAX_OUTPUT} values per clip", self.bins(), self.frames),
            ));
        }
        if self.n_mels > 0 {
            // Too many bands for the FFT resolution leaves some triangles
            // between two bins: those rows would be constant, wasted input.
            let fb = filterbank(self.n_mels, self.n_fft, self.sample_rate);
            if let Some(m) = fb.iter().position(|row| row.iter().all(|&w| w == 0.0)) {
                return Err(Error::config(
                    C,
                    "n_mels",
                    format!(
                        "{} mel bands are too many for n_fft {} at {} Hz: band {m} covers no FFT bin",
                        self.n_mels, self.n_fft, self.sample_rate
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Rows of the output: `n_mels`, or `n_fft / 2 + 1` frequency bins when `n_mels` is 0.
    pub fn bins(&self) -> usize {
        if self.n_mels > 0 { self.n_mels } else { self.n_fft / 2 + 1 }
    }

    /// Length of the output of [`log_mel_spectrogram`]: `bins() * frames`.
    pub fn output_len(&self) -> usize {
        self.bins() * self.frames
    }
}

/// Precomputed twiddle factors of a radix-2 FFT of size `n`.
#[derive(Debug, Clone)]
pub(crate) struct Fft {
    /// `cos(-2 pi k / n)` and `sin(-2 pi k / n)` for `k < n / 2`.
    cos: Vec<f32>,
    sin: Vec<f32>,
}

impl Fft {
    pub(crate) fn new(n: usize) -> Self {
        let (sin, cos) =
            (0..n / 2).map(|k| (-2.0 * PI * k as f64 / n as f64).sin_cos()).map(|(s, c)| (s as f32, c as f32)).unzip();
        Fft { cos, sin }
    }

    /// In place; `re.len() == im.len() == 2 * self.cos.len()`, a power of two (checked by callers).
    pub(crate) fn run(&self, re: &mut [f32], im: &mut [f32]) {
        let n = re.len();
        // Bit-reversal permutation, so that the butterflies can work in place.
        let mut j = 0;
        for i in 1..n {
            let mut bit = n >> 1;
            while j & bit != 0 {
                j ^= bit;
                bit >>= 1;
            }
            j |= bit;
            if i < j {
                re.swap(i, j);
                im.swap(i, j);
            }
        }
        let mut len = 2;
        while len <= n {
            let half = len / 2;
            let stride = n / len;
            for start in (0..n).step_by(len) {
                for k in 0..half {
                    let (c, s) = (self.cos[k * stride], self.sin[k * stride]);
                    let (a, b) = (start + k, start + k + half);
                    let tr = re[b] * c - im[b] * s;
                    let ti = re[b] * s + im[b] * c;
                    re[b] = re[a] - tr;
                    im[b] = im[a] - ti;
                    re[a] += tr;
                    im[a] += ti;
                }
            }
            len <<= 1;
        }
    }
}

/// In-place forward DFT `X[k] = sum_t x[t] exp(-2 pi i k t / n)` of
/// `(re, im)` by the iterative radix-2 Cooley-Tukey algorithm.
///
/// Both slices must have the same power-of-two length (an [`Error::Shape`]
/// otherwise). No scaling is applied, as in numpy and PyTorch.
pub fn fft(re: &mut [f32], im: &mut [f32]) -> Result<()> {
    let n = re.len();
    if n != im.len() || !n.is_power_of_two() {
        return Err(Error::shape(
            "fft",
            "real and imaginary parts of the same power-of-two length",
            format!("{n} and {}", im.len()),
        ));
    }
    Fft::new(n).run(re, im);
    Ok(())
}

/// The periodic Hann window of `len` samples (`torch.hann_window`'s default):
/// it tapers each frame to zero at its edges, which keeps the cut-off edges
/// from smearing energy over all frequencies.
pub fn hann_window(len: usize) -> Vec<f32> {
    (0..len).map(|i| (0.5 - 0.5 * (2.0 * PI * i as f64 / len as f64).cos()) as f32).collect()
}

/// Frequency `hz` on the HTK mel scale: `2595 log10(1 + hz / 700)`.
pub fn hz_to_mel(hz: f64) -> f64 {
    2595.0 * (1.0 + hz / 700.0).log10()
}

/// Inverse of [`hz_to_mel`].
pub fn mel_to_hz(mel: f64) -> f64 {
    700.0 * (10f64.powf(mel / 2595.0) - 1.0)
}

/// Triangular HTK-mel filterbank from 0 Hz to `sample_rate / 2`: `n_mels` rows
/// of `n_fft / 2 + 1` weights (`torchaudio.functional.melscale_fbanks` with
/// `mel_scale="htk"`, `norm=None`).
///
/// Band `m` rises linearly from 0 at mel point `m` to 1 at point `m + 1` and
/// falls back to 0 at point `m + 2`, the `n_mels + 2` points being equally
/// spaced in mels; neighbouring triangles therefore sum to 1 between the
/// first and last peaks. The parameters are checked as in
/// [`SpectrogramConfig::validate`].
pub fn mel_filterbank(n_mels: usize, n_fft: usize, sample_rate: u32) -> Result<Vec<Vec<f32>>> {
    if n_mels == 0 {
        return Err(Error::config("SpectrogramConfig", "n_mels", "a filterbank needs at least 1 band"));
    }
    SpectrogramConfig { frame_len: n_fft.max(1), hop: 1, n_fft, n_mels, sample_rate, frames: 1 }.validate()?;
    Ok(filterbank(n_mels, n_fft, sample_rate))
}

/// [`mel_filterbank`] without the checks.
fn filterbank(n_mels: usize, n_fft: usize, sample_rate: u32) -> Vec<Vec<f32>> {
    let bins = n_fft / 2 + 1;
    let top = hz_to_mel(f64::from(sample_rate) / 2.0);
    let hz: Vec<f64> = (0..n_mels + 2).map(|i| mel_to_hz(top * i as f64 / (n_mels + 1) as f64)).collect();
    let bin_hz = |k: usize| k as f64 * f64::from(sample_rate) / n_fft as f64;
    (0..n_mels)
        .map(|m| {
            let (lo, mid, hi) = (hz[m], hz[m + 1], hz[m + 2]);
            (0..bins)
                .map(|k| {
                    let f = bin_hz(k);
                    let up = (f - lo) / (mid - lo);
                    let down = (hi - f) / (hi - mid);
                    up.min(down).max(0.0) as f32
                })
                .collect()
        })
        .collect()
}

/// A spectrogram computer with its window, FFT twiddles and filterbank built
/// once, for featurising many clips with one config.
#[derive(Debug, Clone)]
pub struct Spectrogram {
    cfg: SpectrogramConfig,
    window: Vec<f32>,
    fft: Fft,
    /// Each mel band as (first FFT bin, its non-zero weights): the triangles
    /// are narrow, so skipping their zeros makes the projection ~`n_mels`
    /// times cheaper than a dense matrix product.
    bands: Option<Vec<(usize, Vec<f32>)>>,
}

impl Spectrogram {
    /// Validates `cfg` and precomputes what every clip needs.
    pub fn new(cfg: &SpectrogramConfig) -> Result<Self> {
        cfg.validate()?;
        Ok(Spectrogram {
            cfg: cfg.clone(),
            window: hann_window(cfg.frame_len),
            fft: Fft::new(cfg.n_fft),
            bands: (cfg.n_mels > 0).then(|| {
                filterbank(cfg.n_mels, cfg.n_fft, cfg.sample_rate)
                    .into_iter()
                    .map(|row| {
                        let first = row.iter().position(|&w| w != 0.0).unwrap_or(0);
                        let end = row.iter().rposition(|&w| w != 0.0).map_or(first, |i| i + 1);
                        (first, row[first..end].to_vec())
                    })
                    .collect()
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SpectrogramConfig {
        &self.cfg
    }

    /// See [`log_mel_spectrogram`].
    pub fn compute(&self, wav: &Wav) -> Result<Vec<f32>> {
        self.compute_frames(wav, self.cfg.frames)
    }

    /// [`compute`](Self::compute) with `frames` columns instead of the
    /// config's: `[bins, frames]`, for clips of varying length (one frame per
    /// `hop` samples begun, `wav.samples.len().div_ceil(hop)`, covers a whole clip).
    ///
    /// # Errors
    /// As [`compute`](Self::compute); [`Error::Config`] for 0 frames or an
    /// output past the size limit.
    pub fn compute_frames(&self, wav: &Wav, frames: usize) -> Result<Vec<f32>> {
        let cfg = &self.cfg;
        if frames == 0 || cfg.bins().checked_mul(frames).is_none_or(|len| len > MAX_OUTPUT) {
            return Err(Error::config(
                "SpectrogramConfig",
                "frames",
                format!("{frames} frames of {} bins: must be 1 to {MAX_OUTPUT} values", cfg.bins()),
            ));
        }
        if wav.sample_rate != cfg.sample_rate {
            return Err(Error::config(
                "SpectrogramConfig",
                "sample_rate",
                format!(
                    "is {} Hz but the clip is sampled at {} Hz; resample the clip or change the config",
                    cfg.sample_rate, wav.sample_rate
                ),
            ));
        }
        let bins = cfg.n_fft / 2 + 1;
        let rows = cfg.bins();
        let mut out = vec![SILENCE.ln(); rows * frames];
        let mut re = vec![0.0f32; cfg.n_fft];
        let mut im = vec![0.0f32; cfg.n_fft];
        let mut power = vec![0.0f32; bins];
        for t in 0..frames {
            let start = t.saturating_mul(cfg.hop);
            if start >= wav.samples.len() {
                break;
            }
            let frame = &wav.samples[start..wav.samples.len().min(start + cfg.frame_len)];
            re.fill(0.0);
            im.fill(0.0);
            for ((r, &x), &w) in re.iter_mut().zip(frame).zip(&self.window) {
                *r = x * w;
            }
            self.fft.run(&mut re, &mut im);
            for (k, p) in power.iter_mut().enumerate() {
                *p = re[k] * re[k] + im[k] * im[k];
            }
            match &self.bands {
                Some(bands) => {
                    for (m, (first, weights)) in bands.iter().enumerate() {
                        let e: f32 = weights.iter().zip(&power[*first..]).map(|(w, p)| w * p).sum();
                        out[m * frames + t] = (e + SILENCE).ln();
                    }
                }
                None => {
                    for (k, p) in power.iter().enumerate() {
                        out[k * frames + t] = (p + SILENCE).ln();
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Added to the power before the logarithm, so that silence is `ln(1e-6)`, not `-inf`.
const SILENCE: f32 = 1e-6;

/// `ln(power + 1e-6)` (mel-)spectrogram of `wav`, row-major
/// `[cfg.bins(), cfg.frames]`: frequency rows (low to high), time columns.
///
/// Frame `t` covers samples `t * hop .. t * hop + frame_len` (not centred),
/// Hann-windowed and zero-padded to `n_fft`; the power is `|X[k]|^2` of the
/// unscaled FFT, projected on the mel filterbank when `n_mels > 0`. Frames
/// past the end of the clip are silence. The config is validated, and the
/// clip's sample rate must equal `cfg.sample_rate` (an [`Error::Config`]
/// otherwise: the mel bands would land on the wrong frequencies). For many
/// clips, build a [`Spectrogram`] once instead.
pub fn log_mel_spectrogram(wav: &Wav, cfg: &SpectrogramConfig) -> Result<Vec<f32>> {
    Spectrogram::new(cfg)?.compute(wav)
}

/// Standardises one utterance's features in place to mean 0 and standard
/// deviation 1; returns the `(mean, std)` that were removed.
///
/// Per-utterance normalisation removes differences in recording level and
/// microphone gain between speakers, which would otherwise be the easiest
/// (and wrong) thing for a classifier to learn. The standard deviation is
/// floored at `1e-5` so that an all-silent clip stays finite. An empty slice
/// is left alone and gives `(0, 1)`.
pub fn normalize_per_utterance(features: &mut [f32]) -> (f32, f32) {
    if features.is_empty() {
        return (0.0, 1.0);
    }
    let n = features.len() as f64;
    let mean = features.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = features.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n;
    let std = var.sqrt().max(1e-5);
    for v in features.iter_mut() {
        *v = ((f64::from(*v) - mean) / std) as f32;
    }
    (mean as f32, std as f32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dl_core::data::split::SplitRng;
    use dl_core::testing::data_file as test_data;

    /// A WAV file: `fmt ` (with the given fields), a `LIST` chunk to skip, then `data`.
    fn wav_bytes(samples: &[i16], tag: u16, channels: u16, bits: u16) -> Vec<u8> {
        let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let mut v = b"RIFF".to_vec();
        v.extend((4 + 24 + 10 + 8 + data.len() as u32).to_le_bytes());
        v.extend(b"WAVEfmt ");
        v.extend(16u32.to_le_bytes());
        v.extend(tag.to_le_bytes());
        v.extend(channels.to_le_bytes());
        v.extend(8000u32.to_le_bytes());
        v.extend((8000u32 * 2).to_le_bytes());
        v.extend(2u16.to_le_bytes());
        v.extend(bits.to_le_bytes());
        // An odd-sized chunk is followed by a pad byte.
        v.extend(b"LIST");
        v.extend(1u32.to_le_bytes());
        v.extend([b'x', 0]);
        v.extend(b"data");
        v.extend((data.len() as u32).to_le_bytes());
        v.extend(data);
        v
    }

    /// The position and message of the data error that parsing `bytes` must give.
    fn err_at(bytes: &[u8], name: &str) -> (String, String) {
        let e = parse_wav(bytes, name).unwrap_err();
        let Error::Data { position, .. } = &e else { panic!("expected a data error, got {e:?}") };
        (position.clone(), e.to_string())
    }

    #[test]
    fn encoded_wavs_read_back() {
        let wav = Wav { sample_rate: 8000, samples: vec![0.0, 0.5, -0.25, 1.5, -2.0, 1e-5] };
        let back = parse_wav(&encode_wav(&wav), "encoded").unwrap();
        assert_eq!(back.sample_rate, 8000);
        // 16-bit rounding, and clamping to [-1, 1).
        let expected = [0.0, 0.5, -0.25, 32767.0 / 32768.0, -1.0, 0.0];
        assert_eq!(back.samples, expected);
        let dir = std::env::temp_dir().join(format!("dl-cnn-wav-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        write_wav(dir.join("a.wav"), &wav).unwrap();
        assert_eq!(read_wav(dir.join("a.wav")).unwrap(), back);
        assert!(matches!(write_wav(dir.join("missing/a.wav"), &wav), Err(Error::Io { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn parses_pcm16_mono_skipping_other_chunks() {
        let w = parse_wav(&wav_bytes(&[0, 16384, -32768, 32767], 1, 1, 16), "a.wav").unwrap();
        assert_eq!(w.sample_rate, 8000);
        assert_eq!(w.samples, [0.0, 0.5, -1.0, 32767.0 / 32768.0]);
        assert_eq!(w.duration_secs(), 4.0 / 8000.0);
    }

    #[test]
    fn rejects_unsupported_formats_with_the_fmt_offset() {
        let (pos, e) = err_at(&wav_bytes(&[0, 1], 1, 2, 16), "stereo.wav");
        assert_eq!(pos, "byte 12");
        assert!(e.contains("stereo.wav") && e.contains("2 channels") && e.contains("mono"), "{e}");
        let (_, e) = err_at(&wav_bytes(&[0, 1], 1, 1, 8), "c.wav");
        assert!(e.contains("8-bit") && e.contains("16-bit"), "{e}");
        let (_, e) = err_at(&wav_bytes(&[0, 1], 3, 1, 16), "float.wav");
        assert!(e.contains("format tag 0x0003") && e.contains("PCM"), "{e}");
    }

    #[test]
    fn rejects_broken_files_with_offsets() {
        let (pos, e) = err_at(b"RIFX\0\0\0\0WAVE", "d.wav");
        assert!(pos == "byte 0" && e.contains("d.wav") && e.contains("RIFF"), "{e}");
        let (pos, e) = err_at(b"RIFF\0\0\0\0AVI LIST", "e.avi");
        assert!(pos == "byte 8" && e.contains("AVI"), "{e}");
        // Truncated in the middle of the samples: the data chunk (at byte 46) is reported.
        let full = wav_bytes(&[1, 2, 3, 4], 1, 1, 16);
        let (pos, e) = err_at(&full[..full.len() - 3], "cut.wav");
        assert!(pos == "byte 46" && e.contains("declares 8 bytes but only 5 remain"), "{pos} {e}");
        // No data chunk at all.
        let (pos, e) = err_at(&full[..46], "nodata.wav");
        assert!(pos == "byte 46" && e.contains("no `data` chunk"), "{pos} {e}");
        // Data before fmt.
        let mut swapped = b"RIFF\0\0\0\0WAVEdata\x02\0\0\0\x01\x00".to_vec();
        swapped.extend(&full[12..36]);
        let (pos, e) = err_at(&swapped, "order.wav");
        assert!(pos == "byte 12" && e.contains("before the `fmt `"), "{e}");
        // A chunk whose size runs past the end.
        let (pos, e) = err_at(b"RIFF\0\0\0\0WAVEJUNK\xff\0\0\0ab", "junk.wav");
        assert!(pos == "byte 12" && e.contains("`JUNK` chunk declares 255 bytes"), "{e}");
    }

    #[test]
    fn streaming_size_reads_to_the_end() {
        let mut b = wav_bytes(&[100, -100], 1, 1, 16);
        let at = b.len() - 8;
        b[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(parse_wav(&b, "s.wav").unwrap().samples.len(), 2);
    }

    #[test]
    fn extensible_pcm_is_accepted() {
        let mut b = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
        b.extend(40u32.to_le_bytes());
        b.extend(FORMAT_EXTENSIBLE.to_le_bytes());
        b.extend(1u16.to_le_bytes());
        b.extend(16000u32.to_le_bytes());
        b.extend(32000u32.to_le_bytes());
        b.extend(2u16.to_le_bytes());
        b.extend(16u16.to_le_bytes());
        b.extend(22u16.to_le_bytes()); // cbSize
        b.extend(16u16.to_le_bytes()); // valid bits
        b.extend(4u32.to_le_bytes()); // channel mask
        b.extend(1u16.to_le_bytes()); // sub-format: PCM ...
        b.extend([0u8; 14]); // ... rest of the GUID
        b.extend(b"data\x02\0\0\0\x00\x40");
        let w = parse_wav(&b, "ext.wav").unwrap();
        assert_eq!((w.sample_rate, w.samples.as_slice()), (16000, &[0.5f32][..]));
    }

    #[test]
    fn tar_gz_members_are_read_in_order_and_errors_name_them() {
        let dir = std::env::temp_dir().join(format!("dl-core-audio-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let build = |members: &[(&str, Vec<u8>)]| {
            let mut tar = tar::Builder::new(Vec::new());
            for (name, bytes) in members {
                let mut h = tar::Header::new_ustar();
                h.set_size(bytes.len() as u64);
                h.set_mode(0o644);
                h.set_cksum();
                tar.append_data(&mut h, name, &bytes[..]).unwrap();
            }
            dl_core::testing::gzip(&tar.into_inner().unwrap())
        };
        let good = wav_bytes(&[16384], 1, 1, 16);
        let p = dir.join("ok.tar.gz");
        std::fs::write(
            &p,
            build(&[("test/1_a_0.wav", good.clone()), ("README", b"hi".to_vec()), ("test/2_b_0.WAV", good.clone())]),
        )
        .unwrap();
        let clips = read_wav_tar_gz(&p).unwrap();
        let names: Vec<&str> = clips.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(names, ["test/1_a_0.wav", "test/2_b_0.WAV"]);
        assert_eq!(clips[1].1.samples, [0.5]);

        let p = dir.join("bad.tar.gz");
        std::fs::write(&p, build(&[("x/ok.wav", good.clone()), ("x/stereo.wav", wav_bytes(&[1, 2], 1, 2, 16))]))
            .unwrap();
        let e = read_wav_tar_gz(&p).unwrap_err();
        assert!(matches!(&e, Error::Data { position, .. } if position == "member 1 `x/stereo.wav`, byte 12"), "{e:?}");
        assert!(e.to_string().contains("bad.tar.gz"), "{e}");

        let p = dir.join("cut.tar.gz");
        let full = build(&[("x/ok.wav", good)]);
        std::fs::write(&p, &full[..full.len() / 2]).unwrap();
        let e = read_wav_tar_gz(&p).unwrap_err();
        assert!(matches!(e, Error::Data { .. }) && e.to_string().contains("cut.tar.gz"), "{e:?}");

        // A member whose header claims 16 TB (a tar bomb) is refused before it is read.
        let mut h = tar::Header::new_ustar();
        h.set_path("x/huge.wav").unwrap();
        h.set_size(1 << 44);
        h.set_mode(0o644);
        h.set_cksum();
        let p = dir.join("bomb.tar.gz");
        std::fs::write(&p, dl_core::testing::gzip(h.as_bytes())).unwrap();
        let e = read_wav_tar_gz(&p).unwrap_err().to_string();
        assert!(e.contains("bomb.tar.gz") && e.contains("member 0 `x/huge.wav`") && e.contains("17.6 TB"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }

    /// Corrupted clips and archives are errors, never panics.
    #[test]
    fn wav_and_tar_readers_never_panic() {
        use dl_core::testing::mutations;
        let clip = wav_bytes(&[0, 16384, -16384, 100, -1, 7], 1, 1, 16);
        for (i, bytes) in mutations(&clip, 1000, 40).iter().enumerate() {
            let _ = parse_wav(bytes, &format!("clip-{i}.wav"));
        }
        let mut tar = tar::Builder::new(Vec::new());
        for name in ["a/1.wav", "a/README", "b/2.wav"] {
            let mut h = tar::Header::new_ustar();
            h.set_size(clip.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            tar.append_data(&mut h, name, &clip[..]).unwrap();
        }
        let archive = tar.into_inner().unwrap();
        let dir = dl_core::testing::temp_dir("dl-cnn", "fuzz-tar");
        let path = dir.join("clips.tar.gz");
        let zip = dl_core::testing::gzip;
        std::fs::write(&path, zip(&archive)).unwrap();
        assert_eq!(read_wav_tar_gz(&path).unwrap().len(), 2);
        let mut variants: Vec<Vec<u8>> = mutations(&archive, 300, 41).iter().map(|v| zip(v)).collect();
        variants.extend(mutations(&zip(&archive), 300, 42));
        for bytes in variants {
            std::fs::write(&path, &bytes).unwrap();
            let _ = read_wav_tar_gz(&path);
        }
    }

    fn magnitudes(re: &[f32], im: &[f32]) -> Vec<f32> {
        re.iter().zip(im).map(|(r, i)| (r * r + i * i).sqrt()).collect()
    }

    #[test]
    fn fft_of_known_signals() {
        // cos(2 pi 5 t / 64): n/2 = 32 at bins 5 and 59, zero elsewhere.
        let n = 64;
        let mut re: Vec<f32> = (0..n).map(|i| (2.0 * std::f32::consts::PI * 5.0 * i as f32 / n as f32).cos()).collect();
        let mut im = vec![0.0; n];
        fft(&mut re, &mut im).unwrap();
        let mag = magnitudes(&re, &im);
        assert!((mag[5] - 32.0).abs() < 1e-4 && (mag[59] - 32.0).abs() < 1e-4, "{} {}", mag[5], mag[59]);
        assert!(mag.iter().enumerate().filter(|(k, _)| *k != 5 && *k != 59).all(|(_, m)| *m < 1e-4));
        // An impulse has a flat spectrum; a constant is all DC.
        let (mut re, mut im) = (vec![0.0f32; 8], vec![0.0f32; 8]);
        re[0] = 1.0;
        fft(&mut re, &mut im).unwrap();
        assert!(re.iter().all(|&r| (r - 1.0).abs() < 1e-6) && im.iter().all(|&i| i.abs() < 1e-6));
        let (mut re, mut im) = (vec![2.0f32; 4], vec![0.0f32; 4]);
        fft(&mut re, &mut im).unwrap();
        assert_eq!(re, [8.0, 0.0, 0.0, 0.0]);
        // [1, 2, 3, 4] -> [10, -2+2i, -2, -2-2i] (numpy.fft.fft).
        let (mut re, mut im) = (vec![1.0f32, 2.0, 3.0, 4.0], vec![0.0f32; 4]);
        fft(&mut re, &mut im).unwrap();
        assert_eq!(re, [10.0, -2.0, -2.0, -2.0]);
        assert_eq!(im, [0.0, 2.0, 0.0, -2.0]);
    }

    #[test]
    fn fft_matches_a_direct_dft() {
        let n = 32;
        let mut rng = SplitRng::new(11);
        let x: Vec<(f32, f32)> = (0..n).map(|_| (rng.normal(), rng.normal())).collect();
        let (mut re, mut im): (Vec<f32>, Vec<f32>) = x.iter().copied().unzip();
        fft(&mut re, &mut im).unwrap();
        for k in 0..n {
            let (mut sr, mut si) = (0.0f64, 0.0f64);
            for (t, &(a, b)) in x.iter().enumerate() {
                let (s, c) = (-2.0 * PI * (k * t) as f64 / n as f64).sin_cos();
                sr += f64::from(a) * c - f64::from(b) * s;
                si += f64::from(a) * s + f64::from(b) * c;
            }
            assert!((f64::from(re[k]) - sr).abs() < 1e-4 && (f64::from(im[k]) - si).abs() < 1e-4, "bin {k}");
        }
    }

    #[test]
    fn fft_checks_lengths() {
        assert!(matches!(fft(&mut [0.0; 6], &mut [0.0; 6]), Err(Error::Shape { .. })));
        assert!(matches!(fft(&mut [0.0; 8], &mut [0.0; 4]), Err(Error::Shape { .. })));
        fft(&mut [], &mut []).unwrap_err();
        fft(&mut [3.0], &mut [0.0]).unwrap();
    }

    #[test]
    fn mel_scale_and_hann_window() {
        assert!((hz_to_mel(1000.0) - 999.985_7).abs() < 1e-3);
        assert!((mel_to_hz(hz_to_mel(3210.0)) - 3210.0).abs() < 1e-9);
        let w = hann_window(4);
        assert!(w.iter().zip([0.0, 0.5, 1.0, 0.5]).all(|(a, b)| (a - b).abs() < 1e-7), "{w:?}");
    }

    #[test]
    fn mel_filterbank_rows_peak_and_columns_sum_to_one() {
        let (n_mels, n_fft, sr) = (20, 256, 8000);
        let fb = mel_filterbank(n_mels, n_fft, sr).unwrap();
        assert_eq!((fb.len(), fb[0].len()), (20, 129));
        let peaks: Vec<usize> = fb
            .iter()
            .map(|row| row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(k, _)| k))
            .collect();
        // Every band has weight, peaks below 1, and bands go up in frequency.
        assert!(fb.iter().all(|row| row.iter().all(|&w| (0.0..=1.0).contains(&w))));
        assert!(fb.iter().all(|row| row.iter().copied().fold(0.0, f32::max) > 0.4));
        assert!(peaks.windows(2).all(|p| p[0] < p[1]), "{peaks:?}");
        // Between the first and the last peak, neighbouring triangles sum to 1.
        let top = hz_to_mel(4000.0);
        let (first, last) = (mel_to_hz(top / 21.0), mel_to_hz(top * 20.0 / 21.0));
        for k in 0..129 {
            let f = k as f64 * 8000.0 / 256.0;
            let sum: f32 = fb.iter().map(|row| row[k]).sum();
            if f >= first && f <= last {
                assert!((sum - 1.0).abs() < 1e-5, "bin {k}: {sum}");
            }
        }
        // The bins at 0 Hz and at Nyquist are outside every triangle.
        assert!(fb.iter().all(|row| row[0] == 0.0 && row[128] == 0.0));
        // Too many bands for the resolution is a config error naming n_mels.
        let e = mel_filterbank(100, 64, 8000).unwrap_err();
        assert!(matches!(&e, Error::Config { field, .. } if field == "n_mels"), "{e:?}");
        let e = mel_filterbank(33, 64, 8000).unwrap_err().to_string();
        assert!(e.contains("band 0 covers no FFT bin"), "{e}");
        assert!(mel_filterbank(0, 64, 8000).is_err());
    }

    fn tone(hz: f32, n: usize) -> Wav {
        let samples = (0..n).map(|i| (2.0 * std::f32::consts::PI * hz * i as f32 / 8000.0).sin()).collect();
        Wav { sample_rate: 8000, samples }
    }

    #[test]
    fn spectrogram_shape_peak_and_padding() {
        let cfg = SpectrogramConfig { frame_len: 256, hop: 128, n_fft: 256, n_mels: 0, sample_rate: 8000, frames: 10 };
        // 1 kHz = bin 32 of a 256-point FFT at 8 kHz; 5 frames of signal, then silence.
        let s = log_mel_spectrogram(&tone(1000.0, 5 * 128), &cfg).unwrap();
        assert_eq!(s.len(), 129 * 10);
        let col = |t: usize| (0..129).map(|k| s[k * 10 + t]).collect::<Vec<f32>>();
        let best = |c: Vec<f32>| c.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(k, _)| k);
        assert_eq!(best(col(0)), 32);
        // A full Hann-windowed sine of amplitude 1: |X| = frame_len / 4 = 64, power 4096.
        assert!((s[32 * 10] - 4096f32.ln()).abs() < 0.01, "{}", s[32 * 10]);
        // Frames 5.. start past the end of the clip: silence.
        assert!(col(7).iter().all(|&v| v == 1e-6f32.ln()));
    }

    #[test]
    fn mel_spectrogram_peaks_in_the_band_of_the_tone() {
        let cfg = SpectrogramConfig { frame_len: 200, hop: 80, n_fft: 256, n_mels: 20, sample_rate: 8000, frames: 12 };
        let s = log_mel_spectrogram(&tone(1000.0, 4000), &cfg).unwrap();
        assert_eq!(s.len(), cfg.output_len());
        let fb = mel_filterbank(20, 256, 8000).unwrap();
        let peak_band = fb.iter().enumerate().max_by(|a, b| a.1[32].total_cmp(&b.1[32])).map_or(0, |(m, _)| m);
        for t in 0..12 {
            let best = (0..20).max_by(|&a, &b| s[a * 12 + t].total_cmp(&s[b * 12 + t]));
            assert_eq!(best, Some(peak_band), "frame {t}");
        }
        // Each mel value is the filterbank applied to the plain power spectrum.
        let plain = log_mel_spectrogram(&tone(1000.0, 4000), &SpectrogramConfig { n_mels: 0, ..cfg.clone() }).unwrap();
        for (m, row) in fb.iter().enumerate() {
            for t in [0, 5, 11] {
                let e: f64 = row
                    .iter()
                    .enumerate()
                    .map(|(k, &w)| f64::from(w) * (f64::from(plain[k * 12 + t]).exp() - 1e-6))
                    .sum();
                let want = (e + 1e-6).ln();
                assert!((f64::from(s[m * 12 + t]) - want).abs() < 1e-3 * want.abs().max(1.0), "band {m} frame {t}");
            }
        }
        // The same plan gives the same features.
        assert_eq!(Spectrogram::new(&cfg).unwrap().compute(&tone(1000.0, 4000)).unwrap(), s);
    }

    #[test]
    fn spectrogram_config_errors() {
        // The settings of dl-cnn's spoken_digits example.
        let ok = SpectrogramConfig { frame_len: 256, hop: 64, n_fft: 256, n_mels: 40, sample_rate: 8000, frames: 96 };
        ok.validate().unwrap();
        for (bad, field) in [
            (SpectrogramConfig { n_fft: 100, ..ok.clone() }, "n_fft"),
            (SpectrogramConfig { n_fft: 1 << 20, ..ok.clone() }, "n_fft"),
            (SpectrogramConfig { frame_len: 512, ..ok.clone() }, "frame_len"),
            (SpectrogramConfig { hop: 0, ..ok.clone() }, "hop"),
            (SpectrogramConfig { frames: 0, ..ok.clone() }, "frames"),
            (SpectrogramConfig { frames: usize::MAX, ..ok.clone() }, "frames"),
            (SpectrogramConfig { frames: 1 << 22, ..ok.clone() }, "frames"),
            (SpectrogramConfig { sample_rate: 0, ..ok.clone() }, "sample_rate"),
            (SpectrogramConfig { n_mels: 200, ..ok.clone() }, "n_mels"),
        ] {
            let e = log_mel_spectrogram(&tone(100.0, 10), &bad).unwrap_err();
            assert!(matches!(&e, Error::Config { field: f, .. } if f == field), "{bad:?}: {e:?}");
        }
        let e = log_mel_spectrogram(&Wav { sample_rate: 16000, samples: vec![0.0; 10] }, &ok).unwrap_err();
        assert!(matches!(&e, Error::Config { field, .. } if field == "sample_rate"), "{e:?}");
        assert!(e.to_string().contains("16000"), "{e}");
        // An empty clip is all silence, not an error.
        let s = log_mel_spectrogram(&Wav { sample_rate: 8000, samples: vec![] }, &ok).unwrap();
        assert!(s.iter().all(|&v| v == 1e-6f32.ln()));
    }

    #[test]
    fn per_utterance_normalisation() {
        let mut v = [1.0f32, 2.0, 3.0, 4.0];
        let (mean, std) = normalize_per_utterance(&mut v);
        assert_eq!(mean, 2.5);
        assert!((std - 1.25f32.sqrt()).abs() < 1e-6);
        assert!((v.iter().sum::<f32>()).abs() < 1e-6);
        assert!((v.iter().map(|x| x * x).sum::<f32>() / 4.0 - 1.0).abs() < 1e-5);
        let mut flat = [-13.8f32; 5];
        assert_eq!(normalize_per_utterance(&mut flat).1, 1e-5);
        assert!(flat.iter().all(|&x| x.abs() < 1e-3));
        assert_eq!(normalize_per_utterance(&mut []), (0.0, 1.0));
    }

    #[test]
    fn real_fsdd_test_split() {
        let Some(p) = test_data("fsdd", "test.tar.gz") else { return };
        let clips = read_wav_tar_gz(&p).unwrap();
        assert_eq!(clips.len(), 300);
        assert!(clips.iter().all(|(_, w)| w.sample_rate == 8000 && !w.samples.is_empty()));
        let (name, first) = &clips[0];
        assert_eq!(name, "test/0_george_0.wav");
        assert_eq!(first.samples.len(), 2384);
        assert_eq!(&first.samples[..3], &[-1489.0 / 32768.0, -962.0 / 32768.0, -606.0 / 32768.0]);
        assert_eq!(clips[299].0, "test/9_yweweler_4.wav");
        assert_eq!(clips.iter().map(|c| c.1.samples.len()).sum::<usize>(), 1_034_030);
        let cfg = SpectrogramConfig { frame_len: 256, hop: 64, n_fft: 256, n_mels: 32, sample_rate: 8000, frames: 64 };
        let plan = Spectrogram::new(&cfg).unwrap();
        let mut feats = plan.compute(first).unwrap();
        assert!(feats.iter().all(|v| v.is_finite()));
        normalize_per_utterance(&mut feats);
        assert_eq!(feats.len(), 32 * 64);
    }
}
