"""Chapter 7 visual attention on CIFAR-10 (book §7.3.1, §7.5.1, case study §7.6.1).

Two case studies, each an attention network against the same network without attention, trained
alike (same seed, data order, optimiser and budget)::

    prism run ch07-attention-cnn      # the §7.6.1 AttentionCNN vs the CNN without its attention layer
    prism run ch07-cbam-resnet20      # ResNet-20 with CBAM in every block vs ResNet-20

The book's case study: batch 100, Adam 1e-3, 10 epochs, inputs normalised with mean = std = 0.5,
no augmentation (L7-34); it reports no accuracy. Here inputs are normalised with the CIFAR-10
statistics and the test set is never used for selection. Pictures: the attention map of each
model over test images (the softmax weights of the position attention; for CBAM the spatial gate
of the last block).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import register_recipe
from .ch07_common import Ch07Config, compare, fit, overlay_maps, pictures_dir, seed_all, subset


@dataclass
class Ch07VisionConfig(Ch07Config):
    """Attributes:
        model: the attention model (registered name).
        baseline: the same network without attention (registered name).
        augment: ``"none"`` (the book) or ``"cifar"`` (pad-4 random crops and flips).
    """

    model: str = "attention-cnn"
    baseline: str = "attention-cnn-plain"
    augment: str = "none"
    epochs: int = 10
    batch_size: int = 100


def _maps(model, x: torch.Tensor) -> torch.Tensor:
    """The model's spatial attention over ``x``: ``(N, h, w)``."""
    from ..models.cnn.attention_cnn import attention_map
    from ..nn.blocks import CBAM
    from ..nn.visual_attention import PositionSoftmaxAttention

    if isinstance(model.stages[0], (PositionSoftmaxAttention, CBAM)):  # the §7.6.1 network
        return attention_map(model, x)[:, 0]
    gates = [m for m in model.modules() if isinstance(m, CBAM)]
    if not gates:
        raise ValueError("the model has no spatial attention to draw")
    seen = {}
    hook = gates[-1][1].register_forward_hook(lambda mod, inp, out: seen.update(map=mod.attention(inp[0])))
    model(x)
    hook.remove()
    return seen["map"][:, 0]


def run_vision(cfg: Ch07VisionConfig) -> dict:
    from ..data import load_dataset
    from ..data.transforms import Normalize
    from ..models import create_model
    from ..models.contract import CIFAR10_MEAN, CIFAR10_STD
    from ..vision.training import AugmentedClassificationTask
    from .ch04_classification import augmentation

    train = subset(load_dataset("cifar10", split="train", normalize=False), cfg.max_train, cfg.seed)
    val = subset(load_dataset("cifar10", split="val", normalize=False), cfg.max_eval, 0)
    test = subset(load_dataset("cifar10", split="test", normalize=False), cfg.max_eval, 0)
    out, models = {}, {}
    for role, name in (("attention", cfg.model), ("baseline", cfg.baseline)):
        seed_all(cfg.seed)
        model = create_model(name, num_classes=10)
        task = AugmentedClassificationTask(augmentation(cfg.augment, cfg.seed), Normalize(CIFAR10_MEAN, CIFAR10_STD), 10)
        _, out[role] = fit(cfg, role, model, task, train, val, test, dataset={"name": "cifar10"},
                           task_name="classification", eval_batch_size=500)
        out[role]["model"] = name
        models[role] = model
    pics = pictures_dir(cfg)
    if pics is not None and cfg.pictures:
        base = test.dataset if hasattr(test, "dataset") else test
        idx = list(range(min(cfg.pictures, len(test))))
        x = torch.stack([test[i][0] for i in idx]).float()
        x01 = x / 255 if x.max() > 1 else x
        net = models["attention"].eval()
        with torch.no_grad():
            maps = _maps(net, Normalize(CIFAR10_MEAN, CIFAR10_STD)(x01))
            pred = net(Normalize(CIFAR10_MEAN, CIFAR10_STD)(x01)).argmax(1)
        names = getattr(base, "classes", None) or [str(i) for i in range(10)]
        titles = [f"{names[int(test[i][1])]} -> {names[int(p)]}" for i, p in zip(idx, pred, strict=True)]
        overlay_maps(pics / f"{cfg.model}-attention.png", x01, maps, titles)
    from .kit import save_result

    return save_result(cfg, compare(out["attention"], out["baseline"]))


register_recipe("ch07-attention-cnn", config=Ch07VisionConfig,
                description="§7.6.1 AttentionCNN vs the same CNN without attention on CIFAR-10")(run_vision)
register_recipe("ch07-cbam-resnet20", config=Ch07VisionConfig, model="cbam-resnet20-cifar", baseline="resnet20-cifar",
                batch_size=128, augment="cifar",
                description="ResNet-20 with CBAM in every residual block vs ResNet-20 on CIFAR-10")(run_vision)
