"""Labelled neighbours as evidence: learned from the labels, so clustering helps and its absence costs nothing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from activespot.cells import cell_round, neighbour_evidence, with_neighbour_evidence
from activespot.project import Project
from tests.conftest import REPO

BRCA_POINTS = next((REPO / "data/cells/brca_m2c_train5/labels").glob("TCGA-A7-A0D9-01Z-00-DX2_*_gt_class_coords.txt"))


def _brca_cells() -> tuple[np.ndarray, np.ndarray]:
    table = pd.read_csv(BRCA_POINTS, sep=" ", header=None, names=["y", "x", "label"])
    return table[["x", "y"]].to_numpy(float), table["label"].astype(str).to_numpy()


def test_on_clustered_tissue_the_neighbours_alone_beat_the_class_shares():
    # TCGA-A7-A0D9: tumour and lymphocytes in patches; half the cells labelled, the rest judged by neighbours.
    xy, truth = _brca_cells()
    order = np.random.default_rng(0).permutation(len(truth))
    labelled, hidden = order[: len(truth) // 2], order[len(truth) // 2 :]
    classes = np.unique(truth)
    evidence = neighbour_evidence(xy, labelled, truth[labelled], classes=classes, radius=40)
    informed = hidden[np.abs(evidence[hidden]).sum(axis=1) > 0]
    assert len(informed) > 0.6 * len(hidden)
    by_neighbours = np.mean(classes[evidence[informed].argmax(axis=1)] == truth[informed])
    majority = pd.Series(truth[labelled]).value_counts(normalize=True).iloc[0]
    assert by_neighbours > majority + 0.05  # measured: 0.80 against 0.73


def test_classes_that_avoid_each_other_are_learned_too():
    # A checkerboard: every neighbour has the other class, and the evidence says so.
    grid = np.array([(x, y) for x in range(10) for y in range(10)], dtype=float) * 10
    labels = np.where((grid[:, 0] // 10 + grid[:, 1] // 10) % 2 == 0, "a", "b")
    labelled = np.random.default_rng(0).permutation(100)[:50]
    evidence = neighbour_evidence(grid, labelled, labels[labelled], classes=np.array(["a", "b"]), radius=10.5)
    informed = np.abs(evidence).sum(axis=1) > 0
    assert informed.sum() > 50
    assert np.all(np.array(["a", "b"])[evidence[informed].argmax(axis=1)] == labels[informed])


def test_a_cell_with_no_labelled_neighbour_and_radius_zero_get_no_evidence():
    xy = np.array([[0, 0], [5, 0], [10, 0], [500, 500]], dtype=float)
    labels = np.array(["a", "b", "a", "b"])
    classes = np.array(["a", "b"])
    evidence = neighbour_evidence(xy, np.arange(4), labels, classes=classes, radius=6)
    assert np.all(evidence[3] == 0)  # isolated: its own label does not count
    assert np.any(evidence[1] != 0)
    assert np.all(neighbour_evidence(xy, np.arange(4), labels, classes=classes, radius=0) == 0)


def test_evidence_reweights_probabilities_and_zero_evidence_leaves_them():
    probs = np.array([[0.7, 0.3], [0.5, 0.5]])
    assert with_neighbour_evidence(probs, np.zeros_like(probs)) is probs
    moved = with_neighbour_evidence(probs, np.array([[0.0, 0.0], [np.log(3), 0.0]]))
    assert np.allclose(moved.sum(axis=1), 1)
    assert moved[1, 0] == pytest.approx(0.75)


def test_cell_round_weighs_labelled_neighbours_only_when_asked(cell_project):
    """Off: every suggestion is the classifier's. On: only cells with a labelled neighbour move, and most do."""
    from scipy.spatial import cKDTree

    from activespot.cells import cell_patch_size, load_cells

    project = Project.open(cell_project.path)
    confidence = {}
    for context in (True, False):
        project.config = project.config.updated({"cells": {"label_context": context}})
        confidence[context] = cell_round(project).suggestions["confidence"].to_numpy(float)
    adata = load_cells(project)
    settings = project.config.cells
    radius = cell_patch_size(adata, patch_px=settings.patch_px, patch_um=settings.patch_um)
    xy = np.asarray(adata.obsm["spatial"], dtype=float)
    labelled = np.flatnonzero(adata.obs_names.isin(project.labels().index))
    near = cKDTree(xy[labelled]).query_ball_point(xy, radius)
    has_neighbour = np.array([any(labelled[j] != i for j in hits) for i, hits in enumerate(near)])
    assert 0 < has_neighbour.sum() < len(xy)
    moved = ~np.isclose(confidence[True], confidence[False], rtol=0, atol=1e-9)
    assert not moved[~has_neighbour].any()  # nothing labelled nearby: the classifier alone, as with context off
    assert moved[has_neighbour].mean() > 0.9
    assert ((confidence[True] >= 0.5) & (confidence[True] <= 1)).all()
