#!/usr/bin/env python3
"""PyTorch checks models exported from Rust with PyTorch's parameter names.

Reads every fixture (`<name>.json` + `<name>.safetensors`, the format of
shared/parity/FORMAT.md) in the folders given, builds the PyTorch module of
its `module` kind from `config` (the kinds of make_fixtures.py, plus
`dcgan_generator`: the module below), loads the `param.*` tensors with
`load_state_dict(strict=True)` (every key present, none left over), runs the
inputs through it in eval mode and compares its outputs with the ones the
Rust model computed. The fixtures come from the test
`models_export_with_pytorch_names_as_fixtures` (tests/pytorch_export.rs),
which writes them under the temporary folder.

Usage:
    python tools/parity/check_exported.py DIR [DIR ...]
Exits with 1 when any fixture is over its tolerance or fails to load.
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures  # noqa: E402


class DcGenerator(nn.Module):
    """dl_gan's DCGAN generator (crates/dl-gan/src/pytorch.rs)."""

    def __init__(self, latent_dim, channels, image_size, base_channels, num_classes=None):
        super().__init__()
        b, self.q, self.c0 = base_channels, image_size // 4, 2 * base_channels
        n = num_classes or 0
        self.fc = nn.Linear(latent_dim + n, self.c0 * self.q * self.q)
        self.bn0 = nn.BatchNorm2d(self.c0)
        self.up1 = nn.ConvTranspose2d(self.c0, b, 4, 2, 1)
        self.bn1 = nn.BatchNorm2d(b)
        self.up2 = nn.ConvTranspose2d(b, channels, 4, 2, 1)
        self.embed = nn.Embedding(n, n) if num_classes else None

    def forward(self, z, labels=None):
        if self.embed is not None:
            z = torch.cat([z, self.embed(labels)], 1)
        x = self.fc(z).view(z.shape[0], self.c0, self.q, self.q)
        x = F.relu(self.bn0(x))
        x = F.relu(self.bn1(self.up1(x)))
        return torch.tanh(self.up2(x)).flatten(1)


@torch.no_grad()
def check(json_path):
    fx = json.load(open(json_path))
    tensors = load_file(json_path[:-len(".json")] + ".safetensors")
    kind, config = fx["module"], fx["config"]
    if kind == "dcgan_generator":
        module = DcGenerator(**config)
    else:
        module = make_fixtures.build(kind, config)
    params = {k[len("param."):]: v for k, v in tensors.items() if k.startswith("param.")}
    module.load_state_dict(params, strict=True)
    module.eval()
    x = {name: tensors[name] for name in fx["inputs"]}
    if kind == "dcgan_generator":
        got = {"output": module(x["z"], x.get("labels"))}
    else:
        got = make_fixtures.forward(kind, module, config, x)
    diff = max(float((got[n] - tensors[n]).abs().max()) for n in fx["outputs"])
    ok = diff <= fx["tolerance"]
    print(f"{os.path.basename(json_path)}: {kind}, {len(params)} tensors, max |diff| {diff:.3g} "
          f"(tolerance {fx['tolerance']:g}) {'ok' if ok else 'FAILED'}")
    return ok


def main():
    paths = sorted(os.path.join(d, f) for d in sys.argv[1:] for f in os.listdir(d) if f.endswith(".json"))
    results = [check(p) for p in paths]
    sys.exit(0 if results and all(results) else 1)


if __name__ == "__main__":
    main()
