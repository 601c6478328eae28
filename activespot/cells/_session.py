"""A cell project's loop: features once, a round per region, labels into the journal with their suggestion.

A *cell round* trains the classifier on every current label (once there are two classes),
predicts every cell, picks the Coreset and the next region, and is saved like any round (atomic,
with a manifest). Labels are stored the moment they are given, each with the suggestion that was
on screen and a source that says what the annotator did with it — ``accepted``, ``corrected`` or
``manual`` (no suggestion shown) — and with the round, i.e. the region, it was given in. The
workload is then read straight from the journal (:func:`activespot.project.workload`, the one
definition the spot projects use too).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _constants as K
from ..errors import ProjectError
from ._context import context_radius
from ._features import cell_features, cell_patch_size, check_cell_backbone
from ._guide import Region, annotation_order, should_retrain, suggestions_ready
from ._suggest import next_region, suggest_cells

__all__ = [
    "CellRound",
    "cell_round",
    "check_cell_project",
    "label_cells",
    "latest_cell_round",
    "load_cells",
    "needs_new_round",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CellRound:
    """What the annotator sees next: the region, and the suggestion for every cell (if shown).

    Attributes
    ----------
    number
        The round (= region) number; labels given in it carry this number.
    region
        The region to annotate.
    suggestions
        Table indexed by cell id: ``label``, ``confidence``, ``shown`` (False until every class
        has enough labels); empty before the first model.
    n_trained
        Labels the classifier was trained on (0: no model yet).
    """

    number: int
    region: Region
    suggestions: pd.DataFrame
    n_trained: int


def check_cell_project(project: Any) -> None:
    """Raise a :class:`ProjectError` unless ``project`` holds cells (not a Visium project)."""
    if project.sample.kind != K.SAMPLE_KIND_CELLS:
        msg = f"{project.path}: not a cell project (sample kind {project.sample.kind!r}); create one with 'cells init'"
        raise ProjectError(msg)


def load_cells(project: Any, *, device: str | None = None, progress: bool = False) -> AnnData:
    """The project's cells with ``obsm['X_cell']``, computed once per input and cached in the project's features/.

    Parameters
    ----------
    project
        A cell project (:meth:`activespot.project.Project.create_cells`).
    device
        Where a backbone runs this time (default: the project's ``features.device``, ``auto``);
        its precision is ``features.precision``, as for spots.
    progress
        Progress bar while describing cells.
    """
    check_cell_project(project)
    adata = project.load_sample()
    if K.CELL_FEATURES_KEY in adata.obsm:
        return adata
    settings = project.config.cells
    check_cell_backbone(settings.backbone, source=project.path / K.PROJECT_FILE)
    patch = cell_patch_size(adata, patch_px=settings.patch_px, patch_um=settings.patch_um)
    cell_features(
        adata,
        patch_px=patch,
        backbone=settings.backbone,
        weights=settings.weights,
        device=device or project.config.features.device,
        precision=project.config.features.precision,
        cache_dir=project.features_dir,
        progress=progress,
    )
    return adata


def _required_classes(project: Any) -> list[str]:
    return project.store.classes()


def cell_round(
    project: Any, *, device: str | None = None, progress: bool = False, wait: bool = True, annotator: str | None = None
) -> CellRound:
    """Train on every current label, suggest a class for every cell, choose the region, save the round.

    The region is the current one while it has unlabelled cells, else the window with most Coreset
    picks; its cells are listed least confident first.

    Parameters
    ----------
    project
        A cell project.
    device, progress
        Where a backbone describes the cells the first time (see :func:`load_cells`), with a progress bar.
    wait, annotator
        As :meth:`~activespot.project.Project.round_lock`: wait for a running round, or raise.

    Returns
    -------
    The new :class:`CellRound` (also saved: table ``suggestions``, info ``region``).

    Raises
    ------
    ProjectError
        Not a cell project, or every cell is labelled.
    """
    adata = load_cells(project, device=device, progress=progress)
    settings = project.config.cells
    features = np.asarray(adata.obsm[K.CELL_FEATURES_KEY], dtype=np.float64)
    with project.round_lock(wait=wait, annotator=annotator) as number:
        labels = project.labels().reindex(adata.obs_names)
        labelled = labels.notna().to_numpy()
        if labelled.all():
            msg = f"{project.path}: every cell is labelled; export the labels with 'cells export'"
            raise ProjectError(msg)
        rng = np.random.default_rng(settings.seed + number)
        suggestions = pd.DataFrame(columns=["label", "confidence", "shown"], index=pd.Index([], name=K.CELL_ID))
        n_trained, model = 0, None
        known = labels[labelled]
        xy = np.asarray(adata.obsm[K.SPATIAL_KEY], dtype=float)
        if known.nunique() >= 2:
            suggested = suggest_cells(
                features,
                xy,
                np.flatnonzero(labelled),
                labels=known.to_numpy(str),
                config=settings,
                radius=context_radius(adata, settings),
                random_state=settings.seed,
            )
            model = suggested.model
            shown = suggestions_ready(
                known.value_counts().to_dict(), _required_classes(project), min_per_class=settings.min_labels_per_class
            )
            suggestions = pd.DataFrame(
                {"label": suggested.labels, "confidence": suggested.confidence, "shown": shown},
                index=pd.Index(adata.obs_names, name=K.CELL_ID),
            )
            n_trained = int(labelled.sum())
        region = _unfinished_region(project, labelled)
        if region is None:
            shape = tuple(adata.uns[K.CELLS_UNS_KEY]["image_shape"])
            region = next_region(features, xy, labelled, model=model, config=settings, image_shape=shape, rng=rng)
        if len(suggestions):
            region = replace(region, cells=tuple(annotation_order(region.cells, suggestions["confidence"].to_numpy())))
        info = {
            "kind": K.CELL_ROUND_KIND,
            K.ROUND_REGION: {
                "box": list(region.box),
                "picks": region.picks,
                "cells": [str(adata.obs_names[i]) for i in region.cells],
            },
            "n_trained": n_trained,
            "suggestions_shown": bool(len(suggestions) and suggestions["shown"].all()),
            "cells": settings.model_dump(mode="json"),
            "features": {k: v for k, v in adata.uns[K.CELLS_UNS_KEY]["features"].items() if k != "columns"},
        }
        project.save_round(number, tables={K.ROUND_SUGGESTIONS: suggestions}, info=info)
    return CellRound(number, region, suggestions, n_trained)


def _unfinished_region(project: Any, labelled: np.ndarray) -> Region | None:
    """The current region with its still unlabelled cells, or ``None`` when it is done (or there is none).

    A retrain mid-region refreshes the suggestions of the region being annotated; the next region is
    chosen only once this one is finished, as HALS guides (and as the simulated annotator works).
    """
    current = latest_cell_round(project)
    if current is None:
        return None
    remaining = tuple(cell for cell in current.region.cells if not labelled[cell])
    return replace(current.region, cells=remaining) if remaining else None


def latest_cell_round(project: Any) -> CellRound | None:
    """The newest saved cell round, or ``None`` before the first."""
    latest = project.latest_round(containing=K.ROUND_SUGGESTIONS)
    if latest is None or latest.info.get("kind") != K.CELL_ROUND_KIND:
        return None
    adata = project.load_sample()
    position = pd.Series(np.arange(adata.n_obs), index=adata.obs_names)
    stored = latest.info[K.ROUND_REGION]
    region = Region(tuple(stored["box"]), int(stored["picks"]), tuple(int(position[c]) for c in stored["cells"]))
    return CellRound(latest.number, region, latest.load_table(K.ROUND_SUGGESTIONS), int(latest.info["n_trained"]))


def needs_new_round(project: Any, current: CellRound | None) -> bool:
    """Whether to retrain: no round yet, ``retrain_every`` new labels since it, or its region is done."""
    if current is None:
        return True
    labels = project.labels()
    n_labels = len(labels)
    if should_retrain(n_labels, current.n_trained or None, every=project.config.cells.retrain_every):
        return True
    cells = project.load_sample().obs_names[list(current.region.cells)]
    return bool(len(cells)) and bool(pd.Index(cells).isin(labels.index).all())


def label_cells(
    project: Any,
    labels: Mapping[str, str],
    *,
    annotator: str,
    current: CellRound | None = None,
) -> dict[str, int]:
    """Store labels given in the current round, each with the suggestion that was on screen.

    A label equal to the shown suggestion is ``accepted``, a different one ``corrected``, and one
    given with no suggestion shown ``manual``; each kind is one undoable action.

    Parameters
    ----------
    project
        A cell project.
    labels
        cell id → class.
    annotator
        Who labelled.
    current
        The round on screen (default: the latest).

    Returns
    -------
    How many labels of each source were stored.
    """
    from ..project import Suggestion

    current = current if current is not None else latest_cell_round(project)
    shown = pd.DataFrame(columns=["label", "confidence", "shown"])
    if current is not None and len(current.suggestions):
        shown = current.suggestions[current.suggestions["shown"].astype(bool)]
    groups: dict[str, dict[str, str]] = {K.SOURCE_ACCEPTED: {}, K.SOURCE_CORRECTED: {}, K.SOURCE_MANUAL: {}}
    offered: dict[str, Suggestion] = {}
    for cell, label in labels.items():
        if cell in shown.index:
            suggestion = shown.loc[cell]
            offered[cell] = Suggestion(str(suggestion["label"]), float(suggestion["confidence"]))
            source = K.SOURCE_ACCEPTED if label == suggestion["label"] else K.SOURCE_CORRECTED
        else:
            source = K.SOURCE_MANUAL
        groups[source][cell] = label
    for source, group in groups.items():
        if group:
            project.add_labels(
                group,
                annotator=annotator,
                source=source,
                suggestions={c: offered[c] for c in group if c in offered},
            )
    return {source: len(group) for source, group in groups.items()}
