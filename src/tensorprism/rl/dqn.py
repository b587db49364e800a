r"""Deep Q-learning (Mnih et al. 2015) and Double DQN (van Hasselt et al. 2016) on gymnasium.

The book (§11, L24607–24617) gives the objective and the target with a separate network θ':
:math:`Q(s, a; \theta) \approx \mathbb E[r + \gamma \max_{a'} Q(s', a'; \theta')]`, and leaves out
what makes it train: an **experience replay** buffer (uncorrelated minibatches), a **target
network** copied every ``target_update`` steps, an **ε-greedy** policy whose ε decays linearly, the
**Huber** loss (bounded gradients for large TD errors) and, with ``double=True``, the Double-DQN
target :math:`r + \gamma Q(s', \arg\max_{a'} Q(s', a'; \theta); \theta')`, which removes the
max operator's over-estimation. Terminal transitions (not time-limit truncations) have no
bootstrap term.

Only discrete action spaces: a Q-network outputs one value per action, and a continuous action
space (``Box``) has no finite argmax — it needs an actor (DDPG, SAC), so it is refused.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import setting
from .common import evaluate_policy, make_env, seed_all

__all__ = ["DQNConfig", "ReplayBuffer", "QNetwork", "epsilon_at", "make_env", "train_dqn", "evaluate_policy",
           "td_targets"]


@dataclass
class DQNConfig:
    """Hyper-parameters; the defaults are rl-baselines3-zoo's CartPole-v1 DQN settings (50 k steps,
    a 256-256 MLP, 128 gradient steps of batch 64 every 256 environment steps, the target network
    synced after each of those training phases, ε from 1 to 0.04 over the first 16 %)."""

    env_id: str = "CartPole-v1"
    total_steps: int = setting(50_000, min=1)
    hidden: tuple[int, ...] = (256, 256)
    lr: float = setting(2.3e-3, gt=0)
    gamma: float = setting(0.99, min=0, max=1)
    batch_size: int = setting(64, min=1)
    buffer_size: int = setting(100_000, min=1)
    learning_starts: int = setting(1000, min=0)
    train_every: int = setting(256, min=1)
    gradient_steps: int = setting(128, min=1)
    target_update: int = setting(128, min=1)  # gradient steps between target-network updates
    tau: float = setting(1.0, gt=0, max=1)  # 1: a hard copy; < 1: Polyak averaging
    epsilon_start: float = setting(1.0, min=0, max=1)
    epsilon_end: float = setting(0.04, min=0, max=1)
    epsilon_fraction: float = setting(0.16, gt=0, max=1)
    double: bool = True
    huber: bool = True
    grad_clip: float = setting(10.0, gt=0)
    eval_every: int = setting(5000, min=1)
    eval_episodes: int = setting(10, min=1)
    seed: int = setting(0, min=0)


class QNetwork(nn.Module):
    """MLP ``(N, obs_dim) -> (N, n_actions)`` Q-values."""

    def __init__(self, obs_dim: int, n_actions: int, hidden: tuple[int, ...] = (256, 256)):
        super().__init__()
        layers: list[nn.Module] = []
        d = obs_dim
        for h in hidden:
            layers += [nn.Linear(d, h), nn.ReLU()]
            d = h
        layers.append(nn.Linear(d, n_actions))
        self.net = nn.Sequential(*layers)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs)


class ReplayBuffer:
    """A ring buffer of transitions ``(s, a, r, s', terminated)`` sampled uniformly."""

    def __init__(self, capacity: int, obs_dim: int, seed: int = 0):
        self.capacity, self.size, self.pos = capacity, 0, 0
        self.obs = np.zeros((capacity, obs_dim), np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), np.float32)
        self.actions = np.zeros(capacity, np.int64)
        self.rewards = np.zeros(capacity, np.float32)
        self.dones = np.zeros(capacity, np.float32)
        self.rng = np.random.default_rng(seed)

    def add(self, obs, action: int, reward: float, next_obs, terminated: bool) -> None:
        i = self.pos
        self.obs[i], self.actions[i], self.rewards[i], self.next_obs[i], self.dones[i] = (
            obs, action, reward, next_obs, float(terminated))
        self.pos = (self.pos + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def __len__(self) -> int:
        return self.size

    def sample(self, batch_size: int) -> dict[str, torch.Tensor]:
        idx = self.rng.integers(0, self.size, batch_size)
        return {"obs": torch.from_numpy(self.obs[idx]), "actions": torch.from_numpy(self.actions[idx]),
                "rewards": torch.from_numpy(self.rewards[idx]), "next_obs": torch.from_numpy(self.next_obs[idx]),
                "dones": torch.from_numpy(self.dones[idx])}


def epsilon_at(step: int, cfg: DQNConfig) -> float:
    """Linear decay from ``epsilon_start`` to ``epsilon_end`` over ``epsilon_fraction`` of training."""
    frac = min(1.0, step / max(1.0, cfg.epsilon_fraction * cfg.total_steps))
    return cfg.epsilon_start + frac * (cfg.epsilon_end - cfg.epsilon_start)


def td_targets(q_target: nn.Module, q_online: nn.Module, batch: dict[str, torch.Tensor], gamma: float,
               double: bool) -> torch.Tensor:
    """``r + gamma (1 - done) Q'(s', a*)`` with ``a* = argmax Q'(s')`` (DQN) or ``argmax Q(s')`` (Double DQN)."""
    with torch.no_grad():
        next_q = q_target(batch["next_obs"])  # (N, A)
        if double:
            best = q_online(batch["next_obs"]).argmax(1, keepdim=True)
            next_v = next_q.gather(1, best).squeeze(1)
        else:
            next_v = next_q.max(1).values
        return batch["rewards"] + gamma * (1.0 - batch["dones"]) * next_v


def train_dqn(cfg: DQNConfig, log: Any = None) -> tuple[QNetwork, dict[str, list]]:
    """Train a Q-network; returns it (the last weights) and a history: ``episode_returns`` with the
    step each episode ended at, periodic greedy ``evals`` ``(step, mean return)``, and the weights
    with the best periodic evaluation (``best_state``, ``best_eval_step``), like SB3's EvalCallback."""
    seed_all(cfg.seed)
    env = make_env(cfg.env_id, seed=cfg.seed, algorithm="DQN")
    obs_dim, n_actions = env.observation_space.shape[0], int(env.action_space.n)
    q = QNetwork(obs_dim, n_actions, tuple(cfg.hidden))
    q_target = copy.deepcopy(q).requires_grad_(False)
    opt = torch.optim.Adam(q.parameters(), lr=cfg.lr)
    buffer = ReplayBuffer(cfg.buffer_size, obs_dim, seed=cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    history: dict[str, list] = {"episode_returns": [], "episode_end_steps": [], "evals": [], "losses": []}
    obs, _ = env.reset(seed=cfg.seed)
    ep_return, updates = 0.0, 0
    best: tuple[float, int, dict] | None = None
    for step in range(1, cfg.total_steps + 1):
        if rng.random() < epsilon_at(step, cfg):
            action = int(rng.integers(n_actions))
        else:
            with torch.no_grad():
                action = int(q(torch.as_tensor(obs, dtype=torch.float32)[None]).argmax(1))
        next_obs, reward, terminated, truncated, _ = env.step(action)
        buffer.add(obs, action, float(reward), next_obs, terminated)  # truncation still bootstraps
        obs, ep_return = next_obs, ep_return + float(reward)
        if terminated or truncated:
            history["episode_returns"].append(ep_return)
            history["episode_end_steps"].append(step)
            obs, _ = env.reset()
            ep_return = 0.0
        if step > cfg.learning_starts and step % cfg.train_every == 0:
            for _ in range(cfg.gradient_steps):
                batch = buffer.sample(cfg.batch_size)
                target = td_targets(q_target, q, batch, cfg.gamma, cfg.double)
                pred = q(batch["obs"]).gather(1, batch["actions"][:, None]).squeeze(1)
                loss = F.smooth_l1_loss(pred, target) if cfg.huber else F.mse_loss(pred, target)
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(q.parameters(), cfg.grad_clip)
                opt.step()
                updates += 1
                if updates % cfg.target_update == 0:
                    with torch.no_grad():
                        for pt, p in zip(q_target.parameters(), q.parameters(), strict=True):
                            pt.lerp_(p, cfg.tau)
            if step % 1000 == 0:
                history["losses"].append((step, float(loss.detach())))
        if step % cfg.eval_every == 0:
            mean = float(np.mean(evaluate_policy(q, cfg.env_id, cfg.eval_episodes, seed=50_000 + step)))
            history["evals"].append((step, mean))
            if best is None or mean >= best[0]:  # DQN's greedy policy can collapse later: keep the best
                best = (mean, step, copy.deepcopy(q.state_dict()))
            if log is not None:
                log(f"step {step}: greedy return {mean:.1f} over {cfg.eval_episodes} episodes, "
                    f"epsilon {epsilon_at(step, cfg):.3f}")
    env.close()
    history["best_eval_step"] = best[1] if best else None
    history["best_state"] = best[2] if best else None
    return q, history
