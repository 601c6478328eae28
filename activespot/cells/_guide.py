"""What the tool tells the annotator: when to retrain, when to show suggestions, where to go next.

HALS retrains its classifier on every label each time a few new ones arrive, shows suggestions
only once each class has enough labels for them to be worth reading, and sends the annotator to
the window that holds the most cells a Coreset (greedy k-center) would have picked: annotating a
whole region is how pathologists work, and the region with most Coreset picks is the one that
covers most of the feature space the model has not seen. Inside the region the least confident
suggestions come first, so the labels that teach the model most arrive before the next retrain.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Region", "annotation_order", "choose_region", "coreset_picks", "should_retrain", "suggestions_ready"]


@dataclass(frozen=True)
class Region:
    """A window of the image to annotate: pixel box ``[x0, x1) x [y0, y1)`` and what it holds.

    Attributes
    ----------
    box
        ``(x0, y0, x1, y1)`` in image pixels.
    picks
        How many Coreset picks it contains.
    cells
        Positions (rows of the cells AnnData) of the unlabelled cells inside, in annotation order:
        Coreset picks first, then top to bottom, left to right (re-ranked least confident first by
        :func:`annotation_order` once a model suggests classes).
    """

    box: tuple[int, int, int, int]
    picks: int
    cells: tuple[int, ...]


def should_retrain(n_labels: int, n_at_last_training: int | None, *, every: int = 5) -> bool:
    """Whether to retrain: ``every`` labels have arrived since the last training (or none happened yet).

    Parameters
    ----------
    n_labels
        Labels in the journal now.
    n_at_last_training
        Labels the current model was trained on; ``None`` when there is no model.
    every
        HALS's cadence: 5.
    """
    if every < 1:
        msg = f"`every` must be a positive integer; got {every!r}."
        raise ValueError(msg)
    if n_at_last_training is None:
        return n_labels >= every
    return n_labels - n_at_last_training >= every


def suggestions_ready(counts: Mapping[str, int], classes: Iterable[str], *, min_per_class: int = 10) -> bool:
    """Whether suggestions may be shown: every class in ``classes`` has at least ``min_per_class`` labels.

    Parameters
    ----------
    counts
        Labels per class so far.
    classes
        The classes that must each reach the threshold (at least two).
    min_per_class
        HALS: 10.
    """
    classes = list(classes)
    if len(classes) < 2:
        return False
    return all(counts.get(name, 0) >= min_per_class for name in classes)


def coreset_picks(
    embeddings: np.ndarray, labelled_mask: np.ndarray, n: int, *, rng: np.random.Generator | int | None = None
) -> np.ndarray:
    """The ``n`` unlabelled cells greedy k-center picks on ``embeddings`` (positions into the rows).

    A thin wrapper over :func:`activespot.select.coreset`, which is the registry's strategy.
    """
    from ..select import coreset

    return coreset(None, np.asarray(embeddings, dtype=np.float64), np.asarray(labelled_mask, dtype=bool), n, rng=rng)


def annotation_order(cells: Sequence[int], confidence: np.ndarray | None) -> list[int]:
    """``cells`` with the least confident suggestion first (ties keep their order); as given without a model.

    The corrections a region needs cluster in its uncertain cells: labelling them first puts the
    most informative labels into the next retrain, which then suggests the rest of the region
    better (and makes the session's labels a better training set than a spatial sweep).

    Parameters
    ----------
    cells
        Positions of a region's cells, in their current order.
    confidence
        Probability of the suggested class for every cell (indexed by position), or ``None``.
    """
    if confidence is None:
        return list(cells)
    return sorted(cells, key=lambda cell: confidence[cell])


def choose_region(
    xy: np.ndarray,
    picks: np.ndarray,
    *,
    size: int = 256,
    image_shape: tuple[int, int],
    unlabelled: np.ndarray | None = None,
) -> Region:
    """The ``size`` x ``size`` window holding the most Coreset picks (HALS's next region).

    Some best window has its left edge at a pick's x and its top edge at a pick's y (slide any
    optimal window right and down until it touches one), so only those |S|² windows are scored,
    after shifting each inside the image — which can only add cells. Ties go to the window with
    more unlabelled cells, then to the one nearest the first pick.

    Parameters
    ----------
    xy
        Centroids (n, 2) as (x, y) pixels.
    picks
        Positions into ``xy`` of the Coreset picks.
    size
        Window side in pixels (HALS: 256).
    image_shape
        (height, width) of the image.
    unlabelled
        Boolean mask of cells still to label (default: all but nothing else known).

    Returns
    -------
    The :class:`Region`, with its unlabelled cells in annotation order.
    """
    xy = np.asarray(xy, dtype=float)
    picks = np.asarray(picks, dtype=int)
    if picks.size == 0:
        msg = "`picks` is empty: there is nothing left to annotate."
        raise ValueError(msg)
    unlabelled = np.ones(len(xy), dtype=bool) if unlabelled is None else np.asarray(unlabelled, dtype=bool)
    height, width = image_shape
    side_x, side_y = min(size, width), min(size, height)
    px, py = xy[picks, 0], xy[picks, 1]
    x0 = np.clip(np.floor(px), 0, width - side_x)
    y0 = np.clip(np.floor(py), 0, height - side_y)
    cand = np.stack(np.meshgrid(x0, y0, indexing="ij"), axis=-1).reshape(-1, 2)
    cand = np.unique(cand, axis=0)
    inside_picks = _inside(xy[picks], cand, side_x, side_y).sum(axis=0)
    inside_cells = _inside(xy[unlabelled], cand, side_x, side_y).sum(axis=0)
    first = xy[picks[0]]
    centre_distance = np.hypot(cand[:, 0] + side_x / 2 - first[0], cand[:, 1] + side_y / 2 - first[1])
    best = np.lexsort((centre_distance, -inside_cells, -inside_picks))[0]
    bx, by = int(cand[best, 0]), int(cand[best, 1])
    box = (bx, by, bx + side_x, by + side_y)
    members = np.flatnonzero(unlabelled & _inside(xy, cand[best : best + 1], side_x, side_y)[:, 0])
    pick_set = [p for p in picks if p in set(members.tolist())]
    rest = [m for m in members[np.lexsort((xy[members, 0], xy[members, 1]))] if m not in set(pick_set)]
    return Region(box, int(inside_picks[best]), tuple(int(i) for i in pick_set + rest))


def _inside(points: np.ndarray, corners: np.ndarray, side_x: float, side_y: float) -> np.ndarray:
    """(n_points, n_windows) whether each point lies in each half-open window."""
    dx = points[:, None, 0] - corners[None, :, 0]
    dy = points[:, None, 1] - corners[None, :, 1]
    return (dx >= 0) & (dx < side_x) & (dy >= 0) & (dy < side_y)
