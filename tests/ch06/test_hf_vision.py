"""Hugging Face ViT and Swin weights load into our models and compute the same function (≤ 1e-5, fp32)
on randomly initialised models of several configurations."""

from __future__ import annotations

import pytest
import torch

from tensorprism.errors import CheckpointError, ConfigError
from tensorprism.interop.hf_vision import (
    load_hf_swin,
    load_hf_vit,
    swin_config_from_hf,
    verify_image_probe,
    vit_state_from_hf,
)

transformers = pytest.importorskip("transformers")


def _perturbed(model):
    """Random biases, norms and tables too (HF's init leaves them 0/1, which would hide mix-ups)."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    return model.eval()


def _images(model, n=2):
    C, H, W = model.input_size
    return torch.randn(n, C, H, W, generator=torch.Generator().manual_seed(3))


VIT_CONFIGS = [  # (config, class, model kwargs)
    (dict(image_size=(32, 48), patch_size=8, hidden_size=24, num_hidden_layers=2, num_attention_heads=3,
          intermediate_size=40), "ViTModel", {}),
    (dict(image_size=40, patch_size=10, hidden_size=16, num_hidden_layers=3, num_attention_heads=2,
          intermediate_size=64, qkv_bias=False, layer_norm_eps=1e-6), "ViTModel", {"add_pooling_layer": False}),
    (dict(image_size=28, patch_size=7, num_channels=1, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
          intermediate_size=48, num_labels=7), "ViTForImageClassification", {}),
    pytest.param(dict(image_size=32, patch_size=4, hidden_size=16, num_hidden_layers=2, num_attention_heads=1,
                      intermediate_size=16, pooler_output_size=8, num_labels=3), "ViTModel", {}, marks=pytest.mark.slow),
]


@pytest.mark.parametrize("cfg,cls,kw", VIT_CONFIGS)
def test_vit_parity_with_transformers(cfg, cls, kw):
    torch.manual_seed(0)
    hf = _perturbed(getattr(transformers, cls)(transformers.ViTConfig(**cfg), **kw))
    ours = load_hf_vit(hf).eval()
    x = _images(ours)
    with torch.no_grad():
        r = hf(pixel_values=x, output_hidden_states=True)
        feats = ours.forward_features(x)
        if cls == "ViTModel":
            torch.testing.assert_close(feats, r.last_hidden_state, rtol=0, atol=1e-5)
            if r.pooler_output is not None:
                torch.testing.assert_close(ours.forward_head(feats, pre_logits=True), r.pooler_output, rtol=0,
                                           atol=1e-5)
                assert ours.num_features == cfg.get("pooler_output_size", cfg["hidden_size"])
            else:
                assert ours.config.representation_size is None
        else:
            torch.testing.assert_close(ours(x), r.logits, rtol=0, atol=1e-5)
            assert ours.num_classes == cfg["num_labels"]


SWIN_CONFIGS = [
    (dict(image_size=64, patch_size=2, embed_dim=16, depths=[2, 3, 2], num_heads=[2, 4, 8], window_size=4),
     "SwinModel"),
    (dict(image_size=56, patch_size=4, embed_dim=12, depths=[2, 2], num_heads=[3, 6], window_size=7, num_labels=4),
     "SwinForImageClassification"),
    (dict(image_size=32, patch_size=4, embed_dim=8, depths=[1, 2, 2], num_heads=[1, 2, 2], window_size=2,
          qkv_bias=False, mlp_ratio=2.0, layer_norm_eps=1e-6), "SwinModel"),
    pytest.param(dict(image_size=(32, 64), patch_size=4, embed_dim=16, depths=[2, 2], num_heads=[2, 2], window_size=4,
                      num_labels=5), "SwinForImageClassification", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("cfg,cls", SWIN_CONFIGS)
def test_swin_parity_with_transformers(cfg, cls):
    torch.manual_seed(0)
    hf = _perturbed(getattr(transformers, cls)(transformers.SwinConfig(**cfg)))
    ours = load_hf_swin(hf).eval()
    x = _images(ours)
    with torch.no_grad():
        r = hf(pixel_values=x)
        if cls == "SwinModel":
            torch.testing.assert_close(ours.forward_features(x), r.last_hidden_state, rtol=0, atol=1e-5)
            torch.testing.assert_close(ours.forward_head(ours.forward_features(x), pre_logits=True),
                                       r.pooler_output, rtol=0, atol=1e-5)
        else:
            torch.testing.assert_close(ours(x), r.logits, rtol=0, atol=1e-5)


def _small_vit():
    c = transformers.ViTConfig(image_size=16, patch_size=8, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                               intermediate_size=16)
    return transformers.ViTModel(c).eval()


def test_unmapped_tensors_are_named():
    sd = dict(_small_vit().state_dict())
    sd["embeddings.extra.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match="embeddings.extra.weight"):
        vit_state_from_hf(sd, 1)


def test_older_transformers_names_are_read():
    """Checkpoints written by transformers < 5 name the projections attention.attention.query etc."""
    sd = _small_vit().state_dict()
    old = {}
    for k, v in sd.items():
        k = k.replace("layers.0.", "encoder.layer.0.").replace("attention.q_proj", "attention.attention.query")
        k = k.replace("attention.k_proj", "attention.attention.key").replace("attention.v_proj", "attention.attention.value")
        k = k.replace("attention.o_proj", "attention.output.dense").replace("mlp.fc1", "intermediate.dense")
        k = k.replace("mlp.fc2", "output.dense")
        old["vit." + k] = v
    new = vit_state_from_hf(sd, 1)
    assert {k: v.shape for k, v in vit_state_from_hf(old, 1).items()} == {k: v.shape for k, v in new.items()}


def test_unrepresentable_settings_are_refused():
    with pytest.raises(ConfigError, match="use_absolute_embeddings"):
        swin_config_from_hf(transformers.SwinConfig(use_absolute_embeddings=True))
    with pytest.raises(ConfigError, match="smaller than window_size"):
        swin_config_from_hf(transformers.SwinConfig(image_size=32, patch_size=4, depths=[1, 1], num_heads=[1, 1],
                                                    window_size=7))
    with pytest.raises(ConfigError, match="load_hf_vit loads ViTModel"):
        load_hf_vit(transformers.SwinModel(transformers.SwinConfig(image_size=32, patch_size=4, window_size=2,
                                                                   depths=[1], num_heads=[1], embed_dim=8)))


def test_probe_catches_a_wrong_conversion():
    hf = _perturbed(_small_vit())
    ours = load_hf_vit(hf)
    with torch.no_grad():
        ours.blocks.layers[0].ff.linear1.bias.add_(0.1)
    with pytest.raises(CheckpointError, match="differs from transformers'"):
        verify_image_probe(hf, ours, "ViT")
