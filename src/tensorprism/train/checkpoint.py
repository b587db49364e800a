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
previous checkpoint intact. They get the permissions of any file the user creates (``0o666`` less
the umask), not ``mkstemp``'s private ``0o600``.

Integrity: the header also holds a SHA-256 over every tensor's name, dtype, shape and bytes
(:func:`content_hash`); :func:`read_checkpoint` recomputes it and raises
:class:`~tensorprism.errors.CheckpointError` on a mismatch, so a flipped bit in a weight is never
evaluated silently. A broken header, a missing tensor reference or weights of the wrong dtype or
shape for the model raise ``CheckpointError`` too.

Run directories: :class:`RunLock` (``<out_dir>/.lock``, an exclusive ``flock`` holding the pid) keeps
two runs, or a run and a resume, from writing the same directory at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError, ConfigError

FORMAT = "tensorprism-checkpoint/1"
HASH_KEY = "tensorprism_sha256"
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
    """Call ``write(tmp_path)`` then atomically move the temporary file onto ``path``.

    The temporary file ``.<name>.<random>.tmp`` is created with mode ``0o666`` (the umask applies,
    as for any file the user creates); :func:`clean_temporary_files` removes those a killed writer
    left behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = str(path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp")
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
            os.fchmod(fh.fileno(), 0o666 & ~_umask())  # some writers (safetensors) recreate it 0600
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    """The process umask, read without changing it where /proc allows (os.umask can only set it)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


def clean_temporary_files(folder: str | os.PathLike) -> list[Path]:
    """Remove the ``.*.tmp`` files :func:`atomic_write` leaves when killed mid-write (call it only
    while holding the folder's :class:`RunLock`, so no live writer is interrupted)."""
    removed = []
    for sub in (Path(folder), Path(folder) / "checkpoints"):
        if sub.is_dir():
            for tmp in sub.glob(".*.tmp"):
                if tmp.is_dir() and not tmp.is_symlink():  # a sharded checkpoint's unfinished folder
                    import shutil

                    shutil.rmtree(tmp, ignore_errors=True)
                else:
                    tmp.unlink(missing_ok=True)
                removed.append(tmp)
    return removed


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically: a reader sees the old file or the new one, never a part."""
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


def content_hash(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over the tensors' names, dtypes, shapes and bytes, in name order (hex string)."""
    h = hashlib.sha256()
    for key in sorted(tensors):
        t = tensors[key].detach().cpu().contiguous()
        h.update(f"{key}|{str(t.dtype).replace('torch.', '')}|{tuple(t.shape)}|".encode())
        if t.numel():
            h.update(memoryview(t.reshape(-1).view(torch.uint8).numpy()))
    return h.hexdigest()


def save_checkpoint(path: str | os.PathLike, model_state: dict[str, torch.Tensor],
                    state: dict[str, Any]) -> Path:
    """Write ``model_state`` and the JSON-able-with-tensors ``state`` to ``path`` atomically,
    with the tensors' :func:`content_hash` in the header."""
    from safetensors.torch import save_file

    path = Path(path)
    tensors: dict[str, torch.Tensor] = {f"model.{k}": v for k, v in model_state.items()}
    meta = {"format": FORMAT, **encode_state(state, tensors, "state")}
    tensors = _unshare(tensors)
    header = {"tensorprism": json.dumps(meta), HASH_KEY: content_hash(tensors)}
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=header))
    atomic_write_text(path.with_suffix(".json"), json.dumps(_readable(meta), indent=1))
    return path


