"""Transfer on real data: a project of the 151673 subset labels the 151674 subset."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from activespot import _constants as K
from activespot.cli import main
from activespot.errors import InputFileError, ProjectError
from activespot.model import FusedMLPClassifier
from activespot.project import Project
from activespot.review import agreement
from activespot.transfer import transfer_labels

SMALL = {
    "features": {"n_top_genes": 300, "n_pcs": 20, "context_rings": 1},
    "model": {"epochs": 30, "num_threads": 1},
    "transfer": {"ensemble": 2},
}


def labelled_source(folder, subsets, truth, settings):
    """A 151673-subset project with every layer label imported and ``settings`` over the defaults."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        project = Project.create(folder / "source", visium=subsets["151673"], annotator="t")
    project.save_config(project.config.updated(settings))
    labels = truth["151673"].reindex(project.barcodes).dropna()
    project.add_labels(labels.to_dict(), annotator="test", source=K.SOURCE_IMPORTED)
    return project


@pytest.fixture(scope="module")
def small_source(tmp_path_factory, subsets, truth):
    """A labelled 151673-subset project with small feature settings (shared by this module: read-only)."""
    project = labelled_source(tmp_path_factory.mktemp("src"), subsets, truth, SMALL)
    yield project
    project.close()


@pytest.fixture(scope="module")
def transferred(small_source, subsets, tmp_path_factory):
    """A transfer without Harmony (library, 2 models) and one with (CLI, 1 model), recording what each model saw."""
    seen = []
    original = FusedMLPClassifier.fit

    def spy(self, blocks, y):
        seen.append(({key: np.array(value) for key, value in blocks.items()}, np.asarray(y, dtype=object)))
        return original(self, blocks, y)

    folder = tmp_path_factory.mktemp("transfers")
    with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        patch.setattr(FusedMLPClassifier, "fit", spy)
        plain = transfer_labels(small_source, subsets["151674"], out=folder / "plain", harmony=False, progress=False)
        result = CliRunner().invoke(
            main,
            [
                "transfer",
                "--source",
                str(small_source.path),
                "--target",
                str(subsets["151674"]),
                "--out",
                str(folder / "harmony"),
                "--ensemble",
                "1",  # the source's config says 2
            ],
        )
    assert result.exit_code == 0, result.output
    return {"plain": plain, "cli_output": result.output, "out": folder / "harmony", "fits": seen}


def test_transfer_creates_a_target_project_with_suggestions(small_source, transferred, truth):
    target = Project.open(transferred["out"])
    assert "in common" in transferred["cli_output"]
    assert "matched by name" in transferred["cli_output"]
    assert "Trained 1 model on" in transferred["cli_output"]  # --ensemble 1 overrides the source's 2
    assert transferred["plain"].ensemble == 2
    assert len(transferred["fits"]) == 3
    latest = target.latest_round(containing=K.ROUND_PREDICTIONS)
    assert latest.info["kind"] == K.ROUND_KIND_TRANSFERRED
    assert latest.info["harmony"]
    assert latest.info["common_genes"] > 0
    assert latest.info["n_source_labels"] == len(small_source.labels())
    table = target.predictions()
    assert list(table.index) == list(target.barcodes)
    assert list(table.columns[:2]) == ["label", "confidence"]
    assert set(table.columns[2:]) == {f"p({c})" for c in small_source.labels().unique()}
    np.testing.assert_allclose(table.filter(like="p(").sum(axis=1), 1, atol=1e-5)
    assert target.store.classes() == small_source.store.classes()
    assert target.config == small_source.config
    assert (target.exports_dir / K.PREDICTION_EXPORT.format(round=1)).is_file()
    assert (target.exports_dir / K.TRANSFER_H5AD.format(round=1)).is_file()
    # the model read the joint blocks: source spots labelled, target spots unlabelled
    blocks, y = transferred["fits"][-1]
    n_source = small_source.sample.n_spots
    assert len(y) == n_source + target.sample.n_spots
    assert all(v is None for v in y[n_source:])
    # the target's stored features are those blocks, so the next round continues in the same space
    with np.load(target.features_dir / K.FEATURES_FILE) as stored:
        np.testing.assert_allclose(stored[K.EXPR_KEY], blocks[K.EXPR_KEY][n_source:], rtol=1e-6)
    # better than chance against the published layers (a small band of spots)
    assert agreement(truth["151674"], table["label"]).kappa > 0.4
    assert agreement(truth["151674"], transferred["plain"].predictions["label"]).kappa > 0.4


