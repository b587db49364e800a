import pytest

from tensorprism.optional import MissingDependencyError, check_available, install_hint, require


def test_require_returns_module():
    assert require("json", feature="x").dumps([1]) == "[1]"


def test_require_missing_names_the_extra():
    with pytest.raises(MissingDependencyError, match=r"tensorprism\[tune\]"):
        require("optuna.not_a_module_xyz", feature="search")


def test_missing_unknown_package_gives_pip_line():
    with pytest.raises(ImportError, match="pip install no_such_pkg_xyz"):
        require("no_such_pkg_xyz", feature="a feature")


def test_check_available_before_work():
    check_available(["json"], feature="ok")
    with pytest.raises(MissingDependencyError, match="no_such_pkg_xyz"):
        check_available(["json", "no_such_pkg_xyz"], feature="recipe r")


def test_install_hint_extra():
    assert "tensorprism[unsupervised]" in install_hint("umap")
