"""How good are the predictions now? An estimate of a round's accuracy that needs no truth.

The labels given so far are the only truth a project has, and the model was trained on them, so
its agreement with them says little. Out-of-fold models (the same recipe, each trained without
one fold of the labels) judge every label instead: the share they get right is a fair estimate
of accuracy *on spots like the labelled ones*. Active learning asks about the hard spots, though
(the least confident ones), so that share underestimates the accuracy on the whole section.

:func:`estimate_accuracy` corrects for that by confidence: it learns from the out-of-fold
predictions how often a prediction of a given confidence is right (a logistic curve in the
logit of the confidence) and averages that curve over the confidences of the current model's
predictions on the unlabelled spots; the labelled spots count with the current model's own
agreement with their labels. The interval is a bootstrap over the labels.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import sparse

from .._progress import progress_bar

if TYPE_CHECKING:
    from ..config import ModelConfig
    from ._round import RoundResult

__all__ = ["AccuracyEstimate", "estimate_accuracy", "estimate_round", "out_of_fold_probabilities"]

_CONFIDENCE_BINS = 200  # the unlabelled spots' confidences are averaged over a histogram (640k HD bins)
_RIDGE = 1e-2  # keeps the logistic curve finite when every out-of-fold prediction is right (or wrong)


@dataclass(frozen=True)
class AccuracyEstimate:
    """An estimate of the share of spots a round predicts right, from its labels alone.

    Attributes
    ----------
    accuracy
        Estimated accuracy over the pool (every spot not excluded): the current model's agreement
        with the labels on the labelled spots, the confidence curve on the others.
    low, high
        Bounds of the interval (``level``, bootstrap over the labels).
    labelled_accuracy
        Share of the labels the out-of-fold models predicted right (estimates accuracy on spots
        like the labelled ones, i.e. the hard ones once active learning has run).
    labelled_low, labelled_high
        Its Wilson interval.
    n_labels
        Labels judged.
    folds
        Out-of-fold models trained.
    epochs
        Epochs each was trained for.
    level
        Coverage of the intervals (0.95).
    seconds
        Wall time of the estimate.
    """

    accuracy: float
    low: float
    high: float
    labelled_accuracy: float
    labelled_low: float
    labelled_high: float
    n_labels: int
    folds: int
    epochs: int
    level: float
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """The estimate as plain numbers (rounded), for a round's info and JSON."""
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def estimate_accuracy(
    blocks: Mapping[str, np.ndarray],
    labels: np.ndarray,
    probabilities: np.ndarray,
    *,
    classes: np.ndarray,
    graph: sparse.spmatrix | None = None,
    config: ModelConfig | None = None,
    folds: int = 5,
    epochs: int | None = None,
    exclude: np.ndarray | None = None,
    level: float = 0.95,
    n_boot: int = 200,
    seed: int = 0,
) -> AccuracyEstimate:
    """Estimate the accuracy of a round's predictions over the pool, with an interval, without truth.

    Parameters
    ----------
    blocks
        Feature blocks of every spot (those the round was trained on).
    labels
        One label per spot; ``None``/``NaN``/``""`` for unlabelled spots.
    probabilities
        ``(n_spots, K)`` the round's probabilities (after smoothing), columns ``classes``.
    classes
        Class of each column of ``probabilities`` (the model's ``classes_``).
    graph, config
        As the round's: the out-of-fold models follow ``config`` (cold-started) and smooth over ``graph``.
    folds
        Out-of-fold models (stratified folds; capped at the number of labels).
    epochs
        Epochs of each out-of-fold model; ``config.epochs`` by default (fewer bound the cost).
    exclude
        Boolean mask of spots outside the pool (e.g. without truth, another sample's spots).
    level
        Coverage of the intervals.
    n_boot
        Bootstrap resamples of the labels.
    seed
        Seeds the folds, the models and the bootstrap.

    Returns
    -------
    AccuracyEstimate

    Raises
    ------
    ValueError
        Shapes disagree, ``level`` is not in (0, 1), or the labels are too few for the folds.
    """
    from ..config import ModelConfig
    from ..model import labelled_positions

    config = ModelConfig() if config is None else config
    labels = np.asarray(labels, dtype=object)
    probabilities = np.asarray(probabilities)
    classes = np.asarray(classes).astype(str)
    if probabilities.shape != (labels.size, classes.size):
        msg = f"`probabilities` must be ({labels.size}, {classes.size}): spots × classes; got {probabilities.shape}."
        raise ValueError(msg)
    if not 0 < level < 1:
        msg = f"`level` must be in (0, 1); got {level!r}."
        raise ValueError(msg)
    if exclude is not None and np.shape(exclude) != labels.shape:
        msg = f"`exclude` must be a mask of {labels.size} spots; got shape {np.shape(exclude)}."
        raise ValueError(msg)
    start = time.perf_counter()
    epochs = config.epochs if epochs is None else epochs
    oof, oof_classes, _ = out_of_fold_probabilities(
        blocks,
        labels,
        folds=folds,
        config=config.model_copy(update={"epochs": epochs}),
        graph=graph,
        seed=seed,
    )
    rows = labelled_positions(labels)
    given = labels[rows].astype(str)
    right = oof_classes[oof[rows].argmax(axis=1)].astype(str) == given
    pool = np.ones(labels.size, dtype=bool) if exclude is None else ~np.asarray(exclude, dtype=bool)
    unlabelled = pool.copy()
    unlabelled[rows] = False
    in_pool = pool[rows]
    # the labelled spots of the pool count with the round's own prediction of them: known, not estimated
    known_right = int((classes[probabilities[rows[in_pool]].argmax(axis=1)] == given[in_pool]).sum())
    # The round's own confidences, not the folds' models': those are weaker (fewer labels, no warm
    # start), and weighting by them estimates their accuracy (0.90 where the round's is 0.97 on DLPFC).
    counts, centres = _logit_histogram(probabilities[unlabelled].max(axis=1))
    x = _logit(oof[rows].max(axis=1))
    n_pool = int(in_pool.sum()) + int(unlabelled.sum())

    def pooled(x_fit: np.ndarray, y_fit: np.ndarray) -> float:
        expected = float(counts @ _expit(_fit_logistic(x_fit, y_fit) @ np.vstack([np.ones_like(centres), centres])))
        return (known_right + expected) / n_pool

    rng = np.random.default_rng(seed)
    draws = [pooled(x[i], right[i]) for i in (rng.integers(0, rows.size, rows.size) for _ in range(n_boot))]
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(draws, [tail, 100 - tail])
    lab_low, lab_high = _wilson(int(right.sum()), int(right.size), level)
    return AccuracyEstimate(
        accuracy=pooled(x, right),
        low=float(low),
        high=float(high),
        labelled_accuracy=float(right.mean()),
        labelled_low=lab_low,
        labelled_high=lab_high,
        n_labels=int(rows.size),
        folds=int(min(folds, rows.size)),
        epochs=int(epochs),
        level=float(level),
        seconds=time.perf_counter() - start,
    )


