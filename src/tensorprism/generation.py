"""Autoregressive decoding over any model that can take one step (book §6.4.2, §6.7; N1, N2).

A model is seen only through a *step function*::

    step(tokens, state) -> (logits, state)

``tokens`` are the ids not yet fed to the model, ``(B, t)`` (the whole prompt on the first call,
then ``(B, 1)``); ``logits`` are the next-token scores ``(B, V)``; ``state`` is whatever the model
carries between calls (a KV cache, RNN hidden states, encoder outputs for seq2seq), ``None`` at
first unless the caller passes an initial state. So the same decoders serve GPT, the
encoder–decoder Transformer and RNN seq2seq models.

Beam search reorders the state when beams are re-ranked: tensors in (nested) tuples, lists and
dicts are indexed along dim 0; any other object must provide ``reorder(index) -> state``.

Strategies: greedy (the book's ``generate(..., max_length=100)``, which it mislabels "sampling",
line 13779), sampling with temperature, top-k and nucleus (top-p) filtering, repetition penalty
(Keskar et al. 2019), stop tokens, streaming, and beam search with a length penalty
``score = log P(y) / |y|^alpha`` (Wu et al. 2016 use a smoothed variant; this is the form of
``transformers``' ``length_penalty``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from .errors import ConfigError, ShapeError

StepFn = Callable[[Tensor, Any], tuple[Tensor, Any]]

__all__ = [
    "GenerationConfig",
    "generate",
    "stream",
    "beam_search",
    "top_k_filter",
    "top_p_filter",
    "apply_repetition_penalty",
    "reorder_state",
]


@dataclass
class GenerationConfig:
    """Decoding options. ``do_sample=False`` and ``num_beams=1`` is greedy decoding."""

    max_new_tokens: int = 50
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 0  # 0: off
    top_p: float = 1.0  # 1.0: off
    repetition_penalty: float = 1.0  # 1.0: off; > 1 discourages tokens already present
    num_beams: int = 1
    length_penalty: float = 1.0
    early_stopping: bool = False  # beam search: stop a row once num_beams hypotheses finished
    stop_tokens: Sequence[int] = field(default_factory=tuple)
    pad_token: int = 0
    min_new_tokens: int = 0

    def __post_init__(self) -> None:
        if self.temperature <= 0:
            raise ConfigError(f"temperature must be > 0, got {self.temperature}; use do_sample=False for greedy")
        if not 0.0 < self.top_p <= 1.0:
            raise ConfigError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0 or self.num_beams < 1 or self.max_new_tokens < 0:
            raise ConfigError("top_k >= 0, num_beams >= 1 and max_new_tokens >= 0 are required")
        if self.repetition_penalty <= 0:
            raise ConfigError(f"repetition_penalty must be > 0, got {self.repetition_penalty}")
        if self.num_beams > 1 and self.do_sample:
            raise ConfigError("beam search is deterministic here: set do_sample=False with num_beams > 1")
        self.stop_tokens = tuple(int(t) for t in self.stop_tokens)


def _config(config: GenerationConfig | None, overrides: dict) -> GenerationConfig:
    base = config or GenerationConfig()
    return dataclasses.replace(base, **overrides) if overrides else base


# ------------------------------------------------------------------------------- logit processors


def top_k_filter(logits: Tensor, k: int) -> Tensor:
    """Keep the ``k`` largest logits of each row ``(B, V)``, set the rest to ``-inf``."""
    if k <= 0 or k >= logits.shape[-1]:
        return logits
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: Tensor, p: float) -> Tensor:
    """Nucleus filtering (Holtzman et al. 2020): keep the smallest set of tokens whose probability
    mass reaches ``p`` (the most likely token is always kept)."""
    if p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = sorted_logits.softmax(-1)
    mass_before = probs.cumsum(-1) - probs  # mass of strictly more likely tokens
    drop_sorted = mass_before >= p
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def apply_repetition_penalty(logits: Tensor, tokens: Tensor, penalty: float) -> Tensor:
    """CTRL's penalty: for every token id present in ``tokens (B, T)``, divide its logit by
    ``penalty`` if positive, multiply if negative."""
    if penalty == 1.0 or tokens.numel() == 0:
        return logits
    seen = torch.gather(logits, -1, tokens)
    seen = torch.where(seen > 0, seen / penalty, seen * penalty)
    return logits.scatter(-1, tokens, seen)


def _process(logits: Tensor, tokens: Tensor, cfg: GenerationConfig, n_new: int) -> Tensor:
    logits = apply_repetition_penalty(logits.float(), tokens, cfg.repetition_penalty)
    if n_new < cfg.min_new_tokens and cfg.stop_tokens:
        block = torch.zeros(logits.shape[-1], dtype=torch.bool, device=logits.device)
        block[list(cfg.stop_tokens)] = True
        logits = logits.masked_fill(block, float("-inf"))  # not in place: the caller's tensor
    return logits


# -------------------------------------------------------------------------------- state reordering


def reorder_state(state: Any, index: Tensor) -> Any:
    """Select rows ``index`` (dim 0) of every tensor inside ``state``."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.index_select(0, index.to(state.device))
    if isinstance(state, tuple) and hasattr(state, "_fields"):  # namedtuple
        return type(state)(*(reorder_state(s, index) for s in state))
    if isinstance(state, (list, tuple)):
        return type(state)(reorder_state(s, index) for s in state)
    if isinstance(state, dict):
        return {k: reorder_state(v, index) for k, v in state.items()}
    if hasattr(state, "reorder"):
        return state.reorder(index)
    if isinstance(state, (int, float, str, bool)):
        return state
    raise TypeError(
        f"cannot reorder decoding state of type {type(state).__name__}: give it a "
        "`reorder(index)` method or use tensors in tuples/lists/dicts"
    )


