#!/usr/bin/env bash
# Writes the Hugging Face transformers parity fixtures of @kvkit/llm. Runs on the GPU machine (where
# PyTorch, transformers and tokenizers are installed), from the repository root, with the device tool:
#
#   run(command: "bash tooling/gpu/llm-parity.sh", timeout_s: 300)
#
# It needs no network and no build: the models are random-initialized there. The result comes back as
# one archive ($OUT holds at most 8 files), plus the log:
#
#   $OUT/llm-parity-fixtures.tar.gz   transformers/<architecture>/{config.json, model.safetensors | index + shards,
#                                     generation_config.json, reference.json}, transformers/tokenizer-kvkit-tiny.json
#   $OUT/llm-parity.log
#
# Then, back here:
#   mkdir -p packages/llm/test/fixtures && tar -xzf <files_at>/llm-parity-fixtures.tar.gz -C packages/llm/test/fixtures
#   npm test -w @kvkit/llm          # transformers-parity.test.ts stops skipping
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${OUT:-$PWD/.gpu-out}"
mkdir -p "$out"
work="$(mktemp -d)"
export PYTHONUNBUFFERED=1
python3 tooling/gpu/llm-parity-fixtures.py --out "$work/transformers" --tokenizer models/kvkit-tiny/tokenizer.json 2>&1 | tee "$out/llm-parity.log"
tar -C "$work" -czf "$out/llm-parity-fixtures.tar.gz" transformers
du -sh "$work/transformers" | tee -a "$out/llm-parity.log"
