"""The cells page: region, accept all, correct by editing, workload panel (widgets addressed by key)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from activespot import _constants as K
from activespot.config import Config
from activespot.project import Project

SMALL = {"cells": {"min_labels_per_class": 3, "retrain_every": 4, "region_px": 128, "coreset_size": 5, "max_iter": 50}}


def _page(project_path: str) -> None:
    from activespot.app._cells import render_cells
    from activespot.project import Project

    render_cells(Project.open(project_path), annotator="ana")


@pytest.fixture
def project(tile, tmp_path):
    project = Project.create_cells(
        tmp_path / "cells",
        image=tile["image"],
        nuclei=tile["csv"],
        classes=["red", "blue"],
        config=Config().updated(SMALL),
    )
    table = tile["table"]
    project.add_labels(dict(zip(table["instance_id"].astype(str)[:12], table["class_color"][:12], strict=True)),
                       annotator="ana")  # fmt: skip
    return project


def test_page_shows_region_and_accept_all_stores_accepted_labels(project):
    app = AppTest.from_function(_page, args=(str(project.path),), default_timeout=60).run()
    assert not app.exception, app.exception
    assert "Round" in app.caption[0].value
    assert app.button(key="cells_accept_all").disabled is False
    before = len(project.labels())
    app.button(key="cells_accept_all").click().run()
    assert not app.exception, app.exception
    events = Project.open(project.path).store.events()
    assert len(Project.open(project.path).labels()) > before
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


def test_the_app_opens_a_cell_project_on_its_cells_page(project):
    from pathlib import Path

    app_file = str(Path(__file__).resolve().parents[2] / "app.py")
    app = AppTest.from_file(app_file, default_timeout=60)
    app.session_state["project_path"] = str(project.path)
    app.run()
    assert not app.exception, app.exception
    assert app.title[0].value == "Cells"
