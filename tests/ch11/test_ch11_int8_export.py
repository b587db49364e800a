"""int8 models to ONNX: the PT2E graph (torchao) exports as QDQ with int8 weights; the packed
torch.ao modules of ``quantize_static_int8`` cannot be traced by ``torch.export``."""

from __future__ import annotations

import pytest
import torch

from tensorprism.compress import export_onnx, quantize_pt2e_int8, quantize_static_int8, run_onnx
from tensorprism.errors import ShapeError
from tensorprism.models.cnn.classic import LeNetConfig, lenet5


def _calibration():
    g = torch.Generator().manual_seed(0)
    return [torch.rand(32, 1, 28, 28, generator=g) for _ in range(3)]


def test_pt2e_int8_needs_calibration():
    pytest.importorskip("torchao")
    with pytest.raises(ShapeError, match="calibration"):
        quantize_pt2e_int8(lenet5(LeNetConfig()), [])


@pytest.mark.slow  # torch.export + PT2E + the dynamo ONNX exporter: about a minute on a loaded machine
def test_int8_lenet_exports_to_onnx_as_quantize_dequantize_graph(tmp_path):
    pytest.importorskip("torchao")
    pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    torch.manual_seed(0)
    model = lenet5(LeNetConfig()).eval()
    int8 = quantize_pt2e_int8(model, _calibration())
    x = torch.rand(16, 1, 28, 28)
    with torch.no_grad():
        ref, sim = model(x), int8(x)
    assert 0 < float((sim - ref).abs().max()) < 0.05 * float(ref.abs().max())  # quantised, and close
    path = export_onnx(int8, x[:2], tmp_path / "lenet-int8.onnx", check=False)
    graph = onnx.load(str(path)).graph
    ops = {n.op_type for n in graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    int8_weights = [i for i in graph.initializer if i.data_type == onnx.TensorProto.INT8]
    assert sum(len(i.raw_data) or len(i.int32_data) for i in int8_weights) > 50_000  # the conv/linear weights
    out = torch.as_tensor(run_onnx(path, x)[0])  # onnxruntime on another batch size
    assert out.shape == ref.shape
    assert float((out - sim).abs().max()) < 0.05 * float(ref.abs().max())
    assert (out.argmax(1) == sim.argmax(1)).float().mean() >= 0.9
    float_path = export_onnx(model, x[:2], tmp_path / "lenet.onnx", check=False)
    assert path.stat().st_size < 0.5 * float_path.stat().st_size  # int8 weights (plus per-channel scales)


@pytest.mark.slow
def test_packed_int8_modules_cannot_be_exported():
    """Why the PT2E path exists: torch.export's fake tensors have no quantised dtype."""
    model = lenet5(LeNetConfig()).eval()
    packed = quantize_static_int8(model, _calibration())
    with pytest.raises(Exception, match="(?i)quantized"):
        torch.export.export(packed, (torch.rand(2, 1, 28, 28),))
