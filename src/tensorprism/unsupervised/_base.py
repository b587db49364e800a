"""What the unsupervised estimators share: input checks, the device/dtype policy, seeded generators.

Inputs are NumPy arrays or tensors ``(N, D)``. Work happens in torch on ``device`` (``None``: the
input tensor's device, else CPU) in ``dtype`` (float64 by default, so results match scikit-learn and
SciPy to rounding; float32 halves memory and is faster on GPUs). Fitted attributes are NumPy arrays,
as scikit-learn users expect; ``*_tensor`` helpers give tensors where a caller wants to stay on the
device.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils.validation import check_array

from ..errors import ConfigError, DataError, ShapeError


def resolve_dtype(dtype) -> torch.dtype:
    """``"float64"``/``"float32"`` (or a ``torch.dtype``) as a floating ``torch.dtype``."""
    if isinstance(dtype, torch.dtype) and dtype.is_floating_point:
        return dtype
    if dtype in ("float64", "float32", "float16", "bfloat16"):
        return getattr(torch, dtype)
    raise ConfigError(f"dtype must be 'float64', 'float32', 'float16' or 'bfloat16', got {dtype!r}")


def as_tensor(X, *, estimator: str, device=None, dtype="float64", min_samples: int = 1) -> torch.Tensor:
    """``X`` as a 2-D finite float tensor, or a clear error saying what was wrong.

    Raises:
        DataError: NaN or infinite values (message names them: sklearn's checks look for "NaN"/"inf").
        ShapeError: not 2-D, no features, or fewer than ``min_samples`` rows.
    """
    dtype = resolve_dtype(dtype)
    if isinstance(X, torch.Tensor):
        dev = device if device is not None else X.device
        t = X.detach()
        if t.ndim != 2:
            raise ShapeError(f"{estimator} expects a 2-D array (n_samples, n_features), got shape {tuple(t.shape)}; "
                             "reshape it, e.g. X.reshape(len(X), -1)")
        if t.is_complex():
            raise DataError(f"{estimator} does not handle complex data")
        t = t.to(dev, dtype)
        if not torch.isfinite(t).all():
            bad = "NaN" if torch.isnan(t).any() else "inf"
            raise DataError(f"Input X contains {bad}: {estimator} needs finite features; drop or impute those rows "
                            "(e.g. sklearn.impute.SimpleImputer)")
    else:
        try:
            arr = check_array(X, dtype=[np.float64, np.float32], ensure_min_samples=1)
        except ValueError as err:
            msg = str(err)
            kind = DataError if ("NaN" in msg or "inf" in msg or "complex" in msg) else ShapeError
            raise kind(f"{estimator}: {msg} Pass a finite 2-D array (n_samples, n_features).") from err
        t = torch.as_tensor(np.ascontiguousarray(arr), dtype=dtype, device=device or "cpu")
    if t.shape[1] == 0:
        raise ShapeError(f"{estimator} got 0 features (shape {tuple(t.shape)}); at least one is required")
    if t.shape[0] < min_samples:
        raise ShapeError(f"{estimator} needs at least {min_samples} samples, got n_samples = {t.shape[0]}")
    return t


def check_n_clusters(k, n: int, *, name: str, estimator: str) -> int:
    """``k`` as an int in ``[1, n]``; more clusters than points is a :class:`ConfigError`."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigError(f"{estimator}: {name} must be an integer >= 1, got {k!r}")
    if k > n:
        raise ConfigError(f"{estimator}: {name}={k} is larger than the number of samples ({n}); "
                          f"use {name} <= {n} or pass more data")
    return int(k)


def generator(random_state) -> torch.Generator:
    """A CPU ``torch.Generator`` from ``random_state`` (int, ``None``: a fresh random seed, or a
    ``numpy.random.RandomState``/``Generator`` from which a seed is drawn)."""
    if random_state is None:
        seed = int(np.random.randint(0, 2**31 - 1))
    elif isinstance(random_state, (int, np.integer)):
        seed = int(random_state)
    elif isinstance(random_state, np.random.RandomState):
        seed = int(random_state.randint(0, 2**31 - 1))
    elif isinstance(random_state, np.random.Generator):
        seed = int(random_state.integers(0, 2**31 - 1))
    else:
        raise ConfigError(f"random_state must be None, an int or a NumPy random state, got {random_state!r}")
    return torch.Generator().manual_seed(seed)


def sq_distances(x: torch.Tensor, c: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """Squared Euclidean distances ``(N, K)`` by the expansion ``|x|^2 - 2 x.c + |c|^2``, clamped at 0,
    in row chunks so that a large ``N`` never builds more than ``chunk x K`` at once."""
    cc = (c * c).sum(1)
    out = []
    for start in range(0, x.shape[0], chunk):
        xb = x[start:start + chunk]
        out.append(((xb * xb).sum(1, keepdim=True) - 2 * xb @ c.T + cc).clamp_min_(0))
    return torch.cat(out) if out else x.new_zeros(0, c.shape[0])


def to_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


__all__ = ["resolve_dtype", "as_tensor", "check_n_clusters", "generator", "sq_distances", "to_numpy"]
