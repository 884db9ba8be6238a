#!/usr/bin/env python3
"""PyTorch parity fixtures for this workspace (format: shared/parity/FORMAT.md, version 1).

For every case this builds one PyTorch module (or F.max_pool2d / F.avg_pool2d)
from its constructor kwargs, runs one forward pass in eval mode under
torch.no_grad(), and writes `<name>.json` (module, config, inputs, outputs,
tolerance, notes) and `<name>.safetensors` (inputs, expected outputs and every
state_dict entry as `param.<key>`; header metadata {"format": "pt"}).

Values (FORMAT.md section 7): inputs standard normal, ids uniform; matrices keep
PyTorch's default init; every 1-D gain (and LayerNorm's weight of any rank) is
U(0.5, 1.5), every bias U(-0.5, 0.5); BatchNorm running statistics are random
(running_var positive). Every case seeds torch from --seed and its own name
(crc32), so adding, removing or filtering cases never changes another fixture,
and regeneration with the same versions is byte-identical.

Usage:
    python tools/parity/make_fixtures.py --out fixtures/parity --seed 1 [--kinds conv2d,lenet5]
"""
import argparse
import json
import os
import sys
import zlib

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

LAYER_TOL = 1e-5  # single layers
MODEL_TOL = 1e-4  # whole models (lenet5)
GENERATOR = "tools/parity/make_fixtures.py"


