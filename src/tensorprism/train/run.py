"""Config-driven runs: a nested dict (YAML) → model, data, task and :class:`Trainer`.

The run configuration has the same layout as the ``config.yaml`` a run directory holds, so any
run can be repeated with ``prism train --config runs/x/config.yaml``::

    model:   {name: mlp, config: {hidden: [128, 64]}}
    dataset: {name: digits, config: {}, root: null}
    task:    {name: classification, config: {}}
    trainer: {epochs: 40, lr: 0.003, ...}          # TrainerConfig fields

``key=value`` overrides address it with dots; values are parsed as YAML (``hidden=[256,128]``,
``scheduler={name: cosine, warmup: 50}``). Shortcuts: ``model=NAME``, ``dataset=NAME``,
``task=NAME`` set the name; ``model.X`` / ``dataset.X`` / ``task.X`` set ``<part>.config.X``;
a bare TrainerConfig field (``epochs=5``) sets ``trainer.<field>``; ``out=DIR`` is ``out_dir``.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch.utils.data import Dataset, Subset, TensorDataset

from ..errors import ConfigError, TensorPrismError, suggest
from .trainer import Trainer, TrainerConfig

PARTS = ("model", "dataset", "task")
PART_KEYS = ("name", "config", "root", "limit")  # limit: first N examples of each split (dataset)
TRAINER_FIELDS = tuple(f.name for f in dataclasses.fields(TrainerConfig))

# `prism train` with no arguments: the registered `mlp` (64-128-64-10) on scikit-learn digits.
DEFAULT_RUN: dict[str, Any] = {
    "model": {"name": "mlp", "config": {"dropout": 0.1}},
    "dataset": {"name": "digits", "config": {}, "root": None},
    "trainer": {"epochs": 40, "batch_size": 32, "lr": 3e-3, "weight_decay": 1e-4,
                "optimizer": "adamw", "scheduler": "cosine", "seed": 0},
}


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``base`` with ``override`` merged in: nested dicts merged key by key, other values replaced."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def normalize_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """Accept ``model: NAME`` shorthands and top-level trainer fields; reject unknown keys."""
    out: dict[str, Any] = {}
    for key, value in (cfg or {}).items():
        if key in PARTS:
            part = {"name": value} if isinstance(value, str) else dict(value or {})
            extra = {k: v for k, v in part.items() if k not in (*PART_KEYS, "class")}
            part = {k: v for k, v in part.items() if k in PART_KEYS}
            part["config"] = {**(part.get("config") or {}), **extra}
            out[key] = part
        elif key == "trainer":
            out.setdefault("trainer", {}).update(value or {})
        elif key in TRAINER_FIELDS or key == "out":
            out.setdefault("trainer", {})["out_dir" if key == "out" else key] = value
        else:
            known = (*PARTS, "trainer", *TRAINER_FIELDS)
            close = suggest(key, known)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown run setting {key!r}{hint}; use model, dataset, task, trainer "
                              f"or a trainer field such as epochs, lr, batch_size")
    for key in out.get("trainer", {}):
        if key not in TRAINER_FIELDS:
            close = suggest(key, TRAINER_FIELDS)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown trainer setting {key!r}{hint}")
    return out


def parse_assignment(item: str) -> tuple[str, Any]:
    """``"key=value"`` → ``(key, value)`` with the value parsed as YAML (``5``, ``[1, 2]``, ``null``)."""
    if "=" not in item:
        raise ConfigError(f"override {item!r} is not of the form key=value (e.g. epochs=5)")
    key, raw = item.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw != "" else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"cannot parse the value of {key}: {exc}") from exc
    return key.strip(), _number(value)


def _numbers(doc: Any) -> Any:
    """:func:`_number` applied throughout a YAML document."""
    if isinstance(doc, dict):
        return {k: _numbers(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_numbers(v) for v in doc]
    return _number(doc)


def _number(value: Any) -> Any:
    """YAML 1.1 reads ``1e-3`` (no dot) as a string; read such strings as the floats they are."""
    if isinstance(value, str):
        try:
            return float(value) if value.strip().lower() not in ("nan", "inf", "-inf", "infinity") else value
        except ValueError:
            return value
    return value


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["epochs=5", "model.hidden=[64]"]`` → a nested config fragment (values parsed as YAML)."""
    frag: dict[str, Any] = {}
    for item in items:
        key, value = parse_assignment(item)
        path = key.split(".")
        head = path[0]
        if head in PARTS:
            if len(path) == 1:
                frag = deep_merge(frag, {head: {"name": value}})
                continue
            sub = path[1:] if path[1] in PART_KEYS else ["config", *path[1:]]
            path = [head, *sub]
        elif head in TRAINER_FIELDS or head == "out":
            path = ["trainer", "out_dir" if head == "out" else head, *path[1:]]
        node: dict[str, Any] = {}
        cur = node
        for p in path[:-1]:
            cur[p] = {}
            cur = cur[p]
        cur[path[-1]] = value
        frag = deep_merge(frag, node)
    return frag


