"""DQN pieces: targets (DQN and Double DQN), replay, ε schedule, refusal of continuous actions,
and seeded reproducibility of a short run."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from tensorprism.errors import ConfigError

gym = pytest.importorskip("gymnasium")

from tensorprism.rl import DQNConfig, ReplayBuffer, epsilon_at, make_env, td_targets, train_dqn  # noqa: E402


def test_double_dqn_target_uses_the_online_argmax_and_the_target_value():
    online, target = nn.Linear(3, 2, bias=False), nn.Linear(3, 2, bias=False)
    with torch.no_grad():
        online.weight.copy_(torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]))  # prefers action 1 when s'_1 > s'_0
        target.weight.copy_(torch.tensor([[5.0, 0, 0], [0, 2.0, 0]]))
    batch = {"next_obs": torch.tensor([[1.0, 2.0, 0.0], [1.0, 0.0, 0.0]]), "rewards": torch.tensor([1.0, 0.5]),
             "dones": torch.tensor([0.0, 1.0])}
    dqn = td_targets(target, online, batch, 0.9, double=False)
    ddqn = td_targets(target, online, batch, 0.9, double=True)
    # example 0: target Q = (5, 4): DQN takes max 5; online picks action 1 -> Double DQN takes 4
    assert torch.allclose(dqn, torch.tensor([1 + 0.9 * 5, 0.5]))
    assert torch.allclose(ddqn, torch.tensor([1 + 0.9 * 4, 0.5]))  # terminal: no bootstrap


def test_replay_buffer_wraps_and_epsilon_decays_linearly():
    buf = ReplayBuffer(5, 2)
    for i in range(7):
        buf.add([i, i], i % 2, float(i), [i + 1, i + 1], i == 6)
    assert len(buf) == 5 and sorted(buf.rewards.tolist()) == [2, 3, 4, 5, 6]
    batch = buf.sample(8)
    assert batch["obs"].shape == (8, 2) and batch["actions"].dtype == torch.int64
    cfg = DQNConfig(total_steps=1000, epsilon_fraction=0.1, epsilon_start=1.0, epsilon_end=0.1)
    assert epsilon_at(0, cfg) == 1.0 and epsilon_at(50, cfg) == pytest.approx(0.55) and epsilon_at(900, cfg) == pytest.approx(0.1)


def test_continuous_action_spaces_are_refused():
    with pytest.raises(ConfigError, match="discrete action space"):
        make_env("Pendulum-v1")


@pytest.mark.slow  # two short training runs
def test_a_short_seeded_run_is_reproducible():
    cfg = DQNConfig(total_steps=600, learning_starts=100, train_every=50, gradient_steps=5, batch_size=16,
                    hidden=(16,), eval_every=600, eval_episodes=2, seed=3)
    q1, h1 = train_dqn(cfg)
    q2, h2 = train_dqn(cfg)
    assert h1["episode_returns"] == h2["episode_returns"] and h1["evals"] == h2["evals"]
    assert all(torch.equal(a, b) for a, b in zip(q1.state_dict().values(), q2.state_dict().values(), strict=True))
    assert len(h1["episode_returns"]) > 5


# ------------------------------------------------------------------------------- policy gradients
def test_discounted_returns_and_gae_equal_their_definitions():
    from tensorprism.rl import discounted_returns, gae_advantages

    g = torch.Generator().manual_seed(0)
    T, gamma = 6, 0.9
    r = torch.rand(T, 3, generator=g)
    v = torch.rand(T, 3, generator=g)
    last = torch.rand(3, generator=g)
    dones = torch.zeros(T, 3)
    dones[2, 1] = 1.0  # env 1's episode ends after step 2
    G = discounted_returns(r, dones, gamma, bootstrap=last)
    # env 0: the plain sum  sum_k gamma^k r_{t+k} + gamma^(T-t) V(s_T)
    for t in range(T):
        direct = sum(gamma ** k * r[t + k, 0] for k in range(T - t)) + gamma ** (T - t) * last[0]
        assert torch.isclose(G[t, 0], direct)
    # env 1: the return stops at the episode's end
    assert torch.isclose(G[0, 1], r[0, 1] + gamma * r[1, 1] + gamma ** 2 * r[2, 1])
    # lambda = 1: GAE is the bootstrapped return minus V; lambda = 0: the one-step TD error
    assert torch.allclose(gae_advantages(r, v, dones, last, gamma, 1.0), G - v, atol=1e-6)
    next_v = torch.cat([v[1:], last[None]])
    td = r + gamma * (1 - dones) * next_v - v
    assert torch.allclose(gae_advantages(r, v, dones, last, gamma, 0.0), td, atol=1e-6)


@pytest.mark.parametrize("method", ["reinforce", "a2c"])
def test_policy_gradient_runs_are_seeded(method):
    from tensorprism.rl import PGConfig, train_policy_gradient

    cfg = PGConfig(method=method, total_steps=600, eval_every=600, eval_episodes=1, hidden=(16,))
    m1, h1 = train_policy_gradient(cfg)
    m2, h2 = train_policy_gradient(cfg)
    assert h1["episode_returns"] == h2["episode_returns"] and h1["evals"] == h2["evals"]
    assert all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values(), strict=True))
    other = train_policy_gradient(PGConfig(**{**cfg.__dict__, "seed": 1}))[1]
    assert other["episode_returns"] != h1["episode_returns"]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["reinforce", "a2c"])
def test_policy_gradient_learns_cartpole(method):
    """A short run raises the training return far above a random policy's ~22."""
    from tensorprism.rl import PGConfig, train_policy_gradient

    cfg = PGConfig(method=method, total_steps=6000, lr=3e-3, eval_every=6000, eval_episodes=3,
                   episodes_per_update=2, hidden=(32,))
    _, h = train_policy_gradient(cfg)
    assert np.mean(h["episode_returns"][-10:]) > 2 * np.mean(h["episode_returns"][:10])


def test_policy_gradient_refuses_continuous_actions():
    from tensorprism.rl import PGConfig, train_policy_gradient

    with pytest.raises(ConfigError, match="A2C needs a discrete action space"):
        train_policy_gradient(PGConfig(method="a2c", env_id="Pendulum-v1", total_steps=10))
    with pytest.raises(ConfigError, match="method"):
        PGConfig(method="ppo")
