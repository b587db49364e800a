import pytest
import torch
import torch.nn as nn
from torch.utils.data import TensorDataset
from train_helpers import QUIET, make_blobs, make_mlp

from tensorprism.errors import ShapeError, UnknownNameError
from tensorprism.train import Trainer, create_task, list_tasks
from tensorprism.train.tasks import Task, register_task


def test_builtin_tasks_are_registered_and_discovered():
    assert {"classification", "regression", "autoencoder"} <= set(list_tasks())


def test_unknown_task_name_suggests_nearest():
    with pytest.raises(UnknownNameError, match="classification"):
        create_task("clasification")


def test_classification_learns_blobs_and_reports_torchmetrics(blobs):
    trainer = Trainer(make_mlp(), "classification", train_data=blobs, val_data=blobs, epochs=8,
                      batch_size=16, lr=1e-2, **QUIET).fit()
    m = trainer.final_metrics
    assert m["val/acc"] > 0.95
    cm = torch.tensor(m["val/confusion_matrix"])
    assert cm.shape == (3, 3) and cm.sum() == len(blobs)
    assert abs(cm.diag().sum() / cm.sum() - m["val/acc"]) < 1e-6  # micro accuracy = trace / total
    preds = trainer.predict(blobs)
    assert preds.shape == (len(blobs),) and preds.dtype == torch.long


def test_regression_fits_a_linear_map():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 4, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    data = TensorDataset(x, y)
    trainer = Trainer(nn.Linear(4, 1), "regression", train_data=data, val_data=data, epochs=30,
                      batch_size=16, lr=5e-2, optimizer="adam", **QUIET).fit()
    assert trainer.final_metrics["val/r2"] > 0.99
    assert trainer.final_metrics["val/mse"] == pytest.approx(trainer.final_metrics["val/loss"], rel=1e-4)


def test_autoencoder_reconstructs_low_rank_data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 2, generator=g) @ torch.randn(2, 8, generator=g)  # rank 2 in 8-D
    data = TensorDataset(x)
    model = nn.Sequential(nn.Linear(8, 2), nn.Linear(2, 8))
    before = Trainer(model, "autoencoder", val_data=data, **QUIET).evaluate("val")["val/mse"]
    trainer = Trainer(model, "autoencoder", train_data=data, val_data=data, epochs=40, batch_size=32,
                      lr=2e-2, **QUIET).fit()
    assert trainer.final_metrics["val/mse"] < 0.05 * before
    assert trainer.predict(data).shape == x.shape


def test_float_labels_for_classification_give_a_one_line_dtype_error(blobs):
    x, y = blobs.tensors
    bad = TensorDataset(x, y.float())
    with pytest.raises(ShapeError, match="integer .* targets but got dtype torch.float32") as info:
        Trainer(make_mlp(), train_data=bad, epochs=1, **QUIET).fit()
    assert "\n" not in str(info.value)


def test_wrong_output_width_for_regression_is_a_shape_error():
    data = TensorDataset(torch.randn(8, 3), torch.randn(8, 2))
    with pytest.raises(ShapeError, match=r"shaped like the targets \(4, 2\).*returned \(4, 5\)"):
        Trainer(nn.Linear(3, 5), "regression", train_data=data, batch_size=4, epochs=1, **QUIET).fit()


def test_model_input_size_mismatch_is_a_one_line_shape_error(blobs):
    with pytest.raises(ShapeError, match=r"cannot take the batch \[\(16, 6\) float32, \(16,\) int64\]") as info:
        Trainer(make_mlp(features=5), train_data=blobs, batch_size=16, epochs=1, **QUIET).fit()
    assert "\n" not in str(info.value)


def test_a_new_task_plugs_in_by_registration_without_touching_the_loop():
    @register_task("test-hinge")
    class Hinge(Task):
        def training_step(self, model, batch):
            x, y = batch
            return {"loss": torch.relu(1 - model(x).squeeze(1) * (2 * y.float() - 1)).mean()}

    data = make_blobs(classes=2)
    trainer = Trainer(make_mlp(out=1), "test-hinge", train_data=data, val_data=data, epochs=5,
                      batch_size=16, lr=1e-2, **QUIET).fit()
    assert trainer.history["val/loss"][-1] < trainer.history["val/loss"][0]


def test_full_batch_masked_task_sees_its_split():
    """The graph recipe of docs/training.md: one batch per epoch, the mask chosen by task.split."""
    import torch.nn.functional as F
    from torchmetrics.classification import MulticlassAccuracy

    from tensorprism.train import FullBatch

    class MaskedNodes(Task):
        monitor, mode = "val/acc", "max"

        def __init__(self):
            self.seen = set()

        def _step(self, model, g):
            self.seen.add(self.split)
            mask = g[f"{self.split}_mask"]
            logits, y = model(g["x"])[mask], g["y"][mask]
            return {"loss": F.cross_entropy(logits, y), "preds": logits, "target": y}

        def training_step(self, model, g):
            return {"loss": self._step(model, g)["loss"]}

        evaluation_step = _step

        def metrics(self):
            return {"acc": MulticlassAccuracy(3, average="micro")}

    x, y = make_blobs(n=90).tensors
    masks = {f"{s}_mask": torch.arange(90) // 30 == i for i, s in enumerate(("train", "val", "test"))}
    graph = FullBatch({"x": x, "y": y, **masks})
    task = MaskedNodes()
    t = Trainer(make_mlp(), task, train_data=graph, val_data=graph, test_data=graph, epochs=30, lr=1e-2,
                **QUIET).fit()
    assert t.global_step == 30 and task.seen == {"train", "val", "test"}
    assert t.final_metrics["val/acc"] > 0.9 and t.final_metrics["test/acc"] > 0.9


def test_a_task_without_training_step_cannot_be_instantiated():
    from tensorprism.train.tasks import Task

    class Incomplete(Task):
        pass

    with pytest.raises(TypeError, match="training_step"):
        Incomplete()


def test_vision_tasks_are_registered_under_their_names_and_keep_their_old_import_paths():
    from tensorprism.train.tasks import TASKS
    from tensorprism.vision.detection import DetectionTask
    from tensorprism.vision.metric_learning import TripletTask
    from tensorprism.vision.segmentation import SegmentationTask
    from tensorprism.vision.superres import SuperResolutionTask
    from tensorprism.vision.training import AugmentedClassificationTask
    from tensorprism.vision.transfer import FineTuneTask

    expected = {"augmented-classification": AugmentedClassificationTask, "fine-tune": FineTuneTask,
                "segmentation": SegmentationTask, "super-resolution": SuperResolutionTask,
                "triplet": TripletTask, "detection": DetectionTask}
    for name, cls in expected.items():
        assert TASKS.get(name).fn is cls and cls.name == name


def test_trainer_finds_a_vision_task_by_name():
    torch.manual_seed(0)
    images = torch.rand(8, 1, 6, 6)
    data = TensorDataset(images.clamp(0.1, 0.9), images)
    model = nn.Conv2d(1, 1, 3, padding=1)
    trainer = Trainer(model, "super-resolution", train_data=data, val_data=data, epochs=1, batch_size=4,
                      **QUIET)
    assert trainer.task.name == "super-resolution"
    assert "val/psnr" in trainer.fit().evaluate("val")
