"""Chapter 9 case studies: clustering and embeddings of digits, self-supervised pre-training with
kNN / linear-probe evaluation (case study 9.7.1), and anomaly detection (§9.5.3, case study 9.7.3).

* ``ch09-clustering`` -- k-means, GMM, Ward/single linkage, spectral and DBSCAN on scikit-learn's
  real 8x8 digits, scored against the labels (ARI, NMI); PCA variance; t-SNE picture; dendrogram.
* ``ch09-ssl`` -- ``method`` in simclr, moco, byol, swav, rotation, or ``supervised`` (the same
  encoder trained on labels, for the same budget); then weighted kNN (k=200, cosine, T=0.1) and a
  linear probe on frozen eval-mode features, beside a randomly initialised encoder; optionally the
  SSL-step / supervised-step time ratio and a t-SNE picture of the features.
* ``ch09-anomaly`` -- one-class-vs-rest AUROC per class on MNIST / Fashion-MNIST (PCA
  reconstruction, pixel kNN, and SSL-feature kNN from a ``ch09-ssl`` run), and on the MIT-BIH ECG
  excerpt shipped with sktime (windows; PCA and kNN).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..config import setting
from . import register_recipe
from .kit import RecipeConfig, apply_threads, make_trainer, run_dir, save_result


# ----------------------------------------------------------------------------------------- clustering
@dataclass
class ClusteringConfig(RecipeConfig):
    """Attributes:
        n_samples: digits used (of 1,797). perplexity: t-SNE perplexity. tsne_iter: t-SNE steps.
    """

    n_samples: int = setting(1797, min=20, max=1797)
    perplexity: float = setting(30.0, gt=0)
    tsne_iter: int = setting(1000, min=250)


@register_recipe("ch09-clustering", config=ClusteringConfig)
def clustering(cfg: ClusteringConfig) -> dict:
    """Book §9.2 on real data: every clustering method of the chapter on the 8x8 digits (10 classes),
    scored by agreement with the digit labels; PCA's explained variance; t-SNE and dendrogram plots."""
    from sklearn.datasets import load_digits
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    from ..unsupervised import (
        DBSCAN,
        PCA,
        TSNE,
        AgglomerativeClustering,
        GaussianMixture,
        KMeans,
        SpectralClustering,
    )
    from ..viz.clustering import plot_dendrogram
    from ..viz.embeddings import plot_embedding

    apply_threads(cfg)
    d = load_digits()
    x, y = d.data[: cfg.n_samples], d.target[: cfg.n_samples]
    k = min(10, len(np.unique(y)))
    pca = PCA(0.9).fit(x)
    x30 = PCA(min(30, x.shape[0] - 1)).fit_transform(x)
    methods = {
        "kmeans": KMeans(k, n_init=10, random_state=cfg.seed),
        "gmm_diag": GaussianMixture(k, covariance_type="diag", random_state=cfg.seed, n_init=3),
        "ward": AgglomerativeClustering(k, linkage="ward"),
        "single": AgglomerativeClustering(k, linkage="single"),
        "spectral": SpectralClustering(k, gamma=1e-3, random_state=cfg.seed),
        "dbscan": DBSCAN(eps=16.0, min_samples=5),
    }
    scores: dict[str, Any] = {}
    for name, est in methods.items():
        data = x30 if name in ("gmm_diag", "dbscan") else x
        labels = est.fit(data).labels_
        scores[name] = {"ari": float(adjusted_rand_score(y, labels)), "nmi": float(normalized_mutual_info_score(y, labels)),
                        "clusters": int(len(set(labels.tolist()) - {-1}))}
    scores["kmeans"]["inertia"] = float(methods["kmeans"].inertia_)
    tsne = TSNE(perplexity=min(cfg.perplexity, (len(x) - 1) / 3), max_iter=cfg.tsne_iter, random_state=cfg.seed)
    emb = tsne.fit_transform(x30)
    out = run_dir(cfg)
    if out is not None and cfg.plots:
        import matplotlib.pyplot as plt

        (out / "plots").mkdir(parents=True, exist_ok=True)
        plot_embedding(emb, y, title=f"t-SNE of digits (KL {tsne.kl_divergence_:.3f})").savefig(out / "plots" / "tsne.png")
        plot_dendrogram(methods["ward"].linkage_matrix_, n_clusters=k, truncate_mode="lastp", p=30,
                        title="Ward linkage of digits").savefig(out / "plots" / "dendrogram.png")
        plt.close("all")
    return save_result(cfg, {"n_samples": len(x), "scores": scores, "pca_components_90pct": pca.n_components_,
                             "tsne_kl": tsne.kl_divergence_})


