r"""Hyper-parameter search (book §3.7.3, §4.5.4 lines 7700–7935): grid, random and Bayesian, one
implementation on Optuna, used by ``prism tune`` and by the book's recipes.

Each search optimises ``objective(params) -> float``, a *validation* score (the book's listings
select on the test set, a flaw), over a search space ``{name: (kind, args)}``:

=============================  ======================================================
``("float", [lo, hi])``        uniform on ``[lo, hi]``
``("log", [lo, hi])``          log-uniform (the book's text; its code draws uniform, erratum 14)
``("int", [lo, hi])``          integers ``lo..hi``
``("choice", [a, b, ...])``    one of the values (any YAML-able value, e.g. lists of widths)
=============================  ======================================================

:func:`parse_space` reads the command-line form ``key=kind(args)`` (``lr=log(1e-4,1e-1)``);
:func:`normalize_space` also accepts the recipes' short form: a list of choices, or
``("log" | "uniform" | "int", lo, hi)``. Samplers: ``"grid"`` (the Cartesian product of the
choices, :math:`\arg\max_{\theta \in \Theta_1 \times \dots} f(\theta)`; choices only), ``"random"``
(independent draws, Bergstra & Bengio 2012), ``"tpe"`` and ``"gp"`` (sequential model-based:
Optuna's TPE and Gaussian-process samplers; ``gp`` is the book's ``gp_minimize``).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..errors import ConfigError

__all__ = ["SAMPLERS", "SearchResult", "parse_space", "normalize_space", "run_study", "suggest",
           "require_optuna", "decode_params", "search", "grid_search", "random_search", "bayes_search"]

Space = dict[str, tuple[str, list[Any]]]
KINDS = ("float", "log", "int", "choice")
SAMPLERS = ("tpe", "gp", "random", "grid")
_ENTRY = re.compile(r"^\s*([\w.]+)\s*=\s*(float|log|int|choice)\((.*)\)\s*$")
_SHORT_KINDS = {"uniform": "float", "float": "float", "log": "log", "int": "int"}


@dataclass
class SearchResult:
    """``best_params``, its ``best_value`` and every completed trial as ``(params, value)``."""

    best_params: dict[str, Any]
    best_value: float
    trials: list[tuple[dict[str, Any], float]] = field(default_factory=list)


def _number(value: Any) -> Any:
    """YAML 1.1 reads ``1e-4`` as a string; numbers written that way are numbers here."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _check(key: str, kind: str, args: list[Any]) -> tuple[str, list[Any]]:
    if kind not in KINDS:
        raise ConfigError(f"{key}: unknown search kind {kind!r}; expected one of {', '.join(KINDS)}")
    if kind == "choice":
        if not args:
            raise ConfigError(f"{key}: choice() needs at least one value")
    elif (len(args) != 2 or not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args)
          or args[0] >= args[1]):
        raise ConfigError(f"{key}: {kind}(lo, hi) needs two numbers with lo < hi, got {args!r}")
    elif kind == "log" and args[0] <= 0:
        raise ConfigError(f"{key}: log(lo, hi) needs lo > 0 (a log-uniform range), got {args!r}")
    return kind, list(args)


def parse_space(entries: list[str]) -> Space:
    """``["lr=log(1e-4,1e-1)"]`` → ``{"lr": ("log", [1e-4, 0.1])}`` (values parsed as YAML)."""
    space: Space = {}
    for entry in entries:
        m = _ENTRY.match(entry)
        if not m:
            raise ConfigError(f"cannot read search-space entry {entry!r}; expected key=kind(args) with kind "
                              "float, log, int or choice, e.g. lr=log(1e-4,1e-1) or model.hidden=choice([64],[128])")
        key, kind, raw = m.groups()
        try:
            args = [_number(a) for a in yaml.safe_load(f"[{raw}]")]
        except yaml.YAMLError as err:
            raise ConfigError(f"{key}: cannot read the values {raw!r} of {entry!r} as YAML") from err
        space[key] = _check(key, kind, args)
    return space


def normalize_space(space: Mapping[str, Any]) -> Space:
    """The canonical ``{name: (kind, args)}`` of a space in any accepted form (see module docs)."""
    out: Space = {}
    for key, spec in space.items():
        if isinstance(spec, list):
            out[key] = _check(key, "choice", spec)
        elif isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], list):
            out[key] = _check(key, *spec)
        elif isinstance(spec, tuple) and len(spec) == 3 and spec[0] in _SHORT_KINDS:
            out[key] = _check(key, _SHORT_KINDS[spec[0]], list(spec[1:]))
        else:
            raise ConfigError(f"{key}: cannot read search spec {spec!r}; expected a list of choices, "
                              f"('log' | 'uniform' | 'int', lo, hi) or (kind, [args])")
    return out


