//! Per-epoch metric history, written as CSV and as PNG curves.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::Result;
#[cfg(feature = "plot")]
use crate::plot::{Series, line_chart};

/// One epoch's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Training accuracy (classification) or RMSE (regression), if any.
    pub train_metric: Option<f64>,
    /// Mean validation loss.
    pub valid_loss: Option<f64>,
    /// Validation accuracy (classification) or RMSE (regression), if any.
    pub valid_metric: Option<f64>,
    /// Learning rate at the end of the epoch.
    pub lr: f64,
    /// Wall-clock seconds of the epoch (training + validation).
    pub seconds: f64,
}

/// The history of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Name of the metric column ("accuracy", "rmse", or "metric" when the loss is the only figure).
    pub metric_name: String,
    /// One record per completed epoch.
    pub epochs: Vec<EpochRecord>,
}

impl History {
    /// Writes `metrics.csv` with a header and one row per epoch (through a
    /// temporary file and a rename: a kill never leaves half a file).
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        let m = &self.metric_name;
        let mut text = format!("epoch,train_loss,train_{m},valid_loss,valid_{m},lr,seconds\n");
        let opt = |v: Option<f64>| v.map(|v| format!("{v:.6}")).unwrap_or_default();
        for r in &self.epochs {
            text.push_str(&format!(
                "{},{:.6},{},{},{},{:.3e},{:.2}\n",
                r.epoch,
                r.train_loss,
                opt(r.train_metric),
                opt(r.valid_loss),
                opt(r.valid_metric),
                r.lr,
                r.seconds
            ));
        }
        crate::train::checkpointer::write_atomically(path, text.as_bytes())
    }

    /// Writes `loss.png` (train/valid loss) and, when there is a metric, `<metric>.png`
    /// (feature `plot`).
    #[cfg(feature = "plot")]
    pub fn write_curves(&self, dir: &Path, title: &str) -> Result<()> {
        if self.epochs.is_empty() {
            return Ok(());
        }
        let series = |name: &str, f: &dyn Fn(&EpochRecord) -> Option<f64>| Series {
            name: name.to_string(),
            points: self.epochs.iter().filter_map(|r| f(r).map(|v| (r.epoch as f64, v))).collect(),
        };
        let mut losses = vec![series("train loss", &|r| Some(r.train_loss))];
        let valid = series("valid loss", &|r| r.valid_loss);
        if !valid.points.is_empty() {
            losses.push(valid);
        }
        line_chart(&dir.join("loss.png"), &format!("{title} loss"), "epoch", "loss", &losses, false)?;
        let m = self.metric_name.clone();
        let mut metrics = Vec::new();
        for (name, s) in [
            (format!("train {m}"), series("", &|r| r.train_metric)),
            (format!("valid {m}"), series("", &|r| r.valid_metric)),
        ] {
            if !s.points.is_empty() {
                metrics.push(Series { name, points: s.points });
            }
        }
        if !metrics.is_empty() {
            line_chart(&dir.join(format!("{m}.png")), &format!("{title} {m}"), "epoch", &m, &metrics, false)?;
        }
        Ok(())
    }
}
