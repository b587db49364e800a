"""Data files that are empty, truncated, tampered with or inconsistent give one clear error, never a
crash, an out-of-bounds write, or code execution. Miniature Planetoid files are written here in
the original format (protocol-2 pickles of scipy CSR matrices, numpy arrays and a defaultdict)."""

from __future__ import annotations

import collections
import os
import pickle

import numpy as np
import pytest
import scipy.sparse as sp

from tensorprism.data.datasets.graphs import UnsafePickleError, load_planetoid
from tensorprism.errors import DataError

F, C = 5, 3  # features, classes


def _objects():
    rng = np.random.default_rng(0)

    def feats(n):
        return sp.csr_matrix((rng.random((n, F)) > 0.5).astype(np.float32))

    def labels(n):
        return np.eye(C, dtype=np.int32)[rng.integers(0, C, n)]

    graph = collections.defaultdict(list)
    for a, b in [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (6, 7), (7, 8), (8, 0)]:
        graph[a].append(b)
        graph[b].append(a)
    return {"x": feats(2), "tx": feats(3), "allx": feats(6), "y": labels(2), "ty": labels(3), "ally": labels(6),
            "graph": graph, "test.index": "7\n6\n8\n"}


def _write(root, objects, name="cora"):
    folder = root / "planetoid"
    folder.mkdir(exist_ok=True)
    for key, obj in objects.items():
        path = folder / f"ind.{name}.{key}"
        if isinstance(obj, (str, bytes)):
            path.write_bytes(obj.encode() if isinstance(obj, str) else obj)
        else:
            path.write_bytes(pickle.dumps(obj, protocol=2))
    return folder


def test_miniature_planetoid_loads(tmp_path):
    _write(tmp_path, _objects())
    g = load_planetoid(tmp_path, "cora")
    assert g.num_nodes == 9 and tuple(g.x.shape) == (9, F)
    assert int(g.train_mask.sum()) == 2 and g.test_mask[6:].all()


def _bad_column(objs):
    objs["tx"].indices[0] = 10**6  # the crash of the review: densifying wrote outside the buffer


CORRUPTIONS = {
    "column index out of range": (_bad_column, "column indices"),
    "indptr not monotone": (lambda o: setattr(o["tx"], "indptr", np.array([0, 3, 1, 0], np.int32)), "indptr"),
    "indptr past the data": (lambda o: setattr(o["tx"], "indptr", np.array([0, 1, 2, 10**6], np.int32)),
                             "indptr"),
    "shape too large to densify": (lambda o: setattr(o["tx"], "_shape", (3, 10**9)), "too large"),
    "shape not integers": (lambda o: setattr(o["tx"], "_shape", ("3", 5)), "declares shape"),
    "float indices": (lambda o: setattr(o["tx"], "indices", o["tx"].indices.astype(np.float64)), "indices"),
    "object array": (lambda o: o.update(ty=np.array([[None]], dtype=object)), "2-D numeric matrix"),
    "labels of another length": (lambda o: o.update(ty=o["ty"][:2]), "label rows"),
    "labels of another class count": (lambda o: o.update(ally=np.ones((6, C + 1), np.int32)), "label columns"),
    "features of another width": (lambda o: o.update(allx=sp.csr_matrix(np.ones((6, F + 2), np.float32))),
                                  "feature columns"),
    "test id out of range": (lambda o: o.update(**{"test.index": "7\n6\n99\n"}), "test ids"),
    "duplicate test id": (lambda o: o.update(**{"test.index": "7\n6\n6\n"}), "distinct"),
    "test ids overlap allx": (lambda o: o.update(**{"test.index": "5\n6\n7\n"}), "start at 5"),
    "empty test index": (lambda o: o.update(**{"test.index": ""}), "found none"),
    "test index not numbers": (lambda o: o.update(**{"test.index": "seven\n"}), "one integer node id"),
    "neighbour out of range": (lambda o: o["graph"][3].append(10**9), "node id 1000000000"),
    "negative node": (lambda o: o["graph"].__setitem__(-1, [0]), "node id -1"),
    "graph of the wrong type": (lambda o: o.update(graph=[[0, 1]]), "expected a dict"),
    "neighbours not a list": (lambda o: o["graph"].__setitem__(2, "abc"), "expected a list"),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_corrupt_planetoid_files_raise_data_error(tmp_path, case):
    corrupt, message = CORRUPTIONS[case]
    objs = _objects()
    corrupt(objs)
    _write(tmp_path, objs)
    with pytest.raises(DataError, match=message):
        load_planetoid(tmp_path, "cora")


@pytest.mark.parametrize("key", ["x", "tx", "allx", "y", "ty", "ally", "graph"])
def test_empty_and_truncated_pickles_raise_data_error(tmp_path, key):
    folder = _write(tmp_path, _objects())
    path = folder / f"ind.cora.{key}"
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match="truncated or not a Planetoid pickle"):
        load_planetoid(tmp_path, "cora")
    path.write_bytes(b"")
    with pytest.raises(DataError, match="is empty"):
        load_planetoid(tmp_path, "cora")


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_a_pickle_naming_another_global_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    objs = _objects()
    objs["graph"] = {0: [1], "payload": _RunsCode(marker)}
    _write(tmp_path, objs)
    with pytest.raises(UnsafePickleError, match=r"refusing to load (posix|os)\.mkdir"):
        load_planetoid(tmp_path, "cora")
    assert not marker.exists()


