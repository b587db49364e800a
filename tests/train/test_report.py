"""Run reports (``prism report``) and what the Trainer leaves for them and for TensorBoard.

The browser test opens the pages in Debian's Chromium driven by Playwright (``make browser``
installs it): no console message or page error, no request leaves the page (self-contained,
``file://``), and every figure is drawn (its screenshot is not blank). Without Chromium or
Playwright it skips with the reason, and fails under ``CI=true``.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import pytest
from torch.utils.data import Subset

from tensorprism import load_dataset
from tensorprism.cli import main
from tensorprism.errors import ConfigError
from tensorprism.models import create_model
from tensorprism.testing import in_ci
from tensorprism.train import Trainer
from tensorprism.train.report import (
    SPLIT_COLOURS,
    curves,
    per_class_metrics,
    read_run,
    render_run,
    svg_confusion,
    svg_lines,
)


@pytest.fixture(scope="module")
def digits_runs(tmp_path_factory) -> list[Path]:
    """Two short digits runs written by the Trainer (with TensorBoard where it is installed)."""
    root = tmp_path_factory.mktemp("runs")
    data = {s: load_dataset("digits", split=s) for s in ("train", "val", "test")}
    data["train"] = Subset(data["train"], range(480))  # a short run is all the report needs
    runs = []
    for name, lr, epochs in (("a", 3e-3, 2), ("b", 1e-3, 1)):
        model = create_model("mlp", in_features=64, num_classes=10, hidden=(32,))
        Trainer(model, "classification", train_data=data["train"], val_data=data["val"], test_data=data["test"],
                epochs=epochs, lr=lr, batch_size=64, out_dir=str(root / name), progress=False, seed=0,
                tensorboard=name == "a").fit()
        runs.append(root / name)
    return runs


def test_per_class_metrics():
    rows = per_class_metrics([[3, 1], [0, 2]])  # class 0: 3 of 4 right; class 1 predicted 3 times, 2 right
    assert rows[0] == pytest.approx({"precision": 1.0, "recall": 0.75, "f1": 6 / 7, "support": 4})
    assert rows[1] == pytest.approx({"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2})
    assert per_class_metrics([[0, 0], [1, 0]])[0]["precision"] == 0.0  # never predicted


def test_curves_by_split_and_metric():
    records = [{"epoch": 1, "train/loss": 1.0, "val/loss": 1.2, "val/acc": 0.5},
               {"epoch": 1, "batch": 3, "train/loss": 9.0},  # a step record is not an epoch point
               {"epoch": 2, "train/loss": 0.5, "val/loss": 0.9, "val/acc": 0.7},
               {"epoch": 2, "final": True, "test/acc": 0.68}]
    c = curves(records)
    assert c["loss"] == {"train": [(1.0, 1.0), (2.0, 0.5)], "val": [(1.0, 1.2), (2.0, 0.9)]}
    assert c["acc"]["test"] == [(2.0, 0.68)]


def test_svg_figures_are_titled_and_coloured():
    svg = svg_lines([{"label": "val", "points": [(1, 0.5), (2, 0.7)], "colour": SPLIT_COLOURS["val"]}],
                    "acc: val by epoch", "epoch", "acc")
    assert svg.startswith("<svg") and "acc: val by epoch" in svg and SPLIT_COLOURS["val"] in svg
    cm = svg_confusion([[5, 1], [0, 4]], "Confusion matrix, test split, checkpoint best", ["cat", "dog"])
    assert "test split, checkpoint best" in cm and "true cat, predicted dog: 1" in cm


def test_read_run_refuses_a_folder_without_a_run(tmp_path):
    with pytest.raises(ConfigError, match="holds no run"):
        read_run(tmp_path)
    with pytest.raises(ConfigError, match="not a run directory"):
        read_run(tmp_path / "missing")


def test_trainer_writes_a_self_contained_report(digits_runs):
    run = digits_runs[0]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["checkpoint"] == "last" and summary["epochs"] == 2
    assert 0.0 < summary["metrics"]["test/acc"] <= 1.0
    assert len(summary["confusion_matrix"]["matrix"]) == 10 and summary["confusion_matrix"]["split"] == "test"
    assert len(summary["samples"]["true"]) == 16 and (run / "samples" / "predictions.png").exists()
    assert summary["system"]["torch"]
    page = (run / "report.html").read_text()
    for section in ("Final metrics (checkpoint: last)", "Curves", "Confusion matrix, test split",
                    "per-class metrics", "Sample predictions (test split", "Timings", "System", "config.yaml"):
        assert section in page, section
    assert "loss: train, val, test by epoch" in page
    # nothing is fetched at view time: no external URL in a src/href, no script, no stylesheet link
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<script" not in page and "<link" not in page
    assert page.count('src="data:image/png;base64,') >= 1  # the sample grid, inlined


def test_prism_report_writes_pages_and_comparison(digits_runs, tmp_path, capsys):
    runs = [tmp_path / "a", tmp_path / "b"]
    for src, dst in zip(digits_runs, runs, strict=True):
        shutil.copytree(src, dst)
        (dst / "report.html").unlink()
    assert main(["report", str(runs[0]), str(runs[1])]) == 0
    assert all((r / "report.html").exists() for r in runs)
    compare = (tmp_path / "compare.html").read_text()
    assert 'href="a/report.html"' in compare and 'href="b/report.html"' in compare
    assert "Comparison of 2 runs" in compare and "test/acc" in compare
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "not a run directory" in capsys.readouterr().err


def test_report_of_a_recipe_run_shows_its_result(tmp_path):
    out = tmp_path / "recipe"
    out.mkdir()
    (out / "result.json").write_text(json.dumps({"result": {"bleu": 31.5, "samples": ["a cat sits", "two dogs"]},
                                                 "config": {"epochs": 3}}))
    page = render_run(read_run(out))
    assert "Result: result.json" in page and "31.5" in page and "<li>two dogs</li>" in page


def test_tensorboard_gets_test_metrics_hparams_and_images(digits_runs):
    pytest.importorskip("tensorboard", reason="TensorBoard is the [tensorboard] extra")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(digits_runs[0] / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    tags = acc.Tags()
    assert {"final/test/acc", "final/test/loss", "val/acc", "train/loss"} <= set(tags["scalars"])
    assert {"test/confusion_matrix", "test/sample_predictions"} <= set(tags["images"])
    assert acc.Images("test/confusion_matrix")[0].width > 100
    assert acc.PluginTagToContent("hparams")  # the HParams tab's session and experiment records


# ------------------------------------------------------------------------------------ browser
def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _need_browser():
    reason = None
    if _chromium() is None:
        reason = "no Chromium (make browser installs Debian's chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "Playwright is not installed (pip install 'tensorprism[dev]')"
    if reason:
        if in_ci():
            pytest.fail(reason + " (CI=true: the browser test must run)")
        pytest.skip(reason)


def _blank(png: bytes) -> bool:
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("L")
    lo, hi = img.getextrema()
    return hi - lo < 30  # one flat colour: nothing was drawn


def test_report_pages_render_in_a_browser(digits_runs, tmp_path):
    _need_browser()
    from playwright.sync_api import sync_playwright

    runs = [tmp_path / "a", tmp_path / "b"]
    for src, dst in zip(digits_runs, runs, strict=True):
        shutil.copytree(src, dst)
    assert main(["report", str(runs[0]), str(runs[1])]) == 0
    pages = [runs[0] / "report.html", tmp_path / "compare.html"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            messages, requests = [], []
            page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: messages.append(f"page error: {e}"))
            page.on("request", lambda r: requests.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
            for html_file in pages:
                page.goto(html_file.as_uri(), wait_until="load")
                figures = page.query_selector_all(".figure")
                assert len(figures) >= (5 if html_file.name == "report.html" else 3), html_file
                for fig in figures:
                    box = fig.bounding_box()
                    assert box and box["width"] > 50 and box["height"] > 50
                    assert not _blank(fig.screenshot()), f"a blank figure in {html_file.name}"
                broken = page.evaluate("[...document.images].filter(i => !i.complete || i.naturalWidth === 0).length")
                assert broken == 0
            # the comparison page's links open the run pages from file://
            with page.expect_navigation():
                page.click('a[href="a/report.html"]')
            assert page.url.endswith("a/report.html") and "Run a" in page.content()
            assert not messages, messages
            assert not requests, requests
        finally:
            browser.close()
