//! Connected speech composed from single spoken-digit clips: utterances of a
//! few FSDD recordings joined by short random silences, with a little noise,
//! for models that recognise a whole sequence of words.
//!
//! No corpus of connected digits is at hand, so utterances are composed from
//! a pool of clips: training utterances from training clips only, test
//! utterances from test clips only. An utterance is a pure function of the
//! seed and its index (noise included), so a set is rebuilt identically from
//! its plan and only rendered when a batch needs it.

use std::path::Path;

use burn::config::Config;

use dl_core::Error as DataError;
use dl_core::config::check;
use dl_core::data::split::SplitRng;

use crate::audio::{Wav, read_wav_tar_gz};

/// One recording of a spoken digit, with what its file name says.
#[derive(Debug, Clone, PartialEq)]
pub struct Clip {
    /// The waveform.
    pub wav: Wav,
    /// The digit spoken, 0-9.
    pub digit: usize,
    /// Who speaks it.
    pub speaker: String,
    /// The take number (FSDD: 0-4 are the test split, 5-49 training).
    pub take: usize,
}

/// Reads an FSDD split archive: members `<split>/<digit>_<speaker>_<take>.wav`,
/// all at one sample rate.
///
/// # Errors
/// The archive's own errors; [`DataError::Data`] for a member whose name does
/// not follow the pattern or whose sample rate differs from the first clip's.
pub fn read_fsdd_split(path: impl AsRef<Path>) -> dl_core::Result<Vec<Clip>> {
    let path = path.as_ref();
    let mut clips: Vec<Clip> = Vec::new();
    for (name, wav) in read_wav_tar_gz(path)? {
        let file = name.rsplit('/').next().unwrap_or(&name);
        let stem = file.strip_suffix(".wav").unwrap_or(file);
        let fields: Vec<&str> = stem.split('_').collect();
        let parsed = match fields.as_slice() {
            [d, s, t] if !s.is_empty() => {
                d.parse::<usize>().ok().filter(|d| *d < 10).zip(t.parse::<usize>().ok()).map(|(d, t)| (d, *s, t))
            }
            _ => None,
        };
        let (digit, speaker, take) = parsed.ok_or_else(|| {
            DataError::data(path, format!("member `{name}`"), "name is not `<digit 0-9>_<speaker>_<take>.wav`")
        })?;
        if let Some(first) = clips.first()
            && first.wav.sample_rate != wav.sample_rate
        {
            return Err(DataError::data(
                path,
                format!("member `{name}`"),
                format!("sampled at {} Hz, the first clip at {} Hz", wav.sample_rate, first.wav.sample_rate),
            ));
        }
        clips.push(Clip { wav, digit, speaker: speaker.to_string(), take });
    }
    if clips.is_empty() {
        return Err(DataError::empty(format!("spoken digits: the archive {}", path.display())));
    }
    Ok(clips)
}

/// How utterances are composed from clips.
#[derive(Config, Debug, PartialEq)]
pub struct UtteranceConfig {
    /// Fewest clips in an utterance.
    #[config(default = 2)]
    pub min_digits: usize,
    /// Most clips in an utterance.
    #[config(default = 6)]
    pub max_digits: usize,
    /// Shortest silence between two clips, seconds.
    #[config(default = 0.05)]
    pub min_gap: f64,
    /// Longest silence between two clips, seconds.
    #[config(default = 0.3)]
    pub max_gap: f64,
    /// Longest silence before the first and after the last clip, seconds.
    #[config(default = 0.2)]
    pub max_edge: f64,
    /// Lowest signal-to-noise ratio of the added white noise, dB.
    #[config(default = 20.0)]
    pub min_snr_db: f64,
    /// Highest signal-to-noise ratio, dB.
    #[config(default = 30.0)]
    pub max_snr_db: f64,
}

/// A composed utterance: which clips, where, and its noise.
#[derive(Debug, Clone, PartialEq)]
pub struct Utterance {
    /// Indices of the clips in their list, in spoken order.
    pub clips: Vec<usize>,
    /// First sample of each clip.
    pub offsets: Vec<usize>,
    /// Total samples.
    pub len: usize,
    /// The digits spoken.
    pub labels: Vec<usize>,
    /// Signal-to-noise ratio of the added noise, dB.
    pub snr_db: f64,
    /// Seed of the noise.
    pub noise_seed: u64,
}

