"""MAE with the ViT encoder (the masked-image task's ViT variant): per-sample random masking at the
asked ratio, an encoder that never sees the hidden patches, a loss on the hidden patches only
(with MAE's normalised-pixel option), and a checkpointed run that resumes exactly."""

from __future__ import annotations

import math

import pytest
import torch
from sklearn.datasets import load_digits
from torch.utils.data import TensorDataset

from tensorprism.errors import ConfigError
from tensorprism.models import create_model
from tensorprism.models.mae import MAE, mae_loss, random_masking
from tensorprism.train import Trainer
from tensorprism.train.callbacks import Callback
from tensorprism.train.tasks import create_task
from tensorprism.train.tasks.ssl import build_ssl_net

QUIET = {"progress": False, "tensorboard": False, "plots": False, "device": "cpu"}


@pytest.fixture(scope="module")
def digits16():
    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0  # real 8x8 digits in [0, 1]
    return torch.nn.functional.interpolate(x[:64], size=16, mode="bilinear", align_corners=False), torch.tensor(d.target[:64])


def _mae(seed=0):
    torch.manual_seed(seed)
    vit = create_model("vit-cifar", in_chans=1, img_size=16, patch_size=4, depth=1, embed_dim=16, num_heads=2,
                       drop_path_rate=0.0)
    return MAE(vit, decoder_dim=16, decoder_depth=1, decoder_heads=2)


def test_random_masking_hides_75_percent_per_image_independently():
    g = torch.Generator().manual_seed(0)
    keep, mask = random_masking(6, 64, 0.75, g)
    assert keep.shape == (6, 16) and mask.shape == (6, 64)
    assert mask.sum(1).tolist() == [48] * 6  # exactly 75 % of each image's patches
    assert (keep.diff(1) > 0).all()  # ascending, no repeats
    assert not mask.gather(1, keep).any()  # the kept patches are exactly the visible ones
    assert len({tuple(r.tolist()) for r in keep}) == 6  # a different mask for every image
    with pytest.raises(ConfigError, match="mask_ratio"):
        random_masking(1, 4, 1.0)


def test_the_encoder_never_sees_the_hidden_patches(digits16):
    m = _mae().eval()
    x = digits16[0][:4]
    keep, mask = random_masking(4, m.num_patches, 0.75, torch.Generator().manual_seed(1))
    lengths = []
    hook = m.encoder.blocks.register_forward_hook(lambda mod, inp, out: lengths.append(inp[0].shape[1]))
    with torch.no_grad():
        latent = m.forward_encoder(x, keep)
        hidden_pixels = m.unpatchify(mask[..., None].float().expand(-1, -1, 16))  # (N, 1, H, W) 1 on hidden
        changed = m.forward_encoder(x + 5.0 * hidden_pixels * torch.randn_like(x), keep)
    hook.remove()
    assert lengths[0] == 1 + 4  # [CLS] + the 4 visible patches of 16, not all 16
    torch.testing.assert_close(latent, changed)  # hidden pixels cannot reach the encoder
    assert m(x, keep).shape == (4, 16, 16)


def test_loss_is_only_on_the_hidden_patches_and_norm_pix():
    g = torch.Generator().manual_seed(2)
    pred, target = torch.randn(3, 8, 12, generator=g), torch.randn(3, 8, 12, generator=g)
    _, mask = random_masking(3, 8, 0.75, g)
    loss = mae_loss(pred, target, mask)
    torch.testing.assert_close(loss, ((pred - target) ** 2)[mask].mean())
    visible_changed = torch.where(mask[..., None], pred, pred + 100.0)
    torch.testing.assert_close(mae_loss(visible_changed, target, mask), loss)  # visible errors cost nothing
    normed = (target - target.mean(-1, keepdim=True)) / (target.var(-1, keepdim=True) + 1e-6).sqrt()
    torch.testing.assert_close(mae_loss(pred, target, mask, norm_pix=True), ((pred - normed) ** 2)[mask].mean())


def test_mae_refuses_a_conv_encoder():
    with pytest.raises(ConfigError, match="ViT"):
        MAE(create_model("resnet20-cifar", in_chans=1, layers=(1, 1, 1)))


class Interrupt(Exception):
    pass


class StopAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_train_batch_end(self, trainer, outputs):
        if trainer.global_step == self.step:
            raise Interrupt


def _trainer(out, data, callbacks=None):
    x, y = data
    return Trainer(_mae(), create_task("masked-image", mask_ratio=0.75, norm_pix_loss=True),
                   train_data=TensorDataset(x[:32], y[:32]), val_data=TensorDataset(x[48:56], y[48:56]), epochs=1,
                   batch_size=8, lr=1e-3, optimizer="adam", seed=5, out_dir=str(out), checkpoint_every_steps=1,
                   callbacks=callbacks, **QUIET)


def test_mae_task_trains_and_resumes_exactly(tmp_path, digits16):
    ref = _trainer(tmp_path / "ref", digits16).fit()
    assert math.isfinite(ref.final_metrics["val/loss"])
    with pytest.raises(Interrupt):
        _trainer(tmp_path / "cut", digits16, callbacks=[StopAt(2)]).fit()
    resumed = _trainer(tmp_path / "cut", digits16).fit(resume_from=tmp_path / "cut")
    a, b = ref.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert ref.global_step == resumed.global_step == 4
    recon = create_task("masked-image").predict_step(ref.model, (digits16[0][:2],))
    assert recon.shape == (2, 1, 16, 16)


def test_build_ssl_net_mae_wraps_a_vit():
    vit = create_model("vit-cifar", in_chans=1, img_size=16, depth=1, embed_dim=16, num_heads=2)
    net = build_ssl_net("mae", vit, proj_hidden=32)
    assert isinstance(net, MAE) and net.features(torch.rand(2, 1, 16, 16)).shape == (2, 16)
