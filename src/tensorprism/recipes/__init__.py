"""The book's case studies as runnable recipes: ``prism run NAME [key=value ...]``.

A recipe is a function ``fn(cfg) -> dict`` registered with :func:`register_recipe` together with
its config dataclass (a :class:`~tensorprism.recipes.kit.RecipeConfig`); it trains/evaluates on real
data, writes its run directory ``cfg.out_dir`` (config, metrics, checkpoints, plots, ``result.json``)
and returns a dict of the numbers it measured. Modules in this package are discovered automatically.
"""

from __future__ import annotations

from typing import Any

from ..registry import Registry

RECIPES: Registry[dict] = Registry("recipe", discover=__name__)
register_recipe = RECIPES.register


def run_recipe(name: str, **overrides: Any) -> dict:
    """Run recipe ``name`` with its defaults replaced by ``overrides``; returns its result.

    Without an ``out_dir`` the run goes to a fresh ``runs/<name>-<timestamp>`` folder.
    """
    from .kit import apply_threads, default_out_dir

    entry = RECIPES.get(name)
    cfg = entry.make_config(**overrides)
    if getattr(cfg, "out_dir", "") is None:
        cfg.out_dir = str(default_out_dir(entry.name))
    apply_threads(cfg)
    return entry.fn(cfg)


def recipe_settings(name: str) -> list[tuple[str, str, Any, str]]:
    """``(setting, type, default, description)`` of every setting of recipe ``name`` (its config
    dataclass's fields with the recipe's registered defaults; descriptions from the docstrings'
    ``Attributes:`` sections of the dataclass and its bases)."""
    import dataclasses

    entry = RECIPES.get(name)
    docs = _attribute_docs(entry.config)
    rows = []
    for f in dataclasses.fields(entry.config):
        if f.name in entry.defaults:
            default = entry.defaults[f.name]
        elif f.default is not dataclasses.MISSING:
            default = f.default
        else:
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else None
        tp = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        rows.append((f.name, tp, default, docs.get(f.name, "")))
    return rows


def _attribute_docs(cls: type) -> dict[str, str]:
    """``{field: text}`` from the ``Attributes:`` sections of ``cls``'s and its bases' docstrings.

    Items are ``name: text``, ``name (type): text`` or ``a, b, c: text`` (one text for several
    settings) at one indentation; more indented lines continue the item above.
    """
    import inspect
    import re

    item = re.compile(r"^(\s*)(\w+(?:, \w+)*)(?: \([^)]*\))?: (.*)$")
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        doc = inspect.getdoc(klass) or ""
        if "Attributes:" not in doc:
            continue
        indent, names = None, []
        for line in doc.split("Attributes:", 1)[1].splitlines()[1:]:
            if not line.strip():
                continue
            depth = len(line) - len(line.lstrip())
            m = item.match(line)
            if m and (indent is None or depth == indent):
                indent, names = depth, m.group(2).split(", ")
                docs.update(dict.fromkeys(names, m.group(3).strip()))
            elif indent is not None and depth > indent and names:
                for name in names:
                    docs[name] += " " + line.strip()
            else:
                break  # the next section
    return docs


def list_recipes() -> list[str]:
    """Names of the registered recipes, sorted."""
    return RECIPES.names()


__all__ = ["RECIPES", "register_recipe", "run_recipe", "recipe_settings", "list_recipes"]
