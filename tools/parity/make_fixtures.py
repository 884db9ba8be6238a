#!/usr/bin/env python3
"""PyTorch parity fixtures for dl-families (format: shared/parity/FORMAT.md, version 1).

Each case builds one PyTorch module from constructor kwargs, gives its 1-D gains
U(0.5, 1.5), its biases U(-0.5, 0.5) and BatchNorm random running statistics (so
a swapped or dropped parameter shows), feeds standard-normal inputs (ids
uniform), and writes <name>.json + <name>.safetensors. Every case seeds torch
from --seed and its own name, so adding a case changes no other fixture.

Usage:
    python tools/parity/make_fixtures.py --out fixtures/parity --seed 1 [--kinds conv2d,lenet5]
"""
import argparse
import json
import os
import zlib

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

LAYER_TOL, MODEL_TOL = 1e-5, 1e-4


class LeNet5(nn.Module):
    """The LeNet-5 of shared/bench/torch_ref.py."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5, padding=2)
        self.c2 = nn.Conv2d(6, 16, 5)
        self.f1 = nn.Linear(16 * 5 * 5, 120)
        self.f2 = nn.Linear(120, 84)
        self.f3 = nn.Linear(84, 10)

    def forward(self, input):
        x = F.max_pool2d(F.relu(self.c1(input)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        x = x.flatten(1)
        return self.f3(F.relu(self.f2(F.relu(self.f1(x)))))


class Functional(nn.Module):
    """Wraps F.max_pool2d / F.avg_pool2d so pooling cases go through the same path."""

    def __init__(self, fn, kwargs):
        super().__init__()
        self.fn, self.kwargs = fn, kwargs

    def forward(self, input):
        return self.fn(input, **self.kwargs)


def randomise(module):
    """Non-trivial 1-D gains and biases; random BatchNorm running statistics."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if "bias" in leaf:
                p.uniform_(-0.5, 0.5)
            elif p.dim() == 1:
                p.uniform_(0.5, 1.5)
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats:
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(7)


def build(kind, config):
    c = dict(config)
    if kind == "linear":
        return nn.Linear(**c)
    if kind == "conv1d":
        return nn.Conv1d(**c)
    if kind == "conv2d":
        return nn.Conv2d(**c)
    if kind == "conv_transpose2d":
        return nn.ConvTranspose2d(**c)
    if kind == "max_pool2d":
        return Functional(F.max_pool2d, c)
    if kind == "avg_pool2d":
        return Functional(F.avg_pool2d, c)
    if kind == "batch_norm2d":
        return nn.BatchNorm2d(**c)
    if kind == "layer_norm":
        return nn.LayerNorm(**c)
    if kind == "embedding":
        return nn.Embedding(**c)
    if kind == "lenet5":
        return LeNet5()
    if kind == "rnn":
        return nn.RNN(**c)
    if kind == "lstm":
        return nn.LSTM(**c)
    if kind == "gru":
        return nn.GRU(**c)
    if kind == "multihead_attention":
        return nn.MultiheadAttention(**c)
    if kind == "transformer_encoder_layer":
        return nn.TransformerEncoderLayer(**c)
    if kind == "transformer_decoder_layer":
        return nn.TransformerDecoderLayer(**c)
    raise ValueError(f"unknown kind {kind}")


def causal(n):
    return torch.triu(torch.full((n, n), float("-inf")), 1)


