"""Reference optimiser steps (tensorprism.functional.optim_ref) vs torch.optim after 100 steps.

Prints, per optimiser configuration, the largest relative parameter difference
max|θ_ref − θ_torch| / max|θ_torch| after 100 mini-batch steps on a 10-12-3 tanh MLP, in float64
and float32. Usage: python benchmarks/ch03_optim_parity.py
"""

from __future__ import annotations

import torch

from tensorprism.optim.reference import parity_with_torch

CONFIGS = [
    ("SGD", "sgd", torch.optim.SGD, {"lr": 0.05}),
    ("SGD momentum 0.9, dampening 0.1, wd 1e-3", "sgd", torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "dampening": 0.1, "weight_decay": 1e-3}),
    ("SGD Nesterov 0.9", "sgd", torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("Adagrad (lr_decay, wd, acc0 0.1)", "adagrad", torch.optim.Adagrad, {"lr": 0.05, "lr_decay": 0.01, "weight_decay": 1e-3, "initial_accumulator_value": 0.1}),
    ("Adadelta", "adadelta", torch.optim.Adadelta, {"lr": 1.0, "weight_decay": 1e-3}),
    ("RMSprop", "rmsprop", torch.optim.RMSprop, {"lr": 1e-3}),
    ("RMSprop centred + momentum 0.5", "rmsprop", torch.optim.RMSprop, {"lr": 1e-3, "centered": True, "momentum": 0.5, "weight_decay": 1e-3}),
    ("Adam (wd 1e-3, coupled)", "adam", torch.optim.Adam, {"lr": 1e-2, "weight_decay": 1e-3}),
    ("AMSGrad", "adam", torch.optim.Adam, {"lr": 1e-2, "amsgrad": True}),
    ("AdamW (wd 0.1)", "adamw", torch.optim.AdamW, {"lr": 1e-2, "weight_decay": 0.1}),
    ("Adamax", "adamax", torch.optim.Adamax, {"lr": 2e-3, "weight_decay": 1e-3}),
    ("NAdam", "nadam", torch.optim.NAdam, {"lr": 2e-3}),
    ("NAdam decoupled wd", "nadam", torch.optim.NAdam, {"lr": 2e-3, "weight_decay": 1e-2, "decoupled_weight_decay": True}),
]


def main() -> None:
    print("| optimiser | max rel. diff, float64 | max rel. diff, float32 |")
    print("|---|---|---|")
    for label, rule, cls, hyper in CONFIGS:
        d64 = parity_with_torch(cls, rule, hyper, steps=100, dtype=torch.float64)
        d32 = parity_with_torch(cls, rule, hyper, steps=100, dtype=torch.float32)
        print(f"| {label} | {d64:.1e} | {d32:.1e} |")


if __name__ == "__main__":
    main()
