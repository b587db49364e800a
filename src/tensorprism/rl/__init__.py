"""Reinforcement learning (book §11, I11.09): DQN and Double DQN on gymnasium environments.

RL does not run on :class:`~tensorprism.train.Trainer`: the Trainer iterates over a fixed dataset,
while an agent's data is produced by the policy being trained (and its replay buffer changes
every step), evaluation means running episodes, and "an epoch" has no meaning. The loop lives in
:func:`~tensorprism.rl.dqn.train_dqn`; the recipe ``ch11-dqn`` writes its run directory (result,
return curve) through the recipe kit.
"""

from .dqn import (
           DQNConfig,
           QNetwork,
           ReplayBuffer,
           epsilon_at,
           evaluate_policy,
           make_env,
           td_targets,
           train_dqn,
)

__all__ = ["DQNConfig", "QNetwork", "ReplayBuffer", "epsilon_at", "evaluate_policy", "make_env", "td_targets",
           "train_dqn"]
