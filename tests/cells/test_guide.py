"""The rules the tool follows: retrain cadence, suggestion threshold, the region with most Coreset picks."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import activespot.cells as cells
from activespot.cells import (
    annotation_order,
    choose_region,
    coreset_picks,
    should_retrain,
    simulate_session,
    suggestions_ready,
)
from activespot.config import CellsConfig


def test_retrain_every_five_labels():
    assert not should_retrain(4, None, every=5)
    assert should_retrain(5, None, every=5)
    assert not should_retrain(9, 5, every=5)
    assert should_retrain(10, 5, every=5)
    assert should_retrain(3, 1, every=2)
    with pytest.raises(ValueError, match="positive"):
        should_retrain(3, 1, every=0)


def test_suggestions_wait_for_every_class():
    assert not suggestions_ready({"a": 10, "b": 9}, ["a", "b"], min_per_class=10)
    assert suggestions_ready({"a": 10, "b": 10}, ["a", "b"], min_per_class=10)
    assert not suggestions_ready({"a": 10, "b": 12}, ["a", "b", "c"], min_per_class=10)
    assert suggestions_ready({"a": 3, "b": 3}, ["a", "b"], min_per_class=3)
    assert not suggestions_ready({"a": 50}, ["a"], min_per_class=10)  # one class: nothing to suggest


def test_region_holds_the_most_planted_picks():
    rng = np.random.default_rng(0)
    background = rng.uniform(0, 1000, size=(200, 2))
    cluster = rng.uniform([600, 100], [700, 200], size=(6, 2))  # 6 picks fit one 256 window here
    xy = np.vstack([background, cluster])
    picks = np.concatenate([[0, 1, 2], np.arange(200, 206)])
    region = choose_region(xy, picks, size=256, image_shape=(1000, 1000))
    x0, y0, x1, y1 = region.box
    assert x1 - x0 == 256
    assert y1 - y0 == 256
    assert region.picks >= 6
    assert all(x0 <= xy[i, 0] < x1 and y0 <= xy[i, 1] < y1 for i in range(200, 206))
    assert set(range(200, 206)) <= set(region.cells[: region.picks])  # picks come first


def test_region_stays_inside_the_image():
    xy = np.array([[995.0, 995.0], [990.0, 5.0]])
    region = choose_region(xy, np.array([0]), size=256, image_shape=(1000, 1000))
    assert region.box == (744, 744, 1000, 1000)


def test_coreset_picks_are_reproducible_and_unlabelled():
    points = np.random.default_rng(1).normal(size=(100, 4))
    labelled = np.zeros(100, dtype=bool)
    labelled[:10] = True
    first = coreset_picks(points, labelled, 8, rng=3)
    assert np.array_equal(first, coreset_picks(points, labelled, 8, rng=3))
    assert not labelled[first].any()
    assert len(set(first)) == 8


def test_annotation_order_puts_the_least_confident_first_and_keeps_ties():
    confidence = np.array([0.9, 0.55, 0.7, 0.55, 0.99])
    assert annotation_order([0, 1, 2, 3, 4], confidence) == [1, 3, 2, 0, 4]
    assert annotation_order([3, 1], confidence) == [3, 1]  # a tie keeps the region's order
    assert annotation_order([4, 0, 2], None) == [4, 0, 2]  # no model yet: as the region lists them


def test_guided_session_labels_each_region_least_confident_first():
    """Between two retrains, the cells of a region are labelled in rising confidence of the model then."""
    features, truth, xy = _blobs(seed=2)
    features = features + np.random.default_rng(5).normal(scale=2.0, size=features.shape)  # make it uncertain
    config = CellsConfig(region_px=400, retrain_every=5, max_iter=50)
    trace = simulate_session(features, truth, xy, image_shape=(400, 400), pool=np.arange(240), config=config, seed=0)
    assert len(trace.regions) == 1  # one window holds every cell: only the ranking decides the order
    order = np.asarray(trace.order)
    for start in range(5, 60, 5):  # each block of five follows the model trained on the labels before it
        model = cells.CellClassifier(config.hidden, n_layers=config.n_layers, alpha=config.alpha,
                                     max_iter=config.max_iter, random_state=0)  # fmt: skip
        model.fit(features[order[:start]], truth[order[:start]])
        confidence = model.predict_proba(features).max(axis=1)
        remaining = order[start:]
        assert np.all(np.diff(confidence[order[start : start + 5]]) >= 0)
        assert confidence[order[start]] == confidence[remaining].min()


def _blobs(n=240, seed=0):
    rng = np.random.default_rng(seed)
    truth = np.where(rng.random(n) < 0.5, "a", "b")
    features = rng.normal(size=(n, 3)) + (truth == "a")[:, None] * 4.0
    xy = rng.uniform(0, 400, size=(n, 2))
    return features, truth, xy


def test_simulated_session_shows_suggestions_only_after_ten_per_class():
    features, truth, xy = _blobs()
    config = CellsConfig(region_px=128, max_iter=50)
    trace = simulate_session(features, truth, xy, image_shape=(400, 400), pool=np.arange(240), config=config, seed=0)
    assert len(trace.order) == 240
    assert len(set(trace.order)) == 240
    first_shown = next(i for i, c in enumerate(trace.correct) if c is not None)
    before = truth[np.asarray(trace.order[:first_shown])]
    assert min((before == "a").sum(), (before == "b").sum()) >= 10
    assert trace.retrains == 240 // 5
    assert trace.corrected / trace.shown < 0.05  # separable blobs: nearly every suggestion is right
    again = simulate_session(features, truth, xy, image_shape=(400, 400), pool=np.arange(240), config=config, seed=0)
    assert again.order == trace.order


def test_public_api_follows_the_signature_convention():
    for name in cells.__all__:
        obj = getattr(cells, name)
        functions = (
            [obj]
            if inspect.isfunction(obj)
            else [m for k, m in vars(obj).items() if inspect.isfunction(m) and not k.startswith("_")]
        )
        for function in functions:
            assert inspect.getdoc(function), name
            params = [p for p in inspect.signature(function).parameters.values() if p.name not in {"self", "cls"}]
            positional = [p for p in params if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
            assert len(positional) <= 3, name
            if "adata" in [p.name for p in params]:
                assert params[0].name == "adata", name


def test_hals_config_file_documents_the_defaults():
    from pathlib import Path

    from activespot.config import load_config

    path = Path(__file__).resolve().parents[2] / "configs" / "hals_cells.yaml"
    assert load_config(path).cells == CellsConfig()
