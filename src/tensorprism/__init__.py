"""tensorprism: the tensors, layers, models and training loops of *Deep Learning Through the
Prism of Tensors*, as tested and fast PyTorch code."""

from __future__ import annotations

from .data import list_datasets, load_dataset
from .errors import TensorPrismError
from .models import count_parameters, create_model, list_models

__version__ = "0.1.0"

__all__ = [
    "__version__", "TensorPrismError", "create_model", "list_models", "count_parameters",
    "load_dataset", "list_datasets", "Trainer",
]


def __getattr__(name: str):
    # The trainer pulls in more of torch; import it lazily so `import tensorprism` stays light.
    if name == "Trainer":
        from .train import Trainer

        return Trainer
    raise AttributeError(f"module 'tensorprism' has no attribute {name!r}")
