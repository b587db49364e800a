"""Helpers for the project's own tests (importable, so every test folder can share them)."""

from __future__ import annotations

import os
from pathlib import Path

# <repo>/src/tensorprism/testing.py -> <repo>/../shared/data (where CI lays the shared data)
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_path(path: str | os.PathLike, why: str) -> Path:
    """Return ``path`` if it exists; otherwise skip the test, or fail it when ``CI=true``.

    Real-data tests use this so that a user without the data sees a clear skip reason while CI,
    which always has ``../shared/data``, can never skip them silently.
    """
    import pytest

    p = Path(path)
    if p.exists():
        return p
    msg = f"{why}: {p} not found"
    if in_ci():
        pytest.fail(msg + " (CI=true: real-data tests must not skip)")
    pytest.skip(msg)


def require_datasets(*names: str) -> None:
    """Skip the test when a registered dataset is not on disk, or fail it when ``CI=true`` (the
    same rule as :func:`require_path`, for datasets known by name)."""
    import pytest

    from .data import is_available

    missing = [n for n in names if not is_available(n)]
    if not missing:
        return
    msg = f"datasets not on disk: {', '.join(missing)} (make data)"
    if in_ci():
        pytest.fail(msg + " (CI=true: real-data tests must not skip)")
    pytest.skip(msg)


def shared_data(*parts: str) -> Path:
    """A path under the data root used by tests (``$TENSORPRISM_DATA`` or ``../shared/data``).

    For tests only: the library and its recipes resolve their data root with
    :func:`tensorprism.data.data_root`. An empty ``TENSORPRISM_DATA`` counts as not set.
    """
    root = Path(os.environ.get("TENSORPRISM_DATA", "").strip() or SHARED_DATA).resolve()
    return root.joinpath(*parts)
