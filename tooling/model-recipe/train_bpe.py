#!/usr/bin/env python3
"""Trains a byte-level BPE vocabulary on the train split and writes a Hugging Face tokenizer.json.

The `tokenizers` library is not available on every machine the recipe runs on, so this is a small
self-contained trainer producing the same file format (ByteLevel pre-tokenizer and decoder, BPE model).
Digits never merge, so numbers (passkeys, years) are spelled digit by digit.

    python3 train_bpe.py --data build/data --vocab-size 4096 --out build/tokenizer.json
"""
import argparse
import heapq
import json
import re
from collections import Counter, defaultdict

SPECIAL_TOKENS = ["<|endoftext|>"]
# GPT-2's pre-tokenization pattern, restricted to what Python's `re` supports (\p{L} ≈ letters incl. Latin-1/Extended-A).
PRETOKENIZE = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z\u00c0-\u024f]+| ?[0-9]+| ?[^\sA-Za-z0-9\u00c0-\u024f]+|\s+(?!\S)|\s+""")


def bytes_to_unicode():
    """GPT-2's reversible map from bytes to printable characters (so every byte has a visible symbol)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    mapping = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


def word_counts(paths):
    byte_char = bytes_to_unicode()
    counts = Counter()
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                text = json.loads(line)["text"]
                for piece in PRETOKENIZE.findall(text):
                    counts["".join(byte_char[b] for b in piece.encode("utf-8"))] += 1
    return counts


def train(counts, vocab_size):
    byte_char = bytes_to_unicode()
    digit_chars = {byte_char[b] for b in b"0123456789"}
    words = [list(w) for w in counts]
    freq = list(counts.values())
    pair_count = defaultdict(int)
    pair_words = defaultdict(set)

    def mergeable(a, b):
        return not (set(a) & digit_chars or set(b) & digit_chars)

    for wi, symbols in enumerate(words):
        for a, b in zip(symbols, symbols[1:]):
            if mergeable(a, b):
                pair_count[(a, b)] += freq[wi]
                pair_words[(a, b)].add(wi)
    heap = [(-c, p) for p, c in pair_count.items()]
    heapq.heapify(heap)
    vocab = SPECIAL_TOKENS + [byte_char[b] for b in range(256)]
    merges = []
    while len(vocab) < vocab_size and heap:
        neg, pair = heapq.heappop(heap)
        if pair_count.get(pair, 0) != -neg or -neg <= 0:
            continue  # stale entry
        a, b = pair
        merged = a + b
        merges.append(pair)
        vocab.append(merged)
        changed = defaultdict(int)
        for wi in list(pair_words[pair]):
            symbols = words[wi]
            f = freq[wi]
            for x, y in zip(symbols, symbols[1:]):
                if mergeable(x, y):
                    changed[(x, y)] -= f
                    pair_words[(x, y)].discard(wi)
            out = []
            i = 0
            while i < len(symbols):
                if i + 1 < len(symbols) and symbols[i] == a and symbols[i + 1] == b:
                    out.append(merged)
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            words[wi] = out
            for x, y in zip(out, out[1:]):
                if mergeable(x, y):
                    changed[(x, y)] += f
                    pair_words[(x, y)].add(wi)
        for p, delta in changed.items():
            if delta == 0:
                continue
            pair_count[p] += delta
            if pair_count[p] > 0:
                heapq.heappush(heap, (-pair_count[p], p))
        pair_count.pop(pair, None)
    return vocab, merges


def tokenizer_json(vocab, merges):
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
            for i, t in enumerate(SPECIAL_TOKENS)
        ],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": {t: i for i, t in enumerate(vocab)},
            "merges": [[a, b] for a, b in merges],
        },
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="build/data")
    parser.add_argument("--vocab-size", type=int, default=4096)
    parser.add_argument("--out", default="build/tokenizer.json")
    args = parser.parse_args()
    counts = word_counts([f"{args.data}/train.jsonl"])
    vocab, merges = train(counts, args.vocab_size)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(vocab, merges), f, ensure_ascii=False)
    print(f"{len(counts)} distinct pre-tokens; vocabulary {len(vocab)} ({len(merges)} merges) → {args.out}")


if __name__ == "__main__":
    main()
