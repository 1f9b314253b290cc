"""PyTorch's decode attention on the shapes of tooling/gpu/attention-check.ts, same card, same run.

scaled_dot_product_attention for one query per sequence (batch 8, 32 query heads, 8 KV heads,
head dim 128, f16) over 4k-32k keys, timed with CUDA events; K/V GB/s counts the K and V bytes of
the 8 KV heads once (what a GQA-aware kernel must read). Where this torch has no `enable_gqa`, K/V
are repeated to 32 heads before timing and the GB/s still counts the 8-head bytes (so it is the
rate of useful bytes). Also causal prefill (batch 1, same heads, f16, 1k-16k tokens:
is_causal=True over the whole prompt) in TFLOP/s, counted as attention-check.ts counts it:
4 * heads * d * n(n+1)/2 (n(n+1)/2 visible pairs per query head, 2d FLOPs each for q.k and p.v).
And the copy bandwidth (clone of 1 GiB: bytes read + written).
Writes OUT/attention/torch-attention.json.

    python3 tooling/gpu/attention_torch.py --out DIR [--quick]
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

from torch_timing import time_ms

out_dir = os.path.join(sys.argv[sys.argv.index("--out") + 1] if "--out" in sys.argv else os.environ.get("OUT", "."), "attention")
quick = "--quick" in sys.argv
device = torch.device("cuda")
batch, q_heads, kv_heads, head_dim = 8, 32, 8, 128
# 128k: the shape of the CUDA KIVI goal (attention-check runs it on CUDA only).
lengths = [4096] if quick else [4096, 16384, 32768, 131072]
prefill_lengths = [1024, 4096] if quick else [1024, 4096, 16384]


def causal_prefill_flops(heads, d, n):
    """FLOPs of causal attention over n tokens (attention-check.ts's causalPrefillFlops)."""
    return 4 * heads * d * n * (n + 1) / 2


report = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "cuda": torch.version.cuda}
x = torch.zeros(1 << 28, device=device)
report["copyGBps"] = 2 * x.numel() * 4 / (time_ms(lambda: x.clone(), 10) / 1000) / 1e9
del x
print(f"torch copy: {report['copyGBps']:.0f} GB/s")



def supports_gqa():
    """Whether this torch's SDPA takes enable_gqa (2.5+); its signature is not introspectable (a builtin)."""
    try:
        q = torch.zeros(1, 2, 1, 8, device=device, dtype=torch.float16)
        k = torch.zeros(1, 1, 4, 8, device=device, dtype=torch.float16)
        F.scaled_dot_product_attention(q, k, k, enable_gqa=True)
        return True
    except Exception:  # TypeError on older torch
        return False


gqa = supports_gqa()
report["gqa"] = "enable_gqa" if gqa else "K/V repeated to the query heads"


def sdpa_call(q, k, v, **options):
    """SDPA of q over the KV heads of k, v as a timed call: enable_gqa, or K/V repeated (outside the timing)."""
    if gqa:
        return lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=True, **options)
    kr = k.repeat_interleave(q_heads // kv_heads, dim=1)
    vr = v.repeat_interleave(q_heads // kv_heads, dim=1)
    return lambda: F.scaled_dot_product_attention(q, kr, vr, **options)


def sdpa_sizes(label, sizes, batch_size, query_len, reps, rates, **options):
    """SDPA timed at every KV length n (q [batch_size, H, query_len(n), d], K/V [batch_size, Hkv, n, d], f16):
    {"ms", **rates(n, ms)} per size; a failing size is recorded and does not hide the others."""
    results = {}
    for n in sizes:
        try:
            q = torch.randn(batch_size, q_heads, query_len(n), head_dim, device=device, dtype=torch.float16)
            k = torch.randn(batch_size, kv_heads, n, head_dim, device=device, dtype=torch.float16)
            v = torch.randn(batch_size, kv_heads, n, head_dim, device=device, dtype=torch.float16)
            ms = time_ms(sdpa_call(q, k, v, **options), reps)
            results[str(n)] = {"ms": ms, **rates(n, ms)}
            print(f"torch sdpa {label} n={n}: {results[str(n)]}")
            del q, k, v
            torch.cuda.empty_cache()
        except Exception as error:  # one failing size must not hide the others
            results[str(n)] = {"error": str(error)}
            print(f"torch sdpa {label} n={n} failed: {error}")
    return results


# Decode: one query per sequence; GB/s of the f16 K/V read once.
report["decode"] = sdpa_sizes("decode", lengths, batch, lambda n: 1, 20, lambda n, ms: {"kvGBps": 2 * batch * kv_heads * n * head_dim * 2 / (ms / 1000) / 1e9})
# Causal prefill: n queries over n keys; TFLOP/s of the visible pairs only (causal_prefill_flops).
report["prefill"] = sdpa_sizes(
    "causal prefill", prefill_lengths, 1, lambda n: n, 10, lambda n, ms: {"tflops": causal_prefill_flops(q_heads, head_dim, n) / (ms / 1000) / 1e12}, is_causal=True
)

os.makedirs(out_dir, exist_ok=True)
with open(os.path.join(out_dir, "torch-attention.json"), "w") as f:
    json.dump(report, f, indent=2)
