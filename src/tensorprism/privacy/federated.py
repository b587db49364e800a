r"""Federated averaging (McMahan et al. 2017) over simulated clients.

Each round, every client starts from the global weights, trains ``local_epochs`` on its own data,
and the server replaces the global weights by the average of the client weights **weighted by the
clients' dataset sizes**

.. math:: \theta \leftarrow \sum_k \frac{n_k}{n}\,\theta_k,

not the book's unweighted mean :math:`\frac1K\sum_k\theta_k` (L24559, erratum 26), which lets a
client with ten examples pull as hard as one with ten thousand. Buffers (BatchNorm statistics) are
averaged the same way; integer buffers (counters) are taken from the largest client.

Splits of one labelled dataset into clients: :func:`split_iid` (uniform random) and
:func:`split_label_skew` (each client sees few classes: shards of label-sorted data, as in
McMahan et al.'s "pathological non-IID" MNIST, or a Dirichlet(α) mix per class).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.data import Subset

from ..errors import ConfigError

__all__ = ["split_iid", "split_label_skew", "fedavg_weights", "federated_averaging"]


def split_iid(n: int, clients: int, seed: int = 0) -> list[list[int]]:
    """``clients`` disjoint, equally sized random index lists covering ``range(n)``."""
    if not 1 <= clients <= n:
        raise ConfigError(f"clients must lie in [1, {n}], got {clients}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return [c.tolist() for c in perm.chunk(clients)]


def split_label_skew(labels: torch.Tensor, clients: int, *, shards_per_client: int = 2, alpha: float | None = None,
                     seed: int = 0) -> list[list[int]]:
    """Non-IID splits by label. Default: sort by label, cut into ``clients * shards_per_client``
    shards and give each client ``shards_per_client`` random shards (so most clients see about
    that many classes). With ``alpha``: each class is divided among clients in Dirichlet(α)
    proportions (small α = strong skew)."""
    labels = torch.as_tensor(labels)
    g = torch.Generator().manual_seed(seed)
    n = len(labels)
    if not 1 <= clients <= n:
        raise ConfigError(f"clients must lie in [1, {n}], got {clients}")
    if alpha is None:
        order = torch.argsort(labels, stable=True)
        shards = order.chunk(clients * shards_per_client)
        pick = torch.randperm(len(shards), generator=g)
        return [torch.cat([shards[int(s)] for s in pick[k::clients]]).tolist() for k in range(clients)]
    if not alpha > 0:
        raise ConfigError(f"alpha (Dirichlet concentration) must be > 0, got {alpha}")
    out: list[list[int]] = [[] for _ in range(clients)]
    dirichlet = torch.distributions.Dirichlet(torch.full((clients,), float(alpha)))
    for c in labels.unique():
        idx = (labels == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        with torch.random.fork_rng(devices=[]):  # Dirichlet takes no generator: seed a private copy
            torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=g)))
            share = dirichlet.sample()
        cuts = (share.cumsum(0) * len(idx)).round().long()[:-1].tolist()
        for k, part in enumerate(torch.tensor_split(idx, cuts)):
            out[k] += part.tolist()
    return out


def fedavg_weights(states: Sequence[dict[str, torch.Tensor]], sizes: Sequence[int]) -> dict[str, torch.Tensor]:
    """``sum_k (n_k / n) state_k`` for floating tensors; integer tensors from the largest client."""
    if len(states) != len(sizes) or not states:
        raise ConfigError(f"need one size per client state, got {len(states)} states and {len(sizes)} sizes")
    total = float(sum(sizes))
    if total <= 0:
        raise ConfigError("the clients hold no data (all sizes are 0)")
    largest = max(range(len(sizes)), key=lambda k: sizes[k])
    out = {}
    for key, ref in states[0].items():
        if ref.is_floating_point():
            out[key] = sum(s[key].float() * (n / total) for s, n in zip(states, sizes, strict=True)).to(ref.dtype)
        else:
            out[key] = states[largest][key].clone()
    return out


def federated_averaging(model: nn.Module, dataset: Any, client_indices: Sequence[Sequence[int]], *, rounds: int,
                        local_train: Callable[[nn.Module, Any], None],
                        evaluate: Callable[[nn.Module], float] | None = None,
                        clients_per_round: int | None = None, seed: int = 0) -> list[dict[str, float]]:
    """Run ``rounds`` of FedAvg on ``model`` in place; returns one log entry per round.

    Args:
        dataset: the pooled data; client ``k`` trains on ``Subset(dataset, client_indices[k])``.
        local_train: ``fn(client_model, client_data)`` trains a copy of the global model in place
            (e.g. a few epochs with the :class:`~tensorprism.train.Trainer`).
        evaluate: ``fn(model) -> accuracy`` of the global model after each round.
        clients_per_round: sample this many clients per round (``C K`` in McMahan et al.); all by default.
    """
    if rounds < 1:
        raise ConfigError(f"rounds must be >= 1, got {rounds}")
    g = torch.Generator().manual_seed(seed)
    k_all = len(client_indices)
    history = []
    for r in range(rounds):
        chosen = list(range(k_all))
        if clients_per_round and clients_per_round < k_all:
            chosen = torch.randperm(k_all, generator=g)[:clients_per_round].tolist()
        states, sizes = [], []
        for k in chosen:
            if not client_indices[k]:
                continue
            local = copy.deepcopy(model)
            local_train(local, Subset(dataset, list(client_indices[k])))
            states.append({n: t.detach() for n, t in local.state_dict().items()})
            sizes.append(len(client_indices[k]))
        model.load_state_dict(fedavg_weights(states, sizes))
        entry = {"round": r + 1, "clients": len(states)}
        if evaluate is not None:
            entry["acc"] = float(evaluate(model))
        history.append(entry)
    return history
