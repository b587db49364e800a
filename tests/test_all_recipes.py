"""Every registered recipe (``prism run``) runs end to end at smoke size, writes its run directory
and its result, and the runs of registered models evaluate with ``prism eval``.

The table below gives each recipe tiny settings (the measured full-size numbers are in
``benchmarks/results/``). A recipe registered without a row here fails
``test_every_recipe_has_smoke_settings``, so none can be left out.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tensorprism.recipes import list_recipes, run_recipe
from tensorprism.testing import require_datasets

CANVAS = dict(train_canvases=32, test_canvases=8, epochs=1, batch_size=16, canvas_size=48, max_digits=2)
VIT_CIFAR = dict(max_train_samples=64, max_test_samples=64, epochs=1, batch_size=32, randaugment=1,
                 model_kwargs=dict(depth=1, embed_dim=16, num_heads=2))
SUMMARISE = dict(train_limit=32, eval_limit=8, vocab_size=300, pretrain_steps=2, finetune_steps=2, finetune_seeds=1,
                 d_model=16, d_ff=32, nhead=2, layers=1, hidden=16, bert_layers=1, heads=2, max_source=32, num_beams=1,
                 warmup=2, batch_size=16)
CHAR_LM = dict(embed_dim=8, hidden_size=16, num_layers=1, batch_size=64, seq_len=32, max_steps=3, warmup=1,
               eval_every=3, eval_batch=256, sample_tokens=5)

# name -> (settings, datasets it reads, run sub-folder that `prism eval` must evaluate (None: not
# a registered model on a registered dataset), whether it trains a model (checkpoints expected))
SMOKE: dict[str, tuple[dict, tuple[str, ...], str | None, bool]] = {
    "ch01-tensor-batches": (dict(batch_size=4), ("mnist", "tinyshakespeare"), None, False),
    "ch02-tensor-networks": (dict(batch_size=4), ("mnist",), None, False),
    "ch02-mnist-compress": (dict(epochs=1, max_train=512, methods=["tucker"], ratios=[0.5], finetune_steps=2),
                            ("mnist",), "dense", True),
    "ch02-word2vec": (dict(epochs=1, max_steps=3, embed_dim=8, queries=["thou"], topk=2), ("tinyshakespeare",),
                      None, True),
    "ch04-mnist-lenet5": (dict(max_train_samples=256, epochs=1), ("mnist",), ".", True),
    "ch04-mnist-modern": (dict(max_train_samples=256, epochs=1), ("mnist",), ".", True),
    "ch04-fashion-mnist": (dict(max_train_samples=256, epochs=1), ("fashion-mnist",), ".", True),
    "ch04-cifar10-cnn-book": (dict(max_train_samples=128, max_test_samples=200, epochs=1), ("cifar10",), None, True),
    "ch04-cifar10-resnet20": (dict(max_train_samples=128, max_test_samples=200, epochs=1, model_kwargs={"layers": (1, 1, 1)}), ("cifar10",),
                              None, True),
    "ch04-detect": (dict(CANVAS), ("mnist",), None, True),
    "ch04-faster-rcnn": (dict(CANVAS, speed_repeats=1), ("mnist",), None, True),
    "ch04-mask-rcnn": (dict(CANVAS, speed_repeats=1, backbone_channels=(8, 16, 16), model_kwargs=dict(representation=32)),
                       ("mnist",), None, True),
    "ch04-segment": (dict(CANVAS), ("mnist",), None, True),
    "ch04-superres": (dict(train_images=64, test_images=16, epochs=1, batch_size=32, widths=(8, 4)), ("cifar10",),
                      None, True),
    "ch04-transfer": (dict(pretrain_samples=128, pretrain_epochs=1, labels_per_class=4, epochs=1, batch_size=32,
                           max_test_samples=200),
                      ("cifar10",), None, True),
    "ch04-ensembles": (dict(train_samples=128, members=2, epochs=1), ("mnist", "iris"), None, True),
    "ch04-metric": (dict(train_samples=256, epochs=1, dim=8), ("mnist",), None, True),
    "ch04-hpo": (dict(train_samples=64, val_samples=64, trials=1), ("mnist",), None, True),
    "ch04-style-transfer": (dict(size=32, steps=3), (), None, False),  # weights: see _settings
    "ch05-char-lm": (dict(CHAR_LM), ("tinyshakespeare",), None, True),
    "ch05-word-lm": (dict(CHAR_LM, embed_dim=16, hidden_size=16, vocab_size=500), ("shakespeare-plays",), None, True),
    "ch05-forecasting": (dict(epochs=2, ensemble=1), ("airline",), None, True),
    "ch05-ucr": (dict(dataset="italypowerdemand", epochs=1, hidden_size=8), ("italypowerdemand",), None, True),
    "ch05-sst2": (dict(embed_dim=8, hidden_size=8, epochs=1, max_train=200), ("sst2",), None, True),
    "ch05-translation": (dict(embed_dim=8, hidden_size=8, attn_dim=8, epochs=1, max_train=100, max_eval=8,
                              max_len=6, num_beams=2), ("multi30k",), None, True),
    "ch06-char-gpt": (dict(n_layer=1, n_head=2, n_embd=16, block_size=16, batch_size=8, max_iters=3, warmup=1,
                           sample_tokens=5), ("tinyshakespeare",), None, True),
    "ch06-sst2": (dict(encoder="bert-mini-scratch", train_limit=64, epochs=1, layers=1, hidden=16, heads=2,
                       vocab_size=300, max_length=24), ("sst2", "multi30k"), None, True),
    "ch06-translation": (dict(train_limit=200, max_steps=2, eval_limit=4, d_model=16, d_ff=32, nhead=2, layers=1,
                              vocab_size=300, num_beams=1, warmup=2), ("multi30k",), None, True),
    "ch06-summarise": (dict(SUMMARISE, pretrain="t5"), ("debian-descriptions",), None, True),
    "ch06-domain-adapt": (dict(SUMMARISE, arms=("none", "adapt"), general_steps=1, adapt_steps=1, general_limit=64),
                          ("debian-descriptions", "shakespeare-plays"), None, True),
    "ch06-cifar10-vit": (dict(VIT_CIFAR), ("cifar10",), None, True),
    "ch06-cifar10-swin": (dict(VIT_CIFAR, model_kwargs=dict(embed_dim=8, depths=(1, 1), num_heads=(1, 2))),
                          ("cifar10",), None, True),
    "ch06-cifar10-deit": (dict(VIT_CIFAR, teacher_epochs=1, mix="mixup"), ("cifar10",), None, True),
    "ch06-long-lm": (dict(attentions=("full", "local"), attention_kwargs={"local": {"window": 8}}, block_size=32,
                          n_layer=1, n_head=2, n_embd=16, batch_size=4, max_iters=2, warmup=1, eval_windows=2,
                          speed_context=64, speed_reps=1), ("tinyshakespeare",), None, True),
    "ch07-attention-cnn": (dict(max_train=64, max_eval=32, epochs=1, batch_size=32, pictures=2), ("cifar10",), None,
                           True),
    "ch07-cbam-resnet20": (dict(max_train=32, max_eval=16, epochs=1, batch_size=16, pictures=2), ("cifar10",), None,
                           True),
    "ch07-han": (dict(max_train=64, max_eval=16, epochs=1, embed_dim=8, hidden_size=4, max_sentences=3, max_words=6,
                      pictures=2), ("fortunes",), None, True),
    "ch07-vqa": (dict(max_train=64, max_eval=16, epochs=1, d_model=8, heads=2, layers=1, pictures=2), ("mnist",), None,
                 True),
    "ch07-captioning": (dict(max_train=64, max_eval=16, epochs=1, d_model=8, pictures=2), ("mnist",), None, True),
    "ch07-video": (dict(max_train=16, max_eval=8, epochs=1, frames=4, channels=8, batch_size=8, pictures=1), ("mnist",),
                   None, True),
    "ch07-audio": (dict(max_train=64, max_eval=16, epochs=1, hidden_size=8, pictures=1), ("spoken-digits",), None, True),
    "ch07-translation": (dict(settings=dict(embed_dim=8, hidden_size=8, attn_dim=8, epochs=1, max_train=100, max_eval=8,
                                            max_len=6, num_beams=1)), ("multi30k",), None, True),
    "ch10-gan": (dict(model="gan-mlp-small", max_train=128, epochs=1, batch_size=32, eval_samples=40,
                      classifier_epochs=1, classifier_max_train=256, r1_weight=0.5, r1_interval=2), ("mnist",), None, True),
    "ch10-vae": (dict(max_train=256, epochs=1, iwae_k=20, iwae_examples=20,
                      model_config={"hidden": [32], "latent_dim": 4}), ("binarized-mnist",), None, True),
    "ch10-realnvp": (dict(max_train=128, max_eval=64, epochs=1, model_config={"hidden": 8, "scales": 1}, samples=4),
                     ("mnist",), None, True),
    "ch10-pixelcnn": (dict(max_train=128, max_test=64, epochs=1, model_config={"channels": 8, "blocks": 1},
                           samples=2), ("binarized-mnist",), None, True),
    "ch10-denoising": (dict(max_train=256, max_eval=128, epochs=1), ("mnist",), None, True),
    "ch10-anomaly": (dict(max_train=256, max_eval=256, epochs=1), ("mnist",), None, True),
    "ch09-clustering": (dict(n_samples=120, tsne_iter=250), (), None, False),
    "ch09-ssl": (dict(method="simclr", dataset="mnist", encoder="resnet20-cifar", encoder_kwargs={"layers": (1, 1, 1)},
                      epochs=1, batch_size=16, max_train_samples=32, eval_train_samples=32, eval_test_samples=16,
                      probe_epochs=1, throughput_steps=1, time_budget_s=600), ("mnist",), None, True),  # prism eval: tests/ch09/test_ssl_eval.py (slow)
    "ch09-anomaly": (dict(classes=[0], max_train_per_class=50, max_test=100, ecg=False, ae_epochs=1), ("mnist",), None,
                     True),
    "ch10-video-ae": (dict(frames=3, train_clips=8, test_clips=4, epochs=1, batch_size=4,
                           model_config={"widths": [4, 8], "feature_dim": 16, "hidden_size": 8}), ("mnist",), None, True),
    "ch10-augment": (dict(labels_per_class=3, seeds=1, generated_per_class=3, vae_epochs=1, clf_epochs=1, max_test=64),
                     ("mnist",), None, True),
    "ch10-cyclegan": (dict(test_digits=20, max_digits=64, max_mnist=64, max_test=40, epochs=1, batch_size=16, classifier_epochs=1,
                           classifier_max_train=128, model_config={"width": 4, "res_blocks": 1, "d_width": 4}),
                      ("mnist",), None, True),
    "ch10-pixelcnn-colour": (dict(max_train=32, max_test=16, epochs=1, batch_size=16, samples=0,
                                  model_config={"channels": 6, "blocks": 1, "first_kernel": 3, "img_size": 32}),
                             ("cifar10",), None, True),
    "ch10-srgan": (dict(train_images=32, test_images=16, srcnn_widths=(4, 4), srcnn_epochs=1, srresnet_epochs=1,
                        srgan_epochs=1, batch_size=16, feature_weight=0.01, classifier_epochs=1,
                        classifier_max_train=64, model_config={"width": 4, "blocks": 1, "d_width": 4,
                                                                     "d_stages": 2}), ("cifar10",), None, True),
    "ch08-planetoid": (dict(seeds=1, time_budget_s=1.0), ("cora",), "seed-0", True),
    "ch08-sampled-sage": (dict(epochs=1, hidden=8, fanout=(3, 3), batch_size=256), ("cora",), ".", True),
    "ch08-link-prediction": (dict(epochs=2, hidden=8, out=4), ("cora",), None, True),
    "ch08-freesolv": (dict(epochs=1, hidden=8, steps=1), ("freesolv",), None, True),
    "ch08-movielens": (dict(epochs=1, dim=8, layers=1, batch_size=16384), ("movielens",), None, True),
    "ch08-karate": (dict(epochs=5), ("karate",), ".", True),
    "ch05-video-action": (dict(epochs=1, train_videos=32, test_videos=16, frames=4, hidden=8, feature_dim=8), ("mnist",),
                          None, True),
    "ch05-frame-tagger": (dict(epochs=1, train_videos=32, test_videos=16, frames=4, hidden=8, feature_dim=8), ("mnist",),
                          None, True),
    "ch05-sst2-word2vec-init": (dict(w2v_epochs=1, w2v_time_budget_s=2.0, max_train=32, epochs=1, hidden_size=4,
                                     seeds=[0]), ("sst2",), None, True),
    "ch03-scaling-polynomial": (dict(steps=5, seeds=[0], degrees=[1, 2], folds=2), (), None, False),
    "ch08-wordnet-kg": (dict(epochs=1, dim=8, negatives=32, max_eval=32, models=("rgcn", "transe")), ("wordnet-kg",),
                        None, True),
    "ch08-tgcn-flights": (dict(epochs=1, hidden=4, seeds=[0], airports=6, k=2), ("nyc-flight-delays",), None, True),
    "ch08-molecule-pairs": (dict(epochs=1, hidden=4, out=4, layers=1, train_pairs=64, seeds=[0], combines=("symmetric",)),
                            ("freesolv-pairs",), None, True),
    "ch11-quantize": (dict(models=["mlp-mnist", "lenet5"], max_train=256, max_test=128, epochs=1, calib_batches=1,
                           qat_steps=2, latency_repeats=1, onnx=False), ("mnist",), None, True),
    "ch11-prune": (dict(max_train=256, max_test=128, epochs=1, sparsities=[0.5], filter_amounts=[0.5], finetune_steps=2,
                        iterative_steps=2, latency_repeats=1), ("mnist",), "dense", True),
    "ch11-distill": (dict(teacher_epochs=1, teacher_max_train=256, student_train=128, student_epochs=1, seeds=1,
                          max_test=128), ("mnist",), None, True),
    "ch11-dp-mnist": (dict(epsilons=[8.0], max_train=512, max_test=128, batch_size=64, channels=(4,), hidden=(8,)),
                      ("mnist",), "non-private", True),
    "ch11-fedavg": (dict(splits=["iid", "shards"], rounds=1, clients=2, max_train=128, max_test=64, channels=(4,),
                         hidden=(8,)), ("mnist",), None, False),
    "ch11-dqn": (dict(total_steps=300, learning_starts=50, eval_every=300, eval_episodes=1, final_episodes=2), (),
                 None, False),
    "ch11-maml": (dict(iterations=2, ks=[5], meta_batch=2, eval_tasks=4), (), None, False),
    "ch11-adversarial": (dict(max_train=256, max_test=64, max_eval=32, epochs=2, warm_epochs=1, train_steps=2, eval_steps=3,
                              channels=(4,), hidden=(8,)), ("mnist",), "standard", True),
    "ch11-explain": (dict(epochs=2, repeats=2, points=2, background=4, permutations=4, lime_samples=32,
                          image_train=128), ("mnist",), "mlp", True),
    "ch11-fairness": (dict(dataset="arrests", seeds=1, epochs=1, arms=["none", "adversarial"]), ("arrests",), None,
                      True),
    "ch11-snn": (dict(max_train=256, max_test=128, steps=3, hidden=(16,)), ("mnist",), None, True),
    "ch11-hebbian": (dict(epochs=2, hebb_epochs=2, components=2), (), None, False),
    "ch11-hopfield": (dict(neurons=60, loads=[0.05, 0.2], trials=1), (), None, False),
    "ch11-reinforce": (dict(total_steps=300, eval_every=300, eval_episodes=1, final_episodes=2), (), None, False),
    "ch11-a2c": (dict(total_steps=320, eval_every=320, eval_episodes=1, final_episodes=2), (), None, False),
    "ch11-fewshot": (dict(shots=[1], methods=["pixels", "protonet", "fomaml"], protonet_episodes=2, meta_iterations=1,
                          meta_batch=1, queries=2, eval_episodes=2, test_inner_steps=1, width=4), ("mnist",), None,
                     False),
    "ch08-explain": (dict(epochs=3, time_budget_s=1.0), ("cora",), ".", True),
    "ch08-superpixels": (dict(train_images=16, test_images=8, n_segments=20, hidden=8, layers=1, epochs=1),
                         ("mnist",), None, True),
    "ch08-sentiment-graph": (dict(max_train=200, epochs=1, embed_dim=8, hidden=8), ("sst2",), None, True),
    "diabetes-regression": (dict(epochs=1), (), None, True),
    "digits-multilabel": (dict(epochs=1), (), None, True),
    "mnist-mlp": (dict(max_train=512, epochs=1), ("mnist",), ".", True),
    "mnist-mlp-bn": (dict(max_train=512, epochs=1), ("mnist",), ".", True),
    "sst2-bow": (dict(max_train=500, epochs=1, hidden=(8,), logreg_c=(1.0,)), ("sst2",), None, True),
    "xor": (dict(restarts=1, epochs=20), (), None, True),
}
QUIET = dict(progress=False, tensorboard=False, plots=False, device="cpu")
# every recipe runs with every `make test` (all 42 together take about 90 s on the idle 2-core machine)


def _check_transfer(r: dict, out: Path) -> None:
    assert Path(r["weights_file"]).parent == out and Path(r["weights_file"]).exists()
    for key in ("source_acc_classes_0_4", "acc_scratch", "acc_linear_probe", "acc_fine_tune"):
        assert 0.0 <= r[key] <= 1.0


def _check_ensembles(r: dict, out: Path) -> None:
    assert r["n_snapshots"] == 2 and 0.0 <= r["snapshot"] <= 1.0 and r["iris"]["random_forest"] > 0.9
    assert r["snapshot_last_k"] == {2: r["snapshot"]} and 0.0 <= r["single_same_budget"] <= 1.0


def _check_translation(r: dict, out: Path) -> None:
    assert len(r["examples"]) == 5 and r["test2016_bleu_greedy"] >= 0.0 and (out / "alignment.png").is_file()


def _check_ch07(r: dict, out: Path) -> None:
    """Chapter 7: an attention model and its baseline, their difference, and attention pictures."""
    assert {"attention", "baseline", "difference"} <= set(r) and r["difference"]
    for key, value in r["difference"].items():
        assert value == pytest.approx(r["attention"][key] - r["baseline"][key], abs=1e-5)
    assert (out / "attention").is_dir() and (out / "baseline").is_dir()
    pictures = list((out / "pictures").glob("*")) if (out / "pictures").is_dir() else list(out.rglob("alignment.png"))
    assert pictures and all(p.stat().st_size > 0 for p in pictures)


# what a recipe's result must say beyond "it ran" (folded in from the per-chapter smoke tests)
CHECKS = {
    "ch11-fedavg": lambda r, out: len(r["curves"]["iid"]) == 1 and r["rows"][1]["classes_per_client_mean"] < 10,
    "ch04-superres": lambda r, out: 20.0 < r["psnr_bicubic"] < 40.0 and r["psnr_srcnn"] > 0.0,
    "ch04-transfer": _check_transfer,
    "ch04-ensembles": _check_ensembles,
    "ch04-metric": lambda r, out: 0.0 <= r["test_recall_at_1"] <= 1.0,
    "ch05-sst2": lambda r, out: 0.0 <= r["test_acc"] <= 1.0 and r["best_epoch"] == 1,
    "ch05-translation": _check_translation,
    **{name: (lambda r, out: 0.0 <= r["test_acc"] <= 1.0 and r["parameters"] > 0) for name in (
        "ch06-cifar10-vit", "ch06-cifar10-swin")},
    "ch06-cifar10-deit": lambda r, out: 0.0 <= r["teacher_test_acc"] <= 1.0 and r["teacher_run"] == str(out / "teacher"),
    "ch06-summarise": lambda r, out: r["pretrain"] == "t5" and r["pretrain_steps_done"] == 2 and all(
        0.0 <= r[k] <= 100.0 for k in ("rouge1_fmeasure", "rouge2_fmeasure", "rougeL_fmeasure")),
    "ch06-domain-adapt": lambda r, out: set(r) >= {"none", "adapt", "adapt_target_mlm_loss"} and all(
        0.0 <= r[a]["rouge1_fmeasure"] <= 100.0 for a in ("none", "adapt")),
    "ch06-long-lm": lambda r, out: r["attentions"]["full"]["speedup_vs_full_at_64"] == 1.0 and all(
        row["val_loss"] > 0 for row in r["attentions"].values()),
    **{name: (lambda r, out: _check_ch07(r, out)) for name in (
        "ch07-attention-cnn", "ch07-cbam-resnet20", "ch07-han", "ch07-vqa", "ch07-captioning", "ch07-video",
        "ch07-audio", "ch07-translation")},
    "ch10-gan": lambda r, out: r["fid_our_classifier"] > r["real_floor_fid"] >= 0 and 0 <= r["precision"] <= 1
    and (out / "samples" / "samples.png").is_file(),
    "ch10-vae": lambda r, out: r["test_nll_iwae"] <= r["iwae_nll"]["1"] + 1.0 and all(
        (out / "samples" / f"{p}.png").is_file() for p in ("samples", "traversals", "interpolations")),
    "ch10-anomaly": lambda r, out: 0.0 <= r["roc_auc"] <= 1.0,
    "ch10-cyclegan": lambda r, out: 0.0 <= r["acc_on_digits_translated"] <= 1.0 and r["fid_digits_raw_vs_mnist"] > 0
    and (out / "samples" / "a_to_mnist.png").is_file(),
    "ch10-pixelcnn-colour": lambda r, out: 4.0 < r["test_bits_per_dim"] < 9.0,
    "ch10-srgan": lambda r, out: 15.0 < r["psnr_bicubic"] < 40.0 and 0.0 < r["ssim_srgan"] <= 1.0
    and r["srgan_steps"] > 0 and 0.0 <= r["feature_classifier_acc"] <= 1.0 and (out / "classifier").is_dir(),
    "ch09-clustering": lambda r, out: r["scores"]["kmeans"]["ari"] > 0.3 and r["scores"]["ward"]["clusters"] == 10,
    "ch09-ssl": lambda r, out: 0.0 <= r["knn_acc"] <= 1.0 and r["throughput"]["ratio"] > 0,
    "ch09-anomaly": lambda r, out: r["auroc_mean"]["pca"] > 0.9 and 0.0 <= r["auroc_mean"]["ae_recon"] <= 1.0,
}


def _settings(name: str, tmp_path: Path) -> dict:
    settings = {**QUIET, **SMOKE[name][0], "out_dir": str(tmp_path / "run")}
    if name == "ch04-style-transfer":  # a tiny local VGG-19 file instead of one trained on CIFAR-10
        pytest.importorskip("skimage", reason="the default pictures come with scikit-image")
        from tensorprism.models import create_model
        from tensorprism.vision.style_transfer import export_vgg19

        vgg = create_model("vgg19_bn", widths=(4, 8, 8, 8, 8), hidden=(), pool_size=1).eval()
        settings["weights"] = str(export_vgg19(vgg, tmp_path / "vgg.safetensors"))
    return settings


def test_every_recipe_has_smoke_settings():
    assert sorted(SMOKE) == sorted(list_recipes())


@pytest.mark.data
@pytest.mark.parametrize("name", sorted(SMOKE))
def test_recipe_runs_at_smoke_size_and_writes_its_run(name, tmp_path, capsys):
    _, datasets, eval_dir, trains = SMOKE[name]
    require_datasets(*datasets)
    settings = _settings(name, tmp_path)
    result = run_recipe(name, **settings)
    out = Path(settings["out_dir"])
    saved = json.loads((out / "result.json").read_text())
    assert isinstance(result, dict) and result
    assert set(saved) == {"result", "config"} and saved["config"]["out_dir"] == str(out)
    assert json.loads(json.dumps(result, default=str)).keys() == saved["result"].keys()
    if name in CHECKS:
        assert CHECKS[name](result, out) is not False
    if trains:  # every trained model leaves its run: config, metrics and a checkpoint
        configs = list(out.rglob("config.yaml"))
        assert configs and all((c.parent / "metrics.jsonl").is_file() for c in configs)
        assert list(out.rglob("checkpoints/last.safetensors"))
    if eval_dir is not None:
        from tensorprism.cli import main

        capsys.readouterr()
        assert main(["eval", str(out / eval_dir), "--device", "cpu", "--json"]) == 0
        metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert any(k.startswith("test/") for k in metrics)


@pytest.mark.data
def test_recipe_eval_reproduces_the_recipes_test_accuracy(tmp_path, capsys):
    """`prism eval` on a recipe run sees the inputs the recipe trained on: same test accuracy."""
    require_datasets("mnist")
    out = tmp_path / "run"
    r = run_recipe("ch04-mnist-lenet5", max_train_samples=256, epochs=1, out_dir=str(out), **QUIET)
    from tensorprism.cli import main

    capsys.readouterr()
    assert main(["eval", str(out), "--device", "cpu", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metrics["test/acc"] == pytest.approx(r["test_acc"], abs=1e-6)


@pytest.mark.data
def test_prism_generate_continues_a_prompt_from_a_recipe_run(tmp_path, capsys):
    require_datasets("tinyshakespeare")
    out = tmp_path / "run"
    run_recipe("ch06-char-gpt", **{**QUIET, **SMOKE["ch06-char-gpt"][0], "out_dir": str(out)})
    from tensorprism.cli import main

    capsys.readouterr()
    assert main(["generate", str(out), "-p", "ROMEO:", "-n", "7", "--greedy"]) == 0
    assert "ROMEO:" in capsys.readouterr().out


def test_a_run_without_out_dir_gets_a_fresh_timestamped_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = run_recipe("xor", restarts=1, epochs=2, **QUIET)
    second = run_recipe("xor", restarts=1, epochs=2, **QUIET)
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert len(runs) == 2 and all(r.startswith("xor-") for r in runs)  # never the same folder twice
    assert first["restarts"] == second["restarts"] == 1


def test_a_recipe_refuses_an_existing_run_unless_told_to_overwrite(tmp_path):
    from tensorprism.errors import TensorPrismError

    run_recipe("xor", restarts=1, epochs=2, out_dir=str(tmp_path), **QUIET)
    with pytest.raises(TensorPrismError, match="overwrite"):
        run_recipe("xor", restarts=1, epochs=2, out_dir=str(tmp_path), **QUIET)
    assert run_recipe("xor", restarts=1, epochs=2, out_dir=str(tmp_path), overwrite=True, **QUIET)["restarts"] == 1


def test_kit_trainer_shows_progress_and_writes_tensorboard_and_plots_by_default(tmp_path):
    from tensorprism.models import create_model
    from tensorprism.recipes.kit import RecipeConfig, make_trainer

    cfg = RecipeConfig(out_dir=str(tmp_path))
    model = create_model("mlp-xor")
    trainer = make_trainer(cfg, model, "classification", dataset={"name": "digits"}, epochs=1)
    assert (trainer.config.progress, trainer.config.tensorboard, trainer.config.plots) == ("auto", True, True)
    assert trainer.run_info["task"] == {"name": "classification", "config": {}}
    assert trainer.run_info["dataset"]["name"] == "digits" and trainer.run_info["dataset"]["root"]


def test_prism_run_help_lists_a_recipes_settings_with_types_and_defaults(capsys):
    from tensorprism.cli import main

    assert main(["run", "ch05-ucr", "--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: prism run ch05-ucr" in out
    rows = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "int" in rows["epochs"] and "150" in rows["epochs"]
    assert "UCR archive" in rows["dataset"]  # from the config's docstring Attributes
    assert "tensorboard" in rows and "true" in rows["tensorboard"]
    assert main(["run"]) == 0 and "ch05-ucr" in capsys.readouterr().out


def test_data_root_ignores_an_empty_environment_variable(monkeypatch, tmp_path):
    from tensorprism.data import data_root
    from tensorprism.testing import SHARED_DATA, shared_data

    for empty in ("", "  "):
        monkeypatch.setenv("TENSORPRISM_DATA", empty)
        assert data_root() == Path.home() / ".cache" / "tensorprism" / "data"
        assert shared_data() == SHARED_DATA.resolve()
    assert data_root("") == Path.home() / ".cache" / "tensorprism" / "data"
    monkeypatch.setenv("TENSORPRISM_DATA", str(tmp_path))
    assert data_root() == tmp_path and data_root(tmp_path / "x") == tmp_path / "x"


def test_recipes_do_not_import_the_test_helpers():
    import tensorprism.recipes as recipes

    folder = Path(recipes.__file__).parent
    offenders = [p.name for p in folder.glob("*.py") if "testing" in p.read_text()]
    assert offenders == [], f"recipes must resolve data with tensorprism.data.data_root: {offenders}"
