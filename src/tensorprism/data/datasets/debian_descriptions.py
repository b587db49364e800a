"""Debian package descriptions as a summarisation set: long description -> one-line synopsis.

Every Debian package has a *synopsis* (one line, e.g. "Real-time strategy game of ancient
warfare") and an *extended description* (a few paragraphs) written by its maintainer. They are
real (description -> synopsis) pairs for Chapter 6's summarisation (O15, N5, N6) and unlabelled
domain text for continued pre-training (O14).

Source: Debian 12.15 "bookworm" ``main/i18n/Translation-en`` (``Date: Sat, 11 Jul 2026``),
63,956 entries; ``apt-cache dumpavail`` lists the packages, but on a system with
``Acquire::Languages "none"`` it carries only the synopsis, so the long texts are read from the
translation file that ``apt-get -o Acquire::Languages=en update`` fetches. The snapshot is frozen in
the package (``data/files/debian-descriptions-bookworm-12.15.jsonl.xz``, pinned by
:data:`SNAPSHOT_SHA256`) so the split never changes; :func:`build_snapshot` and the module's
``__main__`` regenerate it from a translation file (see ``--help``).

Selection (in :func:`build_snapshot`):

* paragraphs of the extended description are joined with ``"\\n"``; lines of verbatim text
  (indented) and bullet lists are folded into their paragraph;
* kept when the description has 2-12 sentences (:func:`~tensorprism.data.text.documents.split_sentences`)
  and 120-900 characters, and the synopsis 3-16 words;
* packages sharing their *first paragraph* (the ``-dev``/``-doc``/``-data`` families of one
  source, which differ only in the last sentence) keep one member, the first by name, so no family
  straddles two splits;
* 14,000 pairs are drawn with ``random.Random(0)``; each is assigned to ``train`` / ``val`` /
  ``test`` (90 / 5 / 5 %) by the SHA-256 of its package name, and the split is stored in the file.

Each item is ``(description, synopsis)``; ``with_package=True`` adds the package name.
Licence: the descriptions are the packages' metadata, distributed by Debian with the archive.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import lzma
import random
import re
from collections.abc import Iterable
from pathlib import Path

from ...errors import DataError
from .. import DatasetInfo, register_dataset
from ..splits import check_split

SNAPSHOT = Path(__file__).resolve().parent.parent / "files" / "debian-descriptions-bookworm-12.15.jsonl.xz"
SNAPSHOT_SHA256 = "820c128946d00a7fe72eac86b3a70f5aedcb3697c54704eb86e1bb4515b49457"
SPLITS = ("train", "val", "test")
__all__ = ["SNAPSHOT", "SNAPSHOT_SHA256", "parse_translation", "build_snapshot", "write_snapshot",
           "read_snapshot", "debian_descriptions"]


def parse_translation(text: str) -> list[dict[str, str]]:
    """``[{"package", "synopsis", "description"}]`` from a Debian ``Translation-en`` file.

    A record is a block of ``Field: value`` lines; ``Description-en``'s first line is the synopsis
    and its continuation lines (starting with a space) the extended description, where a line
    holding only ``.`` separates paragraphs (Debian Policy §5.6.13). Paragraphs are joined by
    ``"\\n"``, the lines inside a paragraph by a space.
    """
    out = []
    for block in text.split("\n\n"):
        package, synopsis, lines, in_desc = None, None, [], False
        for line in block.split("\n"):
            if line.startswith("Package:"):
                package, in_desc = line.split(":", 1)[1].strip(), False
            elif line.startswith("Description-en:"):
                synopsis, in_desc = line.split(":", 1)[1].strip(), True
            elif line.startswith(" ") and in_desc:
                lines.append(line[1:])
            else:
                in_desc = False
        if not package or synopsis is None:
            continue
        paragraphs, cur = [], []
        for line in lines:
            if line.strip() == ".":
                paragraphs.append(" ".join(cur))
                cur = []
            else:
                cur.append(line.strip())
        paragraphs.append(" ".join(cur))
        description = "\n".join(p for p in (re.sub(r"\s+", " ", q).strip() for q in paragraphs) if p)
        out.append({"package": package, "synopsis": synopsis, "description": description})
    return out


def _split_of(package: str) -> str:
    bucket = int(hashlib.sha256(package.encode()).hexdigest(), 16) % 20
    return "test" if bucket == 0 else "val" if bucket == 1 else "train"


def build_snapshot(records: Iterable[dict[str, str]], size: int = 14000, seed: int = 0) -> list[dict[str, str]]:
    """The selection documented in the module docstring: filtered, one per family, ``size`` drawn
    with ``random.Random(seed)``, each with its ``split``; ordered by package name."""
    from ..text.documents import split_sentences

    families: dict[str, dict[str, str]] = {}
    for r in sorted(records, key=lambda r: r["package"]):
        d, s = r["description"], r["synopsis"]
        if not (120 <= len(d) <= 900 and 3 <= len(s.split()) <= 16 and 2 <= len(split_sentences(d)) <= 12):
            continue
        families.setdefault(d.split("\n", 1)[0], r)
    kept = sorted(families.values(), key=lambda r: r["package"])
    if len(kept) > size:
        kept = sorted(random.Random(seed).sample(kept, size), key=lambda r: r["package"])
    return [{**r, "split": _split_of(r["package"])} for r in kept]


def write_snapshot(records: list[dict[str, str]], path: str | Path) -> str:
    """Write ``records`` as xz-compressed JSON lines (deterministic bytes); returns the SHA-256."""
    body = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records).encode()
    data = lzma.compress(body, preset=9 | lzma.PRESET_EXTREME)
    Path(path).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def read_snapshot(path: str = str(SNAPSHOT), verify: bool = True) -> tuple[dict[str, str], ...]:
    """All records of a snapshot file; ``verify`` checks :data:`SNAPSHOT_SHA256` (``DataError``)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"the Debian description snapshot {p} is missing; it ships with tensorprism "
                        "(reinstall the package) or regenerate it: python -m "
                        "tensorprism.data.datasets.debian_descriptions --help")
    stat = p.stat()
    return _read(str(p), verify, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=2)
