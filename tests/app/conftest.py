"""Fixtures of the review-app tests: a demo project (features, a first query answered, one round)."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from activespot import _constants as K
from activespot.app import _state as S
from activespot.app import app_script
from activespot.app._data import page_file
from activespot.project import Project
from tests.conftest import DLPFC
from tests.transfer.conftest import subsets, truth  # noqa: F401  (fixtures of the transferred project)

APP = app_script()  # the packaged entry point (what `activespot app` serves)
CHECKOUT_APP = Path(__file__).resolve().parents[2] / "app.py"  # `streamlit run app.py`: runs the same main()
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ANNOTATOR = "Dr. Ada"


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory, dlpfc_truth) -> Path:
    """What ``activespot demo --rounds 1`` builds before its simulation: built once, never changed."""
    from activespot.io import write_loupe_csv
    from activespot.project import run_round, suggest

    out = tmp_path_factory.mktemp("demo")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "lowres only": known for the bundled sample
        project = Project.create(out / "project", visium=DLPFC, classes=sorted(dlpfc_truth.unique()), annotator="demo")
    first = suggest(project)
    answers = dlpfc_truth.reindex(first.barcodes).dropna()
    project.import_loupe(write_loupe_csv(answers, out / "answers.csv", category="Layer"), annotator="demo")
    run_round(project)
    project.close()
    return project.path


def _private_copy(template: Path, target: Path) -> Path:
    """A copy of a session-wide project that one test may change."""
    shutil.copytree(template, target)
    return target


@pytest.fixture
def demo_project(demo_template, tmp_path) -> Path:
    """A private copy of the demo project (the app may write to it)."""
    return _private_copy(demo_template, tmp_path / "project")


@pytest.fixture(scope="session")
def transferred_template(tmp_path_factory, subsets, truth) -> Path:  # noqa: F811  (fixtures imported above)
    """What ``activespot transfer`` makes: a project whose only round is of kind ``transferred``; never changed."""
    from activespot.transfer import transfer_labels

    folder = tmp_path_factory.mktemp("transferred")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "lowres image only"
        source = Project.create(folder / "source", visium=subsets["151673"], annotator="source")
        small = {"features": {"n_top_genes": 300, "n_pcs": 20, "context_rings": 1}, "model": {"epochs": 20}}
        source.save_config(source.config.updated(small))
        labels = truth["151673"].reindex(source.barcodes).dropna()
        source.add_labels(labels.to_dict(), annotator="source", source=K.SOURCE_IMPORTED)
        summary = transfer_labels(
            source, subsets["151674"], out=folder / "target", harmony=False, ensemble=1, progress=False
        )
    source.close()
    return summary.project


@pytest.fixture
def transferred_project(transferred_template, tmp_path) -> Path:
    """A private copy of the transferred project (the app may write to it)."""
    return _private_copy(transferred_template, tmp_path / "transferred")


def journal(path: Path) -> pd.DataFrame:
    """The events of a project's label journal."""
    project = Project.open(path)
    try:
        return project.store.events()
    finally:
        project.close()


def open_app(project: Path, *, annotator: str = ANNOTATOR, page: str | None = None) -> AppTest:
    """The app on ``project`` with ``annotator`` in the sidebar, run once (on ``page`` if given)."""
    app = AppTest.from_file(str(APP), default_timeout=60)
    app.session_state[S.PROJECT_PATH] = str(project)
    app.session_state[S.ANNOTATOR] = annotator
    app.run()
    if page:
        app.switch_page(page_file(page)).run()
    assert not app.exception, app.exception
    return app
