"""The cells page: region, accept all, correct by clicking a nucleus or editing the table, workload panel (by key)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from activespot import _constants as K
from activespot.cells import latest_cell_round, load_cells
from activespot.project import Project


def _page(project_path: str) -> None:
    from activespot.app._cells import render_cells
    from activespot.project import Project

    render_cells(Project.open(project_path), annotator="ana")


def test_page_shows_region_and_accept_all_stores_accepted_labels(cell_project):
    app = AppTest.from_function(_page, args=(str(cell_project.path),), default_timeout=60).run()
    assert not app.exception, app.exception
    assert "Round" in app.caption[0].value
    assert app.button(key="cells_accept_all").disabled is False
    before = len(cell_project.labels())
    app.button(key="cells_accept_all").click().run()
    assert not app.exception, app.exception
    events = Project.open(cell_project.path).store.events()
    assert len(Project.open(cell_project.path).labels()) > before
    assert set(events["source"]) == {K.SOURCE_MANUAL, K.SOURCE_ACCEPTED}
    assert events.loc[events["source"] == K.SOURCE_ACCEPTED, "suggested_label"].notna().all()
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Workload reduction"] == "100.0%"
    assert metrics["Corrected"] == "0"


def test_page_for_a_visium_project_says_so(tmp_path):
    from tests.conftest import DLPFC

    with pytest.warns(UserWarning, match="lowres"):
        project = Project.create(tmp_path / "spots", visium=DLPFC)
    app = AppTest.from_function(_page, args=(str(project.path),), default_timeout=60).run()
    assert not app.exception
    assert "Visium" in app.info[0].value


def test_the_app_opens_a_cell_project_on_its_cells_page(cell_project):
    from pathlib import Path

    app_file = str(Path(__file__).resolve().parents[2] / "app.py")
    app = AppTest.from_file(app_file, default_timeout=60)
    app.session_state["project_path"] = str(cell_project.path)
    app.run()
    assert not app.exception, app.exception
    assert app.title[0].value == "Cells"
    assert f"· {len(load_cells(cell_project)):,} cells" in app.sidebar.markdown[0].value  # not "spots"


def test_clicking_a_nucleus_and_a_class_stores_a_correction_with_the_suggestion(cell_project):
    app = AppTest.from_function(_page, args=(str(cell_project.path),), default_timeout=60).run()
    assert not app.exception, app.exception
    assert any("Click a nucleus" in c.value for c in app.caption)
    current = latest_cell_round(Project.open(cell_project.path))
    cell = str(load_cells(cell_project).obs_names[current.region.cells[0]])  # the first cell the page lists
    suggested = current.suggestions.loc[cell, "label"]
    other = next(c for c in ("red", "blue") if c != suggested)
    app.session_state["cells_region_0"] = {"selection": {"cell": [{K.CELL_ID: cell}]}}
    app.run()
    assert any(f"Cell {cell}" in m.value and f"suggestion: {suggested}" in m.value for m in app.markdown)
    app.button(key=f"cells_set_{['red', 'blue'].index(other)}").click().run()
    assert not app.exception, app.exception
    events = Project.open(cell_project.path).store.events()
    stored = events[events["item"] == cell]
    assert len(stored) == 1
    assert stored.iloc[0][["label", "source", "suggested_label"]].tolist() == [other, K.SOURCE_CORRECTED, suggested]
    assert app.session_state["cells_version"] == 1  # the click is dropped with the old chart
    assert any("Click a nucleus" in c.value for c in app.caption)


def test_a_click_on_a_cell_outside_the_region_is_ignored(cell_project):
    app = AppTest.from_function(_page, args=(str(cell_project.path),), default_timeout=60)
    app.session_state["cells_region_0"] = {"selection": {"cell": [{K.CELL_ID: "no-such-cell"}]}}
    app.run()
    assert not app.exception, app.exception
    assert any("Click a nucleus" in c.value for c in app.caption)
