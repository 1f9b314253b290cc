#!/usr/bin/env python3
"""Loads the shipped model (models/kvkit-tiny) with Hugging Face transformers and writes the logits
@kvkit/llm must reproduce (packages/llm/test/fixtures/kvkit-tiny-transformers.json): the directory
loads with AutoModelForCausalLM + AutoTokenizer as saved, the tokenizer's ids for a held-out text,
full logit rows at a few positions and the next-token loss at every position (float32, CPU, eager
attention, so no TF32 or fused kernels enter the reference). Runs on the GPU machine, where
transformers is installed:

    python3 tooling/gpu/kvkit-tiny-transformers.py --out "$OUT/kvkit-tiny-transformers.json"
"""
import argparse
import json
import os

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default=os.path.join(ROOT, "models", "kvkit-tiny"))
    p.add_argument("--out", required=True)
    p.add_argument("--tokens", type=int, default=192)
    args = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, torch_dtype=torch.float32, attn_implementation="eager").eval()
    held_out = open(os.path.join(args.model, "eval", "test.txt"), encoding="utf-8").read()
    text = held_out[5000:5000 + 4 * args.tokens]
    ids = tokenizer(text, add_special_tokens=False)["input_ids"][: args.tokens]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].double()
    log_probs = torch.log_softmax(logits, dim=-1)
    nll = [-float(log_probs[t, ids[t + 1]]) for t in range(len(ids) - 1)]
    positions = [0, len(ids) // 2, len(ids) - 1]
    out = {
        "transformers": transformers.__version__, "torch": torch.__version__, "text": text, "ids": ids, "positions": positions,
        "logits": [[float(f"{v:.9g}") for v in logits[i].tolist()] for i in positions],
        "nll": [float(f"{v:.9g}") for v in nll],
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f)
    print(f"{args.out}: {len(ids)} tokens, mean loss {sum(nll) / len(nll):.4f} nats, transformers {transformers.__version__}")


if __name__ == "__main__":
    main()
