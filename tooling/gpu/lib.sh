# Shared steps of the tooling/gpu/*-check.sh scripts; source it, then call the functions.
#
# Here (build machine):  gpu_prepare_carry; gpu_bundle tooling/gpu/x.ts x.mjs; gpu_copy_cuda_addon
# There (GPU machine):   gpu_enter   (Node on PATH, Vulkan loader + glvnd installed, CUDA/Dawn paths exported)

gpu_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Packs Node, Debian's Vulkan loader and Dawn into .gpu-carry (the shared gpu-carry tool) plus the
# glvnd libraries NVIDIA's Vulkan ICD (libGLX_nvidia) needs and that machine lacks: without them the
# loader finds "no drivers". The prelude unpacks every .deb in .gpu-carry/debs there.
gpu_prepare_carry() {
  local carry_tool=${GPU_CARRY_TOOL:-/work/shared/tools/gpu-carry.sh}
  (
    cd "$gpu_root" || exit 1
    if [ -f "$carry_tool" ]; then bash "$carry_tool" >/dev/null; else
      echo "no gpu-carry tool at $carry_tool (set GPU_CARRY_TOOL): packing Node only, WebGPU will be missing there" >&2
      mkdir -p .gpu-carry && { [ -s .gpu-carry/node.xz ] || xz -T2 -6 -c "$(command -v node)" > .gpu-carry/node.xz; }
    fi
    if [ -d .gpu-carry/debs ] && ! ls .gpu-carry/debs/libglvnd0_*.deb >/dev/null 2>&1; then
      (cd .gpu-carry/debs && o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/kvkit-apt-lists' \
        && mkdir -p /tmp/kvkit-apt-lists/partial && apt-get $o update >/dev/null \
        && apt-get $o download libglvnd0 libglx0 libgl1 libegl1 libopengl0 libgles2 >/dev/null) || echo "glvnd download failed: WebGPU will report no adapter there" >&2
    fi
  )
}

# gpu_bundle ENTRY.ts OUT.mjs: one self-contained ESM file under .gpu-carry (bundle.mjs: CUDA C sources
# inlined as text, .wat compiled to bytes; `require` defined for the addon loader).
gpu_bundle() {
  (cd "$gpu_root" && node tooling/gpu/bundle.mjs "$1" ".gpu-carry/$2")
}

# The addon, and @kvkit/cuda-runtime itself as .gpu-carry/node_modules/@kvkit/cuda-runtime: tensor-core
# imports that optional peer by a name bundlers leave alone (openBackend('cuda')), so a bundle finds
# it there by Node's resolution from .gpu-carry/.
gpu_copy_cuda_addon() {
  cp "$gpu_root/packages/cuda-runtime/build/Release/kvkit_cuda.node" "$gpu_root/.gpu-carry/kvkit_cuda.node"
  local package="$gpu_root/.gpu-carry/node_modules/@kvkit/cuda-runtime"
  mkdir -p "$package"
  (cd "$gpu_root" && node tooling/gpu/bundle.mjs packages/cuda-runtime/src/index.ts "$package/index.mjs")
  printf '{ "name": "@kvkit/cuda-runtime", "type": "module", "exports": "./index.mjs" }\n' > "$package/package.json"
}

# On the GPU machine: the prelude (Node, Vulkan loader, glvnd, VK_DRIVER_FILES), then the paths the
# bundles read. Its steps report their own failures; the checks then say what is missing.
gpu_enter() {
  set +e
  # shellcheck disable=SC1091
  [ -f "$gpu_root/.gpu-carry/prelude.sh" ] && source "$gpu_root/.gpu-carry/prelude.sh" >/dev/null 2>&1
  if ! command -v node >/dev/null 2>&1; then
    xz -d -c "$gpu_root/.gpu-carry/node.xz" > /tmp/node && chmod +x /tmp/node && mkdir -p /tmp/nodebin && ln -sf /tmp/node /tmp/nodebin/node
    export PATH=/tmp/nodebin:$PATH
  fi
  set -e
  export KVKIT_CUDA_ADDON="$gpu_root/.gpu-carry/kvkit_cuda.node"
  export KVKIT_CUDA_CACHE=${KVKIT_CUDA_CACHE:-/tmp/kvkit-cuda-cache}
  [ -s "$gpu_root/.gpu-carry/dawn.node" ] && export KVKIT_DAWN_NODE="$gpu_root/.gpu-carry/dawn.node"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
}

# gpu_require_bundle NAME.mjs SCRIPT: fails with the prepare command when the bundle is missing.
gpu_require_bundle() {
  [ -s "$gpu_root/.gpu-carry/$1" ] || { echo "no .gpu-carry/$1: run 'bash $2 prepare' here first" >&2; exit 2; }
}

# gpu_main "$@" — the command line every check script shares: `prepare` here, `run [options]` there.
# The script defines the functions prepare and run; they start in the repository root.
gpu_main() {
  local mode=${1:-}
  shift || true
  cd "$gpu_root"
  case "$mode" in
    prepare) prepare "$@" ;;
    run) run "$@" ;;
    *)
      echo "usage: $0 prepare | run [options]" >&2
      exit 2
      ;;
  esac
}

# gpu_clock_sampler_start FILE: samples the GPU's pstate, SM/memory clocks, power and utilization
# every 100 ms into FILE (CSV, line-buffered so a bench can read it while it runs) until
# gpu_clock_sampler_stop. Returns 1 (and samples nothing) where nvidia-smi is missing.
gpu_clock_sampler_pid=
gpu_clock_sampler_start() {
  command -v nvidia-smi >/dev/null 2>&1 || return 1
  local line_buffered=()
  command -v stdbuf >/dev/null 2>&1 && line_buffered=(stdbuf -oL)
  "${line_buffered[@]}" nvidia-smi --query-gpu=timestamp,pstate,clocks.sm,clocks.mem,power.draw,utilization.gpu --format=csv -lms 100 > "$1" 2>/dev/null &
  gpu_clock_sampler_pid=$!
}

gpu_clock_sampler_stop() {
  [ -n "$gpu_clock_sampler_pid" ] || return 0
  kill "$gpu_clock_sampler_pid" 2>/dev/null || true
  wait "$gpu_clock_sampler_pid" 2>/dev/null || true
  gpu_clock_sampler_pid=
}
