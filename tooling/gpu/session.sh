#!/usr/bin/env bash
# Several GPU checks in one device call (a session has 15 minutes of device time, starts included),
# their results packed as one archive because only a few files come back from $OUT.
#
#   Here:   bash tooling/gpu/session.sh prepare [CHECK...]
#   There (device tool, carry [".gpu-carry"], timeout_s 600):   bash tooling/gpu/session.sh run [CHECK...]
#       CHECK: llm, attention, kv-quant, cuda, webgpu, kernel-methods, llm-parity (default: all but llm-parity, in that order; each keeps its own
#       time bounds, SESSION_S (default 540) stops starting new ones late, and SESSION_LIMIT_S (default 580)
#       stops a check still running then, so the archive is always written before the device call's limit).
#       writes $OUT/session.log (everything printed) and $OUT/results.tar.gz (each check's files).
#   Back here:   mkdir -p .gpu-out && tar -xzf <files_at>/results.tar.gz -C .gpu-out
set -euo pipefail
here=$(dirname "$0")
mode=${1:-}
shift || true
checks=("$@")
[ ${#checks[@]} -gt 0 ] || checks=(llm attention kv-quant cuda webgpu kernel-methods)
for c in "${checks[@]}"; do
  [ -f "$here/$c-check.sh" ] || { echo "unknown check '$c' (no $here/$c-check.sh)" >&2; exit 2; }
done

case "$mode" in
  prepare)
    for c in "${checks[@]}"; do echo "== prepare $c"; bash "$here/$c-check.sh" prepare; done
    ;;
  run)
    out=${OUT:-$PWD/.gpu-out}
    mkdir -p "$out"
    work=$(mktemp -d)
    start=$SECONDS
    {
      for c in "${checks[@]}"; do
        if [ $((SECONDS - start)) -ge "${SESSION_S:-540}" ]; then echo "== $c skipped: session time spent"; continue; fi
        echo "== $c (at ${SECONDS}s)"
        left=$(( ${SESSION_LIMIT_S:-580} - (SECONDS - start) ))
        [ "$left" -gt 0 ] || { echo "== $c skipped: SESSION_LIMIT_S reached"; continue; }
        OUT="$work/$c" timeout -k 5 "$left" bash "$here/$c-check.sh" run || echo "== $c ended with status $? (124: stopped at SESSION_LIMIT_S)"
      done
      echo "== done at ${SECONDS}s"
    } 2>&1 | tee "$out/session.log"
    tar -C "$work" -czf "$out/results.tar.gz" .
    ;;
  *)
    echo "usage: $0 prepare | run [CHECK...]" >&2
    exit 2
    ;;
esac
