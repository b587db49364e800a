"""The documentation site: every public name is documented, the generated chapter maps cover every
chapter the code implements, the errata page lists every ``test_erratum_*`` test, and (slow; CI
runs it through ``make docs``) ``mkdocs build --strict`` passes."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tensorprism

REPO = Path(tensorprism.__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gen():
    spec = importlib.util.spec_from_file_location("gen_pages", REPO / "docs" / "gen_pages.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_pages"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pages(gen):
    return gen.all_pages()


def public_objects():
    """``(qualified name, object)`` of every class and function a module lists in ``__all__`` and
    defines itself."""
    for info in pkgutil.walk_packages(tensorprism.__path__, "tensorprism."):
        if any(p.startswith("_") for p in info.name.split(".")[1:]):
            continue
        try:
            module = importlib.import_module(info.name)
        except ImportError:  # a module of an extra that is not installed is documented from source
            continue
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name, None)
            if (inspect.isclass(obj) or inspect.isfunction(obj)) and obj.__module__ == info.name:
                yield f"{info.name}.{name}", obj


def test_every_public_name_has_a_docstring():
    missing = [name for name, obj in public_objects() if not (obj.__doc__ or "").strip()]
    assert not missing, "public names without a docstring (the API reference shows them bare):\n" + "\n".join(missing)


def test_book_references_are_read(gen):
    sections, lines = gen.book_refs("Graph attention (book §8.4.2, eqs. 18330–18368); L3600; line 7457.")
    assert sections == {"8.4.2"} and lines == {18330, 3600, 7457}
    assert gen.section_of_line(7457).startswith("4.")  # a line is placed in its section
    assert gen.chapter_of_line(18330) == 8
    assert gen.test_kind("test_erratum_x", "") == "erratum"
    assert gen.test_kind("test_gcn_matches_pyg", "") == "oracle"
    assert gen.test_kind("test_lstm_reference_equals_fused", "") == "reference"


def test_chapter_maps_cover_every_implemented_chapter(pages, gen):
    implemented = {int(m.group(1)) for p in (REPO / "tests").iterdir() if (m := re.fullmatch(r"ch(\d+)", p.name))}
    implemented |= set(gen.recipes_by_chapter())
    for ch in implemented:
        page = pages.get(f"chapters/ch{ch:02d}.md")
        assert page, f"no chapter page for chapter {ch}"
        assert re.search(r"^## §\d", page, re.M) or "## Recipes" in page, f"chapter {ch}'s map is empty"
    ch4 = pages["chapters/ch04.md"]
    assert "tensorprism.functional.conv" in ch4 and "prism run ch04-" in ch4
    assert "test_erratum_" in ch4  # the tests that prove the code are named with their kind


def test_errata_page_lists_every_erratum_test(pages):
    names = set()
    for path in (REPO / "tests").rglob("test_*.py"):
        names |= set(re.findall(r"^\s*def (test_erratum_\w+)", path.read_text(), re.M))
    page = pages["errata.md"]
    missing = [n for n in names if n not in page]
    assert not missing, missing
    assert "| 7457" in page or "7457" in page  # book lines are shown


def test_copied_pages_have_no_link_outside_the_site(pages):
    """Links of the README/BENCHMARKS/guides were re-pointed to site pages or turned into code."""
    for name, text in pages.items():
        for target in re.findall(r"(?<!!)\[[^\]]+\]\(([^)\s]+)\)", text):
            if re.match(r"^[a-z]+:|^#", target):
                continue
            path = target.split("#")[0]
            resolved = (Path(name).parent / path).as_posix()
            resolved = re.sub(r"[^/]+/\.\./", "", resolved)
            assert resolved in pages or (REPO / "docs" / resolved).exists(), f"{name}: link to {target}"


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path):
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent))
    if mkdocs is None:
        pytest.skip("mkdocs is not installed (pip install 'tensorprism[docs]')")
    proc = subprocess.run([mkdocs, "build", "--strict", "--site-dir", str(tmp_path / "site")], cwd=REPO,
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert (tmp_path / "site" / "errata.html").exists() and (tmp_path / "site" / "chapters" / "ch04.html").exists()
