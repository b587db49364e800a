"""Name → constructor registries shared by models, datasets, recipes and tasks.

A registry maps a lower-case name to an entry holding the constructor, a typed configuration
dataclass (optional), default overrides for that name, a family/group label and a one-line
description. Unknown names raise :class:`~tensorprism.errors.UnknownNameError` with the closest
matches; unknown configuration keys raise :class:`~tensorprism.errors.ConfigError` likewise.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .errors import ConfigError, UnknownNameError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    fn: Callable[..., T]
    config: type | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    family: str = ""
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def make_config(self, **overrides: Any) -> Any:
        """Build this entry's config dataclass from its defaults plus ``overrides``."""
        if self.config is None:
            raise ConfigError(f"{self.name!r} has no configuration dataclass")
        values = {**self.defaults, **overrides}
        return build_config(self.config, values, owner=self.name)


def build_config(cls: type, values: dict[str, Any], owner: str = "") -> Any:
    """Instantiate dataclass ``cls`` from ``values``, each checked against its annotation and range.

    Unknown keys and wrongly typed values raise :class:`ConfigError` naming the setting (see
    :mod:`tensorprism.config` for the type and coercion rules).
    """
    from .config import validate_values

    checked = validate_values(cls, values, owner=owner)
    try:
        return cls(**checked)
    except TypeError as exc:  # e.g. a required field is missing
        raise ConfigError(f"cannot build {cls.__name__}{' for ' + owner if owner else ''}: {exc}") from exc


class Registry(Generic[T]):
    """A named collection of constructors, filled by the ``register`` decorator.

    ``discover`` names a package whose submodules are imported on first lookup, so that adding a
    file that registers something is all it takes to extend the library (no central list to edit).
    """

    def __init__(self, kind: str, discover: str | None = None):
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}
        self._discover = discover
        self._discovered = discover is None

    def register(
        self,
        name: str,
        *,
        config: type | None = None,
        family: str = "",
        description: str = "",
        **defaults: Any,
    ) -> Callable[[Callable[..., T]], Callable[..., T]]:
        key = name.lower()

        def decorator(fn: Callable[..., T]) -> Callable[..., T]:
            if key in self._entries and self._entries[key].fn is not fn:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            doc = description or (fn.__doc__ or "").strip().splitlines()[0:1]
            desc = doc if isinstance(doc, str) else (doc[0] if doc else "")
            self._entries[key] = Entry(key, fn, config, dict(defaults), family, desc)
            return fn

        return decorator

    def add(self, entry: Entry[T]) -> None:
        self._entries[entry.name] = entry

    def _ensure_discovered(self) -> None:
        if self._discovered:
            return
        self._discovered = True
        package = importlib.import_module(self._discover)
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not info.name.rsplit(".", 1)[-1].startswith("_"):
                importlib.import_module(info.name)

    def get(self, name: str) -> Entry[T]:
        self._ensure_discovered()
        key = name.lower()
        if key not in self._entries:
            raise UnknownNameError(self.kind, name, self._entries)
        return self._entries[key]

    def __contains__(self, name: str) -> bool:
        self._ensure_discovered()
        return name.lower() in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        self._ensure_discovered()
        return iter(sorted(self._entries.values(), key=lambda e: e.name))

    def names(self, pattern: str | None = None, family: str | None = None) -> list[str]:
        import fnmatch

        return [
            e.name
            for e in self
            if (pattern is None or fnmatch.fnmatch(e.name, pattern.lower()))
            and (family is None or e.family == family)
        ]