def load_config(path: str | Path | None = None, overrides: list[str] | None = None,
                base: dict[str, Any] | None = None) -> dict[str, Any]:
    """``base`` (default :data:`DEFAULT_RUN`) ← YAML file ← overrides, normalised and checked.

    With the default base, a run on another dataset that names no model gets the dataset's model
    (:attr:`~tensorprism.data.DatasetInfo.model`), and :data:`DEFAULT_RUN`'s model options are
    applied only when the model is the default one.
    """
    default = base is None
    base = copy.deepcopy(DEFAULT_RUN if default else base)
    model_defaults = base["model"].pop("config", {}) if default else {}
    user: dict[str, Any] = {}
    if path is not None:
        user = normalize_config(read_config_file(path))
    if overrides:
        user = deep_merge(user, normalize_config(parse_overrides(overrides)))
    cfg = deep_merge(normalize_config(base), user)
    if default and not user.get("model", {}).get("name") and cfg["dataset"]["name"] != DEFAULT_RUN["dataset"]["name"]:
        # another dataset and no model named: the dataset's own model
        from ..data import dataset_info

        cfg["model"]["name"] = dataset_info(cfg["dataset"]["name"]).model or cfg["model"]["name"]
    if default and cfg["model"].get("name") == DEFAULT_RUN["model"]["name"]:
        # the default model's options (dropout) are the default model's, never pushed into another
        cfg["model"]["config"] = {**model_defaults, **cfg["model"].get("config", {})}
    return cfg


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A YAML run configuration: a mapping, read with the safe loader (no ``!!python`` tags)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {p} not found" + (" (it is a directory)" if p.is_dir() else ""))
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise ConfigError(f"config file {p} is not valid YAML (Python tags such as !!python/object are "
                          f"refused): {detail}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {p} is not UTF-8 text") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        kind = {"list": "a list", "int": "a number", "float": "a number", "str": "a string",
                "bool": "a boolean"}.get(type(doc).__name__, type(doc).__name__)
        raise ConfigError(f"config file {p} holds {kind}, but a run configuration is a "
                          f"mapping such as 'model: mlp' / 'epochs: 5' (see a run's config.yaml)")
    return _numbers(doc)


def load_split(cfg: dict[str, Any], split: str):
    """Split ``split`` of the configured dataset (``None`` if the dataset has no such split; a
    missing ``"val"`` is looked for as ``"dev"``, a missing ``"train"`` as ``"all"``)."""
    from ..data import load_dataset

    ds = cfg["dataset"]
    # GLUE calls validation "dev"; a dataset split by its task (movielens) has only "all"; Multi30k's
    # test set is "test2016"
    names = {"val": ("val", "dev"), "train": ("train", "all"), "test": ("test", "test2016")}.get(split, (split,))
    for name in names:
        try:
            return load_dataset(ds["name"], root=ds.get("root"), split=name, **ds.get("config", {}))
        except TensorPrismError as exc:
            if "split" in str(exc) and (split != "train" or name != names[-1]):
                continue
            raise
    return None


# --------------------------------------------------------------------------- data -> Task batches
# A registered dataset returns its natural object (a table, a Graph, a text, a Series...). The
# adapters below turn its splits into what the dataset's task consumes, and describe the data with
# the keys MODEL_OPTIONS_FROM_DATA reads, so that model options can be filled in from it.

# model config field -> key of the data description it is filled from (when the user left it unset)
MODEL_OPTIONS_FROM_DATA: dict[str, str] = {
    "num_classes": "num_classes", "num_labels": "num_classes",
    "in_features": "features", "in_channels": "channels", "in_chans": "channels",
    "input_size": "channels", "img_size": "img_size",
    "vocab_size": "vocab_size", "block_size": "seq_len", "horizon": "horizon",
    "out_channels": "targets", "edge_dim": "edge_features",
    "src_vocab": "src_vocab_size", "src_vocab_size": "src_vocab_size",
    "tgt_vocab": "tgt_vocab_size", "tgt_vocab_size": "tgt_vocab_size",
    "pad_id": "pad_id", "bos_id": "bos_id", "eos_id": "eos_id",
}

# preprocessing the adapters fit (not the dataset itself): a run must have saved it to be re-encoded
FITTED_BY_ADAPTER = ("char-vocab", "word-vocab", "document-vocab", "pair-vocab")

# dataset task names that are other names of a registered task
TASK_ALIASES = {"language-modelling": "language-model", "translation": "seq2seq"}


@dataclasses.dataclass
class PreparedData:
    """A run's ``train/val/test`` data as its task consumes it.

    Attributes:
        splits: ``{"train", "val", "test"} -> dataset or None``.
        describe: what model options can be filled from (keys read by :data:`MODEL_OPTIONS_FROM_DATA`).
        preprocessing: the transform fitted on the training split (:mod:`tensorprism.data.preprocessing`).
        task_options: options of the dataset's own task that suit this data (the user's win), e.g.
            per-window normalisation and the seasonal period for a forecasting series.
    """

    splits: dict[str, Any]
    describe: dict[str, Any]
    preprocessing: Any = None
    task_options: dict[str, Any] = dataclasses.field(default_factory=dict)


class EncodedSentences(Dataset):
    """``(token ids (T,), label)`` items, padded per batch into ``{"x" (B, T), "x_lengths" (B,), "y" (B,)}``."""

    def __init__(self, items: list[tuple[torch.Tensor, int]]):
        from ..data.text.collate import PadCollator

        self.items, self.collate_fn = items, PadCollator(("x", "y"))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.items[i]


