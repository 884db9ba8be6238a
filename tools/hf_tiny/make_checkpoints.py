#!/usr/bin/env python3
"""Small random GPT-2 and Llama-3-style checkpoints, written by `transformers`
itself, with the tokens and logits `transformers` computes from them.

For each architecture three folders are written under `fixtures/hf_tiny/`:
`<arch>-f32` (one float32 `model.safetensors`), `<arch>-bf16` (the same
weights rounded to bfloat16) and `<arch>-sharded` (float32, split by
`save_pretrained(max_shard_size=...)` into shards with
`model.safetensors.index.json`). Each holds `config.json`, the weights and a
`tokenizer.json` (the byte-level BPE of `fixtures/tokenizers`).

The LLaMA model is configured as Llama 3 is: `rope_scaling` of type
`llama3` (with frequencies in all three bands: kept, interpolated, divided),
tied embeddings and grouped-query attention (4 query heads, 2 key/value heads).

`expected.json` holds, per folder: the prompt's ids, the 50 tokens of greedy
decoding with a KV cache (a plain argmax loop over the returned `cache`, no
`generate()` defaults), the smallest gap between the best and second-best
logit over those steps (so a test knows how far apart the choices are), and
the logits of the last 4 positions of prompt + generated tokens from one
forward pass without a cache. A bf16 folder is read back as float32 (the
bf16 values widened exactly), as the Rust loader reads it.

Usage (from the repository root):
    python tools/hf_tiny/make_checkpoints.py
"""
import json
import os
import shutil

import torch
from tokenizers import Tokenizer
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

OUT = "fixtures/hf_tiny"
TOKENIZER = "fixtures/tokenizers/bpe_shakespeare.json"
PROMPT = "First Citizen:\nBefore we proceed"
NEW_TOKENS = 50
LAST_LOGITS = 4
MIN_GAP = 0.01
MIN_DISTINCT = 20


def gpt2():
    config = GPT2Config(
        vocab_size=400, n_positions=128, n_embd=32, n_layer=2, n_head=4,
        initializer_range=0.4, bos_token_id=0, eos_token_id=0,
    )
    return GPT2LMHeadModel(config)


def llama():
    config = LlamaConfig(
        vocab_size=400, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
        rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=True,
        # head_dim 8: wavelengths 6.3 (kept), 167 (interpolated), 4,443 and 118,000 (divided).
        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                      "high_freq_factor": 4.0, "original_max_position_embeddings": 512},
        initializer_range=0.4, bos_token_id=0, eos_token_id=0,
    )
    return LlamaForCausalLM(config)


@torch.no_grad()
def min_gap(model, prompt_ids):
    ids = list(prompt_ids)
    gaps = []
    for _ in range(NEW_TOKENS):
        logits = model(torch.tensor([ids])).logits[0, -1]
        top = torch.topk(logits, 2).values
        gaps.append(float(top[0] - top[1]))
        ids.append(int(torch.argmax(logits)))
    return min(gaps), len(set(ids[len(prompt_ids):]))


@torch.no_grad()
def reference(folder, prompt_ids):
    model_cls = GPT2LMHeadModel if folder.startswith("gpt2") else LlamaForCausalLM
    model = model_cls.from_pretrained(os.path.join(OUT, folder), dtype=torch.float32).eval()
    ids = torch.tensor([prompt_ids])
    out = model(ids, use_cache=True)
    cache, logits = out.cache, out.logits[0, -1]
    new_ids, gaps = [], []
    for _ in range(NEW_TOKENS):
        top = torch.topk(logits, 2).values
        gaps.append(float(top[0] - top[1]))
        nxt = int(torch.argmax(logits))
        new_ids.append(nxt)
        out = model(torch.tensor([[nxt]]), cache=cache, use_cache=True)
        cache, logits = out.cache, out.logits[0, -1]
    full = model(torch.tensor([prompt_ids + new_ids]), use_cache=False).logits[0]
    # The cached loop and one pass over the whole sequence choose the same tokens.
    assert full[len(prompt_ids) - 1:-1].argmax(-1).tolist() == new_ids, folder
    return {
        "prompt_ids": prompt_ids,
        "new_ids": new_ids,
        "min_gap": min(gaps),
        # float32 values to 8 significant digits (JSON would give 17).
        "last_logits": [[float(f"{x:.8g}") for x in row] for row in full[-LAST_LOGITS:].tolist()],
    }


def main():
    tokenizer = Tokenizer.from_file(TOKENIZER)
    prompt_ids = tokenizer.encode(PROMPT).ids
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    cases = {}
    for arch, make in [("gpt2", gpt2), ("llama", llama)]:
        # The first seed whose greedy choices are all clear (best and second-best
        # logits at least MIN_GAP apart) in float32 and in bfloat16, so that an
        # implementation within tolerance must give the same tokens, and whose
        # continuation does not loop on a few tokens.
        for seed in range(100):
            torch.manual_seed(seed)
            model = make().eval()
            ok = True
            for dtype in [torch.float32, torch.bfloat16]:
                probe = make().eval()
                probe.load_state_dict(model.state_dict())
                probe = probe.to(dtype).float()
                gap, distinct = min_gap(probe, prompt_ids)
                ok &= gap >= MIN_GAP and distinct >= MIN_DISTINCT
            if ok:
                break
        print(arch, "seed", seed)
        variants = {
            f"{arch}-f32": dict(),
            f"{arch}-sharded": dict(max_shard_size="40KB"),
        }
        for folder, kwargs in variants.items():
            model.save_pretrained(os.path.join(OUT, folder), safe_serialization=True, **kwargs)
        model.to(torch.bfloat16).save_pretrained(os.path.join(OUT, f"{arch}-bf16"), safe_serialization=True)
        for folder in [f"{arch}-f32", f"{arch}-bf16", f"{arch}-sharded"]:
            shutil.copy(TOKENIZER, os.path.join(OUT, folder, "tokenizer.json"))
            gen = os.path.join(OUT, folder, "generation_config.json")
            if os.path.exists(gen):
                os.remove(gen)
            cases[folder] = reference(folder, prompt_ids)
            print(folder, "shards:", sorted(f for f in os.listdir(os.path.join(OUT, folder)) if "safetensors" in f),
                  "min gap %.4f" % cases[folder]["min_gap"], "tokens", cases[folder]["new_ids"][:10])
    import transformers
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"generator": "tools/hf_tiny/make_checkpoints.py", "transformers": transformers.__version__,
                   "torch": torch.__version__, "prompt": PROMPT, "cases": cases}, f)


if __name__ == "__main__":
    main()
