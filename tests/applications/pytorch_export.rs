//! Models exported with PyTorch's parameter names (LeNet-5, ResNet, VGG,
//! TextCNN, a stacked bidirectional LSTM with projections, an Elman RNN and
//! a GRU, the DCGAN, MLP-GAN and SpecGAN generators, a ViT, two
//! encoder-decoder Transformers, the LSTM attention encoder-decoder), written as parity fixtures
//! (shared/parity/FORMAT.md) holding the Rust model's inputs and outputs.
//! The Rust parity checker reads the LeNet-5, LSTM, RNN and GRU fixtures back
//! through the PyTorch-name loaders and must reproduce the outputs;
//! `python tools/parity/check_exported.py <folder>` has PyTorch do the same
//! for all of them (docs/architecture.md, "PyTorch in and out").

use burn::module::{Module, ModuleMapper, Param, RunningState};
use burn::tensor::{Distribution, Int, Tensor, TensorData};
use dl_cnn::models::ImageClassifier;
use dl_cnn::models::lenet::LeNet5Config;
use dl_core::ModelConfig;
use dl_core::parity::{Registry, Verdict, check_one, write_fixture};
use dl_core::testing::{device, rng_lock, temp_dir};
use dl_core::weights::{StateDict, StateDictWriter};
use dl_gan::Generator;
use dl_gan::models::dcgan::DcganConfig;
use dl_gan::models::mlp::MlpGanConfig;
use dl_gan::models::specgan::SpecGanConfig;
use dl_lstm::LstmConfig;
use dl_rnn::{GruConfig, Nonlinearity, RnnConfig};
use dl_transformer::ffn::Activation;
use dl_transformer::{TransformerSeq2SeqConfig, VitConfig};
use serde_json::json;

const NOTES: &str = "exported from a Rust model by tests/applications/pytorch_export.rs";