# ----------------------------------------------------------------------------------------- SSL
@dataclass
class SSLConfig(RecipeConfig):
    """Attributes:
        method: simclr, moco, byol, swav, rotation, deepcluster (``num_prototypes`` clusters, refreshed
            every epoch), mae (needs a ViT ``encoder`` such as vit-cifar; the masked-image task), or
            supervised (the baseline with labels).
        dataset: cifar10, mnist or fashion-mnist.
        encoder: a registered image model (classifier removed); resnet18-cifar by default.
        encoder_kwargs: its settings (e.g. ``{"layers": [1, 1, 1, 1]}`` for a smaller one).
        epochs, batch_size, lr, weight_decay: pre-training (time_budget_s caps it and the rate is then
            annealed over the budget). momentum: SGD's momentum (lightly's benchmarks: 0.9).
        max_train_samples: pre-training images (random subset; None: all).
        eval_train_samples, eval_test_samples: images for the kNN bank / probe and for evaluation.
        knn_k, knn_temperature: the weighted kNN (200, 0.1).
        probe_epochs: linear-probe epochs on cached features.
        proj_dim, proj_hidden, queue_size, num_prototypes, temperature: method settings.
        baseline_random: also evaluate a randomly initialised encoder.
        throughput_steps: >0: time that many SSL and supervised steps side by side and report the ratio.
        tsne_points: >0: a t-SNE picture of that many test features.
    """

    method: str = setting("simclr", choices=("simclr", "moco", "byol", "swav", "rotation", "deepcluster", "mae",
                                             "supervised"))
    dataset: str = setting("cifar10", choices=("cifar10", "mnist", "fashion-mnist"))
    encoder: str = "resnet18-cifar"
    encoder_kwargs: dict = field(default_factory=dict)
    epochs: int = setting(200, min=1)
    batch_size: int = setting(256, min=2)
    lr: float = setting(6e-2, gt=0)
    weight_decay: float = setting(5e-4, min=0)
    optimizer: str = "sgd"
    momentum: float = setting(0.9, min=0, max=1)
    max_train_samples: int | None = setting(None, min=2)
    eval_train_samples: int | None = setting(None, min=1)
    eval_test_samples: int | None = setting(None, min=1)
    knn_k: int = setting(200, min=1)
    knn_temperature: float = setting(0.1, gt=0)
    probe_epochs: int = setting(100, min=1)
    proj_dim: int = setting(128, min=1)
    proj_hidden: int = setting(512, min=1)
    queue_size: int = setting(4096, min=1)
    num_prototypes: int = setting(100, min=2)
    temperature: float | None = setting(None, gt=0)
    baseline_random: bool = True
    throughput_steps: int = setting(0, min=0)
    tsne_points: int = setting(0, min=0)


def _images(name: str, split: str, n: int | None, seed: int):
    from .ch04_classification import load_split

    return load_split(name, split, n, seed)  # [0, 1] images: the views are drawn before any normalisation


