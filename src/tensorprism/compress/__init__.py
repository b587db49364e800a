"""Model compression by tensor decomposition: factorised CP/Tucker/TT Linear and Conv2d layers and
``compress(model, method, rank)`` that factorises a trained model's weights."""

from .factorize import METHODS, compress, parameter_ratio, rank_for_ratio
from .layers import (
    CPConv2d,
    CPLinear,
    TTConv2d,
    TTLinear,
    TuckerConv2d,
    TuckerLinear,
    balanced_factors,
)

__all__ = [
    "compress", "parameter_ratio", "rank_for_ratio", "METHODS", "CPLinear", "TuckerLinear", "TTLinear",
    "CPConv2d", "TuckerConv2d", "TTConv2d", "balanced_factors",
]
