"""What a compressed model costs to run: CPU latency measured the same way for every variant."""

from __future__ import annotations

import statistics
import time

import torch
from torch import Tensor, nn

__all__ = ["cpu_latency"]


def cpu_latency(model: nn.Module, example: Tensor | tuple, *, repeats: int = 20, warmup: int = 3,
                threads: int | None = 1) -> float:
    """Median seconds of one forward pass of ``model`` on ``example`` on the CPU (inference mode).

    ``threads`` fixes torch's intra-op threads for the measurement (restored afterwards), so fp32,
    int8 and pruned variants are compared on the same footing; compare ratios measured side by side
    in one process, never numbers from different runs or machines.
    """
    args = example if isinstance(example, tuple) else (example,)
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        model.eval()
        times = []
        with torch.inference_mode():
            for i in range(warmup + repeats):
                t0 = time.perf_counter()
                model(*args)
                if i >= warmup:
                    times.append(time.perf_counter() - t0)
        return statistics.median(times)
    finally:
        torch.set_num_threads(before)
