r"""Hyperparameter search (book §4.5.4, lines 7700–7935): grid, random and Bayesian (Optuna).

Each searcher maximises ``objective(params) -> float`` (a *validation* score: the book's listings select
on the test set, a flaw) over a search space ``{name: spec}`` where a spec is a list of choices, or
``("log", low, high)`` / ``("uniform", low, high)`` / ``("int", low, high)``. Grid search takes the
Cartesian product of the choices :math:`\arg\max_{\theta \in \Theta_1 \times \dots} f(\theta)`;
random search samples (log-uniform where asked: the book's text says log-uniform, its code draws
uniform, erratum 14); the Bayesian search uses Optuna's Gaussian-process sampler when available
(the book's ``gp_minimize``), else TPE.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SearchResult", "grid_search", "random_search", "bayes_search"]

Space = dict[str, Any]


@dataclass
class SearchResult:
    best_params: dict[str, Any]
    best_value: float
    trials: list[tuple[dict[str, Any], float]] = field(default_factory=list)


def _result(trials: list[tuple[dict[str, Any], float]]) -> SearchResult:
    best = max(trials, key=lambda t: t[1])
    return SearchResult(best[0], best[1], trials)


def grid_search(objective: Callable[[dict[str, Any]], float], space: Space) -> SearchResult:
    """Every combination of the listed choices (ranges are not allowed in a grid)."""
    for k, v in space.items():
        if not isinstance(v, list):
            raise ValueError(f"grid search needs a list of choices for {k!r}, got {v!r}")
    names = list(space)
    trials = []
    for values in itertools.product(*(space[n] for n in names)):
        params = dict(zip(names, values, strict=True))
        trials.append((params, float(objective(params))))
    return _result(trials)


def _sample(spec: Any, rng: random.Random) -> Any:
    if isinstance(spec, list):
        return rng.choice(spec)
    kind, lo, hi = spec
    if kind == "log":
        return math.exp(rng.uniform(math.log(lo), math.log(hi)))
    if kind == "uniform":
        return rng.uniform(lo, hi)
    if kind == "int":
        return rng.randint(lo, hi)
    raise ValueError(f"unknown range kind {kind!r}; expected 'log', 'uniform' or 'int'")


def random_search(objective: Callable[[dict[str, Any]], float], space: Space, n_trials: int, seed: int = 0) -> SearchResult:
    """``n_trials`` independent samples of the space (Bergstra & Bengio 2012)."""
    rng = random.Random(seed)
    trials = []
    for _ in range(n_trials):
        params = {k: _sample(v, rng) for k, v in space.items()}
        trials.append((params, float(objective(params))))
    return _result(trials)


def bayes_search(objective: Callable[[dict[str, Any]], float], space: Space, n_trials: int, seed: int = 0,
                 sampler: str = "gp") -> SearchResult:
    """Sequential model-based search with Optuna (``sampler="gp"`` Gaussian process, or ``"tpe"``)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if sampler == "gp" and hasattr(optuna.samplers, "GPSampler"):
        smp = optuna.samplers.GPSampler(seed=seed)
    else:
        smp = optuna.samplers.TPESampler(seed=seed)
    study = optuna.create_study(direction="maximize", sampler=smp)

    def wrapped(trial):
        params = {}
        for k, v in space.items():
            if isinstance(v, list):
                params[k] = trial.suggest_categorical(k, v)
            elif v[0] == "int":
                params[k] = trial.suggest_int(k, v[1], v[2])
            else:
                params[k] = trial.suggest_float(k, v[1], v[2], log=v[0] == "log")
        return float(objective(params))

    study.optimize(wrapped, n_trials=n_trials)
    trials = [(t.params, t.value) for t in study.trials if t.value is not None]
    return _result(trials)
