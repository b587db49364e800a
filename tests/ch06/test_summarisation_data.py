"""The frozen Debian description snapshot and ROUGE (reference path and metric) against rouge-score."""

from __future__ import annotations

import lzma

import pytest

from tensorprism import load_dataset
from tensorprism.data.datasets import debian_descriptions as dd
from tensorprism.errors import ConfigError, DataError
from tensorprism.functional.rouge import (
    lead_sentences,
    oracle_sentences,
    rouge_l,
    rouge_n,
    rouge_scores,
    rouge_tokens,
)

TRANSLATION = """Package: foo
Description-md5: 0
Description-en: Fast widget parser for text files
 Foo parses widgets quickly. It reads text files and writes JSON.
 .
 This package contains the command-line tool.

Package: libfoo-dev
Description-md5: 1
Description-en: Fast widget parser for text files (development files)
 Foo parses widgets quickly. It reads text files and writes JSON.
 .
 This package contains the header files.

Package: nolong
Description-en: A package without an extended description
"""


def test_parse_translation_reads_synopsis_and_paragraphs():
    recs = dd.parse_translation(TRANSLATION)
    assert [r["package"] for r in recs] == ["foo", "libfoo-dev", "nolong"]
    assert recs[0]["synopsis"] == "Fast widget parser for text files"
    assert recs[0]["description"] == ("Foo parses widgets quickly. It reads text files and writes JSON.\n"
                                      "This package contains the command-line tool.")
    assert recs[2]["description"] == ""


def test_build_snapshot_keeps_one_package_per_family_with_a_fixed_split():
    recs = dd.parse_translation(TRANSLATION.replace("quickly.", "quickly, reliably and with a small memory "
                                                    "footprint on every platform that Debian supports."))
    snap = dd.build_snapshot(recs)
    assert [r["package"] for r in snap] == ["foo"]  # libfoo-dev shares the first paragraph; nolong is too short
    assert snap[0]["split"] == dd._split_of("foo") and snap[0]["split"] in dd.SPLITS


def test_shipped_snapshot_splits_are_fixed_and_disjoint():
    splits = {s: load_dataset("debian-descriptions", split=s, with_package=True) for s in ("train", "val", "test")}
    assert {s: len(v) for s, v in splits.items()} == {"train": 12637, "val": 675, "test": 688}
    names = [{p for p, _, _ in v} for v in splits.values()]
    assert not (names[0] & names[1] or names[0] & names[2] or names[1] & names[2])
    assert all(dd._split_of(p) == s for s, v in splits.items() for p, _, _ in v)
    desc, syn = load_dataset("debian-descriptions", split="test")[0]
    assert desc.startswith("0 A.D.") and syn == "Real-time strategy game of ancient warfare"


def test_a_changed_snapshot_is_refused(tmp_path):
    bad = tmp_path / "snap.jsonl.xz"
    bad.write_bytes(lzma.compress(b'{"package": "x", "synopsis": "y", "description": "z", "split": "train"}\n'))
    with pytest.raises(DataError, match="not the frozen snapshot"):
        load_dataset("debian-descriptions", split="train", path=bad)
    assert load_dataset("debian-descriptions", split="all", path=bad, verify=False) == [("z", "y")]
    bad.write_bytes(b"not xz")
    with pytest.raises(DataError, match="xz-compressed"):
        dd.read_snapshot(str(bad), False)
    with pytest.raises(DataError, match="missing"):
        dd.read_snapshot(str(tmp_path / "absent.xz"), False)


def test_rouge_by_hand():
    """Lin (2004) on a small pair, counted by hand: the book's ROUGE-N (line 14834) is the recall."""
    c, r = rouge_tokens("The cat sat on the mat."), rouge_tokens("the cat is on the mat")
    assert c == ["the", "cat", "sat", "on", "the", "mat"]
    p, rec, f = rouge_n(c, r, 1)  # overlap: the x2, cat, on, mat = 5 of 6 and 6
    assert (p, rec) == (5 / 6, 5 / 6) and f == pytest.approx(5 / 6)
    assert rouge_n(c, r, 2)[:2] == (3 / 5, 3 / 5)  # the cat, on the, the mat
    assert rouge_l(c, r)[:2] == (5 / 6, 5 / 6)  # the cat on the mat
    assert rouge_n([], r, 1) == (0.0, 0.0, 0.0)
    with pytest.raises(ConfigError):
        rouge_n(c, r, 0)


def test_rouge_reference_and_metric_equal_rouge_score_on_real_pairs():
    """functional.rouge (the equations) and metrics.qa.rouge (torchmetrics) against the rouge-score
    package (Google's implementation of Lin 2004) on 150 real description/synopsis pairs."""
    rs = pytest.importorskip("rouge_score.rouge_scorer")
    from tensorprism.metrics.qa import rouge

    rows = load_dataset("debian-descriptions", split="val")[:150]
    cands = [d.split("\n")[0][:200] for d, _ in rows]
    refs = [s for _, s in rows]
    scorer = rs.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)
    oracle = [scorer.score(r, c) for c, r in zip(cands, refs, strict=True)]
    ours = [rouge_scores(c, r) for c, r in zip(cands, refs, strict=True)]
    for o, m in zip(oracle, ours, strict=True):
        for key in ("rouge1", "rouge2", "rougeL"):
            assert m[f"{key}_precision"] == pytest.approx(o[key].precision, abs=1e-12)
            assert m[f"{key}_recall"] == pytest.approx(o[key].recall, abs=1e-12)
            assert m[f"{key}_fmeasure"] == pytest.approx(o[key].fmeasure, abs=1e-12)
    batch = rouge(cands, refs)
    for key in ("rouge1", "rouge2", "rougeL"):
        mean = sum(o[key].fmeasure for o in oracle) / len(oracle)
        assert batch[f"{key}_fmeasure"] == pytest.approx(mean, abs=1e-5)


def test_oracle_and_lead_sentences():
    sents = ["This is a long introduction.", "Foo parses widgets quickly.", "It writes JSON files."]
    assert oracle_sentences(sents, "parses widgets fast") == [1]
    assert oracle_sentences(sents, "parses widgets, writes JSON", k=2) == [1, 2]
    assert oracle_sentences(sents, "nothing in common") == []
    assert oracle_sentences([], "anything") == []
    assert lead_sentences(sents) == sents[0] and lead_sentences([], 2) == ""
    with pytest.raises(ConfigError):
        oracle_sentences(sents, "x", k=0)
