"""``prism data``: prepare data for training at scale.

``prism data pack DATASET --out DIR`` writes a registered dataset's split as WebDataset tar shards
plus an index (:mod:`tensorprism.data.streaming`), to be streamed with
:class:`~tensorprism.data.streaming.StreamingDataset` (per-rank and per-worker sharding, a
shuffling buffer, exact mid-epoch resume). ``prism data consolidate RUN --out FILE`` gathers the
sharded checkpoint of an FSDP run into one ``.safetensors`` file.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="pack datasets into streaming shards; consolidate sharded checkpoints")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    pack = actions.add_parser("pack", help="write a dataset split as WebDataset tar shards + index.json")
    pack.add_argument("dataset", help="a registered in-memory dataset (mnist, fashion-mnist, cifar10, ...)")
    pack.add_argument("--out", required=True, help="folder to write (must not hold a packed dataset)")
    pack.add_argument("--split", default="train", help="split to pack (default: train)")
    pack.add_argument("--shard-size", type=int, default=10_000, help="examples per shard (default: 10000)")
    pack.add_argument("--limit", type=int, default=None, help="pack only the first N examples")
    pack.add_argument("--root", help="data root (default: $TENSORPRISM_DATA or ~/.cache/tensorprism/data)")
    pack.add_argument("--overwrite", action="store_true", help="replace a packed dataset already in --out")
    pack.set_defaults(func=run_pack)
    cons = actions.add_parser("consolidate", help="gather an FSDP run's sharded checkpoint into one .safetensors")
    cons.add_argument("checkpoint", help="a run directory, its checkpoints/ folder or a .sharded.json manifest")
    cons.add_argument("--out", required=True, help="the .safetensors file to write")
    cons.add_argument("--which", default="last", choices=("last", "best"), help="checkpoint of a run directory")
    cons.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    cons.set_defaults(func=run_consolidate)


def run_pack(args: argparse.Namespace) -> int:
    from ..data.streaming import StreamingDataset, pack_dataset
    from ..errors import ConfigError

    if args.shard_size < 1 or (args.limit is not None and args.limit < 1):
        raise ConfigError(f"--shard-size and --limit must be >= 1, got {args.shard_size} and {args.limit}")
    index = pack_dataset(args.dataset, args.out, split=args.split, shard_size=args.shard_size, root=args.root,
                         limit=args.limit, overwrite=args.overwrite)
    ds = StreamingDataset(index.parent)
    size = sum(s["bytes"] for s in ds.index["shards"])
    print(f"packed {args.dataset}/{args.split}: {ds.index['count']} examples in {len(ds.index['shards'])} "
          f"shard(s), {size / 2**20:.1f} MiB -> {index}")
    return 0


def run_consolidate(args: argparse.Namespace) -> int:
    from ..train.sharded import consolidate, resolve_manifest

    out = consolidate(resolve_manifest(args.checkpoint, args.which), args.out, overwrite=args.overwrite)
    print(f"consolidated {args.checkpoint} -> {out}")
    return 0
