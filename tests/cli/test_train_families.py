"""`prism train --model M --dataset D` for every model family: the task comes from the dataset, the
data-dependent model options from the data, and eval/predict/generate work on the runs it writes."""

import pytest
import yaml

from tensorprism.cli import main
from tensorprism.data import dataset_info, list_datasets, load_dataset
from tensorprism.models import list_models, model_entry
from tensorprism.testing import require_datasets
from tensorprism.train.run import DEFAULT_RUN, TASK_ALIASES, load_config
from tensorprism.train.tasks import list_tasks

# tiny runs: one optimiser step on a few examples of each split
TINY = ["--epochs", "1", "max_steps=1", "dataset.limit=24", "batch_size=8", "progress=false",
        "plots=false", "tensorboard=false"]

# (model, dataset, task the dataset implies, model options the data must have filled in)
PAIRS = [
    ("lenet5", "mnist", "classification", {"num_classes": 10, "in_chans": 1, "img_size": 28}),
    ("resnet20-cifar", "cifar10", "classification", {"num_classes": 10, "in_chans": 3}),
    ("mnist-cnn-modern", "fashion-mnist", "classification", {"num_classes": 10, "in_chans": 1}),
    ("gcn", "cora", "node-classification", {"in_channels": 1433, "num_classes": 7}),
    ("gat", "citeseer", "node-classification", {"in_channels": 3703, "num_classes": 6}),
    ("gpt-char", "tinyshakespeare", "language-model", {"vocab_size": 65, "block_size": 64}),
    ("bilstm-sst2", "sst2", "classification", {"num_classes": 2}),
    ("rnn-forecaster", "airline", "forecasting", {"input_size": 1, "horizon": 12}),
    ("lstm-ucr", "gunpoint", "classification", {"input_size": 1, "num_classes": 2}),
    ("gin", "freesolv", "graph-regression", {"in_channels": 25, "out_channels": 1, "edge_dim": 6}),
    ("han", "fortunes", "classification", {"num_classes": 43}),  # documents (B, S, W); 43 though the limit sees 1
    # sentence pairs: a word vocabulary per side, specials <pad> <unk> <bos> <eos> = 0..3 on both
    ("gru-attention-multi30k", "multi30k", "seq2seq", {"pad_id": 0, "bos_id": 2, "eos_id": 3}),
    ("transformer-small", "debian-descriptions", "seq2seq", {"pad_id": 0, "bos_id": 2, "eos_id": 3}),
]


@pytest.mark.parametrize("model, dataset, task, filled", PAIRS, ids=[f"{m}-{d}" for m, d, *_ in PAIRS])
def test_every_family_trains_and_evaluates_from_the_cli(model, dataset, task, filled, tmp_path, capsys):
    require_datasets(dataset)
    out = tmp_path / "run"
    assert main(["train", "--model", model, "--dataset", dataset, "--out", str(out), *TINY]) == 0
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["task"]["name"] == task
    assert {k: saved["model"]["config"][k] for k in filled} == filled
    assert "dropout" not in filled or saved["model"]["config"]["dropout"] != DEFAULT_RUN["model"]["config"]["dropout"]
    capsys.readouterr()
    assert main(["eval", str(out)]) == 0  # the test split, or val where there is none
    assert "/loss" in capsys.readouterr().out
    assert main(["predict", str(out), "--limit", "1"]) == 0
    if dataset in ("sst2", "fortunes"):  # text classifiers predict on raw text, encoded with the saved vocabulary
        (tmp_path / "s.txt").write_text("a wonderful , moving film. I loved it!\nthe worst movie ever\n")
        capsys.readouterr()
        assert main(["predict", str(out), "-i", str(tmp_path / "s.txt")]) == 0
        lines = capsys.readouterr().out.splitlines()
        classes = filled["num_classes"] if "num_classes" in filled else 2
        assert len(lines) == 2 and all(0 <= int(line.split()[1]) < classes for line in lines)
    if task == "seq2seq":  # an encoder-decoder translates raw source sentences into target text
        from tensorprism.data.preprocessing import PairVocab

        pairs = load_dataset(dataset, split="train")[:24]  # the dataset.limit of TINY
        vocab = PairVocab.fit(pairs, min_freq=2, max_len=saved["model"]["config"].get("max_len"))
        sizes = {k: v for k, v in saved["model"]["config"].items() if k.startswith(("src_vocab", "tgt_vocab"))}
        assert sorted(sizes.values()) == sorted(vocab.sizes())  # filled from the data, side by side
        (tmp_path / "src.txt").write_text("".join(" ".join(a.split()) + "\n" for a, _ in pairs[:2]))  # one per line
        capsys.readouterr()
        assert main(["predict", str(out), "-i", str(tmp_path / "src.txt")]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) == 2 and all(line.split(" ", 1)[0] in ("0", "1") for line in lines)
        assert all(set(line.split()[1:]) <= set(vocab.tgt.vocab.itos) for line in lines)  # target words


