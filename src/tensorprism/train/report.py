"""Self-contained HTML reports of run directories (``prism report``).

One static page per run (``<run>/report.html``) and one comparison page across runs. A page needs
nothing at view time: curves and confusion matrices are inline SVG drawn here, pictures the run
left behind (plots, attention maps, Grad-CAM, embeddings, sample grids) are inlined as base64, and
there is no script, so it opens the same from ``file://`` as from a web server.

What a page shows, read from the run directory:

* ``config.yaml`` (model, task, trainer settings) and ``result.json`` of a recipe;
* ``metrics.jsonl``: one curve per metric, each split in its fixed colour (:data:`SPLIT_COLOURS`),
  titled with the metric, the splits and the x axis;
* ``summary.json`` (written at the end of ``fit`` by :func:`write_summary`): the final metrics
  with the checkpoint they were measured on, the confusion matrix and per-class metrics,
  sample predictions, timings and the system the run used.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import platform
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .plots import SPLIT_COLOURS  # one colour per split on every plot of every page

if TYPE_CHECKING:  # pragma: no cover
    from .trainer import Trainer

#: colours of runs on the comparison page (split then tells the dash pattern)
RUN_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
               "#bcbd22", "#17becf", "#ff7f0e")
SPLIT_DASH = {"train": "", "val": "6 3", "test": "2 2"}
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml",
               ".gif": "image/gif"}
SUMMARY = "summary.json"
REPORT = "report.html"


# ------------------------------------------------------------------------------------ reading
@dataclass
class RunData:
    """What a report shows of one run directory."""

    path: Path
    config: dict[str, Any] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    images: list[Path] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.resolve().name

    @property
    def final(self) -> dict[str, float]:
        """The final scalar metrics: ``summary.json``'s, else the last values ``metrics.jsonl`` holds."""
        if self.summary.get("metrics"):
            return {k: v for k, v in self.summary["metrics"].items() if _finite(v)}
        last: dict[str, float] = {}
        for r in self.records:
            last.update({k: v for k, v in r.items() if "/" in k and _finite(v)})
        return last

    @property
    def checkpoint(self) -> str:
        return str(self.summary.get("checkpoint", "last"))


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def read_run(run_dir: str | os.PathLike) -> RunData:
    """Collect the report's material from ``run_dir`` (a run of ``prism train``, a recipe or the
    :class:`~tensorprism.train.Trainer`)."""
    from ..errors import ConfigError
    from .plots import read_metrics

    path = Path(run_dir)
    if not path.is_dir():
        raise ConfigError(f"{path} is not a run directory; pass the folder `prism train` or a recipe wrote")
    run = RunData(path)
    if (path / "config.yaml").exists():
        import yaml

        run.config = yaml.safe_load((path / "config.yaml").read_text()) or {}
    run.records = read_metrics(path / "metrics.jsonl")
    run.summary = _read_json(path / SUMMARY) or {}
    for p in sorted(path.glob("*.json")):
        doc = _read_json(p)
        if isinstance(doc, dict) and "result" in doc:  # recipes/kit.save_result
            run.results[p.stem] = doc
    if not (run.config or run.records or run.results or run.summary):
        raise ConfigError(f"{path} holds no run: expected config.yaml, metrics.jsonl or result.json in it")
    skip = {"tensorboard", "checkpoints", ".lock"}
    run.images = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_TYPES and p.is_file()
                        and not skip & set(p.relative_to(path).parts))
    return run


def curves(records: list[dict[str, Any]]) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """``{metric: {split: [(epoch, value), ...]}}`` from the epoch-level records of ``metrics.jsonl``
    (the final record's test metrics are one point at the last epoch)."""
    series: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        if "batch" in r:
            continue
        for key, value in r.items():
            if "/" in key and _finite(value):
                split, name = key.split("/", 1)
                series[name][split].append((float(r.get("epoch", 0)), float(value)))
    return {k: dict(v) for k, v in sorted(series.items())}