def test_harmony_reaches_the_models_expression_input(small_source, transferred):
    from activespot.transfer import harmonize

    plain, corrected = transferred["fits"][0][0], transferred["fits"][-1][0]
    np.testing.assert_array_equal(plain[K.MORPH_KEY], corrected[K.MORPH_KEY])
    assert not np.allclose(plain[K.EXPR_KEY], corrected[K.EXPR_KEY], atol=1e-2)
    n_source = small_source.sample.n_spots
    batches = np.repeat(["0", "1"], [n_source, len(plain[K.EXPR_KEY]) - n_source])
    np.testing.assert_allclose(corrected[K.EXPR_KEY], harmonize(plain[K.EXPR_KEY], batches), atol=1e-4)


@pytest.mark.parametrize("ensemble", [1, 2])
def test_transfer_averages_a_seed_ensemble(subsets, truth, tmp_path, ensemble):
    """The transferred probabilities are the smoothed mean of fits seeded model.seed, model.seed + 1, ….

    With one member that is the project's own seeded classifier (the transfer of a single model);
    refitting a seed reproduces its member, so a transfer is deterministic; the stored checkpoint,
    from which the next round continues, is always the first member.
    """
    from activespot.features import spatial_graph
    from activespot.loop import make_classifier
    from activespot.model import smooth_probabilities

    settings = {**SMALL, "model": {"epochs": 10, "num_threads": 1}, "transfer": {"ensemble": ensemble}}
    source = labelled_source(tmp_path, subsets, truth, settings)
    members, fitted_on = [], []
    original = FusedMLPClassifier.fit

    def spy(self, blocks, y):
        members.append(self)
        fitted_on.append((blocks, y))
        return original(self, blocks, y)

    with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        patch.setattr(FusedMLPClassifier, "fit", spy)
        summary = transfer_labels(source, subsets["151674"], out=tmp_path / "target", harmony=False, progress=False)
    single = make_classifier(source.config.model).set_params(warm_start=False).get_params()
    seeds = [source.config.model.seed + offset for offset in range(ensemble)]
    assert [member.get_params() for member in members] == [{**single, "random_state": seed} for seed in seeds]
    blocks, y = fitted_on[0]
    assert all(other is blocks and other_y is y for other, other_y in fitted_on)  # the same labels and spots
    target = Project.open(summary.project)
    target_blocks = {name: block[len(y) - target.sample.n_spots :] for name, block in blocks.items()}
    graph, _ = spatial_graph(target.load_sample(), rings=1)
    expected = smooth_probabilities(np.mean([m.predict_proba(target_blocks) for m in members], axis=0), graph)
    np.testing.assert_allclose(summary.predictions.filter(like="p(").to_numpy(), expected, atol=1e-6)
    again = make_classifier(source.config.model, seed=seeds[-1]).set_params(warm_start=False).fit(blocks, y)
    np.testing.assert_array_equal(again.predict_proba(target_blocks), members[-1].predict_proba(target_blocks))
    latest = target.latest_round(containing=K.ROUND_PREDICTIONS)
    assert summary.ensemble == latest.info["ensemble"] == ensemble
    checkpoint = FusedMLPClassifier.from_bytes(latest.load_file(K.ROUND_MODEL))
    np.testing.assert_allclose(
        checkpoint.predict_proba(target_blocks), members[0].predict_proba(target_blocks), atol=1e-6
    )
    target.close()
    source.close()


