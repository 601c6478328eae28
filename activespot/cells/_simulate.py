"""The simulated annotator: HALS's workload and effectiveness measured against known cell classes.

The annotator goes region by region as the tool guides (Coreset picks → the window holding most
of them), labels every unlabelled cell of the region, accepts each correct suggestion and corrects
each wrong one. The classifier is retrained every few labels, and suggestions appear once each
class has enough labels. Workload = corrected / shown suggestions.

Effectiveness (HALS): for the order in which a session produced its labels, the validation
accuracy of a model trained on the first N labels (N = 10 … 200, averaged over several retrains),
summarised as the area under that curve; its ratio to the same curve for an unguided control
session — regions chosen at random, cells in random order — says how much more useful the guided
labels are for training.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _constants as K
from .._progress import progress_bar
from ..config import CellsConfig
from ._context import context_radius
from ._guide import Region, annotation_order, choose_region, should_retrain, suggestions_ready
from ._suggest import cell_classifier, next_region, suggest_cells

__all__ = ["SessionTrace", "curve_auc", "effectiveness_curve", "simulate_cells", "simulate_session"]

logger = logging.getLogger(__name__)


@dataclass
class SessionTrace:
    """What one simulated session did, event by event.

    Attributes
    ----------
    order
        Positions of the labelled cells, in labelling order.
    suggested
        Suggestion shown for each of them (``None`` before suggestions were shown).
    correct
        Whether that suggestion was right (``None`` where none was shown).
    regions
        The regions visited, in order.
    retrains
        How many times the classifier was trained.
    """

    order: list[int] = field(default_factory=list)
    suggested: list[str | None] = field(default_factory=list)
    correct: list[bool | None] = field(default_factory=list)
    regions: list[Region] = field(default_factory=list)
    retrains: int = 0

    @property
    def shown(self) -> int:
        """Suggestions shown."""
        return sum(c is not None for c in self.correct)

    @property
    def corrected(self) -> int:
        """Suggestions the annotator had to correct."""
        return sum(c is False for c in self.correct)


def simulate_session(
    features: np.ndarray,
    truth: np.ndarray,
    xy: np.ndarray,
    *,
    image_shape: tuple[int, int],
    pool: np.ndarray,
    config: CellsConfig | None = None,
    guided: bool = True,
    required_classes: list[str] | None = None,
    max_labels: int | None = None,
    neighbour_radius: float = 0.0,
    seed: int = 0,
) -> SessionTrace:
    """Run one simulated annotation session over the ``pool`` cells.

    Parameters
    ----------
    features
        Cell features (n, d), e.g. ``obsm['X_cell']``.
    truth
        True class of every cell (n,), as strings.
    xy
        Centroids (n, 2).
    image_shape
        (height, width) of the image.
    pool
        Positions of the cells the annotator may label (the rest is held out).
    config
        Cell settings (cadence, threshold, Coreset size, region size, classifier).
    guided
        ``True``: regions from Coreset picks on the classifier's penultimate features, the least
        confident suggestion of the region first (see :func:`annotation_order`).
        ``False``: the unguided control — a random window around a random unlabelled cell, cells
        in random order.
    required_classes
        Classes that must each reach ``min_labels_per_class`` before suggestions show
        (default: every class of ``truth`` in the pool).
    max_labels
        Stop after this many labels (default: the whole pool).
    neighbour_radius
        Labelled cells within this many pixels weigh in on each suggestion (see
        :func:`neighbour_evidence`); 0: the classifier alone.
    seed
        Seed of the Coreset start, the control's regions and the classifier.
    """
    config = config or CellsConfig()
    rng = np.random.default_rng(seed)
    truth = np.asarray(truth).astype(str)
    n = len(truth)
    in_pool = np.zeros(n, dtype=bool)
    in_pool[pool] = True
    labelled = np.zeros(n, dtype=bool)
    classes = sorted(set(truth[pool])) if required_classes is None else list(required_classes)
    budget = int(in_pool.sum()) if max_labels is None else min(int(max_labels), int(in_pool.sum()))
    trace = SessionTrace()
    model, trained_at, predicted, confidence = None, None, None, None
    counts: Counter[str] = Counter()
    while len(trace.order) < budget:
        todo = in_pool & ~labelled
        if guided:
            region = next_region(
                features, xy, labelled, model=model, config=config, image_shape=image_shape, rng=rng, pool=pool
            )
        else:
            picks = np.array([rng.choice(np.flatnonzero(todo))])
            region = choose_region(xy, picks, size=config.region_px, image_shape=image_shape, unlabelled=todo)
        remaining = list(region.cells) if guided else list(rng.permutation(region.cells))
        trace.regions.append(region)
        while remaining and len(trace.order) < budget:
            # Guided: the least confident suggestion next, re-ranked after every retrain; control: as drawn.
            cell = annotation_order(remaining, confidence)[0] if guided else remaining[0]
            remaining.remove(cell)
            show = predicted is not None and suggestions_ready(
                counts, classes, min_per_class=config.min_labels_per_class
            )
            trace.order.append(int(cell))
            trace.suggested.append(str(predicted[cell]) if show else None)
            trace.correct.append(bool(predicted[cell] == truth[cell]) if show else None)
            labelled[cell] = True
            counts[truth[cell]] += 1
            if should_retrain(len(trace.order), trained_at, every=config.retrain_every) and len(counts) >= 2:
                index = np.asarray(trace.order)
                suggested = suggest_cells(
                    features, xy, index, labels=truth[index], config=config, radius=neighbour_radius, random_state=seed
                )
                model, predicted, confidence = suggested.model, suggested.labels, suggested.confidence
                trained_at = len(trace.order)
                trace.retrains += 1
    return trace


def effectiveness_curve(
    features: np.ndarray,
    truth: np.ndarray,
    order: np.ndarray,
    *,
    validation: np.ndarray,
    sizes: list[int] | None = None,
    repeats: int = 10,
    config: CellsConfig | None = None,
) -> pd.DataFrame:
    """Validation accuracy of a classifier trained on the first N labels of ``order``, for each N.

    Parameters
    ----------
    features, truth
        Cell features and true classes.
    order
        Positions of labelled cells in the order the session produced them.
    validation
        Positions of held-out cells the accuracy is measured on.
    sizes
        The N values (default ``config.effectiveness_labels``, capped at the order's length).
    repeats
        Retrains (seeds 0 … repeats-1) averaged for each N.
    config
        Classifier settings.

    Returns
    -------
    Table with columns ``n_labels`` and ``accuracy`` (mean over the repeats).
    """
    config = config or CellsConfig()
    truth = np.asarray(truth).astype(str)
    order = np.asarray(order, dtype=int)
    if sizes is None:
        first, last, step = config.effectiveness_labels
        sizes = list(range(first, last + 1, step))
    sizes = [s for s in sizes if s <= len(order)] or [len(order)]
    rows = []
    for size in sizes:
        train = order[:size]
        accuracies = []
        for repeat in range(repeats):
            if np.unique(truth[train]).size < 2:  # one class seen: the model can only say that class
                accuracies.append(float(np.mean(truth[validation] == truth[train][0])))
                continue
            model = cell_classifier(config, random_state=repeat).fit(features[train], truth[train])
            accuracies.append(float(np.mean(model.predict(features[validation]) == truth[validation])))
        rows.append({"n_labels": size, "accuracy": float(np.mean(accuracies))})
    return pd.DataFrame(rows)


def curve_auc(curve: pd.DataFrame) -> float:
    """Area under an effectiveness curve, normalised by its N range (a mean accuracy in [0, 1])."""
    x, y = curve["n_labels"].to_numpy(float), curve["accuracy"].to_numpy(float)
    if len(x) < 2:
        return float(y.mean())
    return float(np.trapezoid(y, x) / (x[-1] - x[0]))


def simulate_cells(
    adata: AnnData,
    truth_key: str,
    *,
    config: CellsConfig | None = None,
    seed: int = 0,
    max_labels: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Simulate a guided HALS session and an unguided control on cells with known classes.

    Parameters
    ----------
    adata
        Cells with features in ``obsm['X_cell']`` (see :func:`cell_features`) and the true
        class in ``obs[truth_key]``; cells without one are left out.
    truth_key
        The ``obs`` column with the true class.
    config
        Cell settings; ``validation_fraction`` of the cells is held out for effectiveness.
    seed
        Seed of the held-out split, the sessions and the classifiers.
    max_labels
        Stop each session after this many labels (default: every cell not held out).
    progress
        Show a progress bar over the effectiveness retrains.

    Returns
    -------
    ``workload_reduction`` (1 − corrected / shown), ``suggestions_shown``, ``corrected``,
    ``effectiveness_auc``, ``control_auc``, ``auc_ratio``, and for context: ``workload``,
    ``labels``, ``regions``, ``retrains``, ``control_workload_reduction``, ``required_classes``,
    the two curves and the parameters (``seed``, ``n_cells``, ``n_validation``).
    """
    config = config or CellsConfig()
    if K.CELL_FEATURES_KEY not in adata.obsm:
        msg = f"`adata.obsm[{K.CELL_FEATURES_KEY!r}]` is missing; run activespot.cells.cell_features first."
        raise ValueError(msg)
    if truth_key not in adata.obs:
        msg = f"`{truth_key}` is not an obs column; columns are {', '.join(map(str, adata.obs.columns))}."
        raise ValueError(msg)
    known = adata.obs[truth_key].notna().to_numpy()
    if known.sum() < 4 or adata.obs[truth_key][known].nunique() < 2:
        msg = f"`{truth_key}` needs at least two classes over four cells; got {adata.obs[truth_key][known].nunique()}."
        raise ValueError(msg)
    features = np.asarray(adata.obsm[K.CELL_FEATURES_KEY], dtype=np.float64)[known]
    truth = adata.obs[truth_key][known].astype(str).to_numpy()
    xy = np.asarray(adata.obsm[K.SPATIAL_KEY], dtype=float)[known]
    shape = tuple(adata.uns[K.CELLS_UNS_KEY]["image_shape"])
    rng = np.random.default_rng(seed)
    permuted = rng.permutation(len(truth))
    n_validation = max(1, round(config.validation_fraction * len(truth)))
    validation, pool = np.sort(permuted[:n_validation]), np.sort(permuted[n_validation:])
    counts = Counter(truth[pool])
    required = sorted(c for c, n in counts.items() if n >= config.min_labels_per_class)
    if len(required) < len(counts):
        logger.info(
            "classes with fewer than %d cells to label do not hold back suggestions: %s",
            config.min_labels_per_class,
            ", ".join(sorted(set(counts) - set(required))),
        )
    common = {"image_shape": shape, "pool": pool, "config": config, "required_classes": required,
              "max_labels": max_labels, "neighbour_radius": context_radius(adata, config), "seed": seed}  # fmt: skip
    guided = simulate_session(features, truth, xy, guided=True, **common)
    control = simulate_session(features, truth, xy, guided=False, **common)
    curves = {}
    sessions = {"guided": guided, "control": control}
    for name, trace in progress_bar(sessions.items(), total=2, desc="effectiveness", disable=not progress):
        curves[name] = effectiveness_curve(
            features,
            truth,
            np.asarray(trace.order),
            validation=validation,
            repeats=config.effectiveness_repeats,
            config=config,
        )
    auc, control_auc = curve_auc(curves["guided"]), curve_auc(curves["control"])
    workload = guided.corrected / guided.shown if guided.shown else float("nan")
    control_workload = control.corrected / control.shown if control.shown else float("nan")
    return {
        "workload_reduction": 1.0 - workload,
        "suggestions_shown": guided.shown,
        "corrected": guided.corrected,
        "effectiveness_auc": auc,
        "control_auc": control_auc,
        "auc_ratio": auc / control_auc if control_auc else float("nan"),
        "workload": workload,
        "labels": len(guided.order),
        "regions": len(guided.regions),
        "retrains": guided.retrains,
        "control_workload_reduction": 1.0 - control_workload,
        "required_classes": required,
        "curve": curves["guided"].to_dict(orient="list"),
        "control_curve": curves["control"].to_dict(orient="list"),
        "seed": seed,
        "n_cells": len(truth),
        "n_validation": int(n_validation),
    }
