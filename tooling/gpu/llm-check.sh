#!/usr/bin/env bash
# The @kvkit/llm check on the GPU machine: the transformers fixture of the shipped model (that
# transformers loads models/kvkit-tiny as saved, and the logits @kvkit/llm must reproduce), then
# prefill/decode tokens/s of models/kvkit-tiny on CUDA and WebGPU (f32 and f16) next to transformers
# (PyTorch SDPA) on the same model, phases and lengths in the same run.
#
#   Here (build machine):   bash tooling/gpu/llm-check.sh prepare
#       packs Node, the Vulkan loader, Dawn and glvnd (lib.sh), bundles packages/llm/bench/llm-bench.ts
#       into .gpu-carry/llm-bench.mjs and copies the CUDA addon next to it.
#   There (device tool, carry [".gpu-carry"], timeout_s ≥ 240):   bash tooling/gpu/llm-check.sh run
#       (LLM_TORCH=0 skips the transformers steps; LLM_BACKENDS="cuda" runs one backend; LLM_BENCH_S bounds each bench)
#       writes $OUT/llm/{kvkit-tiny-transformers.json, llm-torch.json, llm-<backend>-<dtype>.json};
#       every step is time-bounded and a failing one does not stop the others.
#   Back here:   cp <files_at>/llm/kvkit-tiny-transformers.json packages/llm/test/fixtures/
#   Dry run of the bundle here (SwiftShader; slow, numbers meaningless):
#       LD_LIBRARY_PATH=/usr/lib/chromium VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json \
#         KVKIT_DAWN_NODE=$PWD/node_modules/webgpu/dist/linux-x64/dawn.node \
#         node .gpu-carry/llm-bench.mjs --backend webgpu --model models/kvkit-tiny --no-random --dtype f32
set -euo pipefail
# shellcheck source=tooling/gpu/lib.sh
source "$(dirname "$0")/lib.sh"

prepare() {
  npx turbo run build --filter=@kvkit/llm... --filter=@kvkit/cuda-runtime... >/dev/null
  gpu_prepare_carry
  gpu_bundle packages/llm/bench/llm-bench.ts llm-bench.mjs
  gpu_copy_cuda_addon
  du -sh .gpu-carry
  echo "prepared: run on the GPU machine with  bash tooling/gpu/llm-check.sh run   (carry .gpu-carry)"
}

run() {
  local out=${OUT:-$gpu_root/.gpu-out}
  mkdir -p "$out/llm"
  gpu_require_bundle llm-bench.mjs tooling/gpu/llm-check.sh
  gpu_enter
  set +e # from here on every step reports its own failure and the next one runs
  # LLM_TORCH=0 skips the transformers steps, LLM_BACKENDS and LLM_DTYPES pick the kvkit runs (a re-run of one).
  if [ "${LLM_TORCH:-1}" != 0 ]; then
    timeout -k 5 60 python3 tooling/gpu/kvkit-tiny-transformers.py --out "$out/llm/kvkit-tiny-transformers.json" 2>&1 | tail -n 5
    timeout -k 5 60 python3 tooling/gpu/llm_torch_baseline.py --model models/kvkit-tiny --out "$out/llm" 2>&1 | tail -n 14
  fi
  for backend in ${LLM_BACKENDS:-cuda webgpu}; do
    for dtype in ${LLM_DTYPES:-f32 f16}; do
      timeout -k 5 "${LLM_BENCH_S:-45}" node .gpu-carry/llm-bench.mjs --backend "$backend" --model-dtype "$dtype" --model models/kvkit-tiny \
        --no-random --dtype "$dtype" --cache paged --json "$out/llm/llm-$backend-$dtype.json" 2>&1 | tail -n 9 || echo "llm bench on $backend $dtype ended with status $?"
    done
  done
}

gpu_main "$@"
