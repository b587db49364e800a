"""Sharded checkpoints with :mod:`torch.distributed.checkpoint` (DCP), in safetensors, without pickle.

Under ``strategy="fsdp"`` no process holds the whole model, so each one writes its own shards of the
weights and optimiser moments; DCP records which slice of each tensor every file holds and, on
load, reads the slices each process needs *for the current world size*: a checkpoint written by 2
processes resumes on 1 or on 4 (re-sharding). The files are DCP's Hugging Face safetensors layout
(:class:`~torch.distributed.checkpoint.HuggingFaceStorageWriter`), so nothing is ever unpickled
(DCP's default writer pickles its metadata).

Layout, in ``<out_dir>/checkpoints/``::

    last.sharded.json                  the manifest: world size, step, SHA-256 of every file
    last.<token>/shards/shard-0000R-model-00001-of-00001.safetensors   one per process
    last.<token>/trainer.safetensors   loop state (epoch, step, RNG of every rank, schedules, the
                                       optimisers' hyper-parameters ...), as in a plain checkpoint

Writing is crash-safe: the folder is written under a temporary name, renamed, and only then does
the manifest (written atomically) point at it; the folder of the previous manifest is deleted
last. A reader verifies that every file of the manifest exists and has its recorded SHA-256, and
raises :class:`~tensorprism.errors.CheckpointError` naming the missing or corrupt shard.

:func:`consolidate` reads all shards in one process and writes one ordinary ``.safetensors``
checkpoint (full weights and full optimiser state), which :func:`~tensorprism.train.load_model`
and ``prism eval`` read like any other, and from which a run can also resume.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import warnings
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from ..errors import CheckpointError
from . import distributed as D
from .checkpoint import atomic_write_text, read_checkpoint, save_checkpoint

FORMAT = "tensorprism-sharded/1"
SUFFIX = ".sharded.json"
#: key of the optimiser state in FQN form (``state.<param name>.<moment>``) in the loop state
OPTIM_KEY = "optimizers_fqn"


def manifest_path(folder: str | os.PathLike, name: str) -> Path:
    return Path(folder) / f"{name}{SUFFIX}"


def _options(full: bool = False) -> Any:
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(flatten_optimizer_state_dict=True, full_state_dict=full)


def split_state(model: nn.Module, optimizers: list[torch.optim.Optimizer]
                ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(tensors, groups)``: the model's and optimisers' tensors keyed ``model.<name>`` and
    ``optim.state.<param name>.<moment>`` (sharded DTensors under FSDP), and the optimisers'
    non-tensor hyper-parameters (``param_groups.<param name>.lr`` ...) for the JSON state."""
    from torch.distributed.checkpoint.state_dict import get_state_dict

    msd, osd = get_state_dict(model, optimizers, options=_options())
    tensors = {f"model.{k}": v for k, v in msd.items()}
    groups: dict[str, Any] = {}
    for key, value in osd.items():
        if isinstance(value, torch.Tensor):
            tensors[f"optim.{key}"] = value
        else:
            groups[key] = value
    return tensors, groups


def set_full_or_sharded(model: nn.Module, optimizers: list[torch.optim.Optimizer],
                        tensors: dict[str, torch.Tensor], groups: dict[str, Any], full: bool) -> None:
    """Load ``split_state``-keyed tensors (local shards, or full tensors when ``full``) and groups."""
    from torch.distributed.checkpoint.state_dict import set_state_dict

    from .fsdp import is_sharded

    if full and is_sharded(model):  # cut every full tensor to this process's shard first
        tensors = _local_shards(model, optimizers, tensors)
    msd = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    osd = {**{k[len("optim."):]: v for k, v in tensors.items() if k.startswith("optim.")},
           **{k: tuple(v) if isinstance(v, list) and k.endswith(".betas") else v for k, v in groups.items()}}
    try:
        set_state_dict(model, optimizers, model_state_dict=msd, optim_state_dict=osd, options=_options())
    except (KeyError, RuntimeError, ValueError) as exc:
        raise CheckpointError(f"the checkpoint's weights or optimiser state do not fit this model: "
                              f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300]}") from None