def _read(path: str, verify: bool, mtime_ns: int, size: int) -> tuple[dict[str, str], ...]:
    """The parse, cached per file version (``mtime_ns``/``size`` make a rewritten file a new key)."""
    p = Path(path)
    data = p.read_bytes()
    if verify and hashlib.sha256(data).hexdigest() != SNAPSHOT_SHA256:
        raise DataError(f"{p} is not the frozen snapshot (SHA-256 {hashlib.sha256(data).hexdigest()[:12]}... "
                        f"expected {SNAPSHOT_SHA256[:12]}...); the fixed split belongs to the shipped file, "
                        "pass verify=False to read another one")
    try:
        rows = [json.loads(line) for line in lzma.decompress(data).decode().splitlines() if line]
    except (lzma.LZMAError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{p} is not an xz-compressed JSON-lines snapshot ({e})") from e
    for i, r in enumerate(rows):
        if not {"package", "synopsis", "description", "split"} <= set(r) or r["split"] not in SPLITS:
            raise DataError(f"{p} line {i + 1} lacks package/synopsis/description/split: {sorted(r)}")
    return tuple(rows)


@register_dataset("debian-descriptions", info=DatasetInfo(
    "debian-descriptions", "seq2seq", "14,000 (description, synopsis) pairs; train/val/test fixed in the file",
    "Debian 12.15 bookworm main Translation-en, frozen in the package (data/files/)", modality="text",
    model="transformer-small"), available=lambda root: SNAPSHOT.is_file())
def debian_descriptions(root: Path | None = None, split: str = "train", with_package: bool = False,
                        path: str | Path | None = None, verify: bool = True) -> list[tuple[str, ...]]:
    """``(description, synopsis)`` pairs of ``split`` (``train``, ``val``, ``test`` or ``all``);
    ``with_package`` prepends the package name. ``path`` reads another snapshot file (then
    ``verify=False``). ``root`` is unused: the snapshot ships with the library."""
    check_split(split, (*SPLITS, "all"), "debian-descriptions")
    rows = read_snapshot(str(path or SNAPSHOT), verify)
    rows = [r for r in rows if split == "all" or r["split"] == split]
    if with_package:
        return [(r["package"], r["description"], r["synopsis"]) for r in rows]
    return [(r["description"], r["synopsis"]) for r in rows]


def main(argv: list[str] | None = None) -> None:
    """Command line: regenerate the snapshot from a Translation-en file and print its SHA-256."""
    ap = argparse.ArgumentParser(description="Freeze Debian (description, synopsis) pairs from a Translation-en "
                                 "file: apt-get -o Dir::State::Lists=L -o Acquire::Languages=en update, then "
                                 "/usr/lib/apt/apt-helper cat-file L/*bookworm_main_i18n_Translation-en.lz4 > T")
    ap.add_argument("translation", help="the uncompressed Translation-en file")
    ap.add_argument("out", nargs="?", default=str(SNAPSHOT))
    ap.add_argument("--size", type=int, default=14000)
    args = ap.parse_args(argv)
    recs = build_snapshot(parse_translation(Path(args.translation).read_text(encoding="utf-8")), args.size)
    digest = write_snapshot(recs, args.out)
    counts = {s: sum(r["split"] == s for r in recs) for s in SPLITS}
    print(f"{len(recs)} pairs {counts} -> {args.out}\nsha256 {digest}")


if __name__ == "__main__":
    main()
