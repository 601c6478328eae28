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
