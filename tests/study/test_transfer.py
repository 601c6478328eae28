"""``study transfer`` and ``study status``: a transferred round in every target, and its kappa against the truth."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from activespot import _constants as K
from activespot.cli import main
from activespot.errors import ProjectError
from activespot.project import Project
from activespot.study import Study, StudyError, study_status, transfer_study, update_study_features

from .conftest import SECTIONS, new_study, write_manifest

ROWS = (52, 60)  # another band of 151673, below the one in the transfer tests' subsets


@pytest.fixture
def transferred(serial_study, tmp_path):
    """A copy of the serial study after 'study transfer --from 151673' (and the command's output)."""
    shutil.copytree(serial_study.path, tmp_path / "study")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = CliRunner().invoke(main, ["study", "transfer", str(tmp_path / "study"), "--from", "151673"])
    assert result.exit_code == 0, result.output
    return Study.open(tmp_path / "study"), result.output


def test_the_target_starts_with_a_transferred_round(transferred):
    study, output = transferred
    assert "151674: round 1 transferred from" in output
    target = study.open_project("151674")
    source = study.open_project("151673")
    latest = target.model_round()
    assert latest.number == 1
    assert latest.info["kind"] == K.ROUND_KIND_TRANSFERRED
    assert latest.info["source_project"] == str(source.path)
    assert latest.info["n_source_labels"] == len(source.labels())
    assert target.store.declared_classes() == source.store.classes()  # ready to accept suggestions
    assert list(target.predictions().index) == list(target.barcodes)
    assert target.transfer_source()[1].size == source.sample.n_spots
    assert source.last_round_number is None  # the source is only read


def test_status_shows_kappa_against_the_truth(transferred):
    study, _ = transferred
    result = CliRunner().invoke(main, ["study", "status", str(study.path), "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["sample"]: row for row in json.loads(result.output)["sections"]}
    assert rows["151673"] == {
        "sample": "151673", "spots": 452, "labels": 452, "rounds": 0, "features": "yes", "kappa": None, "n_truth": None,
    }  # fmt: skip
    target = rows["151674"]
    assert (target["labels"], target["rounds"], target["features"]) == (0, 1, "joint")
    assert target["kappa"] > 0.3  # the published layers of a band of spots, from the neighbouring section
    assert target["n_truth"] > 300
    table = CliRunner().invoke(main, ["study", "status", str(study.path)])
    assert table.exit_code == 0, table.output
    assert f"{target['kappa']:.3f}" in table.output


def test_features_keep_a_transfers_joint_blocks(transferred):
    """Per-section blocks of the same shape would silently mix two spaces in the target's next round."""
    study, _ = transferred
    stored = study.section("151674").project / K.FEATURES_DIR / K.FEATURES_FILE
    before = stored.read_bytes()
    results = update_study_features(study, progress=False)
    assert [(r.sample, r.computed, r.joint) for r in results] == [("151673", False, False), ("151674", False, True)]
    assert stored.read_bytes() == before


def test_several_sources_train_one_model(manifest_folder, tmp_path, truth):
    from activespot.io import read_visium

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        adata = read_visium(SECTIONS["151673"])
    rows = adata.obs[K.ARRAY_ROW]
    adata[(rows >= ROWS[0]) & (rows < ROWS[1])].copy().write_h5ad(tmp_path / "band.h5ad")
    manifest = write_manifest(
        manifest_folder,
        [
            "sample,visium,labels,truth",
            "151673,151673.h5ad,labels_151673.csv,truth_151673.csv",
            "151674,151674.h5ad,labels_151674.csv,truth_151674.csv",
            f"151673-band,{tmp_path / 'band.h5ad'},,truth_151673.csv",
        ],
        name="three_sections.csv",  # the folder is shared: sections.csv is another test's
    )
    study = new_study(tmp_path / "study", manifest)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        summaries = transfer_study(study, ["151673", "151674"], progress=False)
    assert list(summaries) == ["151673-band"]
    sources = [study.open_project(sample) for sample in ("151673", "151674")]
    assert summaries["151673-band"].n_source_labels == sum(len(source.labels()) for source in sources)
    target = study.open_project("151673-band")
    blocks, labels = target.transfer_source()  # both sources' spots, stacked, for the next rounds
    assert labels.size == sum(source.sample.n_spots for source in sources)
    assert all(block.shape[0] == labels.size for block in blocks.values())
    with np.load(target.features_dir / K.FEATURES_FILE) as stored:
        assert stored[K.MORPH_KEY].shape[0] == target.sample.n_spots
    (status,) = [row for row in study_status(study) if row.sample == "151673-band"]
    assert status.kappa > 0.3


def test_transfer_refuses_what_it_cannot_do(serial_study, tmp_path):
    with pytest.raises(StudyError, match="every section is a source"):
        transfer_study(serial_study, ["151673", "151674"])
    with pytest.raises(StudyError, match="name the labelled sections"):
        transfer_study(serial_study, [])
    shutil.copytree(serial_study.path, tmp_path / "study")
    study = Study.open(tmp_path / "study")
    with pytest.raises(ProjectError, match="at least 2 classes"):
        transfer_study(study, ["151674"])  # unlabelled
    assert Project.open(study.section("151673").project).last_round_number is None
