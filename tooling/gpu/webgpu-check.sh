#!/usr/bin/env bash
# The WebGPU check on the GPU machine: the parity suite of every tensor-core WGSL kernel against the
# CPU backend on the real GPU (Dawn → Vulkan → NVIDIA driver), then f32 matmul TFLOP/s at 1024–8192
# and memory-bound GB/s next to PyTorch in the same run.
#
#   Here (build machine):   bash tooling/gpu/webgpu-check.sh prepare
#       packs Node, Debian's Vulkan loader and Dawn (node_modules/webgpu) with the shared gpu-carry
#       tool, and bundles packages/tensor-core/bench/webgpu-bench.ts into .gpu-carry/webgpu-bench.mjs.
#   There (device tool, carry [".gpu-carry"], timeout_s 540):   bash tooling/gpu/webgpu-check.sh run [--quick]
#       writes $OUT/torch.json and $OUT/webgpu.json and prints a short table last.
#   Dry run of the bundle here, on SwiftShader (numbers meaningless, logic checked):
#       LD_LIBRARY_PATH=/usr/lib/chromium VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json XDG_RUNTIME_DIR=/tmp \
#         KVKIT_DAWN_NODE=$PWD/node_modules/webgpu/dist/linux-x64/dawn.node node .gpu-carry/webgpu-bench.mjs --quick --out /tmp/webgpu-check
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
mode=${1:-}
shift || true

case "$mode" in
  prepare)
    [ -s node_modules/webgpu/dist/linux-x64/dawn.node ] || { echo "node_modules/webgpu is missing: npm ci first" >&2; exit 1; }
    carry_tool=${GPU_CARRY_TOOL:-/work/shared/tools/gpu-carry.sh}
    [ -f "$carry_tool" ] || { echo "the gpu-carry tool ($carry_tool) packs Node, the Vulkan loader and Dawn; set GPU_CARRY_TOOL" >&2; exit 1; }
    bash "$carry_tool" >/dev/null
    # NVIDIA's Vulkan ICD (libGLX_nvidia) needs the glvnd libraries, which that machine lacks: without
    # them the loader finds "no drivers". The prelude unpacks every .deb in .gpu-carry/debs.
    (cd .gpu-carry/debs && o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/kvkit-apt-lists' \
      && mkdir -p /tmp/kvkit-apt-lists/partial && apt-get $o update >/dev/null \
      && apt-get $o download libglvnd0 libglx0 libgl1 libegl1 libopengl0 libgles2 >/dev/null)
    npx esbuild packages/tensor-core/bench/webgpu-bench.ts --bundle --platform=node --format=esm --target=node20 \
      --outfile=.gpu-carry/webgpu-bench.mjs --log-level=warning
    du -sh .gpu-carry
    echo "prepared: run on the GPU machine with  bash tooling/gpu/webgpu-check.sh run   (carry .gpu-carry)"
    ;;
  run)
    out=${OUT:-$root/.gpu-out}
    mkdir -p "$out"
    [ -s .gpu-carry/webgpu-bench.mjs ] || { echo "no .gpu-carry/webgpu-bench.mjs: run 'bash tooling/gpu/webgpu-check.sh prepare' first" >&2; exit 2; }
    # Node on PATH, the Vulkan loader installed, dawn.node unpacked, VK_DRIVER_FILES → the NVIDIA ICD.
    set +e # the prelude's steps report their own failures; go on and let the bench say what is missing
    # shellcheck disable=SC1091
    source .gpu-carry/prelude.sh
    set -e
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
    quick=()
    [ "${1:-}" = "--quick" ] && quick=(--quick)
    python3 tooling/gpu/torch_baseline.py --out "$out" --f32-sizes 1024,2048,4096,8192 "${quick[@]}" 2>&1 | tail -n 30 || echo "torch baseline failed"
    KVKIT_DAWN_NODE="$root/.gpu-carry/dawn.node" node .gpu-carry/webgpu-bench.mjs --out "$out" "${quick[@]}"
    ;;
  *)
    echo "usage: $0 prepare | run [--quick]" >&2
    exit 2
    ;;
esac
