"""Device timing shared by the PyTorch baseline scripts."""
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