class EncodedPairs(Dataset):
    """``(source ids (S,), target ids (T,))`` items, padded per batch into ``{"src" (B, S),
    "src_lengths" (B,), "tgt" (B, T), "tgt_lengths" (B,)}`` (the seq2seq task's batches)."""

    def __init__(self, items: list[tuple[torch.Tensor, torch.Tensor]], pad_id: int = 0):
        from ..data.text.collate import PadCollator

        self.items, self.collate_fn = items, PadCollator(("src", "tgt"), pad_id=pad_id)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.items[i]


class EncodedDocuments(Dataset):
    """``(token ids (S, W), label)`` items, padded per batch into ``{"x" (B, S, W), "y" (B,)}``
    (id 0 is padding: a hierarchical model masks padded words and sentences with ``ids != 0``)."""

    def __init__(self, items: list[tuple[torch.Tensor, int]]):
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.items[i]

    @staticmethod
    def collate_fn(items: list[tuple[torch.Tensor, int]]) -> dict[str, torch.Tensor]:
        S = max(ids.shape[0] for ids, _ in items)
        W = max(ids.shape[1] for ids, _ in items)
        x = torch.zeros(len(items), S, W, dtype=torch.long)
        for i, (ids, _) in enumerate(items):
            x[i, : ids.shape[0], : ids.shape[1]] = ids
        return {"x": x, "y": torch.tensor([y for _, y in items], dtype=torch.long)}


def _limit(data: Any, n: int | None) -> Any:
    """The first ``n`` examples of a sized dataset (``dataset.limit``: quick runs and smoke tests)."""
    if n is None or data is None or not hasattr(data, "__len__") or len(data) <= n:
        return data
    sub = Subset(data, range(n))
    if hasattr(data, "collate_fn"):  # the Trainer reads collate_fn off the dataset it is given
        sub.collate_fn = data.collate_fn
    return sub


def _sample_shape(dataset: Any) -> tuple[int, ...]:
    shape = getattr(dataset, "sample_shape", None)
    if shape is not None:
        return tuple(shape)
    x = _first_input(dataset)
    return tuple(getattr(x, "shape", ()))


def _first_input(data: Any) -> Any:
    item = data[0]
    if isinstance(item, dict):
        return item.get("x")
    return item[0] if isinstance(item, (tuple, list)) else item


def _prepare_arrays(raw: dict[str, Any], hints: dict[str, Any]) -> PreparedData:
    """Tables, images (``(x, y)`` datasets as they come) and UCR series (``x (N, C, T)`` arrays,
    given to the model batch-first as ``(N, T, C)``, the recurrent layers' layout)."""
    from ..data.arrays import ArrayDataset
    from ..data.preprocessing import preprocessing_of

    splits = {s: ArrayDataset(torch.as_tensor(d.x).transpose(1, 2).contiguous(), torch.as_tensor(d.y),
                              classes=d.classes)
              if d is not None and not hasattr(d, "__len__") else d for s, d in raw.items()}
    train = splits["train"]
    shape = _sample_shape(train)
    describe: dict[str, Any] = {"features": math.prod(shape), "num_classes": getattr(train, "num_classes", None)}
    if len(shape) == 2:  # (T, C) sequences
        describe["channels"] = shape[1]
    if len(shape) == 3:  # (C, H, W) images
        describe["channels"] = shape[0]
    if len(shape) == 3 and shape[1] == shape[2]:
        describe["img_size"] = shape[1]
    return PreparedData(splits, describe, preprocessing_of(raw["train"]))


def _prepare_graph(raw: dict[str, Any], hints: dict[str, Any]) -> PreparedData:
    """One transductive graph: full batch, each split selecting its nodes with the graph's mask."""
    from ..graph.sampling import NodeBatch
    from .data import FullBatch

    g = raw["train"]
    if g.y is None or g.x is None:
        raise ConfigError(f"graph {g.meta.get('name', '')!r} has no node features and labels to classify; "
                          f"learn it from Python (e.g. link-prediction with link_split_data) or with its recipe")
    masks = {s: getattr(g, f"{s}_mask", None) for s in ("train", "val", "test")}
    splits = {s: FullBatch(NodeBatch(g, m)) if m is not None else None for s, m in masks.items()}
    n_classes = g.meta.get("num_classes") or int(g.y.max()) + 1
    return PreparedData(splits, {"features": g.x.shape[1], "channels": g.x.shape[1], "num_classes": n_classes})


def _prepare_graph_list(raw: dict[str, Any], hints: dict[str, Any]) -> PreparedData:
    """Many small graphs (molecules): block-diagonal batches, one target row per graph."""
    from .tasks.graph import GraphBatchDataset

    first = raw["train"][0]
    splits = {s: GraphBatchDataset(graphs) if graphs else None for s, graphs in raw.items()}
    describe = {"features": first.x.shape[1], "channels": first.x.shape[1], "targets": first.y.shape[-1],
                "edge_features": first.edge_attr.shape[-1] if first.edge_attr is not None else None}
    return PreparedData(splits, describe)


def _prepare_documents(raw: dict[str, Any], hints: dict[str, Any]) -> PreparedData:
    """``[{"text": ...}]`` documents (plays): their texts, joined, modelled character by character."""
    from ..data.preprocessing import CharVocab

    joined = {s: "\n\n".join(doc["text"] for doc in docs) if docs else None for s, docs in raw.items()}
    # held-out documents use characters the training ones lack: the alphabet is that of all of them
    alphabet = CharVocab.fit("".join(text for text in joined.values() if text))
    return _prepare_chars(joined, hints, alphabet)


