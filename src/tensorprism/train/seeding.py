"""Deterministic seeding and capture/restore of every random number generator the loop uses."""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch (CPU and all GPUs).

    With ``deterministic=True`` also ask torch for deterministic kernels (cuDNN autotuning off,
    ``torch.use_deterministic_algorithms``), which can be slower on a GPU. On a CPU the Trainer's
    results are reproducible bit for bit without it.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
        torch.use_deterministic_algorithms(True, warn_only=True)


def rng_state() -> dict[str, Any]:
    """The state of every global generator (tensors/arrays are stored as tensors in checkpoints)."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured (JSON round-trips lists, so re-tuple them)."""

    def tuplify(x: Any) -> Any:
        return tuple(tuplify(v) for v in x) if isinstance(x, (list, tuple)) else x

    if "python" in state:
        random.setstate(tuplify(state["python"]))
    if "numpy" in state:
        np.random.set_state(tuple(state["numpy"]))
    if "torch" in state:
        torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
