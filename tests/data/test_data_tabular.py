import numpy as np
import pytest
import torch

from tensorprism.data import dataset_info, is_available, list_datasets, load_dataset
from tensorprism.errors import ConfigError, UnknownNameError

TABLES = {"digits": (1797, 64, 10), "iris": (150, 4, 3), "wine": (178, 13, 3), "breast-cancer": (569, 30, 2)}


@pytest.mark.parametrize("name", sorted(TABLES))
def test_table_splits_partition_the_data_and_are_stratified(name):
    n, d, k = TABLES[name]
    parts = {s: load_dataset(name, split=s) for s in ("train", "val", "test")}
    idx = np.concatenate([p.meta["indices"] for p in parts.values()])
    assert sorted(idx.tolist()) == list(range(n))  # disjoint and complete
    assert len(parts["train"]) == pytest.approx(0.7 * n, abs=2)
    overall = np.bincount(np.concatenate([p.targets.numpy() for p in parts.values()]), minlength=k) / n
    for p in parts.values():
        x, y = p.tensors()
        assert x.shape == (len(p), d) and x.dtype == torch.float32 and y.dtype == torch.int64
        share = np.bincount(y.numpy(), minlength=k) / len(p)
        assert np.abs(share - overall).max() < 0.06
        assert p.num_classes == k


def test_standardisation_is_fitted_on_train_only():
    train, test = load_dataset("wine", split="train"), load_dataset("wine", split="test")
    x_train, _ = train.tensors()
    torch.testing.assert_close(x_train.mean(0), torch.zeros(13), atol=1e-5, rtol=0)
    torch.testing.assert_close(x_train.std(0, unbiased=False), torch.ones(13), atol=1e-4, rtol=0)
    # the test rows use the training statistics, so they are not exactly centred themselves
    raw_test = load_dataset("wine", split="test", standardize=False).tensors()[0]
    torch.testing.assert_close(test.tensors()[0], (raw_test - train.meta["mean"]) / train.meta["scale"])
    assert test.tensors()[0].mean(0).abs().max() > 1e-3


def test_digits_constant_pixels_do_not_divide_by_zero():
    x, _ = load_dataset("digits", split="train").tensors()
    assert torch.isfinite(x).all()
    img = load_dataset("digits", split="train", as_images=True).tensors()[0]
    assert img.shape[1:] == (1, 8, 8)
    torch.testing.assert_close(img.flatten(1), x)


def test_split_seed_changes_split_and_is_reproducible():
    a = load_dataset("iris", split="test", seed=0).meta["indices"]
    assert np.array_equal(a, load_dataset("iris", split="test", seed=0).meta["indices"])
    assert not np.array_equal(a, load_dataset("iris", split="test", seed=1).meta["indices"])


def test_tables_are_registered_with_info_and_always_available():
    for name in TABLES:
        assert name in list_datasets()
        info = dataset_info(name)
        assert info.task == "classification" and "scikit-learn" in info.source
        assert info.extra == {"shape": (TABLES[name][1],), "num_classes": TABLES[name][2]}
        assert is_available(name, root="/nonexistent")


def test_unknown_dataset_name_suggests_nearest():
    with pytest.raises(UnknownNameError, match="Did you mean 'mnist'"):
        load_dataset("mnits")
    with pytest.raises(UnknownNameError, match="'breast-cancer'"):
        load_dataset("breast_cancer")


def test_unknown_split_name_suggests_nearest():
    with pytest.raises(ConfigError, match="Did you mean 'val'"):
        load_dataset("iris", split="vall")
