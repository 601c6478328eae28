"""The loop on a real DLPFC subset: simulation (no leakage, JSON contract) and the project commands."""

import json
import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from activespot import _constants as K
from activespot.cli import main
from activespot.config import Config
from activespot.io import read_truth
from activespot.loop import run_simulation, simulate
from activespot.loop._simulate import _cover_classes

from .conftest import DLPFC

ROUND_KEYS = {
    "n_labeled",
    "pool_weighted_f1",
    "pool_macro_f1",
    "pool_misclassified_pct",
    "pool_weighted_f1_labels_substituted",
    "seconds",
    "pool_accuracy",
    "unchanged_pct",
}
ESTIMATE_KEYS = {
    "estimated_accuracy",
    "estimated_accuracy_low",
    "estimated_accuracy_high",
    "oof_accuracy",
    "oof_accuracy_low",
    "oof_accuracy_high",
    "estimate_seconds",
}


def _cheap_blocks(adata):
    """Fast stand-ins for the feature blocks: 15 expression components and their 2-ring context."""
    from sklearn.decomposition import TruncatedSVD

    from activespot.features import context_features

    counts = adata.X.multiply(1e4 / adata.X.sum(axis=1)).tocsr().log1p()
    expr = TruncatedSVD(15, random_state=0).fit_transform(counts).astype(np.float32)
    adata.obsm[K.EXPR_KEY] = expr
    adata.obsm[K.CONTEXT_KEY], _ = context_features(adata, {K.EXPR_KEY: expr}, rings=2)
    return adata


@pytest.fixture(scope="module")
def dlpfc_subset():
    """About 700 spots of DLPFC 151673 spanning every layer, with cheap feature blocks."""
    from activespot.io import read_visium

    with pytest.warns(UserWarning, match="hires"):
        adata = read_visium(DLPFC)
    window = adata.obs[K.ARRAY_ROW].between(30, 45).to_numpy()
    return _cheap_blocks(adata[window].copy())


@pytest.fixture
def small_config():
    return Config().updated({"select": {"init": 15, "batch": 10}, "model": {"epochs": 20, "num_threads": 1}})


def _truth(adata):
    return read_truth(DLPFC / "ground_truth_layers.csv", barcodes=adata.obs_names)


def _graph(adata):
    from activespot.features import spatial_graph

    return spatial_graph(adata, rings=1)[0]


def test_read_truth_aligns_and_drops_na(tmp_path):
    path = tmp_path / "truth.csv"
    path.write_text("barcode,layer,other\nA-1,L1,x\nB-1,,y\nC-1,NA,z\nD-1,WM,w\n")
    assert list(read_truth(path, barcodes=["D-1", "B-1", "A-1", "Z-1"])) == ["WM", None, "L1", None]
    assert list(read_truth(path, column="other", barcodes=["C-1"])) == ["z"]
    with pytest.raises(ValueError, match=r"no column 'layr'.*layer, other"):
        read_truth(path, column="layr", barcodes=["A-1"])
    with pytest.raises(ValueError, match="shares no labelled barcode"):
        read_truth(path, barcodes=["Q-1"])


def test_cover_classes_adds_one_spot_per_missing_class():
    truth = np.array(["a", "a", "b", "c", None, "c"], dtype=object)
    pool = np.array([0, 1, 2, 3, 5])
    picked = _cover_classes(np.array([0]), truth, pool, np.random.default_rng(0))
    assert sorted(truth[picked]) == ["a", "b", "c"]