def _local_shards(model: nn.Module, optimizers: list[torch.optim.Optimizer],
                  full: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``split_state`` of a sharded model and optimisers holding the values of the ``full`` tensors
    (each process slices its own shard; no communication)."""
    from torch.distributed.tensor import distribute_tensor

    targets, _ = split_state(model, optimizers)
    with torch.no_grad():
        for key, target in targets.items():
            if key not in full:
                raise CheckpointError(f"the checkpoint does not fit this model and optimiser: it has no {key!r}")
            src = full[key].to(target.dtype)
            if tuple(src.shape) != tuple(target.shape):
                raise CheckpointError(f"the checkpoint does not fit this model: {key!r} is {tuple(src.shape)} "
                                      f"in the checkpoint but {tuple(target.shape)} here")
            if hasattr(target, "to_local"):
                shard = distribute_tensor(src.to(target.device), target.device_mesh, target.placements,
                                          src_data_rank=None)
                target.to_local().copy_(shard.to_local())
            else:
                target.copy_(src)
    return targets


def _unshared(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A copy of tensors that share memory with an earlier one (tied weights, e.g. GPT's embedding
    and output head): safetensors refuses to store one memory under two names."""
    seen: set[tuple[int, int]] = set()
    out = {}
    for key, value in tensors.items():
        local = value.to_local() if hasattr(value, "to_local") else value
        ptr = (local.untyped_storage().data_ptr(), local.storage_offset()) if local.numel() else None
        if ptr is not None and ptr in seen:
            value = value.detach().clone()
        elif ptr is not None:
            seen.add(ptr)
        out[key] = value
    return out


@contextlib.contextmanager
def _one_process_quietly():
    """DCP warns whenever it saves or loads without a process group; on one process that is the
    intent, so that one warning is silenced (nothing else)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="torch.distributed is disabled, unavailable or uninitialized")
        yield


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_sharded(folder: str | os.PathLike, name: str, model: nn.Module,
                 optimizers: list[torch.optim.Optimizer], state: dict[str, Any]) -> Path:
    """Write a sharded checkpoint ``<folder>/<name>.sharded.json`` (+ its folder); every process
    must call this with the same ``name``. ``state`` (rank 0's) is the loop state without optimisers."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint import HuggingFaceStorageWriter

    folder = Path(folder)
    token = D.all_gather_object(secrets.token_hex(5))[0]  # one name for every rank: rank 0's
    tmp = folder / f".{name}.{token}.tmp"
    final = folder / f"{name}.{token}"
    if D.is_main_process():
        tmp.mkdir(parents=True)
    D.barrier()
    tensors, groups = split_state(model, optimizers)
    with _one_process_quietly():
        dcp.save(_unshared(tensors), storage_writer=HuggingFaceStorageWriter(str(tmp / "shards"), save_distributed=True),
                 no_dist=not D.is_distributed())
    D.barrier()
    # every rank hashes the file it wrote (shard index = rank + 1)
    mine = {f"shards/{p.name}": _sha256(p) for p in sorted((tmp / "shards").glob(f"shard-{D.rank() + 1:05d}-*"))}
    hashes: dict[str, str] = {}
    for part in D.all_gather_object(mine):
        hashes.update(part)
    if D.is_main_process():
        save_checkpoint(tmp / "trainer.safetensors", {}, {**state, OPTIM_KEY: {"groups": groups}})
        hashes["trainer.safetensors"] = _sha256(tmp / "trainer.safetensors")
        os.rename(tmp, final)
        previous = _current_folder(folder, name)
        manifest = {"format": FORMAT, "folder": final.name, "world_size": D.world_size(),
                    "epoch": state.get("epoch"), "global_step": state.get("global_step"), "files": hashes}
        atomic_write_text(manifest_path(folder, name), json.dumps(manifest, indent=1))
        if previous is not None and previous != final:
            shutil.rmtree(previous, ignore_errors=True)
    D.barrier()
    return manifest_path(folder, name)


def _current_folder(folder: Path, name: str) -> Path | None:
    path = manifest_path(folder, name)
    if not path.is_file():
        return None
    try:
        return folder / json.loads(path.read_text())["folder"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return None


def read_manifest(path: str | os.PathLike, verify: bool = True) -> tuple[Path, dict[str, Any]]:
    """``(checkpoint folder, manifest)`` after checking that every listed file exists and (with
    ``verify``) has the SHA-256 recorded when it was written; CheckpointError otherwise."""
    path = Path(path)
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} is not a readable sharded-checkpoint manifest: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CheckpointError(f"{path} has an unknown format; expected {FORMAT}")
    ckpt = path.parent / manifest["folder"]
    files = manifest.get("files", {})
    missing = [f for f in sorted(files) if not (ckpt / f).is_file()]
    if missing:
        raise CheckpointError(
            f"sharded checkpoint {path} is incomplete: {len(missing)} of its {len(files)} files are missing "
            f"({', '.join(missing[:4])}) in {ckpt}; copy the whole folder, or use another checkpoint")
    if verify:
        for f in sorted(files):
            if _sha256(ckpt / f) != files[f]:
                raise CheckpointError(
                    f"sharded checkpoint {path} is corrupt: {ckpt / f} does not match the SHA-256 recorded when "
                    f"it was written (a changed bit, an edited or partly copied file); use another checkpoint")
    return ckpt, manifest


def _verify_on_all_ranks(path: Path) -> tuple[Path, dict[str, Any]]:
    """Rank 0 verifies the files (one read of each); every rank raises its error."""
    error = None
    if D.is_main_process():
        try:
            read_manifest(path, verify=True)
        except CheckpointError as exc:
            error = str(exc)
    errors = D.all_gather_object(error)
    if errors[0] is not None:
        raise CheckpointError(errors[0])
    return read_manifest(path, verify=False)


def load_sharded(path: str | os.PathLike, model: nn.Module, optimizers: list[torch.optim.Optimizer]
                 ) -> dict[str, Any]:
    """Load a sharded checkpoint into ``model`` and ``optimizers`` (sharded or not, any world size:
    DCP reads the slices this process needs); returns the loop state. Every process calls this."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint import HuggingFaceStorageReader

    ckpt, _ = _verify_on_all_ranks(Path(path))
    _, state = read_checkpoint(ckpt / "trainer.safetensors")
    tensors, _ = split_state(model, optimizers)
    try:
        with _one_process_quietly():
            dcp.load(tensors, storage_reader=HuggingFaceStorageReader(str(ckpt / "shards")),
                     no_dist=not D.is_distributed())
    except Exception as exc:  # DCP wraps every rank's failure in a CheckpointException
        first = str(exc).strip().splitlines()
        raise CheckpointError(f"{path} does not fit this model and optimiser: "
                              f"{' '.join(line.strip() for line in first[:3])[:400]}") from None
    set_full_or_sharded(model, optimizers, tensors, state.get(OPTIM_KEY, {}).get("groups", {}), full=False)
    return state


def read_full(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(model_state, state)`` of a sharded checkpoint gathered into full tensors in this process
    (no process group needed); ``state[OPTIM_KEY]`` holds the full optimiser tensors and groups."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint import HuggingFaceStorageReader

    ckpt, _ = read_manifest(path, verify=True)
    _, state = read_checkpoint(ckpt / "trainer.safetensors")
    reader = HuggingFaceStorageReader(str(ckpt / "shards"))
    meta = reader.read_metadata()
    tensors = {key: torch.empty(tuple(m.size), dtype=m.properties.dtype)
               for key, m in meta.state_dict_metadata.items()}
    with _one_process_quietly():
        dcp.load(tensors, storage_reader=HuggingFaceStorageReader(str(ckpt / "shards")), no_dist=True)
    model_state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    optim = {k: v for k, v in tensors.items() if k.startswith("optim.")}
    state[OPTIM_KEY] = {**state.get(OPTIM_KEY, {}), "tensors": optim}
    return model_state, state


def consolidate(path: str | os.PathLike, out: str | os.PathLike, overwrite: bool = False) -> Path:
    """Gather a sharded checkpoint (its manifest, or a run directory) into one ``.safetensors`` file
    readable by :func:`~tensorprism.train.checkpoint.read_checkpoint`/``load_model``; refuses to
    replace an existing file unless ``overwrite``."""
    out = Path(out)
    if out.suffix != ".safetensors":
        raise CheckpointError(f"the consolidated checkpoint must be a .safetensors file, got {out}")
    if out.exists() and not overwrite:
        raise CheckpointError(f"{out} already exists; choose another file or pass overwrite=True")
    model_state, state = read_full(resolve_manifest(path))
    return save_checkpoint(out, model_state, state)


def resolve_manifest(path: str | os.PathLike, prefer: str = "last") -> Path:
    """A manifest from a manifest path, a run directory or its ``checkpoints/`` folder."""
    p = Path(path)
    if p.is_file() and p.name.endswith(SUFFIX):
        return p
    for folder in (p / "checkpoints", p):
        for name in (prefer, "last", "best"):
            if manifest_path(folder, name).is_file():
                return manifest_path(folder, name)
    raise CheckpointError(f"no sharded checkpoint at {p}: expected a {SUFFIX} manifest or a run directory "
                          f"with checkpoints/{prefer}{SUFFIX}")


def clean_orphans(folder: str | os.PathLike) -> list[Path]:
    """Remove checkpoint folders no manifest points at (left by a writer killed before its manifest
    was replaced); call it only while holding the run's lock."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    live = {f.name for f in (_current_folder(folder, m.name[: -len(SUFFIX)]) for m in folder.glob(f"*{SUFFIX}"))
            if f is not None}
    removed = []
    for sub in folder.iterdir():
        temporary = sub.name.startswith(".") and sub.name.endswith(".tmp")
        if sub.is_dir() and (temporary or ((sub / "shards").is_dir() and sub.name not in live)):
            shutil.rmtree(sub, ignore_errors=True)
            removed.append(sub)
    return removed


__all__ = ["save_sharded", "load_sharded", "read_full", "read_manifest", "consolidate", "resolve_manifest",
           "split_state", "set_full_or_sharded", "clean_orphans", "FORMAT", "SUFFIX", "OPTIM_KEY"]
