"""Per-process parameter + optimiser memory of DDP against FSDP, and their losses, on 2 CPU processes.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/fsdp_memory.py [--layers 8 --width 768 --steps 3]

Trains the same GPT (default 8 layers x 768 wide, vocabulary 8192: 63.0M parameters) with
``strategy="ddp"`` then ``strategy="fsdp"`` for a few AdamW steps on the same random tokens, on two
forked gloo processes (torchrun's environment variables). Each process reports the bytes of the
parameters and optimiser state it holds after the last step (local shards under FSDP), its peak
resident memory, and the loss of every step. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import socket
import sys
import tempfile


def _worker(rank: int, port: int, strategy: str, args: argparse.Namespace, out: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    import torch
    from torch.utils.data import TensorDataset

    from tensorprism.models.transformer.gpt import GPT, GPTConfig
    from tensorprism.train import Callback, Trainer

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=args.vocab, block_size=args.seq, n_layer=args.layers, n_head=12,
                          n_embd=args.width))
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, args.vocab, (2 * args.batch * args.steps, args.seq + 1), generator=g)
    data = TensorDataset(tokens[:, :-1], tokens[:, 1:])

    class Losses(Callback):
        def __init__(self):
            self.values = []

        def on_train_batch_end(self, trainer, outputs):
            self.values.append(float(outputs["loss"]))

    losses = Losses()
    t = Trainer(model, "language-model", train_data=data, batch_size=args.batch, max_steps=args.steps,
                epochs=1, lr=1e-4, strategy=strategy, shuffle=False, progress=False, tensorboard=False,
                callbacks=[losses])
    t.fit()

    def nbytes(x):
        x = x.to_local() if hasattr(x, "to_local") else x
        return x.numel() * x.element_size()

    params = sum(nbytes(p) for p in t.model.parameters())
    optim = sum(nbytes(v) for opt in t.optimizers for s in opt.state.values() for v in s.values()
                if isinstance(v, torch.Tensor))
    # losses are per-rank batch means; their average over ranks is the global-batch loss
    import torch.distributed as dist

    mean = torch.tensor(losses.values, dtype=torch.float64)
    dist.all_reduce(mean)
    result = {"rank": rank, "params_mb": params / 2**20, "optim_mb": optim / 2**20,
              "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
              "losses": (mean / 2).tolist(), "numel": sum(p.numel() for p in t.model.parameters())}
    with open(f"{out}/{strategy}-{rank}.json", "w") as fh:
        json.dump(result, fh)
    dist.destroy_process_group()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--layers", type=int, default=8)
    p.add_argument("--width", type=int, default=768)
    p.add_argument("--vocab", type=int, default=8192)
    p.add_argument("--seq", type=int, default=64)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--steps", type=int, default=3)
    args = p.parse_args()
    out = tempfile.mkdtemp()
    report = {}
    for strategy in ("ddp", "fsdp"):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        ctx = mp.get_context("spawn")  # a fresh interpreter per rank: peak RSS is the run's own
        procs = [ctx.Process(target=_worker, args=(r, port, strategy, args, out)) for r in (0, 1)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join()
        if any(proc.exitcode for proc in procs):
            sys.exit(f"{strategy} failed")
        report[strategy] = [json.load(open(f"{out}/{strategy}-{r}.json")) for r in (0, 1)]
    d, f = report["ddp"][0], report["fsdp"][0]
    report["summary"] = {
        "params_M": d["numel"] / 1e6,
        "ddp_param_plus_optim_mb_per_rank": d["params_mb"] + d["optim_mb"],
        "fsdp_param_plus_optim_mb_per_rank": [r["params_mb"] + r["optim_mb"] for r in report["fsdp"]],
        "ratio": max(r["params_mb"] + r["optim_mb"] for r in report["fsdp"]) / (d["params_mb"] + d["optim_mb"]),
        "peak_rss_mb": {"ddp": [r["peak_rss_mb"] for r in report["ddp"]],
                        "fsdp": [r["peak_rss_mb"] for r in report["fsdp"]]},
        "max_abs_loss_diff": max(abs(a - b) for a, b in zip(d["losses"], f["losses"], strict=True)),
        "losses": {"ddp": d["losses"], "fsdp": f["losses"]},
    }
    print(json.dumps(report["summary"], indent=1))


if __name__ == "__main__":
    main()
