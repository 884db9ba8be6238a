//! Parity with PyTorch and loading its weights.

use super::*;

fn check_kind_fixtures(kinds: &[&str], d: &Device) -> usize {
    let mut checked = 0;
    // Other backends check the committed fixtures only: on lavapipe every new shape
    // compiles kernels, which costs seconds per fixture.
    let dirs = if *d == device() {
        vec![workspace_root().join("fixtures/parity"), workspace_root().join("../shared/parity/samples")]
    } else {
        vec![workspace_root().join("fixtures/parity")]
    };
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            let hit = kinds.iter().any(|k| text.contains(&format!("\"module\": \"{k}\"")));
            if p.extension().is_some_and(|x| x == "json") && hit {
                match check_one(&registry(), &p, d) {
                    Verdict::Pass(diff) => assert!(diff <= 1e-5, "{} diff {diff}", p.display()),
                    other => panic!("{}: {other:?}", p.display()),
                }
                checked += 1;
            }
        }
    }
    checked
}

#[test]
fn rnn_and_gru_match_pytorch_fixtures() {
    let _rng = rng_lock();
    // Committed: 2 rnn + 2 gru (tools/parity); the shared samples add more when present.
    assert!(check_kind_fixtures(&["rnn", "gru"], &device()) >= 4);
}

#[test]
fn loading_pytorch_weights_names_missing_and_misshaped_keys() {
    let _rng = rng_lock();
    let d = device();
    let fx = dl_core::parity::Fixture::load(&workspace_root().join("fixtures/parity/p_gru_bidir.json")).unwrap();
    // A unidirectional GRU reads the forward keys but the model is smaller than the file.
    let small = GruConfig::new(4, 3).init(&d).unwrap();
    let err = dl_rnn::pytorch::load_gru(small, &fx, "", &d).unwrap_err();
    assert!(err.to_string().contains("weight_ih_l0"), "{err}");
    // A prefix that does not exist names the key it looked for.
    let gru = GruConfig::new(4, 5).init(&d).unwrap();
    let err = dl_rnn::pytorch::load_gru(gru, &fx, "encoder.", &d).unwrap_err();
    assert!(err.to_string().contains("encoder.weight_ih_l0"), "{err}");
}