def _prepare_chars(raw: dict[str, Any], hints: dict[str, Any], vocab: Any = None) -> PreparedData:
    """A text: character vocabulary (``vocab``, default: the training text's), non-overlapping
    windows of ``block_size`` characters, each predicting the window shifted by one."""
    from ..data.preprocessing import CharVocab
    from ..data.text.lm import SlidingWindowDataset

    vocab = vocab or CharVocab.fit(raw["train"])
    block = int(hints.get("block_size") or 64)
    splits = {s: SlidingWindowDataset(vocab(text), block, stride=block) if text else None
              for s, text in raw.items()}
    return PreparedData(splits, {"vocab_size": len(vocab), "seq_len": block}, vocab)


def _prepare_sentences(raw: dict[str, Any], hints: dict[str, Any]) -> PreparedData:
    """``[(text, label)]``: word vocabulary of the training texts, padded id batches; for a model of
    the ``documents`` layout (HAN), each text as sentences of words, ``(S, W)`` ids."""
    from ..data.preprocessing import DocumentVocab, WordVocab

    texts = [text for text, _ in raw["train"]]
    documents = hints.get("input_layout") == "documents"
    vocab = DocumentVocab.fit(texts) if documents else WordVocab.fit(texts)
    encoded = EncodedDocuments if documents else EncodedSentences
    splits = {s: encoded(list(zip(vocab([t for t, _ in pairs]), [y for _, y in pairs], strict=True)))
              if pairs else None for s, pairs in raw.items()}
    # the dataset's declared classes, else the largest label + 1 (a limited split may lack some classes)
    classes = hints.get("dataset_classes") or 1 + max(label for _, label in raw["train"])
    return PreparedData(splits, {"vocab_size": len(vocab), "num_classes": classes}, vocab)


def _prepare_pairs(raw: dict[str, Any], hints: dict[str, Any]) -> PreparedData:
    """``[(source, target)]`` sentence pairs (translation, summarisation): a word vocabulary per side
    from the training pairs (words seen at least twice; the rest are ``<unk>``), sentences cut to
    the model's ``max_len`` positions when it has them."""
    from ..data.preprocessing import PairVocab

    max_len = hints.get("max_len") if isinstance(hints.get("max_len"), int) else None
    vocab = PairVocab.fit(raw["train"], min_freq=PAIR_MIN_FREQ, max_len=max_len)
    splits = {s: EncodedPairs([vocab.encode_pair(a, b) for a, b in pairs], vocab.pad_id) if pairs else None
              for s, pairs in raw.items()}
    src_size, tgt_size = vocab.sizes()
    describe = {"src_vocab_size": src_size, "tgt_vocab_size": tgt_size, "pad_id": vocab.pad_id,
                "bos_id": vocab.bos_id, "eos_id": vocab.eos_id}
    return PreparedData(splits, describe, vocab, task_options={"pad_id": vocab.pad_id})


# a word must occur this often in the training pairs to get its own id (the usual Multi30k setting)
PAIR_MIN_FREQ = 2


def _prepare_series(raw: dict[str, Any], hints: dict[str, Any]) -> PreparedData:
    """A univariate series: windows of ``2 x period`` past values predicting the next ``horizon``;
    the test windows predict the held-out tail (their inputs reach back into the training part)."""
    from ..data.windows import SlidingWindows

    train, test = raw["train"], raw.get("test")
    horizon = int(hints.get("horizon") or train.horizon)
    window = max(2 * train.period, 2)
    # copies: the series' arrays may be read-only views, which torch warns about
    splits: dict[str, Any] = {"train": SlidingWindows(train.values.copy(), window, horizon), "val": None, "test": None}
    if test is not None and len(test.values) >= horizon:
        splits["test"] = SlidingWindows(np.concatenate([train.values[-window:], test.values]), window, horizon)
    # series come at any level and scale (hundreds of passengers, ppm): without per-window
    # normalisation a default model does not learn them (airline MASE 11.5 after 40 epochs, 1.5 with it)
    return PreparedData(splits, {"channels": 1, "horizon": horizon},
                        task_options={"normalize": True, "season": int(train.period)})


def _adapter(sample: Any):
    """The adapter for a dataset, chosen by what its training split is (``None``: no adapter)."""
    from ..data.graph import Graph

    if isinstance(sample, Graph):
        return _prepare_graph
    if isinstance(sample, list) and sample and isinstance(sample[0], Graph):
        return _prepare_graph_list
    if isinstance(sample, list) and sample and isinstance(sample[0], dict) and "text" in sample[0]:
        return _prepare_documents
    if isinstance(sample, str):
        return _prepare_chars
    if isinstance(sample, list) and sample and isinstance(sample[0], tuple) \
            and isinstance(sample[0][0], str) and isinstance(sample[0][1], int):
        return _prepare_sentences
    if isinstance(sample, list) and sample and isinstance(sample[0], tuple) and len(sample[0]) == 2 \
            and all(isinstance(t, str) for t in sample[0]):
        return _prepare_pairs
    if hasattr(sample, "values") and hasattr(sample, "period"):
        return _prepare_series
    if isinstance(sample, Dataset) or (hasattr(sample, "x") and hasattr(sample, "y")):
        return _prepare_arrays
    return None


