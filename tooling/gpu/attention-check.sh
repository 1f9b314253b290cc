#!/usr/bin/env bash
# The @kvkit/attention-kernels check on the GPU machine (about a minute): parity of every CUDA and
# WebGPU (Dawn → Vulkan) attention kernel with the CPU kernels, then split-K decode attention at
# batch 8 × 32 query heads × 8 KV heads × head dim 128, f16, 4k–32k keys (CUDA also 128k), in GB/s of K/V read and as
# a fraction of the copy bandwidth, next to PyTorch SDPA on the same shapes (CUDA: its tensor-core
# pass and the 16-byte pass, both timed); causal flash prefill of 1k–16k
# tokens (batch 1, same heads, f16) in TFLOP/s (4·H·d·n(n+1)/2 FLOPs) and as a fraction of PyTorch SDPA's
# (is_causal, enable_gqa) in the same run; the fused 2-bit KIVI decode, and
# prefixSharedAttention for the batch sharing a 4k–32k prompt next to batched paged attention. The parity
# cases are packages/attention-kernels/test/gpu/parity-cases.ts (every GPU kernel, statistics included).
#
#   Here (build machine):   bash tooling/gpu/attention-check.sh prepare
#       builds the packages, packs Node + Vulkan loader + Dawn (shared gpu-carry tool) and the glvnd
#       libraries NVIDIA's Vulkan ICD needs, bundles tooling/gpu/attention-check.ts into
#       .gpu-carry/attention-check.mjs and copies the CUDA addon next to it.
#   There (device tool, carry [".gpu-carry"], timeout_s ≥ 240):   bash tooling/gpu/attention-check.sh run [--quick | --partition-sweep | --profile]
#       writes $OUT/attention/attention.json (+ attention-cuda.json, attention-webgpu.json,
#       torch-attention.json) and prints a markdown table last. Every step is time-bounded and one
#       failing step (or backend) does not stop the others.
#   Dry runs of the bundle here (tiny sizes; logic checked, numbers meaningless):
#       CUDA emulator:  KVKIT_CUDA_ADDON=$PWD/.gpu-carry/kvkit_cuda.node KVKIT_CUDA_EMULATOR_HEADER=$PWD/packages/cuda-runtime/emulator/kvkit_emulator.h \
#                         node .gpu-carry/attention-check.mjs --backend cuda --emulate --out /tmp/attention-check
#       SwiftShader:    LD_LIBRARY_PATH=/usr/lib/chromium VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json XDG_RUNTIME_DIR=/tmp \
#                         KVKIT_DAWN_NODE=$PWD/node_modules/webgpu/dist/linux-x64/dawn.node KVKIT_ATTENTION_CHECK_TINY=1 \
#                         node .gpu-carry/attention-check.mjs --backend webgpu --out /tmp/attention-check
#       then:           KVKIT_ATTENTION_CHECK_TINY=1 node .gpu-carry/attention-check.mjs --summarize --out /tmp/attention-check
set -euo pipefail
# shellcheck source=tooling/gpu/lib.sh
source "$(dirname "$0")/lib.sh"

prepare() {
  [ -s node_modules/webgpu/dist/linux-x64/dawn.node ] || { echo "node_modules/webgpu is missing: npm ci first" >&2; exit 1; }
  npx turbo run build --filter=@kvkit/attention-kernels... --filter=@kvkit/cuda-runtime... >/dev/null
  gpu_prepare_carry
  gpu_bundle tooling/gpu/attention-check.ts attention-check.mjs
  gpu_copy_cuda_addon
  du -sh .gpu-carry
  echo "prepared: run on the GPU machine with  bash tooling/gpu/attention-check.sh run   (carry .gpu-carry)"
}

