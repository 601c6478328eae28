"""The fused MLP classifier: feature blocks in, class probabilities and embeddings out."""

from ._classifier import FusedMLPClassifier, labelled_positions
from ._fusion import FusedMLP
from ._smoothing import smooth_probabilities

__all__ = ["FusedMLP", "FusedMLPClassifier", "labelled_positions", "smooth_probabilities"]