def per_class_metrics(matrix: Sequence[Sequence[float]]) -> list[dict[str, float]]:
    """Precision, recall, F1 and support of each class of a ``(C, C)`` confusion matrix (rows: true
    class, columns: predicted class). A class never predicted has precision 0."""
    c = len(matrix)
    rows = []
    for k in range(c):
        tp = float(matrix[k][k])
        support = float(sum(matrix[k]))
        predicted = float(sum(matrix[i][k] for i in range(c)))
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append({"precision": precision, "recall": recall, "f1": f1, "support": support})
    return rows


# ------------------------------------------------------------------------------------ writing at fit end
def system_info(device: Any = None) -> dict[str, Any]:
    """Python, torch, platform, CPU count, threads and device: what a run's numbers depend on."""
    from importlib.metadata import PackageNotFoundError, version

    import torch

    try:
        ours = version("tensorprism")
    except PackageNotFoundError:  # run from a source tree that was not installed
        ours = "not installed"
    info = {"tensorprism": ours, "python": sys.version.split()[0], "torch": torch.__version__,
            "platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads()}
    if device is not None:
        info["device"] = str(device)
        if str(device).startswith("cuda") and torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def _classes(data: Any) -> list[str] | None:
    for obj in (data, getattr(data, "dataset", None)):
        names = getattr(obj, "classes", None)
        if names:
            return [str(n) for n in names]
    return None


def sample_predictions(trainer: Trainer, n: int = 16, split: str = "test") -> dict[str, Any] | None:
    """The first ``n`` examples of ``split`` (else val) with their true and predicted class, for a
    classification run whose dataset yields ``(x, y)`` pairs; ``None`` for other runs."""
    import torch
    from torch.utils.data import Subset

    if trainer.task.name != "classification":
        return None
    data = trainer.data.get(split) or trainer.data.get("val")
    if data is None or not hasattr(data, "__getitem__") or not hasattr(data, "__len__") or len(data) == 0:
        return None
    idx = list(range(min(n, len(data))))
    pairs = [data[i] for i in idx]
    if not all(isinstance(p, (tuple, list)) and len(p) >= 2 for p in pairs):
        return None
    pred = trainer.predict(Subset(data, idx))
    if pred.ndim > 1:  # scores per class
        pred = pred.argmax(dim=-1)
    xs = [torch.as_tensor(p[0]).detach().float().cpu() for p in pairs]
    names = _classes(data)

    def label(k: int) -> str:
        return names[k] if names and 0 <= k < len(names) else str(k)

    return {"split": split if trainer.data.get(split) is not None else "val",
            "true": [label(int(p[1])) for p in pairs], "pred": [label(int(k)) for k in pred.tolist()],
            "inputs": xs}


def _as_picture(x: Any) -> Any:
    """A ``(H, W)`` or ``(H, W, 3)`` array for an input that looks like an image (a ``(C, H, W)``
    tensor, or a flat vector of a square number of pixels such as digits' 64), else ``None``."""
    import numpy as np

    a = np.asarray(x, dtype=np.float32)
    if a.ndim == 1 and a.size >= 16 and int(math.isqrt(a.size)) ** 2 == a.size:
        side = math.isqrt(a.size)
        return a.reshape(side, side)
    if a.ndim == 3 and a.shape[0] in (1, 3):
        a = a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)
    if a.ndim == 2 or (a.ndim == 3 and a.shape[2] == 3):
        lo, hi = float(a.min()), float(a.max())
        return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    return None


