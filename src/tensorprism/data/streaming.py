"""Streaming datasets larger than memory: WebDataset tar shards, read with exact mid-epoch resume.

**Format.** A packed dataset is a folder of POSIX tar files (*shards*) in the WebDataset layout —
each example is the members ``<key>.npy`` (the sample, a NumPy array) and ``<key>.cls`` (its class
as decimal text) — plus ``index.json`` naming every shard with its example count, byte size and
SHA-256. Any WebDataset reader (the ``webdataset`` package, ``tar``) reads the shards; the index
adds what streaming needs to be exact: how many examples each shard holds (so every process knows
the epoch's length without reading data) and a checksum per shard.

**Reading** (:class:`StreamingDataset`, an :class:`~torch.utils.data.IterableDataset`):

* *per rank*: the epoch's shard order (shuffled with ``seed + epoch``) is dealt round-robin to the
  ``world_size`` processes; every process then keeps the same number of examples (the smallest
  share; the surplus of the others is skipped this epoch, as ``drop_last`` would), so all of them
  run the same number of steps;
* *shuffling buffer*: a process's stream passes through a buffer of ``shuffle_buffer`` examples
  (each new example replaces a uniformly drawn one, which is emitted), seeded by
  ``(seed, epoch, rank)``: memory for the buffer, not for the dataset;
* *per worker*: with ``num_workers = K`` DataLoader workers, worker ``w`` produces batches
  ``w, w + K, w + 2K, ...`` of its process's stream, which the DataLoader's round-robin puts back
  in order: the batches do not depend on ``K``. Every worker reads its process's shards and
  decodes only its own examples.

**Exact resume.** The order of an epoch is a pure function of ``(seed, epoch, rank, world_size,
shuffle_buffer)``, computed on example *indices* before any byte is read. A resumed run calls
:meth:`StreamingDataset.set_position` with the batches already consumed (the Trainer does, from the
checkpoint's ``batch_in_epoch``); the stream starts with the next batch, opening only the shards
that still hold examples to come. The position cannot be carried to another world size (the
shards would be dealt differently): :meth:`check_resume` refuses that, mid-epoch.

Shards are verified against the index's SHA-256 when opened; a missing or corrupt shard raises
:class:`~tensorprism.errors.DataError` naming it.
"""

from __future__ import annotations

import hashlib
import io
import json
import mmap
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from ..errors import DataError

FORMAT = "tensorprism-stream/1"
INDEX = "index.json"


# ----------------------------------------------------------------------------- writing
def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def pack(samples: Any, labels: Any, out: str | os.PathLike, *, shard_size: int = 10_000,
         meta: dict[str, Any] | None = None, overwrite: bool = False) -> Path:
    """Write ``samples (N, ...)`` and integer ``labels (N,)`` as WebDataset tar shards of
    ``shard_size`` examples, plus ``index.json``; returns the index path.

    ``meta`` (JSON-able: dataset name, classes, normalisation statistics) is kept in the index.
    An existing packed folder is refused unless ``overwrite``; each shard is written to a temporary
    name and renamed, and the index is written last, so an interrupted pack leaves no index.
    """
    out = Path(out)
    x = samples.numpy() if isinstance(samples, torch.Tensor) else np.asarray(samples)
    y = labels.numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if len(x) != len(y) or len(x) == 0:
        raise DataError(f"pack needs as many labels as samples (and at least one), got {len(x)} and {len(y)}")
    if shard_size < 1:
        raise DataError(f"shard_size must be >= 1, got {shard_size}")
    if (out / INDEX).exists() and not overwrite:
        raise DataError(f"{out} already holds a packed dataset ({INDEX}); choose another folder or pass overwrite=True (prism data pack --overwrite)")
    out.mkdir(parents=True, exist_ok=True)
    (out / INDEX).unlink(missing_ok=True)
    width = len(str(int(y.max()))) if len(y) else 1  # fixed-width labels: every record the same size
    shards = []
    for s, start in enumerate(range(0, len(x), shard_size)):
        name = f"shard-{s:06d}.tar"
        tmp = out / f".{name}.tmp"
        with tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as tar:
            for i in range(start, min(start + shard_size, len(x))):
                key = f"{i:09d}"
                for ext, payload in (("npy", _npy_bytes(x[i])), ("cls", f"{int(y[i]):0{width}d}".encode())):
                    info = tarfile.TarInfo(f"{key}.{ext}")
                    info.size, info.mode, info.mtime = len(payload), 0o644, 0  # reproducible bytes
                    tar.addfile(info, io.BytesIO(payload))
        os.replace(tmp, out / name)
        shards.append({"file": name, "count": min(shard_size, len(x) - start), "bytes": (out / name).stat().st_size,
                       "sha256": _sha256((out / name).read_bytes())})
    # every record has the same size (one sample shape, fixed-width labels): readers may decode a
    # whole shard with array views instead of walking its members one by one
    payload = len(_npy_bytes(x[0]))
    layout = {"record_bytes": 512 + _padded(payload) + 512 + 512, "npy_data_offset": 512 + payload - x[0].nbytes,
              "cls_offset": 512 + _padded(payload) + 512, "cls_width": width}
    index = {"format": FORMAT, "count": len(x), "sample_shape": list(x.shape[1:]), "dtype": str(x.dtype),
             "layout": layout, "shards": shards, "meta": meta or {}}
    tmp = out / f".{INDEX}.tmp"
    tmp.write_text(json.dumps(index, indent=1))
    os.replace(tmp, out / INDEX)
    return out / INDEX


