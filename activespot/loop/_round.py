"""One round of the active-learning loop on arrays: train on the labels so far, predict all, choose the next batch.

Arrays only (feature blocks, a label per spot, a neighbour graph): the simulated annotator runs
this directly, and :mod:`activespot.project` wraps it for a project folder (journal, rounds, lock).
This module never imports :mod:`activespot.project`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import _constants as K
from .._numeric import standardise
from ..config import Config, ModelConfig
from ..model import FusedMLPClassifier, labelled_positions, smooth_probabilities
from ..select import get_strategy, initial_kmeans, least_confidence_kmeans

if TYPE_CHECKING:
    from anndata import AnnData
    from scipy import sparse

__all__ = [
    "RoundResult",
    "fit_predict_select",
    "initial_query",
    "make_classifier",
    "sample_blocks",
    "select_query",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoundResult:
    """What one round computes, as arrays aligned with the spots.

    Attributes
    ----------
    model
        The fitted classifier (its :meth:`~FusedMLPClassifier.to_bytes` is the checkpoint).
    probabilities
        ``(n_spots, K)`` class probabilities after spatial smoothing, columns ``model.classes_``.
    embeddings
        ``(n_spots, fusion)`` penultimate embeddings the query was chosen on.
    query
        Positions of the spots to ask next, in the strategy's order.
    seconds
        Wall time of training, prediction and selection.
    """

    model: FusedMLPClassifier
    probabilities: np.ndarray
    embeddings: np.ndarray
    query: np.ndarray
    seconds: float

    @property
    def predictions(self) -> np.ndarray:
        """Most probable class of every spot."""
        return self.model.classes_[self.probabilities.argmax(axis=1)]


def make_classifier(config: ModelConfig, *, seed: int | None = None) -> FusedMLPClassifier:
    """A classifier with the settings of a project's ``model`` section (``seed`` overrides its seed)."""
    return FusedMLPClassifier(
        hidden=config.hidden,
        fusion=config.fusion,
        dropout=config.dropout,
        epochs=config.epochs,
        learning_rate=config.learning_rate,
        batch_size=config.batch_size,
        weight_decay=config.weight_decay,
        validation_fraction=config.validation_fraction,
        validation_min_labels=config.validation_min_labels,
        warm_start=config.warm_start,
        random_state=config.seed if seed is None else seed,
        num_threads=config.num_threads,
        device=config.device,
    )


def fit_predict_select(
    model: FusedMLPClassifier,
    blocks: Mapping[str, np.ndarray],
    labels: np.ndarray,
    *,
    graph: sparse.spmatrix | None,
    config: Config,
    n: int,
    rng: np.random.Generator | int | None = None,
    exclude: np.ndarray | None = None,
) -> RoundResult:
    """One round: fit ``model`` on the labelled spots, predict all, choose ``n`` to ask next.

    Parameters
    ----------
    model
        Classifier to fit; when it is already fitted and ``warm_start`` is on, training continues
        from its weights (the previous round).
    blocks
        Feature blocks of every spot.
    labels
        One label per spot; ``None``/``NaN``/``""`` for unlabelled spots.
    graph
        Spot neighbour graph for smoothing the probabilities; ``None`` disables smoothing.
    config
        Uses ``model.smoothing_steps``, ``select.strategy`` and ``select.top_fraction``.
    n
        Batch size of the next query.
    rng
        Seed or generator of the query strategy.
    exclude
        Boolean mask of spots never to ask (besides the labelled ones), e.g. spots without ground
        truth in a simulation.

    Returns
    -------
    RoundResult
    """
    get_strategy(config.select.strategy)  # fail before training on a misspelt name
    start = time.perf_counter()
    model.fit(blocks, labels)
    probs, embeddings = model.predict_proba_and_embed(blocks)
    if graph is not None:
        probs = smooth_probabilities(probs, graph, steps=config.model.smoothing_steps)
    asked = np.zeros(probs.shape[0], dtype=bool)
    asked[labelled_positions(labels)] = True
    if exclude is not None:
        asked |= exclude
    query = np.array([], dtype=int)
    if (~asked).any():
        query = select_query(probs, embeddings, asked, n=n, config=config, rng=rng)
    seconds = time.perf_counter() - start
    return RoundResult(model, probs, embeddings, np.asarray(query, dtype=int), seconds)


def select_query(
    probs: np.ndarray,
    embeddings: np.ndarray,
    asked: np.ndarray,
    *,
    n: int,
    config: Config,
    rng: np.random.Generator | int | None,
) -> np.ndarray:
    """Run the configured strategy, passing ``top_fraction`` to the strategies that take it."""
    strategy = get_strategy(config.select.strategy)
    options = {"top_fraction": config.select.top_fraction} if strategy is least_confidence_kmeans else {}
    return strategy(probs, embeddings, asked, n, rng=rng, **options)


def initial_query(
    blocks: Mapping[str, np.ndarray],
    n: int,
    *,
    rng: np.random.Generator | int | None = None,
    exclude: np.ndarray | None = None,
) -> np.ndarray:
    """The first batch, before any label: k-means over the standardised, concatenated blocks.

    Each block is standardised and divided by the square root of its width so that every block
    weighs the same in the distances, as the model's equal-width projection heads do.
    """
    parts = [standardise(block, dtype=np.float32) / np.float32(np.sqrt(block.shape[1])) for block in blocks.values()]
    return initial_kmeans(np.hstack(parts), n, rng=rng, exclude=exclude)


def sample_blocks(
    adata: AnnData, config: Config, *, cache_dir: str | Path | None = None, progress: bool = True
) -> dict[str, np.ndarray]:
    """Feature blocks of a sample, computed if ``adata`` does not hold them, restricted to ``model.blocks``.

    Raises
    ------
    ValueError
        ``model.blocks`` names a block that was not computed (the message lists those that were).
    """
    from ..features import compute_features, feature_blocks

    if not any(key in adata.obsm for key in K.FEATURE_BLOCKS):
        compute_features(adata, config.features, cache_dir=cache_dir, progress=progress)
    blocks = feature_blocks(adata)
    wanted = config.model.blocks
    if wanted is None:
        return blocks
    missing = [name for name in wanted if name not in blocks]
    if missing:
        msg = f"model.blocks asks for {', '.join(missing)}, which were not computed; available: {', '.join(blocks)}."
        raise ValueError(msg)
    return {name: blocks[name] for name in wanted}
