"""Consistency review: labels the model disputes, judged only by models that never saw them.

A model trained on a label reproduces it, right or wrong, so its disagreement with its own
training labels says little. Here the labelled spots are split into k folds; each fold is judged
by a model trained on the other folds (out-of-fold predictions, cleanlab's recipe for finding
label errors; :func:`activespot.loop.out_of_fold_probabilities`, which also estimates a round's
accuracy). A label is *disputed* when its out-of-fold prediction is another class with high
confidence; those are listed, most confident first, for the pathologist to look at again.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .. import _constants as K
from ..errors import ProjectError

if TYPE_CHECKING:
    from ..project import Project

__all__ = ["review_labels"]

logger = logging.getLogger(__name__)


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
    from ..loop import out_of_fold_probabilities
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
