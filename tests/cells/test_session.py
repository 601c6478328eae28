"""A cell project: rounds, labels stored with their suggestion and source, workload from the journal."""

from __future__ import annotations

from pathlib import Path

import pytest

from activespot import _constants as K
from activespot.cells import cell_round, label_cells, latest_cell_round, needs_new_round
from activespot.config import Config
from activespot.errors import ProjectError
from activespot.project import Project, workload

SMALL = {"cells": {"min_labels_per_class": 3, "retrain_every": 4, "region_px": 128, "coreset_size": 5, "max_iter": 50}}


@pytest.fixture
def project(tile, tmp_path):
    return Project.create_cells(
        tmp_path / "cells",
        image=tile["image"],
        nuclei=tile["csv"],
        classes=["red", "blue"],
        config=Config().updated(SMALL),
    )


def test_create_and_reopen_a_cell_project(project, tile):
    assert project.sample.kind == K.SAMPLE_KIND_CELLS
    assert project.sample.n_spots == len(tile["table"])
    again = Project.open(project.path)
    assert again.sample.nuclei_format == "csv"
    assert list(again.load_sample().obs_names) == list(project.load_sample().obs_names)
    assert again.config.cells.retrain_every == 4


def test_labels_carry_suggestion_source_and_region(project, tile):
    truth = tile["table"].set_index(tile["table"]["instance_id"].astype(str))["class_color"]
    first = cell_round(project)
    assert first.n_trained == 0
    assert first.region.cells
    assert not len(first.suggestions)
    # Label until both classes have 3 labels: manual, no suggestion shown yet.
    manual = {c: truth[c] for c in truth.index[:12]}
    assert label_cells(project, manual, annotator="ana")[K.SOURCE_MANUAL] == 12
    assert needs_new_round(project, latest_cell_round(project))
    second = cell_round(project)
    assert second.n_trained == 12
    assert second.suggestions["shown"].all()
    names = project.load_sample().obs_names[list(second.region.cells)]
    confidence = second.suggestions.loc[names, "confidence"].to_numpy()
    assert (confidence[1:] >= confidence[:-1]).all()  # the region lists its least confident cells first
    assert latest_cell_round(project).region.cells == second.region.cells  # the order is what the round stored
    todo = [project.load_sample().obs_names[i] for i in second.region.cells][:6]
    given = {c: truth[c] for c in todo}
    counts = label_cells(project, given, annotator="bo", current=second)
    wrong = sum(second.suggestions.loc[c, "label"] != truth[c] for c in todo)
    assert counts[K.SOURCE_CORRECTED] == wrong
    assert counts[K.SOURCE_ACCEPTED] == len(todo) - wrong

    events = project.store.events()
    assert set(events.loc[events["annotator"] == "bo", "round"]) == {second.number}
    by_annotator = workload(project.store, by="annotator")
    assert by_annotator.loc["ana", "suggestions_shown"] == 0
    assert by_annotator.loc["bo", "suggestions_shown"] == 6
    assert by_annotator.loc["bo", "workload"] == pytest.approx(wrong / 6)
    by_region = workload(project.store, by="region")
    assert by_region.loc[second.number, "corrected"] == wrong

    # An undone action no longer counts.
    project.store.undo(annotator="bo")
    after = workload(project.store, by="all")
    assert after.loc["all", "labels"] == 12 + 6 - counts[project.store.actions().iloc[-2]["kind"]]


def test_workload_counts_planted_journal(tmp_path):
    from activespot.project import LabelStore, Suggestion

    store = LabelStore(tmp_path / "labels.sqlite", create=True)
    store.add_labels({"c1": "a", "c2": "b"}, annotator="x", source=K.SOURCE_MANUAL)
    sugg = {c: Suggestion("a", 0.9) for c in ("c3", "c4", "c5", "c6")}
    store.add_labels({"c3": "a", "c4": "a", "c5": "a"}, annotator="x", source=K.SOURCE_ACCEPTED, suggestions=sugg)
    store.add_labels({"c6": "b"}, annotator="y", source=K.SOURCE_CORRECTED, suggestions=sugg, round_number=2)
    table = workload(store, by="all")
    assert table.loc["all", "suggestions_shown"] == 4
    assert table.loc["all", "corrected"] == 1
    assert table.loc["all", "workload_reduction"] == pytest.approx(0.75)
    assert workload(store, by="annotator").loc["y", "workload"] == 1.0
    with pytest.raises(ValueError, match="annotator, region, all"):
        workload(store, by="slide")


