"""One cell-suggestion step, shared by a project's cell rounds and the simulated annotator.

:func:`suggest_cells` trains the classifier on the labels so far and suggests a class for every
cell, with the labelled neighbours weighed in; :func:`next_region` spreads Coreset picks over the
classifier's penultimate features (the standardised cell features before the first model) and
returns the window holding most of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._numeric import standardise
from ..config import CellsConfig
from ._classifier import CellClassifier
from ._context import neighbour_evidence, with_neighbour_evidence
from ._guide import Region, choose_region, coreset_picks

__all__ = ["CellSuggestions", "cell_classifier", "next_region", "suggest_cells"]


@dataclass(frozen=True)
class CellSuggestions:
    """The classifier's suggestion for every cell.

    Attributes
    ----------
    model
        The fitted :class:`CellClassifier`.
    labels
        Suggested class of every cell (n,).
    confidence
        Probability of that class (n,), after the labelled neighbours' evidence.
    """

    model: CellClassifier
    labels: np.ndarray
    confidence: np.ndarray


def cell_classifier(config: CellsConfig, *, random_state: int) -> CellClassifier:
    """An unfitted :class:`CellClassifier` with the settings of ``config``."""
    return CellClassifier(
        config.hidden,
        n_layers=config.n_layers,
        alpha=config.alpha,
        max_iter=config.max_iter,
        random_state=random_state,
        n_threads=config.num_threads,
    )


def suggest_cells(
    features: np.ndarray,
    xy: np.ndarray,
    labelled: np.ndarray,
    *,
    labels: np.ndarray,
    config: CellsConfig,
    radius: float,
    random_state: int,
) -> CellSuggestions:
    """Train on the labelled cells and suggest a class for every cell.

    Parameters
    ----------
    features
        Cell features (n, d).
    xy
        Centroids (n, 2) in pixels.
    labelled
        Positions of the labelled cells, in the order they are trained on.
    labels
        Their classes (same order), at least two distinct.
    config
        Classifier settings.
    radius
        Labelled cells within this many pixels weigh in (see :func:`neighbour_evidence`); 0: none.
    random_state
        Seed of the classifier.
    """
    labelled = np.asarray(labelled, dtype=int)
    labels = np.asarray(labels).astype(str)
    model = cell_classifier(config, random_state=random_state).fit(features[labelled], labels)
    evidence = neighbour_evidence(xy, labelled, labels, classes=model.classes_, radius=radius)
    probs = with_neighbour_evidence(model.predict_proba(features), evidence)
    return CellSuggestions(model, model.classes_[probs.argmax(axis=1)], probs.max(axis=1))


def next_region(
    features: np.ndarray,
    xy: np.ndarray,
    labelled: np.ndarray,
    *,
    model: CellClassifier | None,
    config: CellsConfig,
    image_shape: tuple[int, int],
    rng: np.random.Generator,
    pool: np.ndarray | None = None,
) -> Region:
    """The ``config.region_px`` window holding most of the ``config.coreset_size`` Coreset picks.

    Parameters
    ----------
    features
        Cell features (n, d).
    xy
        Centroids (n, 2) in pixels.
    labelled
        Boolean mask (n,) of the labelled cells.
    model
        The current classifier, whose penultimate features Coreset covers; ``None`` before the
        first, when the standardised cell features are covered.
    config
        Coreset and region sizes.
    image_shape
        (height, width) of the image.
    rng
        Seed source of Coreset's first pick.
    pool
        Positions of the cells that may be picked and annotated (default: every cell).
    """
    labelled = np.asarray(labelled, dtype=bool)
    pool = np.arange(len(labelled)) if pool is None else np.asarray(pool, dtype=int)
    space = model.embed(features) if model is not None else standardise(features)
    picks = pool[coreset_picks(space[pool], labelled[pool], config.coreset_size, rng=rng)]
    todo = np.zeros(len(labelled), dtype=bool)
    todo[pool] = True
    todo &= ~labelled
    return choose_region(xy, picks, size=config.region_px, image_shape=image_shape, unlabelled=todo)
