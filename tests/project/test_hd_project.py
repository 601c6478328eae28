"""A Visium HD project: which bins it labels is chosen once, at init, and kept."""

import pytest
from click.testing import CliRunner

from activespot.cli import main
from activespot.project import Project

from ..conftest import DLPFC, VISIUM

HD_LAYOUT = VISIUM / "hd_layout"  # a real (tiny) Space Ranger HD output with 2 µm bins only

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_init_picks_the_outputs_only_bin_size_and_keeps_it(tmp_path):
    result = CliRunner().invoke(main, ["init", str(tmp_path / "hd"), "--visium", str(HD_LAYOUT)])
    assert result.exit_code == 0, result.output
    assert "2 µm bins" in result.output
    project = Project.open(tmp_path / "hd")
    assert project.sample.bin_size == 2
    barcodes = project.load_sample().obs_names
    assert all(code.startswith("s_002um_") for code in barcodes)  # HD barcodes kept exactly
    assert list(Project.open(tmp_path / "hd").barcodes) == list(barcodes)  # from the layout alone: the same
    shown = CliRunner().invoke(main, ["info", str(tmp_path / "hd")])
    assert shown.exit_code == 0, shown.output
    assert f"2 µm bins {len(barcodes)}" in shown.output
    assert "labelled 2 µm bins" in shown.output


def test_a_bin_size_the_output_lacks_lists_the_sizes_it_has_and_writes_nothing(tmp_path):
    result = CliRunner().invoke(main, ["init", str(tmp_path / "hd"), "--visium", str(HD_LAYOUT), "--bin-size", "8"])
    assert result.exit_code == 2
    assert "no 8 µm bins in this Visium HD output (it has: 2 µm)" in result.output
    assert "--bin-size" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "hd").exists()


def test_a_bin_size_for_a_visium_sample_is_refused(tmp_path):
    result = CliRunner().invoke(main, ["init", str(tmp_path / "p"), "--visium", str(DLPFC), "--bin-size", "8"])
    assert result.exit_code == 2
    assert "--bin-size is for Visium HD outputs" in result.output
    assert not (tmp_path / "p").exists()


def test_labels_move_between_bin_sizes_by_containment_and_majority():
    import pandas as pd

    from activespot.io import hd_bin_size, map_bin_labels

    coarse = pd.Series({"s_016um_00001_00002-1": "Tumour", "s_016um_00000_00000-1": "Stroma"})
    fine = map_bin_labels(coarse, to_um=8)
    assert hd_bin_size(fine.index) == 8
    assert fine.to_dict() == {
        **dict.fromkeys(["s_008um_00002_00004-1", "s_008um_00002_00005-1", "s_008um_00003_00004-1",
                         "s_008um_00003_00005-1"], "Tumour"),
        **dict.fromkeys(["s_008um_00000_00000-1", "s_008um_00000_00001-1", "s_008um_00001_00000-1",
                         "s_008um_00001_00001-1"], "Stroma"),
    }  # fmt: skip
    assert map_bin_labels(fine, to_um=16).sort_index().equals(coarse.sort_index())  # and back

    fine.iloc[:3] = "Stroma"  # the Tumour bin's fine bins now vote 3 Stroma : 1 Tumour
    fine.iloc[4:6] = "Tumour"  # the Stroma bin's: 2 : 2, a tie
    assert map_bin_labels(fine, to_um=16).to_dict() == {"s_016um_00001_00002-1": "Stroma"}
    with pytest.raises(ValueError, match="not Visium HD bins of one size"):
        map_bin_labels(pd.Series({"AAACAAGTATCTCCCA-1": "x"}), to_um=8)


def test_a_loupe_csv_of_another_bin_size_is_mapped_and_labels_export_at_any_size(tmp_path):
    import pandas as pd

    runner = CliRunner()
    created = runner.invoke(main, ["init", str(tmp_path / "hd"), "--visium", str(HD_LAYOUT), "--classes", "A,B"])
    assert created.exit_code == 0, created.output
    project = Project.open(tmp_path / "hd")
    barcodes = project.barcodes
    rows = barcodes.str.slice(8, 13).astype(int) // 4
    cols = barcodes.str.slice(14, 19).astype(int) // 4
    coarse = pd.Index([f"s_008um_{r:05d}_{c:05d}-1" for r, c in zip(rows, cols, strict=True)]).unique()[:3]
    loupe = tmp_path / "eight.csv"
    loupe.write_text("Barcode,Layer\n" + "".join(f"{code},A\n" for code in coarse))

    result = runner.invoke(main, ["import", str(tmp_path / "hd"), str(loupe)])
    assert result.exit_code == 0, result.output
    assert "labels 8 µm bins; mapped to this project's 2 µm bins" in result.output
    labels = Project.open(tmp_path / "hd").labels()
    assert len(labels) > 0
    assert set(labels) == {"A"}
    assert {f"s_008um_{int(c[8:13]) // 4:05d}_{int(c[14:19]) // 4:05d}-1" for c in labels.index} == set(coarse)

    out = tmp_path / "export8.csv"
    result = runner.invoke(main, ["export", str(tmp_path / "hd"), "--loupe", str(out), "--bin-size", "8"])
    assert result.exit_code == 0, result.output
    assert set(pd.read_csv(out)["Barcode"]) == set(coarse)
    result = runner.invoke(main, ["export", str(tmp_path / "hd"), "--loupe", str(out), "--bin-size", "2"])
    assert "Loupe Browser opens 8 µm and 16 µm bins, not 2 µm" in result.output


def test_bin_size_on_a_visium_export_is_refused(tmp_path):
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(tmp_path / "p"), "--visium", str(DLPFC)]).exit_code == 0
    result = runner.invoke(main, ["export", str(tmp_path / "p"), "--loupe", str(tmp_path / "x.csv"), "--bin-size", "8"])
    assert result.exit_code == 2
    assert "--bin-size is for Visium HD projects" in result.output
    assert not (tmp_path / "x.csv").exists()
