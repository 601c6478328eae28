"""The accuracy a round estimates without truth: planted problems whose pool accuracy is known."""

import numpy as np
import pytest

from activespot.config import ModelConfig
from activespot.loop import estimate_accuracy, make_classifier

# Trained long enough for the learning curve to be flat at 400 labels: the folds' models (320 labels)
# are then as good as the round's, which the estimate assumes.
CONFIG = ModelConfig(epochs=60, num_threads=1, hidden=16, fusion=16, warm_start=False)


def _overlapping(n=1500, seed=0):
    """Two classes along a line with noisy features: about one spot in seven is on the wrong side."""
    rng = np.random.default_rng(seed)
    position = rng.uniform(-3, 3, n)
    truth = np.where(position + rng.normal(scale=0.8, size=n) > 0, "b", "a").astype(object)
    x = np.column_stack([position, rng.normal(size=(n, 3))]).astype(np.float32)
    return {"X": x}, truth, position


def _round(blocks, truth, asked):
    labels = np.full(truth.size, None, dtype=object)
    labels[asked] = truth[asked]
    model = make_classifier(CONFIG).fit(blocks, labels)
    probs = model.predict_proba(blocks)
    accuracy = float(np.mean(model.classes_[probs.argmax(axis=1)] == truth))
    return labels, probs, model.classes_, accuracy


def test_the_interval_holds_the_pool_accuracy_of_random_labels():
    blocks, truth, _ = _overlapping()
    asked = np.random.default_rng(1).choice(truth.size, 400, replace=False)
    labels, probs, classes, accuracy = _round(blocks, truth, asked)
    found = estimate_accuracy(blocks, labels, probs, classes=classes, config=CONFIG, seed=0)
    assert 0.75 < accuracy < 0.95  # a problem with errors to find
    assert found.low <= accuracy <= found.high
    assert abs(found.accuracy - accuracy) < 0.03
    assert found.labelled_low <= found.labelled_accuracy <= found.labelled_high
    assert (found.n_labels, found.folds, found.epochs) == (400, 5, 60)


def test_labels_at_the_boundary_are_weighted_towards_the_pool():
    # Active learning asks where the model is unsure: spots near the boundary, most of them hard.
    # Their out-of-fold accuracy is far below the pool's; weighting by confidence recovers most of
    # the gap, and what is left errs on the safe side (at equal confidence, a boundary spot is
    # harder than a spot elsewhere: the estimate stays below the truth).
    blocks, truth, position = _overlapping()
    rng = np.random.default_rng(2)
    near = np.flatnonzero(np.abs(position) < 1.0)
    far = np.flatnonzero(np.abs(position) >= 1.0)
    asked = np.concatenate([rng.choice(near, 250, replace=False), rng.choice(far, 150, replace=False)])
    labels, probs, classes, accuracy = _round(blocks, truth, asked)
    found = estimate_accuracy(blocks, labels, probs, classes=classes, config=CONFIG, seed=0)
    assert found.labelled_high < accuracy - 0.04  # the labelled set alone is far too pessimistic
    assert accuracy - found.accuracy < (accuracy - found.labelled_accuracy) / 2
    assert found.accuracy < accuracy
    one_side = estimate_accuracy(blocks, labels, probs, classes=classes, config=CONFIG, seed=0, exclude=position > 0)
    assert one_side.accuracy != found.accuracy  # another pool, another number from the same labels


def test_bad_input_is_refused():
    blocks, truth, _ = _overlapping(n=60)
    labels = truth.copy()
    probs = np.full((60, 2), 0.5)
    with pytest.raises(ValueError, match="`probabilities` must be"):
        estimate_accuracy(blocks, labels, probs[:10], classes=np.array(["a", "b"]), config=CONFIG)
    with pytest.raises(ValueError, match="`level`"):
        estimate_accuracy(blocks, labels, probs, classes=np.array(["a", "b"]), config=CONFIG, level=95)
    with pytest.raises(ValueError, match="at least 2 classes"):
        estimate_accuracy(blocks, np.full(60, "a", dtype=object), probs, classes=np.array(["a", "b"]), config=CONFIG)


def test_out_of_fold_models_predict_only_what_their_smoothing_reads(monkeypatch):
    from scipy import sparse

    from activespot.loop import _estimate, out_of_fold_probabilities

    blocks, truth, _ = _overlapping(n=400)
    labels = np.full(truth.size, None, dtype=object)
    labels[::7] = truth[::7]
    chain = sparse.diags([np.ones(399), np.ones(399)], [-1, 1], format="csr")  # spot i beside i - 1 and i + 1
    config = CONFIG.model_copy(update={"epochs": 5, "smoothing_steps": 2})
    near, _, _ = out_of_fold_probabilities(blocks, labels, config=config, graph=chain)
    rows = np.arange(0, 400, 7)
    within_two = {j for r in rows for j in range(r - 2, r + 3) if 0 <= j < 400}  # 2 steps read ±2 spots
    assert set(_estimate._neighbourhood(chain, rows, 2)) == within_two
    assert len(within_two) < 400
    monkeypatch.setattr(_estimate, "_neighbourhood", lambda graph, rows, steps: np.arange(graph.shape[0]))
    every, _, _ = out_of_fold_probabilities(blocks, labels, config=config, graph=chain)
    np.testing.assert_allclose(near, every, atol=1e-6)
