r"""Self-supervised learning paradigms (book Chapter 9, §9.3-9.4) as Tasks on the general Trainer.

Each task takes image batches ``x`` or ``(x, y)`` (labels are ignored), draws its views on the
device with a :class:`~tensorprism.data.augment.MultiView` (batched, seeded by the Trainer's seed)
and trains an :class:`~tensorprism.models.ssl.SSLNet`. Everything a method carries from step to
step -- momentum encoders, MoCo's queue and pointer, SwAV's prototypes -- lives in the model's
parameters and buffers, and the augmentation generator's state in the task's ``state_dict``, so a
checkpointed run resumes exactly (tested: interrupted + resumed == uninterrupted).

=============  =====================================================================================
``simclr``     NT-Xent over two views (Chen et al. 2020)
``moco``       MoCo v2 (Chen et al. 2020b): InfoNCE of queries against the momentum key of the other
               view and a FIFO queue; EMA key encoder; *shuffled BN* simulated on one device with
               ``shuffle_bn_groups`` (keys in BN groups of a permuted batch), or off (default) with
               the symmetrised loss as the substitute (lightly's CIFAR-10 benchmark)
``byol``       BYOL (Grill et al. 2020): predictor on the online branch, EMA target with the
               momentum raised from ``momentum`` to 1 on a cosine schedule, normalised loss
               (``normalize=False``: the book's unnormalised form)
``swav``       SwAV (Caron et al. 2020): unit-norm prototypes, Sinkhorn-Knopp codes of the large
               crops, swapped prediction across all crops (multi-crop)
``deepcluster`` DeepCluster (Caron et al. 2018): k-means pseudo-labels of the features, refreshed
               every ``recluster_every`` steps, classifier re-initialised each time
``masked-image`` masked image modelling: with an :class:`~tensorprism.models.mae.MAE` (ViT encoder on the
               visible patches only, light decoder with mask tokens) MAE proper; with a conv
               encoder-decoder the hidden squares are filled in; loss on the hidden pixels only
``rotation``   RotNet (Gidaris et al. 2018): 4-way classification of 0/90/180/270 degree rotations,
               labels 0..3 (the book's listing uses degrees as class ids, C9-07)
=============  =====================================================================================
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...data.augment import MultiView, multi_crop, ssl_pipeline
from ...errors import ConfigError
from ...losses.contrastive import byol_loss, info_nce, nt_xent, sinkhorn_knopp, swav_loss
from . import Task, register_task, split_batch


def _gen_state(g: torch.Generator) -> list[int]:
    return g.get_state().tolist()


class SSLTask(Task):
    """Shared by the SSL tasks: view drawing, validation loss, and a generator in the checkpoint.

    Args:
        views: a :class:`MultiView` (or any ``callable(x, generator=g) -> list``); ``None`` builds the
            method's default for the batch's image size on the first batch.
        image_size: size of the default views (``None``: the input size).
    """

    monitor = "val/loss"
    mode = "min"
    n_views = 2

    def __init__(self, views: Any = None, image_size: int | None = None, jitter: float = 0.4, seed: int = 0):
        self.views, self.image_size, self.jitter = views, image_size, jitter
        self.generator = torch.Generator().manual_seed(seed)

    def default_views(self, x: torch.Tensor) -> MultiView:
        size = self.image_size or x.shape[-1]
        grey = x.shape[1] == 1
        return MultiView(ssl_pipeline(size, jitter=0.0 if grey else self.jitter, grey_p=0.0 if grey else 0.2,
                                      hue=0.0 if grey else 0.1, scale=(0.2, 1.0)), n_views=self.n_views)

    def draw(self, x: torch.Tensor) -> list[torch.Tensor]:
        if self.views is None:
            self.views = self.default_views(x)
        return self.views(x, generator=self.generator)

    #: evaluation also reports ``knn_acc``: leave-one-out weighted kNN (k=200, cosine, T=0.1) of the
    #: encoder's eval-mode features over the evaluated split, when its batches carry class labels
    knn_metric = True
    knn_k, knn_temperature = 200, 0.1

    def evaluation_step(self, model, batch):
        x, y = split_batch(batch)
        with torch.no_grad():
            out = {"loss": self.loss(model, self.draw(x))["loss"]}
            if self.knn_metric and isinstance(y, torch.Tensor) and y.dim() == 1 and not y.is_floating_point():
                net = self.trainer.model if self.trainer is not None else model
                out["features"], out["target"] = net.features(x), y
        return out

    def training_step(self, model, batch):
        x, _ = split_batch(batch)
        return self.loss(model, self.draw(x))

    def loss(self, model, views: list[torch.Tensor]) -> dict[str, torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def metrics(self):
        if not self.knn_metric:
            return {}
        from ...metrics.knn import LeaveOneOutKNNAccuracy

        return {"knn_acc": LeaveOneOutKNNAccuracy(self.knn_k, self.knn_temperature)}

    def update_metrics(self, metrics, out) -> None:
        if "features" in out and "knn_acc" in metrics:
            metrics["knn_acc"].update(out["features"], out["target"])

    def predict_step(self, model, batch):
        x, _ = split_batch(batch)
        return self.trainer.model.features(x)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": _gen_state(self.generator)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "generator" in state:
            self.generator.set_state(torch.tensor(state["generator"], dtype=torch.uint8))

    def total_steps(self) -> int | None:
        t = self.trainer
        if t is None or t.batches_per_epoch is None:
            return None
        total = math.ceil(t.batches_per_epoch / t.config.accumulate) * t.config.epochs
        return min(total, t.config.max_steps) if t.config.max_steps else total


@register_task("simclr")
class SimCLRTask(SSLTask):
    """SimCLR: NT-Xent between the projections of two views (``temperature`` 0.5 by default, the
    book's case study; lightly's CIFAR benchmark uses 0.1 with its own schedule)."""

    def __init__(self, temperature: float = 0.5, **kw):
        super().__init__(**kw)
        self.temperature = temperature

    def loss(self, model, views):
        n = views[0].shape[0]
        z = model(torch.cat(views[:2]))  # one forward for both views: one BN batch, as SimCLR
        return {"loss": nt_xent(z[:n], z[n:], self.temperature)}


class _MomentumTask(SSLTask):
    def __init__(self, momentum: float = 0.99, cosine_momentum: bool = True, **kw):
        super().__init__(**kw)
        if not 0 <= momentum <= 1:
            raise ConfigError(f"momentum must be in [0, 1], got {momentum}")
        self.momentum, self.cosine_momentum = momentum, cosine_momentum

    def momentum_at(self, step: int) -> float:
        """``1 - (1 - m)(cos(pi k / K) + 1) / 2`` (BYOL's schedule) or the constant ``m``."""
        total = self.total_steps()
        if not self.cosine_momentum or not total:
            return self.momentum
        return 1 - (1 - self.momentum) * (math.cos(math.pi * min(step, total) / total) + 1) / 2

    def on_after_optimizer_step(self, model, step):
        model.momentum_update(self.momentum_at(step))


def grouped_forward(fn, x: torch.Tensor, groups: int) -> torch.Tensor:
    """``fn`` on ``groups`` contiguous chunks of the batch, concatenated: each chunk is its own BatchNorm
    batch, as the per-device batches of a ``groups``-GPU run."""
    return torch.cat([fn(c) for c in x.chunk(groups)]) if groups > 1 else fn(x)


def shuffled_grouped_forward(fn, x: torch.Tensor, groups: int, generator: torch.Generator) -> torch.Tensor:
    """MoCo's *shuffling BN* on one device: permute the batch, run ``fn`` on ``groups`` chunks of the
    permuted batch (BN statistics per chunk), and undo the permutation. A key is then normalised with
    statistics of samples other than those its query was normalised with (contiguous chunks, see
    :func:`grouped_forward`), which closes the shortcut the paper describes: the positive pair
    recognised through shared batch statistics instead of content (He et al. 2020, §3.3)."""
    perm = torch.randperm(x.shape[0], generator=generator).to(x.device)
    return grouped_forward(fn, x[perm], groups)[perm.argsort()]


@register_task("moco")
class MoCoTask(_MomentumTask):
    """MoCo v2: queries from the online branch, keys from the momentum branch of the other view,
    negatives from the queue (enqueued after the loss, so a positive is never its own negative).

    ``shuffle_bn_groups = G > 1`` simulates the multi-GPU *shuffled BN* on one device: queries are
    encoded in ``G`` contiguous BN groups, keys in ``G`` groups of a random permutation of the batch
    (then un-permuted), so a query and its key never share their BatchNorm batch except by the
    chance overlap of ~``B/G**2`` samples (tested). ``G = 0`` or 1: one BN batch each (the symmetrised
    loss is then the single-device substitute, as in lightly's CIFAR-10 benchmark)."""

    def __init__(self, temperature: float = 0.2, momentum: float = 0.99, cosine_momentum: bool = False,
                 symmetric: bool = True, shuffle_bn_groups: int = 0, **kw):
        super().__init__(momentum=momentum, cosine_momentum=cosine_momentum, **kw)
        if shuffle_bn_groups < 0:
            raise ConfigError(f"shuffle_bn_groups must be >= 0, got {shuffle_bn_groups}")
        self.temperature, self.symmetric, self.groups = temperature, symmetric, shuffle_bn_groups

    def loss(self, model, views):
        net = self.trainer.model if self.trainer is not None else model
        if getattr(net, "queue", None) is None:
            raise ConfigError("the moco task needs an SSLNet built with momentum=True and queue_size > 0")
        v1, v2 = views[:2]
        if self.groups > 1 and v1.shape[0] < 2 * self.groups:
            raise ConfigError(f"shuffle_bn_groups={self.groups} needs batches of at least {2 * self.groups} "
                              f"(two samples per BN group), got {v1.shape[0]}")
        k2 = shuffled_grouped_forward(net.target, v2, self.groups, self.generator) if self.groups > 1 else net.target(v2)
        k1 = shuffled_grouped_forward(net.target, v1, self.groups, self.generator) if self.groups > 1 else net.target(v1)
        queue = net.queue.clone().detach()
        loss = info_nce(grouped_forward(model, v1, self.groups), k2, queue, self.temperature)
        if self.symmetric:
            loss = (loss + info_nce(grouped_forward(model, v2, self.groups), k1, queue, self.temperature)) / 2
        if torch.is_grad_enabled():  # training: the keys join the queue after the loss
            net.enqueue(torch.cat([k2, k1]) if self.symmetric else k2)
        return {"loss": loss}


@register_task("byol")
class BYOLTask(_MomentumTask):
    """BYOL: ``predictor(projector(encoder(v1)))`` regresses the target projection of ``v2`` and vice
    versa; the target is the EMA of the online network (momentum 0.99 -> 1, cosine)."""

    def __init__(self, momentum: float = 0.99, cosine_momentum: bool = True, normalize: bool = True, **kw):
        super().__init__(momentum=momentum, cosine_momentum=cosine_momentum, **kw)
        self.normalize = normalize

    def loss(self, model, views):
        net = self.trainer.model if self.trainer is not None else model
        if net.predictor is None or net.target_encoder is None:
            raise ConfigError("the byol task needs an SSLNet built with pred_hidden > 0 and momentum=True")
        n = views[0].shape[0]
        p = net.predictor(model(torch.cat(views[:2])))
        z = net.target(torch.cat(views[:2]))
        loss = (byol_loss(p[:n], z[n:], self.normalize) + byol_loss(p[n:], z[:n], self.normalize)) / 2
        return {"loss": loss}


@register_task("swav")
class SwAVTask(SSLTask):
    """SwAV with multi-crop: ``n_large`` crops at the image size and ``n_small`` at ``small_size``;
    codes by Sinkhorn-Knopp (``epsilon``, ``sinkhorn_iters``) from the large crops' scores; the
    prototypes are re-normalised before every step and kept fixed for ``freeze_prototypes_steps``."""

    def __init__(self, temperature: float = 0.1, epsilon: float = 0.05, sinkhorn_iters: int = 3, n_large: int = 2,
                 n_small: int = 4, small_size: int | None = None, freeze_prototypes_steps: int = 0, **kw):
        super().__init__(**kw)
        self.temperature, self.epsilon, self.sinkhorn_iters = temperature, epsilon, sinkhorn_iters
        self.n_large, self.n_small, self.small_size = n_large, n_small, small_size
        self.freeze_prototypes_steps = freeze_prototypes_steps

    def default_views(self, x):
        size = self.image_size or x.shape[-1]
        grey = x.shape[1] == 1
        return multi_crop(size, self.small_size or max(8, size // 2), self.n_large, self.n_small,
                          jitter=0.0 if grey else self.jitter, grey_p=0.0 if grey else 0.2, hue=0.0 if grey else 0.1)

    def loss(self, model, views):
        net = self.trainer.model if self.trainer is not None else model
        if net.prototypes is None:
            raise ConfigError("the swav task needs an SSLNet built with num_prototypes > 0")
        net.normalize_prototypes()
        weight = net.prototypes.weight
        step = self.trainer.global_step if self.trainer is not None else 0
        if step < self.freeze_prototypes_steps:  # fixed prototypes early on (SwAV's first epoch)
            weight = weight.detach()
        # crops of one size share a forward pass (and a BN batch)
        scores, n = [], views[0].shape[0]
        for size in dict.fromkeys(v.shape[-1] for v in views):
            group = [v for v in views if v.shape[-1] == size]
            z = F.normalize(model(torch.cat(group)), dim=1)
            scores += list(F.linear(z, weight).split(n))
        large = list(range(min(self.n_large, len(scores))))
        codes = [sinkhorn_knopp(scores[i], self.epsilon, self.sinkhorn_iters) for i in large]
        return {"loss": swav_loss(scores, codes, large, self.temperature)}


def rotate90(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Rotate image ``i`` of ``x (N, C, H, W)`` by ``k[i] * 90`` degrees counter-clockwise (square images)."""
    out = x.clone()
    for r in range(1, 4):
        m = k == r
        if m.any():
            out[m] = torch.rot90(x[m], r, dims=(-2, -1))
    return out


@register_task("rotation")
class RotationTask(SSLTask):
    """Rotation prediction: every image is shown at 0, 90, 180 and 270 degrees and the model's
    ``head`` (4 outputs) predicts the class ``k`` in 0..3. Reports the rotation accuracy."""

    monitor = "val/acc"
    mode = "max"

    def _pairs(self, x):
        n = x.shape[0]
        k = torch.arange(4, device=x.device).repeat_interleave(n)
        return rotate90(x.repeat(4, 1, 1, 1), k), k

    def _logits(self, model, xr):
        net = self.trainer.model if self.trainer is not None else model
        if net.head is None or net.head.out_features != 4:
            raise ConfigError("the rotation task needs an SSLNet built with head_classes=4")
        return net.head(net.features(xr))

    def training_step(self, model, batch):
        xr, k = self._pairs(split_batch(batch)[0])
        return {"loss": F.cross_entropy(self._logits(model, xr), k)}

    def evaluation_step(self, model, batch):
        xr, k = self._pairs(split_batch(batch)[0])
        logits = self._logits(model, xr)
        return {"loss": F.cross_entropy(logits, k), "preds": logits.argmax(1), "target": k}

    def metrics(self):
        from torchmetrics.classification import MulticlassAccuracy

        return {"acc": MulticlassAccuracy(4, average="micro")}

    def update_metrics(self, metrics, out) -> None:
        Task.update_metrics(self, metrics, out)


class WithIndex(torch.utils.data.Dataset):
    """``(x, index)`` items from a dataset of ``x`` or ``(x, y)`` items: DeepCluster looks up each
    sample's pseudo-label by its index."""

    def __init__(self, data):
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i):
        item = self.data[i]
        return (item[0] if isinstance(item, (tuple, list)) else item), i


@register_task("deepcluster")
class DeepClusterTask(SSLTask):
    """DeepCluster (Caron et al. 2018; book §9.4, C9-10): every ``recluster_every`` optimiser steps the
    encoder's features of the whole training set are clustered, the cluster ids become the
    pseudo-labels, and the classifier ``head`` is re-initialised (the book's listing never resets
    it and clusters the 10 logits instead of the features); between reclusterings, cross-entropy on
    one augmented view. Batches are ``(x, index)`` (wrap the dataset in :class:`WithIndex`).

    Args:
        assign: ``assign(encoder, seed) -> labels (N,)`` over the training set in ``WithIndex`` order,
            e.g. :func:`tensorprism.unsupervised.evaluation.cluster_assigner` (features in eval mode,
            PCA, k-means). The pseudo-labels are task state: checkpoints keep them.
        recluster_every: optimiser steps between reclusterings (e.g. one epoch's worth).
    """

    n_views = 1
    knn_metric = False  # batches carry sample indices, not classes

    def __init__(self, assign=None, recluster_every: int = 100, **kw):
        super().__init__(**kw)
        if recluster_every < 1:
            raise ConfigError(f"recluster_every must be >= 1, got {recluster_every}")
        self.assign, self.recluster_every = assign, recluster_every
        self.labels: torch.Tensor | None = None
        self.clustered_at = -1

    def _recluster(self, net, step: int) -> None:
        if self.assign is None:
            raise ConfigError("the deepcluster task needs assign=callable(encoder, seed) -> labels; build one with "
                              "tensorprism.unsupervised.evaluation.cluster_assigner(train_data, k)")
        self.labels = torch.as_tensor(self.assign(net.encoder, step)).long().cpu()
        with torch.no_grad():
            net.head.reset_parameters()
        self.clustered_at = step

    def training_step(self, model, batch):
        net = self.trainer.model if self.trainer is not None else model
        if net.head is None:
            raise ConfigError("the deepcluster task needs an SSLNet built with head_classes = the number of clusters")
        x, idx = split_batch(batch)
        step = self.trainer.global_step if self.trainer is not None else 0
        if self.labels is None or (step % self.recluster_every == 0 and step != self.clustered_at):
            self._recluster(net, step)
        target = self.labels[idx.cpu()].to(x.device)
        logits = net.head(model(self.draw(x)[0]))  # proj_dim=0: model(x) is the encoder's features
        return {"loss": F.cross_entropy(logits, target)}

    def evaluation_step(self, model, batch):
        net = self.trainer.model if self.trainer is not None else model
        x, idx = split_batch(batch)
        if self.labels is None or int(idx.max()) >= len(self.labels):  # not the clustered set: no loss
            return {"loss": torch.zeros((), device=x.device)}
        with torch.no_grad():
            return {"loss": F.cross_entropy(net.head(net.features(x)), self.labels[idx.cpu()].to(x.device))}

    def state_dict(self):
        return {**super().state_dict(), "labels": None if self.labels is None else self.labels.tolist(),
                "clustered_at": self.clustered_at}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        if state.get("labels") is not None:
            self.labels = torch.tensor(state["labels"], dtype=torch.long)
        self.clustered_at = state.get("clustered_at", -1)


def patch_mask(n: int, size: tuple[int, int], patch: int, ratio: float, generator: torch.Generator) -> torch.Tensor:
    """Random patch masks ``(N, 1, H, W)`` (True = hidden): exactly ``round(ratio * patches)`` of the
    ``patch x patch`` squares of each image, chosen independently per image (MAE's random masking)."""
    h, w = size
    if h % patch or w % patch:
        raise ConfigError(f"image size {size} is not a multiple of patch_size {patch}")
    gh, gw = h // patch, w // patch
    k = int(round(ratio * gh * gw))
    order = torch.rand(n, gh * gw, generator=generator).argsort(1)
    hidden = torch.zeros(n, gh * gw, dtype=torch.bool)
    hidden.scatter_(1, order[:, :k], True)
    return hidden.view(n, 1, gh, gw).repeat_interleave(patch, 2).repeat_interleave(patch, 3)


@register_task("masked-image")
class MaskedImageTask(SSLTask):
    r"""Masked image modelling with a convolutional encoder-decoder (book §9.3, I9.23; MAE's masking,
    He et al. 2022): hide ``mask_ratio`` of the ``patch_size`` squares of each image, reconstruct the
    image from the rest with any ``dense`` model mapping ``(N, C, H, W)`` to ``(N, C, H, W)`` (e.g.
    ``create_model("unet", in_chans=C, num_classes=C)``), and score only the hidden pixels:
    :math:`\mathcal L=\sum_{i\in M}\lVert x_i-\hat x_i\rVert^2/|M|` (L21248). The book's listing (C9-13)
    erases in the dataset, so its "clean" target is erased too, and averages over every pixel.

    **ViT variant (MAE proper).** With a :class:`~tensorprism.models.mae.MAE` model the mask is drawn
    per image over the ViT's patches (:func:`~tensorprism.models.mae.random_masking`), the encoder
    sees only the visible patches, the decoder fills in mask tokens, and the loss is
    :func:`~tensorprism.models.mae.mae_loss` on the hidden patches (``norm_pix_loss``: against
    per-patch normalised pixels); ``patch_size`` and ``fill`` are then the ViT's own.

    Args:
        patch_size: side of the masked squares. mask_ratio: fraction hidden (MAE: 0.75).
        fill: value of hidden pixels in the input.
        norm_pix_loss: (MAE) per-patch normalised pixel targets.
    """

    knn_metric = False

    def __init__(self, patch_size: int = 4, mask_ratio: float = 0.75, fill: float = 0.0, norm_pix_loss: bool = False,
                 **kw):
        super().__init__(**kw)
        if not 0 < mask_ratio < 1:
            raise ConfigError(f"mask_ratio must be in (0, 1), got {mask_ratio}")
        self.patch_size, self.mask_ratio, self.fill = patch_size, mask_ratio, fill
        self.norm_pix_loss = norm_pix_loss

    def _mae_loss(self, model, net, x):
        from ...models.mae import mae_loss, random_masking

        keep, mask = random_masking(x.shape[0], net.num_patches, self.mask_ratio, self.generator, x.device)
        pred = model(x, keep)
        return {"loss": mae_loss(pred, net.patchify(x), mask, self.norm_pix_loss), "mask": mask}

    def _loss(self, model, x):
        from ...models.mae import MAE

        net = self.trainer.model if self.trainer is not None else model
        if isinstance(net, MAE):
            return self._mae_loss(model, net, x)
        mask = patch_mask(x.shape[0], tuple(x.shape[-2:]), self.patch_size, self.mask_ratio, self.generator).to(x.device)
        out = model(torch.where(mask, torch.full_like(x, self.fill), x))
        if out.shape != x.shape:
            raise ConfigError(f"masked-image needs a model that returns the image's shape {tuple(x.shape)}, got "
                              f"{tuple(out.shape)}; e.g. a U-Net with num_classes = in_chans")
        m = mask.expand_as(x).to(x.dtype)
        return {"loss": ((out - x) ** 2 * m).sum() / m.sum(), "mask": mask}

    def training_step(self, model, batch):
        return {"loss": self._loss(model, split_batch(batch)[0])["loss"]}

    def evaluation_step(self, model, batch):
        with torch.no_grad():
            return {"loss": self._loss(model, split_batch(batch)[0])["loss"]}

    def predict_step(self, model, batch):
        from ...models.mae import MAE

        net = self.trainer.model if self.trainer is not None else model
        x = split_batch(batch)[0]
        return net.unpatchify(model(x)) if isinstance(net, MAE) else model(x)


def build_ssl_net(method: str, encoder: nn.Module, *, proj_dim: int = 128, proj_hidden: int = 512,
                  queue_size: int = 4096, num_prototypes: int = 100) -> nn.Module:
    """The :class:`~tensorprism.models.ssl.SSLNet` each method's task expects (``mae``: an
    :class:`~tensorprism.models.mae.MAE` around a ViT ``encoder``, for the ``masked-image`` task)."""
    from ...models.ssl import METHOD_HEADS, SSLNet, ssl_net_kwargs

    if method in METHOD_HEADS:
        return SSLNet(encoder, **ssl_net_kwargs(method, proj_dim=proj_dim, proj_hidden=proj_hidden,
                                                queue_size=queue_size, num_prototypes=num_prototypes))
    if method == "mae":  # the masked-image task's ViT variant; proj_hidden sizes the decoder
        from ...models.mae import MAE

        return MAE(encoder, decoder_dim=min(proj_hidden, 128))
    raise ConfigError(f"unknown SSL method {method!r}; choose one of {SSL_METHODS}")


SSL_METHODS = ("simclr", "moco", "byol", "swav", "rotation", "deepcluster", "mae")

__all__ = ["grouped_forward", "shuffled_grouped_forward", "SSL_METHODS", "SSLTask", "DeepClusterTask", "MaskedImageTask", "WithIndex", "patch_mask", "SimCLRTask", "MoCoTask", "BYOLTask", "SwAVTask", "RotationTask", "build_ssl_net",
           "rotate90"]
