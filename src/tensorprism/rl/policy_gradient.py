r"""Policy-gradient agents: REINFORCE with a learned baseline (Williams 1992) and advantage
actor-critic, A2C (Mnih et al. 2016, synchronous), on discrete-action gymnasium environments.

Both maximise the book's objective :math:`\mathbb E_\pi[\sum_t \gamma^t r_t]` (L24607–24617) by
ascending :math:`\mathbb E[\nabla_\theta \log\pi_\theta(a_t\mid s_t)\,A_t]`:

* **REINFORCE**: :math:`A_t = G_t - V_\phi(s_t)` with the Monte-Carlo return
  :math:`G_t = \sum_{k\ge 0}\gamma^k r_{t+k}` of whole episodes (the baseline ``V`` lowers the
  variance and leaves the gradient unbiased); one update per ``episodes_per_update`` episodes.
* **A2C**: ``n_envs`` environments stepped together for ``n_steps``; the advantage is the
  generalised advantage estimate (Schulman et al. 2016) bootstrapped from the critic,
  :math:`\hat A_t = \sum_k (\gamma\lambda)^k \delta_{t+k}`,
  :math:`\delta_t = r_t + \gamma V(s_{t+1}) - V(s_t)` (``λ = 1``: the n-step return minus ``V``,
  as in the A2C paper).

The critic regresses the returns (MSE, weight ``value_coef``); an entropy bonus is optional. A
time-limit truncation is not a terminal state: its last reward is bootstrapped with
:math:`\gamma V(s_{T})`, as Stable-Baselines3 does. Greedy evaluation (argmax of the logits), the
environment check, seeding and the best-weights rule are those of the DQN agent
(:mod:`tensorprism.rl.common`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import setting, validate_dataclass
from .common import evaluate_policy, make_env, seed_all

__all__ = ["PGConfig", "ActorCritic", "discounted_returns", "gae_advantages", "train_policy_gradient"]


@dataclass
class PGConfig:
    """Settings of :func:`train_policy_gradient` (``method`` ``"reinforce"`` or ``"a2c"``).

    The A2C defaults follow rl-baselines3-zoo's CartPole-v1 A2C (8 environments, 5 steps, λ = 1,
    no entropy bonus) with Adam instead of RMSprop.
    """

    method: str = setting("a2c", choices=("reinforce", "a2c"))
    env_id: str = "CartPole-v1"
    total_steps: int = setting(200_000, min=1)
    hidden: tuple[int, ...] = (64, 64)
    lr: float = setting(7e-4, gt=0)
    gamma: float = setting(0.99, min=0, max=1)
    baseline: bool = True  # REINFORCE only: subtract the critic's V(s)
    episodes_per_update: int = setting(4, min=1)  # REINFORCE
    normalize_advantages: bool = True  # REINFORCE: per update; A2C: off by default in SB3, see below
    n_envs: int = setting(8, min=1)  # A2C
    n_steps: int = setting(5, min=1)  # A2C
    gae_lambda: float = setting(1.0, min=0, max=1)
    value_coef: float = setting(0.5, min=0)
    entropy_coef: float = setting(0.0, min=0)
    grad_clip: float = setting(0.5, gt=0)
    eval_every: int = setting(10_000, min=1)
    eval_episodes: int = setting(10, min=1)
    seed: int = setting(0, min=0)

    def __post_init__(self) -> None:
        validate_dataclass(self, "PGConfig")


class ActorCritic(nn.Module):
    """Separate MLPs: ``forward(obs (N, D))`` → action logits ``(N, A)``; ``value(obs)`` → ``(N,)``."""

    def __init__(self, obs_dim: int, n_actions: int, hidden: tuple[int, ...] = (64, 64)):
        super().__init__()

        def mlp(out: int) -> nn.Sequential:
            layers: list[nn.Module] = []
            d = obs_dim
            for h in hidden:
                layers += [nn.Linear(d, h), nn.Tanh()]
                d = h
            layers.append(nn.Linear(d, out))
            return nn.Sequential(*layers)

        self.actor, self.critic = mlp(n_actions), mlp(1)

    def forward(self, obs: Tensor) -> Tensor:
        return self.actor(obs)

    def value(self, obs: Tensor) -> Tensor:
        return self.critic(obs).squeeze(-1)


def discounted_returns(rewards: Tensor, dones: Tensor, gamma: float, bootstrap: Tensor | None = None) -> Tensor:
    """``G_t = r_t + γ (1 - done_t) G_{t+1}`` backwards over time, ``(T, ...)`` → ``(T, ...)``;
    ``bootstrap`` is ``G_T`` (the critic's value after the last step; zero if ``None``)."""
    out = torch.empty_like(rewards)
    g = torch.zeros_like(rewards[0]) if bootstrap is None else bootstrap
    for t in range(rewards.shape[0] - 1, -1, -1):
        g = rewards[t] + gamma * (1.0 - dones[t]) * g
        out[t] = g
    return out


def gae_advantages(rewards: Tensor, values: Tensor, dones: Tensor, last_value: Tensor, gamma: float,
                   lam: float) -> Tensor:
    """Generalised advantage estimates ``(T, N)`` from rewards, values ``V(s_t)``, terminal flags
    (``done_t``: ``s_{t+1}`` starts a new episode) and ``V(s_T)``."""
    adv = torch.empty_like(rewards)
    next_adv = torch.zeros_like(last_value)
    next_value = last_value
    for t in range(rewards.shape[0] - 1, -1, -1):
        live = 1.0 - dones[t]
        delta = rewards[t] + gamma * live * next_value - values[t]
        next_adv = delta + gamma * lam * live * next_adv
        adv[t] = next_adv
        next_value = values[t]
    return adv


def _loss(model: ActorCritic, obs: Tensor, actions: Tensor, advantages: Tensor, returns: Tensor,
          cfg: PGConfig, use_critic: bool) -> Tensor:
    dist = torch.distributions.Categorical(logits=model(obs))
    policy_loss = -(dist.log_prob(actions) * advantages).mean()
    loss = policy_loss - cfg.entropy_coef * dist.entropy().mean()
    if use_critic:
        loss = loss + cfg.value_coef * F.mse_loss(model.value(obs), returns)
    return loss


class _Tracker:
    """Episode returns, periodic greedy evaluations and the best weights (shared by both loops)."""

    def __init__(self, cfg: PGConfig, log: Any):
        self.cfg, self.log, self.next_eval = cfg, log, cfg.eval_every
        self.history: dict[str, Any] = {"episode_returns": [], "episode_end_steps": [], "evals": [], "losses": []}
        self.best: tuple[float, int, dict] | None = None

    def episode(self, ret: float, step: int) -> None:
        self.history["episode_returns"].append(ret)
        self.history["episode_end_steps"].append(step)

    def maybe_evaluate(self, model: nn.Module, step: int, loss: float) -> None:
        if step < self.next_eval:
            return
        self.next_eval += self.cfg.eval_every
        mean = float(np.mean(evaluate_policy(model, self.cfg.env_id, self.cfg.eval_episodes, seed=50_000 + step)))
        self.history["evals"].append((step, mean))
        self.history["losses"].append((step, loss))
        if self.best is None or mean >= self.best[0]:
            self.best = (mean, step, copy.deepcopy(model.state_dict()))
        if self.log is not None:
            self.log(f"step {step}: greedy return {mean:.1f} over {self.cfg.eval_episodes} episodes")

    def finish(self) -> dict[str, Any]:
        self.history["best_eval_step"] = self.best[1] if self.best else None
        self.history["best_state"] = self.best[2] if self.best else None
        return self.history


def _reinforce(cfg: PGConfig, model: ActorCritic, opt: torch.optim.Optimizer, tracker: _Tracker) -> None:
    env = make_env(cfg.env_id, seed=cfg.seed, algorithm="REINFORCE")
    step, first = 0, True
    while step < cfg.total_steps:
        obs_l, act_l, ret_l = [], [], []
        for _ in range(cfg.episodes_per_update):
            obs, _ = env.reset(seed=cfg.seed) if first else env.reset()
            first = False
            ep_obs, ep_act, ep_rew, done = [], [], [], False
            last_obs = None
            while not done:
                o = torch.as_tensor(obs, dtype=torch.float32)
                with torch.no_grad():
                    a = int(torch.distributions.Categorical(logits=model(o[None])).sample())
                obs, r, terminated, truncated, _ = env.step(a)
                ep_obs.append(o)
                ep_act.append(a)
                ep_rew.append(float(r))
                step += 1
                done = terminated or truncated
                last_obs = obs if truncated and not terminated else None
            rewards = torch.tensor(ep_rew)
            boot = None
            if last_obs is not None and cfg.baseline:  # time limit: the episode would have gone on
                with torch.no_grad():
                    boot = model.value(torch.as_tensor(last_obs, dtype=torch.float32)[None])[0]
            ret_l.append(discounted_returns(rewards, torch.zeros_like(rewards), cfg.gamma, boot))
            obs_l.append(torch.stack(ep_obs))
            act_l.append(torch.tensor(ep_act))
            tracker.episode(float(rewards.sum()), step)
        obs_b, act_b, ret_b = torch.cat(obs_l), torch.cat(act_l), torch.cat(ret_l)
        if cfg.baseline:
            with torch.no_grad():
                adv = ret_b - model.value(obs_b)
        else:
            adv = ret_b.clone()
        if cfg.normalize_advantages and len(adv) > 1:
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        loss = _loss(model, obs_b, act_b, adv, ret_b, cfg, cfg.baseline)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        tracker.maybe_evaluate(model, step, float(loss.detach()))
    env.close()


def _a2c(cfg: PGConfig, model: ActorCritic, opt: torch.optim.Optimizer, tracker: _Tracker) -> None:
    envs = [make_env(cfg.env_id, seed=cfg.seed + i, algorithm="A2C") for i in range(cfg.n_envs)]
    obs = torch.as_tensor(np.stack([e.reset(seed=cfg.seed + i)[0] for i, e in enumerate(envs)]), dtype=torch.float32)
    ep_ret = np.zeros(cfg.n_envs)
    step = 0
    while step < cfg.total_steps:
        obs_l, act_l, rew_l, done_l, val_l = [], [], [], [], []
        for _ in range(cfg.n_steps):
            with torch.no_grad():
                actions = torch.distributions.Categorical(logits=model(obs)).sample()
                values = model.value(obs)
            next_obs, rewards, dones = [], torch.zeros(cfg.n_envs), torch.zeros(cfg.n_envs)
            for i, env in enumerate(envs):
                o, r, terminated, truncated, _ = env.step(int(actions[i]))
                ep_ret[i] += float(r)
                if truncated and not terminated:  # bootstrap the cut-off episode's tail
                    with torch.no_grad():
                        r = float(r) + cfg.gamma * float(model.value(torch.as_tensor(o, dtype=torch.float32)[None]))
                rewards[i] = float(r)
                if terminated or truncated:
                    dones[i] = 1.0
                    tracker.episode(float(ep_ret[i]), step + i + 1)
                    ep_ret[i] = 0.0
                    o, _ = env.reset()
                next_obs.append(o)
            step += cfg.n_envs
            obs_l.append(obs)
            act_l.append(actions)
            rew_l.append(rewards)
            done_l.append(dones)
            val_l.append(values)
            obs = torch.as_tensor(np.stack(next_obs), dtype=torch.float32)
        with torch.no_grad():
            last_value = model.value(obs)
        values = torch.stack(val_l)
        adv = gae_advantages(torch.stack(rew_l), values, torch.stack(done_l), last_value, cfg.gamma, cfg.gae_lambda)
        returns = adv + values
        loss = _loss(model, torch.cat(obs_l), torch.cat(act_l), adv.flatten(), returns.flatten(), cfg, True)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        tracker.maybe_evaluate(model, step, float(loss.detach()))
    for env in envs:
        env.close()


def train_policy_gradient(cfg: PGConfig, log: Any = None) -> tuple[ActorCritic, dict[str, Any]]:
    """Train an actor-critic with ``cfg.method``; returns the last weights and a history with the
    same keys as :func:`~tensorprism.rl.dqn.train_dqn`'s (``episode_returns``,
    ``episode_end_steps``, ``evals``, ``best_state``, ``best_eval_step``)."""
    seed_all(cfg.seed)
    probe = make_env(cfg.env_id, algorithm=cfg.method.upper())
    obs_dim, n_actions = probe.observation_space.shape[0], int(probe.action_space.n)
    probe.close()
    model = ActorCritic(obs_dim, n_actions, tuple(cfg.hidden))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    tracker = _Tracker(cfg, log)
    (_reinforce if cfg.method == "reinforce" else _a2c)(cfg, model, opt, tracker)
    return model, tracker.finish()
