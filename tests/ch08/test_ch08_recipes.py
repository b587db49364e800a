"""Chapter 8 recipes are registered and the cheapest one runs end to end."""

import pytest

from tensorprism.models import list_models
from tensorprism.recipes import list_recipes, run_recipe


@pytest.fixture(autouse=True)
def _runs_in_tmp(tmp_path, monkeypatch):
    """Recipe runs without out_dir go to runs/<recipe>-<timestamp>: keep them out of the checkout."""
    monkeypatch.chdir(tmp_path)


def test_chapter_8_recipes_and_models_are_registered():
    want = {"ch08-planetoid", "ch08-link-prediction", "ch08-freesolv", "ch08-movielens",
            "ch08-karate", "ch08-explain", "ch08-superpixels", "ch08-sampled-sage"}
    assert want <= set(list_recipes())
    assert {"gcn", "gat", "graphsage", "gin", "mpnn", "rgcn", "chebnet"} <= set(list_models(family="gnn"))


def test_karate_recipe_classifies_clubs_finds_communities_and_hubs(tmp_path):
    r = run_recipe("ch08-karate", epochs=60, out_dir=str(tmp_path))
    assert r["test_acc"] >= 0.85 and r["spectral_agreement"] >= 0.9
    assert {0, 33} <= set(r["pagerank_top5"])  # the two leaders are the most central members
    assert (tmp_path / "result.json").exists()
