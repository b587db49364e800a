"""Int8 quantisation of trained models through torch's quantisation stack (``torch.ao.quantization``).

Three ways in, as in torch.ao's own guide; each returns a new module and leaves the input untouched:

* :func:`quantize_dynamic_int8` — **post-training dynamic**: weights of ``Linear`` and ``LSTM``/``GRU``
  layers are stored as int8 (per output channel), activations are quantised on the fly per batch.
  No calibration data; suits MLPs and recurrent models whose time goes into matrix products.
* :func:`quantize_static_int8` — **post-training static** for CNNs: ``torch.fx`` traces the model,
  Conv-BN(-ReLU) are fused, observers record activation ranges on calibration batches, then every
  layer runs on int8 kernels (x86/fbgemm or onednn on CPUs, qnnpack on ARM).
* :func:`prepare_qat` + :func:`convert_qat` — **quantisation-aware training**: the traced model
  trains with fake quantisation (the round trip of :mod:`tensorprism.functional.quantization`) in
  its forward pass and straight-through gradients, then converts like the static path.

The quantised modules are CPU inference modules: they do not train, and CUDA has no int8 kernels for
them. :func:`model_size_bytes` measures what the weights take on disk.
"""

from __future__ import annotations

import contextlib
import copy
import io
import warnings
from collections.abc import Iterable

import torch
from torch import Tensor, nn

from ..errors import ConfigError, ShapeError
from ..nn.recurrent import GRU, LSTM, check_lengths

__all__ = ["quantize_dynamic_int8", "quantize_static_int8", "quantize_pt2e_int8", "prepare_qat", "convert_qat", "model_size_bytes",
           "DynamicQuantRNN", "BACKENDS"]

BACKENDS = ("x86", "fbgemm", "onednn", "qnnpack")


def _backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ConfigError(f"quantisation backend {backend!r} is unknown; expected one of {BACKENDS}")
    if backend not in torch.backends.quantized.supported_engines:
        raise ConfigError(f"this torch build has no {backend!r} int8 kernels; it supports "
                          f"{torch.backends.quantized.supported_engines}")
    torch.backends.quantized.engine = backend
    return backend


