"""The GPU measurements, one section per call (``benchmarks/gpu_suite.sh`` runs them all).

    python benchmarks/gpu_suite.py SECTION --out DIR [--dry-run]

Sections (each writes ``DIR/<section>.json``):

* ``mfu``: GPT-2 small (124M) training throughput in bf16 and its model FLOPs utilisation.
  FLOPs per token ``6 N + 12 L H Q T`` (Chinchilla/PaLM appendix B; nanoGPT's ``estimate_mfu``):
  ``N`` parameters without the position table, ``L`` layers, ``H`` heads, ``Q`` head width, ``T``
  context; ``MFU = tokens/s x FLOPs/token / peak``, the peak being the card's dense bf16 tensor
  throughput from :data:`PEAK_BF16_TFLOPS`.
* ``resnet20``: the ``ch04-cifar10-resnet20`` recipe (He et al. 2016's ResNet-20, SGD + one-cycle,
  crop+flip) on CIFAR-10: wall time and test accuracy (91 % is the published full-schedule result).
* ``fastcifar``: ``benchmarks/fast_cifar10.py``, a short ResNet-9-style run towards 94 % test
  accuracy (airbench's published record: 94 % in about 3.3 s on one A100).
* ``trainer``: the Trainer's device paths under torchrun: AMP (bf16 autocast, fp16 with loss
  scaling), DDP and FSDP over NCCL (gloo on CPUs), a few steps each; checks the losses are finite.

``--dry-run`` runs every section at tiny sizes on whatever device is present (a CPU in CI), with
synthetic images instead of CIFAR-10, so that the suite itself is tested and never rots.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import torch

#: dense (no sparsity) bf16 tensor-core peak, TFLOP/s, from the vendors' data sheets
PEAK_BF16_TFLOPS = {
    "H200": 989.4, "H100 SXM": 989.4, "H100 80GB HBM3": 989.4, "H100 PCIe": 756.0, "H100 NVL": 835.0,
    "A100": 312.0, "A10G": 70.0, "A10": 125.0, "L40S": 362.0, "L4": 121.0, "RTX 4090": 165.2,
}


def card_peak(name: str) -> float | None:
    """Peak TFLOP/s of a card from its ``torch.cuda.get_device_name`` (longest key contained)."""
    hits = [k for k in PEAK_BF16_TFLOPS if k.lower() in name.lower()]
    return PEAK_BF16_TFLOPS[max(hits, key=len)] if hits else None


def device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def write(out: Path, section: str, result: dict) -> None:
    result = {"section": section, "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
              "torch": torch.__version__, **result}
    (out / f"{section}.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result))


# ----------------------------------------------------------------------------- mfu
def flops_per_token(n_params: int, layers: int, heads: int, head_dim: int, context: int) -> float:
    return 6 * n_params + 12 * layers * heads * head_dim * context


def section_mfu(out: Path, dry: bool) -> None:
    from tensorprism.models.transformer.gpt import GPT, GPTConfig

    dev = device()
    # vocabulary padded to 50304 (a multiple of 64) as nanoGPT trains GPT-2 small
    cfg = GPTConfig(vocab_size=512, block_size=64, n_layer=2, n_head=2, n_embd=64) if dry else \
        GPTConfig(vocab_size=50304)
    batch, steps, warmup = (2, 3, 1) if dry else (16, 30, 10)
    torch.manual_seed(0)
    model = GPT(cfg).to(dev)
    fused = dev.type == "cuda"
    opt = torch.optim.AdamW(model.parameters(), lr=6e-4, betas=(0.9, 0.95), weight_decay=0.1, fused=fused)
    step_model = torch.compile(model) if dev.type == "cuda" else model
    tokens = torch.randint(0, cfg.vocab_size, (batch, cfg.block_size + 1), device=dev)
    x, y = tokens[:, :-1], tokens[:, 1:]
    dtype = torch.bfloat16

    def step() -> float:
        with torch.autocast(dev.type, dtype=dtype):
            logits = step_model(x)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    for _ in range(warmup):
        step()
    sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()
    sync()
    seconds = time.perf_counter() - t0
    n = sum(p.numel() for p in model.parameters()) - (model.wpe.weight.numel() if hasattr(model.wpe, "weight") else 0)
    fpt = flops_per_token(n, cfg.n_layer, cfg.n_head, cfg.n_embd // cfg.n_head, cfg.block_size)
    tok_s = batch * cfg.block_size * steps / seconds
    peak = card_peak(torch.cuda.get_device_name()) if dev.type == "cuda" else None
    write(out, "mfu", {
        "model": "gpt2-small" if not dry else "gpt-tiny", "params_non_embedding_pos": n, "batch": batch,
        "context": cfg.block_size, "steps": steps, "seconds": seconds, "tokens_per_s": tok_s,
        "flops_per_token": fpt, "achieved_tflops": tok_s * fpt / 1e12, "peak_tflops": peak,
        "mfu": tok_s * fpt / (peak * 1e12) if peak else None, "final_loss": float(loss),
        "note": "nanoGPT itself is not run here (not installed offline); compare with its MFU print on the same card",
    })


# ----------------------------------------------------------------------------- resnet20
def section_resnet20(out: Path, dry: bool) -> None:
    if dry:  # the recipe's code path on synthetic CIFAR-shaped data (no dataset on CI machines)
        from fast_cifar10 import synthetic_cifar

        from tensorprism.models import create_model
        from tensorprism.train import Trainer

        train, test = synthetic_cifar(64), synthetic_cifar(32, seed=1)
        model = create_model("resnet20-cifar", num_classes=10, in_chans=3)
        t0 = time.perf_counter()
        t = Trainer(model, train_data=train, test_data=test, epochs=1, batch_size=32, optimizer="sgd",
                    lr=0.1, optimizer_kwargs={"momentum": 0.9, "nesterov": True}, weight_decay=1e-4,
                    scheduler="onecycle", progress=False, tensorboard=False).fit()
        write(out, "resnet20", {"epochs": 1, "seconds": time.perf_counter() - t0,
                                "test_acc": t.final_metrics["test/acc"], "dry_run": True})
        return
    from tensorprism.recipes import run_recipe

    epochs = int(os.environ.get("RESNET20_EPOCHS", "30"))
    t0 = time.perf_counter()
    r = run_recipe("ch04-cifar10-resnet20", epochs=epochs, batch_size=128, channels_last=True, compile=True,
                   out_dir=str(out / "resnet20-run"), overwrite=True)
    write(out, "resnet20", {"epochs": epochs, "seconds": time.perf_counter() - t0, "train_wall_s": r["train_wall_s"],
                            "test_acc": r["test_acc"], "reached_91": r["test_acc"] >= 0.91})


# ----------------------------------------------------------------------------- fast cifar
def section_fastcifar(out: Path, dry: bool) -> None:
    from fast_cifar10 import run

    result = run(epochs=int(os.environ.get("FASTCIFAR_EPOCHS", "10")), dry=dry)
    write(out, "fastcifar", result)


# ----------------------------------------------------------------------------- trainer paths
def section_trainer(out: Path, dry: bool) -> None:
    """Run under torchrun: every precision the device offers, with DDP and FSDP."""
    from torch.utils.data import TensorDataset

    from tensorprism.models.transformer.gpt import GPT, GPTConfig
    from tensorprism.train import Trainer

    small = dict(vocab_size=256, block_size=32, n_layer=2, n_head=2, n_embd=32) if dry else \
        dict(vocab_size=50304, block_size=256, n_layer=6, n_head=8, n_embd=512)
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, small["vocab_size"], (32 if dry else 256, small["block_size"] + 1), generator=g)
    data = TensorDataset(tokens[:, :-1], tokens[:, 1:])
    cuda = torch.cuda.is_available()
    precisions = ["bf16", "16", "32"] if cuda else ["32", "bf16"]
    runs = []
    for strategy in ("ddp", "fsdp"):
        for precision in precisions:
            if strategy == "fsdp" and precision == "16":
                continue  # refused by design (fp16 loss scaling of sharded gradients)
            torch.manual_seed(0)
            t0 = time.perf_counter()
            t = Trainer(GPT(GPTConfig(**small)), "language-model", train_data=data, batch_size=4, max_steps=4,
                        epochs=1, lr=3e-4, strategy=strategy, precision=precision, progress=False,
                        tensorboard=False)
            t.fit()
            loss = t.history["train/loss"][-1]
            runs.append({"strategy": strategy, "precision": t.precision, "backend":
                         torch.distributed.get_backend() if t.distributed else "none", "world_size": t.world_size,
                         "sharded": t.sharded, "loss": loss, "finite": math.isfinite(loss),
                         "seconds": time.perf_counter() - t0})
    if int(os.environ.get("RANK", "0")) == 0:
        write(out, "trainer", {"runs": runs, "all_finite": all(r["finite"] for r in runs)})


SECTIONS = {"mfu": section_mfu, "resnet20": section_resnet20, "fastcifar": section_fastcifar,
            "trainer": section_trainer}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("section", choices=sorted(SECTIONS))
    p.add_argument("--out", default="gpu_suite_results")
    p.add_argument("--dry-run", action="store_true", help="tiny sizes, synthetic data, any device")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(Path(__file__).parent))
    if args.dry_run:
        torch.set_num_threads(1)
    SECTIONS[args.section](out, args.dry_run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
