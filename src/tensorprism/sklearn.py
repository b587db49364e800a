"""scikit-learn estimators around the Chapter 3 MLP (the book's §3.7.3 grid search, L4923–4976).

:class:`TensorPrismClassifier` and :class:`TensorPrismRegressor` follow the estimator contract
(hyper-parameters stored as given in ``__init__``, learned state with a trailing underscore,
``fit`` returns ``self``), so ``GridSearchCV``, ``RandomizedSearchCV``, ``cross_val_score`` and
``Pipeline`` work (``sklearn.utils.estimator_checks.check_estimator`` passes)::

    from sklearn.model_selection import GridSearchCV
    grid = GridSearchCV(TensorPrismClassifier(epochs=10),
                        {"hidden": [(128,), (256,)], "dropout": [0.3, 0.5], "lr": [1e-3, 1e-2]}, cv=3)

Training runs through :class:`tensorprism.train.Trainer`. ``batch_size=None`` trains full-batch
(the book's batch gradient descent), ``batch_size=1`` is online SGD. ``optimizer`` takes the
book's names (:func:`tensorprism.optim.make_optimizer`: ``"sgd"``, ``"momentum"``, ``"nesterov"``,
``"adam"``...). Training runs in float32 (the book's skorch listing had to cast by hand); predictions
in float64.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .errors import ConfigError
from .nn.mlp import MLP
from .optim import make_optimizer


class _MLPEstimator(BaseEstimator):
    _head = "multiclass"
    _task = "classification"

    def __init__(
        self,
        hidden=(100,),
        activation="relu",
        dropout=0.0,
        norm=None,
        optimizer="adam",
        lr=1e-3,
        weight_decay=0.0,
        batch_size=32,
        epochs=20,
        early_stopping=False,
        validation_fraction=0.1,
        patience=5,
        random_state=None,
        verbose=False,
    ):
        self.hidden = hidden
        self.activation = activation
        self.dropout = dropout
        self.norm = norm
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.epochs = epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state
        self.verbose = verbose

    def _fit_tensors(self, X: np.ndarray, y_t: torch.Tensor, n_out: int):
        from torch.utils.data import TensorDataset

        from .train import Trainer

        if str(self.optimizer).lower() == "lbfgs":
            raise ConfigError("L-BFGS needs a closure and full-batch steps; use make_optimizer('lbfgs') directly")
        hidden = (self.hidden,) if isinstance(self.hidden, (int, np.integer)) else tuple(self.hidden)
        seed = 0 if self.random_state is None else int(np.random.RandomState(self.random_state).randint(2**31 - 1))
        torch.manual_seed(seed)
        self.model_ = MLP(X.shape[1], hidden, n_out, activation=self.activation, dropout=self.dropout,
                          norm=self.norm, head=self._head)
        x_t = torch.as_tensor(X, dtype=torch.float32)
        n = len(x_t)
        val = None
        if self.early_stopping:
            perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
            n_val = max(1, int(round(self.validation_fraction * n)))
            val = TensorDataset(x_t[perm[:n_val]], y_t[perm[:n_val]])
            x_t, y_t = x_t[perm[n_val:]], y_t[perm[n_val:]]
        batch = len(x_t) if self.batch_size is None else min(int(self.batch_size), len(x_t))
        if self.norm == "batch" and batch < 2:
            raise ConfigError("norm='batch' needs batch_size >= 2")
        trainer = Trainer(
            self.model_, self._task, train_data=TensorDataset(x_t, y_t), val_data=val,
            optimizer=partial(make_optimizer, str(self.optimizer)), lr=self.lr, weight_decay=self.weight_decay,
            epochs=self.epochs, batch_size=batch, seed=seed, device="cpu", progress=bool(self.verbose),
            early_stopping_patience=self.patience if self.early_stopping else None,
            monitor="val/loss" if self.early_stopping else None, mode="min" if self.early_stopping else None,
            tensorboard=False, plots=False,
        )
        trainer.fit()
        # Predict in float64: float32 GEMMs round differently with the batch size (BLAS
        # blocking), and an estimator's predictions must not depend on which rows share a call.
        self.model_.double().eval()
        self.n_iter_ = trainer.epoch
        return self

    def _logits(self, X) -> torch.Tensor:
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        with torch.no_grad():
            return torch.cat([self.model_(torch.from_numpy(c)) for c in np.array_split(X, max(1, len(X) // 4096 + 1))])


class TensorPrismClassifier(ClassifierMixin, _MLPEstimator):
    """MLP classifier: softmax head over ``classes_`` (two classes included), cross-entropy on logits."""

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float32)
        check_classification_targets(y)
        self.label_encoder_ = LabelEncoder().fit(y)
        self.classes_ = self.label_encoder_.classes_
        y_t = torch.as_tensor(self.label_encoder_.transform(y), dtype=torch.long)
        return self._fit_tensors(X, y_t, max(2, len(self.classes_)))

    def predict_proba(self, X) -> np.ndarray:
        proba = torch.softmax(self._logits(X), dim=-1)
        return proba[:, : len(self.classes_)].numpy().astype(np.float64)

    def predict(self, X) -> np.ndarray:
        logits = self._logits(X)
        return self.classes_[logits[:, : len(self.classes_)].argmax(-1).numpy()]


class TensorPrismRegressor(RegressorMixin, _MLPEstimator):
    """MLP regressor: linear head, mean-squared error. ``y`` may be ``(n,)`` or ``(n, d)``."""

    _head = "regression"
    _task = "regression"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float32, multi_output=True, y_numeric=True)
        y_t = torch.as_tensor(np.asarray(y, dtype=np.float32))
        self.n_outputs_ = 1 if y_t.dim() == 1 else y_t.shape[1]
        self._squeeze = y_t.dim() == 1
        return self._fit_tensors(X, y_t, self.n_outputs_)

    def predict(self, X) -> np.ndarray:
        out = self._logits(X).numpy().astype(np.float64)
        return out[:, 0] if self._squeeze else out


__all__ = ["TensorPrismClassifier", "TensorPrismRegressor"]
