"""Examples per second of one epoch streamed from packed shards against the in-memory map-style loader.

    TENSORPRISM_DATA=/work/shared/data OMP_NUM_THREADS=1 nice -n 10 \
        python benchmarks/streaming_throughput.py [--datasets mnist cifar10 --repeats 3]

For each dataset the training split is packed once (``prism data pack``, 10 000 examples per shard)
into ``--packs``; then, alternately and ``--repeats`` times, one shuffled epoch of batches of 256
normalised float images is drawn from (a) the map-style dataset through the Trainer's
:class:`ResumableSampler` loader and (b) :class:`StreamingDataset` with a 10 000-example shuffling
buffer (reading, checking the SHA-256 of, and decoding every shard; whole batches gathered per
shard, as the Trainer reads it), both in the main process (``num_workers=0``). Prints the best
epoch time of each and the ratio, as JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from tensorprism.data import load_dataset
from tensorprism.data.streaming import StreamingDataset, pack_dataset
from tensorprism.train.data import ResumableSampler


def epoch_seconds(loader) -> tuple[float, int]:
    t0 = time.perf_counter()
    n = 0
    for x, _ in loader:
        n += x.shape[0]
    return time.perf_counter() - t0, n


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--datasets", nargs="+", default=["mnist", "cifar10"])
    p.add_argument("--packs", default="/tmp/tensorprism-packs")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch", type=int, default=256)
    args = p.parse_args()
    torch.set_num_threads(1)
    out = {}
    for name in args.datasets:
        root = Path(args.packs) / name
        if not (root / "index.json").exists():
            t0 = time.perf_counter()
            pack_dataset(name, root, split="train", shard_size=10_000)
            print(f"packed {name} in {time.perf_counter() - t0:.1f} s", flush=True)
        mapped = load_dataset(name, split="train")
        sampler = ResumableSampler(mapped, shuffle=True, seed=0)
        map_loader = DataLoader(mapped, batch_size=args.batch, sampler=sampler)
        stream = StreamingDataset(root, shuffle_buffer=10_000)
        stream.set_position(0, args.batch)
        stream_loader = DataLoader(stream.batched(), batch_size=None)  # what the Trainer builds
        times = {"map": [], "stream": []}
        for epoch in range(args.repeats):
            sampler.set_epoch(epoch)
            stream.set_epoch(epoch)
            stream.set_position(0, args.batch)
            t_map, n_map = epoch_seconds(map_loader)
            t_stream, n_stream = epoch_seconds(stream_loader)
            times["map"].append(t_map)
            times["stream"].append(t_stream)
            print(name, epoch, f"map {t_map:.2f}s ({n_map})", f"stream {t_stream:.2f}s ({n_stream})", flush=True)
        best = {k: min(v) for k, v in times.items()}
        out[name] = {"examples": n_map, "map_s": best["map"], "stream_s": best["stream"],
                     "map_ex_per_s": n_map / best["map"], "stream_ex_per_s": n_stream / best["stream"],
                     "stream_over_map_time": best["stream"] / best["map"],
                     "shard_mib": sum(s["bytes"] for s in stream.index["shards"]) / 2**20}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
