"""Prints the WebGPU-vs-PyTorch table from webgpu.json and torch.json (written by webgpu-check.sh)."""
import json
import sys

out = sys.argv[1]
webgpu = json.load(open(f"{out}/webgpu.json"))
torch = json.load(open(f"{out}/torch.json"))
dev = webgpu["device"]
print(f"\n== WebGPU (Dawn/Vulkan: {dev['vendor']} {dev['architecture']} {dev['description']}) vs PyTorch ({torch['device']}, torch {torch['torch']}), {webgpu['date'][:10]}")
passed = sum(1 for r in webgpu["parity"] if r["ok"])
print(f"parity with the CPU backend: {passed}/{len(webgpu['parity'])} cases")
ref = {m["n"]: m["tflops"] for m in torch["matmul"]}
print(f"{'matmul f32':<34}{'WebGPU TFLOP/s':>16}{'PyTorch (no TF32)':>19}{'ratio':>8}")
for m in webgpu["matmul"]:
    base = ref.get(m["n"])
    ratio = f"{m['tflops'] / base:.0%}" if base else "-"
    print(f"{str(m['n']) + '^3':<34}{m['tflops']:>16.2f}{'-' if base is None else format(base, '.2f'):>19}{ratio:>8}")
copy = next(b["gbps"] for b in torch["bandwidth"] if b["op"].startswith("device copy"))
print(f"{'memory-bound (vs torch copy ' + format(copy, '.0f') + ' GB/s)':<34}{'WebGPU GB/s':>16}{'PyTorch GB/s':>19}{'of copy':>8}")
tref = {b["op"]: b["gbps"] for b in torch["bandwidth"]}
for b in webgpu["bandwidth"]:
    base = tref.get(b["op"])
    print(f"{b['op']:<34}{b['gbps']:>16.1f}{'-' if base is None else format(base, '.1f'):>19}{b['gbps'] / copy:>8.0%}")