def _evaluate(encoder, train, test, cfg: SSLConfig, device) -> dict[str, float]:
    from ..unsupervised.evaluation import extract_features, knn_accuracy, linear_probe

    ftr, ytr = extract_features(encoder, train, device=device)
    fte, yte = extract_features(encoder, test, device=device)
    knn = knn_accuracy(ftr, ytr, fte, yte, k=cfg.knn_k, temperature=cfg.knn_temperature)
    probe = linear_probe(ftr, ytr, fte, yte, epochs=cfg.probe_epochs, seed=cfg.seed)
    return {"knn_acc": knn, "probe_acc": probe["test_acc"], "probe_train_acc": probe["train_acc"]}, (fte, yte)


def _encoder(cfg: SSLConfig, in_chans: int, **kw):
    from ..models import create_model

    return create_model(cfg.encoder, in_chans=in_chans, **{**cfg.encoder_kwargs, **kw})


def _throughput(cfg: SSLConfig, net, task, batch, device) -> dict[str, float]:
    """Seconds per optimiser step of the SSL task and of a supervised step of the same encoder and
    batch, measured alternately in one process (so machine load affects both alike)."""
    import torch.nn.functional as F

    from ..models.ssl import SSLNet

    x, y = batch[0].to(device), batch[1].to(device)
    sup = SSLNet(_encoder(cfg, x.shape[1]), proj_dim=0, head_classes=10).to(device)
    opt_s = torch.optim.SGD(net.parameters(), lr=1e-3)
    opt_c = torch.optim.SGD(sup.parameters(), lr=1e-3)

    class _T:  # the attributes the tasks read
        model, global_step, batches_per_epoch = net, 0, None

    task.trainer = _T()
    times = {"ssl": 0.0, "supervised": 0.0}
    for i in range(cfg.throughput_steps + 1):
        t0 = time.perf_counter()
        opt_s.zero_grad()
        task.training_step(net, (x, y))["loss"].backward()
        opt_s.step()
        if hasattr(task, "on_after_optimizer_step") and getattr(net, "target_encoder", None) is not None:
            task.on_after_optimizer_step(net, i)
        t1 = time.perf_counter()
        opt_c.zero_grad()
        F.cross_entropy(sup.head(sup.features(x)), y).backward()
        opt_c.step()
        t2 = time.perf_counter()
        if i:  # the first step of each warms up
            times["ssl"] += t1 - t0
            times["supervised"] += t2 - t1
    task.trainer = None
    n = cfg.throughput_steps
    return {"ssl_step_s": times["ssl"] / n, "supervised_step_s": times["supervised"] / n,
            "ratio": times["ssl"] / max(times["supervised"], 1e-12)}


