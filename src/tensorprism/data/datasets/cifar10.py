"""CIFAR-10: 60,000 32x32 colour images in 10 classes (Krizhevsky 2009).

Two sources, looked for in this order under the data root ``<root>``:

1. the canonical python tarball ``cifar-10-python.tar.gz`` (md5 ``c58f3010...``), in
   ``<root>/cifar10/``, ``<root>/`` or ``~/.cache/tensorprism/data/cifar10/``; on a machine with
   internet ``download=True`` fetches it from https://www.cs.toronto.edu/~kriz/. Its pickled
   batches are read with an unpickler that only accepts numpy arrays, lists, dicts and strings.
2. the JPEG re-encoding ``cifar10-jpg.tar.gz`` (``cifar10-jpg/{train,test}/<class>/NNNN.jpg``,
   sha256 pinned), in ``<root>/`` or ``<root>/cifar10/`` -- what this project's machines have at
   ``../shared/data``. JPEG costs a little accuracy against the PNG-exact originals, so compare
   runs side by side rather than against published numbers.

Either archive is verified and each part (train, test) decoded once, when first asked for, into
``uint8`` ``.npy`` files in a writable cache
(``$TENSORPRISM_CACHE/cifar10/<digest>/``, default ``~/.cache/tensorprism/cifar10/``), because the
data root may be read-only; later loads memory-map those files. The JPEG archive is ordered by
class, so its images are too (the canonical one keeps the original order).

Splits: ``train`` = 45,000 training images, ``val`` = 5,000 held out of the 50,000 training images
by a seeded random permutation (``val_size=5000, seed=0``), ``trainval`` = all 50,000, ``test`` =
10,000. Images are ``(3, 32, 32)`` float normalised per channel with the standard training-set
statistics mean (0.4914, 0.4822, 0.4465), std (0.2470, 0.2435, 0.2616) (of pixels in [0, 1];
the JPEG copy's own are within 0.002); ``normalize=False`` gives [0, 1], ``raw=True`` the uint8.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import torch

from ...errors import DataError
from .. import DatasetInfo, register_dataset
from ..arrays import ImageDataset
from ..download import cache_dir, missing, verify_digest
from ..download import download as fetch_url
from ..splits import check_split, train_val
from ..transforms import CIFAR10_STATS

SPLITS = ("train", "val", "test", "trainval")
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
PYTHON_TAR = "cifar-10-python.tar.gz"
PYTHON_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
PYTHON_MD5 = "c58f30108f718f92721af3b95e74349a"
JPEG_TAR = "cifar10-jpg.tar.gz"
JPEG_SHA256 = "66352b58c589376ceae76c9133cfc7c56790239f9b9e6fd84b805e75afa77d5d"
OBTAIN = (
    f"on a machine with internet, load_dataset('cifar10', download=True) (fetches {PYTHON_URL}); "
    f"offline, copy {PYTHON_TAR} into <root>/cifar10/, or {JPEG_TAR} into <root>/ (this project's "
    f"machines have it at ../shared/data/{JPEG_TAR}; point TENSORPRISM_DATA or root= there)."
)


def candidates(root: Path) -> list[tuple[Path, str]]:
    """``(path, kind)`` of every place an archive may be, in order of preference."""
    root = Path(root)
    return [
        (root / "cifar10" / PYTHON_TAR, "python"), (root / PYTHON_TAR, "python"),
        (cache_dir("data", "cifar10", PYTHON_TAR), "python"),
        (root / JPEG_TAR, "jpeg"), (root / "cifar10" / JPEG_TAR, "jpeg"),
    ]


def locate(root: Path) -> tuple[Path, str] | None:
    return next(((p, kind) for p, kind in candidates(root) if p.is_file()), None)


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles only what CIFAR's batches hold: numpy arrays (plus builtin containers).

    ``_codecs.encode`` is how protocol-2 pickles written by Python 3 spell ``bytes``; it only
    turns a string into bytes.
    """

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name} from a CIFAR batch")
        return super().find_class(module, name)


def decode_python_tar(path: Path, part: str) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(N, 3, 32, 32)`` and labels of the canonical tarball's ``part`` ("train": the five
    ``data_batch_*`` in order, "test": ``test_batch``)."""
    batches = []
    with tarfile.open(path, "r:gz") as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            base = os.path.basename(member.name)
            if not (base.startswith("data_batch_") if part == "train" else base == "test_batch"):
                continue
            batch = _ArrayUnpickler(tar.extractfile(member), encoding="bytes").load()
            batches.append((np.asarray(batch[b"data"], np.uint8), np.asarray(batch[b"labels"], np.int64)))
    if not batches:
        raise ValueError(f"{path}: no {part} batches (data_batch_* / test_batch) in the archive")
    return np.concatenate([b[0] for b in batches]).reshape(-1, 3, 32, 32), np.concatenate([b[1] for b in batches])


def decode_jpeg_tar(path: Path, part: str) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(N, 3, 32, 32)`` and labels from ``cifar10-jpg/{part}/{class}/NNNN.jpg``, ordered by
    class, then file name (only ``part``'s JPEGs are decoded)."""
    from PIL import Image

    items = []
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            parts = member.name.split("/")
            if not member.isfile() or len(parts) != 4 or parts[1] != part or parts[2] not in CLASSES:
                continue
            img = Image.open(io.BytesIO(tar.extractfile(member).read())).convert("RGB")
            items.append((CLASSES.index(parts[2]), parts[3], np.asarray(img)))
    if not items:
        raise ValueError(f"{path}: no {part} images (cifar10-jpg/{part}/<class>/*.jpg) in the archive")
    items.sort(key=lambda t: (t[0], t[1]))
    images = np.stack([t[2] for t in items]).transpose(0, 3, 1, 2).copy()
    return images, np.array([t[0] for t in items], dtype=np.int64)


