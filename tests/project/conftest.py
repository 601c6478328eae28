"""A small real project shared by the round tests: DLPFC 151673 with 120 real layer labels."""

import shutil
from pathlib import Path

import pytest

from activespot.project import Project, suggest
from tests.conftest import DLPFC


@pytest.fixture(scope="module")
def template(tmp_path_factory, dlpfc_truth) -> Path:
    """The real 151673 section with 120 real layer labels and cached features; small, one-thread model."""
    path = tmp_path_factory.mktemp("round_lock") / "project"
    project = Project.create(path, visium=DLPFC, classes=sorted(dlpfc_truth.unique()), annotator="t")
    project.save_config(project.config.updated({"model": {"epochs": 8, "num_threads": 1}}))
    suggest(project)  # computes and caches the features once
    labels = dlpfc_truth.reindex(project.barcodes).dropna().sample(120, random_state=0)
    project.add_labels(labels.to_dict(), annotator="t")
    project.close()
    return path


@pytest.fixture
def labelled_project(template, tmp_path):
    """A fresh copy of the template project (its rounds start after the initial query)."""
    project = Project.open(shutil.copytree(template, tmp_path / "project"))
    yield project
    project.close()
