"""What every agent of :mod:`tensorprism.rl` shares: the environment check, seeding, greedy evaluation."""

from __future__ import annotations

import random

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from ..optional import require

__all__ = ["make_env", "seed_all", "evaluate_policy"]


def seed_all(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (the environment is seeded on reset)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def make_env(env_id: str, seed: int | None = None, algorithm: str = "DQN"):
    """A gymnasium environment with a discrete action space and vector observations, else a
    :class:`ConfigError` naming ``algorithm`` (the agents here output one value per action)."""
    gym = require("gymnasium", feature="reinforcement learning environments")
    env = gym.make(env_id)
    if not isinstance(env.action_space, gym.spaces.Discrete):
        env.close()
        raise ConfigError(
            f"{algorithm} needs a discrete action space (one output per action), but {env_id} has "
            f"{type(env.action_space).__name__} {env.action_space}; for continuous actions use an actor-critic "
            "method with a Gaussian policy or a deterministic actor (PPO, DDPG/TD3/SAC), or discretise the "
            "actions with a wrapper")
    if len(env.observation_space.shape or ()) != 1:
        env.close()
        raise ConfigError(f"{algorithm} here takes flat vector observations, {env_id} gives {env.observation_space}")
    if seed is not None:
        env.reset(seed=seed)
        env.action_space.seed(seed)
    return env


def evaluate_policy(q: nn.Module, env_id: str, episodes: int = 100, seed: int = 10_000) -> list[float]:
    """Returns of ``episodes`` greedy episodes (each its own seed): the action is the argmax of
    ``q(obs)`` -- Q-values for DQN, policy logits for the policy-gradient agents."""
    env = make_env(env_id)
    returns = []
    was_training = q.training
    q.eval()
    for k in range(episodes):
        obs, _ = env.reset(seed=seed + k)
        done, total = False, 0.0
        while not done:
            with torch.no_grad():
                a = int(q(torch.as_tensor(obs, dtype=torch.float32)[None]).argmax(1))
            obs, r, terminated, truncated, _ = env.step(a)
            total += float(r)
            done = terminated or truncated
        returns.append(total)
    env.close()
    q.train(was_training)
    return returns