@contextlib.contextmanager
def _quiet():
    """Silence torch.ao's announcements (eager/FX quantisation and quantised tensors are deprecated
    in favour of torchao; ``reduce_range``) while keeping every other warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*(deprecated|reduce_range).*", category=UserWarning)
        yield


def model_size_bytes(model: nn.Module) -> int:
    """Bytes of ``torch.save(model.state_dict())``: packed int8 weights count one byte each."""
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.getbuffer().nbytes


class DynamicQuantRNN(nn.Module):
    """A dynamically quantised LSTM/GRU that keeps the ``forward(x, state=None, lengths=None)`` of
    :class:`tensorprism.nn.recurrent.LSTM` (batch-first by default; ``lengths`` packs the batch so
    padding never enters the recurrence). Built by :func:`quantize_dynamic_int8`."""

    def __init__(self, rnn: nn.Module):
        super().__init__()
        self.rnn = rnn  # torch.ao.nn.quantized.dynamic.LSTM / GRU
        self.batch_first, self.input_size = rnn.batch_first, rnn.input_size

    def forward(self, x: Tensor, state=None, lengths: Tensor | None = None):
        from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

        if lengths is None:
            return self.rnn(x, state)
        B, T = (x.shape[0], x.shape[1]) if self.batch_first else (x.shape[1], x.shape[0])
        lengths = check_lengths("DynamicQuantRNN", lengths, B, T, "(B, T, I)" if self.batch_first else "(T, B, I)")
        packed = pack_padded_sequence(x, lengths, batch_first=self.batch_first, enforce_sorted=False)
        out, state = self.rnn(packed, state)
        out, _ = pad_packed_sequence(out, batch_first=self.batch_first, total_length=T)
        return out, state


def _plain_rnn(mod: nn.Module) -> nn.Module:
    """torch's own ``nn.LSTM``/``nn.GRU`` with ``mod``'s weights (the int8 converter accepts only those)."""
    cls = nn.LSTM if isinstance(mod, nn.LSTM) else nn.GRU
    kw = {"proj_size": mod.proj_size} if cls is nn.LSTM and getattr(mod, "proj_size", 0) else {}
    plain = cls(mod.input_size, mod.hidden_size, mod.num_layers, bias=mod.bias, batch_first=mod.batch_first,
                dropout=mod.dropout, bidirectional=mod.bidirectional, **kw)
    plain.load_state_dict({k: v for k, v in mod.state_dict().items() if k in plain.state_dict()})
    return plain


def quantize_dynamic_int8(model: nn.Module, layers: Iterable[type] = (nn.Linear, nn.LSTM, nn.GRU),
                          backend: str = "x86") -> nn.Module:
    """A copy of ``model`` (in eval mode) whose ``layers`` hold int8 weights with dynamic activations.

    tensorprism's batch-first recurrent layers (``LSTM``/``GRU`` with ``lengths``) are converted
    too and keep their call signature (:class:`DynamicQuantRNN`).
    """
    from torch.ao.quantization import quantize_dynamic

    _backend(backend)
    layers = tuple(layers)
    out = copy.deepcopy(model).eval()
    if any(issubclass(t, (nn.LSTM, nn.GRU)) for t in layers):
        for name, mod in list(out.named_modules()):
            if isinstance(mod, (LSTM, GRU)) and isinstance(mod, layers):
                parent, _, child = name.rpartition(".")
                setattr(out.get_submodule(parent) if parent else out, child, _Pending(_plain_rnn(mod)))
    with _quiet():
        out = quantize_dynamic(out, set(layers), dtype=torch.qint8)
    for name, mod in list(out.named_modules()):
        if isinstance(mod, _Pending):
            parent, _, child = name.rpartition(".")
            setattr(out.get_submodule(parent) if parent else out, child, DynamicQuantRNN(mod.rnn))
    return out


class _Pending(nn.Module):
    """Holds a plain ``nn.LSTM`` while ``quantize_dynamic`` swaps it for its int8 version."""

    def __init__(self, rnn: nn.Module):
        super().__init__()
        self.rnn = rnn


def _example(calibration: Iterable) -> tuple[Tensor, Iterable]:
    it = iter(calibration)
    try:
        first = next(it)
    except StopIteration:
        raise ShapeError("static quantisation needs at least one calibration batch to record activation "
                         "ranges; pass a few hundred training inputs") from None
    x = first[0] if isinstance(first, (tuple, list)) else first
    if not isinstance(x, Tensor):
        raise ShapeError(f"calibration batches must be tensors or (inputs, labels) pairs, got {type(x).__name__}")

    def chain():
        yield x
        for b in it:
            yield b[0] if isinstance(b, (tuple, list)) else b
    return x, chain()


def _qconfig_mapping(backend: str, qat: bool, per_channel: bool):
    from torch.ao.quantization import get_default_qat_qconfig_mapping, get_default_qconfig_mapping

    mapping = (get_default_qat_qconfig_mapping if qat else get_default_qconfig_mapping)(backend)
    if not per_channel:
        from torch.ao.quantization import QConfig, default_weight_observer
        from torch.ao.quantization.observer import HistogramObserver

        mapping = mapping.set_global(QConfig(activation=HistogramObserver.with_args(reduce_range=True),
                                             weight=default_weight_observer))
    return mapping


def quantize_static_int8(model: nn.Module, calibration: Iterable, *, backend: str = "x86",
                         per_channel: bool = True, max_batches: int | None = None) -> nn.Module:
    """Post-training static int8: trace, fuse, calibrate on ``calibration``, convert.

    Args:
        model: a trained float model whose forward ``torch.fx`` can trace (every registered CNN).
        calibration: batches of inputs ``(N, C, H, W)`` (or ``(inputs, labels)`` pairs), e.g. a
            ``DataLoader`` over a few hundred training images; ranges are recorded on them.
        backend: the int8 kernel library (``"x86"`` on Intel/AMD CPUs, ``"qnnpack"`` on ARM).
        per_channel: one weight scale per output channel (torch's default; more accurate).
        max_batches: stop calibrating after this many batches.

    Returns:
        a ``torch.fx.GraphModule`` computing with int8 kernels on the CPU.
    """
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    _backend(backend)
    x, batches = _example(calibration)
    float_model = copy.deepcopy(model).cpu().eval()
    with _quiet():
        prepared = prepare_fx(float_model, _qconfig_mapping(backend, False, per_channel), (x.cpu(),))
        with torch.no_grad():
            for i, b in enumerate(batches):
                if max_batches is not None and i >= max_batches:
                    break
                prepared(b.cpu())
        return convert_fx(prepared)


def prepare_qat(model: nn.Module, example: Tensor, *, backend: str = "x86") -> nn.Module:
    """A trainable copy of ``model`` with fake quantisation of weights and activations (QAT).

    Train it like the float model (the Trainer, any task), usually for one or two epochs from
    trained float weights with a small learning rate, then call :func:`convert_qat`.
    """
    from torch.ao.quantization.quantize_fx import prepare_qat_fx

    _backend(backend)
    with _quiet():
        return prepare_qat_fx(copy.deepcopy(model).cpu().train(), _qconfig_mapping(backend, True, True),
                              (example.cpu(),))


def convert_qat(qat_model: nn.Module) -> nn.Module:
    """The int8 CPU model of a :func:`prepare_qat` model after training."""
    from torch.ao.quantization.quantize_fx import convert_fx

    with _quiet():
        return convert_fx(copy.deepcopy(qat_model).cpu().eval())


def quantize_pt2e_int8(model: nn.Module, calibration: Iterable, *, max_batches: int | None = None) -> nn.Module:
    """Post-training static int8 as an **exportable graph** (PT2E, through ``torchao``).

    :func:`quantize_static_int8` gives modules that hold packed int8 weights and call torch's
    ``quantized::`` kernels; ``torch.export`` cannot trace those (fake tensors have no quantised
    dtype), so such a model cannot go to ONNX. The PT2E flow instead exports the float model,
    inserts observers chosen by torchao's ``X86InductorQuantizer`` (int8 activations per tensor,
    int8 weights per channel), calibrates, and converts to a graph of float operators between
    explicit ``quantize``/``dequantize`` nodes. That graph exports: :func:`~.export.export_onnx`
    writes it as a QDQ model (``QuantizeLinear``/``DequantizeLinear`` around ``Conv``/``Gemm``,
    int8 weight initialisers), which onnxruntime fuses into integer kernels.

    In PyTorch eager mode the returned module *simulates* int8 (its speed is float speed); its
    use is export. ``calibration``: batches ``(N, ...)`` or ``(inputs, labels)`` pairs.
    """
    from ..optional import require
    from .export import export_program

    x, batches = _example(calibration)  # refuse an empty calibration set before the slow import
    feature = "PT2E int8 quantisation for export"
    pt2e = require("torchao.quantization.pt2e", feature=feature)
    flow = require("torchao.quantization.pt2e.quantize_pt2e", feature=feature)
    xiq = require("torchao.quantization.pt2e.quantizer.x86_inductor_quantizer", feature=feature)

    quantizer = xiq.X86InductorQuantizer()
    quantizer.set_global(xiq.get_default_x86_inductor_quantization_config())
    graph = export_program(copy.deepcopy(model).cpu().eval(), x.cpu()).module()
    with _quiet():
        prepared = flow.prepare_pt2e(graph, quantizer)
        with torch.no_grad():
            for i, b in enumerate(batches):
                if max_batches is not None and i >= max_batches:
                    break
                prepared(b.cpu())
        # exported graphs refuse .eval(); allow it so the module works like any other (export, check_onnx)
        converted = flow.convert_pt2e(prepared)
    pt2e.allow_exported_model_train_eval(converted)  # in place
    return converted
