"""One exception hierarchy for everything tensorprism raises on purpose.

Every message should say three things: what was wrong, what was expected, and how to fix it.
The subclasses also inherit from the matching built-in (``KeyError``, ``ValueError``...) so code
that already catches those keeps working.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class TensorPrismError(Exception):
    """Base class of all errors raised deliberately by tensorprism."""


# the `prism` command that lists a registry's names, where it is not `prism <kind>s`
LIST_COMMANDS = {"recipe": "prism run"}


class UnknownNameError(TensorPrismError, KeyError):
    """A registry lookup (model, dataset, recipe, task...) used a name that is not registered."""

    def __init__(self, kind: str, name: str, known: Iterable[str]):
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        listing = f" Known {kind}s: {', '.join(known)}." if len(known) <= 30 else (
            f" Run `{LIST_COMMANDS.get(kind, f'prism {kind}s')}` to list all {len(known)} of them."
        )
        self.kind, self.name, self.suggestions = kind, name, close
        super().__init__(f"unknown {kind} {name!r}.{hint}{listing}")

    def __str__(self) -> str:  # KeyError would otherwise print the message with quotes
        return self.args[0]


class ConfigError(TensorPrismError, ValueError):
    """A configuration value is missing, unknown or of the wrong type."""


class ShapeError(TensorPrismError, ValueError):
    """A tensor has the wrong number of dimensions, sizes or dtype."""


class DatasetNotFoundError(TensorPrismError, FileNotFoundError):
    """A dataset's files are not on disk; the message says where to put them."""


class ChecksumError(TensorPrismError, OSError):
    """A file on disk does not match its published checksum."""


class DataError(TensorPrismError, ValueError):
    """A data file is empty, truncated, or disagrees with the shapes it declares."""


class CheckpointError(TensorPrismError, OSError):
    """A checkpoint is missing, corrupt, or does not match the model it is loaded into."""


class NonFiniteError(TensorPrismError, FloatingPointError):
    """A loss or gradient became NaN or Inf during training."""


def suggest(name: str, known: Iterable[str]) -> list[str]:
    """Names from ``known`` that look like ``name`` (for 'did you mean' hints)."""
    return difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.5)
