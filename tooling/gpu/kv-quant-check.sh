#!/usr/bin/env bash
# The kv-quant GPU check: bit-exact parity of kv-quant's CUDA and WebGPU (WGSL) kernels with its CPU
# kernels, and quantize/dequantize throughput at 32 heads × 8192 tokens × 128 dims next to the copy
# bandwidth measured in the same run, on each.
#
#   Here (build machine):   bash tooling/gpu/kv-quant-check.sh prepare
#       builds cuda-runtime's addon, packs Node, the Vulkan loader and Dawn (shared gpu-carry tool) plus
#       the glvnd libraries NVIDIA's Vulkan driver needs, bundles tooling/gpu/kv-quant-check.ts into
#       .gpu-carry/kv-quant-check.mjs, copies the addon next to it.
#   There (device tool, carry [".gpu-carry"], timeout_s 240, ~2 min):   bash tooling/gpu/kv-quant-check.sh run
#       writes $OUT/kv-quant/kv-quant.json and prints a markdown table last.
#   Dry run of the bundle here, on the CUDA CPU emulator and on SwiftShader (numbers meaningless):
#       LD_LIBRARY_PATH=/usr/lib/chromium VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json XDG_RUNTIME_DIR=/tmp \
#       KVKIT_DAWN_NODE=$PWD/node_modules/webgpu/dist/linux-x64/dawn.node \
#       KVKIT_CUDA_ADDON=$PWD/.gpu-carry/kvkit_cuda.node KVKIT_CUDA_EMULATOR_HEADER=$PWD/packages/cuda-runtime/emulator/kvkit_emulator.h \
#         node .gpu-carry/kv-quant-check.mjs --emulate --out /tmp/kv-quant-check
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
mode=${1:-}
shift || true

case "$mode" in
  prepare)
    npx turbo run build --filter=@kvkit/cuda-runtime... --filter=@kvkit/kv-quant... >/dev/null
    carry_tool=${GPU_CARRY_TOOL:-/work/shared/tools/gpu-carry.sh}
    if [ -f "$carry_tool" ]; then bash "$carry_tool" >/dev/null; else
      mkdir -p .gpu-carry && { [ -s .gpu-carry/node.xz ] || xz -T2 -6 -c "$(command -v node)" > .gpu-carry/node.xz; }
    fi
    # WebGPU there: NVIDIA's Vulkan ICD (libGLX_nvidia) needs the glvnd libraries, which that machine
    # lacks (see webgpu-check.sh); the prelude unpacks every .deb in .gpu-carry/debs.
    if [ -d .gpu-carry/debs ] && ! ls .gpu-carry/debs/libglvnd0_*.deb >/dev/null 2>&1; then
      (cd .gpu-carry/debs && o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/kvkit-apt-lists' \
        && mkdir -p /tmp/kvkit-apt-lists/partial && apt-get $o update >/dev/null \
        && apt-get $o download libglvnd0 libglx0 libgl1 libegl1 libopengl0 libgles2 >/dev/null) || echo "glvnd download failed: the WebGPU section will report no adapter" >&2
    fi
    npx esbuild tooling/gpu/kv-quant-check.ts --bundle --platform=node --format=esm --target=node20 --loader:.cu=text \
      --banner:js="import { createRequire as __kvkitCreateRequire } from 'node:module'; const require = __kvkitCreateRequire(import.meta.url);" \
      --outfile=.gpu-carry/kv-quant-check.mjs --log-level=warning
    cp packages/cuda-runtime/build/Release/kvkit_cuda.node .gpu-carry/kvkit_cuda.node
    du -sh .gpu-carry
    echo "prepared: run on the GPU machine with  bash tooling/gpu/kv-quant-check.sh run   (carry .gpu-carry)"
    ;;
  run)
    out=${OUT:-$root/.gpu-out}
    mkdir -p "$out/kv-quant"
    [ -s .gpu-carry/kv-quant-check.mjs ] || { echo "no .gpu-carry/kv-quant-check.mjs: run 'bash tooling/gpu/kv-quant-check.sh prepare' first" >&2; exit 2; }
    set +e # the prelude's steps report their own failures; the check records what is missing
    # shellcheck disable=SC1091
    source .gpu-carry/prelude.sh >/dev/null 2>&1
    set -e
    export KVKIT_CUDA_ADDON="$root/.gpu-carry/kvkit_cuda.node"
    export KVKIT_CUDA_CACHE=${KVKIT_CUDA_CACHE:-/tmp/kvkit-cuda-cache}
    [ -s .gpu-carry/dawn.node ] && export KVKIT_DAWN_NODE="$root/.gpu-carry/dawn.node"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
    # The script bounds each of its steps; this bounds the whole (NVRTC hangs, driver faults).
    timeout 200 node .gpu-carry/kv-quant-check.mjs --out "$out" "$@" || echo "kv-quant check ended with status $? (see $out/kv-quant/kv-quant.json)"
    ;;
  *)
    echo "usage: $0 prepare | run" >&2
    exit 2
    ;;
esac