impl UtteranceConfig {
    /// Checks the ranges.
    pub fn validate(&self) -> dl_core::Result<()> {
        const C: &str = "UtteranceConfig";
        check::positive(C, "min_digits", self.min_digits)?;
        if self.max_digits < self.min_digits {
            return Err(DataError::config(
                C,
                "max_digits",
                format!("must be at least min_digits = {}, got {}", self.min_digits, self.max_digits),
            ));
        }
        for (field, v) in [("min_gap", self.min_gap), ("max_edge", self.max_edge)] {
            if !(0.0..=10.0).contains(&v) {
                return Err(DataError::config(C, field, format!("must be in 0..=10 seconds, got {v}")));
            }
        }
        if !(self.min_gap..=10.0).contains(&self.max_gap) {
            return Err(DataError::config(
                C,
                "max_gap",
                format!("must be in min_gap = {}..=10 seconds, got {}", self.min_gap, self.max_gap),
            ));
        }
        if !self.min_snr_db.is_finite() || !(self.min_snr_db..=200.0).contains(&self.max_snr_db) {
            return Err(DataError::config(
                C,
                "max_snr_db",
                format!("must be in min_snr_db = {}..=200 dB, got {}", self.min_snr_db, self.max_snr_db),
            ));
        }
        Ok(())
    }

    /// The utterance number `index` of a set drawn with `seed` from the clips
    /// `pool` (indices into `clips`).
    ///
    /// # Errors
    /// [`DataError::Empty`] for an empty pool; [`DataError::OutOfRange`] for a
    /// pool index past `clips`; the config's own errors.
    pub fn plan(&self, pool: &[usize], clips: &[Clip], seed: u64, index: usize) -> dl_core::Result<Utterance> {
        self.validate()?;
        if pool.is_empty() {
            return Err(DataError::empty("utterances: the clip pool"));
        }
        if let Some(&bad) = pool.iter().find(|&&i| i >= clips.len()) {
            return Err(DataError::out_of_range("utterances: pool clip", bad, format!("below {}", clips.len())));
        }
        let rate = f64::from(clips[pool[0]].wav.sample_rate);
        let mut rng = SplitRng::new(seed.wrapping_mul(0xD1B5_4A32_D192_ED03) ^ (index as u64).wrapping_add(1));
        let seconds =
            |rng: &mut SplitRng, lo: f64, hi: f64| ((lo + f64::from(rng.next_f32()) * (hi - lo)) * rate) as usize;
        let n = self.min_digits + rng.below(self.max_digits - self.min_digits + 1);
        let chosen: Vec<usize> = (0..n).map(|_| pool[rng.below(pool.len())]).collect();
        let mut offsets = Vec::with_capacity(n);
        let mut at = seconds(&mut rng, 0.0, self.max_edge);
        for (k, &c) in chosen.iter().enumerate() {
            if k > 0 {
                at += seconds(&mut rng, self.min_gap, self.max_gap);
            }
            offsets.push(at);
            at += clips[c].wav.samples.len();
        }
        let len = at + seconds(&mut rng, 0.0, self.max_edge);
        let snr_db = self.min_snr_db + f64::from(rng.next_f32()) * (self.max_snr_db - self.min_snr_db);
        let noise_seed = rng.next_u64();
        let labels = chosen.iter().map(|&c| clips[c].digit).collect();
        Ok(Utterance { clips: chosen, offsets, len, labels, snr_db, noise_seed })
    }

