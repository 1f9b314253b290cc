"""PyTorch baselines for tooling/gpu/cuda-check.sh and webgpu-check.sh, on the same card in the same run.

Same shapes and byte-counting conventions as cuda-check.ts: matmul TFLOP/s (f32 with TF32 off,
f16, bf16), and memory-bound ops in GB/s counting the bytes read + written once.
Writes OUT/torch.json.
"""
import json
import os
import sys

import torch

from torch_timing import time_ms

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

elements = 1 << 24 if quick else 1 << 28
x = torch.zeros(elements, device=device)
y = torch.zeros(elements, device=device)
nbytes = elements * 4


def gbps(total_bytes, ms):
    return total_bytes / (ms / 1000) / 1e9


bandwidth = {
    "copy f32": gbps(2 * nbytes, time_ms(lambda: x.clone(), 10)),
    "add f32": gbps(3 * nbytes, time_ms(lambda: x + y, 10)),
    "exp f32": gbps(2 * nbytes, time_ms(lambda: torch.exp(x), 10)),
    "transpose copy f32": gbps(2 * nbytes, time_ms(lambda: x.view(elements >> 8, 256).t().contiguous(), 5)),
    "softmax f32 rows of 4096": gbps(2 * nbytes, time_ms(lambda: torch.softmax(x.view(-1, 4096), dim=-1), 5)),
    "rmsNorm f32 rows of 4096": gbps(
        2 * nbytes, time_ms(lambda: torch.nn.functional.rms_norm(x.view(-1, 4096), (4096,), torch.ones(4096, device=device)), 5)
    ),
}
h = torch.zeros(elements, device=device, dtype=torch.float16)
bandwidth["add f16"] = gbps(3 * elements * 2, time_ms(lambda: h + h, 10))
report["bandwidthGBps"] = bandwidth
for k, v in bandwidth.items():
    print(f"torch {k}: {v:.0f} GB/s")

os.makedirs(out_dir, exist_ok=True)
with open(os.path.join(out_dir, "torch.json"), "w") as f:
    json.dump(report, f, indent=2)
