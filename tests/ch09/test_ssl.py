"""Chapter 9 self-supervised learning: the losses against their loop references and the book's
exercises and errata, the view augmentations, and every SSL task training on real images with its
EMA / queue / prototype state resumed exactly after an interruption."""

from __future__ import annotations

import math

import pytest
import torch
from sklearn.datasets import load_digits
from torch.utils.data import TensorDataset

from tensorprism.data.augment import (
    GaussianBlur,
    MultiView,
    RandomResizedCrop,
    multi_crop,
    ssl_pipeline,
)
from tensorprism.errors import ConfigError, ShapeError
from tensorprism.functional import contrastive as ref
from tensorprism.losses.contrastive import (
    byol_loss,
    info_nce,
    nt_xent,
    nt_xent_pairs,
    sinkhorn_knopp,
    swav_loss,
)
from tensorprism.models import create_model
from tensorprism.models.ssl import SSLNet
from tensorprism.train import Trainer
from tensorprism.train.callbacks import Callback
from tensorprism.train.tasks import create_task
from tensorprism.train.tasks.ssl import build_ssl_net, rotate90

QUIET = {"progress": False, "tensorboard": False, "plots": False, "device": "cpu"}


# ------------------------------------------------------------------------------------------ losses
@pytest.mark.parametrize("n", [2, 3, 17])
def test_nt_xent_equals_the_loop_for_any_batch(n):
    g = torch.Generator().manual_seed(n)
    z1, z2 = torch.randn(n, 8, generator=g, dtype=torch.float64), torch.randn(n, 8, generator=g, dtype=torch.float64)
    partner = [i + n for i in range(n)] + list(range(n))
    for t in (0.07, 0.5):
        torch.testing.assert_close(nt_xent(z1, z2, t), ref.nt_xent_loop(torch.cat([z1, z2]), partner, t))


def test_info_nce_equals_the_loop_and_is_stable():
    g = torch.Generator().manual_seed(0)
    q, k, neg = (torch.randn(m, 16, generator=g, dtype=torch.float64) for m in (5, 5, 40))
    torch.testing.assert_close(info_nce(q, k, neg, 0.2), ref.info_nce_loop(q, k, neg, 0.2))
    # tiny temperature: logits of 1/0.001 = 1000 would overflow exp() in float32; logsumexp does not
    loss = info_nce(q.float() * 1e3, k.float(), neg.float(), temperature=1e-3)
    assert torch.isfinite(loss)
    in_batch = info_nce(q, k)  # the other rows' positives are the negatives
    qn, kn = q / q.norm(dim=1, keepdim=True), k / k.norm(dim=1, keepdim=True)
    by_hand = -torch.log_softmax(qn @ kn.T / 0.1, 1).diagonal().mean()
    torch.testing.assert_close(in_batch, by_hand)


def test_a_batch_of_one_is_a_clear_error():
    one = torch.randn(1, 8)
    with pytest.raises(ShapeError, match="at least 2"):
        nt_xent(one, one)
    with pytest.raises(ShapeError, match="at least 2"):
        info_nce(one, one)
    with pytest.raises(ConfigError, match="temperature"):
        nt_xent(torch.randn(4, 3), torch.randn(4, 3), temperature=0.0)
    info_nce(one, one, torch.randn(5, 8))  # a queue supplies the negatives: one query is fine


def test_exercise_9_3_nt_xent_with_explicit_pairs():
    """Ex. 9.3 (L22736): H (4x3), positive pairs (1,2) and (3,4); tau = 1 (the book gives none)."""
    h = torch.tensor([[0.1, 0.3, 0.7], [0.4, 0.6, 0.8], [0.5, 0.9, 0.2], [0.7, 0.5, 0.4]], dtype=torch.float64)
    partner = torch.tensor([1, 0, 3, 2])
    loss = nt_xent_pairs(h, partner, temperature=1.0)
    torch.testing.assert_close(loss, ref.nt_xent_loop(h, [1, 0, 3, 2], 1.0))
    hn = h / h.norm(dim=1, keepdim=True)
    s = hn @ hn.T
    by_hand = -sum(math.log(math.exp(s[i, j]) / sum(math.exp(s[i, k]) for k in range(4) if k != i))
                   for i, j in enumerate([1, 0, 3, 2])) / 4
    assert float(loss) == pytest.approx(by_hand)


