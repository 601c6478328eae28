import numpy as np
import pytest
import torch
from scipy import sparse

from activespot.model import FusedMLPClassifier, labelled_positions, smooth_probabilities


def _data(n=120, k=3, widths=(4, 6), seed=0):
    """Blocks in which the class shifts every block's mean: easily separable."""
    rng = np.random.default_rng(seed)
    codes = np.arange(n) % k
    blocks = {f"b{i}": rng.normal(size=(n, w)) + 5.0 * codes[:, None] for i, w in enumerate(widths)}
    labels = np.array([f"class {c}" for c in codes], dtype=object)
    return blocks, labels


def _small(**kwargs):
    settings = {"hidden": 8, "fusion": 16, "epochs": 20, "batch_size": 32, "learning_rate": 1e-2, "num_threads": 1}
    return FusedMLPClassifier(**settings | kwargs)


def test_init_only_stores_and_params_round_trip():
    model = _small(random_state=3)
    assert model.get_params()["random_state"] == 3
    assert not [a for a in vars(model) if a.endswith("_")]
    with pytest.raises(ValueError, match="valid parameters are"):
        model.set_params(hiden=3)


@pytest.mark.parametrize("widths", [(5,), (4, 6, 2)])
def test_fit_predict_embed_any_blocks(widths):
    blocks, labels = _data(widths=widths)
    y = labels.copy()
    y[::2] = None  # half the spots unlabelled
    model = _small()
    assert model.fit(blocks, y) is model
    probs = model.predict_proba(blocks)
    assert probs.shape == (120, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert list(model.classes_) == ["class 0", "class 1", "class 2"]
    assert (model.predict(blocks) == labels).mean() > 0.9
    assert model.embed(blocks).shape == (120, 16)
    assert model.block_dims_ == list(widths)


def test_seeded_fit_is_reproducible_and_checkpoint_round_trips():
    blocks, labels = _data()
    first = _small(random_state=7).fit(blocks, labels)
    second = _small(random_state=7).fit(blocks, labels)
    np.testing.assert_array_equal(first.predict_proba(blocks), second.predict_proba(blocks))
    restored = FusedMLPClassifier.from_bytes(first.to_bytes())
    np.testing.assert_array_equal(restored.predict_proba(blocks), first.predict_proba(blocks))
    assert restored.get_params() == first.get_params()
    with pytest.raises(ValueError, match="checkpoint"):
        FusedMLPClassifier.from_bytes(b"not a checkpoint")


def test_class_weights_are_inverse_frequency():
    blocks, labels = _data(n=40, k=2)
    y = labels.copy()
    y[np.flatnonzero(labels == "class 1")[:15]] = None  # 20 of class 0, 5 of class 1
    model = _small().fit(blocks, y)
    np.testing.assert_allclose(model.class_weights_, [25 / (2 * 20), 25 / (2 * 5)])


def test_warm_start_keeps_shared_classes_and_adds_new_ones():
    blocks, labels = _data(k=3)
    two = labels.copy()
    two[labels == "class 2"] = None
    shared, new = labels != "class 2", labels == "class 2"
    model = _small().fit(blocks, two)
    assert (model.predict(blocks)[shared] == labels[shared]).all()

    # One epoch is too little to learn the shared classes again, so what it knows of them is kept ...
    model.set_params(epochs=1).fit(blocks, labels)
    assert list(model.classes_) == ["class 0", "class 1", "class 2"]
    assert (model.predict(blocks)[shared] == labels[shared]).all()
    cold = _small(epochs=1, warm_start=False).fit(blocks, labels)
    assert (cold.predict(blocks)[shared] == labels[shared]).mean() < 0.9  # 0.79: from scratch it is not
    # ... and the new class, whose head started fresh, is learnt by training on.
    model.set_params(epochs=20).fit(blocks, labels)
    assert (model.predict(blocks)[new] == "class 2").mean() > 0.9
    assert (model.predict(blocks)[shared] == labels[shared]).all()


def test_validation_only_with_plenty_of_labels():
    blocks, labels = _data()
    assert "val_loss" not in _small(validation_min_labels=1000).fit(blocks, labels).history_
    model = _small(validation_min_labels=50, validation_fraction=0.2).fit(blocks, labels)
    assert len(model.history_["val_loss"]) == 20
    assert 1 <= model.best_epoch_ <= 20


@pytest.mark.parametrize(
    ("case", "message"),
    [("one class", "at least 2 classes"), ("short y", "one label per spot"), ("nan block", "finite 2-D")],
)
def test_bad_input_is_explained(case, message):
    blocks, labels = _data()
    if case == "one class":
        labels = np.where(labels == "class 0", labels, None)
    elif case == "short y":
        labels = labels[:10]
    else:
        blocks["b0"][0, 0] = np.nan
    with pytest.raises(ValueError, match=message):
        _small().fit(blocks, labels)


def test_predict_checks_fitted_and_widths():
    blocks, labels = _data()
    with pytest.raises(RuntimeError, match="not fitted"):
        _small().predict_proba(blocks)
    model = _small(epochs=1).fit(blocks, labels)
    with pytest.raises(ValueError, match="lacks b1"):
        model.predict_proba({"b0": blocks["b0"]})
    with pytest.raises(ValueError, match="differ from the trained"):
        model.predict_proba({"b0": blocks["b0"], "b1": blocks["b1"][:, :2]})


def test_labelled_positions_treats_none_nan_and_blank_as_unlabelled():
    assert list(labelled_positions(np.array(["a", None, np.nan, "", " ", "b"], dtype=object))) == [0, 5]


def test_smoothing_removes_an_isolated_error_and_keeps_rows_normalised():
    # a path 0-1-2-3-4; spot 2 alone says class 1; spot 4 has no neighbours
    graph = sparse.csr_matrix(([1.0] * 6, ([0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2])), shape=(5, 5))
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6], [0.9, 0.1], [0.2, 0.8]])
    smoothed = smooth_probabilities(probs, graph, steps=1)
    np.testing.assert_allclose(smoothed.sum(axis=1), 1.0)
    assert smoothed[2].argmax() == 0
    np.testing.assert_allclose(smoothed[4], probs[4])
    assert smooth_probabilities(probs, graph, steps=0) is probs
    with pytest.raises(ValueError, match="n_spots"):
        smooth_probabilities(probs, sparse.eye(3), steps=1)


