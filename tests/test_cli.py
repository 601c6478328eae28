import json

import pandas as pd
import pytest
from click.testing import CliRunner

from activespot import __version__
from activespot.cli import main
from tests.conftest import DLPFC


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


def test_demo_creates_a_project_and_imports_labels(tmp_path):
    out = tmp_path / "demo"
    result = run("demo", "--out", out)
    assert "Imported" in result.output
    details = json.loads(run("info", out / "project", "--json").output)
    assert details["labelled"] == pytest.approx(0.05 * 3611, abs=1)
    # Running it again replaces its own output; it never overwrites a folder it did not make.
    run("demo", "--out", out)
    stranger = tmp_path / "mine"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("keep")
    assert run("demo", "--out", stranger, ok=False).exit_code != 0
    assert (stranger / "notes.txt").read_text() == "keep"
