#!/usr/bin/env bash
# llm-parity.sh as one check of session.sh: the transformers parity fixtures of every variant of the
# PyTorch reference (see llm-parity.sh for what comes back and how to unpack it).
#
#   Here:    bash tooling/gpu/llm-parity-check.sh prepare     (nothing to build: transformers runs there)
#   There:   bash tooling/gpu/session.sh run … llm-parity …   ($OUT/llm-parity-fixtures.tar.gz in the session archive)
set -euo pipefail
case "${1:-}" in
  prepare) echo "llm-parity: nothing to prepare (random-initialized models are built on the GPU machine)" ;;
  run) bash "$(dirname "$0")/llm-parity.sh" ;;
  *) echo "usage: $0 prepare | run" >&2; exit 2 ;;
esac