def test_simulation_learns_and_truth_enters_only_through_queries(dlpfc_subset, small_config):
    truth = _truth(dlpfc_subset)
    graph = _graph(dlpfc_subset)
    blocks = {key: dlpfc_subset.obsm[key] for key in (K.EXPR_KEY, K.CONTEXT_KEY)}
    result, last = simulate(blocks, truth, graph=graph, config=small_config, rounds=2, seed=0)
    assert [r["n_labeled"] for r in result["rounds"]] == [len(result["queried"][0]) + 10 * i for i in range(3)]
    assert set(result["rounds"][0]) == ROUND_KEYS | ESTIMATE_KEYS
    for record in result["rounds"]:  # the estimate without truth, next to the truth
        assert (
            0 <= record["estimated_accuracy_low"] <= record["estimated_accuracy"] <= record["estimated_accuracy_high"]
        )
        misclassified = record["pool_misclassified_pct"] / 100
        assert record["pool_accuracy"] == pytest.approx(1 - misclassified, abs=1e-4)
    assert result["rounds"][0]["unchanged_pct"] is None
    assert 50 < result["rounds"][-1]["unchanged_pct"] <= 100
    # It learns: 20 more labels raise the weighted F1 (0.799 -> 0.841 with seed 0; seeds 1, 2: +0.02, +0.05),
    # far above always answering the commonest layer (L6, 41 % of spots: weighted F1 0.24).
    f1 = [r["pool_weighted_f1"] for r in result["rounds"]]
    assert f1[-1] >= 0.8
    assert f1[-1] > f1[0] + 0.02
    asked = np.concatenate(result["queried"])
    assert all(truth[i] is not None for i in asked)  # spots without truth are never asked
    # Change the truth of every spot never asked: the run must not notice, apart from its scores.
    never = np.setdiff1d(np.flatnonzero(pd.notna(truth)), asked)
    other = truth.copy()
    other[never] = np.roll(truth[never], 7)
    again, last_again = simulate(blocks, other, graph=graph, config=small_config, rounds=2, seed=0)
    assert again["queried"] == result["queried"]
    np.testing.assert_array_equal(last_again.probabilities, last.probabilities)


def test_run_simulation_all_strategies_writes_outputs(dlpfc_subset, small_config, tmp_path):
    result = run_simulation(
        dlpfc_subset,
        DLPFC / "ground_truth_layers.csv",
        truth_column="layer",
        strategy="all",
        rounds=1,
        config=small_config,
        out_dir=tmp_path,
        progress=False,
    )
    assert result["strategy"] == "least_confidence_kmeans"
    assert set(result["baselines"]) == {"margin", "entropy", "coreset", "random"}
    assert set(result["rounds"][0]) >= ESTIMATE_KEYS
    assert not ESTIMATE_KEYS & set(result["baselines"]["random"]["rounds"][0])  # baselines: truth alone
    assert 0 < result["full_supervision"]["pool_weighted_f1"] <= 1
    written = json.loads((tmp_path / "simulation.json").read_text())
    assert written["rounds"] == result["rounds"]
    assert (tmp_path / "learning_curve.png").stat().st_size > 1000
    query = pd.read_csv(tmp_path / K.QUERY_EXPORT.format(round=1))
    assert list(query.columns) == [K.LOUPE_BARCODE, K.LOUPE_QUERY_CATEGORY]
    assert len(query) == 10
    predictions = pd.read_csv(tmp_path / K.PREDICTION_EXPORT.format(round=1))
    assert len(predictions) == dlpfc_subset.n_obs


def test_simulate_cli_on_an_h5ad(dlpfc_subset, tmp_path):
    h5ad = tmp_path / "subset.h5ad"
    dlpfc_subset.write_h5ad(h5ad)
    config = tmp_path / "small.yaml"
    config.write_text("model:\n  epochs: 10\n  num_threads: 1\n")
    args = ["simulate", "--visium", str(h5ad), "--truth", str(DLPFC / "ground_truth_layers.csv"), "--init", "12"]
    args += ["--batch", "8", "--rounds", "1", "--config", str(config), "--json", str(tmp_path / "r.json")]
    args += ["--plot", str(tmp_path / "r.png")]
    outcome = CliRunner().invoke(main, args)
    assert outcome.exit_code == 0, outcome.output
    assert "full supervision" in outcome.output
    rounds = json.loads((tmp_path / "r.json").read_text())["rounds"]
    first, second = (r["n_labeled"] for r in rounds)
    assert second - first == 8
    row = rounds[1]
    line = next(text for text in outcome.output.splitlines() if text.startswith(f"{row['n_labeled']:>6}  "))
    interval = f"[{row['estimated_accuracy_low']:.3f}, {row['estimated_accuracy_high']:.3f}]"
    assert re.search(rf"{row['pool_accuracy']:.3f} +{row['estimated_accuracy']:.3f} {re.escape(interval)}", line)
    bad = CliRunner().invoke(main, [*args[:5], "--strategy", "coresett"])
    assert bad.exit_code == 2
    assert "least_confidence_kmeans" in bad.output