    /// Renders `utterance` from `clips`: the clips at their offsets on
    /// silence, plus white noise `snr_db` below the speech's power.
    ///
    /// # Errors
    /// [`DataError::OutOfRange`] for a clip past `clips` or one that does not
    /// fit the utterance's length; [`DataError::Empty`] for an utterance
    /// without clips; [`DataError::Invalid`] for clips at different sample rates.
    pub fn render(&self, utterance: &Utterance, clips: &[Clip]) -> dl_core::Result<Wav> {
        let mut samples = vec![0.0f32; utterance.len];
        let mut rate: Option<u32> = None;
        let (mut power, mut count) = (0.0f64, 0usize);
        for (&c, &at) in utterance.clips.iter().zip(&utterance.offsets) {
            let clip = clips
                .get(c)
                .ok_or_else(|| DataError::out_of_range("utterance clip", c, format!("below {}", clips.len())))?;
            let end = at + clip.wav.samples.len();
            if end > samples.len() {
                return Err(DataError::out_of_range(
                    "utterance clip end",
                    end,
                    format!("at most the utterance's {} samples", samples.len()),
                ));
            }
            if *rate.get_or_insert(clip.wav.sample_rate) != clip.wav.sample_rate {
                return Err(DataError::Invalid(format!(
                    "utterance: clip {c} is sampled at {} Hz, an earlier one at {} Hz",
                    clip.wav.sample_rate,
                    rate.unwrap_or_default()
                )));
            }
            for (s, &x) in samples[at..end].iter_mut().zip(&clip.wav.samples) {
                *s += x;
                power += f64::from(x) * f64::from(x);
            }
            count += clip.wav.samples.len();
        }
        let std = (power / count.max(1) as f64).sqrt() * 10f64.powf(-utterance.snr_db / 20.0);
        let mut rng = SplitRng::new(utterance.noise_seed);
        for s in &mut samples {
            *s += (f64::from(rng.normal()) * std) as f32;
        }
        let sample_rate = rate.ok_or_else(|| DataError::empty("utterance: its clips"))?;
        Ok(Wav { sample_rate, samples })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clip of `len` samples of constant `value`, speaking `digit`.
    fn clip(digit: usize, len: usize, value: f32) -> Clip {
        Clip { wav: Wav { sample_rate: 8000, samples: vec![value; len] }, digit, speaker: "s".into(), take: 0 }
    }

    #[test]
    fn utterances_are_a_function_of_seed_and_index() {
        let clips: Vec<Clip> = (0..20).map(|i| clip(i % 10, 800 + 37 * i, 0.5)).collect();
        let cfg = UtteranceConfig::new();
        let pool: Vec<usize> = (0..20).step_by(2).collect();
        for i in 0..300 {
            let u = cfg.plan(&pool, &clips, 7, i).unwrap();
            assert_eq!(u, cfg.plan(&pool, &clips, 7, i).unwrap());
            assert!((2..=6).contains(&u.clips.len()));
            assert!(u.clips.iter().all(|c| pool.contains(c)));
            assert_eq!(u.labels, u.clips.iter().map(|&c| clips[c].digit).collect::<Vec<_>>());
            // Clips in order, separated by 50-300 ms, edges at most 200 ms.
            assert!(u.offsets[0] <= 1600);
            for k in 1..u.clips.len() {
                let gap = u.offsets[k] - (u.offsets[k - 1] + clips[u.clips[k - 1]].wav.samples.len());
                assert!((400..=2400).contains(&gap), "gap {gap}");
            }
            let last = u.offsets[u.clips.len() - 1] + clips[u.clips[u.clips.len() - 1]].wav.samples.len();
            assert!(u.len >= last && u.len - last <= 1600);
            assert!((20.0..=30.0).contains(&u.snr_db));
        }
        assert_ne!(cfg.plan(&pool, &clips, 7, 0).unwrap(), cfg.plan(&pool, &clips, 8, 0).unwrap());
    }

    #[test]
    fn rendering_places_each_clip_with_noise_at_the_planned_snr() {
        let clips = vec![clip(1, 4000, 0.5), clip(2, 4000, -0.25)];
        let cfg = UtteranceConfig::new().with_min_snr_db(20.0).with_max_snr_db(20.0);
        let u = Utterance {
            clips: vec![0, 1],
            offsets: vec![100, 6000],
            len: 12_000,
            labels: vec![1, 2],
            snr_db: 20.0,
            noise_seed: 3,
        };
        let wav = cfg.render(&u, &clips).unwrap();
        assert_eq!(wav.samples.len(), 12_000);
        let none = Utterance { clips: vec![], offsets: vec![], labels: vec![], ..u.clone() };
        assert!(matches!(cfg.render(&none, &clips), Err(DataError::Empty { .. })));
        let mut mixed = clips.clone();
        mixed[1].wav.sample_rate = 16_000;
        assert!(cfg.render(&u, &mixed).unwrap_err().to_string().contains("16000 Hz"));
        assert_eq!(wav, cfg.render(&u, &clips).unwrap());
        let mean = |r: std::ops::Range<usize>| wav.samples[r.clone()].iter().sum::<f32>() / r.len() as f32;
        assert!((mean(100..4100) - 0.5).abs() < 0.005);
        assert!((mean(6000..10_000) + 0.25).abs() < 0.005);
        // Speech power (0.25 + 0.0625) / 2, noise 20 dB (100x) below it.
        let silence: Vec<f32> = wav.samples[10_000..].to_vec();
        let noise_power = silence.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / silence.len() as f64;
        let expected = (0.25 + 0.0625) / 2.0 / 100.0;
        assert!((noise_power / expected - 1.0).abs() < 0.1, "noise power {noise_power} vs {expected}");
    }

    #[test]
    fn only_pool_clips_are_used() {
        let clips: Vec<Clip> = (0..10).map(|i| clip(i, 500, 0.1)).collect();
        let cfg = UtteranceConfig::new();
        for i in 0..200 {
            let u = cfg.plan(&[3, 7], &clips, 1, i).unwrap();
            assert!(u.labels.iter().all(|&d| d == 3 || d == 7));
        }
        assert!(matches!(cfg.plan(&[], &clips, 1, 0), Err(DataError::Empty { .. })));
        assert!(matches!(cfg.plan(&[10], &clips, 1, 0), Err(DataError::OutOfRange { .. })));
    }

    #[test]
    fn impossible_compositions_are_config_errors() {
        let clips = vec![clip(0, 100, 0.1)];
        for (cfg, field) in [
            (UtteranceConfig::new().with_min_digits(0), "min_digits"),
            (UtteranceConfig::new().with_max_digits(1), "max_digits"),
            (UtteranceConfig::new().with_min_gap(-0.1), "min_gap"),
            (UtteranceConfig::new().with_max_gap(0.01), "max_gap"),
            (UtteranceConfig::new().with_max_edge(f64::NAN), "max_edge"),
            (UtteranceConfig::new().with_max_snr_db(10.0), "max_snr_db"),
        ] {
            match cfg.plan(&[0], &clips, 0, 0) {
                Err(DataError::Config { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn fsdd_names_are_parsed_and_bad_names_are_errors() {
        let dir = dl_core::testing::temp_dir("dl-cnn", "utterance-names");
        let wav = |n: usize| dl_core::testing::wav_bytes(8000, &(0..n as i16).map(|s| s * 100).collect::<Vec<_>>());
        let write = |name: &str, members: &[(&str, Vec<u8>)]| {
            let path = dir.join(name);
            let gz = flate2::write::GzEncoder::new(std::fs::File::create(&path).unwrap(), Default::default());
            let mut tar = tar::Builder::new(gz);
            for (m, bytes) in members {
                let mut h = tar::Header::new_ustar();
                h.set_size(bytes.len() as u64);
                h.set_mode(0o644);
                h.set_cksum();
                tar.append_data(&mut h, m, bytes.as_slice()).unwrap();
            }
            tar.into_inner().unwrap().finish().unwrap();
            path
        };
        let good = write("good.tar.gz", &[("test/3_theo_4.wav", wav(10)), ("test/9_george_0.wav", wav(20))]);
        let clips = read_fsdd_split(&good).unwrap();
        assert_eq!(clips.len(), 2);
        assert_eq!((clips[0].digit, clips[0].speaker.as_str(), clips[0].take), (3, "theo", 4));
        assert_eq!((clips[1].digit, clips[1].wav.samples.len()), (9, 20));
        let bad = write("bad.tar.gz", &[("test/3_theo_4.wav", wav(10)), ("test/12_theo_1.wav", wav(10))]);
        let err = read_fsdd_split(&bad).unwrap_err().to_string();
        assert!(err.contains("12_theo_1.wav"), "{err}");
    }

    #[test]
    fn the_fsdd_splits_share_no_take() {
        let (Some(train), Some(test)) =
            (dl_core::testing::data_file("fsdd", "train.tar.gz"), dl_core::testing::data_file("fsdd", "test.tar.gz"))
        else {
            return;
        };
        let (train, test) = (read_fsdd_split(train).unwrap(), read_fsdd_split(test).unwrap());
        assert_eq!((train.len(), test.len()), (2_700, 300));
        assert!(train.iter().all(|c| (5..50).contains(&c.take)));
        assert!(test.iter().all(|c| c.take < 5));
        let speakers =
            |clips: &[Clip]| clips.iter().map(|c| c.speaker.clone()).collect::<std::collections::BTreeSet<_>>();
        assert_eq!(speakers(&train), speakers(&test));
    }
}
