#!/usr/bin/env bash
# Trains models/kvkit-tiny on the GPU machine with tooling/model-recipe/train.py and sends the
# exported directory back as $OUT/kvkit-tiny.tar.gz (config, f16 safetensors, tokenizer, training.json,
# the training log).
#
#   Here:   the recipe's data steps (prepare-data.mjs, train_bpe.py, tokenize.mjs), then
#           mkdir -p .gpu-carry/recipe-data && (cd tooling/model-recipe/build/data && tar -cf - train.u16 \
#             validation.u16 test.u16 test.jsonl passkey.u16 passkey.idx passkey-eval.json) \
#             | xz -T2 -6 > .gpu-carry/recipe-data/data.tar.xz && cp tooling/model-recipe/build/tokenizer.json .gpu-carry/recipe-data/
#   There (device tool, carry [".gpu-carry"]):   bash tooling/gpu/train-model.sh
#   Back here:   tar -xzf <files_at>/kvkit-tiny.tar.gz -C models/kvkit-tiny
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${OUT:-$root/.gpu-out}
work=$(mktemp -d)
mkdir -p "$out" "$work/data" "$work/model"
xz -d -c "$root/.gpu-carry/recipe-data/data.tar.xz" | tar -xf - -C "$work/data"
cd "$root/tooling/model-recipe"
export PYTHONUNBUFFERED=1
# ~12 passes over the 3.9 M training tokens (a fifth of the rows passkey documents, half the tokens at
# full context); validation picks the exported checkpoint, so passes past the best one cost nothing but time.
python3 train.py --data "$work/data" --tokenizer "$root/.gpu-carry/recipe-data/tokenizer.json" --out "$work/model" \
  --layers 6 --context 2048 --short-context 256 --max-tokens 45e6 --minutes 3 --passkey-share 0.2 --long-share 0.5 --eval-every 0.1 --eval-tokens 65536 --threads 8 \
  2>&1 | tee "$work/model/train.log"
tar -C "$work/model" -czf "$out/kvkit-tiny.tar.gz" .
ls -la "$work/model"
