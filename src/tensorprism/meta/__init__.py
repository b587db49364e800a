"""Meta-learning (book §11, I11.24): MAML (second and first order) and Reptile on the sinusoid
benchmark of Finn et al. (2017), against a pre-train + fine-tune baseline (:mod:`.sinusoid`), and
few-shot image classification over held-out classes with the same learners and prototypical
networks (:mod:`.fewshot`).

Meta-training does not run on :class:`~tensorprism.train.Trainer`: one meta-step differentiates
through an inner optimisation over a batch of freshly sampled tasks (no fixed dataset, no epochs),
which the Trainer's one-loss-per-batch loop does not express. The prototypical network's episodes
would fit the Trainer (one loss per episode) but share the episode sampler and evaluation of the
optimisation-based learners, so it is trained in the same loop for a like-for-like comparison.
"""

from .fewshot import (
    EpisodeSampler,
    FewShotNet,
    conv_embedding,
    evaluate_fewshot,
    meta_train_fewshot,
    prototypical_logits,
    train_protonet,
)
from .sinusoid import SinusoidTasks, adapt, evaluate_adaptation, meta_train, pretrain, sinusoid_net

__all__ = ["EpisodeSampler", "FewShotNet", "conv_embedding", "evaluate_fewshot", "meta_train_fewshot",
           "prototypical_logits", "train_protonet", "SinusoidTasks", "adapt", "evaluate_adaptation", "meta_train", "pretrain", "sinusoid_net"]
