"""Packaging: the core install needs only pyproject's ``dependencies``; every other package is an
extra, imported only through :func:`tensorprism.optional.require`.

* An AST scan of every module (like test_layering.py) finds each third-party import and fails on
  one that is neither core nor behind ``require``.
* ``pyproject.toml``, ``PACKAGES`` in ``optional.py`` and ``requirements-dev.txt`` agree.
* A subprocess in which every optional package is made unimportable trains and evaluates on digits
  from the CLI (the core paths really are core), and an extra-dependent feature fails with the
  line naming its extra, before any work.
* (slow) The wheel, installed into a fresh virtualenv with only the core, runs ``prism train``.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli", reason="reading pyproject.toml on Python 3.10 needs tomli")

import tensorprism
from tensorprism.optional import PACKAGES

ROOT = Path(tensorprism.__file__).parent
REPO = ROOT.parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())

# import name -> the core distribution (pyproject ``dependencies``) that provides it
CORE_IMPORTS = {
    "torch": "torch", "numpy": "numpy", "safetensors": "safetensors", "yaml": "PyYAML",
    "tqdm": "tqdm", "matplotlib": "matplotlib", "mpl_toolkits": "matplotlib",
    "sklearn": "scikit-learn", "scipy": "scipy", "torchmetrics": "torchmetrics", "PIL": "Pillow",
}
# Sub-modules of core packages that import an optional package themselves.
OPTIONAL_SUBMODULES = {"torch.utils.tensorboard": "tensorboard"}
# (module path relative to the package, imported top-level name) -> why it may import directly.
ALLOWED = {
    ("testing.py", "pytest"): "the test helpers; only the test suite (which has [dev]) imports them",
}
# extras that are not feature families (and so are not part of [all])
META_EXTRAS = {"all", "dev", "docs"}


def _norm(dist: str) -> str:
    """A requirement's distribution name, normalised (PEP 503): ``mkdocstrings[python]>=0.25``
    -> ``mkdocstrings``."""
    name = re.split(r"[\s\[<>=!~;@]", dist.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def _extra_members(extra: str) -> set[str]:
    """The normalised distributions of ``extra``, ``tensorprism[a,b]`` self-references expanded."""
    out: set[str] = set()
    for req in PYPROJECT["project"]["optional-dependencies"][extra]:
        m = re.match(r"tensorprism\[([^\]]+)\]", req)
        if m:
            for sub in m.group(1).split(","):
                out |= _extra_members(sub.strip())
        else:
            out.add(_norm(req))
    return out


def third_party_imports(path: Path) -> list[tuple[str, int]]:
    """``(dotted module, line)`` of every absolute import of ``path`` outside the standard library
    and tensorprism, also those inside functions."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top not in sys.stdlib_module_names and top not in ("tensorprism", "__future__"):
                found.append((name, node.lineno))
    return found


def optional_imports_outside_require() -> list[str]:
    problems = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for name, line in third_party_imports(path):
            top = name.split(".")[0]
            if (rel, top) in ALLOWED:
                continue
            optional = next((extra for mod, extra in OPTIONAL_SUBMODULES.items()
                             if name == mod or name.startswith(mod + ".")), None)
            if top in CORE_IMPORTS and optional is None:
                continue
            problems.append(f"{rel}:{line} imports {name!r}, which is not a core dependency: use "
                            f"tensorprism.optional.require({name!r}, feature=...) and list it in PACKAGES")
    return problems


def required_names() -> list[tuple[str, str, int]]:
    """``(path, module, line)`` for every string literal passed to ``require`` / ``check_available``."""
    out = []
    for path in sorted(ROOT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("require", "check_available")):
                continue
            if not node.args:
                continue
            arg = node.args[0]
            values = arg.elts if isinstance(arg, (ast.List, ast.Tuple)) else [arg]
            for v in values:
                if isinstance(v, ast.Constant) and isinstance(v.value, str):
                    out.append((path.relative_to(ROOT).as_posix(), v.value, node.lineno))
    return out


def test_no_optional_import_outside_require():
    problems = optional_imports_outside_require()
    assert not problems, "\n".join(problems)


