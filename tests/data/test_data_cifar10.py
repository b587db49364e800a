import hashlib
import io
import pickle
import tarfile

import numpy as np
import pytest
import torch

import tensorprism.data.datasets.cifar10 as c10
from tensorprism.data import is_available, load_dataset
from tensorprism.errors import ChecksumError, DatasetNotFoundError
from tensorprism.testing import require_path, shared_data


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _python_tarball(path, per_batch=4, payload=None):
    """A miniature cifar-10-python.tar.gz: 5 train batches + 1 test batch, pickled like the original."""
    rng = np.random.default_rng(0)
    batches = {}
    with tarfile.open(path, "w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
            labels = [int(v) for v in rng.integers(0, 10, per_batch)]
            batches[name] = (data, labels)
            obj = payload if payload is not None else {b"data": data, b"labels": labels, b"batch_label": name.encode()}
            _add(tar, f"cifar-10-batches-py/{name}", pickle.dumps(obj, protocol=2))
        _add(tar, "cifar-10-batches-py/batches.meta", pickle.dumps({b"label_names": [c.encode() for c in c10.CLASSES]}))
    return batches


def test_python_tarball_decodes_to_nchw_in_original_order(tmp_path):
    batches = _python_tarball(tmp_path / c10.PYTHON_TAR)
    train_x, train_y = c10.decode_python_tar(tmp_path / c10.PYTHON_TAR, "train")
    test_x, test_y = c10.decode_python_tar(tmp_path / c10.PYTHON_TAR, "test")
    assert train_x.shape == (20, 3, 32, 32) and test_x.shape == (4, 3, 32, 32)
    first = batches["data_batch_1"][0][0]  # 1024 R, then 1024 G, then 1024 B values, row-major
    assert np.array_equal(train_x[0, 1], first[1024:2048].reshape(32, 32))
    assert train_y[:4].tolist() == batches["data_batch_1"][1] and test_y.tolist() == batches["test_batch"][1]


def test_python_tarball_refuses_pickled_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    _python_tarball(tmp_path / c10.PYTHON_TAR, payload=Evil())
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to unpickle (__builtin__|builtins)\.print"):
        c10.decode_python_tar(tmp_path / c10.PYTHON_TAR, "test")


def test_python_tarball_is_verified_cached_and_split(tmp_path, monkeypatch):
    path = tmp_path / "root" / "cifar10" / c10.PYTHON_TAR
    path.parent.mkdir(parents=True)
    _python_tarball(path, per_batch=10)
    monkeypatch.setenv("TENSORPRISM_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ChecksumError, match=f"md5 is .* but {c10.PYTHON_MD5}"):
        load_dataset("cifar10", root=tmp_path / "root", split="test")
    monkeypatch.setattr(c10, "PYTHON_MD5", hashlib.md5(path.read_bytes()).hexdigest())
    train = load_dataset("cifar10", root=tmp_path / "root", split="train", val_size=10, raw=True)
    val = load_dataset("cifar10", root=tmp_path / "root", split="val", val_size=10)
    assert (len(train), len(val)) == (40, 10) and train.data.dtype == torch.uint8
    assert val.tensors()[0].shape == (10, 3, 32, 32) and val.tensors()[0].dtype == torch.float32
    assert [p.name for p in (tmp_path / "cache" / "cifar10").glob("python-*/*.json")] == ["train.json"]
    assert train.meta["source"] == str(path)


def test_jpeg_tarball_decodes_by_split_and_class(tmp_path):
    from PIL import Image

    path = tmp_path / c10.JPEG_TAR
    with tarfile.open(path, "w:gz") as tar:
        for split, count in (("train", 2), ("test", 1)):
            for k, cls in enumerate(c10.CLASSES):
                for i in range(count):
                    buf = io.BytesIO()
                    Image.new("RGB", (32, 32), (25 * k, 200, 10 * i)).save(buf, "JPEG", quality=95)
                    _add(tar, f"cifar10-jpg/{split}/{cls}/{i:04d}.jpg", buf.getvalue())
    (train_x, train_y), (test_x, _) = c10.decode_jpeg_tar(path, "train"), c10.decode_jpeg_tar(path, "test")
    assert train_x.shape == (20, 3, 32, 32) and test_x.shape == (10, 3, 32, 32)
    assert train_y.tolist() == [k for k in range(10) for _ in range(2)]
    red = test_x[:, 0].mean((1, 2))
    assert np.allclose(red, 25 * np.arange(10), atol=3)  # JPEG is lossy, but not by much


def test_missing_cifar10_names_both_archives_and_where(tmp_path, monkeypatch):
    monkeypatch.setenv("TENSORPRISM_CACHE", str(tmp_path / "cache"))
    assert not is_available("cifar10", root=tmp_path)
    with pytest.raises(DatasetNotFoundError) as err:
        load_dataset("cifar10", root=tmp_path)
    msg = str(err.value)
    assert "cifar-10-python.tar.gz or cifar10-jpg.tar.gz" in msg and str(tmp_path / "cifar10") in msg
    assert "download=True" in msg and "../shared/data/cifar10-jpg.tar.gz" in msg


def test_download_goes_to_root_and_is_md5_checked(tmp_path, monkeypatch):
    src = tmp_path / "server.tar.gz"
    _python_tarball(src)
    monkeypatch.setenv("TENSORPRISM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(c10, "PYTHON_MD5", hashlib.md5(src.read_bytes()).hexdigest())
    calls = []

    def fake_fetch(url, dest, md5):
        calls.append((url, md5))
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(src.read_bytes())

    monkeypatch.setattr(c10, "fetch_url", fake_fetch)
    ds = load_dataset("cifar10", root=tmp_path / "root", split="test", download=True)
    assert calls == [("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", c10.PYTHON_MD5)]
    assert len(ds) == 4 and (tmp_path / "root" / "cifar10" / c10.PYTHON_TAR).is_file()


@pytest.mark.data
def test_cifar10_jpeg_archive_loads_with_standard_normalisation():
    require_path(shared_data(c10.JPEG_TAR), "CIFAR-10 JPEG archive")
    test = load_dataset("cifar10", split="test")
    x, y = test.tensors()
    assert x.shape == (10000, 3, 32, 32) and y.bincount().tolist() == [1000] * 10
    assert x.mean((0, 2, 3)).abs().max() < 0.05 and (x.std((0, 2, 3)) - 1).abs().max() < 0.05
    assert test.classes[0] == "airplane" and test.meta["source"].endswith(c10.JPEG_TAR)
