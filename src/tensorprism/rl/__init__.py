"""Reinforcement learning (book §11, I11.09): DQN and Double DQN (:mod:`.dqn`), REINFORCE with a
baseline and A2C (:mod:`.policy_gradient`) on gymnasium environments; the environment check,
seeding and greedy evaluation they share are in :mod:`.common`.

RL does not run on :class:`~tensorprism.train.Trainer`: the Trainer iterates over a fixed dataset,
while an agent's data is produced by the policy being trained (DQN's replay buffer changes every
step; REINFORCE and A2C must collect fresh on-policy episodes or rollouts with the current weights
before each update and throw them away after it), evaluation means running episodes, and "an
epoch" has no meaning. The loops live in :func:`~tensorprism.rl.dqn.train_dqn` and
:func:`~tensorprism.rl.policy_gradient.train_policy_gradient`; the recipes ``ch11-dqn``,
``ch11-reinforce`` and ``ch11-a2c`` write their run directories (result, return curve) through the
recipe kit.
"""

from .common import evaluate_policy, make_env, seed_all
from .dqn import (
           DQNConfig,
           QNetwork,
           ReplayBuffer,
           epsilon_at,
           td_targets,
           train_dqn,
)
from .policy_gradient import (
           ActorCritic,
           PGConfig,
           discounted_returns,
           gae_advantages,
           train_policy_gradient,
)

__all__ = ["ActorCritic", "DQNConfig", "PGConfig", "QNetwork", "ReplayBuffer", "discounted_returns", "epsilon_at",
           "evaluate_policy", "gae_advantages", "make_env", "seed_all", "td_targets", "train_dqn",
           "train_policy_gradient"]
