"""Rounds are allocated and registered under one lock: concurrent runs never share a number or files."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from activespot import _constants as K
from activespot.project import Project, RoundBusyError, run_round, suggest
from tests.conftest import DLPFC

ACTIVESPOT = Path(sys.executable).with_name("activespot")
PAIRS = 10


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


def test_a_second_round_refuses_with_who_and_when_while_one_is_running(labelled_project):
    other = Project.open(labelled_project.path)
    with labelled_project.round_lock(annotator="Dr. Ada") as number:
        with pytest.raises(RoundBusyError, match=r"a round is already running .*started by Dr\. Ada at \d{4}-"):
            run_round(other, wait=False, annotator="Dr. Bo")
        assert number == labelled_project.next_round_number  # nothing registered by the refused run
    summary = run_round(other, wait=False, annotator="Dr. Bo")  # the lock is free again
    assert summary.round == number
    other.close()


def test_save_round_outside_the_lock_or_with_another_number_is_refused(labelled_project):
    with pytest.raises(RuntimeError, match="round_lock"):
        labelled_project.save_round(labelled_project.next_round_number, info={"kind": "x"})
    with labelled_project.round_lock() as number, pytest.raises(RuntimeError, match="round_lock"):
        labelled_project.save_round(number + 1, info={"kind": "x"})


def test_a_registered_round_is_never_replaced(labelled_project):
    first = run_round(labelled_project)
    before = labelled_project.round(first.round)
    # A stale writer that still believes the number is free (what two tabs did before the lock).
    with labelled_project.round_lock() as number:
        assert number == first.round + 1
    assert labelled_project.round(first.round).info == before.info
    assert labelled_project.round(first.round).files == before.files


@pytest.mark.slow
def test_two_round_commands_at_the_same_moment_ten_times(labelled_project):
    path = str(labelled_project.path)
    for _ in range(PAIRS):
        runs = [
            subprocess.Popen(
                [str(ACTIVESPOT), "round", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            for _ in range(2)
        ]
        for run in runs:
            out, err = run.communicate(timeout=300)
            assert run.returncode == 0, err
            assert "Traceback" not in err + out
    project = Project.open(path)
    rows = project.store.rounds()
    trained = rows[rows[K.ROUND_KIND_COLUMN] == K.ROUND_KIND_TRAINED]
    assert len(trained) == 2 * PAIRS
    assert rows["round"].is_unique
    assert list(rows["round"]) == list(range(1, len(rows) + 1))
    for number in rows["round"]:
        verified = project.round(number)
        assert verified is not None, f"round {number} does not match its manifest"
        manifest = json.loads((verified.path / K.ROUND_MANIFEST).read_text())
        assert manifest["round"] == number
    project.close()
