"""Pages of the documentation site generated from the code at build time (mkdocs-gen-files runs
this file; ``python docs/gen_pages.py OUT_DIR`` writes the same pages into a folder).

* ``getting-started.md``: the README's two commands, ten lines of Python and CLI, copied verbatim.
* ``chapters/chNN.md``: per book chapter, each section -> the functions and classes whose
  docstrings cite it -> the tests that exercise them (classed as reference = fast path, oracle
  parity, erratum, or behaviour) -> the chapter's recipes and the measured results BENCHMARKS.md
  gives for them. Read from the source on every build, so the map cannot drift from the code.
* ``errata.md``: every ``test_erratum_*`` test with the book lines its docstring cites, what the
  docstring says the book has and what is right, and where the test is.
* ``reference/*.md``: the API reference, one page per top-level package (mkdocstrings).
* ``benchmarks.md`` and ``benchmarks/results/*.md``: BENCHMARKS.md and its detail pages, links
  adjusted to the site.

The citation convention the map reads (docs/contributing.md says the same for contributors):
a docstring cites the book with ``§4.3.5`` (section), ``line 7457`` / ``lines 5154–5170`` / ``L3600``
/ ``l. 10294`` (line of the book text the catalogue in shared/book numbers), or ``eq. 18663``
(an equation, numbered by its line). A line is placed in the section that contains it.
"""

from __future__ import annotations

import ast
import bisect
import json
import os
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
SRC = REPO / "src" / "tensorprism"
TESTS = REPO / "tests"
BOOK = json.loads((DOCS / "gen" / "book_sections.json").read_text(encoding="utf-8"))

SECTION_RE = re.compile(r"§\s*(\d{1,2}(?:\.\d+){0,3})")
LINE_RE = re.compile(r"(?:\blines?|\bl\.|\bL|\beqs?\.|\bEqs?\.)\s*(\d{3,5})(?:\s*[–-]\s*(\d{3,5}))?")
CHAPTER_RE = re.compile(r"\b(?:Chapter|Ch\.)\s*(\d{1,2})\b")

ORACLE_WORDS = ("oracle", "parity", "torch_nn", "torchnn", "_hf", "hf_", "transformers", "pyg", "sklearn",
                "tensorly", "scipy", "opacus", "networkx", "sentence_transformers", "matches_torch",
                "same_as_torch", "equals_torch", "like_torch", "_vs_torch", "torchvision", "timm")
REFERENCE_WORDS = ("reference", "fast_path", "fastpath", "functional", "fused", "_ref_", "equals_ref",
                   "matches_ref", "einsum")


# ------------------------------------------------------------------------------------ the book
def _section_starts() -> tuple[list[int], list[str]]:
    items = sorted((v[1], k) for k, v in BOOK["sections"].items())
    return [i[0] for i in items], [i[1] for i in items]


_STARTS, _NUMS = _section_starts()
_CHAPTER_STARTS = sorted((v[1], int(k)) for k, v in BOOK["chapters"].items())


def chapter_of_line(line: int) -> int | None:
    i = bisect.bisect_right([s for s, _ in _CHAPTER_STARTS], line) - 1
    return _CHAPTER_STARTS[i][1] if i >= 0 else None


def section_of_line(line: int) -> str | None:
    """The deepest section whose heading is at or before ``line`` (book line numbers)."""
    i = bisect.bisect_right(_STARTS, line) - 1
    return _NUMS[i] if i >= 0 else None


def book_refs(text: str) -> tuple[set[str], set[int]]:
    """``(sections, lines)`` a docstring cites (sections as ``"4.3.5"``)."""
    sections = {m.group(1).rstrip(".") for m in SECTION_RE.finditer(text)}
    lines = set()
    for m in LINE_RE.finditer(text):
        first = int(m.group(1))
        if first >= _CHAPTER_STARTS[0][0]:
            lines.add(first)
    return sections, lines


def section_title(num: str) -> str:
    if num in BOOK["sections"]:
        return BOOK["sections"][num][0]
    if num in BOOK["chapters"]:
        return BOOK["chapters"][num][0]
    return ""


def _section_key(num: str) -> tuple[int, ...]:
    return tuple(int(x) for x in num.split("."))