def dataset_task(cfg: dict[str, Any]) -> str:
    """The registered task the run's dataset declares."""
    from ..data import dataset_info

    declared = dataset_info(cfg["dataset"]["name"]).task
    return TASK_ALIASES.get(declared, declared)


def infer_task(cfg: dict[str, Any]) -> str:
    """The task of a run: ``task.name`` if set, else the registered task the dataset declares."""
    return (cfg.get("task") or {}).get("name") or dataset_task(cfg)


def model_hints(cfg: dict[str, Any]) -> dict[str, Any]:
    """The model's options before the data is looked at: the config dataclass' defaults, the
    registered variant's, then the user's (adapters read ``block_size``, ``horizon``)."""
    from ..models import model_entry

    entry = model_entry(cfg["model"]["name"])
    base = {f.name: f.default for f in dataclasses.fields(entry.config)
            if f.default is not dataclasses.MISSING} if entry.config else {}
    return {**base, **entry.defaults, **cfg["model"].get("config", {})}


def prepare_data(cfg: dict[str, Any]) -> PreparedData:
    """Load the configured dataset's train/val/test splits and adapt them to the run's task."""
    from ..data import dataset_info
    from ..models import model_input_layout

    name = cfg["dataset"]["name"]
    raw = {"train": load_split(cfg, "train")}
    adapter = _adapter(raw["train"])
    if adapter is None:
        raise ConfigError(f"dataset {name!r} gives {type(raw['train']).__name__} objects, which `prism train` "
                          f"cannot batch; train on it from Python or with its recipe (prism run --help)")
    if adapter is _prepare_graph:  # one transductive graph holds every split
        raw.update(val=None, test=None)
    else:
        raw.update(val=load_split(cfg, "val"), test=load_split(cfg, "test"))
    limit = cfg["dataset"].get("limit")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise ConfigError(f"dataset.limit must be an integer >= 1 (examples per split) or null, got {limit!r}")
    # lists of examples (sentences, molecules) are cut before encoding: nothing is encoded in vain
    raw = {s: d[:limit] if limit and isinstance(d, list) else d for s, d in raw.items()}
    hints = {**model_hints(cfg), "input_layout": model_input_layout(cfg["model"]["name"]),
             "dataset_classes": dataset_info(name).extra.get("num_classes")}
    prepared = adapter(raw, hints)
    prepared.splits = {s: _limit(d, limit) for s, d in prepared.splits.items()}
    return prepared


def _options_from_data(name: str, user: dict[str, Any], describe: dict[str, Any]) -> dict[str, Any]:
    from ..models import model_option_names

    fields = model_option_names(name)
    return {f: describe[key] for f, key in MODEL_OPTIONS_FROM_DATA.items()
            if f in fields and f not in user and describe.get(key) is not None}


def infer_model_config(cfg: dict[str, Any], describe: dict[str, Any]) -> dict[str, Any]:
    """Model options filled from the data description through :data:`MODEL_OPTIONS_FROM_DATA`:
    for the fields the model has and the user did not set. A model built around a registered
    ``encoder`` (``ssl-net``) gets the encoder's input options (channels, image size) in its
    ``encoder_config`` the same way; the encoder's classifier is removed, so not its classes."""
    from ..models import model_option_names

    user = cfg["model"].get("config", {})
    filled = _options_from_data(cfg["model"]["name"], user, describe)
    hints = model_hints(cfg)
    if isinstance(hints.get("encoder"), str) and "encoder_config" in model_option_names(cfg["model"]["name"]):
        enc_user = dict(hints.get("encoder_config") or {})
        enc = {k: v for k, v in _options_from_data(hints["encoder"], enc_user, describe).items()
               if k not in ("num_classes", "num_labels")}
        if enc:
            filled["encoder_config"] = {**enc_user, **enc}
    return filled


# the self-supervised tasks, one per ``ssl-net`` method (models/ssl.py METHOD_HEADS)
SSL_TASKS = ("simclr", "moco", "byol", "swav", "rotation", "deepcluster")

# the task that trains each generative kind (models/contract.py GENERATIVE_KINDS)
TASK_OF_GENERATIVE_KIND = {"autoencoder": "autoencoder", "vae": "vae", "gan": "adversarial", "flow": "density",
                           "autoregressive": "density", "energy": "energy",
                           "translation": "cycle-adversarial (CycleGAN) or sr-adversarial (SRGAN)"}
GENERATIVE_TASKS = {"autoencoder", "vae", "adversarial", "density", "energy", "cycle-adversarial", "sr-adversarial"}
# tasks that model or augment pixel values, so they take [0, 1] images rather than standardised ones
RAW_PIXEL_TASKS = GENERATIVE_TASKS | set(SSL_TASKS) | {"masked-image"}