@register_recipe("ch09-ssl", config=SSLConfig)
def ssl(cfg: SSLConfig) -> dict:
    """Case study 9.7.1 done right: self-supervised pre-training of ``encoder`` on unlabelled images,
    then the encoder frozen in eval mode and evaluated by weighted kNN and a linear probe, beside a
    random encoder; ``method=supervised`` trains the same encoder on the labels for comparison."""
    from ..data.augment import Normalize  # noqa: F401 - documented: views are drawn on [0, 1] images
    from ..models import create_model
    from ..models.ssl import METHOD_HEADS
    from ..train.budget_schedule import BudgetCosineLR
    from ..train.tasks import create_task
    from ..train.tasks.ssl import build_ssl_net

    apply_threads(cfg)
    torch.manual_seed(cfg.seed)
    train = _images(cfg.dataset, "train", cfg.max_train_samples, cfg.seed)
    bank = _images(cfg.dataset, "train", cfg.eval_train_samples, cfg.seed + 1)
    test = _images(cfg.dataset, "test", cfg.eval_test_samples, cfg.seed + 2)
    in_chans = train[0][0].shape[0]
    result: dict[str, Any] = {"method": cfg.method, "dataset": cfg.dataset, "encoder": cfg.encoder,
                              "pretrain_images": len(train), "bank_images": len(bank), "test_images": len(test)}
    task_kw = {"temperature": cfg.temperature} if cfg.temperature and cfg.method not in ("byol", "rotation", "mae") else {}
    heads = dict(proj_dim=cfg.proj_dim, proj_hidden=cfg.proj_hidden, queue_size=cfg.queue_size,
                 num_prototypes=cfg.num_prototypes)
    if cfg.method == "supervised":  # the encoder itself with a 10-class classifier
        model, task = _encoder(cfg, in_chans, num_classes=10), "classification"
    else:
        if cfg.method in METHOD_HEADS:  # registered: the run's checkpoint names it, `prism eval RUN` rebuilds it
            net = create_model("ssl-net", encoder=cfg.encoder, encoder_config={"in_chans": in_chans, **cfg.encoder_kwargs},
                               method=cfg.method, **heads)
        else:  # mae: the masked-image task's ViT variant
            net = build_ssl_net(cfg.method, _encoder(cfg, in_chans), **heads)
        if cfg.method == "deepcluster":
            from ..train.tasks.ssl import WithIndex
            from ..unsupervised.evaluation import cluster_assigner

            task = create_task("deepcluster", seed=cfg.seed, assign=cluster_assigner(train, cfg.num_prototypes),
                               recluster_every=max(1, len(train) // cfg.batch_size))
            model, train = net, WithIndex(train)
        else:
            model, task = net, create_task("masked-image" if cfg.method == "mae" else cfg.method, seed=cfg.seed,
                                           **task_kw)
    # a time-budgeted run anneals over its budget (a step cosine over `epochs` would stop near its peak)
    budget = [BudgetCosineLR(cfg.time_budget_s)] if cfg.time_budget_s else []
    trainer = make_trainer(cfg, model, task, train, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                           optimizer=cfg.optimizer, weight_decay=cfg.weight_decay,
                           optimizer_kwargs={"momentum": cfg.momentum} if cfg.optimizer == "sgd" else {},
                           scheduler=None if budget else "cosine", callbacks=budget, sub="pretrain", drop_last=True,
                           # recorded so that `prism eval RUN/pretrain` sees the [0, 1] images trained on
                           dataset={"name": cfg.dataset, "config": {"normalize": False}}, task_config=task_kw)
    t0 = time.perf_counter()
    trainer.fit()
    result["pretrain_seconds"] = time.perf_counter() - t0
    result["pretrain_steps"] = trainer.global_step
    result["pretrain_epochs_done"] = trainer.global_step / max(1, len(train) // cfg.batch_size)
    if cfg.method == "supervised":  # its features: the trained encoder without its classifier
        encoder = copy.deepcopy(model)
        encoder.reset_classifier(0)
    else:
        encoder = net.encoder
    device = next(model.parameters()).device
    scores, (fte, yte) = _evaluate(encoder, bank, test, cfg, device)
    result.update(scores)
    if cfg.baseline_random:
        torch.manual_seed(cfg.seed)
        rnd = _encoder(cfg, in_chans)
        rnd.reset_classifier(0)
        result["random_encoder"] = _evaluate(rnd.to(device), bank, test, cfg, device)[0]
    if cfg.throughput_steps and cfg.method != "supervised":
        loader = torch.utils.data.DataLoader(train, batch_size=cfg.batch_size, shuffle=True)
        tnet = build_ssl_net(cfg.method, _encoder(cfg, in_chans), proj_dim=cfg.proj_dim, proj_hidden=cfg.proj_hidden,
                             queue_size=cfg.queue_size, num_prototypes=cfg.num_prototypes).to(device)
        tname = "masked-image" if cfg.method == "mae" else cfg.method
        result["throughput"] = _throughput(cfg, tnet, create_task(tname, seed=cfg.seed, **task_kw),
                                           next(iter(loader)), device)
    out = run_dir(cfg)
    if out is not None and cfg.plots and cfg.tsne_points:
        import matplotlib.pyplot as plt

        from ..unsupervised import TSNE
        from ..viz.embeddings import plot_embedding

        n = min(cfg.tsne_points, len(fte))
        emb = TSNE(perplexity=min(30.0, (n - 1) / 3), random_state=cfg.seed).fit_transform(fte[:n].double())
        (out / "plots").mkdir(parents=True, exist_ok=True)
        plot_embedding(emb, yte[:n], title=f"{cfg.method} features, t-SNE").savefig(out / "plots" / "features_tsne.png")
        plt.close("all")
    return save_result(cfg, result)


# ----------------------------------------------------------------------------------------- anomaly
@dataclass
class AnomalyConfig(RecipeConfig):
    """Attributes:
        dataset: mnist or fashion-mnist.
        classes: normal classes to evaluate (each against the rest).
        max_train_per_class: normal training images per class. max_test: test images (all classes).
        pca_variance: variance the PCA baseline keeps. knn_k: neighbours of the kNN scores.
        ssl_method: an SSL method (simclr, byol...) whose encoder, pre-trained here on the unlabelled
            training images of all classes, gives features for a kNN score (None: skipped).
        ssl_epochs, ssl_max_train: its pre-training (``time_budget_s`` caps it); ssl_encoder_kwargs:
            settings of its resnet20-cifar encoder.
        ae_epochs: >0: per class, an autoencoder (``ae_model``, e.g. ae-mlp-deep 784-256-128-32) trained
            that many epochs on the class's normal images; its reconstruction error is the score.
        ecg: also run the MIT-BIH ECG excerpt (needs sktime). ecg_window, ecg_stride: its windows.
    """

    dataset: str = setting("mnist", choices=("mnist", "fashion-mnist"))
    classes: list = field(default_factory=lambda: list(range(10)))
    max_train_per_class: int = setting(2000, min=2)
    max_test: int | None = setting(None, min=10)
    pca_variance: float = setting(0.9, gt=0, max=1)
    knn_k: int = setting(5, min=1)
    ssl_method: str | None = setting(None, choices=(None, "simclr", "moco", "byol", "swav", "rotation"))
    ssl_epochs: int = setting(5, min=1)
    ssl_max_train: int = setting(10000, min=16)
    ssl_encoder_kwargs: dict = field(default_factory=lambda: {"layers": (1, 1, 1)})
    ae_epochs: int = setting(0, min=0)
    ae_model: str = "ae-mlp-deep"
    ecg: bool = True
    ecg_window: int = setting(64, min=4)
    ecg_stride: int = setting(8, min=1)


def _ecg(cfg: AnomalyConfig) -> dict[str, Any]:
    """MIT-BIH excerpt (7,500 samples, one labelled anomalous stretch): windows of the first 5,000
    samples (all normal) fit the models; every later window is scored, label = contains an anomaly."""
    import os

    from ..optional import require
    from ..unsupervised.anomaly import knn_scores, pca_scores

    sktime = require("sktime", feature="the MIT-BIH ECG excerpt")
    pd = require("pandas", feature="the MIT-BIH ECG excerpt")  # comes with sktime
    d = pd.read_csv(os.path.join(os.path.dirname(sktime.__file__), "datasets", "data", "mitdb", "mitdb.csv"))
    x, lab = d["data"].to_numpy(np.float64), d["label"].to_numpy()
    w, s = cfg.ecg_window, cfg.ecg_stride
    starts = np.arange(0, len(x) - w + 1, s)
    win = np.stack([x[i:i + w] for i in starts])
    anom = np.array([lab[i:i + w].any() for i in starts])
    fit, score = starts + w <= 5000, starts >= 5000
    from sklearn.metrics import roc_auc_score

    pca = pca_scores(win[fit], win[score], cfg.pca_variance)
    knn = knn_scores(torch.tensor(win[fit] - win[fit].mean(1, keepdims=True)),
                     torch.tensor(win[score] - win[score].mean(1, keepdims=True)), cfg.knn_k).numpy()
    return {"windows_scored": int(score.sum()), "anomalous_windows": int(anom[score].sum()),
            "auroc_pca": float(roc_auc_score(anom[score], pca)), "auroc_knn": float(roc_auc_score(anom[score], knn))}


@register_recipe("ch09-anomaly", config=AnomalyConfig)
def anomaly(cfg: AnomalyConfig) -> dict:
    """One-class anomaly detection (book §9.5.3): for each class c, models of class c's training
    images score the test set; AUROC of "not c" vs c. PCA reconstruction error is the classical
    baseline; kNN cosine distance on pixels and, with ``ssl_method``, on self-supervised features;
    with ``ae_epochs``, an autoencoder's reconstruction error."""
    from ..data import load_dataset
    from ..unsupervised.anomaly import knn_scores, one_class_auroc, pca_scores

    apply_threads(cfg)
    tr, te = load_dataset(cfg.dataset, split="train", normalize=False), load_dataset(cfg.dataset, split="test", normalize=False)
    xtr, ytr = tr.tensors()
    xte_all, yte_all = te.tensors()
    g = torch.Generator().manual_seed(cfg.seed)
    test_idx = torch.randperm(len(te), generator=g)[: cfg.max_test or len(te)]
    xte, yte = xte_all[test_idx], yte_all[test_idx].numpy()
    encoder = None
    if cfg.ssl_method:
        from torch.utils.data import TensorDataset

        from ..models import create_model
        from ..train.tasks import create_task
        from ..train.tasks.ssl import build_ssl_net

        torch.manual_seed(cfg.seed)
        sub = torch.randperm(len(xtr), generator=g)[: cfg.ssl_max_train]
        net = build_ssl_net(cfg.ssl_method, create_model("resnet20-cifar", in_chans=xtr.shape[1], **cfg.ssl_encoder_kwargs),
                            proj_dim=64, proj_hidden=256, queue_size=1024, num_prototypes=30)
        make_trainer(cfg, net, create_task(cfg.ssl_method, seed=cfg.seed), TensorDataset(xtr[sub]), sub="ssl",
                     epochs=cfg.ssl_epochs, batch_size=min(128, len(sub)), lr=1e-3, optimizer="adam", drop_last=True).fit()
        encoder = net.encoder
    per_class: dict[str, dict[str, float]] = {}
    for c in cfg.classes:
        idx = (ytr == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=g)[: cfg.max_train_per_class]]
        normal = xtr[idx]
        row = {"pca": one_class_auroc(pca_scores(normal.flatten(1).double(), xte.flatten(1).double(), cfg.pca_variance),
                                      yte, c),
               "knn_pixels": one_class_auroc(knn_scores(normal.flatten(1), xte.flatten(1), cfg.knn_k), yte, c)}
        if encoder is not None:
            from ..unsupervised.evaluation import extract_features

            fn, _ = extract_features(encoder, normal)
            ft, _ = extract_features(encoder, xte)
            row["knn_ssl"] = one_class_auroc(knn_scores(fn, ft, cfg.knn_k), yte, c)
        if cfg.ae_epochs:
            from torch.utils.data import TensorDataset

            from ..models import create_model
            from ..unsupervised.anomaly import reconstruction_scores

            torch.manual_seed(cfg.seed + int(c))
            ae = create_model(cfg.ae_model, data_shape=tuple(normal.shape[1:]))
            make_trainer(cfg, ae, "autoencoder", TensorDataset(normal), sub=f"ae-{c}", epochs=cfg.ae_epochs,
                         batch_size=min(128, len(normal)), lr=1e-3, optimizer="adam").fit()
            row["ae_recon"] = one_class_auroc(reconstruction_scores(ae, xte), yte, c)
        per_class[str(c)] = row
    means = {k: float(np.mean([r[k] for r in per_class.values()])) for k in next(iter(per_class.values()))}
    result: dict[str, Any] = {"dataset": cfg.dataset, "test_images": len(xte), "auroc_per_class": per_class,
                              "auroc_mean": means}
    if cfg.ecg:
        result["ecg"] = _ecg(cfg)
    return save_result(cfg, result)