def test_exercise_9_5_byol_normalised_loss():
    """Ex. 9.5 (L22758): normalised BYOL loss = mean(2 - 2 cos) = mean |p_hat - z_hat|^2."""
    zo = torch.tensor([[0.2, 0.4], [0.3, 0.6], [0.5, 0.7]], dtype=torch.float64)
    zt = torch.tensor([[0.1, 0.3], [0.4, 0.8], [0.6, 0.9]], dtype=torch.float64)
    torch.testing.assert_close(byol_loss(zo, zt), ref.byol_loop(zo, zt))
    # by hand: 2 - 2cos per row = 0.020101, 0 (parallel rows), 0.001031
    assert float(byol_loss(zo, zt)) == pytest.approx((0.020101 + 0.0 + 0.001031) / 3, abs=1e-5)


def test_erratum_byol_without_normalisation_depends_on_scale():
    """Catalogue §5.7, book L21422: BYOL's loss on unnormalised vectors changes when the target is
    rescaled (so the network can lower it by shrinking outputs); the normalised loss does not."""
    p, z = torch.randn(6, 4), torch.randn(6, 4)
    assert float(byol_loss(p, 3 * z)) == pytest.approx(float(byol_loss(p, z)), rel=1e-5)
    assert float(byol_loss(p, 3 * z, normalize=False)) != pytest.approx(float(byol_loss(p, z, normalize=False)), rel=1e-2)
    assert float(byol_loss(0.01 * p, 0.01 * z, normalize=False)) < 1e-2  # collapse-by-scale lowers the book's loss


def test_exercise_9_6_moco_loss_from_similarities():
    """Ex. 9.6 (L22770): Q, K (3x2); with K's other rows as negatives, the MoCo/InfoNCE loss is the
    cross-entropy of softmax(q_i . k_j / tau) at j = i (tau = 1, cosine similarities)."""
    q = torch.tensor([[0.5, 0.7], [0.3, 0.8], [0.6, 0.9]], dtype=torch.float64)
    k = torch.tensor([[0.2, 0.4], [0.1, 0.3], [0.7, 0.6]], dtype=torch.float64)
    qn, kn = q / q.norm(dim=1, keepdim=True), k / k.norm(dim=1, keepdim=True)
    soft = torch.softmax(qn @ kn.T, 1)
    assert float(info_nce(q, k, temperature=1.0)) == pytest.approx(float(-soft.diagonal().log().mean()))


def test_erratum_info_nce_positive_in_the_denominator():
    """Catalogue §5.3, book L20890: with negatives only in the denominator the "loss" goes negative
    (it is no longer a cross-entropy and has no lower bound); the standard InfoNCE is >= 0."""
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    neg = torch.tensor([[-1.0, 0.0], [0.0, -1.0]])
    standard = info_nce(q, q, neg, temperature=0.5)
    qn = q / q.norm(dim=1, keepdim=True)
    book = -((qn * qn).sum(1) / 0.5 - torch.logsumexp(qn @ neg.T / 0.5, 1)).mean()
    assert float(standard) >= 0 > float(book)


def test_erratum_nt_xent_excludes_the_anchor_not_the_positive():
    """Catalogue §5.4, book L20906 says the indicator excludes the positive pair; it excludes the
    anchor (k != i, L21316). Excluding the positive instead makes the numerator absent from the
    denominator, and the loss can be negative."""
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    loss = nt_xent(z[:2], z[2:], temperature=0.1)
    assert float(loss) >= 0
    s = z @ z.T / 0.1
    wrong = -(s[0, 2] - torch.logsumexp(s[0, [1, 3]], 0))
    assert float(wrong) < 0


