"""``study init``: a project per manifest line, or, on any problem, one line naming it and nothing written."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

from activespot import _constants as K
from activespot.cli import main
from activespot.errors import InputFileError
from activespot.project import Project
from activespot.study import Study, read_manifest

from .conftest import new_study, write_manifest


def test_init_makes_a_project_per_section_with_its_labels(manifest, truth, tmp_path):
    settings = manifest.parent / "small.yaml"
    result = CliRunner().invoke(
        main, ["study", "init", str(tmp_path / "study"), "--manifest", str(manifest), "--config", str(settings)]
    )
    assert result.exit_code == 0, result.output
    assert "Created study" in result.output
    study = Study.open(tmp_path / "study")
    assert study.samples == ["151673", "151674"]
    listing = yaml.safe_load((tmp_path / "study" / K.STUDY_FILE).read_text(encoding="utf-8"))
    assert listing["sections"][0]["project"] == "sections/151673"  # relative: the study can be moved
    source = Project.open(tmp_path / "study" / "sections" / "151673")
    assert source.sample.visium == str(manifest.parent / "151673.h5ad")  # resolved from the manifest's folder
    assert source.config.model.epochs == 30  # --config reached every section
    layers = truth["151673"].reindex(source.barcodes).dropna()
    assert source.labels().sort_index().equals(layers.sort_index())
    assert study.section("151674").truth == manifest.parent / "truth_151674.csv"
    assert Project.open(study.section("151674").project).labels().empty
    source.close()


@pytest.mark.parametrize(
    ("lines", "line", "problem"),
    [
        (["sample,visium", "151673,151673.h5ad", "151674,missing_outs"], 3, "missing_outs"),
        (["sample,visium", "151673,151673.h5ad", "151673,151674.h5ad"], 3, "already on line 2"),
        (["sample,visium,colour", "151673,151673.h5ad"], 1, "unknown column 'colour'"),
        (["sample,image", "151673,151673.h5ad"], 1, "no column 'visium'"),
        (["sample,visium", "../151673,151673.h5ad"], 2, "cannot name a folder"),
        (["sample,visium", "151673,151673.h5ad,extra"], 2, "3 fields"),
        (["sample,visium"], 1, "no section"),
    ],
    ids=["missing-folder", "duplicate-sample", "unknown-column", "missing-column", "bad-name", "row-length", "empty"],
)
def test_manifest_errors_name_the_line_and_write_nothing(manifest_folder, tmp_path, lines, line, problem):
    folder = tmp_path / "manifest"
    folder.mkdir()
    for name in ("151673.h5ad", "151674.h5ad"):
        (folder / name).symlink_to(manifest_folder / name)
    path = write_manifest(folder, lines)
    with pytest.raises(InputFileError, match=problem) as raised:
        read_manifest(path)
    assert raised.value.line == line
    result = CliRunner().invoke(main, ["study", "init", str(tmp_path / "study"), "--manifest", str(path)])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert f"{path}, line {line}: " in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest"]  # no study, no staging folder


def test_a_section_that_fails_leaves_nothing_behind(manifest_folder, tmp_path):
    """Section 2's labels name a barcode its sample lacks: section 1, already built, goes too."""
    bad = tmp_path / "labels.csv"
    bad.write_text("Barcode,Layer\nAAAAAAAAAAAAAAAA-1,L1\n", encoding="utf-8")
    lines = [f"151673,{manifest_folder / '151673.h5ad'},", f"151674,{manifest_folder / '151674.h5ad'},{bad}"]
    path = write_manifest(tmp_path, ["sample,visium,labels", *lines])
    with pytest.raises(InputFileError, match="sample '151674'") as raised:
        new_study(tmp_path / "study", path)
    assert raised.value.line == 3
    assert raised.value.path == path
    assert str(bad) in str(raised.value)  # and the file the problem is in
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.csv", "sections.csv"]


def test_unknown_study_and_sample_are_one_line(serial_study, tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["study", "status", str(tmp_path)])
    assert result.exit_code == 2
    assert "not an activespot study" in result.output
    result = runner.invoke(main, ["study", "transfer", str(serial_study.path), "--from", "151675"])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert "no section '151675'; the sections are 151673, 151674" in result.output
