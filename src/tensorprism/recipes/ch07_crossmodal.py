"""Cross-modal attention on digit scenes: VQA and captioning (book §7.3.2, §7.5.3, case study §7.6.2)::

    prism run ch07-vqa          # question tokens attend to image regions vs mean-pooled regions
    prism run ch07-captioning   # decoder states attend to image regions vs the mean region

Data: :mod:`tensorprism.data.datasets.digit_scenes` (real MNIST digits on a 2×2 grid; held-out
digit compositions in ``test-heldout``). VQA reports accuracy overall, per question type and on
held-out compositions; captioning reports BLEU-4 (sacreBLEU on the space-separated tokens) and
exact match of greedy captions on ``test`` and ``test-heldout``. Pictures: the attention over the
image regions for test questions / for each generated word.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import register_recipe
from .ch07_common import Ch07Config, compare, fit, overlay_maps, pictures_dir, seed_all, subset


@dataclass
class Ch07VQAConfig(Ch07Config):
    """Attributes:
        train_scenes: scenes generated for training (val, test, test-heldout: ``max_eval`` or 1,000).
        d_model: width of regions, question states and attention.
        heads: attention heads (VQA; captioning uses one).
        layers: rounds of cross-modal attention (VQA).
    """

    train_scenes: int = 10000
    d_model: int = 64
    heads: int = 4
    layers: int = 2
    epochs: int = 8


def _loader(ds, batch_size: int):
    return torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=False)


@torch.no_grad()
def _vqa_scores(model, ds, batch_size: int = 256) -> dict:
    """Accuracy overall and per question type."""
    model.eval()
    preds = []
    for (img, q), _ in _loader(ds, batch_size):
        preds.append(model(img, q).argmax(1))
    right = torch.cat(preds) == ds.targets
    out = {"acc": float(right.float().mean())}
    for t in sorted(set(ds.qtypes)):
        sel = torch.tensor([q == t for q in ds.qtypes])
        out[f"acc/{t}"] = float(right[sel].float().mean())
    return out


def _n(cfg, default: int = 1000) -> int:
    return cfg.max_eval or default


@register_recipe("ch07-vqa", config=Ch07VQAConfig,
                 description="VQA on MNIST digit scenes: cross-modal attention vs mean-pooled regions")
def vqa_recipe(cfg: Ch07VQAConfig) -> dict:
    """VQA on MNIST digit scenes: cross-modal attention vs mean-pooled regions; returns the test accuracies."""
    from ..data import load_dataset
    from ..data.datasets.digit_scenes import ANSWERS, WORDS, decode
    from ..models import create_model
    from .kit import save_result

    n_train = cfg.max_train or cfg.train_scenes
    train = load_dataset("digit-vqa", split="train", n=n_train, seed=cfg.seed)
    evals = {s: load_dataset("digit-vqa", split=s, n=_n(cfg), seed=0) for s in ("val", "test", "test-heldout")}
    out, models = {}, {}
    for role, attention in (("attention", True), ("baseline", False)):
        seed_all(cfg.seed)
        model = create_model("digit-vqa-net" if attention else "digit-vqa-net-mean", vocab_size=len(WORDS),
                             num_answers=len(ANSWERS), d_model=cfg.d_model, heads=cfg.heads, layers=cfg.layers)
        _, _ = fit(cfg, role, model, "multi-input-classification", train, evals["val"], None, eval_batch_size=256,
                   dataset={"name": "digit-vqa", "config": {"n": n_train, "seed": cfg.seed}})
        scores = {"parameters": sum(p.numel() for p in model.parameters())}
        for split in ("test", "test-heldout"):
            for k, v in _vqa_scores(model, evals[split]).items():
                scores[k if split == "test" else f"heldout/{k}"] = v
        out[role], models[role] = scores, model
    pics = pictures_dir(cfg)
    if pics is not None and cfg.pictures:
        ds, k = evals["test"], min(cfg.pictures, len(evals["test"]))
        img = torch.stack([ds[i][0][0] for i in range(k)])
        q = torch.stack([ds[i][0][1] for i in range(k)])
        with torch.no_grad():
            logits, w = models["attention"].eval().attend(img, q)
        g = models["attention"].regions.grid
        mask = (q != 0).float()
        maps = ((w.mean(1) * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)).view(k, g, g)  # heads, words
        titles = [f"{decode(q[i])}\n-> {ANSWERS[int(logits[i].argmax())]}" for i in range(k)]
        overlay_maps(pics / "vqa-attention.png", img, maps, titles)
    return save_result(cfg, compare(out["attention"], out["baseline"]))


@dataclass
class Ch07CaptionConfig(Ch07VQAConfig):
    train_scenes: int = 5000
    max_len: int = 8


@torch.no_grad()
def _caption_scores(model, ds, max_len: int) -> dict:
    from ..data.datasets.digit_scenes import decode
    from ..metrics.text import bleu

    model.eval()
    hyps = []
    for batch in _loader(ds, 256):
        hyps += [decode(row[1:]) for row in model.generate(batch["src"], max_len=max_len)]
    refs = ds.captions
    return {"bleu4": bleu(hyps, refs, tokenize="none"),
            "exact_match": sum(h == r for h, r in zip(hyps, refs, strict=True)) / len(refs)}


@register_recipe("ch07-captioning", config=Ch07CaptionConfig,
                 description="Captioning MNIST digit scenes: attention over regions vs the mean region")
def captioning_recipe(cfg: Ch07CaptionConfig) -> dict:
    """Captioning of MNIST digit scenes with an attention decoder; returns the test caption scores."""
    from ..data import load_dataset
    from ..data.datasets.digit_scenes import WORDS, decode
    from ..models import create_model
    from ..train.tasks.seq2seq import Seq2SeqTask
    from .kit import save_result

    train = load_dataset("digit-captions", split="train", n=cfg.max_train or cfg.train_scenes, seed=cfg.seed)
    evals = {s: load_dataset("digit-captions", split=s, n=_n(cfg), seed=0) for s in ("val", "test", "test-heldout")}
    out, models = {}, {}
    for role, attention in (("attention", True), ("baseline", False)):
        seed_all(cfg.seed)
        model = create_model("digit-captioner" if attention else "digit-captioner-mean", vocab_size=len(WORDS),
                             d_model=cfg.d_model)
        _, _ = fit(cfg, role, model, Seq2SeqTask(pad_id=0), train, evals["val"], None, eval_batch_size=256)
        scores = {"parameters": sum(p.numel() for p in model.parameters())}
        for split in ("test", "test-heldout"):
            for k, v in _caption_scores(model, evals[split], cfg.max_len).items():
                scores[k if split == "test" else f"heldout/{k}"] = v
        out[role], models[role] = scores, model
    pics = pictures_dir(cfg)
    if pics is not None and cfg.pictures:
        ds = evals["test-heldout"]
        k = min(cfg.pictures, len(ds))
        net = models["attention"].eval()
        imgs, maps, titles = [], [], []
        with torch.no_grad():
            for i in range(min(2, k)):
                img = ds[i]["src"][None]
                ids = net.generate(img, max_len=cfg.max_len)
                _, w = net.attend(img, ids[:, :-1])
                words = decode(ids[0, 1:]).split()
                for t, word in enumerate(words):
                    imgs.append(img[0])
                    maps.append(w[0, t].view(net.regions.grid, net.regions.grid))
                    titles.append(word)
        if imgs:
            overlay_maps(pics / "caption-attention.png", torch.stack(imgs), torch.stack(maps), titles)
    return save_result(cfg, compare(out["attention"], out["baseline"]))


__all__ = ["Ch07VQAConfig", "Ch07CaptionConfig", "vqa_recipe", "captioning_recipe", "subset"]
