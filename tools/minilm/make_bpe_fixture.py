#!/usr/bin/env python3
"""A small byte-level BPE tokenizer.json (GPT-2's scheme) with reference ids.

Trains Hugging Face `tokenizers`' ByteLevelBPETokenizer on the first 20,000
characters of tinyshakespeare (vocabulary 400), saves it as
`fixtures/tokenizers/bpe_shakespeare.json`, and writes the ids that Python's
`tokenizers` gives for a few test strings to `fixtures/tokenizers/bpe_reference.json`.
The Rust tests check that `HfTokenizer` gives the same ids and decodes them back.

Usage:
    python tools/minilm/make_bpe_fixture.py ../shared/data/tinyshakespeare/input.txt
"""
import json
import sys

from tokenizers import ByteLevelBPETokenizer

TESTS = [
    "First Citizen:\nBefore we proceed any further, hear me speak.",
    "Unseen words: quantum entanglement, naïve café, 東京, emoji 🙂!",
    "   leading and trailing spaces   ",
    "",
]


def main():
    text = open(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/tinyshakespeare/input.txt").read()[:20000]
    tok = ByteLevelBPETokenizer()
    tok.train_from_iterator([text], vocab_size=400, min_frequency=2, show_progress=False)
    tok.save("fixtures/tokenizers/bpe_shakespeare.json")
    ref = [{"text": t, "ids": tok.encode(t).ids, "decoded": tok.decode(tok.encode(t).ids)} for t in TESTS]
    with open("fixtures/tokenizers/bpe_reference.json", "w") as f:
        json.dump({"generator": "tools/minilm/make_bpe_fixture.py", "cases": ref}, f, ensure_ascii=False, indent=1)
    print("vocab", tok.get_vocab_size(), "ids", [len(r["ids"]) for r in ref])


if __name__ == "__main__":
    main()
