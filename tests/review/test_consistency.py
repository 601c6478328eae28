"""The consistency review judges each label only with models that never trained on it."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from activespot import _constants as K
from activespot.cli import main
from activespot.config import ModelConfig
from activespot.model import FusedMLPClassifier
from activespot.review import out_of_fold_probabilities, review_labels


def _blobs(n=120, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.array(["a", "b", "c"] * (n // 3), dtype=object)
    centres = {"a": 0.0, "b": 4.0, "c": 8.0}
    x = np.array([centres[v] for v in labels])[:, None] + rng.normal(size=(n, 4))
    return {"X": x.astype(np.float32)}, labels


def test_no_spot_is_judged_by_a_model_trained_on_it(monkeypatch):
    blocks, labels = _blobs()
    labels = labels.copy()
    labels[::7] = None  # some unlabelled spots
    trained_on = []
    original = FusedMLPClassifier.fit

    def spy(self, blocks, y):
        trained_on.append(np.asarray(y, dtype=object).copy())
        return original(self, blocks, y)

    monkeypatch.setattr(FusedMLPClassifier, "fit", spy)
    probs, classes, fold = out_of_fold_probabilities(
        blocks, labels, folds=4, config=ModelConfig(epochs=5, num_threads=1)
    )
    assert len(trained_on) == 4
    labelled = np.array([v is not None for v in labels])
    assert set(fold[labelled]) == {0, 1, 2, 3}
    assert (fold[~labelled] == -1).all()
    assert np.isnan(probs[~labelled]).all()
    for k, y in enumerate(trained_on):
        assert all(v is None for v in y[fold == k])  # the judged spots were unlabelled for their model
        assert all(y[i] == labels[i] for i in np.flatnonzero(labelled & (fold != k)))
    np.testing.assert_allclose(probs[labelled].sum(axis=1), 1, atol=1e-5)
    assert list(classes) == ["a", "b", "c"]


def test_planted_mislabel_is_surfaced_out_of_fold():
    blocks, labels = _blobs()
    planted = 10  # a "b" spot, labelled "c"
    labels = labels.copy()
    assert labels[planted] == "b"
    labels[planted] = "c"
    probs, classes, _ = out_of_fold_probabilities(
        blocks, labels, folds=5, config=ModelConfig(epochs=40, num_threads=1), seed=1
    )
    predicted = classes[np.nanargmax(probs, axis=1)]
    assert predicted[planted] == "b"
    assert probs[planted, list(classes).index("b")] > 0.8


def test_review_labels_lists_the_planted_mislabel_first(source_project):
    project = source_project
    project.save_config(project.config.updated({"features": {"n_top_genes": 300, "n_pcs": 20, "context_rings": 1}}))
    labels = project.labels()
    wm = labels[labels == "WM"].index
    # a white-matter spot surrounded by white matter, relabelled as layer 2
    planted = wm[len(wm) // 2]
    project.add_labels({planted: "L2"}, annotator="tired", source=K.SOURCE_MANUAL)
    disputed = review_labels(project, folds=3, min_confidence=0.5, progress=False)
    assert planted in disputed.index
    row = disputed.loc[planted]
    assert row["label"] == "L2"
    assert row["predicted"] == "WM"
    assert row["annotator"] == "tired"
    assert row["source"] == K.SOURCE_MANUAL
    assert disputed["confidence"].is_monotonic_decreasing
    assert (disputed["predicted"] != disputed["label"]).all()
    assert len(disputed) < len(labels) / 4  # the real labels are mostly undisputed

    result = CliRunner().invoke(
        main, ["review", str(project.path), "--folds", "3", "--min-confidence", "0.5", "--top", "3"]
    )
    assert result.exit_code == 0, result.output
    assert "labels disputed" in result.output
    csv = next(project.exports_dir.glob("review_*.csv"))
    text = csv.read_text(encoding="utf-8")
    assert text.startswith(f"Barcode,{K.LOUPE_REVIEW_CATEGORY}\n")
    assert f"{planted},L2 -> WM" in text


def test_review_refuses_too_few_labels(tmp_path, subsets):
    from activespot.project import Project

    project = Project.create(tmp_path / "p", visium=subsets["151673"])
    result = CliRunner().invoke(main, ["review", str(project.path)])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert "at least 2 classes" in result.output


def test_out_of_fold_refuses_bad_folds():
    blocks, labels = _blobs(30)
    with pytest.raises(ValueError, match="folds"):
        out_of_fold_probabilities(blocks, labels, folds=1)