#: shards already checked against their SHA-256 in this process: (path, inode, size, mtime, sha256)
_VERIFIED: set[tuple] = set()


def _padded(n: int) -> int:
    return (n + 511) // 512 * 512


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------------------- reading one shard
def _parse_tar(data: bytes, where: str) -> Iterator[tuple[str, int, int]]:
    """``(member name, data offset, size)`` of each regular file of a tar archive held in memory."""
    pos = 0
    while pos + 512 <= len(data):
        header = data[pos:pos + 512]
        if header == b"\0" * 512:
            return
        name = header[:100].split(b"\0", 1)[0].decode()
        prefix = header[345:500].split(b"\0", 1)[0].decode()
        if prefix:
            name = f"{prefix}/{name}"
        try:
            size = int(header[124:136].split(b"\0", 1)[0].strip() or b"0", 8)
        except ValueError:
            raise DataError(f"{where} is not a valid tar file (bad member header at byte {pos}); re-pack it") from None
        kind = header[156:157]
        start = pos + 512
        if start + size > len(data):
            raise DataError(f"{where} is truncated (member {name!r} ends past the end of the file); re-pack it")
        if kind in (b"0", b"\0"):
            yield name, start, size
        pos = start + (size + 511) // 512 * 512


def _decode_npy(payload: memoryview, cache: dict[bytes, tuple[np.dtype, tuple[int, ...], int]]) -> np.ndarray:
    """A ``.npy`` payload as an array viewing the bytes (headers parsed once per distinct header)."""
    head_len = 10 + int.from_bytes(payload[8:10], "little") if payload[6] == 1 else 12 + int.from_bytes(payload[8:12], "little")
    head = bytes(payload[:head_len])
    if head not in cache:
        fmt = np.lib.format
        buf = io.BytesIO(head)
        version = fmt.read_magic(buf)
        read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, fortran, dtype = read(buf)
        if fortran:
            raise DataError("Fortran-ordered .npy samples are not supported; re-pack with C order")
        cache[head] = (dtype, shape, head_len)
    dtype, shape, offset = cache[head]
    return np.frombuffer(payload, dtype=dtype, offset=offset).reshape(shape)


