"""Query strategies: pure functions from model outputs to the spots to ask about next."""

from ._strategies import (
    DEFAULT_STRATEGY,
    STRATEGIES,
    coreset,
    entropy,
    entropy_score,
    get_strategy,
    initial_kmeans,
    least_confidence_kmeans,
    least_confidence_score,
    margin,
    margin_score,
    random,
)

__all__ = [
    "DEFAULT_STRATEGY",
    "STRATEGIES",
    "coreset",
    "entropy",
    "entropy_score",
    "get_strategy",
    "initial_kmeans",
    "least_confidence_kmeans",
    "least_confidence_score",
    "margin",
    "margin_score",
    "random",
]