def require_optuna():
    """The ``optuna`` module, or a clear error saying how to install it."""
    from ..optional import require

    optuna = require("optuna", feature="hyper-parameter search")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _sampler(name: str, space: Space, seed: int):
    optuna = require_optuna()
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        ranges = [k for k, (kind, _) in space.items() if kind != "choice"]
        if ranges:
            raise ConfigError(f"grid search needs a list of choices for every parameter, not a range: "
                              f"{', '.join(ranges)}")
        return optuna.samplers.GridSampler({k: list(range(len(a))) for k, (_, a) in space.items()}, seed=seed)
    raise ConfigError(f"unknown sampler {name!r}; use one of {', '.join(SAMPLERS)}")


def suggest(trial: Any, space: Space) -> dict[str, Any]:
    """One value per parameter from an Optuna ``trial``; choices are suggested by index (Optuna
    needs hashable scalars) and returned as the values themselves."""
    params = {}
    for key, (kind, args) in space.items():
        if kind == "choice":
            params[key] = args[trial.suggest_categorical(key, list(range(len(args))))]
        elif kind == "int":
            params[key] = trial.suggest_int(key, int(args[0]), int(args[1]))
        else:
            params[key] = trial.suggest_float(key, float(args[0]), float(args[1]), log=kind == "log")
    return params


def decode_params(raw: Mapping[str, Any], space: Space) -> dict[str, Any]:
    """Optuna's stored ``trial.params`` (choice indices) → the parameter values."""
    return {k: (space[k][1][v] if space[k][0] == "choice" else v) for k, v in raw.items()}


def run_study(objective: Callable[[dict[str, Any], Any], float], space: Space, n_trials: int | None = None,
              sampler: str = "tpe", direction: str = "maximize", seed: int = 0, timeout: float | None = None,
              pruner: Any = None) -> Any:
    """The Optuna study behind every search: ``objective(params, trial)`` per trial (``trial`` for
    reporting intermediate values to the ``pruner``). Grid search defaults to every combination."""
    optuna = require_optuna()
    if direction not in ("maximize", "minimize"):
        raise ConfigError(f"direction must be 'maximize' or 'minimize', got {direction!r}")
    smp = _sampler(sampler, space, seed)
    if n_trials is None and timeout is None and sampler == "grid":
        n_trials = len(list(itertools.product(*(a for _, a in space.values()))))
    study = optuna.create_study(direction=direction, sampler=smp, pruner=pruner)
    study.optimize(lambda trial: float(objective(suggest(trial, space), trial)), n_trials=n_trials,
                   timeout=timeout)
    return study


def search(objective: Callable[[dict[str, Any]], float], space: Mapping[str, Any], n_trials: int | None = None,
           sampler: str = "tpe", seed: int = 0, direction: str = "maximize") -> SearchResult:
    """Optimise ``objective(params) -> float`` over ``space`` (any accepted form) with ``sampler``."""
    canonical = normalize_space(space)
    study = run_study(lambda params, trial: objective(params), canonical, n_trials, sampler, direction, seed)
    done = [(decode_params(t.params, canonical), float(t.value)) for t in study.trials if t.value is not None]
    return SearchResult(decode_params(study.best_params, canonical), float(study.best_value), done)


def grid_search(objective: Callable[[dict[str, Any]], float], space: Mapping[str, Any],
                direction: str = "maximize") -> SearchResult:
    """Every combination of the listed choices (ranges are not allowed in a grid).

    ``direction="minimize"`` for a loss: the book's grid-search objective (l.7708-7710) is an arg max
    of "f = accuracy, loss", but a loss must be minimised (Ch. 4 erratum 15).
    """
    return search(objective, space, sampler="grid", direction=direction)


def random_search(objective: Callable[[dict[str, Any]], float], space: Mapping[str, Any], n_trials: int,
                  seed: int = 0, direction: str = "maximize") -> SearchResult:
    """``n_trials`` independent samples of the space (Bergstra & Bengio 2012)."""
    return search(objective, space, n_trials, sampler="random", seed=seed, direction=direction)


def bayes_search(objective: Callable[[dict[str, Any]], float], space: Mapping[str, Any], n_trials: int,
                 seed: int = 0, sampler: str = "gp", direction: str = "maximize") -> SearchResult:
    """Sequential model-based search: ``sampler="gp"`` (Gaussian process) or ``"tpe"``."""
    if sampler not in ("gp", "tpe"):
        raise ConfigError(f"bayes_search sampler must be 'gp' or 'tpe', got {sampler!r}")
    return search(objective, space, n_trials, sampler=sampler, seed=seed, direction=direction)