# (name, kind, config, inputs: {name: shape | ("ids", shape, high) | ("mask", L, S) | ("causal", L)}, notes)
CASES = [
    ("p_linear_4d", "linear", {"in_features": 7, "out_features": 5}, {"input": [2, 3, 4, 7]}, "input of rank 4"),
    ("p_linear_nobias_1d", "linear", {"in_features": 6, "out_features": 9, "bias": False}, {"input": [6]}, "unbatched input, no bias"),
    ("p_conv1d_groups_pad", "conv1d", {"in_channels": 6, "out_channels": 9, "kernel_size": 4, "stride": 3, "padding": 2, "groups": 3},
     {"input": [3, 6, 17]}, "groups 3, stride 3, padding 2"),
    ("p_conv1d_same", "conv1d", {"in_channels": 3, "out_channels": 4, "kernel_size": 5, "padding": "same", "dilation": 2, "bias": False},
     {"input": [2, 3, 11]}, "padding 'same' with dilation, no bias"),
    ("p_conv2d_asym", "conv2d", {"in_channels": 4, "out_channels": 6, "kernel_size": [3, 5], "stride": [2, 1], "padding": [1, 2], "bias": False},
     {"input": [2, 4, 9, 10]}, "rectangular kernel, asymmetric stride and padding, no bias"),
    ("p_conv2d_depthwise", "conv2d", {"in_channels": 4, "out_channels": 8, "kernel_size": 3, "groups": 4, "dilation": [2, 1], "padding": 1},
     {"input": [1, 4, 12, 9]}, "depthwise-style groups 4, dilation [2, 1]"),
    ("p_conv_transpose2d_s3", "conv_transpose2d", {"in_channels": 3, "out_channels": 5, "kernel_size": [3, 4], "stride": 3, "padding": 1,
     "output_padding": [2, 1]}, {"input": [2, 3, 4, 5]}, "stride 3, rectangular kernel, output_padding [2, 1]"),
    ("p_conv_transpose2d_groups", "conv_transpose2d", {"in_channels": 6, "out_channels": 4, "kernel_size": 2, "stride": 2, "groups": 2,
     "bias": False}, {"input": [1, 6, 5, 5]}, "groups 2, no bias, weight [C_in, C_out/groups, kH, kW]"),
    ("p_max_pool2d_dil_ceil", "max_pool2d", {"kernel_size": [3, 2], "stride": [2, 3], "padding": [1, 1], "dilation": [1, 2], "ceil_mode": True},
     {"input": [2, 3, 11, 13]}, "rectangular kernel and stride, dilation [1, 2], ceil_mode"),
    ("p_max_pool2d_default_stride", "max_pool2d", {"kernel_size": 3}, {"input": [1, 2, 10, 11]}, "stride None = kernel_size"),
    ("p_avg_pool2d_exclude_ceil", "avg_pool2d", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
     {"input": [2, 2, 10, 9]}, "count_include_pad False with ceil_mode"),
    ("p_avg_pool2d_rect", "avg_pool2d", {"kernel_size": [2, 4], "stride": [1, 3], "padding": [1, 2]}, {"input": [1, 3, 7, 12]},
     "rectangular, stride != kernel, zero padding counted"),
    ("p_batch_norm2d_eps", "batch_norm2d", {"num_features": 7, "eps": 1e-3, "momentum": 0.3}, {"input": [3, 7, 4, 5]},
     "affine, eps 1e-3, random running statistics"),
    ("p_layer_norm_3d", "layer_norm", {"normalized_shape": [3, 4, 5], "eps": 1e-6}, {"input": [2, 3, 4, 5]}, "normalised over the last 3 dims"),
    ("p_layer_norm_nobias", "layer_norm", {"normalized_shape": 8, "bias": False}, {"input": [2, 5, 8]}, "bias False"),
    ("p_embedding_3d", "embedding", {"num_embeddings": 13, "embedding_dim": 6}, {"input": ("ids", [2, 3, 4], 13)}, "3-D id input"),
    ("p_lenet5_b3", "lenet5", {}, {"input": [3, 1, 28, 28]}, "LeNet-5 of shared/bench/torch_ref.py, batch 3"),
    ("p_rnn_relu_3layer_bidir", "rnn", {"input_size": 4, "hidden_size": 5, "num_layers": 3, "nonlinearity": "relu", "batch_first": True,
     "bidirectional": True}, {"input": [2, 6, 4]}, "3 layers, bidirectional, relu, no h0"),
    ("p_rnn_tanh_h0", "rnn", {"input_size": 3, "hidden_size": 6, "batch_first": True}, {"input": [3, 5, 3], "h0": [1, 3, 6]}, "tanh with h0"),
    ("p_lstm_proj_bidir", "lstm", {"input_size": 5, "hidden_size": 6, "num_layers": 2, "batch_first": True, "bidirectional": True,
     "proj_size": 3}, {"input": [2, 4, 5]}, "2 layers, bidirectional, proj_size 3"),
    ("p_lstm_h0c0", "lstm", {"input_size": 3, "hidden_size": 4, "batch_first": True}, {"input": [2, 7, 3], "h0": [1, 2, 4], "c0": [1, 2, 4]},
     "h0 and c0"),
    ("p_gru_bidir", "gru", {"input_size": 4, "hidden_size": 5, "batch_first": True, "bidirectional": True}, {"input": [3, 5, 4]},
     "1 layer, bidirectional"),
    ("p_gru_3layer_h0", "gru", {"input_size": 3, "hidden_size": 4, "num_layers": 3, "batch_first": True}, {"input": [2, 6, 3], "h0": [3, 2, 4]},
     "3 layers with h0"),
    ("p_mha_self_nomask", "multihead_attention", {"embed_dim": 8, "num_heads": 2, "batch_first": True}, {"query": [2, 5, 8], "key": "query",
     "value": "query"}, "self-attention, no mask"),
    ("p_mha_cross_nobias", "multihead_attention", {"embed_dim": 12, "num_heads": 3, "bias": False, "batch_first": True},
     {"query": [2, 4, 12], "key": [2, 6, 12], "value": "key", "attn_mask": ("mask", 4, 6)}, "cross-attention, bias False, additive mask"),
    ("p_encoder_prenorm_relu_causal", "transformer_encoder_layer", {"d_model": 8, "nhead": 2, "dim_feedforward": 16, "dropout": 0.0,
     "batch_first": True, "norm_first": True}, {"src": [2, 5, 8], "src_mask": ("causal", 5)}, "pre-norm, relu, causal mask"),
    ("p_encoder_postnorm_gelu", "transformer_encoder_layer", {"d_model": 12, "nhead": 3, "dim_feedforward": 20, "dropout": 0.0,
     "activation": "gelu", "batch_first": True, "layer_norm_eps": 1e-6}, {"src": [2, 4, 12]}, "post-norm, gelu, eps 1e-6"),
    ("p_decoder_prenorm_relu", "transformer_decoder_layer", {"d_model": 8, "nhead": 2, "dim_feedforward": 16, "dropout": 0.0,
     "batch_first": True, "norm_first": True}, {"tgt": [2, 4, 8], "memory": [2, 6, 8], "tgt_mask": ("causal", 4)}, "pre-norm, causal tgt_mask"),
    ("p_decoder_postnorm_gelu_masks", "transformer_decoder_layer", {"d_model": 8, "nhead": 4, "dim_feedforward": 12, "dropout": 0.0,
     "activation": "gelu", "batch_first": True}, {"tgt": [1, 3, 8], "memory": [1, 5, 8], "tgt_mask": ("causal", 3),
     "memory_mask": ("mask", 3, 5)}, "post-norm, gelu, tgt and memory masks"),
]