def test_round_refuses_one_class_then_suggest_import_round_cycle(tmp_path, dlpfc_truth):
    from activespot.features import write_features
    from activespot.io import write_loupe_csv
    from activespot.project import Project

    project = Project.create(tmp_path / "proj", visium=DLPFC, annotator="test")
    write_features(_cheap_blocks(project.load_sample()), project.features_dir / K.FEATURES_FILE)
    runner = CliRunner()
    project.add_labels({project.barcodes[0]: "L1"}, annotator="test")
    refused = runner.invoke(main, ["round", str(project.path)])
    assert refused.exit_code == 2
    assert "at least 2 classes" in refused.output

    def answer(output):  # the pathologist labels the suggested spots in Loupe
        asked = pd.read_csv(re.search(r"\S+query_round_\d+\.csv", output).group())[K.LOUPE_BARCODE]
        labels = dlpfc_truth.reindex(asked).dropna()
        write_loupe_csv(labels, tmp_path / "answers.csv", category="Layer")
        assert runner.invoke(main, ["import", str(project.path), str(tmp_path / "answers.csv")]).exit_code == 0

    first = runner.invoke(main, ["suggest", str(project.path), "--n", "30"])
    assert first.exit_code == 0, first.output
    answer(first.output)
    out = runner.invoke(main, ["round", str(project.path)])
    assert out.exit_code == 0, out.output
    assert "Predictions:" in out.output
    assert "changed" not in out.output
    assert "estimated accuracy" in out.output
    answer(out.output)
    second = runner.invoke(main, ["round", str(project.path)])
    assert second.exit_code == 0, second.output
    assert "predictions changed since the last round" in second.output
    assert re.search(
        r"estimated accuracy 0\.\d\d \(95 % interval 0\.\d\d–[01]\.\d\d, 5-fold CV on \d+ labels\)", second.output
    )
    assert re.search(r"\d+\.\d % of predictions unchanged since round \d", second.output)
    reopened = Project.open(project.path)
    latest = reopened.latest_round()
    assert latest.info["kind"] == K.ROUND_KIND_TRAINED
    assert latest.info["n_labels"] > 30
    estimate = latest.info[K.ROUND_INFO_ESTIMATE]
    assert estimate["low"] <= estimate["accuracy"] <= estimate["high"]
    assert estimate["n_labels"] == latest.info["n_labels"]
    assert 0 < latest.info[K.ROUND_INFO_UNCHANGED] <= 1
    assert latest.info[K.ROUND_INFO_ACCEPTED] == {"shown": 0, "accepted": 0, "share": None}  # imports only
    assert latest.load_array(K.ROUND_PROBABILITIES).shape == (reopened.sample.n_spots, 7)
    assert len(latest.load_table(K.ROUND_QUERY)) == Config().select.batch
    exported = runner.invoke(main, ["export", str(project.path), "--what", "query", "--loupe", str(tmp_path / "q.csv")])
    assert exported.exit_code == 0, exported.output
    assert set(pd.read_csv(tmp_path / "q.csv")[K.LOUPE_BARCODE]) == set(latest.load_table(K.ROUND_QUERY).index)