def test_generate_continues_a_prompt_with_the_vocabulary_saved_by_train(tmp_path, capsys):
    require_datasets("tinyshakespeare")
    out = tmp_path / "lm"
    assert main(["train", "--dataset", "tinyshakespeare", "--out", str(out), "model.n_layer=1", *TINY]) == 0
    capsys.readouterr()
    assert main(["generate", str(out), "--prompt", "ROMEO:", "-n", "8", "--greedy"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("ROMEO:") and len(text.rstrip("\n")) == len("ROMEO:") + 8


def test_every_registered_dataset_declares_a_registered_task_and_model():
    tasks, models = set(list_tasks()), set(list_models())
    for name in list_datasets():
        info = dataset_info(name)
        assert TASK_ALIASES.get(info.task, info.task) in tasks, (name, info.task)
        assert info.model in models, (name, info.model)


# datasets `prism train` cannot batch (pairs of molecules, a ratings graph, a temporal graph, a
# knowledge graph): refused in one line that names the way to learn them
NOT_TRAINABLE = {"freesolv-pairs", "movielens", "nyc-flight-delays", "wordnet-kg"}


@pytest.mark.parametrize("dataset", [d for d in list_datasets() if d not in {p[1] for p in PAIRS}])
def test_every_other_dataset_trains_with_its_own_model_or_is_refused_in_one_line(dataset, tmp_path, capsys):
    """`prism train --dataset D` with nothing else, for every registered dataset not already in
    PAIRS (so a new dataset is covered on arrival): its declared model and task train and
    `prism eval` reads the run, or the dataset is one of those refused with their route named."""
    require_datasets(dataset)
    out = tmp_path / "run"
    rc = main(["train", "--dataset", dataset, "--out", str(out), *TINY])
    err = capsys.readouterr().err
    if dataset in NOT_TRAINABLE:
        assert rc == 2 and err.count("\n") == 1 and ("recipe" in err or "Python" in err)
        return
    assert rc == 0, err
    assert main(["eval", str(out)]) == 0


def test_datasets_without_a_trainable_form_say_so_in_one_line(capsys, tmp_path):
    require_datasets("movielens")
    assert main(["train", "--dataset", "movielens", "--out", str(tmp_path / "r"), *TINY]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no node features and labels to classify" in err


def test_a_dataset_without_a_model_gets_its_own_and_default_options_stay_with_the_default_model():
    assert load_config(overrides=["dataset=cora"])["model"]["name"] == "gcn"
    cfg = load_config(overrides=["model=lenet5", "dataset=mnist"])
    assert cfg["model"]["name"] == "lenet5" and "dropout" not in cfg["model"]["config"]
    assert load_config()["model"]["config"] == DEFAULT_RUN["model"]["config"]
    assert load_config(overrides=["model.dropout=0.3"])["model"]["config"]["dropout"] == 0.3


def test_model_options_come_from_one_table_and_only_for_fields_the_model_has():
    from tensorprism.train.run import MODEL_OPTIONS_FROM_DATA, infer_model_config

    fields_of_lenet = {f for f in model_entry("lenet5").config.__dataclass_fields__}
    describe = {"num_classes": 3, "channels": 2, "img_size": 16, "vocab_size": 50, "features": 512}
    cfg = {"model": {"name": "lenet5", "config": {"num_classes": 5}}}
    filled = infer_model_config(cfg, describe)
    assert filled == {"in_chans": 2, "img_size": 16}  # num_classes was set by the user
    assert set(filled) <= fields_of_lenet & set(MODEL_OPTIONS_FROM_DATA)


def _recipe_like_run(out, model, task, dataset, data):
    """A run directory as a recipe writes it: a registered model, run_info with dataset and task only."""
    from tensorprism.train import Trainer

    Trainer(model, task, train_data=data, epochs=1, batch_size=8, out_dir=str(out), progress=False, plots=False,
            tensorboard=False, run_info={"dataset": {"name": dataset}, "task": {"name": task}}).fit()


def test_eval_works_on_a_recipe_run_and_refuses_to_guess_a_vocabulary(tmp_path, capsys):
    import torch
    from torch.utils.data import TensorDataset

    from tensorprism.models import create_model

    train = load_dataset("digits", split="train")
    _recipe_like_run(tmp_path / "mlp", create_model("mlp"), "classification", "digits", train)
    assert main(["eval", str(tmp_path / "mlp")]) == 0 and "test/acc" in capsys.readouterr().out

    require_datasets("tinyshakespeare")
    ids = torch.randint(0, 65, (8, 16))
    model = create_model("gpt-char", n_layer=1, block_size=16)
    _recipe_like_run(tmp_path / "lm", model, "language-model", "tinyshakespeare", TensorDataset(ids, ids))
    assert main(["eval", str(tmp_path / "lm")]) == 2
    assert "does not record the char-vocab" in capsys.readouterr().err


# generative models whose data is not the default MNIST images (binary pixels, colour, sequences, clips)
GENERATIVE_DATASET = {"pixelcnn": "binarized-mnist", "rbm": "binarized-mnist", "pixelcnn-colour": "cifar10",
                      "ae-lstm": "airline", "ae-video": "moving-mnist"}


def _trainable_generative_models():
    from tensorprism.models import model_kind, model_paradigm

    return [m for m in list_models() if model_paradigm(m) == "generative" and model_kind(m) != "translation"]


@pytest.mark.parametrize("model", _trainable_generative_models())
def test_every_generative_model_trains_and_evaluates_from_the_cli_with_its_task(model, tmp_path, capsys):
    """Each registered generative model (but the two-domain translation ones, refused with their
    recipes named) trains under the task of its kind on [0, 1] images: a standardised-by-default
    image dataset is loaded unnormalised for a generative task, and the run records it."""
    from tensorprism.models import model_kind
    from tensorprism.train.run import TASK_OF_GENERATIVE_KIND

    dataset = GENERATIVE_DATASET.get(model, "mnist")
    require_datasets(dataset)
    out = tmp_path / "run"
    task = TASK_OF_GENERATIVE_KIND[model_kind(model)]
    tiny = [t if t != "dataset.limit=24" else "dataset.limit=16" for t in TINY]
    assert main(["train", "--model", model, "--dataset", dataset, "--task", task, "--out", str(out), *tiny]) == 0
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["task"]["name"] == task
    if "mean" in dataset_info(dataset).extra:  # standardised by default: loaded as [0, 1] images instead
        assert saved["dataset"]["config"]["normalize"] is False
    capsys.readouterr()
    assert main(["eval", str(out)]) == 0
    assert "/loss" in capsys.readouterr().out


def test_a_generative_task_keeps_the_users_normalisation_choice(tmp_path, capsys):
    """An explicit dataset.config.normalize wins over the [0, 1] default of generative tasks (and a
    GAN given standardised images then says so in one line)."""
    require_datasets("mnist")
    rc = main(["train", "--model", "gan-mlp-small", "--dataset", "mnist", "--task", "adversarial", "--out",
               str(tmp_path / "r"), "dataset.config.normalize=true", *TINY])
    err = capsys.readouterr().err
    assert rc != 0 and "needs targets in [0, 1]" in err and err.count("\n") == 1


@pytest.mark.parametrize("task", ["simclr", "moco", "byol", "swav", "rotation", None])
def test_ssl_net_trains_from_the_cli_with_the_task_of_its_method(task, tmp_path, capsys):
    """`prism train --model ssl-net`: the task is the model's method (or sets it), the encoder's
    channels come from the data (1 for MNIST, not the encoder's default 3), the images are [0, 1],
    and `prism eval` reads the run."""
    from tensorprism.train.run import SSL_TASKS

    assert task is None or task in SSL_TASKS
    require_datasets("mnist")
    out = tmp_path / "run"
    extra = ["--task", task] if task else []
    tiny = [t if t != "dataset.limit=24" else "dataset.limit=16" for t in TINY]
    assert main(["train", "--model", "ssl-net", "--dataset", "mnist", "--out", str(out), *extra, *tiny]) == 0
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["task"]["name"] == saved["model"]["config"].get("method", "simclr") == (task or "simclr")
    assert saved["model"]["config"]["encoder_config"]["in_chans"] == 1
    assert saved["dataset"]["config"]["normalize"] is False
    capsys.readouterr()
    assert main(["eval", str(out)]) == 0


@pytest.mark.parametrize("argv, expected", [
    (["--task", "classification"], "its task is one of simclr"),
    (["--task", "moco", "model.method=byol"], "must be the same SSL method"),
    (["--task", "deepcluster"], "prism run ch09-ssl method=deepcluster"),  # k-means lives above train/
    (["model.method=deepcluster"], "prism run ch09-ssl method=deepcluster"),
])
def test_ssl_net_refuses_a_task_that_is_not_its_method(argv, expected, tmp_path, capsys):
    rc = main(["train", "--model", "ssl-net", "--dataset", "digits", "--out", str(tmp_path / "r"), *argv, *TINY])
    err = capsys.readouterr().err
    assert rc != 0 and expected in err and err.count("\n") == 1


def test_eval_linear_probe_on_an_ssl_run_and_a_clear_refusal_elsewhere(tmp_path, capsys):
    """`prism eval RUN --probe`: a linear classifier on the frozen encoder's features of the training
    split, scored on the evaluated split, beside the kNN; other models are refused in one line."""
    import json

    require_datasets("mnist")
    out = tmp_path / "ssl"
    assert main(["train", "--model", "ssl-net", "--dataset", "mnist", "--out", str(out), *TINY]) == 0
    capsys.readouterr()
    assert main(["eval", str(out), "--probe", "--probe-epochs", "5", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 0.0 <= metrics["test/probe_acc"] <= 1.0 and 0.0 <= metrics["train/probe_acc"] <= 1.0
    assert "test/knn_acc" in metrics
    assert main(["eval", str(out), "--probe", "--probe-samples", "0"]) == 2
    assert "--probe-samples must be >= 1" in capsys.readouterr().err
    clf = tmp_path / "clf"
    assert main(["train", "--model", "mlp", "--dataset", "digits", "--out", str(clf), *TINY]) == 0
    capsys.readouterr()
    assert main(["eval", str(clf), "--probe"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--probe needs a self-supervised encoder" in err
