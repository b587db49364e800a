"""Few-shot classification episodes, prototypical networks and MAML/Reptile on images."""

from __future__ import annotations

import pytest
import torch

from tensorprism.errors import ConfigError
from tensorprism.meta.fewshot import (
    EpisodeSampler,
    FewShotNet,
    conv_embedding,
    evaluate_fewshot,
    meta_train_fewshot,
    prototypical_logits,
    train_protonet,
)


def _toy(classes=6, per_class=30, size=8, seed=0):
    """Each class a fixed random template plus noise: learnable from a few shots."""
    g = torch.Generator().manual_seed(seed)
    templates = torch.randn(classes, 1, size, size, generator=g)
    y = torch.arange(classes).repeat_interleave(per_class)
    x = templates[y] + 0.5 * torch.randn(len(y), 1, size, size, generator=g)
    return x, y


def test_episodes_hold_out_classes_and_relabel():
    x, y = _toy()
    # tag every image with its true class so that the episode's content can be checked
    x[:, 0, 0, 0] = y.float()
    sampler = EpisodeSampler(x, y, [3, 4, 5])
    g = torch.Generator().manual_seed(0)
    xs, ys, xq, yq = sampler.sample(3, 2, 4, g)
    assert xs.shape == (6, 1, 8, 8) and xq.shape == (12, 1, 8, 8)
    assert ys.tolist() == [0, 0, 1, 1, 2, 2] and yq.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    true = xs[:, 0, 0, 0].long()
    assert set(true.tolist()) == {3, 4, 5}  # only the split's classes
    assert all(len(set(true[ys == c].tolist())) == 1 for c in range(3))  # one true class per label
    seen = {tuple(xs[ys == 0][:, 0, 0, 0].long().tolist()) for _ in range(1) for xs, ys, *_ in
            [sampler.sample(3, 1, 1, g) for _ in range(20)]}
    assert len(seen) > 1  # the labels are permuted between episodes
    support, query = {tuple(v.flatten().tolist()) for v in xs}, {tuple(v.flatten().tolist()) for v in xq}
    assert not support & query  # support and query images differ
    with pytest.raises(ConfigError, match="5-way"):
        sampler.sample(5, 1, 1, g)


def test_prototypical_logits_are_negative_squared_distances_to_class_means():
    g = torch.Generator().manual_seed(0)
    s, q = torch.randn(6, 4, generator=g), torch.randn(5, 4, generator=g)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    protos = torch.stack([s[labels == c].mean(0) for c in range(3)])
    expected = torch.stack([torch.stack([-((qi - p) ** 2).sum() for p in protos]) for qi in q])
    assert torch.allclose(prototypical_logits(s, labels, q, 3), expected, atol=1e-5)


def test_protonet_and_fomaml_learn_unseen_classes():
    x, y = _toy(classes=8)
    train, test = EpisodeSampler(x, y, [0, 1, 2, 3]), EpisodeSampler(x, y, [4, 5, 6, 7])
    torch.manual_seed(0)
    emb = conv_embedding(1, 8, blocks=2)
    before = evaluate_fewshot(emb, "protonet", test, n_way=4, k_shot=1, episodes=20, queries=5)
    train_protonet(emb, train, episodes=30, n_way=4, k_shot=1, queries=5)
    after = evaluate_fewshot(emb, "protonet", test, n_way=4, k_shot=1, episodes=20, queries=5)
    assert after.accuracy > 0.6 and after.accuracy >= before.accuracy - 0.05
    assert 0 < after.ci95 < 0.2
    torch.manual_seed(0)
    net = FewShotNet(4, 1, 8, img_size=8, blocks=2)
    meta_train_fewshot(net, "fomaml", train, iterations=10, n_way=4, k_shot=1, queries=5, meta_batch=2)
    res = evaluate_fewshot(net, "fomaml", test, n_way=4, k_shot=1, episodes=20, queries=5, inner_steps=5)
    assert res.accuracy > 0.4  # chance is 0.25


def test_second_order_maml_differs_from_first_order():
    x, y = _toy(classes=4)
    sampler = EpisodeSampler(x, y, [0, 1, 2, 3])
    grads = {}
    for method in ("maml", "fomaml"):
        torch.manual_seed(0)
        net = FewShotNet(4, 1, 4, img_size=8, blocks=2)
        start = {n: p.detach().clone() for n, p in net.named_parameters()}
        meta_train_fewshot(net, method, sampler, iterations=1, n_way=4, k_shot=2, queries=2, meta_batch=2,
                           outer_lr=1e-2)
        grads[method] = torch.cat([(p.detach() - start[n]).flatten() for n, p in net.named_parameters()])
    assert grads["maml"].abs().sum() > 0 and not torch.allclose(grads["maml"], grads["fomaml"])
    with pytest.raises(ConfigError, match="method"):
        meta_train_fewshot(FewShotNet(4, 1, 4, img_size=8, blocks=2), "anil", sampler, iterations=1, n_way=4, k_shot=1)