def test_sinkhorn_equipartition_and_reference():
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(32, 10, generator=g)
    q = sinkhorn_knopp(scores, epsilon=0.3, iterations=200)
    torch.testing.assert_close(q.sum(1), torch.ones(32), atol=1e-5, rtol=0)
    torch.testing.assert_close(q.sum(0), torch.full((10,), 3.2), atol=1e-3, rtol=0)  # every prototype B/K
    torch.testing.assert_close(sinkhorn_knopp(scores, 0.5, 3).double(), ref.sinkhorn_loop(scores, 0.5, 3))
    assert torch.isfinite(sinkhorn_knopp(scores * 100, 0.05)).all()  # exp(2000) handled


def test_erratum_swav_uses_cross_entropy_not_cosine():
    """Catalogue §5.6, book L21144: a 'divergence (e.g. cosine similarity)' between assignments; cosine
    is not a divergence (it is maximal, not zero, for equal codes). SwAV's swapped cross-entropy is
    minimised when the prediction of one view matches the other view's code."""
    codes = torch.eye(4)
    good = swav_loss([codes * 20, codes * 20], [codes], [0], temperature=1.0)
    bad = swav_loss([codes * 20, codes.flip(0) * 20], [codes], [0], temperature=1.0)
    assert float(good) < 1e-6 < float(bad)
    assert float(torch.cosine_similarity(codes, codes).mean()) == 1.0  # cosine "distance" of equal codes is 1, not 0


# ------------------------------------------------------------------------------------------ views
def test_views_are_batched_seeded_and_sized():
    x = torch.rand(6, 3, 32, 32)
    a = MultiView(ssl_pipeline(32, blur_p=0.5), seed=1)(x)
    b = MultiView(ssl_pipeline(32, blur_p=0.5), seed=1)(x)
    assert len(a) == 2 and all(torch.equal(u, v) for u, v in zip(a, b, strict=True))
    assert not torch.equal(a[0], a[1])
    crops = multi_crop(32, 16, 2, 3)(x)
    assert [c.shape[-1] for c in crops] == [32, 32, 16, 16, 16]
    ident = RandomResizedCrop(32, scale=(1.0, 1.0), ratio=(1.0, 1.0))(x)
    torch.testing.assert_close(ident, x)
    blurred = GaussianBlur(5, sigma=(1.0, 1.0), p=1.0)(x)
    assert blurred.std() < x.std()


def test_rotate90_and_erratum_rotation_labels():
    """Catalogue C9-07 (book L20825): the listing labels rotations by degrees (0, 90, 180, 270) for a
    4-way softmax, which indexes outside the 4 classes; the labels are k = 0..3."""
    x = torch.arange(16.0).view(1, 1, 4, 4).repeat(4, 1, 1, 1)
    out = rotate90(x, torch.arange(4))
    for k in range(4):
        torch.testing.assert_close(out[k], torch.rot90(x[k], k, (-2, -1)))
    task = create_task("rotation")
    _, labels = task._pairs(torch.rand(3, 1, 8, 8))
    assert labels.max() == 3
    with pytest.raises(IndexError):
        torch.nn.functional.cross_entropy(torch.zeros(1, 4), torch.tensor([90]))


# ------------------------------------------------------------------------------------------ tasks
@pytest.fixture(scope="module")
def digit_images():
    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0  # real 8x8 digits in [0, 1]
    x = torch.nn.functional.interpolate(x, size=16, mode="bilinear", align_corners=False)
    return x[:96], torch.tensor(d.target[:96])


def _encoder():
    return create_model("resnet20-cifar", in_chans=1, num_classes=10, layers=(1, 1, 1))


class Interrupt(Exception):
    pass


class StopAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_train_batch_end(self, trainer, outputs):
        if trainer.global_step == self.step:
            raise Interrupt


