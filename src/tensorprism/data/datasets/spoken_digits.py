"""Spoken digits synthesised with ``espeak-ng``, as log-mel spectrograms (book §7.5.2, audio attention).

Source: Debian package ``espeak-ng`` (``apt-get install --no-install-recommends espeak-ng``; GPL-3,
the synthesiser only: the sounds are generated here). The ten words "zero" … "nine" are spoken by
20 *speakers* -- 5 English voices (``en-us``, ``en-gb``, ``en-gb-scotland``, ``en-029``,
``en-gb-x-rp``) × 4 voice variants (``m1``, ``m3``, ``f2``, ``f4``) -- at 3 speeds (120, 160, 200
words per minute) and 2 pitches (30, 70): 1,200 clips of 22,050 Hz mono.

Splits hold out speakers: speaker ``k`` (voice-major order) is in ``test`` when ``k % 5 == 4``,
in ``val`` when ``k % 5 == 3``, else in ``train`` (12 train / 4 val / 4 test speakers, 720 / 240 /
240 clips); no test speaker's voice+variant is heard in training.

Each clip, trimmed of its leading and trailing silence, is placed at a fixed pseudo-random offset
(a function of its name) inside a ``duration``-second window of silence (1.0 s; the longest
trimmed clip lasts just under 1.0 s), so the word covers only part of the input, then
turned into a log-mel spectrogram with :func:`~tensorprism.functional.audio.log_mel_spectrogram`
(``n_fft=512``, ``hop=256``, 40 mels): items are ``(features (T=85, 40), digit)``.

The WAV files are generated once into ``~/.cache/tensorprism/data/spoken-digits/v1/`` (a copy in
``<root>/spoken-digits/v1/`` is used instead when present) with a ``manifest.json`` naming the espeak-ng
version; loading files made by another version raises :class:`DataError` (``verify=False`` accepts them).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from ...errors import DataError, DatasetNotFoundError
from .. import DatasetInfo, register_dataset
from ..arrays import ArrayDataset
from ..download import cache_dir
from ..splits import check_split

VERSION = "v1"
WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-029", "en-gb-x-rp")
VARIANTS = ("m1", "m3", "f2", "f4")
SPEEDS = (120, 160, 200)
PITCHES = (30, 70)
SPEAKERS = tuple(f"{v}+{var}" for v in VOICES for var in VARIANTS)
SAMPLE_RATE = 22050
OBTAIN = "`apt-get install --no-install-recommends espeak-ng` (Debian/Ubuntu; or `make data`)"


def speaker_split(k: int) -> str:
    return "test" if k % 5 == 4 else "val" if k % 5 == 3 else "train"


def clip_name(speaker: str, speed: int, pitch: int, digit: int) -> str:
    return f"{speaker}_s{speed}_p{pitch}_{digit}.wav"


def _espeak() -> str | None:
    return shutil.which("espeak-ng")


def _espeak_version(exe: str) -> str:
    return subprocess.run([exe, "--version"], capture_output=True, text=True, check=True).stdout.strip()


def _folder(root: Path) -> Path:
    """A copy under the data root when there is one, else the cache (generated files never go
    into the data root, which may be shared)."""
    first = Path(root) / "spoken-digits" / VERSION
    return first if (first / "manifest.json").exists() else cache_dir("data", "spoken-digits", VERSION)


def _all_clips() -> list[tuple[str, int, int, int]]:
    return [(s, sp, p, d) for s in SPEAKERS for sp in SPEEDS for p in PITCHES for d in range(10)]


def synthesise(folder: Path, exe: str | None = None) -> Path:
    """Write every clip missing from ``folder`` with espeak-ng (about a minute on 2 cores)."""
    exe = exe or _espeak()
    if exe is None:
        raise DatasetNotFoundError(f"dataset 'spoken-digits' needs the espeak-ng synthesiser: {OBTAIN}")
    folder.mkdir(parents=True, exist_ok=True)
    version = _espeak_version(exe)
    manifest = folder / "manifest.json"
    if not manifest.exists():
        manifest.write_text(json.dumps({"espeak-ng": version, "generator": VERSION}))

    def one(c):
        speaker, speed, pitch, digit = c
        path = folder / clip_name(*c)
        if not path.exists():
            tmp = path.with_suffix(f".{os.getpid()}.tmp")  # two processes may synthesise at once
            subprocess.run([exe, "-v", speaker, "-s", str(speed), "-p", str(pitch), "-w", str(tmp), WORDS[digit]],
                           check=True, capture_output=True)
            tmp.rename(path)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, _all_clips()))
    return folder


def read_wav(path: Path) -> np.ndarray:
    """Mono 16-bit PCM -> float32 in [-1, 1]."""
    with wave.open(str(path)) as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2 or w.getframerate() != SAMPLE_RATE:
            raise DataError(f"{path}: expected mono 16-bit {SAMPLE_RATE} Hz audio, got {w.getnchannels()} channels, "
                            f"{8 * w.getsampwidth()} bits, {w.getframerate()} Hz; delete it to regenerate")
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768.0


def trim(clip: np.ndarray, rel: float = 0.01) -> np.ndarray:
    """``clip`` without the leading and trailing samples quieter than ``rel`` of its peak."""
    loud = np.flatnonzero(np.abs(clip) > rel * np.abs(clip).max()) if clip.size else np.zeros(0, int)
    return clip[loud[0]:loud[-1] + 1] if loud.size else clip[:0]


def place(clip: np.ndarray, length: int, key: str) -> np.ndarray:
    """``clip`` at a fixed pseudo-random offset (from ``key``) in ``length`` samples of silence
    (cropped when longer)."""
    clip = clip[:length]
    slack = length - len(clip)
    offset = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "little") % (slack + 1)
    out = np.zeros(length, np.float32)
    out[offset:offset + len(clip)] = clip
    return out


@functools.lru_cache(maxsize=4)
def _features(folder: str, split: str, duration: float, n_mels: int) -> tuple[torch.Tensor, torch.Tensor, tuple]:
    from ...functional.audio import log_mel_spectrogram

    clips = [c for c in _all_clips() if speaker_split(SPEAKERS.index(c[0])) == split]
    length = int(duration * SAMPLE_RATE)
    waves = np.stack([place(trim(read_wav(Path(folder) / clip_name(*c))), length, clip_name(*c)) for c in clips])
    feats = log_mel_spectrogram(torch.from_numpy(waves), SAMPLE_RATE, n_mels=n_mels, eps=1e-6).float()
    labels = torch.tensor([c[3] for c in clips])
    return feats, labels, tuple(c[0] for c in clips)


def _available(root: Path) -> bool:
    return _espeak() is not None or (_folder(root) / "manifest.json").exists()


@register_dataset("spoken-digits", info=DatasetInfo(
    "spoken-digits", "classification", "1,200 clips: 10 words x 20 speakers x 3 speeds x 2 pitches; train 720 / "
    "val 240 / test 240 (speakers held out)",
    f"synthesised with Debian espeak-ng ({OBTAIN}); log-mel spectrograms (T=85, 40)", modality="audio",
    extra={"num_classes": 10, "shape": (85, 40)}, model="speech-attention-lstm-book"), available=_available)
def spoken_digits(root: Path, split: str = "train", duration: float = 1.0, n_mels: int = 40,
                  verify: bool = True) -> ArrayDataset:
    """Log-mel features ``(N, T, n_mels)`` of ``split``'s clips, labels the digits."""
    check_split(split, ("train", "val", "test"), "spoken-digits")
    folder = _folder(root)
    if not (folder / "manifest.json").exists() or len(list(folder.glob("*.wav"))) < len(_all_clips()):
        synthesise(folder)
    if verify and _espeak() is not None:
        made = json.loads((folder / "manifest.json").read_text()).get("espeak-ng")
        if made != _espeak_version(_espeak()):
            raise DataError(f"{folder} was synthesised by {made!r} but this machine has {_espeak_version(_espeak())!r}; "
                            "delete the folder to regenerate, or pass verify=False")
    x, y, speakers = _features(str(folder), split, duration, n_mels)
    return ArrayDataset(x, y, classes=WORDS, name="spoken-digits", split=split, speakers=list(speakers))
