"""One definition per number: `activespot info`, Overview and Workload agree after undo (issue 18, bugs 13, 5)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from activespot import _constants as K
from activespot.cli import main
from activespot.project import LabelStore, Project, Suggestion, annotator_workload, label_givers, workload

from .conftest import open_app

OTHER = "Dr. Test"


def _info(path) -> dict:
    result = CliRunner().invoke(main, ["info", str(path), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _overview(path, annotator: str) -> tuple[dict[str, str], str]:
    app = open_app(path, annotator=annotator)
    metrics = {m.label: m.value for m in app.metric}
    return metrics, next(c.value for c in app.caption if "by annotator" in c.value)


def _workload_page(path, annotator: str) -> dict[str, str]:
    app = open_app(path, annotator=annotator, page="workload")
    return {m.label: m.value for m in app.metric}


def test_info_overview_and_workload_give_the_same_numbers_after_an_undo(demo_project):
    project = Project.open(demo_project)
    barcodes = [b for b in project.barcodes if b not in project.labels()][:20]
    project.add_labels(dict.fromkeys(barcodes[:12], "L1"), annotator=OTHER)
    project.add_labels(dict.fromkeys(barcodes[12:], "L2"), annotator=OTHER)
    relabelled = list(project.labels().index[:3])  # the demo's labels: given again by OTHER
    project.add_labels(dict.fromkeys(relabelled, "WM"), annotator=OTHER)
    project.store.undo(annotator=OTHER, only_own=True)  # the three re-labels: back to the demo's labels
    project.store.undo(annotator=OTHER, only_own=True)  # the eight L2 labels: gone
    demo_labels = 53

    details = _info(demo_project)
    assert details["labelled"] == demo_labels + 12
    assert details["annotators"] == {"demo": demo_labels, OTHER: 12}
    assert sum(details["annotators"].values()) == details["labelled"] == sum(details["classes"].values())
    assert details["rounds"] == 1  # the trained round; the first query has no model
    assert details["unit"] == "spots"

    metrics, annotators = _overview(demo_project, OTHER)
    assert metrics["Labelled"] == str(details["labelled"])
    assert metrics["Rounds"] == str(details["rounds"])
    assert f"{OTHER} (12)" in annotators
    assert "demo (53)" in annotators

    page = _workload_page(demo_project, OTHER)
    assert page["Your labels"] == "12"
    table = annotator_workload(Project.open(demo_project).store)
    assert table["labels"].to_dict() == details["annotators"]
    assert table.loc[OTHER, "undone"] == 3 + 8
    assert table.loc[OTHER, K.SOURCE_MANUAL] == 12


def test_before_any_model_there_are_no_rounds(tmp_path):
    from activespot.project import suggest
    from tests.conftest import DLPFC

    with pytest.warns(UserWarning, match="lowres"):
        project = Project.create(tmp_path / "p", visium=DLPFC, annotator="a")
    suggest(project)  # the initial query: a round, but no model
    details = _info(project.path)
    assert (details["rounds"], details["last_round"]) == (0, None)
    app = open_app(project.path, annotator="a")
    assert {m.label: m.value for m in app.metric}["Rounds"] == "0"


def test_info_on_a_cell_project_speaks_of_cells(cell_project):
    details = _info(cell_project.path)
    assert details["unit"] == "cells"
    assert details["cells"] == cell_project.sample.n_spots
    assert details["labelled"] == 12
    assert details["annotators"] == {"ana": 12}
    assert not {"spots", "genes", "library_id", "sample"} & set(details)
    text = CliRunner().invoke(main, ["info", str(cell_project.path)]).output
    assert "labelled cells" in text
    assert "cells " in text
    for wrong in ("library", "genes", "spots", "None"):
        assert wrong not in text, wrong


def test_one_workload_definition_for_spots_and_cells(tmp_path):
    """Undone actions count nowhere; corrected / shown; the same table behind every page and command."""
    store = LabelStore(tmp_path / "labels.sqlite", create=True)
    shown = {c: Suggestion("a", 0.8) for c in ("c1", "c2", "c3", "c4")}
    store.add_labels({"c1": "a", "c2": "a"}, annotator="x", source=K.SOURCE_ACCEPTED, suggestions=shown, round_number=1)
    store.add_labels({"c3": "b"}, annotator="x", source=K.SOURCE_CORRECTED, suggestions=shown, round_number=1)
    store.add_labels({"c4": "b"}, annotator="y", source=K.SOURCE_CORRECTED, suggestions=shown, round_number=2)
    store.add_labels({"c5": "a"}, annotator="y", source=K.SOURCE_IMPORTED)
    store.undo(annotator="y", only_own=True)  # the import
    store.undo(annotator="x", only_own=True)  # the correction of c3

    by_annotator = workload(store, by="annotator")
    assert by_annotator.loc["x"][["labels", "accepted", "corrected", "undone", "suggestions_shown"]].tolist() == [
        2, 2, 0, 1, 2,
    ]  # fmt: skip
    assert by_annotator.loc["x", "workload_reduction"] == pytest.approx(1.0)
    assert by_annotator.loc["y"][["labels", "corrected", "imported", "undone"]].tolist() == [1, 1, 0, 1]
    assert by_annotator.loc["y", "workload"] == pytest.approx(1.0)
    overall = workload(store, by="all").loc["all"]
    assert (overall["labels"], overall["suggestions_shown"], overall["corrected"]) == (3, 3, 1)
    assert overall["workload_reduction"] == pytest.approx(2 / 3)
    assert workload(store, by="region")["corrected"].to_dict() == {1: 0, 2: 1, -1: 0}
    assert annotator_workload(store)[list(by_annotator.columns)].equals(by_annotator)
    assert label_givers(store)["annotator"].to_dict() == {"c1": "x", "c2": "x", "c4": "y"}