def _trainer(method, out, data, callbacks=None, **task_kw):
    torch.manual_seed(0)
    net = build_ssl_net(method, _encoder(), proj_dim=16, proj_hidden=32, queue_size=40, num_prototypes=8)
    kw = {"swav": {"n_small": 2, "small_size": 8}}.get(method, {})
    task = create_task(method, **{**kw, **task_kw})
    x, y = data
    return Trainer(net, task, train_data=TensorDataset(x[:32], y[:32]), val_data=TensorDataset(x[64:80], y[64:80]),
                   epochs=2, batch_size=8, lr=1e-3, optimizer="adam", seed=5, out_dir=str(out),
                   checkpoint_every_steps=1, callbacks=callbacks, **QUIET)


@pytest.mark.parametrize("method", ["simclr", "moco", "byol", "swav", pytest.param("rotation", marks=pytest.mark.slow)])
def test_ssl_task_trains_and_resumes_exactly(tmp_path, digit_images, method):
    ref_t = _trainer(method, tmp_path / "ref", digit_images).fit()
    assert math.isfinite(ref_t.final_metrics["val/loss"])
    with pytest.raises(Interrupt):
        _trainer(method, tmp_path / "cut", digit_images, callbacks=[StopAt(5)]).fit()
    resumed = _trainer(method, tmp_path / "cut", digit_images).fit(resume_from=tmp_path / "cut")
    a, b = ref_t.model.state_dict(), resumed.model.state_dict()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert ref_t.global_step == resumed.global_step == 8
    net = ref_t.model
    if method in ("moco", "byol"):  # the EMA target moved, but is not the online network
        name = next(k for k in a if k.startswith("encoder.") and a[k].ndim == 4)
        assert not torch.equal(a["target_" + name], a[name])
        assert all(not p.requires_grad for p in net.target_encoder.parameters())
    if method == "moco":
        assert int(net.queue_ptr) == (8 * 16) % 40  # two keys per image (symmetric loss), wrapped
        torch.testing.assert_close(net.queue.norm(dim=1), torch.ones(40))
    if method == "swav":
        torch.testing.assert_close(net.prototypes.weight.norm(dim=1), torch.ones(8), atol=1e-2, rtol=0)


def test_momentum_schedule_and_a_shared_module_is_refused():
    task = create_task("byol", momentum=0.99)
    assert task.momentum_at(0) == 0.99  # no trainer: constant
    net = SSLNet(_encoder(), proj_dim=8, proj_hidden=16, momentum=True)
    assert net.target_encoder is not net.encoder  # the book's C9-15/C9-16 share them
    before = [p.clone() for p in net.target_encoder.parameters()]
    with torch.no_grad():
        for p in net.encoder.parameters():
            p.add_(1.0)
    net.momentum_update(0.9)
    for b, t, o in zip(before, net.target_encoder.parameters(), net.encoder.parameters(), strict=True):
        torch.testing.assert_close(t, 0.9 * b + 0.1 * o)
    with pytest.raises(ConfigError, match="queue_size"):
        t = create_task("moco")
        t.loss(SSLNet(_encoder(), proj_dim=8), [torch.rand(2, 1, 16, 16)] * 2)
    with pytest.raises(ConfigError, match="image model"):
        SSLNet(torch.nn.Linear(3, 3))


def test_exercise_9_9_infonce_is_a_mutual_information_lower_bound():
    """Ex. 9.9 (L22796): Z1, Z2 (3x3) views of 3 images; the InfoNCE objective with in-batch
    negatives bounds the mutual information: I(v1; v2) >= log N - L_InfoNCE (van den Oord et al.)."""
    z1 = torch.tensor([[0.2, 0.4, 0.6], [0.1, 0.3, 0.5], [0.0, 0.2, 0.4]], dtype=torch.float64)
    z2 = torch.tensor([[0.3, 0.5, 0.7], [0.2, 0.4, 0.6], [0.1, 0.3, 0.5]], dtype=torch.float64)
    loss = info_nce(z1, z2, temperature=1.0)
    zn1, zn2 = z1 / z1.norm(dim=1, keepdim=True), z2 / z2.norm(dim=1, keepdim=True)
    assert float(loss) == pytest.approx(float(-torch.log_softmax(zn1 @ zn2.T, 1).diagonal().mean()))
    bound = math.log(3) - float(loss)
    assert 0 <= bound <= math.log(3)  # nearly parallel rows: little information, a bound near 0
    assert bound < 0.05