def test_training_never_imports_torch_dynamo():
    """torch.optim's classes import torch._dynamo on first use: ~2 s of every round process on two cores."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np; from activespot.model import FusedMLPClassifier; "
        "rng = np.random.default_rng(0); x = rng.normal(size=(60, 4)).astype(np.float32); "
        "FusedMLPClassifier(epochs=2).fit({'a': x}, np.where(x[:, 0] > 0, 'p', 'n')); "
        "assert 'torch._dynamo' not in sys.modules"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_adam_takes_the_steps_of_torch_optim_adam():
    import torch
    from torch import nn

    from activespot.model._adam import Adam

    torch.manual_seed(0)
    ours = nn.Sequential(nn.Linear(5, 8), nn.LeakyReLU(), nn.Linear(8, 3))
    theirs = nn.Sequential(nn.Linear(5, 8), nn.LeakyReLU(), nn.Linear(8, 3))
    theirs.load_state_dict(ours.state_dict())
    x, y = torch.randn(40, 5), torch.randint(0, 3, (40,))
    for module, optimiser in (
        (ours, Adam(ours.parameters(), lr=1e-2, weight_decay=1e-3)),
        (theirs, torch.optim.Adam(theirs.parameters(), lr=1e-2, weight_decay=1e-3)),
    ):
        for _ in range(20):
            optimiser.zero_grad()
            nn.functional.cross_entropy(module(x), y).backward()
            optimiser.step()
    for mine, reference in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert torch.equal(mine, reference)


def test_the_device_is_the_machines_not_the_checkpoints(monkeypatch):
    from activespot.errors import SettingError

    blocks, labels = _data()
    model = _small(device="cpu").fit(blocks, labels)
    restored = FusedMLPClassifier.from_bytes(model.to_bytes())
    assert restored.device == "cpu"  # the default, whatever the saving machine used
    np.testing.assert_array_equal(restored.predict_proba(blocks), model.predict_proba(blocks))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SettingError, match="'cuda' is not available"):
        _small(device="cuda").fit(blocks, labels)
