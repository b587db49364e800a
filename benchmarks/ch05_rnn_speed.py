"""Chapter 5: reference cells vs fused layers (equality) and fused layers vs torch.nn (speed).

Prints two markdown tables:
1. max |difference| between the step-by-step reference (tensorprism.functional.recurrent) and the
   fused layers (tensorprism.nn.recurrent) for a 2-layer bidirectional layer on a packed batch,
   forward outputs, final states and all gradients;
2. forward+backward time of tensorprism's LSTM/GRU vs torch.nn.LSTM/GRU with the same weights,
   measured interleaved in one process (median of N repetitions), padded and packed input.

Usage: python benchmarks/ch05_rnn_speed.py [--device cpu|cuda] [--reps 30]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from tensorprism.functional.recurrent import recurrent_reference
from tensorprism.nn.recurrent import GRU, LSTM, RNN


def equality(device: str, dtype=torch.float64) -> list[tuple[str, float, float]]:
    return [_equality_one(mode, cls, device, dtype) for mode, cls in (("rnn", RNN), ("lstm", LSTM), ("gru", GRU))]


def _equality_one(mode: str, cls, device: str, dtype) -> tuple[str, float, float]:
    torch.manual_seed(0)
    layer = cls(16, 32, num_layers=2, bidirectional=True).to(device, dtype)
    x = torch.randn(8, 20, 16, device=device, dtype=dtype, requires_grad=True)
    lengths = torch.randint(1, 21, (8,))
    lengths[0] = 20
    params = dict(layer.named_parameters())

    def run(fn):
        out, st = fn()
        h = st[0] if isinstance(st, tuple) else st
        loss = out.pow(2).sum() + h.pow(3).sum()
        return [out, h, *torch.autograd.grad(loss, [x, *params.values()])]

    fused = run(lambda: layer(x, lengths=lengths))
    ref = run(lambda: recurrent_reference(mode, x, params, num_layers=2, bidirectional=True,
                                          lengths=lengths))
    fwd = max(float((a - b).detach().abs().max()) for a, b in zip(fused[:2], ref[:2], strict=True))
    bwd = max(float((a - b).detach().abs().max()) for a, b in zip(fused[2:], ref[2:], strict=True))
    return mode, fwd, bwd


def _time(fn, device: str) -> float:
    if device == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    fn()
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t


def speed(device: str, reps: int, B: int, T: int, I: int, H: int, L: int) -> list[tuple]:
    rows = []
    for name, ours_cls, ref_cls in (("LSTM", LSTM, torch.nn.LSTM), ("GRU", GRU, torch.nn.GRU)):
        rows += _speed_one(name, ours_cls, ref_cls, device, reps, B, T, I, H, L)
    return rows


def _speed_one(name, ours_cls, ref_cls, device, reps, B, T, I, H, L) -> list[tuple]:
    rows = []
    torch.manual_seed(0)
    ref = ref_cls(I, H, num_layers=L, batch_first=True).to(device)
    ours = ours_cls(I, H, num_layers=L).to(device)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(B, T, I, device=device)
    lengths = torch.randint(T // 2, T + 1, (B,))

    def step_ours(packed):
        out, _ = ours(x, lengths=lengths) if packed else ours(x)
        out.sum().backward()

    def step_ref(packed):
        if packed:
            p = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            out, _ = ref(p)
            out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=T)
        else:
            out, _ = ref(x)
        out.sum().backward()

    for packed in (False, True):
        for _ in range(3):
            step_ours(packed)
            step_ref(packed)
        t_ours, t_ref = [], []
        for _ in range(reps):  # interleaved so both see the same machine load
            t_ours.append(_time(lambda p=packed: step_ours(p), device))
            t_ref.append(_time(lambda p=packed: step_ref(p), device))
        mo, mr = statistics.median(t_ours), statistics.median(t_ref)
        rows.append((name, "packed" if packed else "padded", mr * 1e3, mo * 1e3, mo / mr))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--reps", type=int, default=30)
    args = ap.parse_args()
    dev = args.device
    name = torch.cuda.get_device_name() if dev == "cuda" else "CPU"
    print(f"## device: {dev} ({name}), torch {torch.__version__}\n")
    print("| layer (2 layers, bidirectional, packed) | max abs diff forward | max abs diff backward |")
    print("|---|---|---|")
    for mode, f, b in equality(dev):
        print(f"| {mode} (float64) | {f:.2e} | {b:.2e} |")
    if dev == "cuda":  # cuDNN uses TF32 for float32 RNNs by default; show both
        for tf32 in (False, True):
            torch.backends.cudnn.allow_tf32 = tf32
            for mode, f, b in equality(dev, torch.float32):
                print(f"| {mode} (float32, cuDNN, TF32 {'on' if tf32 else 'off'}) | {f:.2e} | {b:.2e} |")
    shape = (64, 100, 256, 512, 2) if dev == "cuda" else (32, 50, 64, 128, 2)
    B, T, I, H, L = shape
    print(f"\nfwd+bwd, batch {B}, T {T}, input {I}, hidden {H}, {L} layers, median of {args.reps}\n")
    print("| layer | input | torch.nn (ms) | tensorprism (ms) | ratio |")
    print("|---|---|---|---|---|")
    for layer, kind, tr, to, ratio in speed(dev, args.reps, B, T, I, H, L):
        print(f"| {layer} | {kind} | {tr:.2f} | {to:.2f} | {ratio:.3f} |")


if __name__ == "__main__":
    main()
