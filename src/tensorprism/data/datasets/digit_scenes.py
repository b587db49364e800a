"""Visual question answering and captioning on scenes of real MNIST digits (book §7.3.2, §7.5.3, §7.6.2).

A *scene* is a black 64×64 image divided into a 2×2 grid of 32-pixel cells (top left, top right,
bottom left, bottom right); each occupied cell holds one MNIST digit (28×28) at a random offset of
0-4 pixels inside the cell. Ground truth is exact because the scene was composed.

VQA (``digit-vqa``): scenes of 2-4 digits with one question each, drawn from five templates
(the question type is kept with every item):

=============  ==========================================  ==================
type           question                                    answer
=============  ==========================================  ==================
``count``      how many digits are there ?                 2, 3 or 4
``largest``    what is the largest digit ?                 a digit
``left-of``    which digit is left of the <d> ?            a digit
``above``      which digit is above the <d> ?              a digit
``position``   which digit is in the <top|bottom> <left|right> ?   a digit or ``nothing``
=============  ==========================================  ==================

(``left-of``/``above`` are asked only about a digit that occurs once and has a neighbour there.)

Captioning (``digit-captions``): scenes of exactly two digits in neighbouring cells, captioned
``"a <d1> left of a <d2>"`` or ``"a <d1> above a <d2>"``.

Held-out compositions: the ordered pairs ``(d1, d2)`` with ``(3·d1 + d2) % 7 == 0`` (15 of 100)
never appear as neighbours (left/right or above/below) in ``train`` or ``val`` scenes;
``test`` scenes avoid them too, and ``test-heldout`` scenes always contain one (the caption's pair,
or for VQA a neighbouring pair). Train and val scenes use MNIST training digits (the 55,000/5,000
split of ``mnist``), test scenes MNIST test digits.

Scene ``i`` of a split is a pure function of ``(GENERATOR_VERSION, seed, split, i)``; the whole
set is generated at load time (a few seconds for 10,000 scenes).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from ...errors import ConfigError
from .. import DatasetInfo, register_dataset
from ..splits import check_split

GENERATOR_VERSION = 1
SIZE, CELL = 64, 32
CELLS = ("top left", "top right", "bottom left", "bottom right")  # row-major 2×2
QUESTION_TYPES = ("count", "largest", "left-of", "above", "position")
ANSWERS = tuple(str(d) for d in range(10)) + ("nothing",)
SPLITS = ("train", "val", "test", "test-heldout")
PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
WORDS = (PAD, BOS, EOS, "a", "left", "of", "above", "how", "many", "digits", "are", "there", "?", "what", "is",
         "the", "largest", "digit", "which", "in", "top", "bottom", "right") + tuple(str(d) for d in range(10))
VOCAB = {w: i for i, w in enumerate(WORDS)}

__all__ = ["GENERATOR_VERSION", "ANSWERS", "QUESTION_TYPES", "WORDS", "VOCAB", "held_out_pair", "encode", "decode",
           "DigitVQA", "DigitCaptions"]


def held_out_pair(d1: int, d2: int) -> bool:
    """Whether ``(d1, d2)`` is a composition kept out of training."""
    return (3 * d1 + d2) % 7 == 0


def encode(text: str, bos_eos: bool = False) -> list[int]:
    """Word ids of a space-separated ``text`` of the scene vocabulary, wrapped in BOS/EOS when ``bos_eos``."""
    ids = [VOCAB[w] for w in text.split()]
    return [VOCAB[BOS], *ids, VOCAB[EOS]] if bos_eos else ids


def decode(ids) -> str:
    """The words of ``ids`` joined by spaces (the inverse of :func:`encode`)."""
    out = []
    for i in ids:
        w = WORDS[int(i)]
        if w == EOS:
            break
        if w not in (PAD, BOS):
            out.append(w)
    return " ".join(out)


def _neighbours(cells: dict[int, int]) -> list[tuple[int, int, str]]:
    """``(digit_first, digit_second, relation)`` for each left/right and above/below pair."""
    out = []
    for a, b, rel in ((0, 1, "left of"), (2, 3, "left of"), (0, 2, "above"), (1, 3, "above")):
        if a in cells and b in cells:
            out.append((cells[a], cells[b], rel))
    return out


def _paint(rng, pool: dict[int, np.ndarray], cells: dict[int, int]) -> np.ndarray:
    img = np.zeros((SIZE, SIZE), np.uint8)
    for cell, digit in cells.items():
        bank = pool[digit]
        d = bank[rng.integers(len(bank))]
        y0, x0 = (cell // 2) * CELL + rng.integers(0, 5), (cell % 2) * CELL + rng.integers(0, 5)
        img[y0:y0 + 28, x0:x0 + 28] = d
    return img


def _accept(cells: dict[int, int], split: str) -> bool:
    held = [held_out_pair(a, b) for a, b, _ in _neighbours(cells)]
    return any(held) if split == "test-heldout" else not any(held)


def _question(rng, cells: dict[int, int]) -> tuple[str, str, str]:
    qtype = QUESTION_TYPES[rng.integers(len(QUESTION_TYPES))]
    counts = np.bincount(list(cells.values()), minlength=10)
    if qtype in ("left-of", "above"):
        rel = "left of" if qtype == "left-of" else "above"
        options = [(a, b) for a, b, r in _neighbours(cells) if r == rel and counts[b] == 1]
        if not options:
            qtype = "count"
        else:
            a, b = options[rng.integers(len(options))]
            return f"which digit is {rel} the {b} ?", str(a), qtype
    if qtype == "count":
        return "how many digits are there ?", str(len(cells)), qtype
    if qtype == "largest":
        return "what is the largest digit ?", str(max(cells.values())), qtype
    cell = int(rng.integers(4))
    return f"which digit is in the {CELLS[cell]} ?", str(cells[cell]) if cell in cells else "nothing", "position"


def _pools(images: np.ndarray, labels: np.ndarray) -> dict[int, np.ndarray]:
    return {d: images[labels == d] for d in range(10)}


class _Scenes(Dataset):
    def __init__(self, images: np.ndarray, labels: np.ndarray, n: int, split: str, seed: int):
        check_split(split, SPLITS, type(self).__name__)
        if n < 0:
            raise ConfigError(f"n must be >= 0, got {n}")
        self.split, self.seed, self.n = split, seed, n
        pool = _pools(images, labels)
        self.images = np.zeros((n, SIZE, SIZE), np.uint8)
        self.cells: list[dict[int, int]] = []
        for i in range(n):
            rng = np.random.default_rng([GENERATOR_VERSION, seed, SPLITS.index(split), i, self.kind])
            while True:
                cells = self._layout(rng)
                if _accept(cells, split):
                    break
            self.cells.append(cells)
            self.images[i] = _paint(rng, pool, cells)
            self._annotate(rng, cells)

    kind = 0

    def __len__(self) -> int:
        return self.n

    def image(self, i: int) -> torch.Tensor:
        return torch.from_numpy(self.images[i]).float().div_(255).unsqueeze(0)  # (1, 64, 64)


class DigitVQA(_Scenes):
    """Items ``((image (1, 64, 64), question ids (L,)), answer)``; ``qtypes[i]`` the question type,
    ``questions[i]``/``answers[i]`` the text. Questions are padded to ``L = 9`` with id 0."""

    kind = 1
    max_len = 9

    def __init__(self, *args, **kwargs):
        self.questions: list[str] = []
        self.answers: list[str] = []
        self.qtypes: list[str] = []
        super().__init__(*args, **kwargs)
        self.q_ids = torch.zeros(self.n, self.max_len, dtype=torch.long)
        for i, q in enumerate(self.questions):
            ids = encode(q)
            self.q_ids[i, :len(ids)] = torch.tensor(ids)
        self.targets = torch.tensor([ANSWERS.index(a) for a in self.answers])

    def _layout(self, rng) -> dict[int, int]:
        k = int(rng.integers(2, 5))
        cells = rng.choice(4, k, replace=False)
        return {int(c): int(rng.integers(10)) for c in cells}

    def _annotate(self, rng, cells) -> None:
        q, a, t = _question(rng, cells)
        self.questions.append(q)
        self.answers.append(a)
        self.qtypes.append(t)

    def __getitem__(self, i: int):
        return (self.image(i), self.q_ids[i]), self.targets[i]


class DigitCaptions(_Scenes):
    """Items ``{"src": image (1, 64, 64), "tgt": caption ids (<bos> … <eos>, 8 with padding)}``
    (the batches :class:`~tensorprism.train.tasks.seq2seq.Seq2SeqTask` reads); ``captions[i]`` the text."""

    kind = 2
    max_len = 8

    def __init__(self, *args, **kwargs):
        self.captions: list[str] = []
        super().__init__(*args, **kwargs)
        self.tgt = torch.zeros(self.n, self.max_len, dtype=torch.long)
        for i, c in enumerate(self.captions):
            ids = encode(c, bos_eos=True)
            self.tgt[i, :len(ids)] = torch.tensor(ids)

    def _layout(self, rng) -> dict[int, int]:
        a, b = ((0, 1), (2, 3), (0, 2), (1, 3))[int(rng.integers(4))]
        return {a: int(rng.integers(10)), b: int(rng.integers(10))}

    def _annotate(self, rng, cells) -> None:
        (d1, d2, rel), = _neighbours(cells)
        self.captions.append(f"a {d1} {rel} a {d2}")

    def __getitem__(self, i: int):
        return {"src": self.image(i), "tgt": self.tgt[i]}


def _digits(root, split: str):
    from .. import load_dataset

    mnist = load_dataset("mnist", root=root, split="test" if split.startswith("test") else split, raw=True)
    x, y = mnist.tensors()
    return x[:, 0].numpy(), y.numpy()


def _sizes(split: str, n: int | None, train: int) -> int:
    return n if n is not None else {"train": train, "val": 1000, "test": 1000, "test-heldout": 1000}[split]


def _available(root) -> bool:
    from .. import is_available

    return is_available("mnist", root)


@register_dataset("digit-vqa", info=DatasetInfo(
    "digit-vqa", "multi-input-classification", "generated: 64x64 scenes of 2-4 MNIST digits, one question each (5 types, "
    "11 answers); default 10,000 train / 1,000 val / 1,000 test / 1,000 test-heldout",
    f"generated from the real MNIST digits (dataset 'mnist'), generator version {GENERATOR_VERSION}",
    modality="image+text", extra={"num_classes": len(ANSWERS)}, model="digit-vqa-net"), available=_available)
def digit_vqa(root, split: str = "train", n: int | None = None, seed: int = 0) -> DigitVQA:
    check_split(split, SPLITS, "digit-vqa")
    return DigitVQA(*_digits(root, split), _sizes(split, n, 10000), split, seed)


@register_dataset("digit-captions", info=DatasetInfo(
    "digit-captions", "seq2seq", "generated: 64x64 scenes of two neighbouring MNIST digits captioned 'a 3 above a 5'; "
    "default 5,000 train / 1,000 val / 1,000 test / 1,000 test-heldout (compositions unseen in training)",
    f"generated from the real MNIST digits (dataset 'mnist'), generator version {GENERATOR_VERSION}",
    modality="image+text", model="digit-captioner"), available=_available)
def digit_captions(root, split: str = "train", n: int | None = None, seed: int = 0) -> DigitCaptions:
    check_split(split, SPLITS, "digit-captions")
    return DigitCaptions(*_digits(root, split), _sizes(split, n, 5000), split, seed)
