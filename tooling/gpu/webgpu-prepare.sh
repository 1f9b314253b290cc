#!/usr/bin/env bash
# Prepares .gpu-carry/ (git-ignored) for tooling/gpu/webgpu-check.sh. Run it here, where npm and the
# registry are; the GPU machine has neither Node nor a Vulkan loader. Follows the shared gpu-carry
# conventions:
#   node.xz            this machine's Node binary (~24 MB)
#   debs/              Debian's Vulkan loader (libvulkan1), so Dawn finds the NVIDIA Vulkan driver there
#   dawn.node.xz       Dawn for Node, from node_modules/webgpu
#   prelude.sh         sourced there: unpacks Node and Dawn, installs the loader, sets the Vulkan env
#   webgpu-bench.mjs   packages/tensor-core/bench/webgpu-bench.ts with everything inlined (it loads
#                      Dawn from KVKIT_DAWN_NODE, so no node_modules travel)
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
grep -qxF '.gpu-carry/' .gitignore 2>/dev/null || echo '.gpu-carry/' >> .gitignore
mkdir -p .gpu-carry/debs
[ -s .gpu-carry/node.xz ] || xz -T2 -6 -c "$(command -v node)" > .gpu-carry/node.xz
if ! ls .gpu-carry/debs/libvulkan1_*.deb >/dev/null 2>&1; then
  mkdir -p /tmp/amd64/partial
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  # shellcheck disable=SC2086
  apt-get $o update >/dev/null && (cd .gpu-carry/debs && apt-get $o download libvulkan1 >/dev/null 2>&1)
fi
dawn=node_modules/webgpu/dist/linux-x64/dawn.node
[ -s "$dawn" ] || { echo "missing $dawn: run npm ci first" >&2; exit 1; }
[ -s .gpu-carry/dawn.node.xz ] || xz -T2 -6 -c "$dawn" > .gpu-carry/dawn.node.xz
cat > .gpu-carry/prelude.sh <<'PRE'
# source .gpu-carry/prelude.sh  (on the GPU machine)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ -x /tmp/node ] || { xz -d -c "$here/node.xz" > /tmp/node && chmod +x /tmp/node; }
mkdir -p /tmp/nodebin && ln -sf /tmp/node /tmp/nodebin/node && export PATH=/tmp/nodebin:$PATH
for f in "$here"/debs/*.deb; do dpkg -x "$f" /; done; ldconfig
[ -s "$here/dawn.node.xz" ] && [ ! -s "$here/dawn.node" ] && xz -d -c "$here/dawn.node.xz" > "$here/dawn.node"
export XDG_RUNTIME_DIR=/tmp VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
echo "prelude: node $(node --version); GPU: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null)"
PRE
npx esbuild packages/tensor-core/bench/webgpu-bench.ts --bundle --platform=node --format=esm --target=node20 \
  --outfile=.gpu-carry/webgpu-bench.mjs --log-level=warning
du -sh .gpu-carry
ls -la .gpu-carry