# ------------------------------------------------------------------------- greedy and sampling


def stream(
    step: StepFn,
    prompt: Tensor,
    config: GenerationConfig | None = None,
    *,
    state: Any = None,
    generator: torch.Generator | None = None,
    **overrides: Any,
) -> Iterator[Tensor]:
    """Yield the next token of every row ``(B,)`` as soon as it is chosen (greedy or sampling).

    Rows that have produced a stop token yield ``pad_token`` afterwards; the iterator ends when
    every row has stopped or ``max_new_tokens`` were produced.
    """
    cfg = _config(config, overrides)
    if cfg.num_beams > 1:
        raise ConfigError("streaming is token by token; beam search needs `beam_search` / `generate`")
    if prompt.dim() != 2:
        raise ShapeError(f"prompt must be token ids (B, T), got shape {tuple(prompt.shape)}")
    tokens = prompt
    feed = prompt
    done = torch.zeros(prompt.shape[0], dtype=torch.bool, device=prompt.device)
    stops = torch.tensor(cfg.stop_tokens, dtype=prompt.dtype, device=prompt.device)
    for n in range(cfg.max_new_tokens):
        logits, state = step(feed, state)
        logits = _process(logits, tokens, cfg, n)
        if cfg.do_sample:
            logits = top_p_filter(top_k_filter(logits / cfg.temperature, cfg.top_k), cfg.top_p)
            nxt = torch.multinomial(logits.softmax(-1), 1, generator=generator).squeeze(-1)
        else:
            nxt = logits.argmax(-1)
        nxt = nxt.masked_fill(done, cfg.pad_token)
        yield nxt
        if stops.numel():
            done = done | torch.isin(nxt, stops)
            if bool(done.all()):
                return
        tokens = torch.cat([tokens, nxt[:, None]], dim=1)
        feed = nxt[:, None]


def generate(
    step: StepFn,
    prompt: Tensor,
    config: GenerationConfig | None = None,
    *,
    state: Any = None,
    generator: torch.Generator | None = None,
    streamer: Callable[[Tensor], None] | None = None,
    **overrides: Any,
) -> Tensor:
    """Decode and return ``(B, T + new)`` ids: the prompt followed by the generated tokens.

    ``num_beams > 1`` runs :func:`beam_search`; otherwise greedy or sampling (``do_sample``).
    ``streamer`` is called with each new ``(B,)`` token tensor as it is produced.
    """
    cfg = _config(config, overrides)
    if cfg.num_beams > 1:
        return beam_search(step, prompt, cfg, state=state)
    out = [prompt]
    for nxt in stream(step, prompt, cfg, state=state, generator=generator):
        if streamer is not None:
            streamer(nxt)
        out.append(nxt[:, None])
    return torch.cat(out, dim=1)


# ------------------------------------------------------------------------------------ beam search


