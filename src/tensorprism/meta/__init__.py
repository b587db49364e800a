"""Meta-learning (book §11, I11.24): MAML (second and first order) and Reptile on the sinusoid
benchmark of Finn et al. (2017), against a pre-train + fine-tune baseline (:mod:`.sinusoid`).

Meta-training does not run on :class:`~tensorprism.train.Trainer`: one meta-step differentiates
through an inner optimisation over a batch of freshly sampled tasks (no fixed dataset, no epochs),
which the Trainer's one-loss-per-batch loop does not express.
"""

from .sinusoid import SinusoidTasks, adapt, evaluate_adaptation, meta_train, pretrain, sinusoid_net

__all__ = ["SinusoidTasks", "adapt", "evaluate_adaptation", "meta_train", "pretrain", "sinusoid_net"]
