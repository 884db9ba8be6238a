#!/usr/bin/env python3
"""PyTorch reference for the `char_gpt` example: the same GPT (pre-norm, no
biases, learned positions, tied output, exact GELU, GPT-2 initialisation) and
the same recipe (AdamW 1e-3 with betas (0.9, 0.99), weight decay 0.1 on
matrices and embeddings only, 100 warm-up steps then cosine to 1e-4, joint
gradient-norm clipping at 1.0, batch 12 x 64 characters, 2,000 steps, first
90% of tinyshakespeare for training, last 10% for validation), measured the
same way: mean cross-entropy in nats per character over 2,400 random
validation windows, every 250 steps.

    python3 tools/char_gpt/torch_char_gpt.py [--data ../shared/data] [--seed 42] [--lr 1e-3]

Prints one JSON line per validation and a final summary line; needs torch.
"""
import argparse
import json
import math
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d, bias=False)
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.proj = nn.Linear(d, d, bias=False)
        self.ln2 = nn.LayerNorm(d, bias=False)
        self.fc = nn.Linear(d, 4 * d, bias=False)
        self.out = nn.Linear(4 * d, d, bias=False)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(a.transpose(1, 2).reshape(b, t, d))
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


class Gpt(nn.Module):
    def __init__(self, vocab, context, d, layers, heads):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(context, d)
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d, bias=False)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * layers) if name.endswith(("proj.weight", "out.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, ids):
        pos = torch.arange(ids.shape[1], device=ids.device)
        x = self.wte(ids) + self.wpe(pos)
        for blk in self.blocks:
            x = blk(x)
        return self.ln_f(x) @ self.wte.weight.t()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.environ.get("DL_DATA_DIR", "../shared/data"))
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--iters", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (nanoGPT: 1e-3; the floor stays 1e-4)")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)

    text = open(os.path.join(args.data, "tinyshakespeare", "input.txt"), encoding="utf-8").read()
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([index[c] for c in text], dtype=torch.long)
    n = int(0.9 * len(data))
    train, valid = data[:n], data[n:]
    context, batch, evals, windows = 64, 12, 250, 2400

    def windows_of(src, count, gen):
        start = torch.randint(len(src) - context, (count,), generator=gen)
        x = torch.stack([src[i : i + context] for i in start])
        y = torch.stack([src[i + 1 : i + 1 + context] for i in start])
        return x, y

    gen = torch.Generator().manual_seed(args.seed ^ 0x5EED)
    vx, vy = windows_of(valid, windows, gen)
    model = Gpt(len(chars), context, 128, 4, 4)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr,
        betas=(0.9, 0.99),
    )

    def lr_at(it, warmup=100, lr=args.lr, min_lr=1e-4):
        if it < warmup:
            return lr * (it + 1) / (warmup + 1)
        ratio = (it - warmup) / max(1, args.iters - warmup)
        return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr - min_lr)

    @torch.no_grad()
    def valid_loss():
        model.eval()
        total = 0.0
        for i in range(0, windows, 200):
            logits = model(vx[i : i + 200])
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), vy[i : i + 200].reshape(-1), reduction="sum").item()
        model.train()
        return total / (windows * context)

    gen = torch.Generator().manual_seed(args.seed)
    start = time.time()
    curve = []
    for it in range(args.iters):
        for g in opt.param_groups:
            g["lr"] = lr_at(it)
        x, y = windows_of(train, batch, gen)
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if (it + 1) % evals == 0:
            v = valid_loss()
            curve.append([it + 1, round(v, 4)])
            print(json.dumps({"iter": it + 1, "train_loss": round(loss.item(), 4), "valid_loss": round(v, 4),
                              "seconds": round(time.time() - start, 1)}), flush=True)
    print(json.dumps({"result": "torch_char_gpt", "seed": args.seed, "valid_loss": curve[-1][1], "curve": curve,
                      "params": sum(p.numel() for p in model.parameters()), "seconds": round(time.time() - start, 1)}))


if __name__ == "__main__":
    main()
