"""The book's case studies as runnable recipes: ``prism run NAME [key=value ...]``.

A recipe is a function ``fn(cfg) -> dict`` registered with :func:`register_recipe` together with
its config dataclass; it trains/evaluates on real data, writes into ``cfg.out_dir`` when it has one,
and returns a dict of the numbers it measured. Modules in this package are discovered automatically.
"""

from __future__ import annotations

from typing import Any

from ..registry import Registry

RECIPES: Registry[dict] = Registry("recipe", discover=__name__)
register_recipe = RECIPES.register


def run_recipe(name: str, **overrides: Any) -> dict:
    entry = RECIPES.get(name)
    if entry.config is None:
        return entry.fn(**{**entry.defaults, **overrides})
    return entry.fn(entry.make_config(**overrides))


def list_recipes() -> list[str]:
    return RECIPES.names()


__all__ = ["RECIPES", "register_recipe", "run_recipe", "list_recipes"]
