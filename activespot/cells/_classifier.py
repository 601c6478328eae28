"""The cell classifier HALS puts on a frozen backbone: two 32-unit layers and one output per class.

It is retrained from scratch on every label each time a few new labels arrive, so it must train
in a fraction of a second on a CPU: scikit-learn's multilayer perceptron with L-BFGS converges on
a few hundred cells in tens of milliseconds, where minibatch SGD would need hundreds of steps.
Features are standardised inside the model; the penultimate activations are what the Coreset
selector spreads its picks over.
"""

from __future__ import annotations

import warnings

import numpy as np

from .._numeric import available_cores, column_scale

__all__ = ["CellClassifier", "training_threads"]

# Multiply-adds of one pass through the first layer above which BLAS threads pay for themselves.
PARALLEL_WORK = 10**9


def training_threads(n_labels: int, n_features: int, *, hidden: int = 32) -> int:
    """BLAS threads for training on ``n_labels`` x ``n_features``: one for small problems, else every core.

    A pass through the first layer is ``n_labels x n_features x hidden`` multiply-adds. Below
    :data:`PARALLEL_WORK` (10⁹: e.g. 20 000 labels of a 1536-dim backbone) each matrix product
    takes microseconds to milliseconds, and splitting it over threads costs more than it saves: on
    a 2-core machine two threads made L-BFGS training slower at every size measured — a live cell
    round on CoNSeP train_6 (510 cells, 300 labels) 1.1-1.4 s against 0.22-0.25 s with one thread,
    10 000 labels x 73 descriptor columns 4.1 s against 1.4 s, 10 000 x 1024 features 3.3 s
    against 2.2 s. Large backbone embeddings on a workstation or server are
    what threads are for, so there the machine's cores are used.
    """
    if n_labels * n_features * hidden < PARALLEL_WORK:
        return 1
    return available_cores()


class CellClassifier:
    """Small MLP over cell features (estimator contract: ``fit`` returns self, learned attributes end in ``_``).

    Parameters
    ----------
    hidden
        Width of each hidden layer (HALS: 32).
    n_layers
        Number of hidden layers (HALS: 2).
    alpha
        L2 penalty; a few hundred labels overfit a 32-unit network without it.
    max_iter
        L-BFGS iterations.
    random_state
        Seed of the initial weights.
    n_threads
        BLAS threads while training; ``None`` picks them by :func:`training_threads`.
    """

    def __init__(
        self,
        hidden: int = 32,
        *,
        n_layers: int = 2,
        alpha: float = 1.0,
        max_iter: int = 200,
        random_state: int = 0,
        n_threads: int | None = None,
    ):
        self.hidden = hidden
        self.n_layers = n_layers
        self.alpha = alpha
        self.max_iter = max_iter
        self.random_state = random_state
        self.n_threads = n_threads

    def fit(self, features: np.ndarray, labels: np.ndarray) -> CellClassifier:
        """Train on ``features`` (n, d) and string or integer ``labels`` (n,); at least two classes.

        Raises
        ------
        ValueError
            Shapes disagree, a value is not finite, or fewer than two classes are present.
        """
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier
        from threadpoolctl import threadpool_limits

        features = np.asarray(features, dtype=np.float64)
        labels = np.asarray(labels)
        if features.ndim != 2 or features.shape[0] != labels.shape[0]:
            msg = f"`features` must be 2-D with one row per label; got {features.shape} and {labels.shape[0]} labels."
            raise ValueError(msg)
        if not np.isfinite(features).all():
            msg = "`features` contains NaN or infinite values; recompute the cell features."
            raise ValueError(msg)
        if np.unique(labels).size < 2:
            msg = f"at least two classes are needed to train; got {np.unique(labels).tolist()}."
            raise ValueError(msg)
        self.mean_, self.scale_ = column_scale(features)
        self.mlp_ = MLPClassifier(
            hidden_layer_sizes=(self.hidden,) * self.n_layers,
            solver="lbfgs",
            alpha=self.alpha,
            max_iter=self.max_iter,
            random_state=self.random_state,
        )
        threads = self.n_threads or training_threads(*features.shape, hidden=self.hidden)
        with warnings.catch_warnings(), threadpool_limits(threads):
            # Stopping at max_iter is the intended budget, not a failure worth a warning per retrain.
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.mlp_.fit(self._scaled(features), labels)
        self.classes_ = self.mlp_.classes_
        return self

    def _scaled(self, features: np.ndarray) -> np.ndarray:
        return (np.asarray(features, dtype=np.float64) - self.mean_) / self.scale_

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities (n, K), columns in the order of ``classes_``."""
        probs = self.mlp_.predict_proba(self._scaled(features))
        if probs.shape[1] == 1:  # scikit-learn returns one column for two classes only in binary mode
            probs = np.column_stack([1 - probs[:, 0], probs[:, 0]])
        return probs

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Most probable class of each row."""
        return self.classes_[np.argmax(self.predict_proba(features), axis=1)]

    def embed(self, features: np.ndarray) -> np.ndarray:
        """Penultimate activations (n, ``hidden``): the space Coreset covers."""
        activation = self._scaled(features)
        for weights, bias in zip(self.mlp_.coefs_[:-1], self.mlp_.intercepts_[:-1], strict=True):
            activation = np.maximum(activation @ weights + bias, 0.0)
        return activation
