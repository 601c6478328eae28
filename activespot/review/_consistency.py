"""Consistency review: labels the model disputes, judged only by models that never saw them.

A model trained on a label reproduces it, right or wrong, so its disagreement with its own
training labels says little. Here the labelled spots are split into k folds; each fold is judged
by a model trained on the other folds (out-of-fold predictions, cleanlab's recipe for finding
label errors). A label is *disputed* when its out-of-fold prediction is another class with high
confidence; those are listed, most confident first, for the pathologist to look at again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .. import _constants as K
from .._progress import progress_bar
from ..errors import ProjectError

if TYPE_CHECKING:
    from scipy import sparse

    from ..config import ModelConfig
    from ..project import Project

__all__ = ["out_of_fold_probabilities", "review_labels"]

logger = logging.getLogger(__name__)


def out_of_fold_probabilities(
    blocks: Mapping[str, np.ndarray],
    labels: np.ndarray,
    *,
    folds: int = 5,
    config: ModelConfig | None = None,
    graph: sparse.spmatrix | None = None,
    seed: int = 0,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class probabilities of every labelled spot from a model trained without that spot's label.

    Parameters
    ----------
    blocks
        Feature blocks of every spot.
    labels
        One label per spot; ``None``/``NaN``/``""`` for unlabelled spots.
    folds
        Number of folds (stratified by class; capped at the number of labels).
    config
        Model settings (a project's ``model`` section); ``warm_start`` is turned off so no fold
        inherits another's weights. ``smoothing_steps`` smooths each fold's probabilities over
        ``graph``: the judged spot's neighbours are consulted, never its own label.
    graph
        Neighbour graph for that smoothing; ``None`` for none.
    seed
        Seeds the fold split and the models.
    progress
        Show a progress bar over the folds.

    Returns
    -------
    probabilities
        ``(n_spots, K)``; rows of unlabelled spots are NaN.
    classes
        The ``K`` class names (columns).
    fold
        Fold of each spot, ``-1`` for unlabelled ones.

    Raises
    ------
    ValueError
        Fewer than two classes, ``folds`` < 2, or too few labels for a training fold to hold two classes.
    """
    from ..config import ModelConfig
    from ..model import labelled_positions

    config = ModelConfig() if config is None else config
    labels = np.asarray(labels, dtype=object)
    rows = labelled_positions(labels)
    if not isinstance(folds, int) or folds < 2:
        msg = f"`folds` must be an integer >= 2; got {folds!r}."
        raise ValueError(msg)
    classes = np.array(sorted({str(v) for v in labels[rows]}), dtype=object)
    if classes.size < 2 or rows.size < 2:
        msg = f"Out-of-fold predictions need labels of at least 2 classes; got {rows.size} labels of {classes.size}."
        raise ValueError(msg)
    return _out_of_fold(
        blocks, labels, rows, classes, folds=folds, config=config, graph=graph, seed=seed, progress=progress
    )


def _assign_folds(codes: np.ndarray, folds: int, rng: np.random.Generator) -> np.ndarray:
    """Stratified fold of each label: each class is shuffled and dealt round-robin from a random fold."""
    fold = np.empty(codes.size, dtype=int)
    for code in np.unique(codes):
        members = rng.permutation(np.flatnonzero(codes == code))
        fold[members] = (np.arange(members.size) + rng.integers(folds)) % folds
    return fold


