"""One contract per paradigm: what every registered model of a kind offers (docs/ARCHITECTURE.md,
"Model contracts").

Tasks, the CLI and the registry-wide tests use a model only through its paradigm's contract, so a
new architecture works everywhere once it inherits the matching mixin:

=============  ==============================================================================
paradigm       contract
=============  ==============================================================================
``image``      ``forward_features(x (N, C, H, W))`` → features; ``forward_head(features,
               pre_logits=False)`` → logits ``(N, num_classes)``; ``forward = head ∘ features``;
               ``reset_classifier(num_classes)`` (0: ``forward`` returns pre-logits
               ``(N, num_features)``); ``num_classes``, ``num_features``, ``in_chans``;
               ``default_cfg`` = ``{input_size (C, H, W), mean, std, num_classes, ...}``
``dense``      ``forward(x (N, C, H, W))`` → per-pixel maps ``(N, K, H', W')``; ``default_cfg``
``lm``         ``forward(tokens (N, T))`` → next-token logits ``(N, T, V)``; ``generate(prompt
               (N, T), max_new_tokens, ...)`` → ``(N, T + new)``; ``vocab_size``;
               ``block_size`` (longest context, ``None`` = unbounded); ``loss(tokens)``
``encoder``    ``forward(input_ids (N, L), token_type_ids=None, attention_mask=None)`` → the
               head's outputs; ``vocab_size``, ``block_size`` (= position table size)
``seq2seq``    ``forward(src (N, S), tgt_in (N, T), src_mask=None)`` → logits ``(N, T, V_tgt)``;
               ``generate(src, max_len=...)`` → target ids ``(N, 1 + new)`` starting with
               ``<bos>``; ``src_vocab_size``, ``tgt_vocab_size``
``sequence``   ``forward(x)`` with ``x`` token ids ``(N, T)`` or features ``(N, T, F)``
               (``input_layout`` says which) → ``(N, num_outputs)``
``graph``      ``forward(*tensors)`` in PyG order (``level`` says what comes out: ``node``
               ``(num_nodes, C)``, ``graph`` ``(B, C)``, ``pair`` ``(B,)``, ``temporal``
               ``(B, horizon, N, C)``); ``forward_graph(g)`` runs it on a ``Graph``
``tabular``    ``forward(x (N, in_features))`` → ``(N, num_outputs)``
``generative`` ``kind`` says what ``forward`` does: ``autoencoder`` ``x → x̂``, ``vae`` ``x →
               (decoder output, mu, logvar)``, ``gan`` ``z (N, latent_dim) → x``, ``flow`` ``x → (z,
               logdet (N,))``, ``autoregressive`` ``x → logits``; ``data_shape``; ``sample(n)``
               (all but autoencoders); ``log_prob(x) (N,)`` for flows and autoregressive models
``multimodal`` ``forward(*inputs)`` with ``inputs`` naming the arguments (e.g. ``("image",
               "question")``, ``("video",)``); ``output`` says what comes out: ``logits`` ``(N, C)``
               or ``sequence-logits`` ``(N, T, V)``; ``token_argument`` is the index of the token-id
               argument, if any
``detection``  ``raw = forward(images (N, C, H, W))`` → a dict of raw outputs (first entry a tensor
               ``(N, ...)``); ``loss(raw, targets)`` → dict with ``"loss"``; ``detect(raw)`` → one dict
               ``(boxes (D, 4), scores (D,), labels (D,)[, masks (D, H, W)])`` per image;
               ``num_classes`` (objects, background not counted); ``default_cfg`` as for images
=============  ==============================================================================

Every model also declares ``example_input(batch_size=2)``: a tensor (or a tuple of positional
arguments) that its default configuration accepts; :func:`run_example` calls the model on it.
Losses belong to the Task; a model may offer a convenience ``loss(...)`` that a Task calls.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ..errors import ShapeError

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)

PARADIGMS = ("image", "dense", "lm", "encoder", "seq2seq", "sequence", "graph", "tabular", "generative", "multimodal",
             "detection")
GENERATIVE_KINDS = ("autoencoder", "vae", "gan", "flow", "autoregressive", "energy", "translation")
GRAPH_LEVELS = ("node", "graph", "pair", "temporal")


# ------------------------------------------------------------------------------------ token ids
def _values_unavailable(t: Tensor) -> bool:
    """True where reading a tensor's values is impossible or would break a trace/compile."""
    return (
        t.device.type == "meta"
        or torch.compiler.is_compiling()
        or torch.jit.is_tracing()
        or torch.jit.is_scripting()
    )


