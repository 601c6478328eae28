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

from .._numeric import column_scale

__all__ = ["CellClassifier"]


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
    """

    def __init__(
        self, hidden: int = 32, *, n_layers: int = 2, alpha: float = 1.0, max_iter: int = 200, random_state: int = 0
    ):
        self.hidden = hidden
        self.n_layers = n_layers
        self.alpha = alpha
        self.max_iter = max_iter
        self.random_state = random_state

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
        # One BLAS thread: the matrices are tiny, and extra threads only contend on a shared CPU.
        with warnings.catch_warnings(), threadpool_limits(1):
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
