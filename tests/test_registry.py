from dataclasses import dataclass

import pytest
import torch.nn as nn

from tensorprism.errors import ConfigError, UnknownNameError
from tensorprism.registry import Registry


@dataclass
class _Cfg:
    width: int = 4
    depth: int = 1


def test_unknown_name_suggests_nearest():
    reg: Registry = Registry("model")
    reg.register("resnet18", config=_Cfg)(lambda cfg: nn.Linear(cfg.width, 1))
    with pytest.raises(UnknownNameError, match="did you mean 'resnet18'|Did you mean 'resnet18'"):
        reg.get("resnet-18")


def test_unknown_option_suggests_field():
    reg: Registry = Registry("model")
    reg.register("m", config=_Cfg, width=8)(lambda cfg: nn.Linear(cfg.width, 1))
    entry = reg.get("m")
    assert entry.make_config().width == 8
    with pytest.raises(ConfigError, match="did you mean 'width'"):
        entry.make_config(widht=3)
