#!/usr/bin/env python3
"""Loads folders exported by `dl_transformer::export` with `transformers`
(`AutoModelForCausalLM.from_pretrained`) and compares its logits with the
ones the Rust model computed, stored beside the weights as `reference.json`
(`{"ids": [...], "logits": [...]}`, written by the test
`models_trained_here_export_to_folders_that_load_back_with_the_same_logits`
in `crates/dl-transformer/tests/transformer/hf_checkpoints.rs`).

Usage:
    python tools/hf_tiny/check_export.py DIR [DIR ...]
Exits with 1 when a folder's largest logit difference exceeds 1e-4 of the
largest logit.
"""
import json
import os
import sys

import torch
from transformers import AutoModelForCausalLM


@torch.no_grad()
def check(folder):
    ref = json.load(open(os.path.join(folder, "reference.json")))
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    logits = model(torch.tensor([ref["ids"]])).logits.flatten()
    want = torch.tensor(ref["logits"])
    diff = float((logits - want).abs().max())
    scale = float(want.abs().max())
    ok = diff <= 1e-4 * max(scale, 1.0)
    print(f"{folder}: {type(model).__name__}, {logits.numel()} logits, max |diff| {diff:.3g} (largest {scale:.3g}) "
          f"{'ok' if ok else 'FAILED'}")
    return ok


def main():
    results = [check(d) for d in sys.argv[1:]]
    sys.exit(0 if results and all(results) else 1)


if __name__ == "__main__":
    main()
