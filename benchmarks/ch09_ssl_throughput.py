"""Seconds per optimiser step of each SSL method vs a supervised step of the same encoder and batch
(ResNet-18, CIFAR stem, real CIFAR-10 images), measured alternately in one process so that machine
load affects both alike. The two-view methods should cost about 2x a supervised step (SwAV with
multi-crop more: 2 large + small crops).

    python benchmarks/ch09_ssl_throughput.py --batch-size 64 --steps 5 [--device cuda]
"""

from __future__ import annotations

import argparse
import json

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--methods", default="simclr,moco,byol,swav")
    args = ap.parse_args()
    torch.set_num_threads(1) if args.device == "cpu" else None

    from tensorprism.recipes.ch09 import SSLConfig, _encoder, _images, _throughput
    from tensorprism.train.tasks import create_task
    from tensorprism.train.tasks.ssl import build_ssl_net

    data = _images("cifar10", "train", args.batch_size, 0)
    batch = next(iter(torch.utils.data.DataLoader(data, batch_size=args.batch_size)))
    for method in args.methods.split(","):
        cfg = SSLConfig(method=method, throughput_steps=args.steps)
        torch.manual_seed(0)
        net = build_ssl_net(method, _encoder(cfg, 3), proj_dim=cfg.proj_dim, proj_hidden=cfg.proj_hidden,
                            queue_size=cfg.queue_size, num_prototypes=cfg.num_prototypes).to(args.device)
        res = _throughput(cfg, net, create_task(method), batch, torch.device(args.device))
        print(json.dumps({"method": method, "batch_size": args.batch_size, "device": args.device, **res}), flush=True)


if __name__ == "__main__":
    main()