run() {
  local out=${OUT:-$gpu_root/.gpu-out}
  mkdir -p "$out/attention"
  gpu_require_bundle attention-check.mjs tooling/gpu/attention-check.sh
  gpu_enter
  set +e # from here on every step reports its own failure and the next one runs
  local quick=()
  [ "${1:-}" = "--quick" ] && quick=(--quick)
  # Nsight Compute over one f16 decode pass 1 (32k keys, partition ATTENTION_PROFILE_PARTITION): where
  # its time goes (memory throughput, occupancy, warp stalls); ATTENTION_PROFILE=1 inside session.sh.
  if [ "${1:-}" = "--profile" ] || [ "${ATTENTION_PROFILE:-0}" = 1 ]; then
    local ncu
    ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -n 1)
    if [ -z "$ncu" ]; then echo "no ncu on this machine" | tee "$out/attention/decode-profile.txt"; return; fi
    timeout -k 5 "${ATTENTION_CUDA_S:-240}" "$ncu" --kernel-name regex:decode_mma_partial --launch-skip 2 --launch-count 1 \
      --section SpeedOfLight --section MemoryWorkloadAnalysis --section Occupancy --section LaunchStats --section WarpStateStats --section SchedulerStats \
      node .gpu-carry/attention-check.mjs --backend cuda --out "$out" --partition-sweep --sweep-lengths 32768 --partitions "${ATTENTION_PROFILE_PARTITION:-8192}" \
      > "$out/attention/decode-profile.txt" 2>&1 || echo "ncu ended with status $?"
    tail -n 120 "$out/attention/decode-profile.txt"
    return
  fi
  # decode and KIVI only, at every partition size (attention-check.ts); ATTENTION_PARTITION_SWEEP=1 inside session.sh
  if [ "${1:-}" = "--partition-sweep" ] || [ "${ATTENTION_PARTITION_SWEEP:-0}" = 1 ]; then
    timeout -k 5 "${ATTENTION_CUDA_S:-240}" node .gpu-carry/attention-check.mjs --backend cuda --out "$out" --partition-sweep || echo "cuda sweep ended with status $?"
    timeout -k 5 "${ATTENTION_WEBGPU_S:-75}" node .gpu-carry/attention-check.mjs --backend webgpu --out "$out" --partition-sweep || echo "webgpu sweep ended with status $?"
    return
  fi
  # Hard limits per step (seconds; override with ATTENTION_TORCH_S / _CUDA_S / _WEBGPU_S): at most 225 s
  # in all (about 50 s measured on an H100/H200 before the prefix-shared timing, the statistics
  # kernels and the prefill rows were added; not re-measured since). Prefill adds up to ~20 s per
  # backend: sizes whose estimated time would pass that are skipped (attention-check.ts). The CUDA step pays the first NVRTC compile of the
  # modules (the split-K one, now with the statistics and prefix kernels, takes ~37 s of CPU with nvcc
  # for two architectures on the 2-core build machine); it times decode before the parity cases, so
  # their compiles cannot cost the numbers; the prefix-shared timing comes last. CUDA also times
  # 128k keys and every decode twice (the tensor-core pass and the 16-byte pass forced), prefill up
  # to 4k three times (64-row and 16-row tensor-core passes, 16-byte pass), and the decode module now
  # holds the tensor-core kernels too (nvcc here, sm_90 -O1: 73 s for it, 26 s for KIVI's): +125 s.
  timeout -k 5 "${ATTENTION_TORCH_S:-35}" python3 tooling/gpu/attention_torch.py --out "$out" "${quick[@]}" 2>&1 | tail -n 8 || echo "torch baseline failed or timed out"
  timeout -k 5 "${ATTENTION_CUDA_S:-240}" node .gpu-carry/attention-check.mjs --backend cuda --out "$out" "${quick[@]}" || echo "cuda check ended with status $?"
  timeout -k 5 "${ATTENTION_WEBGPU_S:-75}" node .gpu-carry/attention-check.mjs --backend webgpu --out "$out" "${quick[@]}" || echo "webgpu check ended with status $?"
  node .gpu-carry/attention-check.mjs --summarize --out "$out"
}

gpu_main "$@"
