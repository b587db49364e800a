r"""Few-shot image classification: ``N``-way ``K``-shot episodes over classes held out from
meta-training, learned with MAML / first-order MAML / Reptile (the inner loop of :mod:`.sinusoid`)
or with prototypical networks (Snell et al. 2017).

Omniglot and mini-ImageNet, the usual benchmarks, are not available offline; the substitute here
is MNIST split **by class**: meta-training episodes are drawn from the training images of some
digits (by default 0–4) and test episodes from the *test* images of the other digits (5–9), so
neither the classes nor the images of a test episode were seen in meta-training. An episode picks
``N`` of its split's classes, relabels them ``0..N-1`` in a random order, and takes ``K`` support and
``Q`` query images of each.

* **Prototypical network**: an embedding :math:`f_\phi`; a class prototype is the mean embedding of
  its support images, :math:`c_n = \frac1K\sum_i f_\phi(x_i)`, and a query's logits are its negative
  squared Euclidean distances to the prototypes. Trained with the cross-entropy on the queries.
* **MAML / FOMAML / Reptile**: the same embedding with a linear ``N``-way head; the inner loop
  (:func:`tensorprism.meta.sinusoid.adapt` with the cross-entropy) adapts all weights on the support
  set, the outer loss is the adapted network's query cross-entropy (Finn et al. 2017, §5.2).
  Tasks of a meta-batch are adapted together with ``torch.func.vmap``.

Accuracy is reported as the mean over test episodes with a 95 % confidence interval
``1.96 · std / √episodes``, as in the papers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError, DataError
from .sinusoid import adapt, meta_step

__all__ = ["EpisodeSampler", "conv_embedding", "FewShotNet", "prototypical_logits", "train_protonet",
           "meta_train_fewshot", "evaluate_fewshot", "FewShotResult"]


class EpisodeSampler:
    """Draws ``N``-way ``K``-shot episodes from images ``(M, C, H, W)`` of the given classes."""

    def __init__(self, images: Tensor, labels: Tensor, classes: Sequence[int]):
        self.classes = [int(c) for c in classes]
        self.by_class = {c: images[labels == c] for c in self.classes}
        empty = [c for c, x in self.by_class.items() if len(x) == 0]
        if empty:
            raise DataError(f"EpisodeSampler: no images of classes {empty}")

    def sample(self, n_way: int, k_shot: int, queries: int, generator: torch.Generator
               ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Support ``(N K, C, H, W)``, labels ``(N K,)``, query ``(N Q, C, H, W)``, labels ``(N Q,)``."""
        if n_way > len(self.classes):
            raise ConfigError(f"{n_way}-way episodes need {n_way} classes, this split has {len(self.classes)} "
                              f"({self.classes})")
        if k_shot < 1 or queries < 1:
            raise ConfigError(f"k_shot and queries must be >= 1, got {k_shot}, {queries}")
        chosen = torch.randperm(len(self.classes), generator=generator)[:n_way].tolist()
        xs, ys, xq, yq = [], [], [], []
        for label, ci in enumerate(chosen):
            pool = self.by_class[self.classes[ci]]
            if len(pool) < k_shot + queries:
                raise DataError(f"class {self.classes[ci]} has {len(pool)} images, fewer than K + Q = "
                                f"{k_shot + queries}")
            idx = torch.randperm(len(pool), generator=generator)[:k_shot + queries]
            xs.append(pool[idx[:k_shot]])
            xq.append(pool[idx[k_shot:]])
            ys += [label] * k_shot
            yq += [label] * queries
        return torch.cat(xs), torch.tensor(ys), torch.cat(xq), torch.tensor(yq)

    def sample_batch(self, tasks: int, n_way: int, k_shot: int, queries: int, generator: torch.Generator
                     ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``tasks`` episodes stacked on a new leading dimension (for ``vmap``)."""
        eps = [self.sample(n_way, k_shot, queries, generator) for _ in range(tasks)]
        return tuple(torch.stack(parts) for parts in zip(*eps, strict=True))  # type: ignore[return-value]


def conv_embedding(in_chans: int = 1, width: int = 32, blocks: int = 4) -> nn.Sequential:
    """The few-shot "Conv-4" embedding (Vinyals et al. 2016; Snell et al. 2017) without batch norm
    (running statistics do not mix with per-task ``vmap``): ``blocks`` × [3×3 conv → ReLU → 2×2 max
    pool], flattened; 28×28 inputs give ``(N, width)`` after 4 blocks."""
    layers: list[nn.Module] = []
    c = in_chans
    for _ in range(blocks):
        layers += [nn.Conv2d(c, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        c = width
    layers.append(nn.Flatten(1))
    return nn.Sequential(*layers)


class FewShotNet(nn.Module):
    """Embedding + linear ``n_way`` head, for the optimisation-based learners.

    ``zero_head`` (default) starts the head at zero, as Ye & Chao (2022, "How to train your MAML
    to excel in few-shot classification") do: an episode's labels are a random permutation, so a
    learned initial head can only be wrong on average; from zero, the network is invariant to that
    permutation and the first inner step builds class weights from the support embeddings (a
    prototype-like classifier). With a random head and no batch norm, MAML here stayed at chance.
    """

    def __init__(self, n_way: int, in_chans: int = 1, width: int = 32, img_size: int = 28, blocks: int = 4,
                 zero_head: bool = True):
        super().__init__()
        self.embed = conv_embedding(in_chans, width, blocks)
        with torch.no_grad():
            dim = self.embed(torch.zeros(1, in_chans, img_size, img_size)).shape[1]
        self.head = nn.Linear(dim, n_way)
        if zero_head:
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.embed(x))


def prototypical_logits(support: Tensor, labels: Tensor, query: Tensor, n_way: int) -> Tensor:
    """Negative squared distances ``(Q, N)`` of query embeddings ``(Q, D)`` to the class means of the
    support embeddings ``(N K, D)`` with labels ``0..N-1``."""
    protos = torch.zeros(n_way, support.shape[1], dtype=support.dtype, device=support.device)
    protos.index_add_(0, labels, support)
    protos = protos / torch.bincount(labels, minlength=n_way).clamp_min(1)[:, None].to(support.dtype)
    return -torch.cdist(query, protos).pow(2)


def train_protonet(embed: nn.Module, sampler: EpisodeSampler, *, episodes: int, n_way: int, k_shot: int,
                   queries: int = 15, lr: float = 1e-3, seed: int = 0,
                   log: Callable[[int, float], None] | None = None) -> nn.Module:
    """Train the embedding on ``episodes`` episodes (Adam), in place."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(embed.parameters(), lr=lr)
    embed.train()
    for ep in range(episodes):
        xs, ys, xq, yq = sampler.sample(n_way, k_shot, queries, g)
        z = embed(torch.cat([xs, xq]))
        loss = F.cross_entropy(prototypical_logits(z[:len(xs)], ys, z[len(xs):], n_way), yq)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if log is not None:
            log(ep, float(loss.detach()))
    return embed


def meta_train_fewshot(net: FewShotNet, method: str, sampler: EpisodeSampler, *, iterations: int, n_way: int,
                       k_shot: int, queries: int = 15, meta_batch: int = 4, inner_lr: float = 0.1,
                       inner_steps: int = 1, outer_lr: float = 1e-3, reptile_steps: int = 5,
                       reptile_eps: float = 0.1, seed: int = 0,
                       log: Callable[[int, float], None] | None = None) -> FewShotNet:
    """MAML (``"maml"``, second order), ``"fomaml"`` or ``"reptile"`` on few-shot episodes, in place."""

    if method not in ("maml", "fomaml", "reptile"):
        raise ConfigError(f"method must be 'maml', 'fomaml' or 'reptile', got {method!r}")
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=outer_lr)
    for it in range(iterations):
        xs, ys, xq, yq = sampler.sample_batch(meta_batch, n_way, k_shot, queries, g)
        loss = meta_step(net, opt, method, xs, ys, xq, yq, inner_lr=inner_lr, inner_steps=inner_steps,
                         reptile_lr=inner_lr, reptile_steps=reptile_steps, reptile_eps=reptile_eps,
                         loss=F.cross_entropy, randomness="same")
        if log is not None:
            log(it, loss)
    return net


@dataclass
class FewShotResult:
    """Mean query accuracy over test episodes and the half-width of its 95 % confidence interval."""

    accuracy: float
    ci95: float
    episodes: int


def evaluate_fewshot(learner: nn.Module, method: str, sampler: EpisodeSampler, *, n_way: int, k_shot: int,
                     episodes: int = 600, queries: int = 15, inner_lr: float = 0.1, inner_steps: int = 10,
                     seed: int = 12345) -> FewShotResult:
    """Accuracy of ``learner`` on ``episodes`` new episodes: prototypes (``"protonet"``) or
    ``inner_steps`` SGD steps on the support set (the optimisation-based methods)."""
    from torch.func import functional_call

    g = torch.Generator().manual_seed(seed)
    accs = []
    learner.eval()
    base = {n: p.detach() for n, p in learner.named_parameters()}
    for _ in range(episodes):
        xs, ys, xq, yq = sampler.sample(n_way, k_shot, queries, g)
        if method == "protonet":
            with torch.no_grad():
                z = learner(torch.cat([xs, xq]))
                logits = prototypical_logits(z[:len(xs)], ys, z[len(xs):], n_way)
        else:
            fast = adapt(learner, base, xs, ys, inner_lr, inner_steps, first_order=True, loss=F.cross_entropy)
            with torch.no_grad():
                logits = functional_call(learner, fast, (xq,))
        accs.append(float((logits.argmax(1) == yq).float().mean()))
    t = torch.tensor(accs)
    ci = 1.96 * float(t.std()) / math.sqrt(len(accs)) if len(accs) > 1 else float("nan")
    return FewShotResult(float(t.mean()), ci, len(accs))
