//! Recipes that train an Elman RNN, a GRU and an LSTM the same way, so their
//! differences are the cells' and nothing else.

use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use serde::Serialize;

use dl_core::ModelConfig;
use dl_core::checkpoint::load_weights;
use dl_core::config::load_json;
use dl_core::task::{evaluate, predict_outputs};
use dl_core::train::{TrainConfig, fit};
use dl_core::{Error, Result};
use dl_lstm::LstmConfig;
use dl_lstm::gates::{forward_with_gates, gate_heatmaps};
use dl_rnn::{GruConfig, RnnConfig};
use dl_seq::SequenceEncoder;
use dl_seq::{HeadConfig, Pooling, SequenceModel, SequenceModelConfig, SequenceTask, SeriesBatcher, SeriesSequence};

/// A recurrent family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Elman RNN (tanh).
    Rnn,
    /// Gated recurrent unit.
    Gru,
    /// Long short-term memory.
    Lstm,
}

impl Family {
    /// All three, simplest first.
    pub const ALL: [Family; 3] = [Family::Rnn, Family::Gru, Family::Lstm];

    /// Lower-case name.
    pub fn name(&self) -> &'static str {
        match self {
            Family::Rnn => "rnn",
            Family::Gru => "gru",
            Family::Lstm => "lstm",
        }
    }

    /// Gate blocks per cell: 1, 3, 4.
    pub fn gates(&self) -> usize {
        match self {
            Family::Rnn => 1,
            Family::Gru => 3,
            Family::Lstm => 4,
        }
    }

    /// Parameters of one layer (with biases) reading `input` features with `hidden` units.
    pub fn layer_params(&self, input: usize, hidden: usize) -> usize {
        self.gates() * (hidden * input + hidden * hidden + 2 * hidden)
    }

    /// The hidden width whose one-layer parameter count is closest to `budget`.
    pub fn hidden_for_budget(&self, input: usize, budget: usize) -> usize {
        (1..=4096).min_by_key(|&h| self.layer_params(input, h).abs_diff(budget)).unwrap_or(1)
    }
}

impl RegressionReport {
    /// The run in one line: test MSE, share within the tolerance, size, time.
    pub fn summary(&self) -> String {
        format!(
            "{}: test MSE {:.4}, within tolerance {:.1}%, {} params, {:.0} s",
            self.family.name(),
            self.test_mse,
            100.0 * self.within_tolerance,
            self.params,
            self.seconds
        )
    }
}

/// What a regression run measured.
#[derive(Debug, Clone, Serialize)]
pub struct RegressionReport {
    /// Family trained.
    pub family: Family,
    /// Hidden width.
    pub hidden: usize,
    /// Trainable parameters of the whole model.
    pub params: usize,
    /// Test mean squared error.
    pub test_mse: f64,
    /// Fraction of test predictions within `tolerance` of the target (all outputs).
    pub within_tolerance: f64,
    /// Validation loss (MSE) after each epoch.
    pub valid_curve: Vec<f64>,
    /// Training wall time in seconds.
    pub seconds: f64,
    /// Test predictions, row per example.
    #[serde(skip)]
    pub predictions: Vec<Vec<f32>>,
}

/// Reloads the LSTM regressor [`train_regressor`] kept in `run_dir` (its
/// `config.json` and best weights) and draws its input and forget gates and
/// cell state on `item` (`prefix_{input,forget,cell}.png`, units x steps; the
/// steps whose second feature is 1, the adding problem's markers, labelled
/// `*`): the forget gate stays near 1 in the units that carry the first
/// marked value, and the input gate opens at the marked steps.
pub fn lstm_gate_maps(run_dir: &Path, item: &SeriesSequence, prefix: &Path, device: &Device) -> Result<()> {
    let config: SequenceModelConfig<LstmConfig> = load_json(run_dir.join("config.json"))?;
    let model = load_weights(config.init(device)?, run_dir.join("best").join("model.bpk"))?;
    let t = item.values.len().checked_div(item.width).unwrap_or(0);
    if t == 0 || t * item.width != item.values.len() {
        return Err(Error::shape(
            "lstm_gate_maps item",
            "steps x width values, at least one step",
            format!("{} values of width {}", item.values.len(), item.width),
        ));
    }
    // [1, T, width]
    let x = Tensor::<3>::from_data(TensorData::new(item.values.clone(), [1, t, item.width]), device);
    let (_, gates) = forward_with_gates(&model.encoder, x, None, None)?;
    let marked: Vec<bool> = (0..t).map(|s| item.width > 1 && item.values[item.width * s + 1] == 1.0).collect();
    gate_heatmaps(&gates, &marked, prefix)
}