def read_shard(path: Path, sha256: str | None, where: str, wanted: set[int] | None = None,
               layout: dict[str, Any] | None = None, count: int | None = None, sample: tuple | None = None
               ) -> tuple[Any, Any]:
    """Examples ``(samples, labels)`` of one shard in member order (``None`` for the ones whose
    position is not in ``wanted``, which are not decoded), after checking its SHA-256.

    With the ``layout`` of a shard written by :func:`pack` (and its ``count`` and ``sample`` =
    ``(dtype, shape)``), the whole shard is decoded at once as array views: ``(samples (count,
    ...), labels (count,))`` arrays; the members' headers are then checked at the first and last
    record only, so use it on verified shards."""
    if not path.is_file():
        raise DataError(f"shard {where} is missing ({path}); the packed dataset is incomplete: copy it again "
                        f"or re-pack it (prism data pack)")
    stat = path.stat()
    with open(path, "rb") as fh:  # mapped copy-on-write: no read copy, and tensors may view it
        data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY) if stat.st_size else bytearray()
    key = (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns, sha256)
    if sha256 is not None and key not in _VERIFIED:
        if _sha256(data) != sha256:
            raise DataError(f"shard {where} is corrupt: {path} does not match the SHA-256 in {INDEX} (a changed "
                            f"bit, an edited or partly copied file); copy it again or re-pack the dataset")
        _VERIFIED.add(key)  # a file unchanged since (same inode, size, mtime) is not hashed again
    if layout is not None and count is not None and sample is not None:
        return _read_regular(data, layout, count, sample, where)
    view = memoryview(data)
    xs: list[Any] = []
    ys: list[int] = []
    cache: dict = {}
    key = None
    for name, start, size in _parse_tar(data, where):
        stem, _, ext = name.rpartition(".")
        if stem != key:
            key = stem
            xs.append(None)
            ys.append(-1)
        keep = wanted is None or len(xs) - 1 in wanted
        if ext == "npy" and keep:
            xs[-1] = _decode_npy(view[start:start + size], cache)
        elif ext == "cls":
            ys[-1] = int(bytes(view[start:start + size]))
    return xs, ys


def _read_regular(data: Any, layout: dict[str, Any], count: int, sample: tuple, where: str
                  ) -> tuple[np.ndarray, np.ndarray]:
    rec = layout["record_bytes"]
    dtype, shape = np.dtype(sample[0]), tuple(sample[1])
    if len(data) < count * rec:
        raise DataError(f"{where} is truncated ({len(data)} bytes for {count} records of {rec}); re-pack it")
    for r in (0, count - 1):  # the record boundaries are where the layout says
        members = list(_parse_tar(bytes(data[r * rec:(r + 1) * rec]) + b"\0" * 1024, where))
        if len(members) != 2 or not members[0][0].endswith(".npy") or not members[1][0].endswith(".cls"):
            raise DataError(f"{where} does not have the record layout of its index; re-pack the dataset")
    records = np.frombuffer(data, dtype=np.uint8, count=count * rec).reshape(count, rec)
    start = layout["npy_data_offset"]
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    samples = records[:, start:start + nbytes].view(dtype).reshape(count, *shape)  # a strided view, no copy
    digits = records[:, layout["cls_offset"]:layout["cls_offset"] + layout["cls_width"]].astype(np.int64) - 48
    if digits.min() < 0 or digits.max() > 9:
        raise DataError(f"{where} has a label that is not a decimal number; re-pack the dataset")
    labels = digits @ (10 ** np.arange(layout["cls_width"] - 1, -1, -1))
    return samples, labels


