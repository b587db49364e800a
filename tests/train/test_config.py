"""One validation schema: every trainer setting and every registered config is checked by type and range."""

from dataclasses import dataclass
from typing import Any, Literal

import pytest
import torch

from tensorprism import create_model
from tensorprism.config import setting, validate_dataclass, validate_values
from tensorprism.errors import ConfigError
from tensorprism.train import Trainer, TrainerConfig


@pytest.mark.parametrize("settings, message", [
    ({"epochs": 1.5}, "epochs must be an integer >= 1, got 1.5"),
    ({"epochs": 0}, "epochs must be an integer >= 1, got 0"),
    ({"epochs": -1}, "epochs must be an integer >= 1, got -1"),
    ({"epochs": True}, "epochs must be an integer >= 1, got True"),
    ({"lr": -1}, "lr must be a number > 0, got -1"),
    ({"lr": "abc"}, "lr must be a number > 0, got 'abc'"),
    ({"seed": "abc"}, "seed must be an integer"),
    ({"grad_clip_norm": -1}, "grad_clip_norm must be a number > 0 or null, got -1"),
    ({"grad_clip_value": 0}, "grad_clip_value must be a number > 0 or null"),
    ({"checkpoint_every_steps": -1}, "checkpoint_every_steps must be an integer >= 1 or null"),
    ({"val_every": 0}, "val_every must be an integer >= 1"),
    ({"val_every_steps": 0}, "val_every_steps must be an integer >= 1 or null"),
    ({"batch_size": 0}, "batch_size must be an integer >= 1"),
    ({"eval_batch_size": 0}, "eval_batch_size must be an integer >= 1 or null"),
    ({"num_workers": -1}, "num_workers must be an integer >= 0"),
    ({"weight_decay": -0.1}, "weight_decay must be a number >= 0"),
    ({"early_stopping_patience": 0}, "early_stopping_patience must be an integer >= 1 or null"),
    ({"precision": "fp8"}, "precision must be one of 'auto', '32', 'bf16', '16'"),
    ({"mode": "mx"}, "did you mean 'max'"),
    ({"progress": "yes"}, "progress must be one of True, False, 'auto'"),
    ({"shuffle": "no"}, "shuffle must be true or false"),
    ({"optimizer": "sgdd"}, "did you mean 'sgd'"),
    ({"device": "gpu"}, "device must be 'auto', 'cpu', 'cuda'"),
    ({"out_dir": ""}, "out_dir must be a non-empty string"),
    ({"lr": float("nan")}, "lr must be a number > 0, got nan"),
])
def test_bad_trainer_settings_are_refused_with_the_setting_and_value(settings, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        TrainerConfig(**settings)
    with pytest.raises(ConfigError):  # the same schema answers for a partial mapping
        TrainerConfig.validate_settings(settings)


def test_unambiguous_values_are_coerced():
    cfg = TrainerConfig(lr="1e-3", epochs=2.0, precision=16, grad_clip_norm=1, max_steps=None)
    assert (cfg.lr, cfg.epochs, cfg.precision, cfg.grad_clip_norm) == (1e-3, 2, "16", 1.0)
    assert isinstance(cfg.grad_clip_norm, float) and isinstance(cfg.epochs, int)
    assert TrainerConfig.validate_settings({"epochs": "5", "lr": "3e-4"}) == {"epochs": 5, "lr": 3e-4}


def test_validate_settings_names_unknown_keys():
    with pytest.raises(ConfigError, match="did you mean 'epochs'"):
        TrainerConfig.validate_settings({"epoch": 5})


def test_missing_cuda_or_mps_is_a_config_error_at_construction(blobs):
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="device='cuda' is not available"):
            Trainer(torch.nn.Linear(6, 3), train_data=blobs, device="cuda")
        with pytest.raises(ConfigError, match="not available"):
            TrainerConfig.validate_settings({"device": "cuda:0"})
    if not torch.backends.mps.is_available():
        with pytest.raises(ConfigError, match="device='mps' is not available"):
            Trainer(torch.nn.Linear(6, 3), train_data=blobs, device="mps")


@dataclass
class Demo:
    size: tuple[int, ...] = (3,)
    pair: tuple[int, float] = (1, 2.0)
    kind: Literal["a", "b"] = "a"
    table: dict[str, int] = setting(default_factory=dict)
    either: int | str | None = None
    rate: float = setting(0.5, min=0, max=1)

    def __post_init__(self):
        validate_dataclass(self)


def test_containers_literals_unions_and_ranges():
    d = Demo(size=[4, 5], pair=[2, 3], table={"x": 1}, either="auto")
    assert d.size == (4, 5) and d.pair == (2, 3.0) and d.either == "auto"
    for bad, message in [({"size": [1, "x"]}, "size must be a list of integers"),
                         ({"pair": [1]}, "pair must be a list of 2 values"),
                         ({"kind": "c"}, "kind must be one of 'a', 'b'"),
                         ({"table": {"x": "y"}}, "table must be a mapping"),
                         ({"either": 1.5}, "either must be an integer or a string or null"),
                         ({"rate": 2}, "rate must be a number between 0 and 1, got 2")]:
        with pytest.raises(ConfigError, match=message):
            Demo(**bad)


def test_declared_defaults_with_loose_annotations_are_not_the_users_error():
    @dataclass
    class Loose:
        dropout: float = None  # type: ignore[assignment]  (a library author's loose default)
        extra: Any = None

    assert validate_values(Loose, {"dropout": None}) == {"dropout": None}
    with pytest.raises(ConfigError, match="dropout must be a number, got 'x'"):
        validate_values(Loose, {"dropout": "x"})


def test_create_model_type_checks_every_option():
    with pytest.raises(ConfigError, match="hidden .*must be a list of integers, got 'abc'"):
        create_model("mlp", hidden="abc")
    with pytest.raises(ConfigError, match="in_features .*must be an integer, got 2.5"):
        create_model("mlp", in_features=2.5)
    model = create_model("mlp", in_features=6, hidden=[8, 4], num_classes=3)  # YAML list -> tuple
    assert model(torch.zeros(2, 6)).shape == (2, 3)


def test_keyword_arguments_of_a_registered_function_are_checked_against_its_signature():
    from tensorprism.config import validate_arguments

    def loader(root: str, split: str = "train", seed: int = 0, size: tuple[int, int] | None = None):
        return root, split, seed, size

    assert validate_arguments(loader, {"seed": "3", "size": [8, 8]}) == {"seed": 3, "size": (8, 8)}
    with pytest.raises(ConfigError, match="seed .*must be an integer, got 'abc'"):
        validate_arguments(loader, {"seed": "abc"}, owner="toy")
    with pytest.raises(ConfigError, match="unknown option 'sed' \\(did you mean 'seed'\\?\\) for 'toy'"):
        validate_arguments(loader, {"sed": 1}, owner="toy")
