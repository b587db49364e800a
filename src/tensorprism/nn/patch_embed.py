"""Patch embedding (book §6.5, eq. at line 13934): ``z_0 = x_p E`` as one strided convolution.

.. math:: z_0 = x_p E + b, \\qquad x_p = \\mathrm{patchify}(x) \\in \\mathbb R^{L \\times P^2 C},
          \\; E \\in \\mathbb R^{P^2 C \\times D}

A linear map of non-overlapping patches *is* ``Conv2d(C, D, kernel_size=P, stride=P)``: its weight
``(D, C, P, P)`` flattened is ``E^T`` in the ``"chw"`` patch layout of
:func:`tensorprism.functional.patches.patchify`. The convolution (the fast path, oneDNN/cuDNN) and
:meth:`PatchEmbed.reference` (the equation) are tested equal. The book's listing hard-codes
3 channels (``nn.Linear(P*P*3, D)``); here ``in_chans`` is any count.
"""

from __future__ import annotations

from torch import Tensor, nn

from ..errors import ShapeError
from ..functional.patches import _pair, patch_grid, patchify

__all__ = ["PatchEmbed"]


class PatchEmbed(nn.Module):
    """Images ``(N, C, H, W)`` → patch tokens ``(N, L, D)`` (``flatten=True``) or a map ``(N, D, H/P, W/P)``.

    Args:
        img_size: the input resolution the model is built for (``None``: any multiple of ``P``).
        patch_size: ``P`` (or ``(P_h, P_w)``).
        in_chans: ``C``.
        embed_dim: ``D``.
        norm: apply a LayerNorm to the tokens (Swin's patch embedding has one, ViT's has not).
        strict_img_size: refuse inputs of another resolution than ``img_size`` (a ViT's position
            table is tied to it); ``False`` accepts any multiple of ``P``.
    """

    def __init__(self, img_size: int | tuple[int, int] | None = 224, patch_size: int | tuple[int, int] = 16,
                 in_chans: int = 3, embed_dim: int = 768, norm: bool = False, flatten: bool = True,
                 bias: bool = True, strict_img_size: bool = True, layer_norm_eps: float = 1e-5):
        super().__init__()
        self.patch_size = _pair(patch_size, "patch_size")
        self.img_size = None if img_size is None else _pair(img_size, "img_size")
        self.grid_size = None if self.img_size is None else patch_grid(self.img_size, self.patch_size, "img_size")
        self.num_patches = None if self.grid_size is None else self.grid_size[0] * self.grid_size[1]
        self.in_chans, self.embed_dim, self.flatten = in_chans, embed_dim, flatten
        self.strict_img_size = strict_img_size and img_size is not None
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=self.patch_size, stride=self.patch_size, bias=bias)
        self.norm = nn.LayerNorm(embed_dim, eps=layer_norm_eps) if norm else nn.Identity()

    def check_input(self, x: Tensor) -> tuple[int, int]:
        """The patch grid of ``x``; :class:`ShapeError` naming the expected shape otherwise."""
        if x.dim() != 4 or x.shape[1] != self.in_chans:
            hint = (" (it looks channels-last: permute to (N, C, H, W))"
                    if x.dim() == 4 and x.shape[-1] == self.in_chans else "")
            size = "H, W" if self.img_size is None else f"{self.img_size[0]}, {self.img_size[1]}"
            raise ShapeError(f"patch embedding expects images (N, {self.in_chans}, {size}), got "
                             f"{tuple(x.shape)}{hint}")
        H, W = x.shape[-2:]
        if self.strict_img_size and (H, W) != self.img_size:
            raise ShapeError(
                f"images of size {H}×{W}, but the model was built for {self.img_size[0]}×{self.img_size[1]} "
                f"(expected (N, {self.in_chans}, {self.img_size[0]}, {self.img_size[1]})): resize the images, or "
                "change the model's resolution (ViT: set_image_size / dynamic_img_size=True)")
        return patch_grid((H, W), self.patch_size)

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x)
        x = self.proj(x)  # (N, D, H/P, W/P)
        if self.flatten:
            return self.norm(x.flatten(2).transpose(1, 2))  # (N, L, D)
        if isinstance(self.norm, nn.LayerNorm):
            x = self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return x

    def reference(self, x: Tensor) -> Tensor:
        """The equation: ``patchify(x) @ E + b`` with ``E = proj.weight.flatten(1).T``; ``(N, L, D)``."""
        self.check_input(x)
        E = self.proj.weight.flatten(1).t()  # (C·P·P, D)
        z = patchify(x, self.patch_size, "chw") @ E
        if self.proj.bias is not None:
            z = z + self.proj.bias
        return self.norm(z)

    def extra_repr(self) -> str:
        return (f"img_size={self.img_size}, patch_size={self.patch_size}, in_chans={self.in_chans}, "
                f"embed_dim={self.embed_dim}")
