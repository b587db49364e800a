"""Chapter 1–2 worked examples as recipes.

* ``ch01-tensor-batches`` (§1.5): a real MNIST image batch and a Tiny Shakespeare sequence batch
  pushed through the book's tensor manipulations — flatten, explicit NCHW <-> NHWC, broadcasting
  normalisation, slicing, cross-correlation and pooling (the book's 4x4 examples), one-hot and
  embedding lookup, time-major transposes.
* ``ch02-tensor-networks`` (§2.7): a small MLP and CNN written in the book's tensor form
  (:math:`Y=\\phi(XW+b)` with :math:`W\\in\\mathbb R^{d\\times h}`, convolution as a contraction of
  image patches with the kernel) and checked against ``torch.nn`` with the same weights,
  forward and backward, on a real MNIST batch; plus the chapter's parameter counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..tensor.algebra import contract
from . import register_recipe
from .kit import RecipeConfig, save_result


def _mnist_batch(root: str | None, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    from ..data import load_dataset

    ds = load_dataset("mnist", root=root, split="test", normalize=False)
    return ds.data[:n].float() / 255, ds.targets[:n]  # (N, 1, 28, 28) in [0, 1], (N,)


def nchw_to_nhwc(x: torch.Tensor) -> torch.Tensor:
    """Channels-first ``(N, C, H, W)`` -> channels-last ``(N, H, W, C)`` (the book's math layout, l.1293)."""
    return x.permute(0, 2, 3, 1)


def nhwc_to_nchw(x: torch.Tensor) -> torch.Tensor:
    """Channels-last ``(N, H, W, C)`` -> channels-first ``(N, C, H, W)`` (PyTorch's layout, l.1048)."""
    return x.permute(0, 3, 1, 2)


@dataclass
class TensorBatchesConfig(RecipeConfig):
    batch_size: int = 32
    seq_len: int = 64
    embed_dim: int = 16
    data_root: str | None = None
    seed: int = 0


@register_recipe("ch01-tensor-batches", config=TensorBatchesConfig)
def tensor_batches(cfg: TensorBatchesConfig) -> dict:
    """§1.5 image- and sequence-batch manipulation on real MNIST and Tiny Shakespeare batches."""
    from ..data import load_dataset

    torch.manual_seed(cfg.seed)
    x, y = _mnist_batch(cfg.data_root, cfg.batch_size)  # (N, 1, 28, 28)
    flat = x.reshape(len(x), -1)  # (N, 784): flatten 28x28 -> 784 (l.550)
    rgb = x.expand(-1, 3, -1, -1)  # a 3-channel batch (N, 3, 28, 28)
    nhwc = nchw_to_nhwc(rgb)  # (N, 28, 28, 3), the book's N x H x W x C
    mean = nhwc.mean(dim=(0, 1, 2))  # per-channel statistics, shape (3,)
    std = nhwc.std(dim=(0, 1, 2))
    normalised = (nhwc - mean) / std  # broadcasting over N, H, W (l.852)
    crops = x[:, :, 4:24, 4:24]  # slicing: a centred 20x20 crop of every image
    # §1.5.1 worked examples (l.997–1007, 1075–1087)
    img = torch.arange(1, 17.0).reshape(1, 1, 4, 4)
    edge = torch.tensor([[1.0, 0, -1]] * 3).reshape(1, 1, 3, 3)
    pool_x = torch.tensor([[1.0, 3, 2, 4], [5, 6, 8, 7], [9, 11, 10, 12], [13, 15, 14, 16]]).reshape(1, 1, 4, 4)
    edges = F.conv2d(x, edge, padding=1)  # the same vertical-edge filter on real digits

    # sequence batch: characters -> ids (N, T) -> one-hot (N, T, V) -> embeddings (N, T, d)
    text = load_dataset("tinyshakespeare", root=cfg.data_root, split="val")
    vocab = sorted(set(text))
    stoi = {c: i for i, c in enumerate(vocab)}
    starts = torch.randint(0, len(text) - cfg.seq_len - 1, (cfg.batch_size,))
    ids = torch.tensor([[stoi[c] for c in text[s:s + cfg.seq_len]] for s in starts.tolist()])  # (N, T)
    one_hot = F.one_hot(ids, len(vocab)).float()  # (N, T, V)
    table = torch.randn(len(vocab), cfg.embed_dim)
    emb = one_hot @ table  # (N, T, d): the embedding lookup as a matrix product
    time_major = emb.transpose(0, 1)  # (T, N, d)
    result = {
        "image_batch": list(x.shape), "flattened": list(flat.shape), "nhwc": list(nhwc.shape),
        "channel_mean_after_norm": normalised.mean(dim=(0, 1, 2)).abs().max().item(),
        "channel_std_after_norm": normalised.std(dim=(0, 1, 2)).tolist(),
        "nchw_roundtrip_exact": bool(torch.equal(nhwc_to_nchw(nhwc), rgb)),
        "crop": list(crops.shape), "edge_map": list(edges.shape),
        "book_conv_4x4": F.conv2d(img, edge).squeeze().tolist(),
        "book_max_pool": F.max_pool2d(pool_x, 2).squeeze().tolist(),
        "book_avg_pool": F.avg_pool2d(pool_x, 2).squeeze().tolist(),
        "labels": y.tolist()[:8],
        "sequence_ids": list(ids.shape), "one_hot": list(one_hot.shape), "embedded": list(emb.shape),
        "time_major": list(time_major.shape),
        "lookup_equals_index": bool(torch.allclose(emb, table[ids])),
    }
    if cfg.out_dir:
        import matplotlib.pyplot as plt

        from ..viz.tensor import slice_heatmaps

        Path(cfg.out_dir).mkdir(parents=True, exist_ok=True)
        fig = slice_heatmaps(torch.cat([x[:4, 0], edges[:4, 0]]), mode=0, cmap="gray", shared_scale=False)
        fig.savefig(Path(cfg.out_dir) / "digits_and_edges.png", dpi=80)
        plt.close(fig)
        result["figure"] = str(Path(cfg.out_dir) / "digits_and_edges.png")
    return save_result(cfg, result)


# ---------------------------------------------------------------------------------------------
# §2.7 tensor forms


def mlp_tensor_form(x: torch.Tensor, weights: list[torch.Tensor], biases: list[torch.Tensor]) -> torch.Tensor:
    """:math:`H^{(l)}=\\phi(H^{(l-1)}W^{(l)}+b^{(l)})` with the book's ``W (d_in, d_out)`` layout
    (l.1692, 2276); ReLU on hidden layers, linear output (l.2280). ``x (N, d)`` -> ``(N, k)``."""
    h = x
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        h = contract(h, w, ([1], [0])) + b  # (N, d_out); b broadcasts over rows
        if i < len(weights) - 1:
            h = torch.relu(h)
    return h


def conv2d_tensor_form(x: torch.Tensor, kernel: torch.Tensor, bias: torch.Tensor | None = None,
                       padding: int = 0) -> torch.Tensor:
    """Multi-channel convolution as a tensor contraction (l.1644–1654, 1708–1722):

    .. math:: \\mathcal Y_{n,f,i,j}=\\sum_{c,m,m'}\\mathcal X_{n,c,i+m,j+m'}\\,\\mathcal K_{f,c,m,m'}

    ``x (N, C, H, W)``, ``kernel (F, C, kH, kW)`` -> ``(N, F, H', W')``, stride 1. The patches are
    a strided view (no copy) contracted with the kernel over ``(c, m, m')``.
    """
    if padding:
        x = F.pad(x, (padding,) * 4)
    kh, kw = kernel.shape[-2:]
    patches = x.unfold(2, kh, 1).unfold(3, kw, 1)  # (N, C, H', W', kH, kW)
    y = contract(patches, kernel, ([1, 4, 5], [1, 2, 3]))  # (N, H', W', F)
    y = y.permute(0, 3, 1, 2)
    return y if bias is None else y + bias.view(1, -1, 1, 1)


@dataclass
class TensorNetworksConfig(RecipeConfig):
    batch_size: int = 64
    data_root: str | None = None
    seed: int = 0


@register_recipe("ch02-tensor-networks", config=TensorNetworksConfig)
def tensor_networks(cfg: TensorNetworksConfig) -> dict:
    """§2.7: tensor-form MLP and CNN equal torch.nn (forward and backward) on a real MNIST batch."""
    torch.manual_seed(cfg.seed)
    x, y = _mnist_batch(cfg.data_root, cfg.batch_size)
    x = x.double()

    mlp = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)).double()
    linears = [m for m in mlp if isinstance(m, nn.Linear)]
    ref = mlp(x.flatten(1))
    ours = mlp_tensor_form(x.flatten(1), [m.weight.T for m in linears], [m.bias for m in linears])
    g = torch.randn_like(ref)
    grads_ref = torch.autograd.grad(ref, list(mlp.parameters()), g)
    grads_ours = torch.autograd.grad(ours, list(mlp.parameters()), g)

    conv = nn.Conv2d(1, 8, 3, padding=1).double()
    cnn_ref = F.max_pool2d(torch.relu(conv(x)), 2)
    cnn_ours = F.max_pool2d(torch.relu(conv2d_tensor_form(x, conv.weight, conv.bias, padding=1)), 2)
    gc = torch.randn_like(cnn_ref)
    cgrads_ref = torch.autograd.grad(cnn_ref, list(conv.parameters()), gc)
    cgrads_ours = torch.autograd.grad(cnn_ours, list(conv.parameters()), gc)

    def max_diff(a, b) -> float:
        return max(float((u - v).abs().max()) for u, v in zip(a, b, strict=True))

    def n_params(m: nn.Module) -> int:
        return sum(p.numel() for p in m.parameters())

    result = {
        "mlp_forward_max_abs_diff": float((ours - ref).detach().abs().max()),
        "mlp_grad_max_abs_diff": max_diff(grads_ours, grads_ref),
        "cnn_forward_max_abs_diff": float((cnn_ours - cnn_ref).detach().abs().max()),
        "cnn_grad_max_abs_diff": max_diff(cgrads_ours, cgrads_ref),
        "cnn_output_shape": list(cnn_ours.shape),
        # parameter counts of the chapter's networks (K2, K3, K4, L21, L22)
        "params_mnist_mlp_784_128_64_10": n_params(mlp),
        "params_simple_nn_2_3_1": n_params(nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))),
        "params_keras_4_3_2": n_params(nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))),
        "params_conv2d_3_to_16_k3": n_params(nn.Conv2d(3, 16, 3)),
        # Keras' LSTM has one bias per gate; torch has two (b_ih and b_hh): 1,600 + 4*16 = 1,664
        "params_lstm_8_to_16_keras": n_params(nn.LSTM(8, 16)) - 4 * 16,
        "labels": y.tolist()[:8],
    }
    return save_result(cfg, result)