def estimate_round(
    blocks: Mapping[str, np.ndarray],
    labels: np.ndarray,
    result: RoundResult,
    *,
    graph: sparse.spmatrix | None,
    config: ModelConfig,
    exclude: np.ndarray | None = None,
    folds: int = 5,
    epochs: int | None = None,
) -> AccuracyEstimate:
    """:func:`estimate_accuracy` of a round's result, with the round's model settings and seed."""
    return estimate_accuracy(
        blocks,
        labels,
        result.probabilities,
        classes=result.model.classes_,
        graph=graph,
        config=config,
        exclude=exclude,
        seed=config.seed,
        folds=folds,
        epochs=epochs,
    )


def _logit(confidence: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(confidence, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _expit(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _logit_histogram(confidence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts and bin centres of the confidences' logits (a pool of any size in a few hundred numbers)."""
    z = _logit(confidence)
    if z.size == 0:
        return np.zeros(0), np.zeros(0)
    counts, edges = np.histogram(z, bins=_CONFIDENCE_BINS)
    return counts.astype(np.float64), (edges[:-1] + edges[1:]) / 2


def _fit_logistic(x: np.ndarray, y: np.ndarray, *, iterations: int = 25) -> np.ndarray:
    """Intercept and slope of P(right | logit of confidence), by Newton's method with a small ridge."""
    design = np.column_stack([np.ones_like(x), x])
    target = y.astype(np.float64)
    beta = np.zeros(2)
    ridge = _RIDGE * np.eye(2)
    for _ in range(iterations):
        p = _expit(design @ beta)
        gradient = design.T @ (p - target) + ridge @ beta
        hessian = (design * (p * (1 - p))[:, None]).T @ design + ridge
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return beta


def _wilson(right: int, n: int, level: float) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion."""
    from scipy.stats import norm

    z = float(norm.ppf(1 - (1 - level) / 2))
    share = right / n
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


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


def _neighbourhood(graph: sparse.spmatrix, rows: np.ndarray, steps: int) -> np.ndarray:
    """Sorted positions of ``rows`` and of every spot their ``steps`` smoothing steps read."""
    reads = sparse.csr_matrix(graph).T.tocsr()
    keep = np.zeros(graph.shape[0], dtype=bool)
    keep[rows] = True
    for _ in range(steps):
        keep |= (reads @ keep.astype(np.float32)) > 0
    return np.flatnonzero(keep)


def _subgraph(graph: sparse.spmatrix, positions: np.ndarray) -> sparse.csr_matrix:
    """The graph among ``positions`` only."""
    return sparse.csr_matrix(graph)[positions][:, positions]


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
    from ..model import smooth_probabilities
    from ._round import make_classifier

    folds = min(folds, rows.size)
    codes = np.searchsorted(classes, labels[rows].astype(str))
    fold = np.full(labels.size, -1, dtype=int)
    fold[rows] = _assign_folds(codes, folds, np.random.default_rng(seed))
    probabilities = np.full((labels.size, classes.size), np.nan)
    # Each model judges labelled spots only: it predicts them and the neighbours their smoothing
    # reads, not every spot (a few thousand of 640k Visium HD bins; the same numbers).
    steps = config.smoothing_steps if graph is not None else 0
    near = _neighbourhood(graph, rows, steps) if steps else rows
    near_blocks = {name: np.asarray(block)[near] for name, block in blocks.items()}
    near_graph = _subgraph(graph, near) if steps else None
    judged = np.searchsorted(near, rows)
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
        probs = model.predict_proba(near_blocks)
        if steps:
            probs = smooth_probabilities(probs, near_graph, steps=steps)
        probs = probs[judged[fold[rows] == k]]
        columns = np.searchsorted(classes, model.classes_.astype(str))  # a fold may miss a rare class
        probabilities[np.ix_(np.flatnonzero(held), columns)] = probs
        probabilities[np.flatnonzero(held)[:, None], np.setdiff1d(np.arange(classes.size), columns)] = 0.0
    return probabilities, classes, fold
