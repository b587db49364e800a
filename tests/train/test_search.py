"""The one search module (train/search.py) behind `prism tune` and the book's recipes."""

import pytest

from tensorprism.errors import ConfigError
from tensorprism.train.search import (
    grid_search,
    normalize_space,
    parse_space,
    random_search,
    search,
)

pytest.importorskip("optuna")


def test_short_and_command_line_spaces_normalise_to_one_form():
    assert normalize_space({"lr": ("log", 1e-4, 1.0), "bs": [16, 32], "p": ("uniform", 0, 0.5),
                            "n": ("int", 1, 4)}) == {
        "lr": ("log", [1e-4, 1.0]), "bs": ("choice", [16, 32]), "p": ("float", [0, 0.5]), "n": ("int", [1, 4])}
    assert normalize_space(parse_space(["lr=log(1e-4,1)"])) == {"lr": ("log", [1e-4, 1.0])}


@pytest.mark.parametrize("space, match", [
    ({"lr": ("log", 0, 1)}, "lo > 0"),
    ({"lr": ("uniform", 1, 0.1)}, "lo < hi"),
    ({"lr": "0.1"}, "cannot read search spec"),
    ({"lr": []}, "at least one value"),
])
def test_bad_spaces_are_clear_config_errors(space, match):
    with pytest.raises(ConfigError, match=match):
        normalize_space(space)


def test_grid_refuses_ranges_and_visits_every_combination_once():
    with pytest.raises(ConfigError, match="list of choices.*lr"):
        grid_search(lambda p: 0.0, {"lr": ("log", 1e-4, 1.0)})
    seen = []
    res = grid_search(lambda p: seen.append(p) or -p["a"] * p["b"][0], {"a": [1, 2], "b": [[3], [4]]})
    assert len(res.trials) == 4 and sorted(map(str, seen)) == sorted(map(str, [
        {"a": 1, "b": [3]}, {"a": 1, "b": [4]}, {"a": 2, "b": [3]}, {"a": 2, "b": [4]}]))


def test_minimisation_and_choice_values_come_back_decoded():
    res = search(lambda p: (p["x"] - 0.3) ** 2 + p["w"][0], {"x": ("uniform", 0, 1), "w": [[0], [1]]}, 25,
                 sampler="random", direction="minimize")
    assert res.best_params["w"] == [0] and abs(res.best_params["x"] - 0.3) < 0.15
    assert res.best_value == min(v for _, v in res.trials)


def test_same_seed_same_trials():
    space = {"lr": ("log", 1e-4, 1.0)}
    first, second = (random_search(lambda p: p["lr"], space, 5, seed=3).trials for _ in range(2))
    assert first == second