def make_input(spec, tensors):
    if isinstance(spec, str):
        return tensors[spec].clone()
    if isinstance(spec, tuple) and spec[0] == "ids":
        return torch.randint(0, spec[2], spec[1], dtype=torch.int64)
    if isinstance(spec, tuple) and spec[0] == "mask":
        m = torch.randn(spec[1], spec[2])
        return torch.where(torch.rand(spec[1], spec[2]) < 0.3, torch.full_like(m, -1e4), m)
    if isinstance(spec, tuple) and spec[0] == "causal":
        return causal(spec[1])
    return torch.randn(*spec)


def run(kind, module, inputs):
    if kind in ("rnn", "gru"):
        out, h = module(inputs["input"], inputs.get("h0"))
        return {"output": out, "h_n": h}
    if kind == "lstm":
        state = (inputs["h0"], inputs["c0"]) if "h0" in inputs else None
        out, (h, c) = module(inputs["input"], state)
        return {"output": out, "h_n": h, "c_n": c}
    if kind == "multihead_attention":
        out, _ = module(inputs["query"], inputs["key"], inputs["value"], attn_mask=inputs.get("attn_mask"), need_weights=False)
        return {"output": out}
    return {"output": module(**inputs)}


def write_case(out_dir, seed, name, kind, config, input_specs, notes):
    torch.manual_seed((seed * 1_000_003 + zlib.crc32(name.encode())) % (2**63))
    module = build(kind, config)
    randomise(module)
    module.eval()
    inputs = {}
    for k, spec in input_specs.items():
        inputs[k] = make_input(spec, inputs)
    with torch.no_grad():
        outputs = run(kind, module, inputs)
    tensors = {k: v.contiguous() for k, v in inputs.items()}
    tensors.update({k: v.contiguous() for k, v in outputs.items()})
    for k, v in module.state_dict().items():
        tensors[f"param.{k}"] = v.detach().clone().contiguous()
    save_file(tensors, os.path.join(out_dir, f"{name}.safetensors"), metadata={"format": "pt"})
    shapes = ", ".join(f"{k} {list(v.shape)}" for k, v in inputs.items())
    meta = {
        "module": kind,
        "config": config,
        "inputs": list(inputs),
        "outputs": list(outputs),
        "tolerance": MODEL_TOL if kind == "lenet5" else LAYER_TOL,
        "notes": f"{notes}; inputs: {shapes}; dl-families tools/parity/make_fixtures.py, torch {torch.__version__}",
    }
    with open(os.path.join(out_dir, f"{name}.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--kinds", default=None, help="comma-separated module kinds (default: all)")
    a = ap.parse_args()
    kinds = set(a.kinds.split(",")) if a.kinds else None
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(1)
    n = 0
    for name, kind, config, inputs, notes in CASES:
        if kinds is None or kind in kinds:
            write_case(a.out, a.seed, name, kind, config, inputs, notes)
            n += 1
    print(f"wrote {n} fixtures to {a.out}")


if __name__ == "__main__":
    main()
