"""PyTorch baselines for the WebGPU benchmark, measured in the same run on the same GPU.

f32 matmul with TF32 off (the rate a non-tensor-core f32 kernel is compared with), an elementwise
add and a device-to-device copy (the bandwidth ceiling), timed with CUDA events after warm-up.
Writes a JSON file (argument 1) and prints one line per measurement.
"""
import json
import sys
import time

import torch


def cuda_ms(fn, reps):
    fn()
    torch.cuda.synchronize()
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / reps


def main(out_path):
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    device = torch.device("cuda")
    report = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "device": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "matmul": [],
        "bandwidth": [],
    }
    for n in (1024, 2048, 4096, 8192):
        a = torch.rand(n, n, device=device) * 2 - 1
        b = torch.rand(n, n, device=device) * 2 - 1
        reps = max(3, min(50, round(2e11 / n**3)))
        ms = cuda_ms(lambda: torch.matmul(a, b), reps)
        tflops = 2 * n**3 / (ms * 1e-3) / 1e12
        report["matmul"].append({"n": n, "ms": ms, "tflops": tflops})
        print(f"torch matmul f32 (TF32 off) {n}^3: {tflops:.2f} TFLOP/s")
        del a, b
    elements = 1 << 26
    x = torch.rand(elements, device=device)
    y = torch.rand(elements, device=device)
    z = torch.empty_like(x)
    xh = x.half()
    yh = y.half()
    zh = torch.empty_like(xh)
    runs = [
        ("add f32 (a + b)", 12 * elements, lambda: torch.add(x, y, out=z)),
        ("add f16 (a + b)", 6 * elements, lambda: torch.add(xh, yh, out=zh)),
        ("device copy f32", 8 * elements, lambda: z.copy_(x)),
    ]
    for op, nbytes, fn in runs:
        ms = cuda_ms(fn, 20)
        gbps = nbytes / (ms * 1e-3) / 1e9
        report["bandwidth"].append({"op": op, "bytes": nbytes, "ms": ms, "gbps": gbps})
        print(f"torch {op}: {gbps:.1f} GB/s")
    with open(out_path, "w") as f:
        json.dump(report, f, indent=2)


if __name__ == "__main__":
    main(sys.argv[1])
