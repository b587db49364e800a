"""Multi30k German→English with a GRU encoder–decoder and Bahdanau attention (book §5.6.1, N6 on
real data), scored with sacreBLEU on test2016.

Text is lower-cased and split into words and punctuation (:class:`~tensorprism.data.text.
WordTokenizer`); vocabularies keep tokens seen at least ``min_freq`` times in training
(``tokenizer="bpe"`` trains byte-level BPE vocabularies with ``tokenizers`` instead). Batches
are length-bucketed. Training uses teacher forcing with a schedule (constant 1.0 by default),
Adam, gradient-norm clipping and the generic Trainer; the checkpoint with the best validation BLEU
(greedy decoding) is used for the test set, decoded greedily and with beam search. Two BLEU
numbers are reported: on the lower-cased tokenised text (the usual setting of the GRU + attention
results on this data) and sacreBLEU's standard 13a tokenisation against the lower-cased raw
references.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass

import torch

from . import register_recipe
from .ch05_common import Items
from .kit import RecipeConfig, make_trainer, save_result


@dataclass
class TranslationConfig(RecipeConfig):
    src_lang: str = "de"
    tgt_lang: str = "en"
    tokenizer: str = "word"  # "word" (vocabulary of words seen min_freq times) or "bpe"
    min_freq: int = 2
    bpe_vocab: int = 8000
    embed_dim: int = 256
    hidden_size: int = 512
    attn_dim: int = 512
    attention: str = "bahdanau"
    cell: str = "gru"
    dropout: float = 0.3
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    grad_clip_norm: float = 1.0
    tf_schedule: str = "constant"
    tf_start: float = 1.0
    tf_end: float = 1.0
    label_smoothing: float = 0.0
    max_train: int | None = None
    max_eval: int | None = None  # score only the first N validation / test sentences (quick runs)
    max_len: int = 60
    num_beams: int = 5
    length_penalty: float = 1.0
    time_budget_s: float | None = None
    seed: int = 0
    device: str = "auto"


class _Side:
    """One language's tokeniser: words (lower-cased, ``min_freq`` cut-off) or byte-level BPE
    trained on the lower-cased training text (:mod:`tensorprism.data.text.subword`)."""

    def __init__(self, kind: str, texts: list[str], cfg):
        from ..data.text import WordTokenizer

        self.kind = kind
        if kind == "word":
            self.tok = WordTokenizer().fit(texts, min_freq=cfg.min_freq)
            self.pad, self.bos, self.eos = (self.tok.vocab.id(t) for t in ("<pad>", "<bos>", "<eos>"))
            self.unk = self.tok.vocab.unk_id
        elif kind == "bpe":
            from ..data.text.subword import train_bpe

            self.tok = train_bpe([t.lower() for t in texts], vocab_size=cfg.bpe_vocab, add_bos_eos=True)
            self.pad, self.bos, self.eos, self.unk = self.tok.pad_id, self.tok.bos_id, self.tok.eos_id, self.tok.pad_id
        else:
            from ..errors import ConfigError

            raise ConfigError(f"tokenizer must be 'word' or 'bpe', got {kind!r}")

    def __len__(self) -> int:
        return len(self.tok)

    def encode(self, text: str, specials: bool) -> list[int]:
        if self.kind == "word":
            ids = self.tok.encode(text, bos=specials, eos=specials)
        else:
            ids = self.tok.encode(text.lower(), add_special_tokens=specials)
        return ids or [self.unk]

    def decode(self, ids: list[int]) -> str:
        return self.tok.decode(ids)

    def pieces(self, ids: list[int]) -> list[str]:
        if self.kind == "word":
            return self.tok.vocab.lookup(ids)
        return [self.tok.tokenizer.id_to_token(i) for i in ids]


def _decode_all(model, pairs_ids, batch_size, device, **kw):
    from ..data.text import pad_sequences

    order = sorted(range(len(pairs_ids)), key=lambda i: len(pairs_ids[i]))
    out: list = [None] * len(pairs_ids)
    for s in range(0, len(order), batch_size):
        idx = order[s:s + batch_size]
        src = pad_sequences([pairs_ids[i] for i in idx]).to(device)
        lengths = torch.tensor([len(pairs_ids[i]) for i in idx], device=device)
        for i, hyp in zip(idx, model.translate(src, lengths, **kw), strict=True):
            out[i] = hyp
    return out


@register_recipe("ch05-translation", config=TranslationConfig)
def translation(cfg: TranslationConfig) -> dict:
    """Train and evaluate; returns test2016 BLEU (greedy and beam), val BLEU per epoch, time."""
    from ..optional import check_available

    check_available(["sacrebleu", "tokenizers"], feature="recipe ch05-translation")
    from .. import create_model, load_dataset
    from ..data.text import BucketBatchSampler, PadCollator, WordTokenizer
    from ..metrics.text import bleu
    from ..train.tasks.seq2seq import Seq2SeqTask

    pairs = {s: load_dataset("multi30k", split=s, src=cfg.src_lang, tgt=cfg.tgt_lang)
             for s in ("train", "val", "test2016")}
    pairs["train"] = pairs["train"][: cfg.max_train]
    pairs["val"], pairs["test2016"] = pairs["val"][: cfg.max_eval], pairs["test2016"][: cfg.max_eval]
    src_tok = _Side(cfg.tokenizer, [a for a, _ in pairs["train"]], cfg)
    tgt_tok = _Side(cfg.tokenizer, [b for _, b in pairs["train"]], cfg)
    pad, bos, eos = tgt_tok.pad, tgt_tok.bos, tgt_tok.eos
    collate = PadCollator(("src", "tgt"), pad_id=pad)
    words = WordTokenizer()  # BLEU on lower-cased word tokens, whatever the model's tokeniser

    def encode(rows):
        return [(src_tok.encode(a, False), tgt_tok.encode(b, True)) for a, b in rows]

    data = {s: encode(r) for s, r in pairs.items()}
    sampler = BucketBatchSampler([len(a) for a, _ in data["train"]], cfg.batch_size, seed=cfg.seed)
    train_loader = torch.utils.data.DataLoader(Items(data["train"], collate), batch_sampler=sampler,
                                               collate_fn=collate)
    model = create_model("gru-attention-multi30k", src_vocab=len(src_tok), tgt_vocab=len(tgt_tok),
                         embed_dim=cfg.embed_dim, hidden_size=cfg.hidden_size, attn_dim=cfg.attn_dim,
                         attention=cfg.attention, cell=cfg.cell, dropout=cfg.dropout, pad_id=pad,
                         bos_id=bos, eos_id=eos)
    task = Seq2SeqTask(pad_id=pad, schedule=cfg.tf_schedule, start=cfg.tf_start, end=cfg.tf_end,
                       total_steps=cfg.epochs * len(sampler), label_smoothing=cfg.label_smoothing)
    # one fit per epoch (each continues the run), the model chosen by validation BLEU in between
    trainer = make_trainer(cfg, model, task, train_loader, epochs=1, lr=cfg.lr, optimizer="adam",
                           grad_clip_norm=cfg.grad_clip_norm, precision="32")
    device = trainer.device

    def detok(ids):
        return tgt_tok.decode(ids)

    def score(split, **kw):
        hyps = [detok(h) for h in _decode_all(model, [a for a, _ in data[split]], 256, device,
                                              max_len=cfg.max_len, **kw)]
        hyps_tok = hyps if cfg.tokenizer == "word" else [" ".join(words.tokenize(h)) for h in hyps]
        refs_tok = [" ".join(words.tokenize(b)) for _, b in pairs[split]]
        return (bleu(hyps_tok, refs_tok, tokenize="none"), bleu(hyps, [b.lower() for _, b in pairs[split]]), hyps)

    t0 = time.perf_counter()
    curve, best = [], {"val_bleu": -1.0}
    for epoch in range(cfg.epochs):
        trainer.config.epochs = epoch + 1
        trainer.fit()
        val_bleu = score("val")[0]
        curve.append({"epoch": epoch + 1, "train_loss": trainer.history["train/loss"][-1], "val_bleu": val_bleu,
                      "seconds": round(time.perf_counter() - t0, 1)})
        if val_bleu > best["val_bleu"]:
            best = {"val_bleu": val_bleu, "epoch": epoch + 1, "state": copy.deepcopy(model.state_dict())}
        if cfg.time_budget_s is not None and time.perf_counter() - t0 > cfg.time_budget_s:
            break
    train_seconds = time.perf_counter() - t0
    model.load_state_dict(best.pop("state"))
    greedy_tok, greedy_13a, hyps = score("test2016")
    beam_tok, beam_13a, beam_hyps = score("test2016", num_beams=cfg.num_beams, length_penalty=cfg.length_penalty)
    examples = [{"src": pairs["test2016"][i][0], "ref": pairs["test2016"][i][1], "greedy": hyps[i],
                 "beam": beam_hyps[i]} for i in range(5)]
    if cfg.out_dir:
        from pathlib import Path

        from ..models.rnn.seq2seq import plot_alignment

        Path(cfg.out_dir).mkdir(parents=True, exist_ok=True)
        a, _ = data["test2016"][0]
        src = torch.tensor([a], device=device)
        hyp = _decode_all(model, [a], 1, device, max_len=cfg.max_len)[0]
        tgt_in = torch.tensor([[bos, *hyp]], device=device)
        model.eval()
        with torch.no_grad():
            _, w = model(src, tgt_in, return_attention=True)
        # row i holds the weights used while emitting hyp[i] (query: the state before it)
        plot_alignment(w[0, : len(hyp)].cpu(), src_tok.pieces(a), tgt_tok.pieces(hyp),
                       Path(cfg.out_dir) / "alignment.png")
    result = {"test2016_bleu_greedy": greedy_tok, "test2016_bleu_beam": beam_tok,
              "test2016_sacrebleu13a_greedy": greedy_13a, "test2016_sacrebleu13a_beam": beam_13a,
              "best_val_bleu": best["val_bleu"], "best_epoch": best["epoch"], "curve": curve,
              "train_seconds": round(train_seconds, 1), "vocab": [len(src_tok), len(tgt_tok)],
              "device": str(device), "examples": examples, "config": asdict(cfg)}
    return save_result(cfg, result)
