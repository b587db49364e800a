"""Export (torch.export, ONNX run in onnxruntime), the distillation task, and mixed precision's
fp32 master weights."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from tensorprism.compress import check_onnx, export_onnx, export_program
from tensorprism.errors import ConfigError, ShapeError, TensorPrismError
from tensorprism.losses.distillation import distillation_loss
from tensorprism.models.cnn.classic import LeNetConfig, lenet5
from tensorprism.models.mlp import MLPConfig, build_mlp
from tensorprism.train import Trainer
from tensorprism.train.tasks import create_task


def test_torch_export_program_runs_other_batch_sizes_like_eager():
    model = lenet5(LeNetConfig()).eval()
    program = export_program(model, torch.randn(2, 1, 28, 28))
    x = torch.randn(5, 1, 28, 28)
    assert torch.allclose(program.module()(x), model(x), atol=1e-6)


@pytest.mark.slow  # the dynamo ONNX exporter takes ~10 s even for LeNet-5
def test_onnx_export_is_checked_in_onnxruntime(tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    model = lenet5(LeNetConfig()).eval()
    path = export_onnx(model, torch.randn(2, 1, 28, 28), tmp_path / "lenet.onnx")
    assert path.is_file() and path.stat().st_size > 200_000  # the 61,706 weights are inside
    assert check_onnx(path, model, torch.randn(7, 1, 28, 28)) < 1e-4  # another batch size
    other = lenet5(LeNetConfig()).eval()  # different weights: the check must fail
    with pytest.raises(ShapeError, match="disagrees"):
        check_onnx(path, other, torch.randn(3, 1, 28, 28))
    with pytest.raises(ConfigError, match=".onnx"):
        export_onnx(model, torch.randn(2, 1, 28, 28), tmp_path / "lenet.pt")


def _lstm_classifier(pooling="last", bidirectional=False):
    from tensorprism.models import create_model

    return create_model("rnn-classifier", vocab_size=None, input_size=28, embed_dim=8, hidden_size=12,
                        bidirectional=bidirectional, pooling=pooling, dropout=0.0, num_classes=10).eval()


@pytest.mark.parametrize("pooling", ["last", "max", "mean", "attention"])
def test_lstm_classifier_without_lengths_equals_the_packed_full_length_run(pooling):
    """Feature input without ``lengths`` runs the fused LSTM unpacked (exportable); it must give
    exactly what packing with every length = T gives."""
    torch.manual_seed(0)
    model = _lstm_classifier(pooling, bidirectional=True)
    x = torch.randn(4, 28, 28)
    assert torch.allclose(model(x), model(x, lengths=torch.full((4,), 28)), atol=1e-6)
    short = model(x, lengths=torch.tensor([28, 10, 28, 5]))  # lengths still change the answer
    assert not torch.allclose(short, model(x), atol=1e-4)


@pytest.mark.slow  # torch.export of the LSTM takes ~20 s on a loaded machine
def test_lstm_classifier_exports_with_torch_export():
    """The row-LSTM of ch11-quantize: torch.export used to stop on its data-dependent packing."""
    torch.manual_seed(0)
    model = _lstm_classifier()
    program = export_program(model, torch.randn(2, 28, 28))
    x = torch.randn(6, 28, 28)  # another batch size
    assert torch.allclose(program.module()(x), model(x), atol=1e-5)


@pytest.mark.slow  # the dynamo ONNX exporter takes ~30 s for the LSTM on a loaded machine
def test_lstm_classifier_onnx_export_runs_in_onnxruntime(tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    torch.manual_seed(0)
    model = _lstm_classifier()
    path = export_onnx(model, torch.randn(2, 28, 28), tmp_path / "lstm.onnx")
    assert check_onnx(path, model, torch.randn(5, 28, 28)) < 1e-4


def _mlp(hidden=(16,)):
    return build_mlp(MLPConfig(in_features=8, hidden=hidden, num_classes=3))


def test_distillation_task_loss_is_the_shared_loss_and_alpha_zero_is_cross_entropy():
    teacher, student = _mlp((32,)), _mlp()
    x, y = torch.randn(10, 8), torch.randint(0, 3, (10,))
    task = create_task("distillation", teacher=teacher, temperature=3.0, alpha=0.7)
    got = task.training_step(student, (x, y))["loss"]
    want = distillation_loss(student(x), teacher(x), y, temperature=3.0, alpha_soft=0.7, alpha_hard=0.3)
    assert torch.allclose(got, want)
    plain = create_task("distillation", teacher=teacher, alpha=0.0).training_step(student, (x, y))["loss"]
    assert torch.allclose(plain, F.cross_entropy(student(x), y))
    got.backward()
    assert all(p.grad is None for p in teacher.parameters())  # the teacher is frozen
    for bad in (dict(alpha=1.5), dict(temperature=0.0), dict(teacher="")):
        with pytest.raises(TensorPrismError):
            create_task("distillation", **{"teacher": teacher, **bad})


def test_distillation_trains_through_the_trainer():
    torch.manual_seed(0)
    x = torch.randn(128, 8)
    data = TensorDataset(x, (x[:, 0] > 0).long())
    teacher = _mlp((32,))
    student = _mlp((4,))
    before = float(create_task("distillation", teacher=teacher).training_step(student, (x, data.tensors[1]))["loss"])
    trainer = Trainer(student, create_task("distillation", teacher=teacher, temperature=2.0), train_data=data,
                      val_data=data, epochs=3, batch_size=64, lr=1e-2, progress=False, device="cpu",
                      tensorboard=False, plots=False).fit()
    after = float(create_task("distillation", teacher=teacher).training_step(student, (x, data.tensors[1]))["loss"])
    assert after < before and 0.0 <= trainer.final_metrics["val/acc"] <= 1.0
    assert "val/loss" in trainer.final_metrics  # evaluation is the student's plain classification


def test_erratum_mixed_precision_keeps_fp32_master_weights():
    """Catalogue ch09-11 §5 item 22 (book L24517 vs L22400): the book says weights and
    activations are *stored* in 16 bits and the loss and gradients computed in 32. Standard mixed
    precision is the other way round: fp32 master weights (and optimiser state), 16-bit autocast
    compute. Training with precision="bf16" leaves every parameter and gradient in float32."""
    model = _mlp()
    data = TensorDataset(torch.randn(64, 8), torch.randint(0, 3, (64,)))
    with pytest.warns(UserWarning, match="CPU"):  # on a CPU it says it is likely slower, never silently
        trainer = Trainer(model, "classification", train_data=data, epochs=1, batch_size=32, precision="bf16",
                          device="cpu", progress=False, tensorboard=False, plots=False)
    seen = []
    model.features[0].register_forward_hook(lambda m, i, out: seen.append(out.dtype))  # the first Linear
    trainer.fit()
    assert seen and set(seen) == {torch.bfloat16}  # compute ran under bf16 autocast...
    assert all(p.dtype == torch.float32 for p in model.parameters())  # ...on fp32 master weights
    state = [v for s in trainer.optimizers[0].state.values() for v in s.values() if torch.is_tensor(v)]
    assert state and all(v.dtype == torch.float32 for v in state)