/// Options of [`train_regressor`].
#[derive(Debug, Clone)]
pub struct RegressorSetup {
    /// Family to train.
    pub family: Family,
    /// Hidden width.
    pub hidden: usize,
    /// Stacked layers.
    pub layers: usize,
    /// How the sequence is summarised.
    pub pooling: Pooling,
    /// `|prediction - target| < tolerance` counts as solved.
    pub tolerance: f32,
}

/// Trains a one-output-per-sequence regressor of `setup.family` on `train`, early-stopping
/// on `valid`, and scores it on `test`. `device` is the plain device (autodiff is added).
pub fn train_regressor(
    setup: &RegressorSetup,
    train: &[SeriesSequence],
    valid: &[SeriesSequence],
    test: &[SeriesSequence],
    cfg: &TrainConfig,
    device: &Device,
) -> Result<RegressionReport> {
    let first = train.first().ok_or_else(|| Error::empty("the training set"))?;
    let (input, outputs) = (first.width, first.target.len());
    let head = HeadConfig::new(SequenceTask::Regress { outputs }).with_pooling(setup.pooling);
    let (h, l) = (setup.hidden, setup.layers);
    match setup.family {
        Family::Rnn => run(
            setup,
            SequenceModelConfig { encoder: RnnConfig::new(input, h).with_num_layers(l), head },
            train,
            valid,
            test,
            cfg,
            device,
        ),
        Family::Gru => run(
            setup,
            SequenceModelConfig { encoder: GruConfig::new(input, h).with_num_layers(l), head },
            train,
            valid,
            test,
            cfg,
            device,
        ),
        Family::Lstm => run(
            setup,
            SequenceModelConfig { encoder: LstmConfig::new(input, h).with_num_layers(l), head },
            train,
            valid,
            test,
            cfg,
            device,
        ),
    }
}

fn run<C>(
    setup: &RegressorSetup,
    config: SequenceModelConfig<C>,
    train: &[SeriesSequence],
    valid: &[SeriesSequence],
    test: &[SeriesSequence],
    cfg: &TrainConfig,
    device: &Device,
) -> Result<RegressionReport>
where
    C: ModelConfig,
    C::Model: SequenceEncoder + Module + 'static,
    SequenceModel<C::Model>: 'static,
{
    let ad = device.clone().autodiff();
    let model = config.init(&ad)?;
    let params = model.num_params();
    if let Some(dir) = &cfg.out_dir {
        dl_core::config::save_json(&config, dir.join("config.json"))?;
    }
    let start = Instant::now();
    let report = fit(model, train, Some(valid), &SeriesBatcher, cfg, &ad)?;
    let seconds = start.elapsed().as_secs_f64();
    let model = report.model;
    let eval = evaluate(&model, test, &SeriesBatcher, 256, device)?;
    let predictions = predict_outputs(&model, test, &SeriesBatcher, 256, device)?;
    let (mut hits, mut total) = (0usize, 0usize);
    for (p, item) in predictions.iter().zip(test) {
        for (a, b) in p.iter().zip(&item.target) {
            total += 1;
            hits += usize::from((a - b).abs() < setup.tolerance);
        }
    }
    Ok(RegressionReport {
        family: setup.family,
        hidden: setup.hidden,
        params,
        test_mse: eval.loss,
        within_tolerance: hits as f64 / total.max(1) as f64,
        valid_curve: report.history.epochs.iter().filter_map(|e| e.valid_loss).collect(),
        seconds,
        predictions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_match_across_families() {
        let budget = Family::Lstm.layer_params(2, 32);
        assert_eq!(budget, 4 * (32 * 2 + 32 * 32 + 64));
        for f in Family::ALL {
            let h = f.hidden_for_budget(2, budget);
            let p = f.layer_params(2, h) as f64;
            assert!((p - budget as f64).abs() / (budget as f64) < 0.05, "{f:?}: {h} units, {p} params");
        }
        assert_eq!(Family::Rnn.hidden_for_budget(2, budget), 66);
        assert_eq!(Family::Gru.hidden_for_budget(2, budget), 37);
    }
}