# ----------------------------------------------------------------------------- the order of an epoch
def shuffle_buffer_order(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Positions ``0..n-1`` of a stream as emitted by a shuffling buffer of ``size`` examples: the
    buffer fills, then each arriving example replaces a uniformly drawn one, which is emitted; the
    rest is emitted in random order at the end. ``size <= 1`` keeps the order."""
    if size <= 1 or n <= 1:
        return np.arange(n)
    out = np.empty(n, dtype=np.int64)
    buf = list(range(min(size, n)))
    draws = rng.integers(0, len(buf), size=max(n - len(buf), 0))
    k = 0
    for new, j in zip(range(len(buf), n), draws, strict=True):
        out[k] = buf[j]
        buf[j] = new
        k += 1
    out[k:] = rng.permutation(np.asarray(buf, dtype=np.int64))
    return out


class StreamingDataset(IterableDataset):
    """Examples ``(x, y)`` streamed from a folder written by :func:`pack` (see the module docstring).

    Args:
        root: the packed folder (holding ``index.json``).
        shuffle: shuffle the shard order per epoch and pass examples through the shuffling buffer.
        shuffle_buffer: examples held by the buffer (memory: that many decoded samples per worker).
        seed: base seed; epoch ``e`` uses ``seed + e`` (the Trainer calls :meth:`set_epoch`).
        raw: yield the stored samples as they are (e.g. ``uint8`` images); otherwise images are
            scaled by the index's ``mean``/``std`` (as :class:`~tensorprism.data.ImageDataset`),
            per batch in :meth:`collate_fn`.
        verify: check each shard's SHA-256 when it is opened.
    """

    def __init__(self, root: str | os.PathLike, *, shuffle: bool = True, shuffle_buffer: int = 1000,
                 seed: int = 0, raw: bool = False, verify: bool = True):
        super().__init__()
        self.root = Path(root)
        try:
            self.index = json.loads((self.root / INDEX).read_text())
        except FileNotFoundError:
            raise DataError(f"{self.root} holds no packed dataset (no {INDEX}); write one with "
                            f"`prism data pack DATASET --out {self.root}`") from None
        except json.JSONDecodeError as exc:
            raise DataError(f"{self.root / INDEX} is not valid JSON ({exc}); re-pack the dataset") from None
        if self.index.get("format") != FORMAT:
            raise DataError(f"{self.root / INDEX} has format {self.index.get('format')!r}; expected {FORMAT}")
        if shuffle_buffer < 0:
            raise DataError(f"shuffle_buffer must be >= 0, got {shuffle_buffer}")
        self.shuffle, self.shuffle_buffer, self.seed = shuffle, shuffle_buffer, seed
        self.raw, self.verify = raw, verify
        self.meta = self.index.get("meta", {})
        self.classes = self.meta.get("classes")
        self.epoch = 0
        self.start_batch, self.batch_size = 0, 1
        self.rank, self.world_size = 0, 1
        mean, std = self.meta.get("mean"), self.meta.get("std")
        self._norm = None
        if mean is not None and std is not None and not raw:
            shape = [len(mean)] + [1] * (len(self.index["sample_shape"]) - 1)
            std_t = torch.tensor(std).view(shape)  # (x / 255 - mean) / std == x / (255 std) - mean / std,
            self._norm = (255.0 * std_t, torch.tensor(mean).view(shape) / std_t)  # as ImageDataset computes it

    # -- what the Trainer (or a user loop) sets before iterating
    def set_epoch(self, epoch: int) -> None:
        """Select epoch ``epoch``'s order; also reads this process's rank from torch.distributed."""
        self.epoch = int(epoch)
        self._read_distributed()

    def set_position(self, batches: int, batch_size: int) -> None:
        """Start the epoch after ``batches`` batches of ``batch_size`` examples (a resumed run)."""
        self.start_batch, self.batch_size = int(batches), int(batch_size)
        self._read_distributed()

    def _read_distributed(self) -> None:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            self.rank, self.world_size = dist.get_rank(), dist.get_world_size()

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps to check that a resume continues the same stream."""
        return {"world_size": self.world_size, "seed": self.seed, "shuffle": self.shuffle,
                "shuffle_buffer": self.shuffle_buffer, "count": self.index["count"]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        del state  # the position itself comes from the Trainer (set_position)

    def check_resume(self, state: dict[str, Any] | None, world_size: int) -> None:
        """Refuse to continue, mid-epoch, a stream saved with another layout (world size, seed,
        shuffling or data): its remaining examples cannot be found again."""
        if not state:
            return
        now = {**self.state_dict(), "world_size": world_size}
        diff = {k: (state.get(k), now[k]) for k in now if state.get(k) != now[k]}
        if diff:
            said = ", ".join(f"{k}={old} (now {new})" for k, (old, new) in diff.items())
            raise DataError(
                f"the checkpoint was written mid-epoch while streaming {self.root} with {said}: the rest of "
                f"that epoch cannot be found again, since shards are dealt to processes by world size; "
                f"resume with the same settings and number of processes, or from an epoch-boundary checkpoint")

    # -- the epoch's plan, on indices only
    def _plan(self) -> tuple[list[tuple[int, int, int]], np.ndarray]:
        """This process's stream: ``(shard, start, stop)`` pieces in read order, and the emission
        order as positions into that concatenation (after the shuffling buffer)."""
        shards = self.index["shards"]
        order = np.arange(len(shards))
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(len(shards))
        mine = [[int(s) for s in order[r::self.world_size]] for r in range(self.world_size)]
        counts = [sum(shards[s]["count"] for s in m) for m in mine]
        if min(counts) == 0:
            raise DataError(f"{self.root} has {len(shards)} shard(s), fewer than the {self.world_size} processes "
                            f"reading it: re-pack with a smaller --shard-size")
        keep = min(counts)  # every process runs the same number of steps
        pieces, left = [], keep
        for s in mine[self.rank]:
            take = min(shards[s]["count"], left)
            if take:
                pieces.append((s, 0, take))
            left -= take
        rng = np.random.default_rng([self.seed, self.epoch, self.rank, 1])
        emit = shuffle_buffer_order(keep, self.shuffle_buffer if self.shuffle else 0, rng)
        return pieces, emit

    def _positions(self, batches_only: bool = True) -> tuple[list[tuple[int, int, int]], list[np.ndarray]]:
        """The epoch's pieces and this worker's positions from the resume point, one group per batch
        (in one process without ``batches_only``: groups of at least 512, read the same way)."""
        pieces, emit = self._plan()
        info = get_worker_info()
        workers, worker = (info.num_workers, info.id) if info is not None else (1, 0)
        positions = emit[self.start_batch * self.batch_size:]
        size = self.batch_size if batches_only or workers > 1 else max(self.batch_size, 512)
        batches = [positions[i:i + size] for i in range(0, len(positions), size)]
        return pieces, batches[worker::workers]  # batch j after the resume point: worker j % workers

    def __iter__(self) -> Iterator[tuple[torch.Tensor, Any]]:
        pieces, groups = self._positions(batches_only=False)
        for _, xs, ys in self._read(pieces, groups):
            yield from zip(xs.unbind(0), ys.tolist(), strict=True)

    def iter_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """This worker's batches ``(x (B, ...), y (B,))`` of ``batch_size`` (see :meth:`batched`)."""
        pieces, groups = self._positions()
        for _, xs, ys in self._read(pieces, groups):
            yield self._scale(xs), ys

    def batched(self) -> BatchedStream:
        """This stream as whole batches (an IterableDataset for ``DataLoader(batch_size=None)``):
        each batch is gathered with one indexing operation per shard instead of one per example.
        The Trainer uses it, with its ``batch_size``."""
        return BatchedStream(self)

    def _read(self, pieces: list[tuple[int, int, int]], groups: list[np.ndarray]
              ) -> Iterator[tuple[np.ndarray, torch.Tensor, torch.Tensor]]:
        """For each group of positions (of the concatenated pieces), in order: the group and its
        samples and labels, reading the shards sequentially and keeping a shard only while some
        of its examples are still to come."""
        if not groups:
            return
        starts = np.cumsum([0] + [stop - start for _, start, stop in pieces])
        flat = np.concatenate(groups)
        piece_of = np.searchsorted(starts, flat, side="right") - 1  # the piece holding each position
        remaining = np.bincount(piece_of, minlength=len(pieces))
        last_needed = np.zeros(len(pieces), dtype=np.int64)  # group index after which a piece is done
        group_of = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
        np.maximum.at(last_needed, piece_of, group_of)
        loaded: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        next_piece = 0
        offset = 0
        for g, group in enumerate(groups):
            pieces_here = piece_of[offset:offset + len(group)]
            offset += len(group)
            while next_piece <= pieces_here.max():  # read on until every example of the group is in
                if remaining[next_piece]:
                    loaded[next_piece] = self._load_piece(pieces[next_piece])
                next_piece += 1
            rows = group - starts[pieces_here] + np.array([pieces[k][1] for k in pieces_here], dtype=np.int64)
            if (pieces_here == pieces_here[0]).all():
                x, y = loaded[int(pieces_here[0])]
                index = torch.from_numpy(rows)
                xs, ys = x.index_select(0, index), y.index_select(0, index)
            else:  # a batch spanning shards: gather per shard, then restore the order
                order, parts_x, parts_y = [], [], []
                for k in np.unique(pieces_here):
                    sel = np.nonzero(pieces_here == k)[0]
                    index = torch.from_numpy(rows[sel])
                    parts_x.append(loaded[int(k)][0].index_select(0, index))
                    parts_y.append(loaded[int(k)][1].index_select(0, index))
                    order.append(sel)
                inverse = torch.from_numpy(np.argsort(np.concatenate(order)))
                xs, ys = torch.cat(parts_x)[inverse], torch.cat(parts_y)[inverse]
            for k in np.unique(pieces_here):  # free shards no later group needs
                if last_needed[k] == g:
                    loaded.pop(int(k), None)
            yield group, xs, ys

    def _load_piece(self, piece: tuple[int, int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """A shard's samples ``(count, ...)`` and labels ``(count,)`` as tensors."""
        s = piece[0]
        entry = self.index["shards"][s]
        regular = self.verify and "layout" in self.index  # a verified shard is exactly as packed
        xs, ys = read_shard(self.root / entry["file"], entry["sha256"] if self.verify else None,
                            f"{entry['file']} of {self.root}", None,
                            layout=self.index.get("layout") if regular else None, count=entry["count"],
                            sample=(self.index["dtype"], self.index["sample_shape"]))
        if len(xs) != entry["count"]:
            raise DataError(f"shard {entry['file']} of {self.root} holds {len(xs)} examples, its index says "
                            f"{entry['count']}; re-pack the dataset")
        if not isinstance(xs, np.ndarray):
            xs, ys = np.stack(xs), np.asarray(ys)
        return torch.from_numpy(xs), torch.from_numpy(np.asarray(ys, dtype=np.int64))

    def _scale(self, x: torch.Tensor) -> torch.Tensor:
        if self._norm is None:
            return x
        scale, offset = self._norm
        return x.float().div_(scale).sub_(offset)

    def collate_fn(self, items: list[tuple[torch.Tensor, int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Stack a batch ``(N, ...)``, scaling images in one operation (not per example)."""
        x = torch.stack([item[0] for item in items])
        y = torch.tensor([item[1] for item in items], dtype=torch.long)
        return self._scale(x), y

    @property
    def num_classes(self) -> int | None:
        return len(self.classes) if self.classes else None

    def __repr__(self) -> str:
        return (f"StreamingDataset({str(self.root)!r}, n={self.index['count']}, shards={len(self.index['shards'])}, "
                f"shuffle={self.shuffle}, buffer={self.shuffle_buffer})")


class BatchedStream(IterableDataset):
    """A :class:`StreamingDataset` yielding whole batches ``(x (B, ...), y (B,))`` (for
    ``DataLoader(batch_size=None)``); everything else (``set_epoch``, ``set_position``, state,
    checks) is the stream's own."""

    def __init__(self, stream: StreamingDataset):
        super().__init__()
        self.stream = stream

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self.stream.iter_batches()

    def __getattr__(self, name: str) -> Any:
        if name == "stream":  # not yet set (unpickling)
            raise AttributeError(name)
        return getattr(self.stream, name)


def pack_dataset(name: str, out: str | os.PathLike, *, split: str = "train", shard_size: int = 10_000,
                 root: str | os.PathLike | None = None, limit: int | None = None, overwrite: bool = False) -> Path:
    """Pack a registered dataset's split (its stored samples, ``uint8`` for images, and labels) into
    ``out``, keeping the first ``limit`` examples if given; returns the index path."""
    from . import load_dataset

    ds = load_dataset(name, root=root, split=split, raw=True)
    if not hasattr(ds, "data") or not hasattr(ds, "targets"):
        raise DataError(f"dataset {name!r} is not an in-memory array dataset (no data/targets); only those "
                        f"can be packed (e.g. mnist, fashion-mnist, cifar10)")
    data, targets = ds.data[:limit], ds.targets[:limit]
    meta = {"dataset": name, "split": split, "classes": getattr(ds, "classes", None),
            "mean": list(getattr(ds, "mean", ()) or ()) or None, "std": list(getattr(ds, "std", ()) or ()) or None}
    return pack(data, targets, out, shard_size=shard_size, meta=meta, overwrite=overwrite)


__all__ = ["StreamingDataset", "BatchedStream", "pack", "pack_dataset", "read_shard", "shuffle_buffer_order", "FORMAT", "INDEX"]