@pytest.mark.slow
def test_deepcluster_pseudo_labels_refresh_and_resume_exactly(tmp_path, digit_images):
    """DeepCluster: pseudo-labels from k-means on eval-mode features of the training set, refreshed
    every 3 steps with the head re-initialised; labels are checkpointed task state."""
    from tensorprism.train.tasks.ssl import WithIndex
    from tensorprism.unsupervised.evaluation import cluster_assigner

    x, _ = digit_images
    data = x[:32]
    calls = []

    def build(out, callbacks=None):
        torch.manual_seed(0)
        assign = cluster_assigner(data, 4, pca_dim=8)

        def counted(enc, seed):
            calls.append(seed)
            return assign(enc, seed)

        net = build_ssl_net("deepcluster", _encoder(), num_prototypes=4)
        task = create_task("deepcluster", assign=counted, recluster_every=3)
        return Trainer(net, task, train_data=WithIndex(data), epochs=2, batch_size=8, lr=1e-3, optimizer="adam",
                       seed=5, out_dir=str(out), checkpoint_every_steps=1, callbacks=callbacks, **QUIET)

    ref_t = build(tmp_path / "ref").fit()
    assert calls == [0, 3, 6]
    labels = ref_t.task.labels
    assert labels.shape == (32,) and 1 < len(labels.unique()) <= 4
    with pytest.raises(Interrupt):
        build(tmp_path / "cut", callbacks=[StopAt(4)]).fit()
    resumed = build(tmp_path / "cut").fit(resume_from=tmp_path / "cut")
    a, b = ref_t.model.state_dict(), resumed.model.state_dict()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert torch.equal(resumed.task.labels, labels)
    with pytest.raises(ConfigError, match="assign"):
        create_task("deepcluster").training_step(build_ssl_net("deepcluster", _encoder(), num_prototypes=4),
                                                 (x[:4], torch.arange(4)))


def test_patch_mask_hides_the_asked_fraction_per_image():
    from tensorprism.train.tasks.ssl import patch_mask

    m = patch_mask(5, (16, 16), 4, 0.75, torch.Generator().manual_seed(0))
    assert m.shape == (5, 1, 16, 16)
    assert m.float().mean((1, 2, 3)).tolist() == [0.75] * 5
    assert not torch.equal(m[0], m[1])
    with pytest.raises(ConfigError, match="multiple"):
        patch_mask(1, (10, 10), 4, 0.5, torch.Generator())


def test_erratum_masked_image_loss_is_over_hidden_pixels_only(tmp_path, digit_images):
    """Catalogue §5.31 and C9-13 (book L21248, L21254): MIM is defined on the masked pixels, the
    listing averages over all pixels (and erases its own target). A model that copies its input is
    perfect on the visible pixels; the loss here still charges it for every hidden one."""
    x, y = digit_images
    task = create_task("masked-image", patch_size=4, mask_ratio=0.5)
    identity = torch.nn.Identity()
    gen = torch.Generator().manual_seed(3)
    task.generator = gen
    out = task._loss(identity, x[:8])
    hidden = out["mask"].expand_as(x[:8])
    torch.testing.assert_close(out["loss"], (x[:8][hidden] ** 2).mean())  # hidden pixels were set to 0
    all_pixels = ((x[:8] * ~hidden) - x[:8]).pow(2).mean()  # the book's average over every pixel
    assert float(all_pixels) < float(out["loss"])
    unet = create_model("unet", in_chans=1, num_classes=1, base_width=4, depth=2)
    t = Trainer(unet, create_task("masked-image", patch_size=4), train_data=TensorDataset(x[:32], y[:32]),
                val_data=TensorDataset(x[64:80], y[64:80]), epochs=1, batch_size=8, lr=1e-3, optimizer="adam",
                **QUIET).fit()
    assert math.isfinite(t.final_metrics["val/loss"])
