"""Chapter 7 case studies: each attention model against its no-attention baseline, several seeds.

    python benchmarks/ch07_attention.py OUT_DIR                       # every study, seeds 0 1 2, CPU budgets
    python benchmarks/ch07_attention.py OUT_DIR --only vqa audio --seeds 0 1 2
    python benchmarks/ch07_attention.py OUT_DIR --summary             # the table from the runs in OUT_DIR

Each run writes ``OUT_DIR/<study>-seed<k>/`` (the recipe's run directory, with its
``result.json`` and pictures); a run already finished is not repeated. ``--summary`` prints, per
study, the main metric of the attention model and of the baseline (mean ± standard deviation over
the seeds) and the paired difference (mean ± standard deviation of attention - baseline per seed),
as a Markdown table, and writes ``OUT_DIR/summary.json``.

The budgets below are the small CPU budgets of BENCHMARKS.md (a 2-core machine shared by many
jobs); raise ``epochs``/``max_train`` on a free machine.
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
# study -> (recipe, settings, [(metric key, label)])
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


def run(out: Path, studies: list[str], seeds: list[int]) -> None:
    for study in studies:
        recipe, settings, _ = STUDIES[study]
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
    ap.add_argument("--summary", action="store_true")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not args.summary:
        run(out, args.only or list(STUDIES), args.seeds)
    print(summary(out))


if __name__ == "__main__":
    main()
