//! Audio: 16-bit PCM WAV parsing, `.tar.gz` archives of WAVs, and
//! log-(mel-)spectrogram features.
//!
//! A spectrogram turns a waveform into an image (frequency x time) so that
//! convolutional networks can classify sounds; the mel scale spaces the
//! frequency bands like human pitch perception, and the logarithm compresses
//! the dynamic range.

use std::io::Read;
use std::path::Path;

use crate::{Error, Result};

/// A mono waveform.
#[derive(Debug, Clone, PartialEq)]
pub struct Wav {
    /// Samples per second.
    pub sample_rate: u32,
    /// Samples scaled to [-1, 1).
    pub samples: Vec<f32>,
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// Parses a RIFF/WAVE file holding mono 16-bit PCM; other chunks are skipped.
pub fn parse_wav(bytes: &[u8], name: &str) -> Result<Wav> {
    let err = |pos: usize, msg: &str| Error::data(name, format!("byte {pos}"), msg);
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(err(0, "not a RIFF/WAVE file"));
    }
    let mut pos = 12;
    let mut format: Option<(u16, u16, u32, u16)> = None;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let size = u32_at(bytes, pos + 4) as usize;
        let body = pos + 8;
        let end = body.checked_add(size).filter(|&e| e <= bytes.len());
        match id {
            b"fmt " => {
                if size < 16 || end.is_none() {
                    return Err(err(pos, "truncated fmt chunk"));
                }
                format = Some((
                    u16_at(bytes, body),
                    u16_at(bytes, body + 2),
                    u32_at(bytes, body + 4),
                    u16_at(bytes, body + 14),
                ));
            }
            b"data" => {
                let (fmt, channels, rate, bits) = format.ok_or_else(|| err(pos, "data chunk before fmt chunk"))?;
                if fmt != 1 {
                    return Err(err(pos, &format!("format tag {fmt}: only PCM (1) is supported")));
                }
                if channels != 1 {
                    return Err(err(pos, &format!("{channels} channels: only mono is supported")));
                }
                if bits != 16 {
                    return Err(err(pos, &format!("{bits}-bit samples: only 16-bit is supported")));
                }
                // Some writers put a too-large size in the last chunk; read what is there.
                let data = &bytes[body..end.unwrap_or(bytes.len())];
                let samples = data.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]]) as f32 / 32768.0).collect();
                return Ok(Wav { sample_rate: rate, samples });
            }
            _ => {}
        }
        pos = body + size + (size & 1);
    }
    Err(err(pos.min(bytes.len()), "no data chunk"))
}

/// Reads every `.wav` member of a `.tar.gz` archive, in archive order: `(member path, wav)`.
pub fn read_wav_tar_gz(path: &Path) -> Result<Vec<(String, Wav)>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io("opening", path, e))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut out = Vec::new();
    let entries = archive.entries().map_err(|e| Error::data(path, "archive", e))?;
    for (i, entry) in entries.enumerate() {
        let mut entry = entry.map_err(|e| Error::data(path, format!("member {i}"), e))?;
        let name = entry.path().map_err(|e| Error::data(path, format!("member {i}"), e))?.display().to_string();
        if !name.ends_with(".wav") {
            continue;
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(|e| Error::data(path, &name, e))?;
        let wav = parse_wav(&bytes, &format!("{}:{name}", path.display()))?;
        out.push((name, wav));
    }
    Ok(out)
}

/// Spectrogram parameters.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SpectrogramConfig {
    /// Samples per analysis frame (Hann window length).
    pub frame_len: usize,
    /// Samples between frame starts.
    pub hop: usize,
    /// FFT size (a power of two, >= frame_len).
    pub n_fft: usize,
    /// Mel bands; 0 = the plain log-power spectrogram with `n_fft / 2 + 1` bins.
    pub n_mels: usize,
    /// Sample rate the mel scale is computed for.
    pub sample_rate: u32,
    /// Frames in the output: longer clips are cropped, shorter ones padded with silence.
    pub frames: usize,
}

