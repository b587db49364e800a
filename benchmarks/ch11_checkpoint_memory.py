"""Peak memory and time of one training step with and without activation checkpointing, on the CPU.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/ch11_checkpoint_memory.py [--repeats 2]

Method: each (model, variant) runs in a fresh process (``multiprocessing`` spawn). The process
builds the model and its input batch, reads its resident set size (``/proc/self/statm``), runs
one forward + backward of ``logits.logsumexp(-1).mean()``, and reads its peak resident set size
(``ru_maxrss``). Their difference is the step's peak extra memory: the activations stored for the
backward pass, the parameter gradients (the same in both variants) and the temporaries of the
backward pass. The child processes run with ``MALLOC_MMAP_THRESHOLD_=65536`` and
``MALLOC_TRIM_THRESHOLD_=0``: glibc then serves every tensor above 64 KiB with ``mmap`` and returns it
on free (by default it raises the threshold after the first large free and keeps freed memory in
its heap), so the resident set follows the live tensors. The step time is measured in the same
process. Prints one JSON object with the median over ``--repeats`` processes per variant.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import statistics
import time

CASES = {  # model, its settings, input
    "resnet18 (224², batch 16)": ("resnet18", {}, ("image", 16, 224)),
    "resnet18-cifar (32², batch 64)": ("resnet18-cifar", {}, ("image", 64, 32)),
    "vit-small-patch16 (224², batch 16)": ("vit-small-patch16", {}, ("image", 16, 224)),
    "gpt-char 8 layers (context 256, batch 32)": ("gpt-char", {"n_layer": 8, "block_size": 256}, ("tokens", 32, 256)),
}


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _step(case: str, ckpt: bool, queue) -> None:
    import torch

    from tensorprism.models import create_model

    torch.set_num_threads(1)
    torch.manual_seed(0)
    name, settings, (kind, batch, size) = CASES[case]
    model = create_model(name, **settings)
    blocks = model.set_grad_checkpointing(True) if ckpt else 0
    x = torch.randn(batch, 3, size, size) if kind == "image" else torch.randint(0, model.vocab_size, (batch, size))
    before = _rss_bytes()
    t0 = time.perf_counter()
    out = model(x)
    out = out[0] if isinstance(out, tuple) else out
    out.logsumexp(-1).mean().backward()
    step_s = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    grads = sum(p.grad.numel() * p.grad.element_size() for p in model.parameters() if p.grad is not None)
    queue.put({"peak_extra_mib": (peak - before) / 2**20, "step_s": step_s, "blocks": blocks,
               "grad_mib": grads / 2**20})


def measure(case: str, ckpt: bool, repeats: int) -> dict:
    ctx = mp.get_context("spawn")
    runs = []
    for _ in range(repeats):
        q = ctx.Queue()
        p = ctx.Process(target=_step, args=(case, ckpt, q))
        p.start()
        runs.append(q.get())
        p.join()
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def main() -> None:
    os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", "65536")  # inherited by the spawned processes
    os.environ.setdefault("MALLOC_TRIM_THRESHOLD_", "0")
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--cases", nargs="*", default=list(CASES))
    args = ap.parse_args()
    rows = []
    for case in args.cases:
        plain = measure(case, False, args.repeats)  # interleaved per case: a load change hits both
        ckpt = measure(case, True, args.repeats)
        rows.append({"case": case, "plain": plain, "checkpointed": ckpt,
                     "memory_ratio": ckpt["peak_extra_mib"] / plain["peak_extra_mib"],
                     "time_ratio": ckpt["step_s"] / plain["step_s"]})
        print(json.dumps(rows[-1]), flush=True)
    print(json.dumps({"rows": rows}, indent=1))


if __name__ == "__main__":
    main()
