from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from activespot.project import Project
from tests.conftest import DLPFC

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def labelled_project(tmp_path, dlpfc_truth):
    project = Project.create(tmp_path / "project", visium=DLPFC, classes=sorted(dlpfc_truth.unique()))
    project.add_labels(dlpfc_truth.iloc[:40].to_dict(), annotator="ana")
    return project.path


def test_overview_shows_the_project_without_errors(labelled_project):
    app = AppTest.from_file(APP, default_timeout=60)
    app.session_state["project_path"] = str(labelled_project)
    app.run()
    assert not app.exception
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Spots"] == "3639"
    assert metrics["Labelled"] == "40"


def test_app_without_a_project_asks_for_one():
    app = AppTest.from_file(APP, default_timeout=30).run()
    assert not app.exception
    assert "project" in app.info[0].value
