//! Parity with PyTorch and loading its weights.

use super::*;

fn check_lstm_fixtures(d: &Device) -> usize {
    let mut registry = Registry::new();
    dl_lstm::parity::register(&mut registry);
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
            if p.extension().is_some_and(|x| x == "json") && text.contains("\"module\": \"lstm\"") {
                match check_one(&registry, &p, d) {
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
fn lstm_matches_pytorch_fixtures() {
    let _rng = rng_lock();
    // Committed: h0/c0 and proj_size + 2 layers + bidirectional (tools/parity).
    assert!(check_lstm_fixtures(&device()) >= 2);
}

#[test]
fn loading_pytorch_weights_checks_projection_and_peepholes() {
    let _rng = rng_lock();
    let d = device();
    let fx = dl_core::parity::Fixture::load(&workspace_root().join("fixtures/parity/p_lstm_proj_bidir.json")).unwrap();
    // Same sizes without the projection: the weight_hh shape differs and is named.
    let no_proj = LstmConfig::new(5, 6).with_num_layers(2).with_bidirectional(true).init(&d).unwrap();
    let err = dl_lstm::pytorch::load_lstm(no_proj, &fx, "", &d).unwrap_err();
    assert!(err.to_string().contains("weight_hh_l0"), "{err}");
    let peep = LstmConfig::new(5, 6).with_proj_size(3).with_peephole(true).init(&d).unwrap();
    let e = dl_lstm::pytorch::load_lstm(peep, &fx, "", &d).unwrap_err();
    assert!(matches!(&e, dl_core::Error::Unsupported(m) if m.contains("peephole")), "{e}");
}