def test_the_loop_continues_from_a_transferred_round(transferred, truth, tmp_path):
    out = tmp_path / "target"
    shutil.copytree(transferred["out"], out)
    runner = CliRunner()
    exported = tmp_path / "predictions.csv"
    result = runner.invoke(main, ["export", str(out), "--what", "predictions", "--loupe", str(exported)])
    assert result.exit_code == 0, result.output
    assert pd.read_csv(exported).shape[0] == Project.open(out).sample.n_spots
    result = runner.invoke(main, ["suggest", str(out), "--n", "10"])
    assert result.exit_code == 0, result.output
    assert "round 1" in result.output  # chosen from the transferred round's predictions
    target = Project.open(out)
    accepted = truth["151674"].reindex(target.barcodes).dropna().iloc[:40]
    target.add_labels(accepted.to_dict(), annotator="test", source=K.SOURCE_CORRECTED)
    result = runner.invoke(main, ["round", str(out)])
    assert result.exit_code == 0, result.output
    assert "predictions changed since the last round" in result.output  # compared with the transferred round


def test_transfer_refuses_bad_inputs(small_source, subsets, tmp_path):
    with pytest.raises(InputFileError, match="missing_outs"):
        transfer_labels(small_source, tmp_path / "missing_outs", out=tmp_path / "t1", progress=False)
    assert not (tmp_path / "t1").exists()
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file.txt").write_text("x")
    with pytest.raises(ProjectError, match="not empty"):
        transfer_labels(small_source, subsets["151674"], out=tmp_path / "taken", progress=False)
    empty = Project.create(tmp_path / "unlabelled", visium=subsets["151673"])
    with pytest.raises(ProjectError, match="at least 2 classes"):
        transfer_labels(empty, subsets["151674"], out=tmp_path / "t2", progress=False)
    with pytest.raises(ValueError, match="at least 1"):
        transfer_labels(empty, subsets["151674"], out=tmp_path / "t3", ensemble=0, progress=False)
    assert not (tmp_path / "t3").exists()


def test_cli_transfer_errors_are_one_line(small_source, tmp_path):
    result = CliRunner().invoke(
        main, ["transfer", "--source", str(tmp_path / "nope"), "--target", str(tmp_path), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert "nope" in result.output
    result = CliRunner().invoke(
        main,
        [
            "transfer",
            "--source",
            str(small_source.path),
            "--target",
            str(tmp_path / "gone"),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert "gone" in result.output


def test_a_round_on_a_transferred_project_trains_on_the_source_labels_too(transferred, truth, tmp_path):
    """Issue 16: six labels of the target must refine the transfer, not replace it with a six-label model."""
    from activespot.project import run_round

    out = tmp_path / "target"
    shutil.copytree(transferred["out"], out)
    target = Project.open(out)
    layers = truth["151674"].reindex(target.barcodes).dropna()
    transferred_labels = target.predictions()["label"]
    zero_shot = (transferred_labels.reindex(layers.index) == layers).mean()
    source_blocks, source_labels = target.transfer_source()
    n_source_labels = sum(label is not None for label in source_labels)
    assert n_source_labels > 100  # every layer label of the 151673 band
    assert set(source_blocks) == {K.MORPH_KEY, K.EXPR_KEY, K.CONTEXT_KEY}

    # A pathologist's first six clicks, in two layers: alone they would make a two-class model.
    two_layers = layers[layers.isin(layers.value_counts().index[:2])]
    six = two_layers.groupby(two_layers).head(3)
    target.add_labels(six.to_dict(), annotator="test", source=K.SOURCE_MANUAL)
    seen = []
    original = FusedMLPClassifier.fit

    def spy(self, blocks, y):
        seen.append(np.asarray(y, dtype=object))
        return original(self, blocks, y)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(FusedMLPClassifier, "fit", spy)
        summary = run_round(target)
    predicted = target.predictions()["label"]
    assert set(predicted) == set(transferred_labels)  # no layer vanishes
    after = (predicted.reindex(layers.index) == layers).mean()
    assert after >= zero_shot - 0.02, (zero_shot, after)  # before the fix: a two-class model, far below
    y = seen[0]  # the round's model; the 5 out-of-fold models of its accuracy estimate follow
    assert len(seen) == 1 + summary.estimate["folds"]
    assert y.size == source_labels.size + target.sample.n_spots  # the source's spots, then the target's
    assert sum(label is not None for label in y) == n_source_labels + 6
    assert set(summary.query) <= set(target.barcodes)  # only the target's spots are asked about
