//! Models trained by this crate's examples, shipped inside it: one line loads
//! each, already trained, with the figure it reached (docs/cnn.md).

use std::path::Path;

use burn::tensor::Device;
use burn::tensor::activation::softmax;
use dl_core::data::LabelSet;
use dl_core::data::tokenizer::AnyWordTokenizer;
use dl_core::pretrained::Pretrained;
use dl_core::{Batcher, Error, Result};

use crate::data::{TextBatcher, TextItem};
use crate::models::lenet::{LeNet5, LeNet5Config};
use crate::models::textcnn::{TextCnn, TextCnnConfig};

/// LeNet-5 trained on MNIST's 60,000 training images by the `mnist` example.
/// Inputs are `[batch, 1, 28, 28]` pixels scaled to `[0, 1]` and standardised
/// with [`crate::recipes::MNIST_MEAN_STD`] (what [`crate::recipes::load_mnist`]
/// returns); outputs are the logits of the digits 0-9.
pub const LENET5_MNIST: Pretrained = Pretrained {
    name: "lenet5-mnist",
    config: include_str!("../pretrained/lenet5-mnist/config.json"),
    weights: include_bytes!("../pretrained/lenet5-mnist/model.bpk"),
    figure: "99.25% accuracy on MNIST's 10,000 test images",
    command: "cargo run -p dl-cnn --release --example mnist -- --model lenet",
};

/// [`LENET5_MNIST`] on `device`.
pub fn lenet5_mnist(device: &Device) -> Result<LeNet5> {
    Ok(LENET5_MNIST.load::<LeNet5Config>(device)?.1)
}

/// TextCNN trained on the SMS Spam Collection by the `text_classify` example,
/// with its vocabulary (words seen twice or more in the training split) and
/// label names (`ham`, `spam`).
pub const TEXTCNN_SMS_SPAM: Pretrained = Pretrained {
    name: "textcnn-sms-spam",
    config: include_str!("../pretrained/textcnn-sms-spam/config.json"),
    weights: include_bytes!("../pretrained/textcnn-sms-spam/model.bpk"),
    figure: "98.75% accuracy, macro-F1 0.972 on the 1,117 test messages",
    command: "cargo run -p dl-cnn --release --example text_classify -- --dataset sms-spam",
};

/// [`TEXTCNN_SMS_SPAM`] with its vocabulary and labels, ready to classify messages.
pub fn textcnn_sms_spam(device: &Device) -> Result<TextCnnClassifier> {
    let (_, model) = TEXTCNN_SMS_SPAM.load::<TextCnnConfig>(device)?;
    let origin = Path::new("pretrained textcnn-sms-spam");
    let tokenizer = AnyWordTokenizer::from_json(
        include_str!("../pretrained/textcnn-sms-spam/vocab.json"),
        origin.join("vocab.json"),
    )?;
    let labels: LabelSet = serde_json::from_str(include_str!("../pretrained/textcnn-sms-spam/labels.json"))
        .map_err(|e| Error::Json { path: origin.join("labels.json"), source: e })?;
    TextCnnClassifier::new(model, tokenizer, labels, 100)
}

/// A TextCNN with the vocabulary and label names it was trained with: it
/// classifies raw text.
#[derive(Debug)]
pub struct TextCnnClassifier {
    model: TextCnn,
    tokenizer: AnyWordTokenizer,
    labels: LabelSet,
    batcher: TextBatcher,
}

impl TextCnnClassifier {
    /// Puts the parts together; the vocabulary must be the model's size and
    /// the labels its number of classes. Texts longer than `max_len` tokens
    /// are truncated.
    pub fn new(model: TextCnn, tokenizer: AnyWordTokenizer, labels: LabelSet, max_len: usize) -> Result<Self> {
        let classes = model.fc.weight.dims()[1];
        let vocab = model.embedding.weight.dims()[0];
        if tokenizer.vocab_size() != vocab || labels.len() != classes {
            return Err(Error::Invalid(format!(
                "TextCnnClassifier: the vocabulary has {} words and there are {} labels, the model takes {vocab} \
                 and gives {classes}",
                tokenizer.vocab_size(),
                labels.len()
            )));
        }
        let batcher = TextBatcher { pad_id: dl_core::data::tokenizer::PAD_ID, min_len: model.min_len(), max_len };
        Ok(Self { model, tokenizer, labels, batcher })
    }

    /// The label names, in class-id order.
    pub fn labels(&self) -> &[String] {
        self.labels.names()
    }

    /// The model.
    pub fn model(&self) -> &TextCnn {
        &self.model
    }

    /// The probability of each label (in [`TextCnnClassifier::labels`] order)
    /// for each text. Texts are padded to the longest of the call, as in
    /// training.
    pub fn probabilities(&self, texts: &[&str], device: &Device) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let items: Vec<TextItem> = texts.iter().map(|t| TextItem { ids: self.tokenizer.encode(t), label: 0 }).collect();
        let refs: Vec<&TextItem> = items.iter().collect();
        let batch = self.batcher.batch(&refs, device)?;
        let probs = softmax(self.model.forward(batch.tokens), 1); // [B, classes]
        let values = dl_core::task::to_f32(probs)?;
        Ok(values.chunks(self.labels.len()).map(<[f32]>::to_vec).collect())
    }

    /// The most likely label of each text.
    pub fn classify(&self, texts: &[&str], device: &Device) -> Result<Vec<&str>> {
        self.probabilities(texts, device)?
            .iter()
            .map(|p| self.labels.name(p.iter().enumerate().fold(0, |b, (j, x)| if *x > p[b] { j } else { b })))
            .collect()
    }
}