# ------------------------------------------------------------------------------------ the code
@dataclass
class CodeObject:
    qualname: str  # tensorprism.nn.attention.MultiHeadAttention
    kind: str  # module, class, function
    summary: str
    sections: set[str] = field(default_factory=set)
    tests: list[TestCase] = field(default_factory=list)

    @property
    def short(self) -> str:
        return self.qualname.rsplit(".", 1)[-1]


@dataclass
class TestCase:
    nodeid: str  # tests/ch04/test_conv.py::test_x
    name: str
    kind: str  # erratum, oracle, reference, behaviour
    doc: str
    line: int


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _summary(doc: str) -> str:
    first = doc.strip().split("\n\n")[0]
    return " ".join(first.split())


def _refs_to_sections(doc: str) -> set[str]:
    sections, lines = book_refs(doc)
    for line in lines:
        s = section_of_line(line)
        if s:
            sections.add(s)
    return {s for s in sections if s.split(".")[0] in BOOK["chapters"]}


def code_objects() -> list[CodeObject]:
    """Modules and their public top-level classes and functions that cite the book."""
    out = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        mod = _module_name(path)
        if any(p.startswith("_") and p != "__init__" for p in path.relative_to(SRC).with_suffix("").parts):
            continue
        doc = ast.get_docstring(tree) or ""
        secs = _refs_to_sections(doc)
        if secs:
            out.append(CodeObject(mod, "module", _summary(doc), secs))
        for node in tree.body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and not node.name.startswith("_"):
                d = ast.get_docstring(node) or ""
                secs = _refs_to_sections(d)
                if secs:
                    kind = "class" if isinstance(node, ast.ClassDef) else "function"
                    out.append(CodeObject(f"{mod}.{node.name}", kind, _summary(d), secs))
    return out


def test_kind(name: str, doc: str) -> str:
    low = name.lower()
    if low.startswith("test_erratum"):
        return "erratum"
    if any(w in low for w in ORACLE_WORDS) or "oracle" in doc.lower():
        return "oracle"
    if any(w in low for w in REFERENCE_WORDS):
        return "reference"
    return "behaviour"