def check_model_fits_dataset(cfg: dict[str, Any]) -> None:
    """Refuse, before any data is loaded, a graph model on a non-graph dataset or the reverse (their
    inputs, node features + edges vs tensors, cannot be adapted to each other), a detection
    model, which trains through its recipes only, and a generative model under a supervised task."""
    from ..data import dataset_info
    from ..models import model_kind, model_paradigm

    name, dataset = cfg["model"]["name"], cfg["dataset"]["name"]
    paradigm, modality = model_paradigm(name), dataset_info(dataset).modality
    if paradigm == "detection":  # boxes and masks come from the canvas generator, not a registered dataset
        raise ConfigError(f"model {name!r} is a detection model, and `prism train` has no detection dataset; "
                          "train it on the digit canvases with `prism run ch04-faster-rcnn` or `prism run ch04-mask-rcnn`")
    if paradigm == "generative":
        kind = model_kind(name)
        if kind == "translation":  # trained on pairs of domains, which no registered dataset holds
            raise ConfigError(
                f"model {name!r} translates images between two domains (CycleGAN: two unpaired image sets; SRGAN: "
                f"low/high-resolution pairs), which no registered dataset provides; train it with "
                "`prism run ch10-cyclegan` or `prism run ch10-srgan`")
        task = cfg["task"]["name"]
        if task not in GENERATIVE_TASKS:
            raise ConfigError(
                f"model {name!r} is a generative model ({kind}) but the run's task is {task!r}, which "
                f"{dataset!r} implies for supervised models; name its task with --task {TASK_OF_GENERATIVE_KIND[kind]}, "
                "or train it with its recipe (`prism run --help` lists the ch10-* recipes)")
    if (paradigm == "graph") != (modality == "graph"):
        need = "a graph dataset (e.g. cora, citeseer, karate)" if paradigm == "graph" else (
            "a graph model (e.g. gcn, gat, graphsage)")
        raise ConfigError(f"model {name!r} is {'an' if paradigm[0] in 'aeiou' else 'a'} {paradigm} model but dataset {dataset!r} is {modality} data; "
                          f"use {need}, or run `prism models` / `prism datasets` to pick a matching pair")


def _ssl_method_as_task(cfg: dict[str, Any]) -> None:
    """An ``ssl``-family model (``ssl-net``) trains with the task of its method: with no task named,
    the task is its ``method``; with an SSL task named, the method follows it; anything else is
    refused, and so is DeepCluster, whose k-means pseudo-labels come from ``unsupervised/`` (a layer
    above this one): its recipe builds them."""
    from ..models import model_entry

    name = cfg["model"]["name"]
    if model_entry(name).family != "ssl":
        return
    user = cfg["model"].setdefault("config", {})
    named = (cfg.get("task") or {}).get("name")
    task = named or model_hints(cfg)["method"]
    if task == "deepcluster":
        raise ConfigError(f"model {name!r} with DeepCluster needs a k-means assigner over its training features, "
                          "which `prism train` does not build; run `prism run ch09-ssl method=deepcluster`")
    if task not in SSL_TASKS:
        usable = ", ".join(t for t in SSL_TASKS if t != "deepcluster")
        raise ConfigError(f"model {name!r} is trained self-supervised; its task is one of {usable} "
                          f"(it sets the model's method), not {task!r}: use e.g. --task simclr")
    if user.get("method", task) != task:
        raise ConfigError(f"model {name!r} was given method={user['method']!r} but --task {task}: they must be "
                          f"the same SSL method (drop one of them)")
    user["method"] = task
    cfg["task"] = {**(cfg.get("task") or {}), "name": task}


