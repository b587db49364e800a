"""Checkpoints without pickle: tensors in one safetensors file, everything else as JSON.

A checkpoint is a single ``.safetensors`` file. Its tensors are the model weights (``model.*``)
and every tensor found in the training state (optimiser moments, RNG states, ...), stored under
the path that leads to them. The rest of the state (epoch, step, metrics, optimiser
hyper-parameters, scheduler counters, callback state, the model's ``prism_spec`` and the run
configuration) is JSON, kept in the safetensors header under the key ``"tensorprism"`` and also
written beside the file as ``<name>.json`` for people to read. Loading reads only the safetensors
file and never unpickles anything.

Files are written atomically: to a temporary file in the same directory, flushed to disk, then
moved over the destination with :func:`os.replace`, so a crash (or SIGKILL) mid-write leaves the
previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError

FORMAT = "tensorprism-checkpoint/1"
_TENSOR, _NDARRAY, _TUPLE, _ITEMS = "__tensor__", "__ndarray__", "__tuple__", "__items__"


def encode_state(obj: Any, tensors: dict[str, torch.Tensor], path: str) -> Any:
    """JSON-able copy of ``obj`` in which every tensor is moved to ``tensors[path]`` and referenced.

    Tuples, dicts with non-string keys and NumPy arrays are tagged so that :func:`decode_state`
    restores them exactly.
    """
    if isinstance(obj, torch.Tensor):
        tensors[path] = obj
        return {_TENSOR: path}
    if isinstance(obj, np.ndarray):
        tensors[path] = torch.from_numpy(np.ascontiguousarray(obj))
        return {_NDARRAY: path}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            return {k: encode_state(v, tensors, f"{path}.{k}") for k, v in obj.items()}
        return {_ITEMS: [[k, encode_state(v, tensors, f"{path}.{k}")] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {_TUPLE: [encode_state(v, tensors, f"{path}.{i}") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [encode_state(v, tensors, f"{path}.{i}") for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    raise CheckpointError(
        f"cannot store a {type(obj).__name__} at {path!r} in a checkpoint: only tensors, arrays, "
        f"numbers, strings, lists, tuples and dicts are allowed (no pickled objects)"
    )


def decode_state(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`encode_state`."""
    if isinstance(obj, dict):
        if _TENSOR in obj:
            return tensors[obj[_TENSOR]]
        if _NDARRAY in obj:
            return tensors[obj[_NDARRAY]].numpy()
        if _TUPLE in obj:
            return tuple(decode_state(v, tensors) for v in obj[_TUPLE])
        if _ITEMS in obj:
            return {k: decode_state(v, tensors) for k, v in obj[_ITEMS]}
        return {k: decode_state(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode_state(v, tensors) for v in obj]
    return obj


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` then atomically move the temporary file onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    def write(tmp: str) -> None:
        Path(tmp).write_text(text)

    atomic_write(path, write)


def _unshare(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CPU, contiguous tensors with no two sharing storage (safetensors refuses shared memory)."""
    out, seen = {}, set()
    for key, t in tensors.items():
        t = t.detach().cpu().contiguous()
        ptr = (t.untyped_storage().data_ptr(), t.storage_offset()) if t.numel() else None
        if ptr is not None and ptr in seen:
            t = t.clone()
        elif ptr is not None:
            seen.add(ptr)
        out[key] = t
    return out


def save_checkpoint(path: str | os.PathLike, model_state: dict[str, torch.Tensor],
                    state: dict[str, Any]) -> Path:
    """Write ``model_state`` and the JSON-able-with-tensors ``state`` to ``path`` atomically."""
    from safetensors.torch import save_file

    path = Path(path)
    tensors: dict[str, torch.Tensor] = {f"model.{k}": v for k, v in model_state.items()}
    meta = {"format": FORMAT, **encode_state(state, tensors, "state")}
    tensors = _unshare(tensors)
    text = json.dumps(meta)
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata={"tensorprism": text}))
    atomic_write_text(path.with_suffix(".json"), json.dumps(_readable(meta), indent=1))
    return path


def _readable(meta: dict[str, Any]) -> dict[str, Any]:
    """The parts of the metadata worth reading (the big optimiser/RNG blocks are left out)."""
    skip = {"optimizers", "schedulers", "rng", "scaler", "callbacks"}
    return {k: v for k, v in meta.items() if k not in skip}


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(model_state, state)`` of a checkpoint file (never unpickles)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}; expected a .safetensors file written by the Trainer")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as fh:
            header = fh.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path} is not a readable safetensors checkpoint: {exc}") from exc
    if "tensorprism" not in header:
        # Plain weights (e.g. exported by another library): accept them as a model state.
        return tensors, {}
    meta = json.loads(header["tensorprism"])
    if meta.pop("format", None) != FORMAT:
        raise CheckpointError(f"{path} has an unknown checkpoint format; expected {FORMAT}")
    model_state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    return model_state, decode_state(meta, tensors)


def resolve_checkpoint(path: str | os.PathLike, prefer: str = "last") -> Path:
    """A checkpoint file from a file path, a run directory or its ``checkpoints/`` folder.

    In a directory, ``<prefer>.safetensors`` is taken if present, else ``last.safetensors``.
    """
    p = Path(path)
    if p.is_file():
        return p
    for folder in (p / "checkpoints", p):
        for name in (prefer, "last", "best"):
            candidate = folder / f"{name}.safetensors"
            if candidate.is_file():
                return candidate
    raise CheckpointError(
        f"no checkpoint found at {p}: expected a .safetensors file or a run directory containing "
        f"checkpoints/{prefer}.safetensors or checkpoints/last.safetensors"
    )


def load_model(path: str | os.PathLike, prefer: str = "last", map_location: str = "cpu") -> torch.nn.Module:
    """Rebuild a registered model from a checkpoint (or run directory) and load its weights."""
    from ..models import create_model

    ckpt = resolve_checkpoint(path, prefer)
    model_state, state = read_checkpoint(ckpt)
    spec = state.get("model_spec")
    if not spec:
        raise CheckpointError(
            f"{ckpt} does not record which model it holds (no prism_spec); build the model yourself "
            f"and call load_weights(model, {str(ckpt)!r})"
        )
    model = create_model(spec["name"], **spec.get("config", {}))
    load_weights(model, model_state, source=str(ckpt))
    return model.to(map_location)


def load_weights(model: torch.nn.Module, weights: dict[str, torch.Tensor] | str | os.PathLike,
                 source: str = "") -> torch.nn.Module:
    """Load a state dict (or a checkpoint file's weights) with a clear error on mismatch."""
    if not isinstance(weights, dict):
        source = str(weights)
        weights, _ = read_checkpoint(resolve_checkpoint(weights))
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise CheckpointError(
            f"weights from {source or 'the checkpoint'} do not fit {type(model).__name__}: "
            f"{' '.join(line.strip() for line in first[:3])}"
        ) from exc
    return model


__all__ = [
    "save_checkpoint", "read_checkpoint", "resolve_checkpoint", "load_model", "load_weights",
    "encode_state", "decode_state", "atomic_write", "atomic_write_text",
]