#[test]
fn models_export_with_pytorch_names_as_fixtures() {
    let _guard = rng_lock();
    let d = device();
    d.seed(11);
    let dir = temp_dir("dl-families", "pytorch_export");
    let normal = Distribution::Normal(0.0, 1.0);

    // LeNet-5 (max pooling, as PyTorch's reference model).
    let lenet = LeNet5Config::new().init(&d).unwrap();
    let x = Tensor::<4>::random([2, 1, 28, 28], normal, &d);
    let mut w = StateDictWriter::new();
    dl_cnn::pytorch::put_lenet5(&lenet, &mut w, "param.").unwrap();
    w.put("input", x.clone()).unwrap();
    w.put("output", lenet.forward(x)).unwrap();
    write_fixture(&dir, "x_lenet5", "lenet5", json!({}), &["input"], &["output"], 1e-4, NOTES, &w).unwrap();

    // Two bidirectional layers with projections.
    let config = json!({"input_size": 4, "hidden_size": 5, "num_layers": 2, "bidirectional": true,
                        "proj_size": 3, "batch_first": true, "dropout": 0.0});
    let lstm = LstmConfig::new(4, 5).with_num_layers(2).with_bidirectional(true).with_proj_size(3).init(&d).unwrap();
    let x = Tensor::<3>::random([2, 6, 4], normal, &d);
    let out = lstm.forward(x.clone(), None, None).unwrap();
    let mut w = StateDictWriter::new();
    dl_lstm::pytorch::put_lstm(&lstm, &mut w, "param.").unwrap();
    // save_lstm writes the same tensors without the fixture's `param.` prefix.
    let saved = temp_dir("dl-families", "pytorch_export_save").join("lstm.safetensors");
    dl_lstm::pytorch::save_lstm(&lstm, &saved).unwrap();
    let keys: Vec<String> = StateDict::load(&saved).unwrap().keys().iter().map(|k| format!("param.{k}")).collect();
    assert_eq!(keys, w.keys());
    w.put("input", x).unwrap();
    w.put("output", out.output).unwrap();
    w.put("h_n", out.state.h).unwrap();
    w.put("c_n", out.state.c.unwrap()).unwrap();
    write_fixture(&dir, "x_lstm", "lstm", config, &["input"], &["output", "h_n", "c_n"], 1e-5, NOTES, &w).unwrap();

    // An Elman RNN (ReLU, two bidirectional layers) and a GRU (two layers).
    let rnn_config = json!({"input_size": 4, "hidden_size": 6, "num_layers": 2, "nonlinearity": "relu",
                            "bidirectional": true, "batch_first": true, "dropout": 0.0});
    let rnn = RnnConfig::new(4, 6)
        .with_num_layers(2)
        .with_nonlinearity(Nonlinearity::Relu)
        .with_bidirectional(true)
        .init(&d)
        .unwrap();
    let gru_config = json!({"input_size": 4, "hidden_size": 5, "num_layers": 2, "batch_first": true, "dropout": 0.0});
    let gru = GruConfig::new(4, 5).with_num_layers(2).init(&d).unwrap();
    let x = Tensor::<3>::random([3, 7, 4], normal, &d);
    for (name, kind, config) in [("x_rnn", "rnn", rnn_config), ("x_gru", "gru", gru_config)] {
        let mut w = StateDictWriter::new();
        let out = if kind == "rnn" {
            dl_rnn::pytorch::put_rnn(&rnn, &mut w, "param.").unwrap();
            rnn.forward(x.clone(), None, None).unwrap()
        } else {
            dl_rnn::pytorch::put_gru(&gru, &mut w, "param.").unwrap();
            gru.forward(x.clone(), None, None).unwrap()
        };
        w.put("input", x.clone()).unwrap();
        w.put("output", out.output).unwrap();
        w.put("h_n", out.state.h).unwrap();
        write_fixture(&dir, name, kind, config, &["input"], &["output", "h_n"], 1e-5, NOTES, &w).unwrap();
    }

    // A conditional DCGAN generator with batch-norm statistics that are not the defaults.
    let config = json!({"latent_dim": 10, "channels": 1, "image_size": 16, "base_channels": 8, "num_classes": 3});
    let mut g = DcganConfig::new()
        .with_latent_dim(10)
        .with_image_size(16)
        .with_base_channels(8)
        .with_num_classes(Some(3))
        .init(&d)
        .unwrap()
        .generator;
    for bn in [&mut g.bn0, &mut g.bn1] {
        randomise_statistics(bn, &d);
    }
    let z = Tensor::<2>::random([4, 10], normal, &d);
    let labels = [0i64, 2, 1, 2];
    let y = g.forward(z.clone(), Some(Tensor::<1, Int>::from_data(TensorData::new(labels.to_vec(), [4]), &d)));
    let mut w = StateDictWriter::new();
    dl_gan::pytorch::put_dcgan_generator(&g, &mut w, "param.").unwrap();
    let want = [
        "bn0.bias",
        "bn0.num_batches_tracked",
        "bn0.running_mean",
        "bn0.running_var",
        "bn0.weight",
        "bn1.bias",
        "bn1.num_batches_tracked",
        "bn1.running_mean",
        "bn1.running_var",
        "bn1.weight",
        "embed.weight",
        "fc.bias",
        "fc.weight",
        "up1.bias",
        "up1.weight",
        "up2.bias",
        "up2.weight",
    ];
    assert_eq!(w.keys(), want.iter().map(|k| format!("param.{k}")).collect::<Vec<_>>());
    w.put("z", z).unwrap();
    w.put_i64("labels", &[4], &labels).unwrap();
    w.put("output", y).unwrap();
    write_fixture(&dir, "x_dcgan_generator", "dcgan_generator", config, &["z", "labels"], &["output"], 1e-5, NOTES, &w)
        .unwrap();

    // ResNet (small stem, two stages, a projected skip), VGG (batch norm,
    // max and average pooling, a hidden layer) and a TextCNN, under the
    // names of torchvision's modules and of the TextCNN's PyTorch twin.
    let resnet_config = json!({"in_channels": 2, "num_classes": 3, "layers": [1, 2], "base_width": 4});
    let mut resnet = dl_cnn::ResNetConfig::new(2, 3)
        .with_layers(vec![1, 2])
        .with_base_width(4)
        .with_stem(dl_cnn::Stem::Small)
        .with_input_size([10, 10])
        .init(&d)
        .unwrap();
    let mut norms = vec![&mut resnet.stem_bn];
    for b in &mut resnet.blocks {
        norms.extend([&mut b.bn1, &mut b.bn2]);
        norms.extend(b.downsample.as_mut().map(|p| &mut p.bn));
    }
    for bn in norms {
        randomise_statistics(bn, &d);
    }
    let x = Tensor::<4>::random([2, 2, 10, 10], normal, &d);
    let mut w = StateDictWriter::new();
    dl_cnn::pytorch::put_resnet(&resnet, &[1, 2], &mut w, "param.").unwrap();
    assert!(dl_cnn::pytorch::put_resnet(&resnet, &[2, 2], &mut StateDictWriter::new(), "").is_err());
    w.put("input", x.clone()).unwrap();
    w.put("output", resnet.forward(x)).unwrap();
    write_fixture(&dir, "x_resnet", "dl_resnet", resnet_config, &["input"], &["output"], 1e-4, NOTES, &w).unwrap();

    let vgg_config = json!({"in_channels": 1, "blocks": [[4, 2, "max"], [6, 1, "avg"]], "hidden": [5],
                            "num_classes": 3, "flat": 6 * 2 * 2});
    let blocks = vec![
        dl_cnn::VggBlock { channels: 4, convs: 2, pool: dl_cnn::PoolKind::MAX2 },
        dl_cnn::VggBlock { channels: 6, convs: 1, pool: dl_cnn::PoolKind::AVG2 },
    ];
    let mut vgg = dl_cnn::VggConfig::new(1, [8, 8], blocks, 3).with_hidden(vec![5]).init(&d).unwrap();
    for unit in &mut vgg.units {
        randomise_statistics(unit.bn.as_mut().unwrap(), &d);
    }
    let x = Tensor::<4>::random([2, 1, 8, 8], normal, &d);
    let mut w = StateDictWriter::new();
    dl_cnn::pytorch::put_vgg(&vgg, &mut w, "param.").unwrap();
    w.put("input", x.clone()).unwrap();
    w.put("output", vgg.forward(x)).unwrap();
    write_fixture(&dir, "x_vgg", "dl_vgg", vgg_config, &["input"], &["output"], 1e-4, NOTES, &w).unwrap();

    let textcnn_config = json!({"vocab_size": 20, "num_classes": 3, "embed_dim": 6, "filter_widths": [2, 3],
                                "filters": 4});
    let textcnn = dl_cnn::TextCnnConfig::new(20, 3)
        .with_embed_dim(6)
        .with_filter_widths(vec![2, 3])
        .with_filters(4)
        .init(&d)
        .unwrap();
    let tokens: Vec<i64> = (0..14).map(|i| (i * 7 + 3) % 20).collect();
    let y = textcnn.forward(Tensor::<2, Int>::from_data(TensorData::new(tokens.clone(), [2, 7]), &d));
    let mut w = StateDictWriter::new();
    dl_cnn::pytorch::put_textcnn(&textcnn, &mut w, "param.").unwrap();
    w.put_i64("tokens", &[2, 7], &tokens).unwrap();
    w.put("output", y).unwrap();
    write_fixture(&dir, "x_textcnn", "dl_textcnn", textcnn_config, &["tokens"], &["output"], 1e-5, NOTES, &w).unwrap();

    // The MLP-GAN generator (conditional, tanh output) and a SpecGAN generator
    // (two up-sampling steps on a 16 x 8 spectrogram, random statistics).
    let config = json!({"latent_dim": 5, "hidden": 7, "layers": 2, "data_dim": 3, "num_classes": 4, "tanh": true});
    let mlp = MlpGanConfig::new()
        .with_latent_dim(5)
        .with_hidden(7)
        .with_layers(2)
        .with_data_dim(3)
        .with_num_classes(Some(4))
        .with_tanh_output(true)
        .init(&d)
        .unwrap()
        .generator;
    let z = Tensor::<2>::random([4, 5], normal, &d);
    let labels = [3i64, 0, 1, 3];
    let y = mlp.forward(z.clone(), Some(Tensor::<1, Int>::from_data(TensorData::new(labels.to_vec(), [4]), &d)));
    let mut w = StateDictWriter::new();
    dl_gan::pytorch::put_mlp_generator(&mlp, &mut w, "param.").unwrap();
    w.put("z", z).unwrap();
    w.put_i64("labels", &[4], &labels).unwrap();
    w.put("output", y).unwrap();
    write_fixture(&dir, "x_mlp_generator", "dl_mlp_generator", config, &["z", "labels"], &["output"], 1e-5, NOTES, &w)
        .unwrap();

    let config = json!({"latent_dim": 6, "bins": 16, "frames": 8, "channels": [8, 4], "num_classes": 3});
    let mut spec = SpecGanConfig::new()
        .with_latent_dim(6)
        .with_bins(16)
        .with_frames(8)
        .with_channels(vec![8, 4])
        .with_num_classes(Some(3))
        .init(&d)
        .unwrap()
        .generator;
    for bn in &mut spec.norms {
        randomise_statistics(bn, &d);
    }
    let z = Tensor::<2>::random([3, 6], normal, &d);
    let labels = [2i64, 0, 1];
    let y = spec.forward(z.clone(), Some(Tensor::<1, Int>::from_data(TensorData::new(labels.to_vec(), [3]), &d)));
    let mut w = StateDictWriter::new();
    dl_gan::pytorch::put_spec_generator(&spec, &mut w, "param.").unwrap();
    w.put("z", z).unwrap();
    w.put_i64("labels", &[3], &labels).unwrap();
    w.put("output", y).unwrap();
    write_fixture(
        &dir,
        "x_spec_generator",
        "dl_spec_generator",
        config,
        &["z", "labels"],
        &["output"],
        1e-5,
        NOTES,
        &w,
    )
    .unwrap();

    // A ViT and two encoder-decoder Transformers (pre-norm ReLU, post-norm
    // GELU; padded sources), every parameter moved off its initial value so
    // that a swapped norm or projection shows.
    let config = json!({"channels": 2, "image_size": 8, "patch_size": 4, "num_classes": 3, "d_model": 12,
                        "layers": 2, "heads": 3, "d_ff": 20});
    let vit_config = VitConfig::new(2, 8, 4, 3).with_d_model(12).with_layers(2).with_heads(3).with_d_ff(20);
    let vit = vit_config.init(&d).unwrap().map(&mut Jitter);
    let x = Tensor::<4>::random([2, 2, 8, 8], normal, &d);
    let mut w = StateDictWriter::new();
    dl_transformer::pytorch::put_vit(&vit, &mut w, "param.").unwrap();
    w.put("input", x.clone()).unwrap();
    w.put("output", vit.forward(x).unwrap()).unwrap();
    write_fixture(&dir, "x_vit", "dl_vit", config, &["input"], &["output"], 1e-5, NOTES, &w).unwrap();
    // Saved, then loaded into a fresh ViT by the same names: the same outputs
    // (to rounding: the loaded weights lie in another layout), every tensor used.
    let path = dir.join("vit_round_trip.safetensors");
    dl_transformer::pytorch::save_vit(&vit, &path).unwrap();
    let sd = StateDict::load(&path).unwrap();
    let fresh = vit_config.init(&d).unwrap();
    let back = dl_transformer::pytorch::load_vit(fresh, &sd, "", &d).unwrap();
    sd.check_all_used(&[]).unwrap();
    let x = Tensor::<4>::random([2, 2, 8, 8], normal, &d);
    let diff = (back.forward(x.clone()).unwrap() - vit.forward(x).unwrap()).abs().max().into_scalar::<f32>();
    assert!(diff < 1e-6, "{diff}");

    for (name, norm_first, activation) in
        [("x_seq2seq_pre", true, Activation::Relu), ("x_seq2seq_post", false, Activation::Gelu)]
    {
        let config = json!({"src_vocab": 11, "tgt_vocab": 9, "d_model": 8, "n_heads": 2, "d_ff": 16,
                            "encoder_layers": 2, "decoder_layers": 2, "norm_first": norm_first,
                            "activation": if norm_first { "relu" } else { "gelu" }});
        let built = TransformerSeq2SeqConfig::new(11, 9)
            .with_d_model(8)
            .with_n_heads(2)
            .with_d_ff(16)
            .with_encoder_layers(2)
            .with_decoder_layers(2)
            .with_dropout(0.0)
            .with_norm_first(norm_first)
            .with_activation(activation);
        let m = built.init(&d).unwrap().map(&mut Jitter);
        let (src, lengths, tgt) = ([1i64, 4, 7, 10, 2, 5, 3, 8, 6, 9, 0, 0], [6i64, 4], [2i64, 5, 1, 8, 0, 7, 3, 4]);
        let memory = m.encode(Tensor::<2, Int>::from_data(TensorData::new(src.to_vec(), [2, 6]), &d), &[6, 4]).unwrap();
        let (logits, _) =
            m.decode(Tensor::<2, Int>::from_data(TensorData::new(tgt.to_vec(), [2, 4]), &d), &memory, None).unwrap();
        let mut w = StateDictWriter::new();
        dl_transformer::pytorch::put_seq2seq(&m, &mut w, "param.").unwrap();
        assert_eq!(w.keys().iter().any(|k| k.ends_with("encoder.norm.weight")), norm_first);
        // Saved, then loaded into a fresh model by the same names: the same logits.
        let path = dir.join(format!("{name}_round_trip.safetensors"));
        dl_transformer::pytorch::save_seq2seq(&m, &path).unwrap();
        let sd = StateDict::load(&path).unwrap();
        let back = dl_transformer::pytorch::load_seq2seq(built.init(&d).unwrap(), &sd, "", &d).unwrap();
        sd.check_all_used(&[]).unwrap();
        let memory =
            back.encode(Tensor::<2, Int>::from_data(TensorData::new(src.to_vec(), [2, 6]), &d), &[6, 4]).unwrap();
        let tgt_ids = Tensor::<2, Int>::from_data(TensorData::new(tgt.to_vec(), [2, 4]), &d);
        let diff = (back.decode(tgt_ids, &memory, None).unwrap().0 - logits.clone()).abs().max().into_scalar::<f32>();
        assert!(diff < 1e-6, "{name}: {diff}");
        w.put_i64("src", &[2, 6], &src).unwrap();
        w.put_i64("src_lengths", &[2], &lengths).unwrap();
        w.put_i64("tgt", &[2, 4], &tgt).unwrap();
        w.put("output", logits).unwrap();
        write_fixture(&dir, name, "dl_seq2seq", config, &["src", "src_lengths", "tgt"], &["output"], 1e-5, NOTES, &w)
            .unwrap();
    }
    // The LSTM attention encoder-decoder (a 2-layer bidirectional encoder, a
    // 2-layer decoder), additive and multiplicative, on padded sources.
    for (name, additive) in [("x_lstm_seq2seq_additive", true), ("x_lstm_seq2seq_mult", false)] {
        let attention =
            if additive { dl_lstm::AttentionKind::Additive } else { dl_lstm::AttentionKind::Multiplicative };
        let config = json!({"src_vocab": 11, "tgt_vocab": 9, "embed": 4, "tgt_embed": 3, "enc_hidden": 5,
                            "enc_layers": 2, "dec_hidden": 6, "dec_layers": 2, "additive": additive,
                            "attention_dim": 7});
        let m = dl_lstm::Seq2SeqConfig {
            encoder: LstmConfig::new(4, 5).with_num_layers(2).with_bidirectional(true),
            decoder: LstmConfig::new(3 + 6, 6).with_num_layers(2),
            head: dl_lstm::Seq2SeqHeadConfig::new(11, 9).with_attention(attention).with_attention_dim(7),
        }
        .init(&d)
        .unwrap();
        let (src, lengths, tgt) = ([1i64, 4, 7, 10, 2, 5, 3, 8, 6, 9, 0, 0], [6i64, 4], [2i64, 5, 1, 8, 0, 7, 3, 4]);
        let (enc, mut state) =
            m.encode(Tensor::<2, Int>::from_data(TensorData::new(src.to_vec(), [2, 6]), &d), &[6, 4]).unwrap();
        let mut steps = Vec::new();
        for t in 0..4 {
            let prev = Tensor::<1, Int>::from_data(TensorData::new(vec![tgt[t], tgt[4 + t]], [2]), &d);
            let (logits, _, next) = m.decode_step(prev, state, &enc);
            state = next;
            steps.push(logits);
        }
        let mut w = StateDictWriter::new();
        dl_lstm::pytorch::put_seq2seq(&m, &mut w, "param.").unwrap();
        assert_eq!(w.keys().iter().any(|k| k.contains("attn_v")), additive);
        w.put_i64("src", &[2, 6], &src).unwrap();
        w.put_i64("src_lengths", &[2], &lengths).unwrap();
        w.put_i64("tgt", &[2, 4], &tgt).unwrap();
        w.put("output", Tensor::stack::<3>(steps, 1)).unwrap();
        write_fixture(
            &dir,
            name,
            "dl_lstm_seq2seq",
            config,
            &["src", "src_lengths", "tgt"],
            &["output"],
            1e-5,
            NOTES,
            &w,
        )
        .unwrap();
    }

    // Grouped-query attention and a SwiGLU feed-forward have no PyTorch layer to go to.
    let gqa = dl_transformer::AttentionConfig::new(8, 4).with_n_kv_heads(Some(2)).init(&d).unwrap();
    let e = dl_transformer::pytorch::put_mha(&gqa, &mut StateDictWriter::new(), "attn.").unwrap_err();
    assert!(e.to_string().contains("attn."), "{e}");

    // Read back through the loaders by PyTorch names: the same outputs.
    let mut registry = Registry::new();
    dl_cnn::parity::register(&mut registry);
    dl_lstm::parity::register(&mut registry);
    dl_rnn::parity::register(&mut registry);
    for name in ["x_lenet5", "x_lstm", "x_rnn", "x_gru"] {
        match check_one(&registry, &dir.join(format!("{name}.json")), &d) {
            Verdict::Pass(diff) => assert!(diff <= 1e-6, "{name}: {diff}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    // A fixture naming a tensor it does not hold is refused.
    let e = write_fixture(&dir, "x_bad", "lstm", json!({}), &["input", "h0"], &["output"], 1e-5, NOTES, &w);
    assert!(e.is_err());
}

/// Adds uniform noise in [-0.3, 0.3] to every parameter (LayerNorm's ones and zeros included).
struct Jitter;

impl ModuleMapper for Jitter {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        param.map(|t| t.clone() + t.random_like(Distribution::Uniform(-0.3, 0.3)))
    }
}

/// Batch-norm running statistics that are not the defaults (mean 0, variance 1).
fn randomise_statistics(bn: &mut burn::nn::BatchNorm, d: &burn::tensor::Device) {
    let c = bn.gamma.dims()[0];
    bn.running_mean = RunningState::new(Tensor::random([c], Distribution::Uniform(-0.5, 0.5), d));
    bn.running_var = RunningState::new(Tensor::random([c], Distribution::Uniform(0.5, 1.5), d));
}
