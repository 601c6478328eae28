"""The one suggestion step: train → suggest every cell → the next Coreset region, on planted data."""

from __future__ import annotations

import numpy as np

from activespot.cells import next_region, suggest_cells
from activespot.config import CellsConfig

CONFIG = CellsConfig(coreset_size=4, region_px=50, max_iter=50)


def _planted(seed: int = 0):
    """Two classes with separate features, side by side in the image: class a left, class b right."""
    rng = np.random.default_rng(seed)
    truth = np.repeat(["a", "b"], 40)
    features = rng.normal(size=(80, 5)) + np.where(truth == "a", 0.0, 4.0)[:, None]
    xy = np.column_stack([np.where(truth == "a", 20.0, 180.0) + rng.uniform(-15, 15, 80), rng.uniform(0, 200, 80)])
    return features, xy, truth


def test_suggestions_follow_the_labels_and_the_seed():
    features, xy, truth = _planted()
    labelled = np.array([0, 1, 2, 40, 41, 42])
    kwargs = {"labels": truth[labelled], "config": CONFIG, "radius": 0.0, "random_state": 0}
    suggested = suggest_cells(features, xy, labelled, **kwargs)
    assert np.mean(suggested.labels == truth) > 0.95
    assert ((suggested.confidence >= 0.5) & (suggested.confidence <= 1)).all()
    again = suggest_cells(features, xy, labelled, **kwargs)
    np.testing.assert_array_equal(again.confidence, suggested.confidence)


def test_next_region_picks_only_unlabelled_cells_of_the_pool():
    features, xy, _ = _planted()
    labelled = np.zeros(80, dtype=bool)
    labelled[40:60] = True  # half the right side is done
    pool = np.flatnonzero(xy[:, 0] > 100)  # only the right half may be annotated
    region = next_region(
        features, xy, labelled, model=None, config=CONFIG, image_shape=(200, 200), rng=np.random.default_rng(0),
        pool=pool,
    )  # fmt: skip
    assert region.cells
    assert set(region.cells) <= set(pool.tolist()) - set(range(40, 60))


def test_training_threads_one_for_small_problems_every_core_for_large(monkeypatch):
    import os

    from activespot.cells import cell_classifier, training_threads

    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(64)), raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert training_threads(300, 73) == 1  # a live round on a descriptor: threads only contend
    assert training_threads(50_000, 1536) == 64  # a backbone's embeddings of a whole slide
    used = []
    monkeypatch.setattr("threadpoolctl.threadpool_limits", lambda n: used.append(n) or _Null())
    features, _, truth = _planted()
    cell_classifier(CONFIG.model_copy(update={"num_threads": 3}), random_state=0).fit(features, truth)
    cell_classifier(CONFIG, random_state=0).fit(features, truth)
    assert used == [3, 1]


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *args):
        return False