def check_token_ids(ids: Tensor, vocab_size: int, owner: str, name: str = "token ids") -> None:
    """Raise :class:`ShapeError` unless ``ids`` are integers in ``[0, vocab_size)``.

    ``nn.Embedding`` would otherwise fail with an opaque index error (CPU), a device-side assert
    (CUDA), or — for float ids — a dtype error that does not name the model. The range check is one
    ``aminmax`` reduction; it is skipped under ``torch.compile``/tracing and on the meta device.
    """
    if not isinstance(ids, Tensor):
        raise ShapeError(f"{owner} expects {name} as an integer tensor, got {type(ids).__name__}; "
                         "tokenise the text first and pass torch.tensor(ids, dtype=torch.long)")
    if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
        raise ShapeError(f"{owner} expects integer {name} (torch.long), got dtype {ids.dtype}; "
                         "token ids index the embedding table: convert them with .long() (a float "
                         "tensor here usually means features were passed where ids were expected)")
    if ids.numel() == 0 or _values_unavailable(ids):
        return
    lo, hi = (int(v) for v in torch.aminmax(ids))
    if lo < 0 or hi >= vocab_size:
        bad = lo if lo < 0 else hi
        raise ShapeError(f"{owner}: {name} must lie in [0, {vocab_size}) (its vocabulary size), got id {bad}; "
                         f"the tokenizer and the model disagree: build the model with vocab_size equal "
                         f"to the tokenizer's vocabulary, or map unknown tokens to an <unk> id")


def model_label(model: nn.Module) -> str:
    """``"GPT ('gpt-char')"``: the class and, for a model built by ``create_model``, its registered name."""
    spec = getattr(model, "prism_spec", None)
    name = spec.get("name") if isinstance(spec, dict) else None
    return f"{type(model).__name__} ({name!r})" if name else type(model).__name__


# ------------------------------------------------------------------------------------ all models
class ModelContract:
    """Base of the paradigm mixins: ``paradigm`` and ``example_input``."""

    paradigm: ClassVar[str] = ""

    def _example_device(self) -> torch.device:
        p = next(iter(self.parameters()), None)  # type: ignore[attr-defined]
        return p.device if p is not None else torch.device("cpu")

    def set_grad_checkpointing(self, enable: bool = True) -> int:
        """Activation checkpointing of the model's repeated blocks, on or off (as timm's method of the
        same name); returns the number of blocks (:mod:`tensorprism.nn.checkpointing`)."""
        from ..nn.checkpointing import set_grad_checkpointing

        return set_grad_checkpointing(self, enable)  # type: ignore[arg-type]

    def example_input(self, batch_size: int = 2) -> Tensor | tuple[Any, ...]:
        """Inputs the model's default configuration accepts: a tensor or a tuple of positional
        arguments for ``forward`` (see :func:`run_example`)."""
        raise NotImplementedError(f"{type(self).__name__} does not declare example_input()")


def forward_on(model: nn.Module, inputs: Tensor | tuple[Any, ...]) -> Any:
    """Call ``model`` on what ``example_input`` returns: a tensor as is, a tuple as positional arguments."""
    return model(*inputs) if isinstance(inputs, tuple) else model(inputs)


def run_example(model: nn.Module, batch_size: int = 2) -> Any:
    """``model`` on its own ``example_input(batch_size)``."""
    return forward_on(model, model.example_input(batch_size))


def _random_ids(model: ModelContract, vocab_size: int, batch_size: int, length: int) -> Tensor:
    return torch.randint(0, vocab_size, (batch_size, length), device=model._example_device())


