"""The Hopfield network as an associative memory, and its storage capacity (book §11).

:class:`HopfieldNetwork` stores ±1 patterns with the Hebbian outer-product rule
(:func:`tensorprism.functional.hebbian.hopfield_weights`) and recalls them by asynchronous (one
neuron at a time, in a random order; the energy never increases, so it always settles) or
synchronous updates (all at once; can end in a 2-cycle).

:func:`capacity_curve` measures recall against the load ``α = P/N``. Amit, Gutfreund &
Sompolinsky (1985, 1987) showed that for random patterns and large ``N`` retrieval states (a fixed
point near each pattern, overlap ``m ≈ 0.97``) exist only for ``α < α_c ≈ 0.138``; beyond it recall
collapses. Exact recall of every bit of every pattern is much rarer: it needs ``P < N / (4 ln N)``
(McEliece et al. 1987).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import ConfigError, ShapeError
from ..functional.hebbian import hopfield_energy

AGS_CAPACITY = 0.138  # Amit, Gutfreund & Sompolinsky's critical load P/N


def _check_pm1(x: Tensor, n: int | None, what: str) -> Tensor:
    if x.dim() != 2 or (n is not None and x.shape[1] != n):
        want = f"(P, {n})" if n is not None else "(P, N)"
        raise ShapeError(f"HopfieldNetwork: {what} must be {want}, got {tuple(x.shape)}")
    if not bool(((x == 1) | (x == -1)).all()):
        raise ShapeError(f"HopfieldNetwork: {what} must contain only +1 and -1 (map binary images with 2 * x - 1)")
    return x.to(torch.float32)


class HopfieldNetwork:
    """A binary Hopfield network of ``N`` neurons.

    Attributes:
        weights: ``(N, N)`` symmetric couplings with zero diagonal (after :meth:`store`).
    """

    def __init__(self, n: int):
        if n < 2:
            raise ConfigError(f"HopfieldNetwork needs at least 2 neurons, got {n}")
        self.n = n
        self.weights = torch.zeros(n, n)

    def store(self, patterns: Tensor) -> HopfieldNetwork:
        """Store ``(P, N)`` ±1 patterns (replacing what was stored): ``W = (1/N) Σ ξξᵀ``, zero diagonal.
        Computed as one matrix product, equal to the pattern-by-pattern rule."""
        p = _check_pm1(patterns, self.n, "patterns")
        self.weights = p.T @ p / self.n
        self.weights.fill_diagonal_(0)
        return self

    def energy(self, states: Tensor) -> Tensor:
        """``E(s) = -½ sᵀ W s`` for ``(B, N)`` states → ``(B,)``."""
        return hopfield_energy(self.weights, states.to(torch.float32))

    def recall(self, probes: Tensor, max_sweeps: int = 50, mode: str = "async",
               generator: torch.Generator | None = None) -> tuple[Tensor, int]:
        """Run the dynamics from ``(B, N)`` ±1 probes until no neuron changes (or ``max_sweeps``).

        ``"async"``: each sweep visits the neurons in a fresh random order and updates each one from
        the current state of all others (all probes at once). ``"sync"``: every neuron at once. A
        zero local field keeps the neuron's state. Returns the final states and the sweeps used.
        """
        if mode not in ("async", "sync"):
            raise ConfigError(f"HopfieldNetwork.recall: mode must be 'async' or 'sync', got {mode!r}")
        s = _check_pm1(probes, self.n, "probes").clone()
        W = self.weights
        for sweep in range(1, max_sweeps + 1):
            if mode == "sync":
                h = s @ W
                new = torch.where(h == 0, s, torch.sign(h))
                changed = bool((new != s).any())
                s = new
            else:
                changed = False
                for i in torch.randperm(self.n, generator=generator).tolist():
                    h = s @ W[i]  # (B,)
                    new = torch.where(h == 0, s[:, i], torch.sign(h))
                    if bool((new != s[:, i]).any()):
                        changed = True
                        s[:, i] = new
            if not changed:
                return s, sweep
        return s, max_sweeps


def overlap(states: Tensor, patterns: Tensor) -> Tensor:
    """Overlap ``m = (1/N) s·ξ`` of each state with its own pattern, ``(B, N), (B, N) → (B,)``."""
    return (states * patterns).mean(1)


def flip(patterns: Tensor, fraction: float, generator: torch.Generator) -> Tensor:
    """Copies of ``(P, N)`` ±1 patterns with ``round(fraction N)`` bits of each flipped at random."""
    n = patterns.shape[1]
    k = round(fraction * n)
    out = patterns.clone()
    if k:
        idx = torch.rand(patterns.shape, generator=generator).argsort(1)[:, :k]
        out.scatter_(1, idx, -out.gather(1, idx))
    return out


@dataclass
class CapacityPoint:
    """Recall at one load: mean final overlap, fraction of patterns recalled with overlap ≥ 0.95,
    fraction recalled exactly, fraction of patterns that are fixed points themselves."""

    load: float
    patterns: int
    mean_overlap: float
    recalled: float
    exact: float
    stable: float


def capacity_curve(n: int, loads: list[float], trials: int = 3, noise: float = 0.0, seed: int = 0,
                   mode: str = "async", max_sweeps: int = 50) -> list[CapacityPoint]:
    """Store ``P = round(α N)`` random ±1 patterns for each load ``α`` and recall each from itself
    with a fraction ``noise`` of its bits flipped; averaged over ``trials`` independent pattern sets."""
    if not 0 <= noise < 0.5:
        raise ConfigError(f"noise must be in [0, 0.5), got {noise}")
    g = torch.Generator().manual_seed(seed)
    out = []
    for alpha in loads:
        p = max(1, round(alpha * n))
        ms, rec, exact, stable = [], [], [], []
        for _ in range(trials):
            xi = torch.randint(0, 2, (p, n), generator=g).float() * 2 - 1
            net = HopfieldNetwork(n).store(xi)
            h = xi @ net.weights
            stable.append(float((torch.where(h == 0, xi, torch.sign(h)) == xi).all(1).float().mean()))
            final, _ = net.recall(flip(xi, noise, g), max_sweeps=max_sweeps, mode=mode, generator=g)
            m = overlap(final, xi)
            ms.append(float(m.mean()))
            rec.append(float((m >= 0.95).float().mean()))
            exact.append(float((m == 1).float().mean()))
        out.append(CapacityPoint(alpha, p, sum(ms) / trials, sum(rec) / trials, sum(exact) / trials,
                                 sum(stable) / trials))
    return out


__all__ = ["AGS_CAPACITY", "CapacityPoint", "HopfieldNetwork", "capacity_curve", "flip", "overlap"]
