//! The examples on bad input, run as a user runs them: each exits with 1
//! and an error that names the problem, before any training, and none
//! panics. The binaries are the ones `cargo test --workspace` builds beside
//! the test binaries (`target/<profile>/examples/`); the data folders are
//! written here, so nothing outside the repository is needed.

use std::path::{Path, PathBuf};
use std::process::Command;

use dl_core::testing::{gzip as gz, idx_labels};

/// An IDX file of `n` MNIST-sized images.
fn idx_images(n: u32) -> Vec<u8> {
    dl_core::testing::idx_images(n, 28, 28, 9)
}

/// `target/<profile>/examples/<name>`, built by `cargo test --workspace`.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let bin = exe.parent().and_then(Path::parent).expect("target/<profile>").join("examples").join(name);
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo test --workspace --all-features` (it builds the examples)",
        bin.display()
    );
    bin
}

/// Runs an example with `args` and returns its stderr, asserting exit code 1 and no panic.
fn fails(name: &str, args: &[&str], out: &Path) -> String {
    let o = Command::new(example(name))
        .args(args)
        .args(["--out", out.to_str().unwrap(), "--no-progress"])
        .env_remove("DL_DATA_DIR")
        .output()
        .expect("running the example");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{name} {args:?}: {err}");
    assert!(!err.contains("panicked"), "{name} {args:?} panicked: {err}");
    err
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dl-families-bad-input-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A data folder with a small valid `mnist/` (8 training and 4 test digits).
fn mnist_folder(name: &str) -> PathBuf {
    let data = temp(name);
    let m = data.join("mnist");
    std::fs::create_dir_all(&m).unwrap();
    std::fs::write(m.join("train-images-idx3-ubyte.gz"), gz(&idx_images(8))).unwrap();
    std::fs::write(m.join("train-labels-idx1-ubyte.gz"), gz(&idx_labels(&[0, 1, 2, 3, 4, 5, 6, 7]))).unwrap();
    std::fs::write(m.join("t10k-images-idx3-ubyte.gz"), gz(&idx_images(4))).unwrap();
    std::fs::write(m.join("t10k-labels-idx1-ubyte.gz"), gz(&idx_labels(&[8, 9, 0, 1]))).unwrap();
    data
}

#[test]
fn image_examples_refuse_bombs_huge_widths_bad_flags_and_missing_models() {
    let data = mnist_folder("mnist");
    let d = data.to_str().unwrap();
    let out = temp("mnist-out");
    // A gzip bomb: 4 labels, then 8 MB of zeros.
    let bomb = gz(&[idx_labels(&[8, 9, 0, 1]), vec![0u8; 8 << 20]].concat());
    std::fs::write(data.join("mnist/t10k-labels-idx1-ubyte.gz"), bomb).unwrap();
    let e = fails("mnist", &["--data", d, "--quick"], &out);
    assert!(e.contains("t10k-labels-idx1-ubyte.gz") && e.contains("at least 1048576 unexpected bytes"), "{e}");
    let data = mnist_folder("mnist-ok");
    let d = data.to_str().unwrap();
    let e = fails("mnist", &["--data", d, "--quick", "--model", "resnet", "--width", "100000"], &out);
    assert!(e.contains("ResNetConfig") && e.contains("more than the"), "{e}");
    let e = fails("saliency", &["--data", d, "--quick", "--model-dir", "/nonexistent/model"], &out);
    assert!(e.contains("/nonexistent/model"), "{e}");
    let e = fails("read_digits", &["--data", d, "--quick", "--beam", "0"], &out);
    assert!(e.contains("--beam") && e.contains("at least 1"), "{e}");
    let e = fails("read_digits", &["--data", d, "--quick", "--hidden", "0"], &out);
    assert!(e.contains("hidden"), "{e}");
    let e = fails("detect_digits", &["--data", d, "--quick", "--threshold", "1.5"], &out);
    assert!(e.contains("--threshold") && e.contains("1.5"), "{e}");
    let e = fails("caption", &["--data", d, "--quick", "--batch-size", "0"], &out);
    assert!(e.contains("--batch-size") && e.contains("at least 1"), "{e}");
    let e = fails("style_transfer", &["--data", d, "--quick", "--codes", "40"], &out);
    assert!(e.contains("continuous_codes") && e.contains("latent_dim = 8"), "{e}");
    let e = fails("style_transfer", &["--data", d, "--quick", "--sources", "0"], &out);
    assert!(e.contains("--sources") && e.contains("at least 1"), "{e}");
    let e = fails("style_transfer", &["--data", d, "--quick", "--style-weight=-1"], &out);
    assert!(e.contains("--style-weight") && e.contains("-1"), "{e}");
}

#[test]
fn the_speech_examples_name_a_clip_at_another_sample_rate() {
    let data = temp("fsdd");
    std::fs::create_dir_all(data.join("fsdd")).unwrap();
    let mut tar = tar::Builder::new(Vec::new());
    for (name, rate) in [("train/3_a_0.wav", 8000), ("train/4_b_1.wav", 16000)] {
        let clip = dl_core::testing::wav_bytes(rate, &[0, 100, -100, 50]);
        let mut h = tar::Header::new_ustar();
        h.set_size(clip.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, name, &clip[..]).unwrap();
    }
    let archive = gz(&tar.into_inner().unwrap());
    for split in ["train.tar.gz", "test.tar.gz"] {
        std::fs::write(data.join("fsdd").join(split), &archive).unwrap();
    }
    let e = fails("spoken_digits", &["--data", data.to_str().unwrap(), "--quick"], &temp("fsdd-out"));
    assert!(e.contains("member `train/4_b_1.wav`") && e.contains("16000"), "{e}");
    let e = fails("spoken_sequences", &["--data", data.to_str().unwrap(), "--quick"], &temp("fsdd-seq-out"));
    assert!(e.contains("member `train/4_b_1.wav`") && e.contains("16000 Hz"), "{e}");
    let e = fails("spoken_sequences", &["--data", data.to_str().unwrap(), "--beam", "0"], &temp("fsdd-seq-out"));
    assert!(e.contains("--beam") && e.contains("at least 1"), "{e}");
    let e = fails("speech_gan", &["--data", data.to_str().unwrap(), "--quick"], &temp("fsdd-gan-out"));
    assert!(e.contains("member `train/4_b_1.wav`") && e.contains("16000 Hz"), "{e}");
    let e = fails("speech_gan", &["--data", data.to_str().unwrap(), "--griffin-lim", "0"], &temp("fsdd-gan-out"));
    assert!(e.contains("iterations") && e.contains("got 0"), "{e}");
    let e = fails("speech_gan", &["--data", data.to_str().unwrap(), "--per-class", "0"], &temp("fsdd-gan-out"));
    assert!(e.contains("--per-class") && e.contains("at least 1"), "{e}");
    let e = fails("speech_gan", &["--data", data.to_str().unwrap(), "--truncation", "1.5"], &temp("fsdd-gan-out"));
    assert!(e.contains("--truncation") && e.contains("(0, 1]"), "{e}");
    // Without the scoring CNN of `spoken_digits`, the error names the command that trains it.
    let ok = temp("fsdd-8k");
    std::fs::create_dir_all(ok.join("fsdd")).unwrap();
    let mut tar = tar::Builder::new(Vec::new());
    let clip = dl_core::testing::wav_bytes(8000, &[0, 100, -100, 50]);
    let mut h = tar::Header::new_ustar();
    h.set_size(clip.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    tar.append_data(&mut h, "train/3_a_0.wav", &clip[..]).unwrap();
    let archive = gz(&tar.into_inner().unwrap());
    for split in ["train.tar.gz", "test.tar.gz"] {
        std::fs::write(ok.join("fsdd").join(split), &archive).unwrap();
    }
    let e = fails("speech_gan", &["--data", ok.to_str().unwrap(), "--quick"], &temp("fsdd-gan-out").join("speech_gan"));
    assert!(e.contains("no spoken-digit classifier") && e.contains("--example spoken_digits"), "{e}");
}

#[test]
fn forecast_checks_its_series_before_training() {
    let data = temp("series");
    let t = data.join("timeseries");
    std::fs::create_dir_all(&t).unwrap();
    let air: String = (0..144).map(|i| format!("m{i},{}\n", 100 + i)).collect();
    std::fs::write(t.join("airline_passengers.csv"), format!("month,passengers\n{air}")).unwrap();
    let years = |n: usize, gap: Option<usize>| -> String {
        let rows: String =
            (0..n).map(|i| if Some(i) == gap { format!("{i},\n") } else { format!("{i},{}\n", 10 + i % 11) }).collect();
        format!("year,sunspots\n{rows}")
    };
    let d = data.to_str().unwrap();
    let out = temp("series-out");
    std::fs::write(t.join("sunspots_yearly.csv"), years(30, None)).unwrap();
    let e = fails("forecast", &["--data", d, "--quick"], &out);
    assert!(e.contains("sunspots_yearly.csv") && e.contains("at least 107 years, found 30"), "{e}");
    std::fs::write(t.join("sunspots_yearly.csv"), years(300, Some(4))).unwrap();
    let e = fails("forecast", &["--data", d, "--quick"], &out);
    assert!(e.contains("line 6") && e.contains("no value for `4`"), "{e}");
}

#[test]
fn char_language_models_check_their_flags_before_training() {
    let data = temp("shakespeare");
    std::fs::create_dir_all(data.join("tinyshakespeare")).unwrap();
    let text = "ROMEO:\nBut soft, what light through yonder window breaks?\n\n".repeat(40);
    std::fs::write(data.join("tinyshakespeare/input.txt"), text).unwrap();
    let d = data.to_str().unwrap();
    let out = temp("shakespeare-out");
    for name in ["char_gpt", "llama_tiny"] {
        let e = fails(name, &["--data", d, "--iters", "0"], &out);
        assert!(e.contains("--iters"), "{e}");
        let e = fails(name, &["--data", d, "--temperature=-1"], &out);
        assert!(e.contains("--temperature"), "{e}");
        let e = fails(name, &["--data", d, "--prompt", "\u{2603}"], &out);
        assert!(e.contains("--prompt") && e.contains("unknown token"), "{e}");
        let e = fails(name, &["--data", d, "--width", "1000000", "--quick"], &out);
        assert!(e.contains("more than the"), "{e}");
    }
}

#[test]
fn sequence_examples_refuse_lengths_below_two() {
    // Refused by the argument parser (exit status 2), which names the flag
    // and, for a choice, lists the values.
    let refused = |name: &str, args: &[&str], needles: &[&str]| {
        let o = Command::new(example(name)).args(args).arg("--quick").output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name} {args:?}: {err}");
        assert!(needles.iter().all(|n| err.contains(n)), "{name} {args:?}: {err}");
    };
    refused("adding_problem", &["--lengths", "50,1"], &["'1' for '--lengths", "must be at least 2"]);
    refused("vanishing_gradients", &["--length", "1"], &["'1' for '--length", "must be at least 2"]);
    for name in ["adding_problem", "vanishing_gradients"] {
        refused(name, &["--models", "rnn,transformer"], &["'transformer'", "possible values: rnn, gru, lstm"]);
    }
}