def test_cases() -> tuple[list[TestCase], dict[str, list[TestCase]]]:
    """Every test function, and ``{identifier: tests that use it}`` (names read from the test's
    body and from what its module imports under that name)."""
    cases, uses = [], defaultdict(list)
    for path in sorted(TESTS.rglob("test_*.py")):
        rel = path.relative_to(REPO).as_posix()
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except SyntaxError:
            continue
        nodes = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test")]
        for cls in (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name.startswith("Test")):
            nodes += [n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test")]
        for node in nodes:
            doc = ast.get_docstring(node) or ""
            case = TestCase(f"{rel}::{node.name}", node.name, test_kind(node.name, doc), doc, node.lineno)
            cases.append(case)
            names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            names |= {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
            names |= {c.value for c in ast.walk(node) if isinstance(c, ast.Constant) and isinstance(c.value, str)
                      and re.fullmatch(r"[A-Za-z_][\w-]*", c.value)}
            for name in names:
                uses[name].append(case)
    return cases, uses


def recipes_by_chapter() -> dict[int, list[tuple[str, str]]]:
    """``{chapter: [(recipe, description)]}`` from the recipe registry (chapter from the recipe's
    ``chNN-`` name, else its module's)."""
    sys.path.insert(0, str(REPO / "src"))
    from tensorprism.recipes import RECIPES

    out: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for name in RECIPES.names():
        entry = RECIPES.get(name)
        m = re.match(r"ch(\d+)", name) or re.search(r"\.ch(\d+)", entry.fn.__module__)
        if m is None:
            continue
        desc = getattr(entry, "description", "") or _summary(entry.fn.__doc__ or "")
        out[int(m.group(1))].append((name, desc))
    return out


def benchmark_rows(recipe: str) -> list[str]:
    """Rows of BENCHMARKS.md (and its detail pages) whose command runs ``recipe``, with their links
    re-pointed for a chapter page (``chapters/chNN.md``)."""
    rows = []
    files = [REPO / "BENCHMARKS.md", *sorted((REPO / "benchmarks" / "results").glob("*.md"))]
    pat = re.compile(rf"prism run {re.escape(recipe)}(?![\w-])")
    for f in files:
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.startswith("|") and pat.search(line):
                line = rewrite_links(line, f, "chapters/page.md")
                cells = [c.strip() for c in line.strip("|").split("|")]
                rows.append(" — ".join(c for c in cells[:-1] if c) or line)
    return list(dict.fromkeys(rows))


# ------------------------------------------------------------------------------------ pages
def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def api_page_of(qualname: str) -> str:
    """The reference page that renders ``qualname``: one page per top-level package/module."""
    parts = qualname.split(".")
    return f"reference/{parts[1] if len(parts) > 1 else 'tensorprism'}.md"


def chapter_pages(objects: list[CodeObject], uses: dict[str, list[TestCase]],
                  recipes: dict[int, list[tuple[str, str]]]) -> dict[int, str]:
    by_chapter: dict[int, dict[str, list[CodeObject]]] = defaultdict(lambda: defaultdict(list))
    for obj in objects:
        for s in obj.sections:
            by_chapter[int(s.split(".")[0])][s].append(obj)
        if obj.kind != "module":
            obj.tests = [t for t in uses.get(obj.short, [])]
    pages = {}
    for ch in sorted(set(by_chapter) | set(recipes)):
        title = BOOK["chapters"].get(str(ch), [f"Chapter {ch}"])[0]
        lines = [f"# Chapter {ch}: {title}", "",
                 "Generated from the code on every build: each book section, the code whose docstrings "
                 "cite it, the tests that exercise that code, and the chapter's recipes with their "
                 "measured results. Test kinds: **reference** (equation path equals the fast path), "
                 "**oracle** (parity with an established library), **erratum** (a correction of the "
                 "book, see [Errata](../errata.md)), **behaviour** (everything else).", ""]
        for s in sorted(by_chapter.get(ch, {}), key=_section_key):
            objs = sorted(by_chapter[ch][s], key=lambda o: (o.kind != "module", o.qualname))
            lines += [f"## §{s} {section_title(s)}".rstrip(), ""]
            for obj in objs:
                link = f"[`{obj.qualname}`](../{api_page_of(obj.qualname)}#{obj.qualname})"
                lines.append(f"- {obj.kind} {link}: {_md_escape(obj.summary[:240])}")
                if obj.kind == "module":
                    continue
                tests = obj.tests
                if tests:
                    counts = defaultdict(list)
                    for t in tests:
                        counts[t.kind].append(t)
                    shown = []
                    for kind in ("reference", "oracle", "erratum", "behaviour"):
                        ts = counts.get(kind, [])
                        if ts:
                            names = ", ".join(f"`{t.nodeid}`" for t in ts[:3])
                            more = f" and {len(ts) - 3} more" if len(ts) > 3 else ""
                            shown.append(f"{kind} ({len(ts)}): {names}{more}")
                    lines.append("    - tests — " + "; ".join(shown))
                else:
                    lines.append("    - tests — none names it directly")
            lines.append("")
        rs = recipes.get(ch, [])
        if rs:
            lines += ["## Recipes and measured results", "",
                      "| recipe | what it does | measured (BENCHMARKS.md) |", "|---|---|---|"]
            for name, desc in sorted(rs):
                rows = benchmark_rows(name)
                measured = "<br>".join(_md_escape(r) for r in rows[:3]) or "not in BENCHMARKS.md yet"
                lines.append(f"| `prism run {name}` | {_md_escape(desc)} | {measured} |")
            lines.append("")
        pages[ch] = "\n".join(lines) + "\n"
    return pages


def errata_page(cases: list[TestCase]) -> str:
    errata = [c for c in cases if c.kind == "erratum"]
    by_chapter: dict[int | None, list[tuple[TestCase, list[int]]]] = defaultdict(list)
    for c in errata:
        _, lines = book_refs(c.doc)
        m = re.match(r"tests/ch(\d+)/", c.nodeid)
        ch = int(m.group(1)) if m else None
        if ch is None and lines:
            ch = chapter_of_line(min(lines))
        if ch is None:
            secs = SECTION_RE.findall(c.doc) or CHAPTER_RE.findall(c.doc)
            ch = int(secs[0].split(".")[0]) if secs else None
        by_chapter[ch].append((c, sorted(lines)))
    out = ["# Errata", "",
           f"Where the book's equations, examples or listings are wrong, tensorprism implements what "
           f"is right and pins the correction with a `test_erratum_*` test. This page is generated "
           f"from those {len(errata)} tests: each docstring cites the book (line numbers of the book "
           f"text the catalogue uses), says what the book has and what is right; the test proves it.", ""]
    for ch in sorted(by_chapter, key=lambda c: (c is None, c or 0)):
        head = f"Chapter {ch}: {BOOK['chapters'][str(ch)][0]}" if ch is not None and str(ch) in BOOK["chapters"] else "Other"
        out += [f"## {head}", "", "| book lines | what the book has, and what is right | test |", "|---|---|---|"]
        for c, lines in sorted(by_chapter[ch], key=lambda cl: (cl[1][:1] or [0], cl[0].nodeid)):
            where = ", ".join(str(n) for n in lines) or "—"
            sec = {section_of_line(n) for n in lines} - {None}
            if sec:
                where += "<br>§" + ", §".join(sorted(sec, key=_section_key))
            text = _md_escape(" ".join(c.doc.split())) or "(no docstring)"
            out.append(f"| {where} | {text} | `{c.nodeid}` (line {c.line}) |")
        out.append("")
    return "\n".join(out) + "\n"


def readme_sections(*titles: str) -> str:
    """The README's ``## title`` sections, verbatim (links adjusted to the site)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    parts = re.split(r"(?m)^## ", text)
    out = []
    for part in parts[1:]:
        head = part.split("\n", 1)[0].strip()
        if head in titles:
            out.append("## " + part.rstrip() + "\n")
    return rewrite_links("\n".join(out), REPO / "README.md", "getting-started.md")


# links of copied pages: repository path -> site path
def site_path(repo_path: Path) -> str | None:
    rel = repo_path.resolve().relative_to(REPO).as_posix() if repo_path.resolve().is_relative_to(REPO) else None
    if rel is None:
        return None
    if rel == "BENCHMARKS.md":
        return "benchmarks.md"
    if rel.startswith("benchmarks/results/") and rel.endswith(".md"):
        return rel
    if rel == "README.md":
        return "index.md"
    if rel.startswith("docs/") and (DOCS / rel[5:]).exists():
        return rel[5:]
    return None


def rewrite_links(text: str, source: Path, dest: str) -> str:
    """Relative links of ``source`` (a repository file) re-pointed for the site page ``dest``; a link
    to a file that is not on the site becomes its path in code type."""

    def fix(m: re.Match) -> str:
        label, target = m.group(1), m.group(2)
        if re.match(r"^[a-z]+:|^#|^/", target):
            return m.group(0)
        path, _, anchor = target.partition("#")
        new = site_path(source.parent / path)
        if new is None:
            shown = (source.parent / path).resolve()
            rel = shown.relative_to(REPO).as_posix() if shown.is_relative_to(REPO) else path
            return f"{label} (`{rel}`)" if label.strip("`") != rel else f"`{rel}`"
        link = os.path.relpath(new, os.path.dirname(dest) or ".").replace(os.sep, "/")
        return f"[{label}]({link}{'#' + anchor if anchor else ''})"

    return re.sub(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)", fix, text) if text else text


def rewrite_images(text: str, source: Path, dest: str) -> str:
    def fix(m: re.Match) -> str:
        alt, target = m.group(1), m.group(2)
        if re.match(r"^[a-z]+:", target):
            return m.group(0)
        p = (source.parent / target).resolve()
        if p.is_relative_to(DOCS):
            link = os.path.relpath(p.relative_to(DOCS).as_posix(), os.path.dirname(dest) or ".")
            return f"![{alt}]({link})"
        return f"*(picture `{target}` is not on the site)*"

    return re.sub(r"!\[([^\]]*)\]\(([^)\s]+)\)", fix, text)


def copied(source: Path, dest: str) -> str:
    text = source.read_text(encoding="utf-8")
    return rewrite_links(rewrite_images(text, source, dest), source, dest)


def api_pages() -> dict[str, str]:
    pages = {}
    tops = sorted(p.stem for p in SRC.glob("*.py") if not p.stem.startswith("_"))
    tops += sorted(p.name for p in SRC.iterdir() if (p / "__init__.py").exists() and not p.name.startswith("_"))
    pages["reference/tensorprism.md"] = "# tensorprism\n\n::: tensorprism\n    options:\n      show_submodules: false\n"
    for name in sorted(tops):
        pages[f"reference/{name}.md"] = (f"# tensorprism.{name}\n\n::: tensorprism.{name}\n"
                                         "    options:\n      show_submodules: true\n")
    return pages


def all_pages() -> dict[str, str]:
    objects = code_objects()
    cases, uses = test_cases()
    recipes = recipes_by_chapter()
    pages: dict[str, str] = {}
    intro = (REPO / "README.md").read_text(encoding="utf-8").split("\n## ", 1)[0]
    pages["index.md"] = rewrite_links(intro, REPO / "README.md", "index.md") + (
        "\n\n## On this site\n\n- [Getting started](getting-started.md): the two commands, ten lines of "
        "Python, the CLI and the extras\n- Book chapters: each section mapped to code, tests, recipes "
        "and results (see the navigation)\n- [Errata](errata.md): the book's mistakes and the tests that "
        "pin the corrections\n- [Architecture](ARCHITECTURE.md) and the [Trainer guide](training.md)\n"
        "- [Benchmarks](benchmarks.md): measured results\n- API reference: one page per package\n")
    pages["getting-started.md"] = ("# Getting started\n\n"
                                   + readme_sections("Two commands", "Installing", "Ten lines of Python",
                                                     "The CLI at a glance", "Run reports"))
    for ch, text in chapter_pages(objects, uses, recipes).items():
        pages[f"chapters/ch{ch:02d}.md"] = text
    pages["errata.md"] = errata_page(cases)
    pages["benchmarks.md"] = copied(REPO / "BENCHMARKS.md", "benchmarks.md")
    for f in sorted((REPO / "benchmarks" / "results").glob("*.md")):
        dest = f"benchmarks/results/{f.name}"
        pages[dest] = copied(f, dest)
    for f in sorted(DOCS.glob("*.md")):  # the hand-written guides, links fixed in place
        pages[f.name] = copied(f, f.name)
    pages.update(api_pages())
    nav = ["* [Home](index.md)", "* [Getting started](getting-started.md)", "* Book chapters"]
    nav += [f"    * [Chapter {int(p[11:13])}: {BOOK['chapters'].get(str(int(p[11:13])), [''])[0]}]({p})"
            for p in sorted(k for k in pages if k.startswith("chapters/"))]
    nav += ["* [Errata](errata.md)", "* Guides", "    * [Architecture](ARCHITECTURE.md)",
            "    * [Training](training.md)"]
    nav += [f"    * [{f.stem.replace('-', ' ').capitalize()}]({f.name})" for f in sorted(DOCS.glob("*.md"))
            if f.name not in ("ARCHITECTURE.md", "training.md", "index.md")]
    nav += ["* [Benchmarks](benchmarks.md)", "    * Details"]
    nav += [f"        * [{f.stem}](benchmarks/results/{f.name})"
            for f in sorted((REPO / "benchmarks" / "results").glob("*.md"))]
    nav += ["* API reference"] + [f"    * [{p[10:-3]}]({p})" for p in sorted(k for k in pages if k.startswith("reference/"))]
    pages["SUMMARY.md"] = "\n".join(nav) + "\n"
    return pages


def main(out: str | None = None) -> None:
    """Write the pages into ``out``, or into the site being built when run by mkdocs-gen-files."""
    pages = all_pages()
    if out is not None:
        out = Path(out)
        for name, text in pages.items():
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (out / name).write_text(text, encoding="utf-8")
        print(f"{len(pages)} pages in {out}")
        return
    import mkdocs_gen_files

    for name, text in pages.items():
        with mkdocs_gen_files.open(name, "w") as fh:
            fh.write(text)


if __name__ == "__main__":  # by hand: python docs/gen_pages.py OUT_DIR
    main(sys.argv[1] if len(sys.argv) > 1 else "docs-preview")
elif __name__ == "<run_path>":  # mkdocs-gen-files runs this file with runpy
    main()