@pytest.mark.filterwarnings("ignore:.*lowres only")
def test_visium_project_is_not_a_cell_project(tmp_path):
    from activespot.cells import load_cells
    from tests.conftest import DLPFC

    project = Project.create(tmp_path / "spots", visium=DLPFC)
    with pytest.raises(ProjectError, match="not a cell project"):
        load_cells(project)


def test_a_retrain_keeps_the_unfinished_region_and_a_finished_one_moves_on(project, tile):
    truth = tile["table"].set_index(tile["table"]["instance_id"].astype(str))["class_color"]

    def names(region):
        return list(project.load_sample().obs_names[list(region.cells)])

    first = cell_round(project)
    cells = names(first.region)
    assert len(cells) >= 3
    label_cells(project, {c: truth[c] for c in cells[:2]}, annotator="ana", current=first)
    second = cell_round(project)  # retrained mid-region: same window, the cells still to do
    assert second.region.box == first.region.box
    assert sorted(names(second.region)) == sorted(cells[2:])
    label_cells(project, {c: truth[c] for c in names(second.region)}, annotator="ana", current=second)
    third = cell_round(project)  # region finished: the next one holds none of its cells
    assert not set(names(third.region)) & set(cells)
    assert not set(names(third.region)) & set(project.labels().index)


def test_features_are_cached_once_per_input(project, monkeypatch):
    """The descriptor is computed once per project; another patch side is another cache entry, not a stale hit."""
    import numpy as np

    from activespot.cells import _features, cell_feature_names, load_cells

    first = load_cells(project)
    cache = first.uns[K.CELLS_UNS_KEY]["features"]["cache_file"]
    assert list(project.features_dir.glob("cells-descriptor-*.npz")) == [Path(cache)]

    def no_recompute(*args, **kwargs):
        raise AssertionError("the cached descriptor was recomputed")

    with monkeypatch.context() as patched:
        patched.setattr(_features, "_describe_cells", no_recompute)
        again = load_cells(Project.open(project.path))
    np.testing.assert_array_equal(again.obsm[K.CELL_FEATURES_KEY], first.obsm[K.CELL_FEATURES_KEY])
    assert again.obsm[K.CELL_FEATURES_KEY].shape[1] == len(cell_feature_names())

    wider = Project.open(project.path)
    wider.config = wider.config.updated({"cells": {"patch_px": 48}})
    other = load_cells(wider)
    assert not np.allclose(other.obsm[K.CELL_FEATURES_KEY], first.obsm[K.CELL_FEATURES_KEY])
    assert len(list(project.features_dir.glob("cells-descriptor-*.npz"))) == 2
    assert not list(project.features_dir.glob(".*.tmp"))  # written atomically: no temporary file left


def test_a_wrong_backbone_in_the_project_names_its_settings_file(project):
    project.config = project.config.updated({"cells": {"backbone": "resnet-18"}})
    from activespot.cells import load_cells
    from activespot.errors import InputFileError

    with pytest.raises(InputFileError, match=r"project\.yaml: cells\.backbone: .*resnet18"):
        load_cells(project)


def test_a_cell_round_records_its_features_provenance(project):
    cell_round(project)
    info = project.latest_round(containing=K.ROUND_SUGGESTIONS).info
    assert info["features"]["backbone"] == "descriptor"
    assert info["features"]["patch_px"] == project.config.cells.patch_px
    assert Path(info["features"]["cache_file"]).parent == project.features_dir
    assert info["cells"]["num_threads"] is None
