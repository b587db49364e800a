"""Model compression and deployment.

* tensor decomposition (§2.2.3): factorised CP/Tucker/TT Linear and Conv2d layers and
  ``compress(model, method, rank)`` that factorises a trained model's weights;
* pruning (§11): unstructured magnitude pruning (per layer / global, ``torch.nn.utils.prune``),
  structured L1 filter pruning that removes channels, iterative schedules (:mod:`.prune`);
* int8 quantisation (§11): post-training dynamic and static, quantisation-aware training through
  ``torch.ao.quantization``, and an exportable PT2E int8 graph through torchao (:mod:`.quantize`; the min–max reference is
  :mod:`tensorprism.functional.quantization`);
* export: ``torch.export`` and ONNX checked in onnxruntime (:mod:`.export`).

Knowledge distillation is a training paradigm: the ``"distillation"`` task
(:class:`tensorprism.train.tasks.distillation.DistillationTask`).
"""

from .export import check_onnx, export_onnx, export_program, run_onnx
from .factorize import METHODS, compress, parameter_ratio, rank_for_ratio
from .layers import (
    CPConv2d,
    CPLinear,
    TTConv2d,
    TTLinear,
    TuckerConv2d,
    TuckerLinear,
    balanced_factors,
)
from .measure import cpu_latency
from .prune import (
    check_amount,
    prunable_filter_pairs,
    prune_filters_l1,
    prune_magnitude,
    remove_masks,
    sparsity,
    sparsity_schedule,
)
from .quantize import (
    convert_qat,
    model_size_bytes,
    prepare_qat,
    quantize_dynamic_int8,
    quantize_pt2e_int8,
    quantize_static_int8,
)

__all__ = [
    "compress", "parameter_ratio", "rank_for_ratio", "METHODS", "CPLinear", "TuckerLinear", "TTLinear",
    "CPConv2d", "TuckerConv2d", "TTConv2d", "balanced_factors",
    "prune_magnitude", "remove_masks", "sparsity", "sparsity_schedule", "prune_filters_l1",
    "prunable_filter_pairs", "check_amount",
    "quantize_dynamic_int8", "quantize_static_int8", "quantize_pt2e_int8", "prepare_qat", "convert_qat", "model_size_bytes",
    "export_program", "export_onnx", "check_onnx", "run_onnx", "cpu_latency",
]
