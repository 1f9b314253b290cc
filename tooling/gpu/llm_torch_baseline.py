"""PyTorch + transformers baseline for @kvkit/llm's benchmark (packages/llm/bench/llm-bench.ts):
the same model directory, the same phases and lengths, timed the same way (median wall time of the
repetitions, every step ending with its logits copied to the host, as generation does).

    python3 tooling/gpu/llm_torch_baseline.py --model models/kvkit-tiny --out $OUT [--dtype float32,float16]

Runs on the GPU machine (transformers is installed there); writes llm-torch.json and prints a table.
"""
import argparse
import json
import os
import statistics
import time

import torch
from transformers import AutoModelForCausalLM


def timed(reps, fn):
    times = []
    for _ in range(reps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def bench(model, vocab, dtype_name, rows):
    gen = torch.Generator(device="cpu").manual_seed(11)

    def ids(n):
        return torch.randint(1, vocab, (1, n), generator=gen).cuda()

    with torch.inference_mode():
        model(ids(16))  # warm-up: kernels loaded, allocator primed
        for n in (128, 512, 1000):
            times = timed(3, lambda: model(ids(n), use_cache=True).logits[:, -1].float().cpu())
            ms = statistics.median(times) / n
            rows.append({"dtype": dtype_name, "phase": "prefill", "context": n, "msPerToken": ms, "tokensPerSec": 1000 / ms})
        for context in (128, 1000):
            out = model(ids(context - 24), use_cache=True)
            state = {"past": out.past_key_values}

            def step():
                o = model(ids(1), past_key_values=state["past"], use_cache=True)
                state["past"] = o.past_key_values
                o.logits[:, -1].float().cpu()

            times = timed(24, step)[4:]
            ms = statistics.median(times)
            rows.append({"dtype": dtype_name, "phase": "decode", "context": context, "msPerToken": ms, "tokensPerSec": 1000 / ms})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="models/kvkit-tiny")
    parser.add_argument("--out", default=os.environ.get("OUT", ".gpu-out"))
    parser.add_argument("--dtype", default="float32,float16")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rows = []
    for name in args.dtype.split(","):
        model = AutoModelForCausalLM.from_pretrained(args.model, torch_dtype=getattr(torch, name), attn_implementation="sdpa").cuda().eval()
        bench(model, model.config.vocab_size, name, rows)
        del model
        torch.cuda.empty_cache()
    result = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "model": args.model, "rows": rows}
    with open(os.path.join(args.out, "llm-torch.json"), "w") as f:
        json.dump(result, f, indent=2)
    print(f"transformers on {result['device']} (torch {result['torch']}), {args.model}")
    print("| dtype | phase | context | tokens/s | ms/token |")
    print("| --- | --- | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['dtype']} | {r['phase']} | {r['context']} | {r['tokensPerSec']:.0f} | {r['msPerToken']:.3f} |")


if __name__ == "__main__":
    main()