# ------------------------------------------------------------------------------------ images
class ImageInputMixin(ModelContract):
    """Input defaults shared by image classifiers and dense (per-pixel) image models.

    The class (or the builder, through :meth:`set_input_defaults`) sets ``img_size`` and, when
    the data are not ImageNet/MNIST-like, ``mean``/``std``; ``in_chans`` is an attribute of the model.
    """

    in_chans: int
    img_size: int | tuple[int, int] = 224
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def set_input_defaults(self, img_size: int | tuple[int, int] | None = None,
                           mean: tuple[float, ...] | None = None, std: tuple[float, ...] | None = None):
        """Record the input resolution and normalisation the model was designed for; returns self."""
        if img_size is not None:
            self.img_size = img_size
        if (mean is None) != (std is None):
            raise ShapeError("give both mean and std (one value per channel), or neither")
        if mean is not None:
            if len(mean) != self.in_chans or len(std) != self.in_chans:
                raise ShapeError(f"mean/std need {self.in_chans} values (one per input channel), "
                                 f"got {len(mean)} and {len(std)}")
            self.mean, self.std = tuple(mean), tuple(std)
        return self

    @property
    def input_size(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of the images the model was designed for."""
        h, w = (self.img_size, self.img_size) if isinstance(self.img_size, int) else self.img_size
        return (self.in_chans, h, w)

    def _normalisation(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        if self.mean is not None:
            return self.mean, self.std
        if self.in_chans == 3:  # 32×32 colour images are CIFAR-like; larger ones ImageNet-like
            return (CIFAR10_MEAN, CIFAR10_STD) if self.input_size[1:] == (32, 32) else (IMAGENET_MEAN, IMAGENET_STD)
        if self.in_chans == 1:
            return MNIST_MEAN, MNIST_STD
        return (0.0,) * self.in_chans, (1.0,) * self.in_chans  # no known statistics: identity

    @property
    def default_cfg(self) -> dict[str, Any]:
        """timm's ``pretrained_cfg``: ``input_size (C, H, W)``, per-channel ``mean``/``std``,
        ``num_classes`` (and ``num_features`` for classifiers), ``paradigm``."""
        mean, std = self._normalisation()
        cfg = {"paradigm": self.paradigm, "input_size": self.input_size, "mean": mean, "std": std,
               "num_classes": self.num_classes}
        if hasattr(self, "num_features"):
            cfg["num_features"] = self.num_features
        return cfg

    @property
    def pretrained_cfg(self) -> dict[str, Any]:
        """Alias of :attr:`default_cfg` (timm ≥ 0.9 name)."""
        return self.default_cfg

    def example_input(self, batch_size: int = 2) -> Tensor:
        """Random images ``(batch_size, C, H, W)`` at :attr:`input_size`."""
        return torch.randn(batch_size, *self.input_size, device=self._example_device())


class ImageClassifierMixin(ImageInputMixin):
    """Image classifiers (after timm): the subclass implements ``forward_features`` and
    ``forward_head``; ``num_classes``, ``num_features`` and ``in_chans`` are attributes.
    ``reset_classifier(0)`` must make ``forward`` return the pre-logits ``(N, num_features)``."""

    paradigm = "image"
    num_classes: int
    num_features: int

    def forward_features(self, x: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define forward_features (image contract)")

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define forward_head (image contract)")

    def reset_classifier(self, num_classes: int) -> None:
        raise NotImplementedError

    def get_classifier(self) -> nn.Module:
        """The final classification layer (``nn.Identity`` after ``reset_classifier(0)``)."""
        return self.classifier  # type: ignore[attr-defined]

    def check_image_input(self, x: Tensor) -> None:
        """:class:`ShapeError` unless ``x`` is ``(N, in_chans, H, W)`` (names a channels-last layout).
        Skipped while ``torch.fx`` traces the model (FX graph-mode quantisation): a traced value has no
        concrete shape to check."""
        if isinstance(x, torch.fx.Proxy):
            return
        if x.dim() != 4 or x.shape[1] != self.in_chans:
            hint = (" (it looks channels-last: permute to (N, C, H, W))"
                    if x.dim() == 4 and x.shape[-1] == self.in_chans else "")
            raise ShapeError(f"{type(self).__name__} expects images (N, {self.in_chans}, H, W), "
                             f"got {tuple(x.shape)}{hint}")


class DenseImageMixin(ImageInputMixin):
    """Per-pixel image models (segmentation, super-resolution): ``(N, C, H, W) → (N, K, H', W')``
    with ``K = num_classes`` output channels."""

    paradigm = "dense"
    num_classes: int


# ------------------------------------------------------------------------------------ text
class TokenInputMixin(ModelContract):
    """Models that embed token ids: ``check_tokens`` validates dtype and range against ``vocab_size``."""

    vocab_size: int

    def check_tokens(self, ids: Tensor, name: str = "token ids", vocab_size: int | None = None) -> None:
        check_token_ids(ids, self.vocab_size if vocab_size is None else vocab_size, model_label(self), name)


class LanguageModelMixin(TokenInputMixin):
    """Causal language models: ``forward(tokens (N, T)) → logits (N, T, V)`` and a generation
    ``step(tokens, state) → (next logits (N, V), state)`` for :mod:`tensorprism.generation`."""

    paradigm = "lm"
    block_size: int | None = None  # longest context the model can read (None: unbounded)

    def step(self, tokens: Tensor, state: Any) -> tuple[Tensor, Any]:
        raise NotImplementedError

    def example_input(self, batch_size: int = 2) -> Tensor:
        return _random_ids(self, self.vocab_size, batch_size, min(self.block_size or 16, 16))

    def loss(self, idx: Tensor, targets: Tensor | None = None, ignore_index: int = -100) -> Tensor:
        """Mean ``-log P(x_{t+1} | x_<=t)``. Without ``targets`` the next tokens are ``idx`` shifted
        by one; with ``targets (N, T)`` they are already aligned (``targets[t]`` follows ``idx[t]``)."""
        logits = self(idx)  # type: ignore[operator]
        if targets is None:
            logits, targets = logits[:, :-1], idx[:, 1:]
        return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                           ignore_index=ignore_index)

    @torch.no_grad()
    def generate(self, prompt: Tensor, max_new_tokens: int = 50, **kwargs: Any) -> Tensor:
        """Continue ``prompt (N, T)`` → ``(N, T + new)``; keyword arguments are
        :class:`~tensorprism.generation.GenerationConfig` fields (``do_sample``, ``temperature``,
        ``top_k``, ``top_p``, ``num_beams``...) plus ``generator``/``streamer``."""
        from ..generation import generate

        self.check_tokens(prompt, "prompt")
        return _in_eval(self, lambda: generate(self.step, prompt, max_new_tokens=max_new_tokens, **kwargs))


class EncoderMixin(TokenInputMixin):
    """Bidirectional encoders (BERT family): ``forward(input_ids (N, L), token_type_ids=None,
    attention_mask=None)``; ``block_size`` is the number of learned positions."""

    paradigm = "encoder"
    block_size: int

    def example_input(self, batch_size: int = 2) -> Tensor:
        return _random_ids(self, self.vocab_size, batch_size, min(self.block_size, 16))


class Seq2SeqMixin(TokenInputMixin):
    """Encoder–decoders: ``forward(src (N, S), tgt_in (N, T), src_mask=None) → logits (N, T, V)``
    (``src_mask`` boolean ``(N, S)``, True at real tokens; default: ``src != pad_id``) and
    ``generate(src, max_len=...)``."""

    paradigm = "seq2seq"
    src_vocab_size: int
    tgt_vocab_size: int
    pad_id: int = 0

    @property
    def vocab_size(self) -> int:  # type: ignore[override]
        return self.src_vocab_size

    def check_pair(self, src: Tensor, tgt_in: Tensor | None = None) -> None:
        self.check_tokens(src, "source ids (src)", self.src_vocab_size)
        if tgt_in is not None:
            self.check_tokens(tgt_in, "target ids (tgt_in)", self.tgt_vocab_size)

    def source_mask(self, src: Tensor, src_mask: Tensor | None) -> Tensor:
        """Boolean ``(N, S)``, True at real source tokens (``src_mask`` checked, or ``src != pad_id``)."""
        if src_mask is None:
            return src != self.pad_id
        if src_mask.shape != src.shape or src_mask.dtype != torch.bool:
            raise ShapeError(f"src_mask must be a boolean (N, S) = {tuple(src.shape)} tensor (True at real "
                             f"tokens), got {tuple(src_mask.shape)} {src_mask.dtype}")
        return src_mask

    def example_input(self, batch_size: int = 2) -> tuple[Tensor, Tensor]:
        # ids from 4 up avoid the special tokens (pad/bos/eos) of the default vocabularies
        dev = self._example_device()
        src = torch.randint(4, self.src_vocab_size, (batch_size, 7), device=dev)
        tgt = torch.randint(4, self.tgt_vocab_size, (batch_size, 5), device=dev)
        return src, tgt


def _in_eval(model: nn.Module, fn):
    """Run ``fn()`` with ``model`` in eval mode, restoring its training flag afterwards."""
    was = model.training
    model.eval()
    try:
        return fn()
    finally:
        model.train(was)


# ------------------------------------------------------------------------------------ sequences
class SequenceMixin(ModelContract):
    """Sequence classifiers and forecasters: ``input_layout`` is ``"tokens"`` (``(N, T)`` ids),
    ``"features"`` (``(N, T, input_size)`` real values, batch first) or ``"documents"`` (``(N, S, W)``
    ids: sentences of words, for hierarchical models, which check their own inputs)."""

    paradigm = "sequence"
    input_layout: str
    input_size: int = 1
    example_length: int = 12

    def check_sequence(self, x: Tensor, owner: str | None = None) -> None:
        owner = owner or model_label(self)
        if self.input_layout == "tokens":
            if x.dim() != 2:
                raise ShapeError(f"{owner} expects token ids (N, T), got {tuple(x.shape)}")
            check_token_ids(x, self.vocab_size, owner)  # type: ignore[attr-defined]
            return
        if x.dim() != 3 or x.shape[-1] != self.input_size or not x.is_floating_point():
            hint = " (a univariate series needs x.unsqueeze(-1))" if x.dim() == 2 and self.input_size == 1 else ""
            raise ShapeError(f"{owner} expects real-valued sequences (N, T, F={self.input_size}), batch "
                             f"first, got {tuple(x.shape)} {x.dtype}{hint}")

    def example_input(self, batch_size: int = 2) -> Tensor:
        dev = self._example_device()
        if self.input_layout == "tokens":
            return torch.randint(1, self.vocab_size, (batch_size, self.example_length), device=dev)  # type: ignore[attr-defined]
        return torch.randn(batch_size, self.example_length, self.input_size, device=dev)


# ------------------------------------------------------------------------------------ graphs
def ring_edge_index(num_nodes: int, device: torch.device | None = None) -> Tensor:
    """Both directions of the ring ``0 - 1 - … - (n-1) - 0``: ``(2, 2n)``."""
    i = torch.arange(num_nodes, device=device)
    j = (i + 1) % num_nodes
    return torch.stack([torch.cat([i, j]), torch.cat([j, i])])


class GraphModelMixin(ModelContract):
    """Graph models take tensors in PyG order; ``level`` is ``node``, ``graph``, ``pair`` or
    ``temporal``; ``forward_graph(g)`` reads them from a :class:`~tensorprism.data.graph.Graph`."""

    paradigm = "graph"
    level: ClassVar[str]
    in_channels: int
    example_nodes: ClassVar[int] = 6

    def graph_inputs(self, g: Any) -> tuple[Any, ...]:
        """Positional ``forward`` arguments taken from a graph ``g`` (node and graph levels)."""
        if self.level == "node":
            extra = g.edge_type if g.edge_type is not None else g.edge_weight
            return (g.x, g.edge_index) if extra is None else (g.x, g.edge_index, extra)
        if self.level == "graph":
            return (g.x, g.edge_index, g.batch, g.edge_attr)
        raise ShapeError(f"{type(self).__name__} is a {self.level}-level model: call it with its tensors "
                         "(see its docstring), not with one Graph")

    def forward_graph(self, g: Any) -> Tensor:
        """``forward`` on the tensors of graph (or block-diagonal batch) ``g``."""
        return self(*self.graph_inputs(g))  # type: ignore[operator]

    def _example_graph(self, batch_size: int) -> tuple[Tensor, Tensor]:
        """Ring edges within each of ``B`` graphs of ``n`` nodes ``(2, 2Bn)`` and ``batch (B·n,)``."""
        n, dev = self.example_nodes, self._example_device()
        ring = ring_edge_index(n, dev)
        edges = torch.cat([ring + b * n for b in range(batch_size)], dim=1)
        return edges, torch.arange(batch_size, device=dev).repeat_interleave(n)

    def _example_features(self, batch: Tensor) -> Tensor:
        """Random node features ``(num_nodes, in_channels)``."""
        return torch.randn(batch.shape[0], self.in_channels, device=batch.device)

    def example_input(self, batch_size: int = 2) -> tuple[Any, ...]:
        edge_index, batch = self._example_graph(batch_size)
        x = self._example_features(batch)
        if self.level == "node":  # one graph of batch_size·n nodes
            return (x, edge_index)
        return (x, edge_index, batch)


# ------------------------------------------------------------------------------------ tabular
class TabularMixin(ModelContract):
    """Feature vectors ``(N, in_features) → (N, num_outputs)``."""

    paradigm = "tabular"
    in_features: int

    def example_input(self, batch_size: int = 2) -> Tensor:
        return torch.randn(batch_size, self.in_features, device=self._example_device())


# ------------------------------------------------------------------------------------ generative
class GenerativeMixin(ModelContract):
    """Autoencoders and generative models (Chapter 10). ``kind`` (one of ``GENERATIVE_KINDS``)
    says what ``forward`` does; ``data_shape`` is one example's shape (``(C, H, W)``, ``(T, F)``,
    ``(F,)``); conditional models set ``num_classes`` and take labels ``y (N,)`` as a second argument.

    ==================  =====================================================================
    kind                ``forward``
    ==================  =====================================================================
    ``autoencoder``     ``x (N, *data_shape)`` → reconstruction of the same shape
    ``vae``             ``x[, y]`` → ``(decoder output (N, *data_shape), mu (N, d), logvar (N, d))``
    ``gan``             ``z (N, latent_dim)[, y]`` → samples ``(N, *data_shape)``
    ``flow``            ``x`` → ``(z (N, *data_shape), logdet (N,))``; ``inverse(z)`` → ``x``
    ``autoregressive``  ``x`` → per-pixel logits ``(N, *data_shape)`` (binary) or
                        ``(N, C, levels, H, W)`` (models with ``levels`` values per sub-pixel)
    ``energy``          ``v`` → mean-field reconstruction; ``free_energy(v)`` ``(N,)`` (RBM)
    ``translation``     ``x`` (its own ``example_input`` shape) → image ``(N, *data_shape)``
                        (CycleGAN A → B, SRGAN low → high resolution)
    ==================  =====================================================================

    Every kind but ``autoencoder`` offers ``sample(n, y=None)`` → ``(n, *data_shape)``; flows,
    autoregressive and energy models ``log_prob(x)`` → ``(N,)`` in nats.
    """

    paradigm = "generative"
    kind: ClassVar[str] = ""
    data_shape: tuple[int, ...]
    latent_dim: int | None = None
    num_classes: int = 0  # > 0: a conditional model taking labels y (N,)

    def check_latent(self, z: Tensor) -> None:
        """:class:`ShapeError` unless ``z`` is ``(N, latent_dim)``."""
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ShapeError(f"{model_label(self)} expects latent codes (N, {self.latent_dim}), got "
                             f"{tuple(z.shape)}; draw them with torch.randn(n, {self.latent_dim})")

    def check_data(self, x: Tensor) -> None:
        """:class:`ShapeError` unless ``x`` is ``(N, *data_shape)``."""
        if tuple(x.shape[1:]) != tuple(self.data_shape) or not x.is_floating_point():
            raise ShapeError(f"{model_label(self)} expects data (N, {', '.join(map(str, self.data_shape))}) "
                             f"floating point, got {tuple(x.shape)} {x.dtype}")

    def check_labels(self, y: Tensor | None, n: int) -> None:
        """Labels of a conditional model: integers ``(n,)`` in ``[0, num_classes)``."""
        if not self.num_classes:
            if y is not None:
                raise ShapeError(f"{model_label(self)} is not conditional: call it without labels")
            return
        if y is None or y.shape != (n,):
            raise ShapeError(f"{model_label(self)} is conditional: pass labels y of shape ({n},), got "
                             f"{None if y is None else tuple(y.shape)}")
        check_token_ids(y, self.num_classes, model_label(self), "class labels")

    def sample_labels(self, n: int, y: Tensor | None = None) -> Tensor | None:
        """Labels for ``n`` samples: ``y`` checked, or ``0, 1, …, num_classes-1, 0, …`` for a
        conditional model given none (``None`` for an unconditional one)."""
        if y is None and self.num_classes:
            y = torch.arange(n, device=self._example_device()) % self.num_classes
        self.check_labels(y, n)
        return y

    def sample(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples ``(n, *data_shape)`` (conditional models: labels ``y (n,)``, by default
        the classes in turn)."""
        raise NotImplementedError(f"{type(self).__name__} ({self.kind}) does not sample")

    def example_input(self, batch_size: int = 2) -> Tensor | tuple[Any, ...]:
        """A latent batch for GANs, data in [0, 1) for the other kinds; with labels when conditional."""
        dev = self._example_device()
        if self.kind == "gan":
            first = torch.randn(batch_size, self.latent_dim, device=dev)
        else:
            first = torch.rand(batch_size, *self.data_shape, device=dev)
        if self.num_classes:
            return first, torch.randint(0, self.num_classes, (batch_size,), device=dev)
        return first