def _write_npy(path: Path, array: np.ndarray) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".part", dir=path.parent)
    with os.fdopen(fd, "wb") as f:
        np.save(f, array)
    os.replace(tmp, path)


def cached_arrays(path: Path, kind: str, part: str) -> tuple[np.ndarray, np.ndarray, Path]:
    """Verify ``path``, decode its ``part`` ("train" or "test") once into the ``.npy`` cache, and
    return the memory-mapped ``(images, labels)`` and the cache folder."""
    algorithm, expected = ("md5", PYTHON_MD5) if kind == "python" else ("sha256", JPEG_SHA256)
    verify_digest(path, expected, algorithm=algorithm, fix=f"delete it and obtain it again ({OBTAIN})")
    folder = cache_dir("cifar10", f"{kind}-{expected[:16]}")
    files = folder / f"{part}_images.npy", folder / f"{part}_labels.npy"
    manifest = folder / f"{part}.json"
    if not manifest.is_file():
        arrays = decode_python_tar(path, part) if kind == "python" else decode_jpeg_tar(path, part)
        folder.mkdir(parents=True, exist_ok=True)
        for file, array in zip(files, arrays, strict=True):
            _write_npy(file, array)
        info = {"source": str(path), algorithm: expected, "shapes": [list(a.shape) for a in arrays]}
        manifest.write_text(json.dumps(info, indent=1))  # written last: marks a complete cache
    return (*_read_cache(files, manifest), folder)


def _read_cache(files: tuple[Path, Path], manifest: Path) -> tuple[np.ndarray, np.ndarray]:
    """The memory-mapped cache arrays, checked against the shapes the manifest recorded: a
    damaged cache is a :class:`DataError` saying which folder to delete."""
    fix = f"delete the folder {manifest.parent} and it is rebuilt from the archive"
    try:
        shapes = [tuple(s) for s in json.loads(manifest.read_text())["shapes"]]
        arrays = [np.load(f, mmap_mode="r", allow_pickle=False) for f in files]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"the CIFAR-10 cache is damaged ({type(exc).__name__}: {exc}); {fix}") from None
    images, labels = arrays
    ok = ([a.shape for a in arrays] == shapes and images.ndim == 4 and images.shape[1:] == (3, 32, 32)
          and images.dtype == np.uint8 and labels.shape == images.shape[:1] and labels.dtype == np.int64)
    if not ok:
        raise DataError(f"the CIFAR-10 cache holds {images.dtype} {images.shape} images and {labels.dtype} "
                        f"{labels.shape} labels, the manifest says {shapes}; {fix}")
    return images, labels


def load_cifar10(
    root: Path, split: str = "train", *, val_size: int = 5000, seed: int = 0, normalize: bool = True,
    raw: bool = False, download: bool = False,
) -> ImageDataset:
    """Split ``split`` of CIFAR-10 as an :class:`ImageDataset` of ``(3, 32, 32)`` images."""
    check_split(split, SPLITS, "cifar10")
    found = locate(root)
    if found is None and download:
        dest = root / "cifar10" / PYTHON_TAR
        if not os.access(root if root.exists() else root.parent, os.W_OK):
            dest = cache_dir("data", "cifar10", PYTHON_TAR)
        fetch_url(PYTHON_URL, dest, md5=PYTHON_MD5)
        found = (dest, "python")
    if found is None:
        places = [str(p) for p, _ in candidates(root)]
        raise missing("cifar10", [PYTHON_TAR + " or " + JPEG_TAR], places, OBTAIN)
    images, labels, folder = cached_arrays(*found, "test" if split == "test" else "train")
    images, labels = train_val(split, (images, labels), val_size, seed)
    x, y = torch.from_numpy(np.array(images)), torch.from_numpy(np.array(labels))
    mean, std = CIFAR10_STATS
    return ImageDataset(
        x, y, mean=mean, std=std, raw=raw, normalize=normalize, classes=CLASSES, name="cifar10",
        split=split, val_size=val_size, seed=seed, source=str(found[0]), cache=str(folder),
    )


@register_dataset(
    "cifar10",
    info=DatasetInfo(
        name="cifar10", task="classification", modality="image",
        size="50,000 train / 10,000 test 32x32 RGB, 10 classes; val = 5,000 held out of train (seed 0)",
        source=f"Krizhevsky 2009. {OBTAIN[0].upper()}{OBTAIN[1:]}",
        extra={"shape": (3, 32, 32), "num_classes": 10, "mean": CIFAR10_STATS[0], "std": CIFAR10_STATS[1]},
        model="resnet20-cifar",
    ),
    available=lambda root: locate(root) is not None,
)
def cifar10(root: Path, split: str = "train", **kwargs) -> ImageDataset:
    """CIFAR-10: 50,000 train / 10,000 test 32x32 colour images."""
    return load_cifar10(root, split, **kwargs)
