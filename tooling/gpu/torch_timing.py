"""Device timing shared by the PyTorch baseline scripts."""
import math
import time

import torch


def time_ms(fn, reps):
    """Mean ms per call of fn: two warm-up calls, then CUDA events around reps calls."""
    fn()
    fn()
    torch.cuda.synchronize()
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / reps


def time_sustained(fn, warmup_ms=300.0, timed_ms=300.0, min_reps=20, max_reps=2000):
    """Per-call CUDA-event times of fn after a sustained warm-up (short bursts run at idle clocks).

    Warm-up: batches of doubling size (each at most ~100 ms) until warmup_ms of wall time passed.
    Then enough calls to fill timed_ms, each between its own pair of events, all inside one outer
    pair. Returns medianMs, bestMs, meanMs (outer events / calls), reps, and the timed window in
    epoch milliseconds (for matching nvidia-smi clock samples).
    """
    fn()
    torch.cuda.synchronize()
    started = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    per_call = (time.perf_counter() - started) * 1e3
    spent, batch = per_call, 1
    while spent < warmup_ms:
        batch = max(1, min(batch * 2, math.ceil(100.0 / max(per_call, 1e-3))))
        started = time.perf_counter()
        for _ in range(batch):
            fn()
        torch.cuda.synchronize()
        ms = (time.perf_counter() - started) * 1e3
        spent += ms
        per_call = ms / batch
    reps = max(min_reps, min(max_reps, math.ceil(timed_ms / max(per_call, 1e-3))))
    pairs = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(reps)]
    outer = (torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
    window_start = time.time() * 1e3
    outer[0].record()
    for start, end in pairs:
        start.record()
        fn()
        end.record()
    outer[1].record()
    torch.cuda.synchronize()
    window = [window_start, time.time() * 1e3]
    calls = sorted(start.elapsed_time(end) for start, end in pairs)
    middle = len(calls) // 2
    median = calls[middle] if len(calls) % 2 else (calls[middle - 1] + calls[middle]) / 2
    return {"medianMs": median, "bestMs": calls[0], "meanMs": outer[0].elapsed_time(outer[1]) / reps, "reps": reps, "window": window}