def beam_search(
    step: StepFn,
    prompt: Tensor,
    config: GenerationConfig | None = None,
    *,
    state: Any = None,
    return_scores: bool = False,
    **overrides: Any,
) -> Tensor | tuple[Tensor, Tensor]:
    """Beam search: keep the ``num_beams`` best partial sequences by total log-probability.

    A hypothesis ends when it emits a stop token (kept, included in its length) or reaches
    ``max_new_tokens``; finished ones are ranked by ``sum log p / len ** length_penalty`` where
    ``len`` counts generated tokens. Returns the best sequence per row ``(B, T + new)`` padded with
    ``pad_token`` (and the normalised scores ``(B,)`` with ``return_scores``).
    """
    cfg = _config(config, overrides)
    K = cfg.num_beams
    B, T = prompt.shape
    dev = prompt.device
    # every beam starts from the same prompt; only the first beam is live at step 0
    tokens = prompt.repeat_interleave(K, dim=0)  # (B*K, T)
    if state is not None:
        state = reorder_state(state, torch.arange(B, device=dev).repeat_interleave(K))
    beam_scores = torch.full((B, K), float("-inf"), device=dev)
    beam_scores[:, 0] = 0.0
    finished: list[list[tuple[float, Tensor]]] = [[] for _ in range(B)]
    row_done = [False] * B
    stops = set(cfg.stop_tokens)
    feed = tokens

    def norm(score: float, length: int) -> float:
        return score / (max(length, 1) ** cfg.length_penalty)

    for n in range(cfg.max_new_tokens):
        logits, state = step(feed, state)
        logp = _process(logits, tokens, cfg, n).log_softmax(-1)  # (B*K, V)
        V = logp.shape[-1]
        total = (beam_scores.reshape(-1, 1) + logp).reshape(B, K * V)
        top_scores, top_ids = torch.topk(total, min(2 * K, K * V), dim=1)
        next_src, next_tok, next_score = [], [], []
        for b in range(B):
            chosen = []
            if not row_done[b]:
                for s, idx in zip(top_scores[b].tolist(), top_ids[b].tolist(), strict=True):
                    src, tok = b * K + idx // V, idx % V
                    if s == float("-inf"):
                        break
                    if tok in stops:
                        seq = torch.cat([tokens[src, T:], torch.tensor([tok], device=dev)])
                        finished[b].append((norm(s, n + 1), seq))
                    else:
                        chosen.append((s, src, tok))
                    if len(chosen) == K:
                        break
                finished[b].sort(key=lambda h: h[0], reverse=True)
                del finished[b][K:]
                if len(finished[b]) == K:
                    # upper bound of any live beam's final normalised score: log-probs only fall,
                    # and with length_penalty > 0 the longest length divides the least
                    L = cfg.max_new_tokens if cfg.length_penalty > 0 else n + 1
                    best_alive = norm(chosen[0][0], L) if chosen else float("-inf")
                    row_done[b] = cfg.early_stopping or best_alive <= finished[b][-1][0]
            while len(chosen) < K:  # padding beams for finished rows / tiny vocabularies
                chosen.append((float("-inf"), b * K, cfg.pad_token))
            for s, src, tok in chosen:
                next_score.append(s)
                next_src.append(src)
                next_tok.append(tok)
        if all(row_done):
            break
        src = torch.tensor(next_src, device=dev)
        nxt = torch.tensor(next_tok, dtype=prompt.dtype, device=dev)
        beam_scores = torch.tensor(next_score, device=dev).reshape(B, K)
        tokens = torch.cat([tokens[src], nxt[:, None]], dim=1)
        state = reorder_state(state, src)
        feed = nxt[:, None]
    for b in range(B):  # rows that ran out of steps: their live beams compete with the finished
        if not row_done[b]:
            for k in range(K):
                s = float(beam_scores[b, k])
                if s > float("-inf"):
                    finished[b].append((norm(s, tokens.shape[1] - T), tokens[b * K + k, T:]))
            finished[b].sort(key=lambda h: h[0], reverse=True)
    best = [finished[b][0] if finished[b] else (float("-inf"), tokens[b * K, T:]) for b in range(B)]
    width = max(len(seq) for _, seq in best)
    out = torch.full((B, T + width), cfg.pad_token, dtype=prompt.dtype, device=dev)
    out[:, :T] = prompt
    for b, (_, seq) in enumerate(best):
        out[b, T : T + len(seq)] = seq
    if return_scores:
        return out, torch.tensor([s for s, _ in best])
    return out
