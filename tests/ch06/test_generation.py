"""Decoding strategies over a step function, checked against exhaustive search and HF processors."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from tensorprism.errors import ConfigError
from tensorprism.generation import (
    GenerationConfig,
    apply_repetition_penalty,
    beam_search,
    generate,
    reorder_state,
    stream,
    top_k_filter,
    top_p_filter,
)


def markov_step(table: torch.Tensor):
    """A bigram 'model': logits of the next token depend on the last token only; the state counts
    calls so tests can check that beam search reorders it."""

    def step(tokens, state):
        calls = torch.zeros(tokens.shape[0]) if state is None else state["calls"]
        return table[tokens[:, -1]], {"calls": calls + 1, "rows": torch.arange(tokens.shape[0])}

    return step


def seq_logprob(table, prompt_last, seq):
    lp, prev = 0.0, prompt_last
    logp = table.log_softmax(-1)
    for t in seq:
        lp += float(logp[prev, t])
        prev = t
    return lp


def test_greedy_follows_argmax_chain():
    table = torch.randn(6, 6)
    out = generate(markov_step(table), torch.tensor([[2], [4]]), max_new_tokens=5)
    for row in out:
        for a, b in itertools.pairwise(row.tolist()):
            assert b == int(table[a].argmax())


@pytest.mark.parametrize("length_penalty", [0.0, 1.0, 2.0, -0.5])
def test_beam_search_with_all_beams_equals_exhaustive_search(length_penalty):
    torch.manual_seed(1)
    V, L, stop = 4, 3, 3
    table = torch.randn(V, V) * 2
    out, score = beam_search(
        markov_step(table), torch.tensor([[0], [1]]), num_beams=V**L, max_new_tokens=L,
        stop_tokens=[stop], length_penalty=length_penalty, return_scores=True, pad_token=0,
    )
    for b, first in enumerate([0, 1]):
        best, best_seq = -math.inf, None
        for n in range(1, L + 1):
            for seq in itertools.product(range(V), repeat=n):
                if stop in seq[:-1] or (n < L and seq[-1] != stop):
                    continue  # a hypothesis ends at its first stop token or at max length
                s = seq_logprob(table, first, seq) / n**length_penalty
                if s > best:
                    best, best_seq = s, seq
        assert score[b] == pytest.approx(best, abs=1e-5)
        got = out[b, 1 : 1 + len(best_seq)].tolist()
        assert got == list(best_seq)


def test_beam_search_one_beam_is_greedy():
    table = torch.randn(7, 7)
    prompt = torch.tensor([[1], [5]])
    assert torch.equal(beam_search(markov_step(table), prompt, num_beams=1, max_new_tokens=6),
                       generate(markov_step(table), prompt, max_new_tokens=6))


def test_top_k_keeps_k_largest():
    logits = torch.tensor([[0.1, 3.0, -1.0, 2.0, 0.5]])
    kept = torch.isfinite(top_k_filter(logits, 2))
    assert kept.tolist() == [[False, True, False, True, False]]


def test_top_p_keeps_smallest_nucleus():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    kept = torch.isfinite(top_p_filter(probs.log(), 0.8))
    assert kept.tolist() == [[True, True, False, False]]  # 0.5 + 0.3 reaches 0.8
    kept = torch.isfinite(top_p_filter(probs.log(), 0.81))
    assert kept.tolist() == [[True, True, True, False]]
    kept = torch.isfinite(top_p_filter(probs.log()[:, [3, 1, 0, 2]], 0.4))  # order-independent
    assert kept.tolist() == [[False, False, True, False]]


def test_repetition_penalty_matches_transformers():
    from transformers.generation.logits_process import RepetitionPenaltyLogitsProcessor

    logits = torch.randn(3, 11)
    seen = torch.randint(0, 11, (3, 5))
    ref = RepetitionPenaltyLogitsProcessor(1.3)(seen, logits.clone())
    assert torch.allclose(apply_repetition_penalty(logits, seen, 1.3), ref)


def test_sampling_with_temperature_follows_softmax():
    logits = torch.tensor([1.0, 0.0, -1.0, 0.5])
    step = lambda tokens, state: (logits.expand(tokens.shape[0], -1), state)  # noqa: E731
    g = torch.Generator().manual_seed(0)
    out = generate(step, torch.zeros(20000, 1, dtype=torch.long), max_new_tokens=1,
                   do_sample=True, temperature=2.0, generator=g)
    freq = torch.bincount(out[:, 1], minlength=4).float() / 20000
    assert torch.allclose(freq, (logits / 2).softmax(-1), atol=0.015)


def test_top_k_sampling_never_draws_outside_top_k():
    logits = torch.randn(9)
    step = lambda tokens, state: (logits.expand(tokens.shape[0], -1), state)  # noqa: E731
    out = generate(step, torch.zeros(2000, 1, dtype=torch.long), max_new_tokens=1, do_sample=True, top_k=3)
    assert set(out[:, 1].tolist()) <= set(torch.topk(logits, 3).indices.tolist())


def test_stop_tokens_end_rows_and_pad_after():
    table = torch.full((4, 4), -10.0)
    table[0, 1] = table[1, 2] = table[2, 3] = table[3, 3] = 10.0  # 0->1->2->3(stop)
    out = generate(markov_step(table), torch.tensor([[0], [2]]), max_new_tokens=10,
                   stop_tokens=[3], pad_token=0)
    assert out.tolist() == [[0, 1, 2, 3], [2, 3, 0, 0]]  # ends once every row stopped


def test_min_new_tokens_blocks_early_stop():
    table = torch.zeros(3, 3)
    table[:, 2] = 5.0
    out = generate(markov_step(table), torch.tensor([[0]]), max_new_tokens=5, stop_tokens=[2], min_new_tokens=2)
    assert out[0, 1:3].tolist() != [2, 2] and out[0, 3].item() == 2


def test_stream_yields_the_tokens_generate_returns():
    table = torch.randn(8, 8)
    seen = []
    out = generate(markov_step(table), torch.tensor([[3]]), max_new_tokens=4, streamer=seen.append)
    assert torch.equal(torch.stack(seen, 1), out[:, 1:])
    assert torch.equal(torch.stack(list(stream(markov_step(table), torch.tensor([[3]]), max_new_tokens=4)), 1), out[:, 1:])


def test_reorder_state_handles_nested_containers():
    state = {"a": (torch.arange(3), [torch.arange(3) * 10]), "n": 5}
    out = reorder_state(state, torch.tensor([2, 0]))
    assert out["a"][0].tolist() == [2, 0] and out["a"][1][0].tolist() == [20, 0] and out["n"] == 5
    with pytest.raises(TypeError, match="reorder"):
        reorder_state(object(), torch.tensor([0]))


def test_invalid_options_raise_config_error():
    with pytest.raises(ConfigError, match="temperature"):
        GenerationConfig(temperature=0)
    with pytest.raises(ConfigError, match="top_p"):
        GenerationConfig(top_p=0)


class _HFCache:
    """Wraps a transformers cache so beam search can reorder it."""

    def __init__(self, cache):
        self.cache = cache

    def reorder(self, index):
        self.cache.reorder_cache(index)
        return self


def _until_stop(row, stops):
    out = []
    for t in row:
        out.append(t)
        if t in stops:
            break
    return out


@pytest.mark.parametrize(
    "kw",
    [{}, {"num_beams": 3}, {"num_beams": 4, "length_penalty": 0.6, "stop_tokens": [7]},
     {"num_beams": 3, "length_penalty": 1.5, "stop_tokens": [7, 9], "early_stopping": True}],
)
def test_decoding_matches_transformers_generate(kw):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    hf = GPT2LMHeadModel(GPT2Config(vocab_size=50, n_positions=64, n_embd=32, n_layer=2, n_head=2,
                                    bos_token_id=0, eos_token_id=0)).eval()

    def step(tokens, state):
        o = hf(tokens, past_key_values=None if state is None else state.cache, use_cache=True)
        return o.logits[:, -1], _HFCache(o.past_key_values)

    prompt = torch.randint(0, 50, (2, 4))
    stops = kw.get("stop_tokens", [])
    with torch.no_grad():
        ref = hf.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=8,
                          do_sample=False, pad_token_id=0, eos_token_id=stops or None,
                          num_beams=kw.get("num_beams", 1), length_penalty=kw.get("length_penalty", 1.0),
                          early_stopping=kw.get("early_stopping", False))
        ours = generate(step, prompt, max_new_tokens=8, **kw)
    for r, o in zip(ref.tolist(), ours.tolist(), strict=True):
        assert _until_stop(o[4:], stops) == _until_stop(r[4:], stops)