# ------------------------------------------------------------------------------------ multimodal
class MultimodalMixin(ModelContract):
    """Models of several inputs or of a video (Chapter 7): ``forward(*inputs)``, ``inputs`` the
    argument names, ``output`` ``"logits"`` ``(N, C)`` or ``"sequence-logits"`` ``(N, T, V)``;
    ``token_argument`` the position of the token-id argument (``None``: none)."""

    paradigm = "multimodal"
    inputs: ClassVar[tuple[str, ...]] = ()
    output: ClassVar[str] = "logits"
    token_argument: ClassVar[int | None] = None


# ------------------------------------------------------------------------------------ detection
class DetectionMixin(ImageInputMixin):
    """Object detectors (Chapter 4, §4.6.2): ``raw = forward(images)`` (a dict whose first entry is a
    tensor with the batch first), ``loss(raw, targets)`` with ``targets`` one dict ``(boxes (G, 4) xyxy,
    labels (G,)[, masks (G, H, W)])`` per image, and ``detect(raw)`` → one dict ``(boxes, scores,
    labels[, masks])`` per image. ``num_classes`` counts object classes (no background)."""

    paradigm = "detection"
    num_classes: int


def paradigm_of(model: nn.Module) -> str:
    """The model's paradigm, or :class:`ShapeError` naming the mixins when it declares none."""
    p = getattr(model, "paradigm", "")
    if p not in PARADIGMS:
        raise ShapeError(f"{type(model).__name__} declares no paradigm; inherit one of the mixins of "
                         f"tensorprism.models.contract ({', '.join(PARADIGMS)})")
    return p


__all__ = [
    "PARADIGMS", "GRAPH_LEVELS", "IMAGENET_MEAN", "IMAGENET_STD", "CIFAR10_MEAN", "CIFAR10_STD", "MNIST_MEAN",
    "MNIST_STD", "check_token_ids", "model_label", "forward_on", "run_example", "paradigm_of", "ring_edge_index", "ModelContract",
    "ImageInputMixin", "ImageClassifierMixin", "DenseImageMixin", "TokenInputMixin", "LanguageModelMixin",
    "EncoderMixin", "Seq2SeqMixin", "SequenceMixin", "GraphModelMixin", "TabularMixin",
    "GENERATIVE_KINDS", "GenerativeMixin", "MultimodalMixin", "DetectionMixin",
]
