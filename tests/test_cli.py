import json

import pandas as pd
from click.testing import CliRunner

from activespot import __version__
from activespot.cli import main
from tests.conftest import DLPFC, MOUSE_BRAIN


def run(*args, ok=True):
    result = CliRunner().invoke(main, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, result.output + result.stderr
    return result


def test_version_and_help_on_every_command():
    assert __version__ in run("--version").output
    for name in main.list_commands(None):
        assert "Usage:" in run(name, "--help").output, name


def test_init_import_info_export_round_trip(tmp_path, dlpfc_truth):
    project = tmp_path / "project"
    run("init", project, "--visium", DLPFC, "--classes", "L1, L2, L3, L4, L5, L6, WM")
    first = dlpfc_truth.iloc[:120]
    csv = tmp_path / "from_loupe.csv"
    first.rename("Layer").rename_axis("Barcode").to_csv(csv)
    out = run("import", project, csv, "--annotator", "dr.who").output
    assert "120 new" in out

    again = run("import", project, csv, "--annotator", "dr.who").output
    assert "0 new, 0 changed, 120 unchanged" in again

    details = json.loads(run("info", project, "--json").output)
    assert details["spots"] == 3639
    assert details["labelled"] == 120
    assert details["annotators"] == {"dr.who": 120}
    assert sum(details["classes"].values()) == 120
    assert list(details["classes"]) == ["L1", "L2", "L3", "L4", "L5", "L6", "WM"]
    assert "Classes" in run("info", project).output

    exported = tmp_path / "labels.csv"
    h5ad = tmp_path / "sample.h5ad"
    run("export", project, "--loupe", exported, "--h5ad", h5ad)
    back = pd.read_csv(exported, index_col=0).iloc[:, 0]
    assert back.to_dict() == first.to_dict()
    import anndata

    adata = anndata.read_h5ad(h5ad)
    assert adata.obs["activespot_label"].notna().sum() == 120

    everything = tmp_path / "all.csv"
    run("export", project, "--loupe", everything, "--all-barcodes")
    assert len(pd.read_csv(everything)) == 3639


def test_morphology_only_project_from_a_folder_without_its_matrix(tmp_path):
    """A real Space Ranger 2.x spatial/ folder without a count matrix: refused with the way out, then labelled.

    Once the project says so, its spots are labelled from the H&E alone (features without expression).
    """
    import numpy as np

    from activespot.project import Project

    project = tmp_path / "brain"
    refused = run("init", project, "--visium", MOUSE_BRAIN, ok=False)
    assert refused.exit_code != 0
    assert "count matrix not found" in refused.output
    assert "--morphology-only" in refused.output
    assert not project.exists()
    out = run("init", project, "--visium", MOUSE_BRAIN, "--morphology-only", "--classes", "Top,Bottom").output
    assert "2310 spots, 0 genes" in out
    assert "morphology only" in out

    opened = Project.open(project)  # reopened from disk: the sample still loads without a matrix
    assert opened.sample.morphology_only
    assert not opened.config.features.expression
    adata = opened.load_sample()
    rng = np.random.default_rng(0)
    picked = rng.choice(adata.n_obs, 40, replace=False)
    top = adata.obsm["spatial"][picked, 1] < np.median(adata.obsm["spatial"][:, 1])
    labels = pd.DataFrame({"Barcode": adata.obs_names[picked], "Region": np.where(top, "Top", "Bottom")})
    labels.to_csv(tmp_path / "labels.csv", index=False)
    run("import", project, tmp_path / "labels.csv")
    out = run("round", project, "--device", "cpu").output
    assert "trained on 40 labels" in out
    assert " s on cpu" in out  # the device it trained on
    predictions = pd.read_csv(project / "exports" / "predictions_round_0001.csv")
    assert len(predictions) == 2310


def test_demo_runs_the_loop_and_writes_its_outputs(tmp_path):
    out = tmp_path / "demo"
    result = run("demo", "--out", out, "--rounds", "1")
    assert "weighted F1" in result.output
    assert "estimated without truth" in result.output
    details = json.loads(run("info", out / "project", "--json").output)
    assert 50 <= details["labelled"] <= 55  # the first query, answered from the published annotation
    assert details["rounds"] == 1  # rounds with a model: the trained one (not the initial query)
    simulation = json.loads((out / "simulation" / "simulation.json").read_text())
    assert [r["n_labeled"] for r in simulation["rounds"]] == [55, 110]
    assert (out / "simulation" / "learning_curve.png").stat().st_size > 10_000
    assert (out / "simulation" / "predictions_round_0001.csv").exists()
    # It never overwrites a folder it did not make.
    stranger = tmp_path / "mine"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("keep")
    assert run("demo", "--out", stranger, ok=False).exit_code != 0
    assert (stranger / "notes.txt").read_text() == "keep"


def test_the_exclusion_class_is_marked_learnt_as_a_class_and_left_out_of_the_loupe_export(tmp_path, dlpfc_truth):
    import anndata

    project = tmp_path / "project"
    run("init", project, "--visium", DLPFC, "--classes", "L1,L2,L3,L4,L5,L6,WM")
    out = run("classes", "exclude", project, "--annotator", "dr.who").output
    assert "'Not tissue' is the exclusion class (new class)" in out
    labels = dlpfc_truth.iloc[:20].copy()
    labels.iloc[:3] = "Not tissue"  # edge spots outside the annotated tissue
    csv = tmp_path / "labels.csv"
    labels.rename("Layer").rename_axis("Barcode").to_csv(csv)
    run("import", project, csv, "--annotator", "dr.who")
    listed = run("classes", "list", project).output
    assert "Not tissue\t3  (exclusion class" in listed

    exported, h5ad = tmp_path / "out.csv", tmp_path / "out.h5ad"
    out = run("export", project, "--loupe", exported, "--h5ad", h5ad).output
    assert "Wrote 17 labels" in out
    assert "left out 3 spots of the exclusion class 'Not tissue'" in out
    back = pd.read_csv(exported, index_col=0).iloc[:, 0]
    assert back.to_dict() == labels.iloc[3:].to_dict()
    adata = anndata.read_h5ad(h5ad)  # the AnnData keeps them, flagged
    assert adata.obs["activespot_label"].notna().sum() == 20
    assert set(adata.obs_names[adata.obs["activespot_excluded"]]) == set(labels.index[:3])

    run("classes", "exclude", project, "--none")
    assert "Wrote 20 labels" in run("export", project, "--loupe", exported).output


def test_a_bad_exclusion_class_name_is_refused_and_writes_nothing(tmp_path):
    from activespot.project import Project

    project = tmp_path / "project"
    run("init", project, "--visium", DLPFC, "--classes", "L1,L2")
    refused = run("classes", "exclude", project, " Glass", ok=False)
    assert refused.exit_code != 0
    assert "leading or trailing spaces" in refused.output + refused.stderr
    opened = Project.open(project)
    assert opened.store.declared_classes() == ["L1", "L2"]
    assert opened.exclusion_class() is None


def test_agreement_leaves_the_exclusion_class_out_when_asked(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("Barcode,Layer\nA-1,L1\nB-1,L2\nC-1,Not tissue\nD-1,L1\n", encoding="utf-8")
    b.write_text("Barcode,Layer\nA-1,L1\nB-1,L2\nC-1,L1\nD-1,Not tissue\n", encoding="utf-8")
    plain = run("agreement", a, b).output
    assert "Spots labelled in both: 4" in plain
    out = run("agreement", a, b, "--exclude", "Not tissue").output
    assert "Left out: 2 spots of the exclusion class 'Not tissue'" in out
    assert "Spots labelled in both: 2" in out
    assert "Accuracy:      1.000" in out
