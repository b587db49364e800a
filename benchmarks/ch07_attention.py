"""Chapter 7 case studies: each attention model against its no-attention baseline, several seeds.

    python benchmarks/ch07_attention.py OUT_DIR                       # every study, seeds 0 1 2, "idle" budgets
    python benchmarks/ch07_attention.py OUT_DIR --budget tiny         # the first, contended-machine budgets
    python benchmarks/ch07_attention.py OUT_DIR --only vqa audio --seeds 0 1 2
    python benchmarks/ch07_attention.py OUT_DIR --summary             # the table from the runs in OUT_DIR

Each run writes ``OUT_DIR/<study>-seed<k>/`` (the recipe's run directory, with its
``result.json`` and pictures); a run already finished is not repeated. ``--summary`` prints, per
study, the main metric of the attention model and of the baseline (mean ± standard deviation over
the seeds) and the paired difference (mean ± standard deviation of attention - baseline per seed),
as a Markdown table, and writes ``OUT_DIR/summary.json``.

Two budgets, both for one CPU thread per run: ``tiny`` (about 1 minute per seed and study: what a
2-core machine shared by many jobs allowed) and ``idle`` (about 5-8x the training of ``tiny``: 2-6
minutes per seed and study on an idle core). Raise ``epochs``/``max_train`` further on a GPU.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import traceback
from pathlib import Path

from tensorprism.recipes import run_recipe

QUIET = dict(progress=False, tensorboard=False, plots=False, device="cpu", threads=1)
# study -> (recipe, settings of the "tiny" budget, [(metric key, label)])
STUDIES = {
    "attention-cnn": ("ch07-attention-cnn", dict(max_train=1000, max_eval=400, epochs=2),
                      [("acc", "CIFAR-10 test acc")]),
    "cbam-resnet20": ("ch07-cbam-resnet20", dict(max_train=600, max_eval=400, epochs=2),
                      [("acc", "CIFAR-10 test acc")]),
    "han": ("ch07-han", dict(max_train=4000, epochs=3, embed_dim=48, hidden_size=24, max_sentences=6, max_words=20),
            [("acc", "fortunes test acc (43 classes)"), ("f1", "fortunes test macro-F1")]),
    "vqa": ("ch07-vqa", dict(train_scenes=600, max_eval=300, epochs=3, d_model=32, heads=2, layers=2),
            [("acc", "VQA test acc"), ("heldout/acc", "VQA held-out acc"), ("acc/count", "count"),
             ("acc/largest", "largest"), ("acc/left-of", "left-of"), ("acc/above", "above"),
             ("acc/position", "position")]),
    "captioning": ("ch07-captioning", dict(train_scenes=600, max_eval=300, epochs=3, d_model=32),
                   [("bleu4", "BLEU-4 test"), ("exact_match", "exact match test"),
                    ("heldout/bleu4", "BLEU-4 held-out"), ("heldout/exact_match", "exact match held-out")]),
    "video": ("ch07-video", dict(train_videos=300, max_eval=150, epochs=3, frames=8, channels=32),
              [("acc", "Moving MNIST sum acc (19 classes)")]),
    "audio": ("ch07-audio", dict(epochs=15, hidden_size=64), [("acc", "spoken digits test acc (unseen speakers)")]),
    "translation": ("ch07-translation", dict(settings=dict(max_train=2000, max_eval=200, epochs=2, embed_dim=64,
                                                           hidden_size=64, attn_dim=64, num_beams=1)),
                    [("test2016_bleu_greedy", "Multi30k test2016 BLEU (greedy)")]),
}

# the "idle" budget: settings that replace the tiny ones (audio is already trained to convergence)
IDLE = {
    "attention-cnn": dict(max_train=5000, max_eval=1000, epochs=3),
    "cbam-resnet20": dict(max_train=3000, max_eval=1000, epochs=3),
    "han": dict(max_train=8000, epochs=4, embed_dim=64, hidden_size=32),
    "vqa": dict(train_scenes=3000, max_eval=500, epochs=4),
    "captioning": dict(train_scenes=3000, max_eval=500, epochs=4),
    "video": dict(train_videos=1500, max_eval=300, epochs=4),
    "audio": {},
    "translation": dict(settings=dict(max_train=10000, max_eval=500, epochs=3, embed_dim=64, hidden_size=64,
                                      attn_dim=64, num_beams=1)),
}


def study_settings(study: str, budget: str) -> dict:
    """The recipe settings of ``study`` at ``budget`` (``tiny`` or ``idle``)."""
    settings = dict(STUDIES[study][1])
    if budget == "idle":
        settings.update(IDLE[study])
    return settings


def run(out: Path, studies: list[str], seeds: list[int], budget: str = "idle") -> None:
    for study in studies:
        recipe = STUDIES[study][0]
        settings = study_settings(study, budget)
        for seed in seeds:
            folder = out / f"{study}-seed{seed}"
            if (folder / "result.json").exists():
                continue
            t0 = time.perf_counter()
            try:
                run_recipe(recipe, **{**QUIET, **settings, "seed": seed, "out_dir": str(folder), "overwrite": True})
                print(f"{study} seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
            except Exception:  # keep going: the other studies still give their numbers
                traceback.print_exc()


def summary(out: Path) -> str:
    rows, doc = [], {}
    for study, (_, _, metrics) in STUDIES.items():
        results = sorted(out.glob(f"{study}-seed*/result.json"))
        if not results:
            continue
        res = [json.loads(p.read_text())["result"] for p in results]
        pairs = [(key, label, "baseline") for key, label in metrics]
        if all("han_mean" in r for r in res):  # HAN also against the same network without attention
            pairs += [(key, f"{label}, vs HAN with mean pooling", "han_mean") for key, label in metrics]
        for key, label, other in pairs:
            a = [r["attention"].get(key) for r in res]
            b = [r[other].get(key) for r in res]
            if any(v is None for v in a + b):
                continue
            d = [x - y for x, y in zip(a, b, strict=True)]

            def ms(v):
                return f"{statistics.mean(v):.3f} ± {statistics.stdev(v) if len(v) > 1 else 0.0:.3f}"

            rows.append(f"| {study} | {label} | {len(res)} | {ms(a)} | {ms(b)} | {ms(d)} |")
            doc[f"{study}/{key}/{other}"] = {"attention": a, "baseline": b, "difference": d}
    (out / "summary.json").write_text(json.dumps(doc, indent=2))
    head = ("| study | metric | seeds | attention (mean ± sd) | baseline (mean ± sd) | attention - baseline (mean ± sd) |\n"
            "|---|---|---|---|---|---|")
    return head + "\n" + "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--only", nargs="*", choices=sorted(STUDIES))
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    ap.add_argument("--budget", choices=("tiny", "idle"), default="idle")
    ap.add_argument("--summary", action="store_true")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not args.summary:
        run(out, args.only or list(STUDIES), args.seeds, args.budget)
    print(summary(out))


if __name__ == "__main__":
    main()