class LeNet5(nn.Module):
    """The LeNet5 of shared/bench/torch_ref.py (state_dict keys c1, c2, f1, f2, f3)."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5, padding=2)
        self.c2 = nn.Conv2d(6, 16, 5)
        self.f1 = nn.Linear(16 * 5 * 5, 120)
        self.f2 = nn.Linear(120, 84)
        self.f3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        x = x.flatten(1)  # (C, H, W) order
        return self.f3(F.relu(self.f2(F.relu(self.f1(x)))))


MODULES = {
    "linear": nn.Linear,
    "conv1d": nn.Conv1d,
    "conv2d": nn.Conv2d,
    "conv_transpose2d": nn.ConvTranspose2d,
    "batch_norm2d": nn.BatchNorm2d,
    "layer_norm": nn.LayerNorm,
    "embedding": nn.Embedding,
    "rnn": nn.RNN,
    "lstm": nn.LSTM,
    "gru": nn.GRU,
    "multihead_attention": nn.MultiheadAttention,
    "transformer_encoder_layer": nn.TransformerEncoderLayer,
    "transformer_decoder_layer": nn.TransformerDecoderLayer,
}
FUNCTIONS = {"max_pool2d": F.max_pool2d, "avg_pool2d": F.avg_pool2d}
HF_KINDS = {"hf_gpt2", "hf_llama", "hf_bert"}
KINDS = set(MODULES) | set(FUNCTIONS) | {"lenet5"} | HF_KINDS


# ---------------------------------------------------------------------------
# Cases. Config dicts are passed to the constructor (F.* for pooling) exactly as
# written and stored unchanged. Input specs, in call order:
#   [d0, d1, ...]          standard normal f32 of that shape
#   ("ids", shape, high)   i64 uniform in [0, high)
#   ("same", other)        a copy of an earlier input (self-attention q = k = v)
#   ("causal", L)          f32 [L, L]: 0 on and below the diagonal, -inf above
#   ("padded_ids", B, T, high, lengths)  i64 ids in [1, high) with positions at or past
#                          each row's length holding pad id 0; goes with
#   ("attention_mask", lengths, T)  i64 [B, T], 1 for tokens, 0 for padding
#   ("mask", L, S)         f32 [L, S]: standard normal, about 30% of entries -1e4,
#                          never a whole row
# Recurrent and attention configs carry dropout 0.0 and batch_first true
# explicitly (FORMAT.md section 4).

def _rnn(**kw):
    return {**kw, "batch_first": True, "dropout": 0.0}


def _mha(**kw):
    return {**kw, "dropout": 0.0, "batch_first": True}


def _tl(**kw):
    return {**kw, "dropout": 0.0, "batch_first": True}


CASES = [
    # -- linear
    dict(name="p_linear_4d", kind="linear",
         config={"in_features": 7, "out_features": 5},
         inputs={"input": [2, 3, 4, 7]}, notes="input of rank 4"),
    dict(name="p_linear_nobias_1d", kind="linear",
         config={"in_features": 6, "out_features": 9, "bias": False},
         inputs={"input": [6]}, notes="unbatched 1-D input, bias False"),
    # -- conv1d
    dict(name="p_conv1d_groups_pad", kind="conv1d",
         config={"in_channels": 6, "out_channels": 9, "kernel_size": 4, "stride": 3, "padding": 2, "groups": 3},
         inputs={"input": [3, 6, 17]}, notes="groups 3, stride 3, padding 2, kernel 4"),
    dict(name="p_conv1d_same", kind="conv1d",
         config={"in_channels": 3, "out_channels": 4, "kernel_size": 5, "padding": "same", "dilation": 2, "bias": False},
         inputs={"input": [2, 3, 11]},
         notes="padding 'same' (string kwarg, L_out = L) with dilation 2, bias False"),
    # -- conv2d
    dict(name="p_conv2d_asym", kind="conv2d",
         config={"in_channels": 4, "out_channels": 6, "kernel_size": [3, 5], "stride": [2, 1], "padding": [1, 2],
                 "bias": False},
         inputs={"input": [2, 4, 9, 10]}, notes="rectangular kernel, asymmetric stride and padding, bias False"),
    dict(name="p_conv2d_depthwise", kind="conv2d",
         config={"in_channels": 4, "out_channels": 8, "kernel_size": 3, "groups": 4, "dilation": [2, 1], "padding": 1},
         inputs={"input": [1, 4, 12, 9]}, notes="depthwise-style groups 4 (2 filters per group), dilation [2, 1]"),
    # -- conv_transpose2d
    dict(name="p_conv_transpose2d_s3", kind="conv_transpose2d",
         config={"in_channels": 3, "out_channels": 5, "kernel_size": [3, 4], "stride": 3, "padding": 1,
                 "output_padding": [2, 1]},
         inputs={"input": [2, 3, 4, 5]}, notes="stride 3, rectangular kernel, output_padding [2, 1]"),
    dict(name="p_conv_transpose2d_groups", kind="conv_transpose2d",
         config={"in_channels": 6, "out_channels": 4, "kernel_size": 2, "stride": 2, "groups": 2, "bias": False},
         inputs={"input": [1, 6, 5, 5]}, notes="groups 2, bias False; weight [C_in, C_out/groups, kH, kW]"),
    # -- pooling (F.* kwargs)
    dict(name="p_max_pool2d_dil_ceil", kind="max_pool2d",
         config={"kernel_size": [3, 2], "stride": [2, 3], "padding": [1, 1], "dilation": [1, 2], "ceil_mode": True},
         inputs={"input": [2, 3, 12, 14]},
         notes="kernel [3, 2], stride [2, 3], dilation [1, 2], ceil_mode: H gains a row (7 vs 6); in W the extra "
               "window would start in the right padding and is dropped (5)"),
    dict(name="p_max_pool2d_default_stride", kind="max_pool2d",
         config={"kernel_size": 3},
         inputs={"input": [1, 2, 10, 11]}, notes="stride absent = kernel_size, trailing rows/cols dropped"),
    dict(name="p_avg_pool2d_exclude_ceil", kind="avg_pool2d",
         config={"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
         inputs={"input": [2, 2, 10, 8]},
         notes="count_include_pad False with ceil_mode: the last window in H and W covers real input, padding "
               "and ceil overhang; the divisor counts only real elements"),
    dict(name="p_avg_pool2d_rect", kind="avg_pool2d",
         config={"kernel_size": [2, 4], "stride": [1, 3], "padding": [1, 2]},
         inputs={"input": [1, 3, 7, 12]}, notes="rectangular kernel, stride != kernel, zero padding counted"),
    dict(name="p_avg_pool2d_include_ceil", kind="avg_pool2d",
         config={"kernel_size": [2, 4], "stride": [2, 3], "padding": [0, 2], "ceil_mode": True},
         inputs={"input": [2, 2, 7, 14]},
         notes="count_include_pad True (default) with ceil_mode: padding counts in the divisor, the overhang "
               "that ceil_mode adds beyond the padding does not"),
    # -- norms
    dict(name="p_batch_norm2d_eps", kind="batch_norm2d",
         config={"num_features": 7, "eps": 1e-3, "momentum": 0.3},
         inputs={"input": [3, 7, 4, 5]}, notes="affine, eps 1e-3, random running statistics"),
    dict(name="p_layer_norm_3d", kind="layer_norm",
         config={"normalized_shape": [3, 4, 5], "eps": 1e-6},
         inputs={"input": [2, 3, 4, 5]}, notes="normalized over the last 3 dims, eps 1e-6"),
    dict(name="p_layer_norm_nobias", kind="layer_norm",
         config={"normalized_shape": 8, "bias": False},
         inputs={"input": [2, 5, 8]}, notes="bias False: weight only"),
    # -- embedding
    dict(name="p_embedding_3d", kind="embedding",
         config={"num_embeddings": 13, "embedding_dim": 6},
         inputs={"input": ("ids", [2, 3, 4], 13)}, notes="3-D id input"),
    # -- whole model
    dict(name="p_lenet5_b3", kind="lenet5", config={},
         inputs={"input": [3, 1, 28, 28]}, notes="LeNet5 of shared/bench/torch_ref.py, batch 3"),
    # -- recurrent
    dict(name="p_rnn_relu_3layer_bidir", kind="rnn",
         config=_rnn(input_size=4, hidden_size=5, num_layers=3, nonlinearity="relu", bidirectional=True),
         inputs={"input": [2, 6, 4]}, notes="relu, 3 layers, bidirectional, no h0 (zeros)"),
    dict(name="p_rnn_tanh_h0", kind="rnn",
         config=_rnn(input_size=3, hidden_size=6),
         inputs={"input": [3, 5, 3], "h0": [1, 3, 6]}, notes="tanh (default), 1 layer, with h0"),
    dict(name="p_lstm_proj_bidir", kind="lstm",
         config=_rnn(input_size=5, hidden_size=6, num_layers=2, bidirectional=True, proj_size=3),
         inputs={"input": [2, 4, 5]}, notes="2 layers, bidirectional, proj_size 3, no h0/c0"),
    dict(name="p_lstm_h0c0", kind="lstm",
         config=_rnn(input_size=3, hidden_size=4),
         inputs={"input": [2, 7, 3], "h0": [1, 2, 4], "c0": [1, 2, 4]}, notes="1 layer with h0 and c0"),
    dict(name="p_gru_bidir", kind="gru",
         config=_rnn(input_size=4, hidden_size=5, bidirectional=True),
         inputs={"input": [3, 5, 4]}, notes="1 layer, bidirectional, no h0"),
    dict(name="p_gru_3layer_h0", kind="gru",
         config=_rnn(input_size=3, hidden_size=4, num_layers=3),
         inputs={"input": [2, 6, 3], "h0": [3, 2, 4]}, notes="3 layers with h0"),
    # -- attention
    dict(name="p_mha_self_nomask", kind="multihead_attention",
         config=_mha(embed_dim=8, num_heads=2),
         inputs={"query": [2, 5, 8], "key": ("same", "query"), "value": ("same", "query")},
         notes="self-attention (query = key = value), no mask"),
    dict(name="p_mha_cross_nobias", kind="multihead_attention",
         config=_mha(embed_dim=12, num_heads=3, bias=False),
         inputs={"query": [2, 4, 12], "key": [2, 6, 12], "value": [2, 6, 12], "attn_mask": ("mask", 4, 6)},
         notes="cross-attention (key != value), bias False, additive float mask"),
    # -- transformer layers
    dict(name="p_encoder_prenorm_relu_causal", kind="transformer_encoder_layer",
         config=_tl(d_model=8, nhead=2, dim_feedforward=16, norm_first=True),
         inputs={"src": [2, 5, 8], "src_mask": ("causal", 5)}, notes="pre-norm, relu, causal src_mask"),
    dict(name="p_encoder_postnorm_gelu", kind="transformer_encoder_layer",
         config=_tl(d_model=12, nhead=3, dim_feedforward=20, activation="gelu", layer_norm_eps=1e-6),
         inputs={"src": [2, 4, 12]}, notes="post-norm, exact gelu, eps 1e-6, no mask"),
    dict(name="p_decoder_prenorm_relu", kind="transformer_decoder_layer",
         config=_tl(d_model=8, nhead=2, dim_feedforward=16, norm_first=True),
         inputs={"tgt": [2, 4, 8], "memory": [2, 6, 8], "tgt_mask": ("causal", 4)},
         notes="pre-norm, relu, causal tgt_mask, no memory_mask"),
    dict(name="p_decoder_postnorm_gelu_masks", kind="transformer_decoder_layer",
         config=_tl(d_model=8, nhead=4, dim_feedforward=12, activation="gelu"),
         inputs={"tgt": [1, 3, 8], "memory": [1, 5, 8], "tgt_mask": ("causal", 3), "memory_mask": ("mask", 3, 5)},
         notes="post-norm, exact gelu, causal tgt_mask and additive memory_mask"),
    # -- Hugging Face models (transformers 5, eager attention, random weights)
    dict(name="p_hf_gpt2_odd_heads", kind="hf_gpt2",
         config=dict(vocab_size=50, n_positions=16, n_embd=15, n_layer=2, n_head=3, bos_token_id=0, eos_token_id=0),
         inputs={"input_ids": ("ids", [2, 7], 50)}, notes="3 heads of width 5, tied lm_head"),
    dict(name="p_hf_gpt2_untied_inner", kind="hf_gpt2",
         config=dict(vocab_size=33, n_positions=12, n_embd=12, n_layer=3, n_head=4, n_inner=20, bos_token_id=0, eos_token_id=0,
                     tie_word_embeddings=False, layer_norm_epsilon=1e-6),
         inputs={"input_ids": ("ids", [1, 12], 33)}, notes="untied lm_head, n_inner 20, full context"),
    dict(name="p_hf_llama_gqa3", kind="hf_llama",
         config=dict(vocab_size=40, hidden_size=24, intermediate_size=40, num_hidden_layers=2,
                     num_attention_heads=6, num_key_value_heads=2, head_dim=4, rms_norm_eps=1e-5,
                     max_position_embeddings=64),
         inputs={"input_ids": ("ids", [2, 6], 40)}, notes="grouped-query attention, 6 query heads per 2 kv heads"),
    dict(name="p_hf_llama_mqa_wide_heads", kind="hf_llama",
         config=dict(vocab_size=30, hidden_size=16, intermediate_size=28, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=1, head_dim=6, rms_norm_eps=1e-6,
                     rope_parameters={"rope_type": "default", "rope_theta": 500000.0},
                     max_position_embeddings=64, tie_word_embeddings=True),
         inputs={"input_ids": ("ids", [1, 11], 30)},
         notes="multi-query attention, head_dim 6 != hidden/heads, rope_theta 5e5, tied embeddings"),
    dict(name="p_hf_bert_odd_padded", kind="hf_bert",
         config=dict(vocab_size=60, hidden_size=15, num_hidden_layers=2, num_attention_heads=5,
                     intermediate_size=23, max_position_embeddings=20, type_vocab_size=2),
         inputs={"input_ids": ("padded_ids", 3, 8, 60, [8, 5, 2]),
                 "attention_mask": ("attention_mask", [8, 5, 2], 8)},
         notes="5 heads of width 3, padded batch (lengths 8, 5, 2), all positions compared"),
]


# ---------------------------------------------------------------------------

def case_seed(seed, name):
    """A stable per-case seed (crc32 of the name, not Python's salted hash)."""
    return (seed * 1_000_003 + zlib.crc32(name.encode("utf-8"))) % (2 ** 63)


def build_hf(kind, config):
    import transformers as tf
    cls = {"hf_gpt2": (tf.GPT2Config, tf.GPT2LMHeadModel),
           "hf_llama": (tf.LlamaConfig, tf.LlamaForCausalLM),
           "hf_bert": (tf.BertConfig, tf.BertModel)}[kind]
    cfg = cls[0](**config, attn_implementation="eager")
    return cls[1](cfg)


def build(kind, config):
    if kind in FUNCTIONS:
        return None
    if kind in HF_KINDS:
        return build_hf(kind, config)
    if kind == "lenet5":
        assert config == {}, "lenet5 takes no config"
        return LeNet5()
    return MODULES[kind](**config)


def randomise_(module):
    """Every bias U(-0.5, 0.5); every 1-D gain, and LayerNorm's weight of any rank,
    U(0.5, 1.5); random BatchNorm running statistics; matrices keep PyTorch's
    default init."""
    with torch.no_grad():
        for mod in module.modules():
            for leaf, p in mod.named_parameters(recurse=False):
                if "bias" in leaf:  # bias, in_proj_bias, bias_ih_l0, ...; LayerNorm bias of any rank
                    p.uniform_(-0.5, 0.5)
                elif p.dim() == 1 or isinstance(mod, nn.LayerNorm):
                    p.uniform_(0.5, 1.5)
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats:
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(7)


def make_input(spec, earlier):
    if isinstance(spec, list):
        return torch.randn(*spec)
    how = spec[0]
    if how == "ids":
        return torch.randint(0, spec[2], tuple(spec[1]), dtype=torch.int64)
    if how == "padded_ids":
        _, b, t, high, lengths = spec
        ids = torch.randint(1, high, (b, t), dtype=torch.int64)
        for i, n in enumerate(lengths):
            ids[i, n:] = 0
        return ids
    if how == "attention_mask":
        _, lengths, t = spec
        return torch.tensor([[1 if j < n else 0 for j in range(t)] for n in lengths], dtype=torch.int64)
    if how == "same":
        return earlier[spec[1]].clone()
    if how == "causal":
        return torch.triu(torch.full((spec[1], spec[1]), float("-inf")), 1)
    if how == "mask":
        m = torch.randn(spec[1], spec[2])
        masked = torch.rand(spec[1], spec[2]) < 0.3
        masked[:, 0] &= ~masked.all(dim=1)  # never mask a whole row
        return torch.where(masked, torch.full_like(m, -1e4), m)
    raise ValueError(f"unknown input spec {spec!r}")


def forward(kind, module, config, x):
    if kind in ("hf_gpt2", "hf_llama"):
        return {"logits": module(input_ids=x["input_ids"]).logits}
    if kind == "hf_bert":
        return {"last_hidden_state": module(input_ids=x["input_ids"],
                                            attention_mask=x.get("attention_mask")).last_hidden_state}
    if kind in FUNCTIONS:
        return {"output": FUNCTIONS[kind](x["input"], **config)}
    if kind in ("rnn", "gru"):
        out, h_n = module(x["input"], x.get("h0"))
        return {"output": out, "h_n": h_n}
    if kind == "lstm":
        state = (x["h0"], x["c0"]) if "h0" in x else None
        out, (h_n, c_n) = module(x["input"], state)
        return {"output": out, "h_n": h_n, "c_n": c_n}
    if kind == "multihead_attention":
        out, _ = module(x["query"], x["key"], x["value"], attn_mask=x.get("attn_mask"), need_weights=False)
        return {"output": out}
    if kind == "transformer_encoder_layer":
        return {"output": module(x["src"], src_mask=x.get("src_mask"))}
    if kind == "transformer_decoder_layer":
        return {"output": module(x["tgt"], x["memory"], tgt_mask=x.get("tgt_mask"),
                                 memory_mask=x.get("memory_mask"))}
    return {"output": module(x["input"])}


def shapes(tensors):
    return ", ".join(f"{k} {list(v.shape)}" for k, v in tensors.items())


def write_case(out_dir, seed, case):
    name, kind, config = case["name"], case["kind"], case["config"]
    torch.manual_seed(case_seed(seed, name))
    module = build(kind, config)
    if module is not None:
        randomise_(module)
        module.eval()
    inputs = {}
    for k, spec in case["inputs"].items():
        inputs[k] = make_input(spec, inputs)
    with torch.no_grad():
        outputs = forward(kind, module, config, inputs)

    tensors = {k: v.contiguous() for k, v in inputs.items()}
    for k, v in outputs.items():
        if not torch.isfinite(v).all():
            raise RuntimeError(f"{name}: non-finite output {k}")
        tensors[k] = v.detach().contiguous()
    if module is not None:
        for k, v in module.state_dict().items():
            tensors[f"param.{k}"] = v.detach().clone().contiguous()
        if kind == "hf_gpt2" and config.get("tie_word_embeddings", True):
            # state_dict() may omit the tied copy; FORMAT.md stores it under both keys.
            tensors["param.lm_head.weight"] = tensors["param.transformer.wte.weight"].clone()
    for k, v in tensors.items():
        if v.dtype not in (torch.float32, torch.int64):
            raise RuntimeError(f"{name}: {k} has dtype {v.dtype}")

    st_path = os.path.join(out_dir, f"{name}.safetensors")
    save_file(tensors, st_path, metadata={"format": "pt"})
    os.chmod(st_path, 0o644)  # safetensors creates 0600
    if kind in HF_KINDS:
        # The full config dict, as FORMAT.md asks (JSON-serialisable values only).
        config = json.loads(json.dumps(module.config.to_dict(), default=str))
    meta = {
        "module": kind,
        "config": config,
        "inputs": list(inputs),
        "outputs": list(outputs),
        "tolerance": MODEL_TOL if kind == "lenet5" or kind in HF_KINDS else LAYER_TOL,
        "notes": f"{case['notes']}. Shapes: {shapes(inputs)} -> {shapes(outputs)}. "
                 f"Generated by {GENERATOR} --seed {seed} (torch {torch.__version__.split('+')[0]}, CPU).",
    }
    with open(os.path.join(out_dir, f"{name}.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    peak = max(v.abs().max().item() for v in outputs.values())
    return os.path.getsize(st_path), peak


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--kinds", help="comma-separated module kinds (default: all)")
    a = ap.parse_args()
    kinds = None
    if a.kinds:
        kinds = {k.strip() for k in a.kinds.split(",") if k.strip()}
        unknown = sorted(kinds - KINDS)
        if unknown:
            ap.error(f"unknown kinds {unknown}; known: {sorted(KINDS)}")
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names)), "duplicate case names"
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(1)  # one reduction order, whatever the machine
    n = 0
    for case in CASES:
        if kinds is None or case["kind"] in kinds:
            size, peak = write_case(a.out, a.seed, case)
            print(f"wrote {case['name']:34s} {case['kind']:26s} {size:7d} B  max|out| {peak:.3f}")
            n += 1
    print(f"wrote {n} fixtures to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
