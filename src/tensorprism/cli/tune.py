"""``prism tune``: hyper-parameter search with Optuna over any ``prism train`` configuration.

The book's §3.7.3 tunes learning rate, batch size, depth, width, dropout and activation by grid or
random search (L2726, L4923–4976). Each trial here is one ``prism train`` run with sampled
settings, scored on the **validation** split (never the test split)::

    prism tune --trials 20 --space "lr=log(1e-4,1e-1)" --space "model.hidden=choice([64],[128,64])" \\
               --space "model.dropout=float(0,0.5)" --space "batch_size=int(16,128)" epochs=10

A search space entry is ``key=kind(args)`` with ``kind`` one of ``float(lo,hi)``,
``log(lo,hi)`` (log-uniform), ``int(lo,hi)`` and ``choice(a,b,...)`` (values parsed as YAML);
keys use the ``prism train`` override syntax. ``--sampler`` picks TPE (default), a Gaussian
process (gp), random or grid search (grid needs only ``choice`` entries); unpromising trials are
pruned with the median rule after each epoch. The best settings, all trials (``trials.csv``) and
the study summary (``best.yaml``) are written to ``--out``. The search itself is
:mod:`tensorprism.train.search`, the same one the book's recipes use.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from ..train.search import SAMPLERS, Space, decode_params, parse_space, require_optuna, run_study
from ._common import add_overrides, print_table

__all__ = ["parse_space", "tune", "to_overrides", "best_overrides"]

DEFAULT_SPACE = ["lr=log(1e-4,3e-2)", "model.dropout=float(0,0.5)", "model.hidden=choice([64],[128,64],[256,128])"]


def to_overrides(params: dict[str, Any]) -> list[str]:
    """Sampled settings as ``prism train`` overrides ``key=value`` (values written as YAML)."""
    return [f"{key}={yaml.safe_dump(value, default_flow_style=True).strip().removesuffix('...').strip()}"
            for key, value in params.items()]


def tune(config: str | None, overrides: list[str], space_entries: list[str], trials: int = 20,
         metric: str | None = None, direction: str | None = None, sampler: str = "tpe",
         timeout: float | None = None, out: str | None = None, seed: int = 0, prune: bool = True) -> Any:
    """Run the study and return it (``study.best_trial``, ``study.trials_dataframe()``)."""
    from ..train.callbacks import Callback
    from ..train.run import build_trainer, load_config, resolve_run

    optuna = require_optuna()
    space = parse_space(space_entries or DEFAULT_SPACE)
    base = load_config(config, list(overrides))
    state: dict[str, Any] = {}

    class _Report(Callback):
        def __init__(self, trial):
            self.trial = trial

        def on_epoch_end(self, trainer, logs):
            if state["metric"] in logs:
                self.trial.report(float(logs[state["metric"]]), trainer.epoch)
                if prune and self.trial.should_prune():
                    raise optuna.TrialPruned(f"pruned at epoch {trainer.epoch}")

    def objective(params, trial):
        cfg = load_config(None, to_overrides(params), base=base)
        trainer = build_trainer(cfg, out_dir=None, progress=False, tensorboard=False, plots=False)
        if trainer.data["val"] is None:
            raise ConfigError(f"dataset {cfg['dataset']['name']!r} has no validation split to tune on")
        state.setdefault("metric", metric or trainer.monitor)
        trainer.user_callbacks.append(_Report(trial))
        trainer.fit()
        key = state["metric"]
        if key not in trainer.final_metrics:
            raise ConfigError(f"metric {key!r} not reported; available: {', '.join(sorted(trainer.final_metrics))}")
        return float(trainer.final_metrics[key])

    if direction is None:  # the task's monitored metric and mode (val/acc → max), or a loss-like name
        from ..train.tasks import create_task

        named = resolve_run(base)["task"]  # the named task, or the one the dataset implies
        task = create_task(named["name"], **named.get("config", {}))
        if metric is None or metric == task.monitor:
            mode = task.mode
        else:
            mode = "min" if any(w in metric for w in ("loss", "mse", "mae", "error")) else "max"
        direction = "maximize" if mode == "max" else "minimize"
    study = run_study(objective, space, trials, sampler, direction, seed, timeout,
                      pruner=_pruner(prune))
    if out:
        _write(study, space, Path(out), state.get("metric", metric))
    return study


def _pruner(prune: bool):
    from ..optional import require

    pruners = require("optuna.pruners", feature="prism tune")
    MedianPruner, NopPruner = pruners.MedianPruner, pruners.NopPruner
    return MedianPruner(n_startup_trials=3) if prune else NopPruner()


def best_overrides(study: Any, space: Space) -> dict[str, Any]:
    """The best trial's parameter values ``{name: value}`` over ``space`` (Optuna's stored choice indices decoded)."""
    return decode_params(study.best_params, space)


def _write(study: Any, space: Space, out: Path, metric: str | None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    study.trials_dataframe().to_csv(out / "trials.csv", index=False)
    summary = {"metric": metric, "direction": study.direction.name.lower(), "best_value": study.best_value,
               "best_trial": study.best_trial.number, "best_settings": best_overrides(study, space),
               "n_trials": len(study.trials)}
    (out / "best.yaml").write_text(yaml.safe_dump(summary, sort_keys=False))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tune", help="hyper-parameter search (Optuna) over a prism train configuration",
                       description=__doc__.split("\n\n")[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", "-c", help="YAML run configuration (as for prism train)")
    p.add_argument("--space", "-s", action="append", default=[],
                   help="search-space entry key=kind(args), repeatable (default: lr, dropout, hidden sizes)")
    p.add_argument("--trials", "-n", type=int, default=20)
    p.add_argument("--timeout", type=float, help="stop starting new trials after this many seconds")
    p.add_argument("--metric", help="validation metric to optimise (default: the task's, e.g. val/acc)")
    p.add_argument("--direction", choices=["maximize", "minimize"])
    p.add_argument("--sampler", choices=SAMPLERS, default="tpe")
    p.add_argument("--no-prune", action="store_true", help="run every trial to the end")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="directory for trials.csv and best.yaml")
    add_overrides(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    space = parse_space(args.space or DEFAULT_SPACE)
    study = tune(args.config, args.overrides, args.space, args.trials, args.metric, args.direction,
                 args.sampler, args.timeout, args.out, args.seed, prune=not args.no_prune)
    done = [t for t in study.trials if t.value is not None]
    rows = [(t.number, f"{t.value:.4f}", t.state.name.lower(), " ".join(to_overrides(decode_params(t.params, space))))
            for t in done]
    print_table(("trial", "value", "state", "settings"), rows)
    print(f"best: trial {study.best_trial.number}, value {study.best_value:.4f}, settings "
          f"{best_overrides(study, space)}")
    if args.out:
        print(f"wrote {args.out}/trials.csv and {args.out}/best.yaml")
    return 0