def sample_grid_figure(samples: dict[str, Any], title: str):
    """A matplotlib figure of the samples' pictures titled ``true → predicted`` (wrong ones in red),
    or ``None`` when the inputs are not pictures."""
    pictures = [_as_picture(x) for x in samples["inputs"]]
    if not pictures or any(p is None for p in pictures):
        return None
    from .plots import _figure

    plt = _figure()
    n = len(pictures)
    cols = min(8, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.5 * rows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, pic, t, p in zip(axes.flat, pictures, samples["true"], samples["pred"], strict=False):
        ax.imshow(pic, cmap="gray" if pic.ndim == 2 else None)
        ax.set_title(f"{t} → {p}", fontsize=8, color="black" if t == p else "#d62728")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def write_summary(trainer: Trainer, checkpoint: str | None = None) -> Path:
    """``summary.json`` (final metrics, their checkpoint, confusion matrix, timings, system) and,
    for classification on pictures, ``samples/predictions.png``; called at the end of ``fit``."""
    from .checkpoint import atomic_write_text

    out = trainer.out_dir
    cfg = trainer.config
    if checkpoint is None:
        checkpoint = "best" if getattr(cfg, "restore_best", False) and trainer.loader("val") is not None else "last"
    final = trainer.final_metrics
    summary: dict[str, Any] = {
        "metrics": {k: float(v) for k, v in final.items() if _finite(v)},
        "checkpoint": checkpoint,
        "epochs": trainer.epoch, "epochs_planned": cfg.epochs, "optimizer_steps": trainer.global_step,
        "elapsed_s": round(trainer.elapsed, 3),
        "parameters": sum(p.numel() for p in trainer.model.parameters()),
        "precision": str(trainer.precision), "processes": trainer.world_size,
        "system": system_info(trainer.device), "written": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    for split in ("test", "val"):
        cm = final.get(f"{split}/confusion_matrix")
        if cm is not None:
            matrix = cm.tolist() if hasattr(cm, "tolist") else [list(map(float, row)) for row in cm]
            summary["confusion_matrix"] = {"split": split, "matrix": matrix,
                                           "classes": _classes(trainer.data.get(split))}
            break
    samples = sample_predictions(trainer)
    if samples is not None:
        summary["samples"] = {k: samples[k] for k in ("split", "true", "pred")}
        fig = sample_grid_figure(samples, f"sample predictions, {samples['split']} split, "
                                          f"checkpoint {checkpoint} (true → predicted)")
        if fig is not None:
            (out / "samples").mkdir(exist_ok=True)
            fig.savefig(out / "samples" / "predictions.png", dpi=110)
            import matplotlib.pyplot as plt

            plt.close(fig)
    path = out / SUMMARY
    atomic_write_text(path, json.dumps(summary, indent=1))
    return path


# ------------------------------------------------------------------------------------ SVG
def _ticks(lo: float, hi: float, n: int = 5, integer: bool = False) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    if integer:  # epochs: whole numbers only
        step = max(1, math.ceil(step))
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step + 1e-9) + 1)]


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def svg_lines(lines: list[dict[str, Any]], title: str, xlabel: str, ylabel: str,
              width: int = 460, height: int = 300) -> str:
    """An SVG line chart. ``lines``: ``{"label", "points": [(x, y)], "colour", "dash"}``. Each point
    carries a ``<title>`` tooltip with its value."""
    pts = [p for line in lines for p in line["points"]]
    e = html.escape
    if not pts:
        return ""
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
    y0, y1 = min(p[1] for p in pts), max(p[1] for p in pts)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    if y1 == y0:
        pad = abs(y0) * 0.05 or 1.0
        y0, y1 = y0 - pad, y1 + pad
    left, right, top, bottom = 58, 12, 34, 62 + 16 * ((len(lines) - 1) // 3)
    pw, ph = width - left - right, height - top - bottom

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return top + (1 - (y - y0) / (y1 - y0)) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="figure" role="img" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           f"<title>{e(title)}</title>",
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold">{e(title)}</text>']
    for t in _ticks(y0, y1):
        y = sy(t)
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
    for t in _ticks(x0, x1, 6, integer=all(float(p[0]).is_integer() for p in pts)):
        x = sx(t)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + ph}" stroke="#eee"/>'
                   f'<text x="{x:.1f}" y="{top + ph + 15}" text-anchor="middle">{_fmt(t)}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>')
    out.append(f'<text x="{left + pw / 2}" y="{top + ph + 32}" text-anchor="middle">{e(xlabel)}</text>')
    out.append(f'<text transform="translate(14 {top + ph / 2}) rotate(-90)" text-anchor="middle">{e(ylabel)}</text>')
    for line in lines:
        points = sorted(line["points"])
        dash = f' stroke-dasharray="{line["dash"]}"' if line.get("dash") else ""
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
        out.append(f'<polyline fill="none" stroke="{line["colour"]}" stroke-width="2"{dash} points="{path}"/>')
        if len(points) <= 60:
            for x, y in points:
                out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{line["colour"]}">'
                           f"<title>{e(line['label'])}: {_fmt(y)} at {xlabel} {_fmt(x)}</title></circle>")
    for i, line in enumerate(lines):  # legend under the plot, three per row
        lx, ly = left + (i % 3) * (pw / 3), top + ph + 48 + 16 * (i // 3)
        dash = f' stroke-dasharray="{line["dash"]}"' if line.get("dash") else ""
        out.append(f'<line x1="{lx:.1f}" x2="{lx + 22:.1f}" y1="{ly - 4}" y2="{ly - 4}" stroke="{line["colour"]}" '
                   f'stroke-width="2"{dash}/><text x="{lx + 27:.1f}" y="{ly}">{e(line["label"])}</text>')
    out.append("</svg>")
    return "".join(out)


def svg_confusion(matrix: Sequence[Sequence[float]], title: str, labels: Sequence[str] | None = None) -> str:
    """An SVG heat map of a ``(C, C)`` confusion matrix (rows: true class, columns: predicted)."""
    e = html.escape
    c = len(matrix)
    labels = [str(x) for x in labels] if labels and len(labels) == c else [str(i) for i in range(c)]
    cell = max(14, min(40, 420 // max(c, 1)))
    left, top = 70, 50
    width, height = max(left + c * cell + 20, 400), top + c * cell + 50  # room for the title
    peak = max((float(v) for row in matrix for v in row), default=0.0) or 1.0
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="figure" role="img" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="10">',
           f"<title>{e(title)}</title>", f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold">{e(title)}</text>']
    for i in range(c):
        for j in range(c):
            v = float(matrix[i][j])
            shade = v / peak
            r, g, b = (int(247 - shade * (247 - 8)), int(251 - shade * (251 - 48)), int(255 - shade * (255 - 107)))
            x, y = left + j * cell, top + i * cell
            out.append(f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="rgb({r},{g},{b})" stroke="#fff">'
                       f"<title>true {e(labels[i])}, predicted {e(labels[j])}: {int(v)}</title></rect>")
            if c <= 20:
                colour = "white" if shade > 0.5 else "black"
                out.append(f'<text x="{x + cell / 2}" y="{y + cell / 2 + 4}" text-anchor="middle" fill="{colour}">{int(v)}</text>')
    if c <= 40:
        for k, name in enumerate(labels):
            out.append(f'<text x="{left - 4}" y="{top + k * cell + cell / 2 + 4}" text-anchor="end">{e(name[:10])}</text>')
            out.append(f'<text x="{left + k * cell + cell / 2}" y="{top - 4}" text-anchor="middle">{e(name[:4])}</text>')
    out.append(f'<text x="{left + c * cell / 2}" y="{top + c * cell + 20}" text-anchor="middle">predicted class (columns); true class (rows)</text>')
    out.append("</svg>")
    return "".join(out)


# ------------------------------------------------------------------------------------ HTML
STYLE = """
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
.figs{display:flex;flex-wrap:wrap;gap:14px}.figs figure{margin:0}figcaption{font-size:.85em;color:#555}
pre{background:#f7f7f7;padding:8px;overflow:auto;font-size:.85em}img.figure{max-width:520px;border:1px solid #eee}
.swatch{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}
.wrong{color:#d62728}
"""


def _page(title: str, body: list[str]) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")


def _table(header: Sequence[str], rows: list[Sequence[Any]]) -> str:
    e = html.escape

    def cell(v: Any) -> str:
        if _finite(v) and not isinstance(v, int):
            return f'<td class="num">{v:.4f}</td>'
        if isinstance(v, int) and not isinstance(v, bool):
            return f'<td class="num">{v:,}</td>'
        return f"<td>{e(str(v))}</td>"

    head = "".join(f"<th>{e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _image_tag(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img class="figure" alt="{html.escape(alt)}" src="data:{IMAGE_TYPES[path.suffix.lower()]};base64,{data}">'


def _describe_model(config: dict[str, Any]) -> str:
    model = config.get("model") or {}
    if isinstance(model, dict):
        return str(model.get("name") or model.get("class") or "?")
    return str(model)


def _split_legend() -> str:
    return " ".join(f'<span class="swatch" style="background:{c}"></span>{s}' for s, c in SPLIT_COLOURS.items())


def _results_section(results: dict[str, dict[str, Any]]) -> list[str]:
    """A recipe's ``result.json``: scalars as a table, lists of strings (generated text,
    translations) as samples, anything else as JSON."""
    body = []
    for name, doc in results.items():
        result = doc.get("result", {})
        body.append(f"<h2>Result: {html.escape(name)}.json</h2>")
        if not isinstance(result, dict):
            body.append(f"<pre>{html.escape(json.dumps(result, indent=1))}</pre>")
            continue
        scalars = [(k, v) for k, v in result.items() if _finite(v) or isinstance(v, str)]
        if scalars:
            body.append(_table(["quantity", "value"], scalars))
        for k, v in result.items():
            if isinstance(v, list) and v and all(isinstance(s, str) for s in v):
                items = "".join(f"<li>{html.escape(s)}</li>" for s in v[:50])
                body.append(f"<h3>{html.escape(k)}</h3><ol>{items}</ol>")
            elif isinstance(v, (dict, list)) and not (isinstance(v, list) and all(isinstance(s, str) for s in v)):
                body.append(f"<details><summary>{html.escape(k)}</summary><pre>"
                            f"{html.escape(json.dumps(v, indent=1)[:20000])}</pre></details>")
        if doc.get("config"):
            body.append("<details><summary>recipe settings</summary><pre>"
                        f"{html.escape(json.dumps(doc['config'], indent=1))}</pre></details>")
    return body


def render_run(run: RunData) -> str:
    """The HTML of one run's report."""
    e = html.escape
    cfg, summary, ckpt = run.config, run.summary, run.checkpoint
    dataset = (cfg.get("dataset") or {}).get("name") if isinstance(cfg.get("dataset"), dict) else cfg.get("dataset")
    task = (cfg.get("task") or {}).get("name") if isinstance(cfg.get("task"), dict) else cfg.get("task")
    body = [f"<h1>Run {e(run.name)}</h1>",
            f"<p>model <b>{e(_describe_model(cfg))}</b>" + (f", dataset <b>{e(str(dataset))}</b>" if dataset else "")
            + (f", task <b>{e(str(task))}</b>" if task else "")
            + (f", {summary['parameters']:,} parameters" if summary.get("parameters") else "")
            + f"; folder <code>{e(str(run.path.resolve()))}</code></p>"]
    final = run.final
    if final:
        rows = sorted(final.items(), key=lambda kv: ({"test": 0, "val": 1, "train": 2}.get(kv[0].split("/")[0], 3), kv[0]))
        body.append(f"<h2>Final metrics (checkpoint: {e(ckpt)})</h2>")
        body.append(_table(["metric", "value"], rows))
    series = curves(run.records)
    if series:
        body.append(f"<h2>Curves</h2><p>splits: {_split_legend()}</p><div class=\"figs\">")
        for metric, splits in series.items():
            lines = [{"label": s, "points": pts, "colour": SPLIT_COLOURS.get(s, "#555"), "dash": ""}
                     for s, pts in sorted(splits.items(), key=lambda kv: list(SPLIT_COLOURS).index(kv[0])
                                          if kv[0] in SPLIT_COLOURS else 9)]
            title = f"{metric}: {', '.join(splits)} by epoch"
            body.append(f"<figure>{svg_lines(lines, title, 'epoch', metric)}</figure>")
        body.append("</div>")
    cm = summary.get("confusion_matrix")
    if cm:
        title = f"Confusion matrix, {cm['split']} split, checkpoint {ckpt}"
        body.append(f"<h2>Confusion matrix and per-class metrics ({e(cm['split'])} split)</h2><div class=\"figs\">")
        body.append(f"<figure>{svg_confusion(cm['matrix'], title, cm.get('classes'))}</figure>")
        names = cm.get("classes") or [str(i) for i in range(len(cm["matrix"]))]
        rows = [(names[k] if k < len(names) else k, r["precision"], r["recall"], r["f1"], int(r["support"]))
                for k, r in enumerate(per_class_metrics(cm["matrix"]))]
        body.append(f"<div>{_table(['class', 'precision', 'recall', 'F1', 'support'], rows)}</div></div>")
    samples = summary.get("samples")
    if samples:
        body.append(f"<h2>Sample predictions ({e(samples['split'])} split, checkpoint {e(ckpt)})</h2>")
        cells = "".join(f"<tr><td>{i}</td><td>{e(t)}</td><td class=\"{'' if t == p else 'wrong'}\">{e(p)}</td></tr>"
                        for i, (t, p) in enumerate(zip(samples["true"], samples["pred"], strict=False)))
        body.append(f"<table><thead><tr><th>#</th><th>true</th><th>predicted</th></tr></thead><tbody>{cells}</tbody></table>")
    body += _results_section(run.results)
    # the PNG twins of the SVG figures above (plots/loss.png, plots/confusion_matrix.png) are left out
    drawn = {f"plots/{m.replace('/', '_')}.png" for m in series} | ({"plots/confusion_matrix.png"} if cm else set())
    pictures = [p for p in run.images if p.relative_to(run.path).as_posix() not in drawn]
    if pictures:
        body.append("<h2>Pictures of the run</h2><div class=\"figs\">")
        for p in pictures:
            rel = p.relative_to(run.path).as_posix()
            body.append(f"<figure>{_image_tag(p, rel)}<figcaption>{e(rel)}</figcaption></figure>")
        body.append("</div>")
    timing = [(k, summary[k]) for k in ("epochs", "epochs_planned", "optimizer_steps", "elapsed_s", "precision",
                                        "processes", "written") if k in summary]
    epoch_times = [r["time"] for r in run.records if "time" in r and "batch" not in r and not r.get("final")]
    if len(epoch_times) > 1:
        steps = [b - a for a, b in zip(epoch_times, epoch_times[1:], strict=False)]
        timing.append(("seconds per epoch (median)", sorted(steps)[len(steps) // 2]))
    if timing:
        body.append("<h2>Timings</h2>" + _table(["quantity", "value"], timing))
    if summary.get("system"):
        body.append("<h2>System</h2>" + _table(["item", "value"], list(summary["system"].items())))
    if cfg:
        import yaml

        body.append("<h2>Configuration</h2><details open><summary>config.yaml</summary><pre>"
                    f"{e(yaml.safe_dump(cfg, sort_keys=False))}</pre></details>")
    return _page(f"tensorprism run {run.name}", body)


def write_run_report(run_dir: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """Write ``<run_dir>/report.html`` (or ``out``) and return its path."""
    from .checkpoint import atomic_write_text

    run = read_run(run_dir)
    path = Path(out) if out else run.path / REPORT
    atomic_write_text(path, render_run(run))
    return path


def render_comparison(runs: list[RunData], reports: list[Path] | None = None, where: Path | None = None) -> str:
    """The HTML of the comparison page: the runs' final metrics side by side and each metric's
    curves of every run on one plot (colour: run, dash: split)."""
    e = html.escape
    body = [f"<h1>Comparison of {len(runs)} runs</h1>"]
    names = [r.name for r in runs]
    if len(set(names)) < len(names):
        names = [str(r.path) for r in runs]
    rows = []
    for i, (run, name) in enumerate(zip(runs, names, strict=True)):
        link = e(name)
        if reports and where is not None:
            rel = os.path.relpath(reports[i], where)
            link = f'<a href="{e(Path(rel).as_posix())}">{e(name)}</a>'
        colour = RUN_COLOURS[i % len(RUN_COLOURS)]
        rows.append(f'<tr><td><span class="swatch" style="background:{colour}"></span>{link}</td>'
                    f"<td>{e(_describe_model(run.config))}</td><td>{e(run.checkpoint)}</td></tr>")
    body.append("<h2>Runs</h2><table><thead><tr><th>run</th><th>model</th><th>checkpoint</th></tr></thead>"
                f"<tbody>{''.join(rows)}</tbody></table>")
    keys = sorted({k for r in runs for k in r.final}, key=lambda k: ({"test": 0, "val": 1, "train": 2}.get(k.split("/")[0], 3), k))
    if keys:
        table = [[k, *[r.final.get(k, "") for r in runs]] for k in keys]
        body.append("<h2>Final metrics</h2>" + _table(["metric", *names], table))
    per_run = [curves(r.records) for r in runs]
    metrics = sorted({m for s in per_run for m in s})
    if metrics:
        dashes = ", ".join(f"{s}: {'solid' if not d else 'dashed' if d == '6 3' else 'dotted'}" for s, d in SPLIT_DASH.items())
        body.append(f"<h2>Curves</h2><p>colour: run; line: split ({dashes})</p><div class=\"figs\">")
        for metric in metrics:
            lines = []
            for i, (s, name) in enumerate(zip(per_run, names, strict=True)):
                for split, pts in sorted(s.get(metric, {}).items(), key=lambda kv: (
                        list(SPLIT_COLOURS).index(kv[0]) if kv[0] in SPLIT_COLOURS else 9, kv[0])):
                    lines.append({"label": f"{name} {split}", "points": pts,
                                  "colour": RUN_COLOURS[i % len(RUN_COLOURS)], "dash": SPLIT_DASH.get(split, "4 2")})
            order = list(SPLIT_COLOURS)
            splits = sorted({ln["label"].rsplit(" ", 1)[1] for ln in lines},
                            key=lambda sp: (order.index(sp) if sp in order else len(order), sp))
            title = f"{metric}: {', '.join(splits)} by epoch"
            body.append(f"<figure>{svg_lines(lines, title, 'epoch', metric, width=520, height=340)}</figure>")
        body.append("</div>")
    return _page("tensorprism run comparison", body)


def write_comparison(run_dirs: Sequence[str | os.PathLike], out: str | os.PathLike) -> Path:
    """Write the comparison page of ``run_dirs`` to ``out`` (linking to their ``report.html``)."""
    from .checkpoint import atomic_write_text

    runs = [read_run(d) for d in run_dirs]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    reports = [r.path / REPORT for r in runs]
    atomic_write_text(out, render_comparison(runs, reports, out.parent))
    return out


__all__ = ["SPLIT_COLOURS", "RunData", "read_run", "curves", "per_class_metrics", "system_info",
           "sample_predictions", "sample_grid_figure", "write_summary", "svg_lines", "svg_confusion",
           "render_run", "write_run_report", "render_comparison", "write_comparison"]
