//! The CTC loss against PyTorch (values and gradients, `fixtures/ctc`), on
//! hand-worked cases, and on inputs it must refuse.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Tensor, TensorData};
use dl_core::Error;
use dl_core::testing::{device, max_diff, values, workspace_root};
use dl_seq::ctc::{ctc_loss, ctc_loss_per_sample};
use serde_json::Value;

fn floats(v: &Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect()
}

#[test]
fn loss_and_gradient_match_pytorch() {
    let path = workspace_root().join("fixtures/ctc/ctc_loss.json");
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let d = device().autodiff();
    for case in fixture["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let shape: [usize; 3] = usizes(&case["shape"]).try_into().unwrap();
        let blank = case["blank"].as_u64().unwrap() as usize;
        let targets: Vec<Vec<usize>> = case["targets"].as_array().unwrap().iter().map(usizes).collect();
        let lengths = usizes(&case["input_lengths"]);
        let logits = Tensor::<3>::from_data(TensorData::new(floats(&case["logits"]), shape), &d).require_grad();
        let log_probs = log_softmax(logits.clone(), 2);

        let each = ctc_loss_per_sample(log_probs.clone(), &targets, &lengths, blank).unwrap();
        let diff = max_diff(&values(each), &floats(&case["loss_none"]));
        assert!(diff < 1e-4, "{name}: per-sample losses differ by {diff}");

        let mean = ctc_loss(log_probs, &targets, &lengths, blank).unwrap();
        let got = values(mean.clone())[0];
        let want = case["loss_mean"].as_f64().unwrap() as f32;
        assert!((got - want).abs() < 1e-5 * want.abs().max(1.0), "{name}: mean loss {got} vs {want}");
        let grads = mean.backward();
        let grad = values(logits.grad(&grads).unwrap());
        let diff = max_diff(&grad, &floats(&case["grad_logits"]));
        assert!(diff < 1e-5, "{name}: gradients differ by {diff}");
    }
}

#[test]
fn uniform_probabilities_give_the_counted_paths() {
    // T = 3, classes {0, 1, blank 2}, uniform: the target 0 1 is read by five
    // of the 27 paths (0 1 -, 0 - 1, - 0 1, 0 0 1, 0 1 1).
    let d = device();
    let lp = Tensor::<3>::full([3, 1, 3], (1.0f32 / 3.0).ln(), &d);
    let loss = values(ctc_loss_per_sample(lp, &[vec![0, 1]], &[3], 2).unwrap())[0];
    assert!((loss - -(5.0f32 / 27.0).ln()).abs() < 1e-5, "{loss}");
}

#[test]
fn inputs_that_cannot_be_scored_are_errors() {
    let d = device();
    let lp = || Tensor::<3>::full([4, 2, 3], (1.0f32 / 3.0).ln(), &d);
    let e = ctc_loss(lp(), &[vec![1, 1, 1], vec![1]], &[4, 4], 0).unwrap_err().to_string();
    assert!(e.contains("sample 0") && e.contains("at least 5 steps"), "{e}");
    let e = ctc_loss(lp(), &[vec![1], vec![0]], &[4, 4], 0).unwrap_err().to_string();
    assert!(e.contains("targets[1]") && e.contains("blank"), "{e}");
    let e = ctc_loss(lp(), &[vec![1], vec![3]], &[4, 4], 0).unwrap_err().to_string();
    assert!(e.contains("targets[1]"), "{e}");
    assert!(matches!(ctc_loss(lp(), &[vec![1]], &[4, 4], 0), Err(Error::Shape { .. })));
    assert!(matches!(ctc_loss(lp(), &[vec![1], vec![2]], &[4], 0), Err(Error::Shape { .. })));
    let e = ctc_loss(lp(), &[vec![1], vec![2]], &[4, 5], 0).unwrap_err().to_string();
    assert!(e.contains("input_lengths[1]"), "{e}");
    assert!(matches!(ctc_loss(lp(), &[vec![1], vec![2]], &[4, 4], 3), Err(Error::OutOfRange { .. })));
}
