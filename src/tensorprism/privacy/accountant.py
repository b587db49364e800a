r"""Rényi-DP accountant for DP-SGD: the sampled Gaussian mechanism (Mironov, Talwar & Zhang 2019).

One DP-SGD step with Poisson sampling rate ``q`` and noise multiplier ``σ`` is ``(α, ε_α)``-RDP
with :math:`\varepsilon_\alpha = \log A_\alpha / (\alpha - 1)`, where for an integer order

.. math:: A_\alpha = \sum_{k=0}^{\alpha}\binom{\alpha}{k}(1-q)^{\alpha-k}q^k\exp\Big(\frac{k^2-k}{2\sigma^2}\Big)

and for a fractional order :math:`A_\alpha` is the two-sided series of their §3.3 (terms weighted
by Gaussian tails). RDP composes by addition over the ``T`` steps, and converts to
:math:`(\varepsilon, \delta)`-DP by (Balle et al. 2020, Thm. 21; the conversion Opacus uses)

.. math:: \varepsilon = \min_\alpha\ T\varepsilon_\alpha + \log\frac{\alpha-1}{\alpha}
          - \frac{\log\delta + \log\alpha}{\alpha - 1}.

Tested equal to Opacus' ``RDPAccountant`` on the same ``(q, σ, T, δ)``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

from ..errors import ConfigError

__all__ = ["DEFAULT_ORDERS", "rdp_sampled_gaussian", "epsilon_from_rdp", "compute_epsilon", "noise_for_epsilon",
           "RDPAccountant"]

# Opacus' default orders: 1.1 ... 10.9 in steps of 0.1, then 12 ... 63
DEFAULT_ORDERS: tuple[float, ...] = tuple([1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64)))


def _log_add(a: float, b: float) -> float:
    hi, lo = max(a, b), min(a, b)
    return hi if lo == -math.inf else hi + math.log1p(math.exp(lo - hi))


def _log_sub(a: float, b: float) -> float:
    """``log(e^a - e^b)`` for ``a >= b``."""
    if b == -math.inf:
        return a
    if a <= b:
        return -math.inf
    return a + math.log1p(-math.exp(b - a))


def _log_erfc(x: float) -> float:
    """``log(erfc(x))``, stable for large ``x`` (asymptotic series where erfc underflows)."""
    r = math.erfc(x)
    if r > 0:
        return math.log(r)
    # erfc(x) ~ exp(-x^2) / (x sqrt(pi)) (1 - 1/(2x^2) + 3/(4x^4) ...)
    return -x * x - math.log(x) - 0.5 * math.log(math.pi) + math.log1p(-0.5 / x**2 + 0.75 / x**4)


def _log_a_int(q: float, sigma: float, alpha: int) -> float:
    out = -math.inf
    for k in range(alpha + 1):
        log_coef = math.lgamma(alpha + 1) - math.lgamma(k + 1) - math.lgamma(alpha - k + 1)
        term = log_coef + k * math.log(q) + (alpha - k) * math.log1p(-q) + (k * k - k) / (2 * sigma**2)
        out = _log_add(out, term)
    return out


def _log_a_frac(q: float, sigma: float, alpha: float) -> float:
    # A_alpha = sum_k binom(alpha, k) [ q^k (1-q)^(alpha-k) e^{(k^2-k)/2s^2} P(Z_k <= z0)
    #                                  + q^(alpha-k) (1-q)^k e^{((alpha-k)^2-(alpha-k))/2s^2} P(Z'_k >= z0) ]
    # with the split point z0 = s^2 log(1/q - 1) + 1/2 (Mironov et al. 2019, §3.3); binomial
    # coefficients of a real alpha change sign, so the two sums are kept as signed log-sums.
    pos0 = neg0 = pos1 = neg1 = -math.inf
    z0 = sigma**2 * math.log(1 / q - 1) + 0.5
    k = 0
    while True:
        coef = _binom_real(alpha, k)
        j = alpha - k
        log_coef = math.log(abs(coef)) if coef != 0 else -math.inf
        log_t0 = log_coef + k * math.log(q) + j * math.log1p(-q)
        log_t1 = log_coef + j * math.log(q) + k * math.log1p(-q)
        log_e0 = math.log(0.5) + _log_erfc((k - z0) / (math.sqrt(2) * sigma))
        log_e1 = math.log(0.5) + _log_erfc((z0 - j) / (math.sqrt(2) * sigma))
        log_s0 = log_t0 + (k * k - k) / (2 * sigma**2) + log_e0
        log_s1 = log_t1 + (j * j - j) / (2 * sigma**2) + log_e1
        if coef > 0:
            pos0, pos1 = _log_add(pos0, log_s0), _log_add(pos1, log_s1)
        else:
            neg0, neg1 = _log_add(neg0, log_s0), _log_add(neg1, log_s1)
        k += 1
        if max(log_s0, log_s1) < -30 or k > 10_000:
            break
    return _log_add(_log_sub(pos0, neg0), _log_sub(pos1, neg1))


def _binom_real(alpha: float, k: int) -> float:
    """``binom(alpha, k)`` for a real ``alpha`` (the product form; no Gamma overflow)."""
    out = 1.0
    for i in range(k):
        out *= (alpha - i) / (i + 1)
    return out


def _check(q: float, sigma: float, steps: int) -> None:
    if not 0 <= q <= 1:
        raise ConfigError(f"the sampling rate q = batch size / dataset size must lie in [0, 1], got {q}")
    if sigma < 0:
        raise ConfigError(f"noise_multiplier must be >= 0, got {sigma}")
    if steps < 0:
        raise ConfigError(f"steps must be >= 0, got {steps}")


def rdp_sampled_gaussian(q: float, sigma: float, steps: int, orders: Sequence[float] = DEFAULT_ORDERS) -> list[float]:
    """RDP ``ε_α`` of ``steps`` compositions of the sampled Gaussian mechanism, one per order."""
    _check(q, sigma, steps)
    if q == 0 or steps == 0:
        return [0.0] * len(orders)
    return [r * steps for r in _rdp_one_step(float(q), float(sigma), tuple(float(a) for a in orders))]


@functools.lru_cache(maxsize=256)
def _rdp_one_step(q: float, sigma: float, orders: tuple[float, ...]) -> tuple[float, ...]:
    """RDP of one step (composition over steps is a multiplication: cached, an accountant asks
    for the same ``(q, sigma)`` at every step)."""
    out = []
    for a in orders:
        if sigma == 0:
            r = math.inf
        elif q == 1.0:
            r = a / (2 * sigma**2)
        else:
            log_a = _log_a_int(q, sigma, int(a)) if a.is_integer() else _log_a_frac(q, sigma, a)
            r = log_a / (a - 1)
        out.append(r)
    return tuple(out)


def epsilon_from_rdp(rdp: Sequence[float], delta: float, orders: Sequence[float] = DEFAULT_ORDERS
                     ) -> tuple[float, float]:
    """``(ε, best order)`` for the given ``δ`` (Balle et al. 2020's conversion, as Opacus)."""
    if not 0 < delta < 1:
        raise ConfigError(f"delta must lie in (0, 1), got {delta}; use delta < 1 / dataset size, e.g. 1e-5")
    best, best_order = math.inf, math.nan
    for r, a in zip(rdp, orders, strict=True):
        if a <= 1:
            continue
        eps = r - (math.log(delta) + math.log(a)) / (a - 1) + math.log((a - 1) / a)
        if eps < best:
            best, best_order = eps, a
    return max(best, 0.0), best_order


def compute_epsilon(q: float, sigma: float, steps: int, delta: float,
                    orders: Sequence[float] = DEFAULT_ORDERS) -> float:
    """ε of DP-SGD after ``steps`` steps at sampling rate ``q`` and noise multiplier ``σ``."""
    return epsilon_from_rdp(rdp_sampled_gaussian(q, sigma, steps, orders), delta, orders)[0]


def noise_for_epsilon(target_epsilon: float, delta: float, q: float, steps: int, *, max_sigma: float = 100.0,
                      tol: float = 0.01) -> float:
    """The smallest noise multiplier whose ε after ``steps`` steps stays within ``target_epsilon``.

    Raises:
        ConfigError: the target cannot be met (not even with ``max_sigma``): spend fewer steps,
            sample smaller batches, or accept a larger ε.
    """
    if not target_epsilon > 0:
        raise ConfigError(f"target_epsilon must be > 0, got {target_epsilon}")
    if compute_epsilon(q, max_sigma, steps, delta) > target_epsilon:
        raise ConfigError(
            f"the privacy budget epsilon={target_epsilon} (delta={delta}) cannot be met for {steps} steps at sampling "
            f"rate {q:.4g}: even noise_multiplier={max_sigma} spends more. Train fewer steps (epochs), use a smaller "
            "sampling rate (batch size / dataset size), or allow a larger epsilon")
    lo, hi = 0.0, max_sigma
    while hi - lo > tol:
        mid = (lo + hi) / 2
        if mid > 0 and compute_epsilon(q, mid, steps, delta) <= target_epsilon:
            hi = mid
        else:
            lo = mid
    return hi


class RDPAccountant:
    """Tracks the RDP spent by a DP-SGD run, step by step (the steps may change ``q`` or ``σ``)."""

    def __init__(self, orders: Sequence[float] = DEFAULT_ORDERS):
        self.orders = tuple(orders)
        self.history: list[list[float]] = []  # [[sigma, q, steps], ...]

    def step(self, noise_multiplier: float, sample_rate: float, steps: int = 1) -> None:
        if self.history and self.history[-1][:2] == [noise_multiplier, sample_rate]:
            self.history[-1][2] += steps
        else:
            self.history.append([noise_multiplier, sample_rate, steps])

    def get_epsilon(self, delta: float) -> float:
        if not self.history:
            return 0.0
        total = [0.0] * len(self.orders)
        for sigma, q, steps in self.history:
            total = [t + r for t, r in zip(total, rdp_sampled_gaussian(q, sigma, int(steps), self.orders), strict=True)]
        return epsilon_from_rdp(total, delta, self.orders)[0]

    def state_dict(self) -> dict:
        return {"history": [list(h) for h in self.history]}

    def load_state_dict(self, state: dict) -> None:
        self.history = [list(h) for h in state.get("history", [])]
