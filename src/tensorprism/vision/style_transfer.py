r"""Neural style transfer (Gatys, Ecker & Bethge 2016; book §4.6.4, lines 8842–8995).

Losses on VGG-19 feature maps :math:`F^{(l)} \in \mathbb R^{N_l \times M_l}` (``N`` maps of ``M = HW`` values):

* content :math:`\mathcal L_c = \tfrac12 \sum_{ij} (F^{(l)}_g - F^{(l)}_c)^2` at ``conv4_2``,
* Gram matrix :math:`G^{(l)} = F^{(l)} F^{(l)\top}`, style
  :math:`\mathcal L_s = \sum_l w_l \frac{1}{4 N_l^2 M_l^2} \sum_{ij} (G^{(l)}_g - G^{(l)}_s)^2` over
  ``conv1_1 … conv5_1``,
* total :math:`\alpha \mathcal L_c + \beta \mathcal L_s`, minimised over the *image* pixels.

The book's listings use means and Grams divided by ``HW`` or ``a·b·c·d`` instead, and its PyTorch
content layer '21' (commented "block5_conv2") is ``conv4_2`` (erratum 27); the layer names below are
unambiguous. **Weights**: nothing is downloaded. :func:`load_vgg19` reads a local file holding
torchvision's ``vgg19`` ImageNet state dict (``features.<i>.weight`` keys), as ``.safetensors`` or a
``.pth`` read with ``weights_only=True`` — obtain it once on a machine with internet, e.g. by saving
``torchvision.models.vgg19(weights="IMAGENET1K_V1").state_dict()`` with ``safetensors.torch.save_file``.
Only the conv weights are needed; a file without the ``classifier.*`` keys loads too.
:func:`export_vgg19` writes that layout from any zoo VGG-19 (batch norm folded into the convs), which is
how the ``ch04-style-transfer`` recipe makes its own weights file when no ImageNet file is at hand.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
from torch import Tensor

from ..errors import CheckpointError

__all__ = ["VGG19_LAYERS", "TORCHVISION_VGG19_CONV_INDICES", "gram_matrix", "content_loss", "style_loss", "load_vgg19",
           "export_vgg19", "VGGFeatures", "style_transfer"]

# conv layer names in order (VGG-19: 2, 2, 4, 4, 4 convs per stage)
VGG19_LAYERS = [f"conv{s}_{i}" for s, n in zip(range(1, 6), (2, 2, 4, 4, 4), strict=True) for i in range(1, n + 1)]
# their positions inside torchvision's ``vgg19().features`` (convs, ReLUs and pools interleaved)
TORCHVISION_VGG19_CONV_INDICES = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def gram_matrix(f: Tensor, normalize: str | None = None) -> Tensor:
    """``(N, C, H, W) → (N, C, C)``; ``normalize``: ``None`` (Gatys), ``"hw"`` (book TF) or ``"chw"`` (book PyTorch, per sample)."""
    n, c, h, w = f.shape
    flat = f.reshape(n, c, h * w)
    g = flat @ flat.transpose(1, 2)
    return g if normalize is None else g / {"hw": h * w, "chw": c * h * w}[normalize]


def content_loss(generated: Tensor, content: Tensor) -> Tensor:
    """``½ Σ (F_g − F_c)²`` (book line 8848)."""
    return 0.5 * (generated - content).pow(2).sum()


def style_loss(generated: Tensor, style_gram: Tensor) -> Tensor:
    """``Σ (G_g − G_s)² / (4 N² M²)`` for one layer (book line 8852), ``style_gram`` from :func:`gram_matrix`."""
    _, c, h, w = generated.shape
    return (gram_matrix(generated) - style_gram).pow(2).sum() / (4 * c**2 * (h * w) ** 2)


def load_vgg19(path: str | Path | None = None, **model_kwargs) -> nn.Module:
    """The zoo's VGG-19 with torchvision-layout weights from ``path`` (see module docs); random weights if ``None``.

    ``model_kwargs`` override the VGG config (e.g. narrower ``widths`` for tests). When loading a file without
    ``widths``, the widths are read from the file's conv shapes, and a file without classifier weights gives
    a model without the 4096-wide FC layers (``hidden=()``).
    """
    from ..models import create_model

    if path is None:
        return create_model("vgg19", **model_kwargs)
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"VGG-19 weights file {path} not found; save torchvision's vgg19 ImageNet state dict there "
                              "(see tensorprism.vision.style_transfer module docs)")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    first_of_stage = [TORCHVISION_VGG19_CONV_INDICES[i] for i in (0, 2, 4, 8, 12)]
    if "widths" not in model_kwargs and all(f"features.{i}.weight" in state for i in first_of_stage):
        model_kwargs["widths"] = tuple(int(state[f"features.{i}.weight"].shape[0]) for i in first_of_stage)
    if not any(k.startswith("classifier.") for k in state):
        model_kwargs.setdefault("hidden", ())
        model_kwargs.setdefault("pool_size", 1)
    model = create_model("vgg19", **model_kwargs)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    mapping = {f"features.{i}": conv for i, conv in zip(TORCHVISION_VGG19_CONV_INDICES, convs, strict=True)}
    missing = [k for k in mapping if f"{k}.weight" not in state]
    if missing:
        raise CheckpointError(f"{path} is not a torchvision vgg19 state dict: missing {missing[:3]}…")
    if any(k.startswith("classifier.") for k in state):  # optional: style transfer only reads the convs
        mapping.update({f"classifier.{i}": lin for i, lin in zip((0, 3, 6), linears, strict=True)})
    with torch.no_grad():
        for key, module in mapping.items():
            for name in ("weight", "bias"):
                src, dst = state[f"{key}.{name}"], getattr(module, name)
                if src.shape != dst.shape:
                    raise CheckpointError(f"{path}: {key}.{name} has shape {tuple(src.shape)} but the model expects "
                                          f"{tuple(dst.shape)}; pass the matching widths=/hidden= to load_vgg19")
                dst.copy_(src)
    return model


def export_vgg19(model: nn.Module, path: str | Path) -> Path:
    r"""Write a zoo VGG-19 (``vgg19`` or ``vgg19_bn``, any widths) as a torchvision ``vgg19`` state dict of its
    convs (``features.<i>.weight/bias``) to a safetensors file that :func:`load_vgg19` reads.

    Batch norm is folded into the preceding conv with its running statistics
    (:math:`W' = W\gamma/\sqrt{\sigma^2+\epsilon}`, :math:`b' = (b-\mu)\gamma/\sqrt{\sigma^2+\epsilon} + \beta`), so the
    plain VGG-19 that loads the file computes what ``model`` computes in eval mode. The classifier is not written.
    """
    from safetensors.torch import save_file
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    units = [m for m in model.modules() if type(m).__name__ == "ConvNormAct"]
    if len(units) != len(TORCHVISION_VGG19_CONV_INDICES):
        raise ValueError(f"expected a VGG-19 with 16 conv units, got {len(units)}; create it with create_model('vgg19_bn', ...)")
    state = {}
    for i, unit in zip(TORCHVISION_VGG19_CONV_INDICES, units, strict=True):
        conv = unit[0]
        if isinstance(unit[1], nn.BatchNorm2d):
            conv = fuse_conv_bn_eval(conv.eval(), unit[1].eval())
        state[f"features.{i}.weight"] = conv.weight.detach().cpu().contiguous()
        state[f"features.{i}.bias"] = conv.bias.detach().cpu().contiguous()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file(state, str(tmp))
    tmp.replace(path)  # atomic: a crash never leaves half a weights file behind
    return path


class VGGFeatures(nn.Module):
    """Frozen VGG-19 conv trunk returning ``{layer name: feature map}`` for the requested layers.

    Input: ``(N, 3, H, W)`` RGB in [0, 1] (ImageNet normalisation is applied inside).
    """

    def __init__(self, vgg: nn.Module, layers: list[str]):
        super().__init__()
        unknown = sorted(set(layers) - set(VGG19_LAYERS))
        if unknown:
            raise ValueError(f"unknown VGG-19 layers {unknown}; choose from {VGG19_LAYERS}")
        self.layers = layers
        units = [m for m in vgg.modules() if type(m).__name__ == "ConvNormAct"]
        pools = [m for m in vgg.modules() if isinstance(m, nn.MaxPool2d)]
        seq, names, u = [], [], 0
        for stage, n in enumerate((2, 2, 4, 4, 4)):
            for _ in range(n):
                seq.append(units[u])
                names.append(VGG19_LAYERS[u])
                u += 1
            seq.append(pools[stage])
            names.append(f"pool{stage + 1}")
        last = max(names.index(layer) for layer in layers)
        self.body, self.names = nn.ModuleList(seq[: last + 1]), names[: last + 1]
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        x = (x - self.mean) / self.std
        out = {}
        for name, module in zip(self.names, self.body, strict=True):
            x = module(x)
            if name in self.layers:
                out[name] = x
        return out


def style_transfer(content: Tensor, style: Tensor, features: VGGFeatures, steps: int = 200, alpha: float = 1.0,
                   beta: float = 1e3, lr: float | None = None, content_layer: str = "conv4_2",
                   style_layers: tuple[str, ...] = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"),
                   init: Tensor | None = None, optimizer: str = "lbfgs") -> tuple[Tensor, list[float]]:
    """Optimise an image for ``α L_c + β L_s`` (style losses averaged over ``style_layers``); returns it and the
    loss history (one value per loss evaluation).

    ``optimizer="lbfgs"`` (Gatys et al.; ``steps`` = maximum iterations, strong-Wolfe line search, ``lr`` 1)
    optimises unconstrained pixels seen through a clamp to [0, 1]; ``"adam"`` (``lr`` 0.02) takes ``steps``
    steps and clamps the pixels after each. L-BFGS reaches a far lower style loss in the same time.
    """
    with torch.no_grad():
        target_c = features(content)[content_layer]
        grams = {k: gram_matrix(v) for k, v in features(style).items() if k in style_layers}
    image = (content.clone() if init is None else init.clone()).requires_grad_(True)
    history: list[float] = []

    def objective() -> Tensor:
        feats = features(image.clamp(0, 1) if optimizer == "lbfgs" else image)
        loss = alpha * content_loss(feats[content_layer], target_c)
        return loss + beta * sum(style_loss(feats[k], grams[k]) for k in style_layers) / len(style_layers)

    if optimizer == "lbfgs":
        opt = torch.optim.LBFGS([image], lr=lr or 1.0, max_iter=steps, history_size=50, line_search_fn="strong_wolfe")

        def closure() -> Tensor:
            opt.zero_grad()
            loss = objective()
            loss.backward()
            history.append(loss.item())
            return loss

        opt.step(closure)
    elif optimizer == "adam":
        opt = torch.optim.Adam([image], lr=lr or 0.02)
        for _ in range(steps):
            loss = objective()
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                image.clamp_(0, 1)
            history.append(loss.item())
    else:
        raise ValueError(f"optimizer={optimizer!r}; expected 'lbfgs' or 'adam'")
    return image.detach().clamp(0, 1), history
