"""Why did the teacher hurt? Distillation on MNIST across teacher quality, alpha, T and budget.

Runs ``prism run ch11-distill`` (a ``simple-cnn`` student with 4 filters and 16 hidden units on
2,000 training images, with and without a LeNet-5 teacher, same seeds and steps in both arms) for
each setting of a small grid, and writes one table row per setting:

    TENSORPRISM_DATA=... python benchmarks/ch11_distill_sweep.py --out /tmp/distill [--weak-teacher RUN/teacher]

The first setting trains the strong teacher (``--teacher-epochs`` on ``--teacher-train`` images);
the others reuse it. ``--weak-teacher`` adds settings with an earlier, weaker teacher run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tensorprism.recipes import run_recipe

# (label, teacher: "strong" | "weak", alpha, temperature, student epochs, student (channels, hidden))
SMALL, LARGE = ((4,), (16,)), ((16,), (64,))
GRID = [
    ("strong teacher, alpha 0.9, T 4, 5 ep", "strong", 0.9, 4.0, 5, SMALL),
    ("strong teacher, alpha 0.5, T 4, 5 ep", "strong", 0.5, 4.0, 5, SMALL),
    ("strong teacher, alpha 0.5, T 2, 5 ep", "strong", 0.5, 2.0, 5, SMALL),
    ("weak teacher, alpha 0.5, T 4, 5 ep", "weak", 0.5, 4.0, 5, SMALL),
    ("strong teacher, alpha 0.5, T 4, 20 ep", "strong", 0.5, 4.0, 20, SMALL),
    ("strong teacher, alpha 0.5, T 4, 5 ep, 16-filter 64-unit student", "strong", 0.5, 4.0, 5, LARGE),
    ("strong teacher, alpha 0.5, T 4, 20 ep, 16-filter 64-unit student", "strong", 0.5, 4.0, 20, LARGE),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--teacher-run", default=None, help="a trained strong teacher (else the first setting trains it)")
    ap.add_argument("--weak-teacher", default=None, help="run directory of a weaker teacher (its checkpoint)")
    ap.add_argument("--teacher-epochs", type=int, default=2)
    ap.add_argument("--teacher-train", type=int, default=30000)
    ap.add_argument("--student-train", type=int, default=2000)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--only", type=int, nargs="*", default=None, help="indices into the grid")
    args = ap.parse_args()
    out = Path(args.out)
    rows = []
    strong = args.teacher_run
    for i, (label, which, alpha, temp, epochs, (channels, hidden)) in enumerate(GRID):
        if args.only is not None and i not in args.only:
            continue
        teacher = strong if which == "strong" else args.weak_teacher
        if which == "weak" and not teacher:
            continue
        run = out / f"setting{i}"
        res = run_recipe("ch11-distill", out_dir=str(run), overwrite=True, threads=1, progress=False,
                         tensorboard=False, plots=False, teacher_run=teacher, teacher_epochs=args.teacher_epochs,
                         teacher_max_train=args.teacher_train, student_train=args.student_train,
                         student_epochs=epochs, seeds=args.seeds, alpha=alpha, temperature=temp,
                         student_channels=channels, student_hidden=hidden)
        res = res.get("result", res)
        if which == "strong" and strong is None:
            strong = str(run / "teacher")
        s = res["students"]
        rows.append({"setting": label, "teacher_acc": res["teacher_acc"], "student_params": res["student_params"],
                     "alpha": alpha, "temperature": temp,
                     "student_epochs": epochs, "plain": s["student"], "distilled": s["student+teacher"]})
        print(json.dumps(rows[-1]), flush=True)
        (out / f"sweep{'-' + '-'.join(map(str, args.only)) if args.only else ''}.json").write_text(json.dumps(rows, indent=1))
    lines = ["| setting | teacher acc | student params | student alone | student + teacher | difference |", "|---|---|---|---|---|---|"]
    for r in rows:
        p, d = r["plain"], r["distilled"]
        lines.append(f"| {r['setting']} | {100 * r['teacher_acc']:.2f} % | {r['student_params']:,} | {100 * p['mean']:.2f} ± {100 * p['std']:.2f} % "
                     f"| {100 * d['mean']:.2f} ± {100 * d['std']:.2f} % | {100 * (d['mean'] - p['mean']):+.2f} |")
    (out / f"sweep{'-' + '-'.join(map(str, args.only)) if args.only else ''}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
