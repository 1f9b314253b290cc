#!/usr/bin/env bash
# Runs on the GPU machine (through the device tool, carrying .gpu-carry/ made by
# tooling/gpu/webgpu-prepare.sh): the WebGPU parity suite and benchmarks on the real GPU through
# Dawn's Vulkan backend, and PyTorch's f32 matmul (TF32 off), add and device copy in the same run.
# Writes webgpu.json, torch.json and logs under $OUT; prints a short table last.
#
#   bash tooling/gpu/webgpu-check.sh        (device tool: carry [".gpu-carry"], timeout_s 540)
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/webgpu-check}
mkdir -p "$OUT"
[ -s .gpu-carry/webgpu-bench.mjs ] || { echo "no .gpu-carry/webgpu-bench.mjs: run tooling/gpu/webgpu-prepare.sh here first"; exit 2; }
# shellcheck disable=SC1091
source .gpu-carry/prelude.sh
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
KVKIT_DAWN_NODE="$PWD/.gpu-carry/dawn.node" timeout 420 node .gpu-carry/webgpu-bench.mjs --out "$OUT" 2>&1 | tee "$OUT/webgpu.log"
status=${PIPESTATUS[0]}
timeout 90 python3 tooling/gpu/torch-baseline.py "$OUT/torch.json" 2>&1 | tee "$OUT/torch.log"
python3 tooling/gpu/webgpu-report.py "$OUT" | tee "$OUT/table.txt"
exit "$status"