def _readable(meta: dict[str, Any]) -> dict[str, Any]:
    """The parts of the metadata worth reading (the big optimiser/RNG blocks are left out)."""
    skip = {"optimizers", "schedulers", "rng", "scaler", "callbacks"}
    return {k: v for k, v in meta.items() if k not in skip}


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(model_state, state)`` of a checkpoint file (never unpickles).

    Raises :class:`CheckpointError` when the file is not safetensors, its header is not valid JSON,
    its tensors do not match the stored content hash, or the state references a missing tensor.
    """
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if path.name.endswith(".sharded.json"):  # an FSDP run's sharded checkpoint: gathered here
        from .sharded import read_full

        return read_full(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}; expected a .safetensors file written by the Trainer")
    try:
        with safe_open(str(path), framework="pt") as fh:
            header = fh.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path} is not a readable safetensors checkpoint: {exc}") from exc
    if "tensorprism" not in header:
        # Plain weights (e.g. exported by another library): accept them as a model state.
        return tensors, {}
    stored = header.get(HASH_KEY)
    if stored is None:
        warnings.warn(f"{path} was written without a content hash (an older tensorprism): its tensors "
                      f"cannot be verified", stacklevel=2)
    elif content_hash(tensors) != stored:
        raise CheckpointError(
            f"{path} is corrupt: its tensors do not match the content hash stored when it was written "
            f"(a changed bit, an edited or partly copied file); use another checkpoint (e.g. best/last) "
            f"or retrain")
    try:
        meta = json.loads(header["tensorprism"])
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path} has a broken metadata header (not valid JSON: {exc}); the file "
                              f"was edited or damaged, use another checkpoint") from None
    if not isinstance(meta, dict) or meta.pop("format", None) != FORMAT:
        raise CheckpointError(f"{path} has an unknown checkpoint format; expected {FORMAT}")
    model_state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        return model_state, decode_state(meta, tensors)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path} has a broken metadata header: it refers to tensor {exc} that "
                              f"the file does not hold; use another checkpoint") from None


def resolve_checkpoint(path: str | os.PathLike, prefer: str = "last") -> Path:
    """A checkpoint file from a file path, a run directory or its ``checkpoints/`` folder.

    In a directory, ``<prefer>.safetensors`` is taken if present, else ``last`` then ``best``;
    taking another checkpoint than ``prefer`` warns, naming the one taken. A run trained with
    ``strategy="fsdp"`` has sharded checkpoints (``<name>.sharded.json``), found the same way.
    """
    p = Path(path)
    if p.is_file():
        return p
    for folder in (p / "checkpoints", p):
        for name in (prefer, "last", "best"):
            candidate = folder / f"{name}.safetensors"
            if candidate.is_file():
                if name != prefer:
                    warnings.warn(f"{folder} has no {prefer}.safetensors; using {candidate.name} instead",
                                  stacklevel=2)
                return candidate
    for folder in (p / "checkpoints", p):
        for name in dict.fromkeys((prefer, "last", "best")):
            candidate = folder / f"{name}.sharded.json"
            if candidate.is_file():
                return candidate
    names = " or ".join(f"checkpoints/{n}.safetensors" for n in dict.fromkeys((prefer, "last")))
    # a recipe that trains several models keeps each in a sub-folder of its run directory
    subs = sorted(d.name for d in p.iterdir() if (d / "checkpoints").is_dir()) if p.is_dir() else []
    hint = f"; this folder holds the runs {', '.join(s + '/' for s in subs)}: pass one of them" if subs else ""
    raise CheckpointError(f"no checkpoint found at {p}: expected a .safetensors file or a run directory "
                          f"containing {names}{hint}")


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
    """Load a state dict (or a checkpoint file's weights) with a clear error on any mismatch
    (missing or unexpected keys, shapes, or a floating/integer dtype kind that differs)."""
    if not isinstance(weights, dict):
        source = str(weights)
        weights, _ = read_checkpoint(resolve_checkpoint(weights))
    where = source or "the checkpoint"
    own = model.state_dict()
    for key, value in weights.items():
        mine = own.get(key)
        if mine is not None and (not isinstance(value, torch.Tensor)
                                 or value.is_floating_point() != mine.is_floating_point()):
            got = value.dtype if isinstance(value, torch.Tensor) else type(value).__name__
            raise CheckpointError(f"weights from {where} do not fit {type(model).__name__}: {key!r} is "
                                  f"{got} in the checkpoint but {mine.dtype} in the model")
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise CheckpointError(
            f"weights from {where} do not fit {type(model).__name__}: "
            f"{' '.join(line.strip() for line in first[:3])}"
        ) from exc
    return model


#: files whose presence means a directory holds a run (refused as out_dir unless overwritten/resumed)
RUN_MARKERS = ("config.yaml", "metrics.jsonl", "checkpoints")
#: everything a run writes into its directory (what ``overwrite=True`` replaces)
RUN_FILES = (*RUN_MARKERS, "report.md", "plots", "tensorboard", "summary.json", "samples", "report.html")


def remove_run_files(out_dir: str | os.PathLike) -> None:
    """Delete the files and folders a run wrote in ``out_dir`` (only those: other files stay)."""
    import shutil

    for name in RUN_FILES:
        target = Path(out_dir) / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()


class RunLock:
    """An exclusive lock on a run directory for the life of a run: ``<out_dir>/.lock``.

    Holds an ``fcntl.flock`` (released by the OS if the process dies, so a stale file never blocks)
    and the holder's pid, which the error names. Use as a context manager or ``acquire``/``release``.
    """

    def __init__(self, out_dir: str | os.PathLike):
        self.path = Path(out_dir) / ".lock"
        self._fh = None

    def acquire(self) -> RunLock:
        import fcntl

        if self._fh is not None:
            return self
        fh = open(self.path, "a+")  # noqa: SIM115 - held open for the life of the run
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            fh.close()
            raise ConfigError(
                f"{self.path.parent} is in use by another run (pid {holder}); wait for it to finish, "
                f"stop it, or choose another out_dir") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()  # closing drops the flock
            self._fh = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


__all__ = [
    "save_checkpoint", "read_checkpoint", "resolve_checkpoint", "load_model", "load_weights",
    "encode_state", "decode_state", "atomic_write", "atomic_write_text", "content_hash",
    "clean_temporary_files", "RunLock", "RUN_MARKERS", "RUN_FILES", "remove_run_files",
]
