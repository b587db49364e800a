"""The Debian ``fortunes`` collection as a document-classification set (book §7.2.3, HAN).

Source: Debian package ``fortunes`` 1:1.99.1-7.3 (``apt-get install --no-install-recommends
fortunes``; BSD-style licence, University of California), files ``/usr/share/games/fortunes/<cat>``
(or a copy in ``<root>/fortunes/``), 43 categories (art, computers, definitions, literature,
people, politics, science, ...), texts separated by lines holding ``%``. This package carries no
offensive-fortune files (those are in ``fortunes-off``). Text is read as UTF-8 (Latin-1 for bytes
that are not), and the typewriter overstrikes some files use (``_\\b``) are removed.

15,217 texts. The split is fixed: the texts are ordered by (category, position in the file) and
:func:`~tensorprism.data.splits.stratified_split` with ``seed=0`` takes 80 / 10 / 10 % per category
(train 12,173 / val 1,522 / test 1,522). ``FORTUNES_SHA256`` pins the content the split was made on;
another version of the package raises :class:`DataError` instead of silently giving another split
(``verify=False`` accepts it).

Each item is ``(text, label)``, ``label`` indexing :data:`FORTUNE_CATEGORIES`.
"""

from __future__ import annotations

import functools
import hashlib
import re
from pathlib import Path

from ...errors import DataError
from .. import DatasetInfo, register_dataset
from ..download import missing
from ..splits import check_split, stratified_split

PACKAGED = Path("/usr/share/games/fortunes")
FORTUNES_SHA256 = "6e293bec50d327a3804ba57031d94232a19aacd803dfe085b184f4814cd7b5d2"
OBTAIN = "`apt-get install --no-install-recommends fortunes` (Debian/Ubuntu; or `make data`), or copy its files into <root>/fortunes/"


def fortune_dir(root: Path) -> Path | None:
    for d in (Path(root) / "fortunes", PACKAGED):
        if d.is_dir() and any(_category_files(d)):
            return d
    return None


def _category_files(d: Path) -> list[Path]:
    return sorted(p for p in d.iterdir() if p.is_file() and not p.is_symlink() and p.suffix not in (".dat", ".u8"))


def _decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return re.sub(r".\x08", "", text)  # typewriter overstrike: "_\bx" -> "x"


@functools.lru_cache(maxsize=2)
def _read(folder: str, verify: bool) -> tuple[tuple[str, ...], tuple[tuple[str, int], ...]]:
    files = _category_files(Path(folder))
    cats = tuple(p.name for p in files)
    items, digest = [], hashlib.sha256()
    for label, p in enumerate(files):
        for t in re.split(r"\n%\n", _decode(p.read_bytes())):
            t = t.strip("\n%").rstrip()
            if t.strip():
                items.append((t, label))
                digest.update(f"{p.name}\0{t}\0".encode())
    if verify and digest.hexdigest() != FORTUNES_SHA256:
        raise DataError(f"the fortunes in {folder} ({len(items)} texts, {len(cats)} categories) differ from the "
                        "version the fixed split was made on (Debian fortunes 1:1.99.1-7.3, 15,217 texts, 43 "
                        "categories); install that version, or pass verify=False to accept another split")
    return cats, tuple(items)


def fortune_categories(root: Path) -> tuple[str, ...]:
    """The category names, in label order."""
    d = fortune_dir(root)
    if d is None:
        raise missing("fortunes", ["<category files>"], [Path(root) / "fortunes", PACKAGED], OBTAIN)
    return _read(str(d), False)[0]


@register_dataset("fortunes", info=DatasetInfo(
    "fortunes", "classification", "15,217 texts in 43 categories; train 12,173 / val 1,522 / test 1,522 (fixed)",
    f"Debian package fortunes 1:1.99.1-7.3 (BSD-style licence); {OBTAIN}", modality="text",
    extra={"num_classes": 43}, model="han"), available=lambda root: fortune_dir(root) is not None)
def fortunes(root: Path, split: str = "train", verify: bool = True) -> list[tuple[str, int]]:
    """``(text, label)`` pairs of ``split`` (``train``, ``val``, ``test`` or ``all``)."""
    check_split(split, ("train", "val", "test", "all"), "fortunes")
    d = fortune_dir(root)
    if d is None:
        raise missing("fortunes", ["<category files>"], [Path(root) / "fortunes", PACKAGED], OBTAIN)
    _, items = _read(str(d), verify)
    if split == "all":
        return list(items)
    idx = stratified_split([y for _, y in items], (0.8, 0.1, 0.1), seed=0)[split]
    return [items[i] for i in idx]
