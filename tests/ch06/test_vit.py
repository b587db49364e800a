"""Patch extraction, patch embedding, ViT and DeiT (book §6.5; catalogue §1.6 VT1-VT2, L6-9)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tensorprism.errors import ConfigError, ShapeError
from tensorprism.functional.patches import patchify, patchify_unfold, unpatchify
from tensorprism.models import count_parameters, create_model
from tensorprism.models.vit.vit import ViT, ViTConfig
from tensorprism.nn.patch_embed import PatchEmbed
from tensorprism.nn.positional import resample_grid_positions, sincos_2d_table


def _meta_count(name: str, **kw) -> int:
    with torch.device("meta"):
        return count_parameters(create_model(name, **kw))


# ------------------------------------------------------------------------------------ patches
def test_book_exercise_14_8x8_image_with_2x2_patches_gives_16x4():
    """Exercise 6.14 (book lines 15739-15744): values 1..64 in an 8×8 image, 2×2 patches."""
    x = torch.arange(1, 65, dtype=torch.float32).view(1, 1, 8, 8)
    p = patchify(x, 2)[0]
    assert p.shape == (16, 4)
    assert p[0].tolist() == [1, 2, 9, 10]  # the top-left 2×2 square
    assert p[1].tolist() == [3, 4, 11, 12]  # its right neighbour (raster order over the grid)
    assert p[4].tolist() == [17, 18, 25, 26]  # first patch of the second patch row


def test_book_exercise_15_6x6x3_image_gives_9_patches_of_12_then_9x6_after_embedding():
    """Exercise 6.15 (15745-15750): 9 patches of 12 values; the book says the embedded result is
    9×12, but with W ∈ R^{12×6} it is 9×6 (catalogue §4, 6.15)."""
    x = torch.randn(1, 3, 6, 6)
    p = patchify(x, 2, layout="hwc")[0]
    assert p.shape == (9, 12)
    assert torch.equal(p[0], x[0, :, :2, :2].permute(1, 2, 0).reshape(12))  # (row, col, channel)
    W = torch.randn(12, 6)
    assert (p @ W).shape == (9, 6)


def test_erratum_plain_reshape_does_not_cut_patches():
    """Book L6-9 (catalogue §2, L6-9 (a); lines 13960-13962) cuts patches by ``x.reshape(B, N, P*P*C)``
    on (B, C, H, W): its first "patch" is the first P²C values of channel 0 (parts of several image
    rows), not a P×P square of all channels. The correct patch is a block of the 6-D view."""
    x = torch.randn(2, 3, 8, 8)
    book = x.reshape(2, 16, 12)
    right = patchify(x, 2)
    assert not torch.allclose(book, right)
    assert torch.equal(right[0, 0], x[0, :, :2, :2].reshape(12))
    assert torch.equal(book[0, 0], x[0, 0].reshape(-1)[:12])  # 12 pixels of channel 0 only


@pytest.mark.parametrize("C,H,W,P", [(1, 8, 8, 2), (3, 12, 20, 4), (5, 6, 9, 3), (2, 16, 8, (4, 2))])
def test_patchify_equals_unfold_and_inverts(C, H, W, P):
    x = torch.randn(2, C, H, W)
    p = patchify(x, P)
    assert torch.equal(p, patchify_unfold(x, P))
    for layout in ("chw", "hwc"):
        assert torch.equal(unpatchify(patchify(x, P, layout), P, (H, W), C, layout), x)


def test_patch_size_that_does_not_divide_the_image_is_a_clear_error():
    with pytest.raises(ShapeError, match=r"10×12 is not a multiple of the 4×4 patch.*e\.g\. 8×12"):
        patchify(torch.randn(1, 3, 10, 12), 4)
    with pytest.raises(ShapeError, match=r"\(N, C, H, W\)"):
        patchify(torch.randn(3, 8, 8), 2)


@pytest.mark.parametrize("C,size,P", [(3, (32, 48), 8), (1, (28, 28), 7), (4, (16, 16), 4)])
def test_patch_embed_conv_fast_path_equals_the_equation(C, size, P):
    torch.manual_seed(0)
    pe = PatchEmbed(size, P, C, 24)
    x = torch.randn(2, C, *size)
    torch.testing.assert_close(pe(x), pe.reference(x), rtol=1e-5, atol=1e-5)
    assert pe(x).shape == (2, pe.num_patches, 24)


def test_patch_embed_names_the_expected_shape():
    pe = PatchEmbed(32, 4, 3, 16)
    with pytest.raises(ShapeError, match=r"\(N, 3, 32, 32\).*channels-last"):
        pe(torch.randn(2, 32, 32, 3))
    with pytest.raises(ShapeError, match=r"16×16, but the model was built for 32×32"):
        pe(torch.randn(2, 3, 16, 16))


# ------------------------------------------------------------------------------------ ViT
def test_canonical_parameter_counts_on_the_meta_device():
    assert _meta_count("vit-base-patch16") == 86_567_656  # timm vit_base_patch16_224
    assert _meta_count("vit-tiny-patch16") == 5_717_416
    assert _meta_count("vit-large-patch16") == 304_326_632
    assert _meta_count("deit-tiny") == 5_910_800  # timm deit_tiny_distilled_patch16_224


def _small(**kw) -> ViT:
    cfg = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=5)
    return create_model("vit-tiny-patch16", **{**cfg, **kw}).eval()


def test_vit_output_shapes_and_global_pool_choices():
    x = torch.randn(2, 3, 32, 32)
    for pool, cls in (("token", True), ("avg", True), ("avg", False)):
        m = _small(global_pool=pool, class_token=cls)
        assert m.forward_features(x).shape == (2, 16 + int(cls), 32)
        assert m(x).shape == (2, 5)
    with pytest.raises(ConfigError, match="class_token=True or global_pool='avg'"):
        _small(global_pool="token", class_token=False)


def test_vit_bad_input_names_the_expected_shape():
    m = _small()
    with pytest.raises(ShapeError, match=r"expects images \(N, 3, 32, 32\)"):
        m(torch.randn(2, 1, 32, 32))
    with pytest.raises(ShapeError, match=r"built for 32×32"):
        m(torch.randn(2, 3, 64, 64))
    with pytest.raises(ShapeError, match="not a multiple of the 8×8 patch"):
        _small(dynamic_img_size=True)(torch.randn(1, 3, 36, 32))


def test_positions_resample_to_a_new_image_size():
    torch.manual_seed(0)
    m = _small()
    x = torch.randn(2, 3, 32, 32)
    same = resample_grid_positions(m.pos_embed, (4, 4), (4, 4), 1)
    assert torch.equal(same, m.pos_embed)
    m.set_image_size(48)  # 6×6 grid, positions resampled bicubically, [CLS] position kept
    assert m.pos_embed.shape == (1, 37, 32) and m(torch.randn(2, 3, 48, 48)).shape == (2, 5)
    d = _small(dynamic_img_size=True)
    d.load_state_dict(_small().state_dict())
    assert d(torch.randn(2, 3, 48, 64)).shape == (2, 5)
    # resampling to the same grid is the identity: the dynamic model equals the fixed one at 32×32
    fixed = _small()
    d.load_state_dict(fixed.state_dict())
    torch.testing.assert_close(d(x), fixed(x))


def test_sincos_positions_are_fixed_2d_tables():
    t = sincos_2d_table(3, 4, 16)
    assert t.shape == (12, 16)
    assert torch.equal(t[0, 8:], t[4, 8:])  # same column -> same column half
    assert torch.equal(t[0, :8], t[1, :8])  # same row -> same row half
    m = _small(pos_embed="sincos")
    assert m.pos_embed is None and m(torch.randn(1, 3, 32, 32)).shape == (1, 5)
    with pytest.raises(ShapeError, match="divisible by 4"):
        sincos_2d_table(2, 2, 6)


def test_encoding_a_subset_of_patches_equals_masking_the_others():
    """``keep`` (the MAE encoder): with one block and no attention between the removed tokens and the
    kept ones, encoding the subset equals full attention with the other keys masked out."""
    torch.manual_seed(0)
    m = _small(depth=1)
    x = torch.randn(2, 3, 32, 32)
    keep = torch.stack([torch.randperm(16)[:6] for _ in range(2)])
    sub = m.forward_features(x, keep=keep)
    assert sub.shape == (2, 7, 32)
    tokens = m.embed(x)  # all patches
    visible = torch.zeros(2, 17, dtype=torch.bool)
    visible[:, 0] = True
    visible.scatter_(1, keep + 1, True)
    full, _ = m.blocks(tokens, key_padding_mask=visible)
    full = m.norm(full)
    torch.testing.assert_close(sub[:, 1:], full.gather(1, (keep + 1)[..., None].expand(-1, -1, 32)), rtol=1e-5,
                               atol=1e-5)
    with pytest.raises(ShapeError, match=r"\[0, 16\)"):
        m.forward_features(x, keep=keep + 16)


def test_stochastic_depth_rises_linearly_and_is_off_in_eval():
    m = _small(depth=3, drop_path_rate=0.2)
    rates = [layer.drop_path.p if hasattr(layer.drop_path, "p") else 0.0 for layer in m.blocks.layers]
    assert rates == pytest.approx([0.0, 0.1, 0.2])
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(m(x), m(x))


def test_qkv_bias_false_keeps_the_output_projection_bias():
    m = _small(qkv_bias=False)
    attn = m.blocks.layers[0].self_attn
    assert attn.in_proj.bias is None and attn.out_proj.bias is not None
    assert m(torch.randn(1, 3, 32, 32)).shape == (1, 5)


def test_deit_distillation_token_and_heads():
    m = _small(distilled=True)
    x = torch.randn(2, 3, 32, 32)
    cls, dist = m.forward_distill(x)
    assert cls.shape == dist.shape == (2, 5)
    torch.testing.assert_close(m(x), (cls + dist) / 2)  # DeiT's inference: average of the heads
    assert m.forward_features(x).shape == (2, 18, 32)  # [CLS], [DIST], 16 patches
    with pytest.raises(ConfigError, match="distilled=True"):
        _small().forward_distill(x)


def test_vit_attention_weights_per_block():
    m = _small()
    tokens, weights = m.forward_attention(torch.randn(2, 3, 32, 32))
    assert len(weights) == 2 and weights[0].shape == (2, 2, 17, 17)
    torch.testing.assert_close(weights[0].sum(-1), torch.ones(2, 2, 17))


def test_vit_config_is_validated():
    with pytest.raises(ConfigError, match="global_pool"):
        create_model("vit-cifar", global_pool="max")
    with pytest.raises(ConfigError, match="not divisible"):
        ViT(ViTConfig(embed_dim=30, num_heads=4))


def test_channel_count_is_a_setting():
    m = _small(in_chans=1)
    assert m(torch.randn(2, 1, 32, 32)).shape == (2, 5)
    assert m.default_cfg["input_size"] == (1, 32, 32)


def test_vit_trains_one_step():
    torch.manual_seed(0)
    m = _small().train()
    opt = torch.optim.AdamW(m.parameters(), 1e-3)
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 5, (4,))
    loss0 = F.cross_entropy(m(x), y)
    for _ in range(3):
        opt.zero_grad()
        loss = F.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
    assert loss.item() < loss0.item()


# ------------------------------------------------------------------------------------ DeiT losses
def test_deit_hard_distillation_uses_the_teachers_argmax():
    from tensorprism.losses.distillation import deit_distillation_loss

    torch.manual_seed(0)
    cls, dist, teacher = torch.randn(3, 6, 4).unbind(0)
    y = torch.randint(0, 4, (6,))
    got = deit_distillation_loss(cls, dist, y, teacher, kind="hard", alpha=0.5)
    want = 0.5 * F.cross_entropy(cls, y) + 0.5 * F.cross_entropy(dist, teacher.argmax(-1))
    torch.testing.assert_close(got, want)
    soft = deit_distillation_loss(cls, dist, y, teacher, kind="soft", alpha=0.3, temperature=2.0)
    kl = F.kl_div(F.log_softmax(dist / 2, -1), F.softmax(teacher / 2, -1), reduction="batchmean") * 4
    torch.testing.assert_close(soft, 0.7 * F.cross_entropy(cls, y) + 0.3 * kl)
    mixed = torch.softmax(torch.randn(6, 4), -1)  # mixup targets are probabilities
    assert deit_distillation_loss(cls, dist, mixed, teacher).dim() == 0


def test_deit_task_trains_the_distillation_head_towards_the_teacher():
    from tensorprism.train.tasks.deit import DeiTDistillationTask

    torch.manual_seed(0)
    teacher = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 5))
    task = DeiTDistillationTask(teacher, kind="hard", alpha=1.0)
    student = _small(distilled=True).train()
    x = torch.randn(4, 3, 32, 32)
    loss = task.training_step(student, (x, torch.randint(0, 5, (4,))))["loss"]
    loss.backward()
    assert student.head_dist.weight.grad.abs().sum() > 0
    assert student.head.weight.grad is None or student.head.weight.grad.abs().sum() == 0  # alpha=1: no label term
    with pytest.raises(ConfigError, match="kind"):
        DeiTDistillationTask(teacher, kind="medium")


# ------------------------------------------------------------------------------------ attention maps
def test_patch_attention_and_rollout_over_the_patch_grid(tmp_path):
    from tensorprism.explain.attention import (
        attention_maps,
        patch_attention,
        plot_image_attention,
        rollout_grid,
    )

    torch.manual_seed(0)
    m = _small(depth=1)
    x = torch.rand(2, 3, 32, 32)
    maps = attention_maps(m, x)
    heads = patch_attention(maps, m)
    assert heads.shape == (2, 2, 4, 4)
    roll = rollout_grid(maps, m)
    torch.testing.assert_close(roll.sum((-1, -2)), torch.ones(2))
    # one block: rollout row of [CLS] = 0.5 mean_h A + 0.5 e_CLS, so on the patches it is the head mean
    mean = heads.mean(1)
    torch.testing.assert_close(roll, mean / mean.sum((-1, -2), keepdim=True))
    with pytest.raises(ShapeError, match="5×5 grid"):
        patch_attention(maps, (5, 5))
    fig = plot_image_attention(m, x)
    fig.savefig(tmp_path / "attn.png")
    assert len(fig.axes) == 2 * (2 + 2)