def resolve_run(cfg: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``cfg`` with its task filled in from the dataset when none is named.

    Generative and self-supervised tasks model or augment pixel values (a Bernoulli or [0, 1]
    likelihood, a GAN's tanh range, a flow's dequantisation, colour jitter), so an image dataset that is standardised by default (its registered
    ``mean``/``std``) is loaded as ``[0, 1]`` images for them (``normalize: false`` is recorded in
    the run's dataset config, so ``prism eval`` reloads the same data) unless the user set it.
    """
    from ..data import dataset_info

    cfg = copy.deepcopy(cfg)
    _ssl_method_as_task(cfg)
    cfg["task"] = {"name": infer_task(cfg), "config": (cfg.get("task") or {}).get("config", {})}
    ds = cfg["dataset"]
    if cfg["task"]["name"] in RAW_PIXEL_TASKS and "mean" in dataset_info(ds["name"]).extra:
        ds["config"] = {"normalize": False, **(ds.get("config") or {})}
    return cfg


def build_trainer(cfg: dict[str, Any], **trainer_overrides: Any) -> Trainer:
    """Seed, load and adapt the data, build model and task, and return the configured :class:`Trainer`.

    The run's ``run_info`` (checkpoint header, ``config.yaml``) records the dataset, the task, the
    data description, the input shape/dtype and the fitted preprocessing.
    """
    from ..models import create_model
    from .seeding import seed_everything
    from .tasks import create_task

    if not cfg.get("model", {}).get("name"):
        raise ConfigError("the run configuration names no registered model (model: {name: ...}); runs "
                          "of models built in Python are resumed with Trainer.fit(resume_from=...)")
    tcfg = TrainerConfig.validate_settings({**cfg.get("trainer", {}), **trainer_overrides})
    cfg = resolve_run(cfg)
    check_model_fits_dataset(cfg)
    seed_everything(int(tcfg.get("seed", 0)), bool(tcfg.get("deterministic", False)))
    data = prepare_data(cfg)
    model_cfg = {**infer_model_config(cfg, data.describe), **cfg["model"].get("config", {})}
    model = create_model(cfg["model"]["name"], **model_cfg)
    if data.task_options and cfg["task"]["name"] == dataset_task(cfg):
        cfg["task"]["config"] = {**data.task_options, **cfg["task"].get("config", {})}
    train, val, test = data.splits["train"], data.splits.get("val"), data.splits.get("test")
    task_kwargs = dict(cfg["task"].get("config", {}))
    task = create_task(cfg["task"]["name"], **task_kwargs)
    run_info: dict[str, Any] = {"dataset": cfg["dataset"], "task": cfg["task"], "data": data.describe}
    first = _first_input(train) if len(train) else None
    if isinstance(first, torch.Tensor):
        run_info["input"] = {"shape": list(first.shape), "dtype": str(first.dtype).replace("torch.", "")}
    if data.preprocessing is not None:
        run_info["preprocessing"] = data.preprocessing.to_dict()
    return Trainer(model, task, train_data=train, val_data=val, test_data=test, run_info=run_info, **tcfg)


def config_from_run(run_dir: str | Path) -> dict[str, Any]:
    """The run configuration saved in a run directory's ``config.yaml``."""
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise ConfigError(f"{run_dir} is not a run directory: {path} is missing")
    doc = read_config_file(path)
    return normalize_config({k: v for k, v in doc.items() if k in (*PARTS, "trainer")})



def build_resume_trainer(run_dir: str | Path, **trainer_overrides: Any) -> Trainer:
    """The :class:`Trainer` that continues run ``run_dir``, its data rebuilt as in training.

    Only runs written by ``prism train`` / :func:`build_trainer` record how their data was prepared
    (``data`` and ``preprocessing`` in ``config.yaml``); a run whose data came from a recipe or from
    Python is refused rather than continued on other data. The rebuilt data must match the record.
    """
    doc = read_config_file(Path(run_dir) / "config.yaml") if (Path(run_dir) / "config.yaml").is_file() else {}
    cfg = config_from_run(run_dir)
    if cfg.get("model", {}).get("name") and "data" not in doc:
        raise ConfigError(f"{run_dir} was not written by prism train: its data came from a recipe or from Python, "
                          f"which prism resume cannot rebuild (it would continue on other data); continue it "
                          f"where it was made, with Trainer.fit(resume_from=...) and the same data")
    trainer = build_trainer(cfg, **trainer_overrides)
    for key in ("data", "preprocessing"):
        if doc.get(key) != trainer.run_info.get(key):
            raise ConfigError(f"the data of {run_dir} is no longer prepared as when it was trained (its {key} "
                              f"differs: the dataset changed?); start a new run instead of resuming this one")
    return trainer


def load_run(path: str | Path, prefer: str = "last") -> tuple[dict[str, Any], Any, Path]:
    """``(run config, model with the checkpoint's weights, checkpoint path)`` from a checkpoint
    file or run directory; everything needed is in the checkpoint itself."""
    from ..errors import CheckpointError
    from ..models import create_model
    from .checkpoint import load_weights, read_checkpoint, resolve_checkpoint

    ckpt = resolve_checkpoint(path, prefer)
    weights, state = read_checkpoint(ckpt)
    spec = state.get("model_spec")
    if not spec:
        raise CheckpointError(f"{ckpt} does not say which registered model it holds; load it in Python "
                              f"with load_weights(model, path)")
    info = state.get("run_info", {})
    cfg = normalize_config({"model": {"name": spec["name"]}, "dataset": info.get("dataset", {}),
                            "task": info.get("task") or {},
                            "trainer": state.get("config", {})})
    cfg["run_info"] = info
    if not cfg.get("task", {}).get("name") and cfg["dataset"].get("name"):
        cfg = {**resolve_run(cfg), "run_info": info}
    model = create_model(spec["name"], **spec.get("config", {}))
    load_weights(model, weights, source=str(ckpt))
    return cfg, model, ckpt


def _check_same_kind(name: str, trained_on: str | None) -> None:
    """Refuse to evaluate a model on a dataset of another task or modality than its training set's."""
    from ..data import dataset_info

    if not trained_on or name == trained_on:
        return
    new, old = dataset_info(name), dataset_info(trained_on)
    if (new.task, new.modality) != (old.task, old.modality):
        raise ConfigError(f"dataset {name!r} ({new.task}, {new.modality or 'unknown modality'}) is not of the kind "
                          f"the model was trained on: {trained_on!r} ({old.task}, {old.modality or 'unknown modality'}); "
                          f"evaluate on a dataset of the same kind and shape")


def run_task(cfg: dict[str, Any], ckpt: Any) -> Any:
    """The task a loaded run (:func:`load_run`) was trained with, built from its record."""
    from ..errors import CheckpointError
    from .tasks import create_task

    if not cfg.get("task", {}).get("name"):
        raise CheckpointError(f"{ckpt} records neither its task nor its dataset; load it in Python with "
                              f"load_weights(model, path) and a Task")
    return create_task(cfg["task"]["name"], **cfg["task"].get("config", {}))


def run_split(cfg: dict[str, Any], split: str | None = None) -> tuple[str, Any]:
    """``(split name, data)``: split ``split`` (default: test, else val) of a trained run's
    dataset, prepared as in training and checked against it.

    The preprocessing fitted now on the dataset's training split must equal the one the run saved
    (a changed dataset or vocabulary would silently feed the model other inputs), and the data's
    description (features, channels, classes, vocabulary...) must match the model's.
    """
    from ..errors import ShapeError

    info = cfg.get("run_info", {})
    if not cfg["dataset"].get("name"):
        raise ConfigError("the run does not record its dataset; name one with --dataset (or give --input)")
    _check_same_kind(cfg["dataset"]["name"], (info.get("dataset") or {}).get("name"))
    data = prepare_data(cfg)
    saved = info.get("preprocessing")
    if saved is None and data.preprocessing is not None and data.preprocessing.kind in FITTED_BY_ADAPTER:
        # a run written outside `prism train` (a recipe) built its own vocabulary: ours may differ
        raise ConfigError(f"the run does not record the {data.preprocessing.kind} its inputs were encoded with, so "
                          f"{cfg['dataset']['name']!r} cannot be encoded as in training; evaluate it with the code "
                          f"that trained it (its recipe), or retrain with prism train")
    if saved is not None and (data.preprocessing is None or data.preprocessing.to_dict() != saved):
        raise ConfigError(f"dataset {cfg['dataset']['name']!r} is now preprocessed differently from the run's "
                          f"training data ({saved.get('kind')} fitted on its training split); evaluate on the "
                          f"data the run was trained on, or give raw inputs to predict")
    trained = info.get("data") or {}
    clash = {k: (v, data.describe[k]) for k, v in trained.items() if k in data.describe and data.describe[k] != v}
    if clash:
        what = ", ".join(f"{k} {new} (model: {old})" for k, (old, new) in clash.items())
        raise ShapeError(f"dataset {cfg['dataset']['name']!r} does not fit this model: it has {what}; "
                         f"use a dataset of the kind and shape the run was trained on")
    if split is None:  # the held-out split there is: test, else validation
        split = next((s for s in ("test", "val") if data.splits.get(s) is not None), "test")
    if split not in data.splits or data.splits[split] is None:
        have = [s for s, d in data.splits.items() if d is not None]
        raise ConfigError(f"dataset {cfg['dataset']['name']!r} has no split {split!r} here; use one of {have}")
    return split, data.splits[split]


class Predictor:
    """Predictions of a trained model on **raw** inputs: the run's fitted preprocessing (saved in
    its ``run_info``) is applied first, so inputs are given as the dataset stores them (digits'
    pixels 0..16, MNIST's 0..255, sentences, text).

    Example::

        predictor = Predictor.from_run("runs/demo")
        labels = predictor(raw_digits)            # (N, 64) floats 0..16 -> (N,) class ids
    """

    def __init__(self, model: Any, task: Any, run_info: dict[str, Any] | None = None, device: str = "auto",
                 batch_size: int = 256):
        from ..data.preprocessing import Preprocessing

        self.run_info = dict(run_info or {})
        saved = self.run_info.get("preprocessing")
        self.preprocessing = Preprocessing.from_dict(saved) if saved else None
        self.trainer = Trainer(model, task, device=device, progress=False, eval_batch_size=batch_size)

    @classmethod
    def from_run(cls, path: str | Path, prefer: str = "last", device: str = "auto", batch_size: int = 256) -> Predictor:
        """The model, task and preprocessing of a run directory or checkpoint."""
        cfg, model, ckpt = load_run(path, prefer)
        return cls(model, run_task(cfg, ckpt), cfg["run_info"], device=device, batch_size=batch_size)

    def prepare(self, raw: Any, preprocessed: bool = False) -> Dataset:
        """``raw`` inputs (array/tensor ``(N, ...)``, sentences, ...) as a dataset of model inputs."""
        from ..errors import ShapeError

        x = raw if preprocessed or self.preprocessing is None else self.preprocessing(raw)
        if isinstance(x, list):  # variable-length token ids: sentences (T,) or documents (S, W)
            encoded = EncodedDocuments if x and x[0].dim() == 2 else EncodedSentences
            return encoded([(ids, -1) for ids in x])
        x = torch.as_tensor(x)
        want = self.run_info.get("input", {})
        if want.get("shape") is not None and tuple(x.shape[1:]) != tuple(want["shape"]):
            raise ShapeError(f"inputs of shape {tuple(x.shape)} after preprocessing, but the model was trained on "
                             f"examples of shape {tuple(want['shape'])}; expected (N, {', '.join(map(str, want['shape']))})")
        dtype = want.get("dtype", "")
        if dtype.startswith(("float", "bfloat")):
            if not x.is_floating_point():
                raise ShapeError(f"inputs are {x.dtype} but the model takes {dtype} inputs; give raw inputs of "
                                 f"the training data's kind, or preprocessed floats with preprocessed=True")
            x = x.to(getattr(torch, dtype))
        return TensorDataset(x)

    def __call__(self, raw: Any, preprocessed: bool = False) -> torch.Tensor:
        """The task's predictions (class ids, values...) for ``raw``, on the CPU."""
        return self.trainer.predict(self.prepare(raw, preprocessed))


__all__ = ["DEFAULT_RUN", "build_resume_trainer", "MODEL_OPTIONS_FROM_DATA", "PreparedData", "build_trainer", "config_from_run",
           "deep_merge", "infer_model_config", "infer_task", "load_config", "load_run", "load_split",
           "Predictor", "parse_assignment", "parse_overrides", "prepare_data", "run_split", "run_task", "read_config_file", "resolve_run"]