def test_citeseer_padding_checks_still_hold(tmp_path):
    """CiteSeer pads test ids without rows; the ids must still start right after allx."""
    objs = _objects()
    objs["test.index"] = "6\n8\n10\n"  # three rows of tx spread over ids 6..10: two padded rows
    _write(tmp_path, objs, name="citeseer")
    g = load_planetoid(tmp_path, "citeseer")
    assert g.num_nodes == 11 and g.x[[7, 9]].abs().sum() == 0
    objs["test.index"] = "7\n8\n10\n"
    _write(tmp_path, objs, name="citeseer")
    with pytest.raises(DataError, match="start at 7"):
        load_planetoid(tmp_path, "citeseer")


# ------------------------------------------------------------------------- other raw-array files


def test_idx_files_must_hold_exactly_the_values_their_header_declares():
    from tensorprism.data.datasets.mnist import read_idx

    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    data = b"\x00\x00\x08\x03" + np.array([2, 3, 4], ">u4").tobytes() + arr.tobytes()
    assert np.array_equal(read_idx(data), arr)
    for bad, message in [(data[:-1], "truncated"), (data + b"\x00", "truncated"), (data[:9], "ends inside"),
                         (b"\x00\x00\x08\x00", "ends inside"), (b"", "magic")]:
        with pytest.raises(DataError, match=message):
            read_idx(bad)


def test_damaged_cifar_cache_names_the_folder_to_delete(tmp_path):
    import json

    from tensorprism.data.datasets.cifar10 import _read_cache

    files = tmp_path / "train_images.npy", tmp_path / "train_labels.npy"
    manifest = tmp_path / "train.json"
    np.save(files[0], np.zeros((4, 3, 32, 32), np.uint8))
    np.save(files[1], np.zeros(4, np.int64))
    manifest.write_text(json.dumps({"shapes": [[4, 3, 32, 32], [4]]}))
    images, labels = _read_cache(files, manifest)
    assert images.shape == (4, 3, 32, 32) and labels.shape == (4,)
    np.save(files[1], np.zeros(3, np.int64))  # labels of another length
    with pytest.raises(DataError, match=f"delete the folder {tmp_path}"):
        _read_cache(files, manifest)
    files[0].write_bytes(files[0].read_bytes()[:200])  # truncated images
    with pytest.raises(DataError, match="damaged"):
        _read_cache(files, manifest)
    manifest.write_text("{")
    with pytest.raises(DataError, match="damaged"):
        _read_cache(files, manifest)
