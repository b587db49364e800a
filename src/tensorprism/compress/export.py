"""Export for deployment: a static graph with ``torch.export`` and an ONNX file checked in onnxruntime.

The book's §11 names TorchScript (``torch.jit.script``, line 24711); ``torch.export`` is its
successor: it captures the whole forward pass as one graph of ATen operators (an
``ExportedProgram``), refusing Python control flow that depends on data instead of silently
specialising it. The ONNX exporter (``torch.onnx.export(..., dynamo=True)``) starts from that graph.

:func:`export_onnx` writes the file and, by default, :func:`check_onnx` runs it in onnxruntime on
the example and compares with PyTorch's output, so a wrong export fails at export time.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from ..errors import ConfigError, ShapeError
from ..optional import require

__all__ = ["export_program", "export_onnx", "check_onnx", "run_onnx"]


def _args(example: Tensor | tuple) -> tuple:
    return example if isinstance(example, tuple) else (example,)


def _batch_dims(args: tuple, dynamic_batch: bool):
    """Mark dim 0 of every tensor argument as a dynamic batch size (``None`` when not asked)."""
    if not dynamic_batch:
        return None
    batch = torch.export.Dim("batch", min=1, max=65536)
    return tuple({0: batch} if isinstance(a, Tensor) else None for a in args)


def export_program(model: nn.Module, example: Tensor | tuple, *, dynamic_batch: bool = True,
                   strict: bool = False) -> torch.export.ExportedProgram:
    """``torch.export.export`` of ``model`` in eval mode on ``example`` (a tensor or a tuple of
    positional arguments), with a dynamic batch axis; ``program.module()(x)`` runs it."""
    model.eval()  # not `model = model.eval()`: an exported graph's eval() returns None
    args = _args(example)
    return torch.export.export(model, args, dynamic_shapes=_batch_dims(args, dynamic_batch), strict=strict)


def run_onnx(path: str | Path, example: Tensor | tuple) -> list:
    """Outputs of the ONNX file at ``path`` on ``example`` (numpy arrays), run by onnxruntime on the CPU."""
    ort = require("onnxruntime", feature="running an exported ONNX model")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    args = [a for a in _args(example) if isinstance(a, Tensor)]
    if len(names) != len(args):
        raise ShapeError(f"the ONNX graph takes {len(names)} inputs {names}, got {len(args)} tensors")
    return session.run(None, {n: a.detach().cpu().numpy() for n, a in zip(names, args, strict=True)})


def check_onnx(path: str | Path, model: nn.Module, example: Tensor | tuple, *, atol: float = 1e-4,
               rtol: float = 1e-3) -> float:
    """Max absolute difference between onnxruntime's and PyTorch's outputs on ``example``;
    :class:`ShapeError` when it exceeds ``atol + rtol |torch|``."""
    with torch.no_grad():
        model.eval()
        ref = model(*_args(example))
    refs = [ref] if isinstance(ref, Tensor) else list(ref)
    outs = run_onnx(path, example)
    worst = 0.0
    for r, o in zip(refs, outs, strict=False):
        o = torch.as_tensor(o)
        if o.shape != r.shape:
            raise ShapeError(f"onnxruntime returned shape {tuple(o.shape)}, PyTorch {tuple(r.shape)}")
        diff = (o - r.cpu()).abs()
        worst = max(worst, float(diff.max()))
        if bool((diff > atol + rtol * r.cpu().abs()).any()):
            raise ShapeError(f"the ONNX export of {type(model).__name__} disagrees with PyTorch: max |diff| "
                             f"{worst:.3g} > atol {atol} + rtol {rtol}")
    return worst


def export_onnx(model: nn.Module, example: Tensor | tuple, path: str | Path, *, dynamic_batch: bool = True,
                opset: int | None = None, check: bool = True) -> Path:
    """Write ``model`` as ONNX to ``path`` (through ``torch.export``) and, with ``check``, verify it
    in onnxruntime against PyTorch on ``example`` (:func:`check_onnx`)."""
    require("onnx", feature="ONNX export")
    require("onnxscript", feature="ONNX export")
    path = Path(path)
    if path.suffix != ".onnx":
        raise ConfigError(f"an ONNX file should end in .onnx, got {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    model.eval()  # not `model = model.eval()`: an exported graph's eval() returns None
    args = _args(example)
    kw = {} if opset is None else {"opset_version": opset}
    torch.onnx.export(model, args, str(path), dynamo=True, dynamic_shapes=_batch_dims(args, dynamic_batch),
                      external_data=False, verbose=False, **kw)
    if check:
        check_onnx(path, model, example)
    return path