def _out_of_fold(
    blocks: Mapping[str, np.ndarray],
    labels: np.ndarray,
    rows: np.ndarray,
    classes: np.ndarray,
    *,
    folds: int,
    config: ModelConfig,
    graph: sparse.spmatrix | None,
    seed: int,
    progress: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from ..loop import make_classifier
    from ..model import smooth_probabilities

    folds = min(folds, rows.size)
    codes = np.searchsorted(classes, labels[rows].astype(str))
    fold = np.full(labels.size, -1, dtype=int)
    fold[rows] = _assign_folds(codes, folds, np.random.default_rng(seed))
    probabilities = np.full((labels.size, classes.size), np.nan)
    for k in progress_bar(range(folds), desc="out-of-fold models", disable=not progress, leave=False):
        held = fold == k
        if not held.any():
            continue
        train = labels.copy()
        train[held] = None  # the judged spots are unlabelled for this model
        model = make_classifier(config, seed=seed + k).set_params(warm_start=False)
        try:
            model.fit(blocks, train)
        except ValueError as err:
            msg = f"Fold {k + 1} of {folds} cannot be trained ({err}); label more spots or use fewer folds."
            raise ValueError(msg) from None
        probs = model.predict_proba(blocks)
        if graph is not None and config.smoothing_steps:
            probs = smooth_probabilities(probs, graph, steps=config.smoothing_steps)
        columns = np.searchsorted(classes, model.classes_.astype(str))  # a fold may miss a rare class
        probabilities[np.ix_(np.flatnonzero(held), columns)] = probs[held]
        probabilities[np.flatnonzero(held)[:, None], np.setdiff1d(np.arange(classes.size), columns)] = 0.0
    return probabilities, classes, fold


def review_labels(
    project: Project,
    *,
    folds: int = 5,
    min_confidence: float = 0.8,
    seed: int | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """The project's labels that an out-of-fold model disputes with high confidence.

    Parameters
    ----------
    project
        An open project with labels of at least two classes; its features and model settings are used.
    folds
        Folds of the out-of-fold split (see :func:`out_of_fold_probabilities`).
    min_confidence
        A label is listed when the out-of-fold model predicts another class with at least this
        probability.
    seed
        Seed of the split and the models; ``None`` uses the project's ``model.seed``.
    progress
        Show a progress bar over the folds.

    Returns
    -------
    pandas.DataFrame
        Index ``barcode``; columns ``label`` (the current label), ``predicted``, ``confidence``
        (probability of ``predicted``), ``p_label`` (probability of the given label),
        ``annotator``, ``source``, then ``p(<class>)`` per class. Sorted by ``confidence``,
        highest first; empty when no label is disputed.

    Raises
    ------
    ProjectError
        Fewer than two labelled classes, or too few labels for the folds.
    """
    from ..features import spatial_graph
    from ..project import project_blocks

    if not 0 < min_confidence <= 1:
        msg = f"`min_confidence` must be in (0, 1]; got {min_confidence!r}."
        raise ValueError(msg)
    counts = project.labels().value_counts()
    if counts.size < 2:  # checked before features are read or computed
        msg = f"{project.path}: the review needs labels of at least 2 classes; the project has {counts.to_dict()}."
        raise ProjectError(msg)
    config = project.config
    adata, blocks = project_blocks(project)
    barcodes = pd.Index(adata.obs_names)
    labels = project.labels_for(barcodes)
    graph, _ = spatial_graph(adata, rings=1)
    try:
        probabilities, classes, _ = out_of_fold_probabilities(
            blocks,
            labels,
            folds=folds,
            config=config.model,
            graph=graph,
            seed=config.model.seed if seed is None else seed,
            progress=progress,
        )
    except ValueError as err:
        msg = f"{project.path}: {err}"
        raise ProjectError(msg) from None
    judged = np.flatnonzero(~np.isnan(probabilities[:, 0]))
    probs = probabilities[judged]
    given = labels[judged].astype(str)
    table = pd.DataFrame(probs, index=pd.Index(barcodes[judged], name="barcode"), columns=[f"p({c})" for c in classes])
    table.insert(0, "p_label", probs[np.arange(judged.size), np.searchsorted(classes, given)])
    table.insert(0, "confidence", probs.max(axis=1))
    table.insert(0, "predicted", classes[probs.argmax(axis=1)])
    table.insert(0, "label", given)
    newest = _newest_events(project).reindex(table.index)
    table.insert(4, "annotator", newest[K.COL_ANNOTATOR].to_numpy())
    table.insert(5, "source", newest[K.COL_SOURCE].to_numpy())
    disputed = table[(table["predicted"] != table["label"]) & (table["confidence"] >= min_confidence)]
    logger.info("%d of %d labels disputed (out-of-fold, %d folds)", len(disputed), len(table), folds)
    return disputed.sort_values("confidence", ascending=False, kind="stable")


def _newest_events(project: Project) -> pd.DataFrame:
    # the newest event made the current label (an undo restoring an older label shows as "undo")
    events = project.store.events()
    return events.drop_duplicates(K.COL_ITEM, keep="last").set_index(K.COL_ITEM)[[K.COL_ANNOTATOR, K.COL_SOURCE]]