impl SpectrogramConfig {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        const C: &str = "SpectrogramConfig";
        if !self.n_fft.is_power_of_two() || self.n_fft < 2 {
            return Err(Error::config(C, "n_fft", format!("must be a power of two >= 2, got {}", self.n_fft)));
        }
        if self.frame_len == 0 || self.frame_len > self.n_fft {
            return Err(Error::config(C, "frame_len", "must be in 1..=n_fft"));
        }
        if self.hop == 0 || self.frames == 0 || self.sample_rate == 0 {
            return Err(Error::config(C, "hop/frames/sample_rate", "must be at least 1"));
        }
        if self.n_mels > self.n_fft / 2 + 1 {
            return Err(Error::config(C, "n_mels", "must not exceed n_fft / 2 + 1"));
        }
        Ok(())
    }

    /// Rows of the output (mel bands or frequency bins).
    pub fn bins(&self) -> usize {
        if self.n_mels > 0 { self.n_mels } else { self.n_fft / 2 + 1 }
    }
}

/// In-place iterative radix-2 FFT of (re, im); `re.len()` must be a power of two.
pub fn fft(re: &mut [f32], im: &mut [f32]) {
    let n = re.len();
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
        let ang = -2.0 * std::f64::consts::PI / len as f64;
        for start in (0..n).step_by(len) {
            for k in 0..len / 2 {
                let (s, c) = (ang * k as f64).sin_cos();
                let (c, s) = (c as f32, s as f32);
                let (a, b) = (start + k, start + k + len / 2);
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

fn hz_to_mel(f: f64) -> f64 {
    2595.0 * (1.0 + f / 700.0).log10()
}

fn mel_to_hz(m: f64) -> f64 {
    700.0 * (10f64.powf(m / 2595.0) - 1.0)
}

/// Triangular HTK-mel filterbank: `n_mels` rows of `n_fft / 2 + 1` weights.
pub fn mel_filterbank(n_mels: usize, n_fft: usize, sample_rate: u32) -> Vec<Vec<f32>> {
    let bins = n_fft / 2 + 1;
    let top = hz_to_mel(sample_rate as f64 / 2.0);
    let hz: Vec<f64> = (0..n_mels + 2).map(|i| mel_to_hz(top * i as f64 / (n_mels + 1) as f64)).collect();
    let bin_hz = |k: usize| k as f64 * sample_rate as f64 / n_fft as f64;
    (0..n_mels)
        .map(|m| {
            let (lo, mid, hi) = (hz[m], hz[m + 1], hz[m + 2]);
            (0..bins)
                .map(|k| {
                    let f = bin_hz(k);
                    let w = if f <= lo || f >= hi {
                        0.0
                    } else if f <= mid {
                        (f - lo) / (mid - lo)
                    } else {
                        (hi - f) / (hi - mid)
                    };
                    w as f32
                })
                .collect()
        })
        .collect()
}

/// `ln(power + 1e-6)` spectrogram, row-major `[bins, frames]` (frequency rows, time columns).
pub fn log_mel_spectrogram(wav: &Wav, cfg: &SpectrogramConfig) -> Result<Vec<f32>> {
    cfg.validate()?;
    let window: Vec<f32> = (0..cfg.frame_len)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / cfg.frame_len as f32).cos())
        .collect();
    let bins = cfg.n_fft / 2 + 1;
    let filters = (cfg.n_mels > 0).then(|| mel_filterbank(cfg.n_mels, cfg.n_fft, cfg.sample_rate));
    let rows = cfg.bins();
    let mut out = vec![(1e-6f32).ln(); rows * cfg.frames];
    let mut re = vec![0.0f32; cfg.n_fft];
    let mut im = vec![0.0f32; cfg.n_fft];
    let mut power = vec![0.0f32; bins];
    for t in 0..cfg.frames {
        let start = t * cfg.hop;
        if start >= wav.samples.len() {
            break;
        }
        re.iter_mut().for_each(|v| *v = 0.0);
        im.iter_mut().for_each(|v| *v = 0.0);
        for (i, w) in window.iter().enumerate() {
            re[i] = wav.samples.get(start + i).copied().unwrap_or(0.0) * w;
        }
        fft(&mut re, &mut im);
        for k in 0..bins {
            power[k] = re[k] * re[k] + im[k] * im[k];
        }
        match &filters {
            Some(fb) => {
                for (m, row) in fb.iter().enumerate() {
                    let e: f32 = row.iter().zip(&power).map(|(w, p)| w * p).sum();
                    out[m * cfg.frames + t] = (e + 1e-6).ln();
                }
            }
            None => {
                for k in 0..bins {
                    out[k * cfg.frames + t] = (power[k] + 1e-6).ln();
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav_bytes(samples: &[i16], channels: u16, bits: u16) -> Vec<u8> {
        let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let mut v = b"RIFF".to_vec();
        v.extend((36 + data.len() as u32).to_le_bytes());
        v.extend(b"WAVEfmt ");
        v.extend(16u32.to_le_bytes());
        v.extend(1u16.to_le_bytes());
        v.extend(channels.to_le_bytes());
        v.extend(8000u32.to_le_bytes());
        v.extend((8000u32 * 2).to_le_bytes());
        v.extend(2u16.to_le_bytes());
        v.extend(bits.to_le_bytes());
        v.extend(b"LIST");
        v.extend(2u32.to_le_bytes());
        v.extend([0, 0]);
        v.extend(b"data");
        v.extend((data.len() as u32).to_le_bytes());
        v.extend(data);
        v
    }

    #[test]
    fn parses_pcm16_and_rejects_others() {
        let w = parse_wav(&wav_bytes(&[0, 16384, -32768], 1, 16), "a.wav").unwrap();
        assert_eq!(w.sample_rate, 8000);
        assert_eq!(w.samples, vec![0.0, 0.5, -1.0]);
        assert!(parse_wav(&wav_bytes(&[0, 1], 2, 16), "b.wav").unwrap_err().to_string().contains("mono"));
        assert!(parse_wav(&wav_bytes(&[0, 1], 1, 8), "c.wav").unwrap_err().to_string().contains("16-bit"));
        assert!(parse_wav(b"RIFX....", "d.wav").unwrap_err().to_string().contains("d.wav"));
    }

    #[test]
    fn fft_of_a_cosine_peaks_at_its_bin() {
        let n = 64;
        let mut re: Vec<f32> = (0..n).map(|i| (2.0 * std::f32::consts::PI * 5.0 * i as f32 / n as f32).cos()).collect();
        let mut im = vec![0.0; n];
        fft(&mut re, &mut im);
        let mag: Vec<f32> = re.iter().zip(&im).map(|(r, i)| (r * r + i * i).sqrt()).collect();
        assert!((mag[5] - 32.0).abs() < 1e-3 && (mag[59] - 32.0).abs() < 1e-3);
        assert!(mag.iter().enumerate().filter(|(k, _)| *k != 5 && *k != 59).all(|(_, m)| *m < 1e-3));
    }

    #[test]
    fn mel_spectrogram_shape_and_peak() {
        let fb = mel_filterbank(20, 256, 8000);
        assert_eq!((fb.len(), fb[0].len()), (20, 129));
        assert!(fb.iter().all(|row| row.iter().cloned().fold(0.0, f32::max) > 0.5));
        // A 1 kHz tone: the strongest band is the one whose filter peaks nearest 1 kHz.
        let samples: Vec<f32> =
            (0..4000).map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 8000.0).sin()).collect();
        let cfg = SpectrogramConfig { frame_len: 256, hop: 128, n_fft: 256, n_mels: 20, sample_rate: 8000, frames: 10 };
        let s = log_mel_spectrogram(&Wav { sample_rate: 8000, samples }, &cfg).unwrap();
        assert_eq!(s.len(), 200);
        let col: Vec<f32> = (0..20).map(|m| s[m * 10 + 3]).collect();
        let best = col.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        let bin_1k = 1000 * 256 / 8000;
        let peak = fb.iter().enumerate().max_by(|a, b| a.1[bin_1k].total_cmp(&b.1[bin_1k])).unwrap().0;
        assert_eq!(best, peak);
        assert!(
            log_mel_spectrogram(&Wav { sample_rate: 8000, samples: vec![] }, &SpectrogramConfig { n_fft: 100, ..cfg })
                .is_err()
        );
    }

    #[test]
    fn real_fsdd_when_present() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/fsdd/test.tar.gz");
        if !p.is_file() {
            eprintln!("skipped: {} absent", p.display());
            return;
        }
        let clips = read_wav_tar_gz(&p).unwrap();
        assert_eq!(clips.len(), 300);
        assert!(clips.iter().all(|(_, w)| w.sample_rate == 8000 && !w.samples.is_empty()));
        assert!(clips[0].0.starts_with("test/"));
    }
}
