"""Chapter 11: DQN / Double DQN, REINFORCE with a baseline and A2C on gymnasium's CartPole-v1, with
the episode-return curve.

Each recipe trains with its agent (:func:`tensorprism.rl.train_dqn`,
:func:`tensorprism.rl.train_policy_gradient`; seeded: the same seed gives the same run), keeps the
weights of the best periodic greedy evaluation (a policy can collapse late in training), and
evaluates them on 100 fresh episodes (other seeds than the periodic evaluations); the goal of the
environment is an average return of at least 475 (the maximum is 500). The last weights' return is
reported too, and the first step at which a periodic evaluation reached 475.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..config import setting
from . import register_recipe
from .kit import RecipeConfig, save_result


@dataclass
class DQNRecipeConfig(RecipeConfig):
    """DQN on a discrete-action gymnasium environment.

    Attributes:
        env_id: the environment (discrete actions, vector observations).
        total_steps: environment steps of training.
        double: Double-DQN targets (``False``: the original max target).
        eval_every: greedy evaluation every that many steps (``eval_episodes`` episodes).
        final_episodes: episodes of the final greedy evaluation (100 for CartPole's criterion).
    """

    env_id: str = "CartPole-v1"
    total_steps: int = setting(50_000, min=1)
    double: bool = True
    learning_starts: int = setting(1000, min=0)
    eval_every: int = setting(5000, min=1)
    eval_episodes: int = setting(10, min=1)
    final_episodes: int = setting(100, min=1)


@register_recipe("ch11-dqn", config=DQNRecipeConfig)
def dqn_recipe(cfg: DQNRecipeConfig) -> dict:
    """Train DQN, evaluate greedily, plot the return curve."""
    from ..optional import check_available
    from ..rl import DQNConfig, train_dqn

    check_available(["gymnasium"], feature="recipe ch11-dqn")
    dqn_cfg = DQNConfig(env_id=cfg.env_id, total_steps=cfg.total_steps, double=cfg.double,
                        learning_starts=cfg.learning_starts, eval_every=cfg.eval_every,
                        eval_episodes=cfg.eval_episodes, seed=cfg.seed)
    t0 = time.perf_counter()
    q, history = train_dqn(dqn_cfg, log=print if cfg.progress is True else None)
    return _finish(cfg, q, history, time.perf_counter() - t0, "DQN", {"double": cfg.double})


def _finish(cfg, model, history: dict, train_s: float, algo: str, extra: dict) -> dict:
    """Greedy evaluation of the last and of the best-evaluation weights on ``final_episodes`` fresh
    episodes, the weights, the return curve and ``result.json`` (shared by every agent's recipe)."""
    import numpy as np

    from ..rl import evaluate_policy

    final = evaluate_policy(model, cfg.env_id, cfg.final_episodes)
    last_mean = float(np.mean(final))
    if history["best_state"] is not None:  # the best periodic evaluation's weights, on fresh episodes
        model.load_state_dict(history["best_state"])
        final = evaluate_policy(model, cfg.env_id, cfg.final_episodes)
    solved_at = next((s for s, m in history["evals"] if m >= 475), None)
    result = {"algorithm": algo, "env_id": cfg.env_id, **extra, "total_steps": cfg.total_steps, "train_s": train_s,
              "last_weights_mean_return": last_mean, "best_eval_step": history["best_eval_step"],
              "final_mean_return": float(np.mean(final)), "final_std_return": float(np.std(final)),
              "final_episodes": cfg.final_episodes, "evals": history["evals"],
              "first_eval_at_475": solved_at, "episodes": len(history["episode_returns"]),
              "config": asdict(cfg)}
    if cfg.out_dir:
        import torch

        out = Path(cfg.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), out / ("q_network.pt" if algo == "DQN" else "actor_critic.pt"))
        result["episode_returns"] = history["episode_returns"]
        result["episode_end_steps"] = history["episode_end_steps"]
        if cfg.plots:
            result["figure"] = str(plot_returns(history, out / "returns.png", cfg.env_id, algo))
    return save_result(cfg, result)


@dataclass
class PGRecipeConfig(RecipeConfig):
    """A policy-gradient agent on a discrete-action gymnasium environment.

    Attributes:
        env_id: the environment (discrete actions, vector observations).
        total_steps: environment steps of training (all environments together for A2C).
        lr: Adam learning rate (``None``: 1e-3 for REINFORCE, 7e-4 for A2C).
        entropy_coef: weight of the entropy bonus.
        eval_every: greedy evaluation every that many steps (``eval_episodes`` episodes).
        final_episodes: episodes of the final greedy evaluation (100 for CartPole's criterion).
    """

    env_id: str = "CartPole-v1"
    total_steps: int = setting(100_000, min=1)
    lr: float | None = setting(None, gt=0)
    entropy_coef: float = setting(0.0, min=0)
    eval_every: int = setting(5000, min=1)
    eval_episodes: int = setting(10, min=1)
    final_episodes: int = setting(100, min=1)


def _policy_gradient(cfg: PGRecipeConfig, method: str) -> dict:
    from ..optional import check_available
    from ..rl import PGConfig, train_policy_gradient

    check_available(["gymnasium"], feature=f"recipe ch11-{method}")
    lr = cfg.lr if cfg.lr is not None else (1e-3 if method == "reinforce" else 7e-4)
    pg = PGConfig(method=method, env_id=cfg.env_id, total_steps=cfg.total_steps, lr=lr,
                  entropy_coef=cfg.entropy_coef, eval_every=cfg.eval_every, eval_episodes=cfg.eval_episodes,
                  seed=cfg.seed)
    t0 = time.perf_counter()
    model, history = train_policy_gradient(pg, log=print if cfg.progress is True else None)
    algo = "REINFORCE (baseline)" if method == "reinforce" else "A2C"
    return _finish(cfg, model, history, time.perf_counter() - t0, algo, {"lr": lr})


@register_recipe("ch11-reinforce", config=PGRecipeConfig)
def reinforce_recipe(cfg: PGRecipeConfig) -> dict:
    """REINFORCE with a learned value baseline; greedy evaluation and the return curve."""
    return _policy_gradient(cfg, "reinforce")


@register_recipe("ch11-a2c", config=PGRecipeConfig)
def a2c_recipe(cfg: PGRecipeConfig) -> dict:
    """Synchronous advantage actor-critic (8 environments, 5-step returns); evaluation and the return curve."""
    return _policy_gradient(cfg, "a2c")


def plot_returns(history: dict, path: Path, env_id: str, algo: str = "DQN") -> Path:
    """Training episode returns (and their 20-episode mean) and the greedy evaluations, by step."""
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(6, 4))
    steps, rets = history["episode_end_steps"], history["episode_returns"]
    ax.plot(steps, rets, ".", ms=2, alpha=0.4,
            label="training episodes (ε-greedy)" if algo == "DQN" else "training episodes (sampled actions)")
    if len(rets) >= 20:
        ax.plot(steps[19:], np.convolve(rets, np.ones(20) / 20, mode="valid"), label="mean of 20")
    if history["evals"]:
        s, m = zip(*history["evals"], strict=True)
        ax.plot(s, m, "o-", label="greedy evaluation")
    ax.axhline(475, color="k", lw=0.8, ls="--", label="solved (475)")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episode return")
    ax.set_title(f"{algo} on {env_id}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