def test_scan_catches_a_direct_optional_import(tmp_path):
    """The scan is able to fail: a module importing umap directly is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    import umap\n    from torch.utils.tensorboard import SummaryWriter\n")
    names = [n for n, _ in third_party_imports(bad)]
    assert names == ["umap", "torch.utils.tensorboard"]


def test_required_modules_are_in_packages():
    """Every module passed to require/check_available names its extra in the install hint."""
    missing = [f"{p}:{line} requires {m!r}" for p, m, line in required_names()
               if m.split(".")[0] not in PACKAGES and m.split(".")[0] not in CORE_IMPORTS
               and m not in OPTIONAL_SUBMODULES]
    assert not missing, "add these import names to PACKAGES in optional.py:\n" + "\n".join(missing)


def test_core_imports_are_core_dependencies():
    deps = {_norm(d) for d in PYPROJECT["project"]["dependencies"]}
    assert {_norm(d) for d in CORE_IMPORTS.values()} <= deps
    # and nothing optional crept into the core
    assert not deps & {_norm(dist) for dist, _ in PACKAGES.values()}


def test_every_package_is_in_its_extra():
    extras = PYPROJECT["project"]["optional-dependencies"]
    wrong = [f"{mod}: {dist} not in [{extra}]" for mod, (dist, extra) in PACKAGES.items()
             if extra not in extras or _norm(dist) not in _extra_members(extra)]
    assert not wrong, "pyproject.toml extras disagree with optional.PACKAGES:\n" + "\n".join(wrong)


def test_all_is_every_feature_extra_and_dev_has_all():
    extras = PYPROJECT["project"]["optional-dependencies"]
    features = set(extras) - META_EXTRAS
    everything = set().union(*(_extra_members(e) for e in features))
    assert _extra_members("all") == everything
    assert everything | _extra_members("docs") <= _extra_members("dev")


def _requirement_lines(path: Path) -> list[str]:
    lines = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("-")]


def test_dev_requirements_are_folded_into_extras():
    """Whatever `make test` installs is in pyproject's [dev] (so `pip install tensorprism[dev]`
    gives the same environment), and torch has one pin."""
    dev = _extra_members("dev") | {"torch"}
    lines = _requirement_lines(REPO / "requirements-dev.txt")
    missing = [line for line in lines if _norm(line) not in dev]
    assert not missing, f"add to an extra of pyproject.toml (and to [dev] through it): {missing}"
    pins = {line for line in lines + _requirement_lines(REPO / "requirements.txt") if _norm(line) == "torch"}
    assert len(pins) == 1, f"requirements.txt and requirements-dev.txt pin torch differently: {pins}"


# Runs in a subprocess (python -S) whose only site-packages is a copy of ours, made of symlinks,
# without the optional packages: for it they are not installed at all (find_spec finds nothing).
_BLOCKED_RUN = textwrap.dedent("""
    import sys
    BLOCKED = set(sys.argv[1].split(","))
    sys.path[:0] = sys.argv[3].split(":")
    import torch
    torch.set_num_threads(1)
    from tensorprism.cli import main
    out = sys.argv[2]
    assert main(["train", "--out", out, "--epochs", "2", "progress=false"]) == 0
    assert main(["eval", out]) == 0

    from tensorprism.optional import MissingDependencyError
    from tensorprism.train.search import require_optuna
    try:
        require_optuna()
    except MissingDependencyError as exc:
        print("TUNE:", exc)
    from tensorprism.recipes import run_recipe
    try:
        run_recipe("ch08-karate", out_dir=out + "-karate")
    except MissingDependencyError as exc:
        print("RECIPE:", exc)
    import os
    print("KARATE_DIR:", os.path.exists(out + "-karate"))
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    print("LEAKED:", leaked)
""")


def _site_without(blocked: set[str], folder: Path) -> Path:
    """``folder`` filled with symlinks to every entry of our site-packages but the ``blocked`` import
    names, the metadata of their distributions (libraries such as torchmetrics ask it whether a
    package is installed) and the ``.pth`` files, which ``python -S`` would not read anyway."""
    import site
    from importlib.metadata import packages_distributions

    owners = packages_distributions()
    dists = {_norm(d) for top in blocked for d in owners.get(top, [])}
    folder.mkdir()
    for sp in site.getsitepackages():
        for entry in Path(sp).iterdir():
            top = entry.name.split(".")[0]
            meta = entry.name.endswith((".dist-info", ".egg-info")) and _norm(entry.name.split("-")[0]) in dists
            if top in blocked or meta or entry.suffix == ".pth" or (folder / entry.name).exists():
                continue
            (folder / entry.name).symlink_to(entry)
    return folder


def test_core_paths_run_without_any_optional_package(tmp_path):
    blocked = set(PACKAGES) | {"tensorboard", "pandas"}
    shadow = _site_without(blocked, tmp_path / "site")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(MPLBACKEND="Agg", OMP_NUM_THREADS="1")
    paths = f"{REPO / 'src'}:{shadow}"
    proc = subprocess.run([sys.executable, "-S", "-c", _BLOCKED_RUN, ",".join(sorted(blocked)), str(tmp_path / "run"),
                           paths], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "TUNE: hyper-parameter search needs the optional package 'optuna'" in out
    assert "tensorprism[tune]" in out
    assert "RECIPE: recipe ch08-karate needs optional packages" in out and "tensorprism[graph]" in out
    assert "KARATE_DIR: False" in out  # refused before any work, no run directory left
    assert "LEAKED: []" in out
    assert (tmp_path / "run" / "checkpoints").is_dir()


@pytest.mark.slow
def test_wheel_installs_core_only_and_trains(tmp_path):
    """Build the wheel, install it with only its core dependencies into a fresh virtualenv (torch
    pinned as in requirements.txt; pip's cache and the package index are used, no system site
    packages), then `prism train` on digits and check that no optional package came along."""
    torch_pin = next(line for line in _requirement_lines(REPO / "requirements.txt") if _norm(line) == "torch")
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(REPO)],
                   check=True, timeout=600)
    wheel = next(wheels.glob("tensorprism-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    # --no-compile: byte-compiling all of torch is most of the install's CPU time; Python compiles
    # what it imports on first use instead
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-compile", torch_pin, str(wheel)], check=True,
                   timeout=2400)
    listed = subprocess.run([str(py), "-m", "pip", "list", "--format=freeze"], capture_output=True,
                            text=True, check=True).stdout
    installed = {_norm(line.split("==")[0]) for line in listed.splitlines()}
    # networkx is in [graph] for our own use of it, but torch itself depends on it
    unexpected = installed & {_norm(dist) for dist, _ in PACKAGES.values()} - {"networkx"}
    assert not unexpected, f"the core install brought optional packages: {sorted(unexpected)}"
    run = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(MPLBACKEND="Agg", OMP_NUM_THREADS="1")
    proc = subprocess.run([str(venv / "bin" / "prism"), "train", "--out", str(run), "--epochs", "2"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "test/acc" in proc.stdout
    origin = subprocess.run([str(py), "-c", "import tensorprism; print(tensorprism.__file__)"],
                            capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert str(venv) in origin  # the installed wheel ran, not the source tree
