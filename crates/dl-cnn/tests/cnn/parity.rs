//! Parity.

use super::*;

#[test]
fn lenet5_matches_pytorch_fixtures() {
    // The checker builds each module with random weights before loading the fixture's.
    let _rng = rng_lock();
    // The committed fixtures (tools/parity) and the shared sample, when present.
    let mut checked = 0;
    for dir in [workspace_root().join("fixtures/parity"), workspace_root().join("../shared/parity/samples")] {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            let is_lenet = std::fs::read_to_string(&p).map(|t| t.contains("\"lenet5\"")).unwrap_or(false);
            if p.extension().is_some_and(|x| x == "json") && is_lenet {
                match check_one(&registry(), &p, &device()) {
                    Verdict::Pass(d) => assert!(d <= 1e-4, "{} diff {d}", p.display()),
                    other => panic!("{}: {other:?}", p.display()),
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 1, "no lenet5 fixture found");
}

#[test]
fn every_committed_fixture_of_a_known_kind_passes() {
    // The checker builds each module with random weights before loading the fixture's.
    let _rng = rng_lock();
    let dir = workspace_root().join("fixtures/parity");
    let mut out = Vec::new();
    let (passed, failed) = dl_core::parity::check_dirs(&registry(), &[dir], &device(), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let bad: Vec<&str> = text.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert!(bad.is_empty(), "{bad:?}");
    assert!(passed >= 10, "{text}");
    // Kinds of other families are UNSUPPORTED here, never FAIL.
    assert_eq!(failed, text.lines().filter(|l| l.starts_with("UNSUPPORTED")).count());
}
