"""PyTorch baselines for tooling/gpu/cuda-check.sh and webgpu-check.sh, on the same card in the same run.

Same shapes and byte-counting conventions as cuda-check.ts: matmul TFLOP/s (f32 with TF32 off,
f16, bf16), and memory-bound ops in GB/s counting the bytes read + written once, from the median
call of a sustained run (bandwidthDetail: best, mean and the timed window for the GPU clock samples).
Writes OUT/torch.json.
"""
import json
import os
import sys

import torch

from torch_timing import time_ms, time_sustained

out_dir = sys.argv[sys.argv.index("--out") + 1] if "--out" in sys.argv else os.environ.get("OUT", ".")
quick = "--quick" in sys.argv
# Extra f32 sizes (the WebGPU check compares f32 at 1024–8192); the default list skips f32 at 8192.
f32_sizes = [int(n) for n in sys.argv[sys.argv.index("--f32-sizes") + 1].split(",")] if "--f32-sizes" in sys.argv else []
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
device = torch.device("cuda")




report = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "cuda": torch.version.cuda}
dtypes = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}
matmul = {}


def measure_matmul(name, dtype, n):
    a = torch.rand(n, n, device=device, dtype=dtype) * 2 - 1
    b = torch.rand(n, n, device=device, dtype=dtype) * 2 - 1
    ms = time_ms(lambda: torch.matmul(a, b), 10 if n >= 4096 else 50)
    matmul[f"{name} {n}"] = 2 * n**3 / (ms / 1000) / 1e12
    print(f"torch matmul {name} {n}^3: {ms:.3f} ms, {matmul[f'{name} {n}']:.1f} TFLOP/s")


for n in [1024] if quick else [1024, 4096, 8192]:
    for name, dtype in dtypes.items():
        if n == 8192 and name == "f32":
            continue
        measure_matmul(name, dtype, n)
for n in f32_sizes:
    if f"f32 {n}" not in matmul:
        measure_matmul("f32", torch.float32, n)
report["matmulTflops"] = matmul

# 2^28 f32 elements per operand, like packages/tensor-core/bench/webgpu-bench.ts. Each op is timed
# sustained (torch_timing.time_sustained: >= 300 ms warm-up, >= 300 ms timed, per-call events) and
# its GB/s come from the median call, counting the bytes read + written once, as the WebGPU bench does.
elements = 1 << 24 if quick else 1 << 28
x = torch.rand(elements, device=device) - 0.5
y = torch.rand(elements, device=device) - 0.5
nbytes = elements * 4
sustain = {"warmup_ms": 0.0, "timed_ms": 20.0, "min_reps": 3} if quick else {"warmup_ms": 300.0, "timed_ms": 300.0}


def gbps(total_bytes, ms):
    return total_bytes / (ms / 1000) / 1e9


h = (torch.rand(elements, device=device) - 0.5).to(torch.float16)
# The same row permutation as cuda-check.ts's gather: i·7919 mod rows.
order = (torch.arange(elements >> 8, device=device, dtype=torch.int64) * 7919) % (elements >> 8)
memory_ops = {
    "copy f32": (2 * nbytes, lambda: x.clone()),
    "add f32": (3 * nbytes, lambda: x + y),
    "exp f32": (2 * nbytes, lambda: torch.exp(x)),
    "transpose copy f32": (2 * nbytes, lambda: x.view(elements >> 8, 256).t().contiguous()),
    "softmax f32 rows of 4096": (2 * nbytes, lambda: torch.softmax(x.view(-1, 4096), dim=-1)),
    "rmsNorm f32 rows of 4096": (2 * nbytes, lambda: torch.nn.functional.rms_norm(x.view(-1, 4096), (4096,), torch.ones(4096, device=device))),
    "add f16": (3 * elements * 2, lambda: h + h),
    "sum f32 rows of 4096": (nbytes, lambda: x.view(-1, 4096).sum(dim=-1)),
    "cast f32 → f16": (nbytes + elements * 2, lambda: x.half()),
    "gather f32 rows of 256": (2 * nbytes, lambda: torch.index_select(x.view(elements >> 8, 256), 0, order)),
    "transpose copy f16": (2 * elements * 2, lambda: h.view(elements >> 8, 256).t().contiguous()),
}
bandwidth = {}
detail = {}
for name, (total_bytes, fn) in memory_ops.items():
    t = time_sustained(fn, **sustain)
    detail[name] = {**t, "bytes": total_bytes, "GBpsBest": gbps(total_bytes, t["bestMs"]), "GBpsMean": gbps(total_bytes, t["meanMs"])}
    bandwidth[name] = gbps(total_bytes, t["medianMs"])
report["bandwidthGBps"] = bandwidth
report["bandwidthDetail"] = detail
for k, v in bandwidth.items():
    d = detail[k]
    print(f"torch {k}: {v:.0f} GB/s median, {d['GBpsBest']:.0f} best, {d['GBpsMean']:.0f} mean ({d['reps']} calls)")

os.makedirs(out_dir, exist_ok=True)
with open(os.path.join(out_dir, "torch.json"), "w") as f:
    json.dump(report, f, indent=2)
