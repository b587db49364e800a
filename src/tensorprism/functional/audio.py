r"""Log-mel spectrograms in tensor operations (the audio front end of book §7.5.2).

* :func:`hz_to_mel` / :func:`mel_to_hz` -- the Slaney mel scale (linear below 1 kHz, logarithmic
  above: :math:`m = 3f/200` for :math:`f < 1000`, :math:`m = 15 + 27\ln(f/1000)/\ln 6.4` above),
  or the HTK scale :math:`m = 2595\log_{10}(1 + f/700)`.
* :func:`mel_filterbank` -- ``n_mels`` triangles, equally spaced on the mel axis between ``fmin``
  and ``fmax``, evaluated at the FFT bin frequencies :math:`k\,f_s/n_{fft}`; ``norm="slaney"``
  scales triangle :math:`m` by :math:`2/(f_{m+2} - f_m)` (equal area). Same defaults as
  ``librosa.filters.mel`` (tested equal).
* :func:`log_mel_spectrogram` -- :math:`\log(\max(M\,|\mathrm{STFT}(x)|^2, \epsilon))` with a Hann
  window, frames of ``n_fft`` samples every ``hop`` samples, no padding (``center=False``): a
  signal shorter than one frame has no frame and raises :class:`ShapeError`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..errors import ConfigError, ShapeError

__all__ = ["hz_to_mel", "mel_to_hz", "mel_filterbank", "power_spectrogram", "log_mel_spectrogram"]

_F_SP = 200.0 / 3  # Hz per mel below 1 kHz (Slaney)
_MIN_LOG_HZ, _MIN_LOG_MEL, _LOGSTEP = 1000.0, 15.0, math.log(6.4) / 27.0


def hz_to_mel(f: Tensor, htk: bool = False) -> Tensor:
    """Frequencies ``f`` (Hz, any shape) on the mel scale: Slaney's (linear below 1 kHz, log above) or, with ``htk``, ``2595 log10(1 + f/700)``."""
    if htk:
        return 2595.0 * torch.log10(1.0 + f / 700.0)
    lin = f / _F_SP
    return torch.where(f >= _MIN_LOG_HZ, _MIN_LOG_MEL + torch.log(f.clamp_min(1e-10) / _MIN_LOG_HZ) / _LOGSTEP, lin)


def mel_to_hz(m: Tensor, htk: bool = False) -> Tensor:
    """The inverse of :func:`hz_to_mel`: mel values ``m`` (any shape) back to Hz."""
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    return torch.where(m >= _MIN_LOG_MEL, _MIN_LOG_HZ * torch.exp(_LOGSTEP * (m - _MIN_LOG_MEL)), _F_SP * m)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int = 40, fmin: float = 0.0, fmax: float | None = None,
                   htk: bool = False, norm: str | None = "slaney", dtype=torch.float64) -> Tensor:
    """The filterbank ``(n_mels, n_fft // 2 + 1)``: row ``m`` is triangle ``m`` over the FFT bins."""
    fmax = sample_rate / 2 if fmax is None else fmax
    if not 0 <= fmin < fmax <= sample_rate / 2:
        raise ConfigError(f"need 0 <= fmin < fmax <= sample_rate/2 = {sample_rate / 2}, got fmin={fmin}, fmax={fmax}")
    if norm not in ("slaney", None):
        raise ConfigError(f"norm must be 'slaney' or None, got {norm!r}")
    bins = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=dtype)  # FFT bin centres (Hz)
    lo, hi = hz_to_mel(torch.tensor(fmin, dtype=dtype), htk), hz_to_mel(torch.tensor(fmax, dtype=dtype), htk)
    edges = mel_to_hz(torch.linspace(float(lo), float(hi), n_mels + 2, dtype=dtype), htk)  # (n_mels + 2,)
    width = edges.diff()  # (n_mels + 1,)
    rise = (bins[None, :] - edges[:-2, None]) / width[:-1, None]  # left slope of each triangle
    fall = (edges[2:, None] - bins[None, :]) / width[1:, None]  # right slope
    fb = torch.minimum(rise, fall).clamp_min(0.0)
    if norm == "slaney":
        fb = fb * (2.0 / (edges[2:] - edges[:-2]))[:, None]  # equal area
    return fb


def power_spectrogram(wave: Tensor, n_fft: int = 512, hop: int = 256) -> Tensor:
    """``|STFT|²`` of ``wave (..., L)`` with a periodic Hann window, no padding: ``(..., n_fft//2+1, frames)``."""
    if wave.shape[-1] < n_fft:
        raise ShapeError(f"audio of {wave.shape[-1]} samples is shorter than one analysis frame of n_fft={n_fft} "
                         "samples; pad it (e.g. with silence) or lower n_fft")
    window = torch.hann_window(n_fft, dtype=wave.dtype, device=wave.device)
    spec = torch.stft(wave, n_fft, hop, window=window, center=False, return_complex=True)
    return spec.abs() ** 2


def log_mel_spectrogram(wave: Tensor, sample_rate: int, n_fft: int = 512, hop: int = 256, n_mels: int = 40,
                        fmin: float = 0.0, fmax: float | None = None, eps: float = 1e-10) -> Tensor:
    """``wave (..., L)`` float -> log-mel features ``(..., frames, n_mels)`` (time first, for RNNs)."""
    if not wave.is_floating_point():
        raise ShapeError(f"audio must be float samples, got {wave.dtype}; divide int16 PCM by 32768")
    fb = mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax, dtype=wave.dtype).to(wave.device)
    mel = torch.einsum("mk,...kt->...tm", fb, power_spectrogram(wave, n_fft, hop))
    return mel.clamp_min(eps).log()
