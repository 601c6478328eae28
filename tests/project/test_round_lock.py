"""Rounds are allocated and registered under one lock: concurrent runs never share a number or files."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from activespot import _constants as K
from activespot.project import Project, RoundBusyError, run_round

ACTIVESPOT = Path(sys.executable).with_name("activespot")
PAIRS = 10


def test_a_second_round_refuses_with_who_and_when_while_one_is_running(labelled_project):
    other = Project.open(labelled_project.path)
    with labelled_project.round_lock(annotator="Dr. Ada") as number:
        with pytest.raises(RoundBusyError, match=r"a round is already running .*started by Dr\. Ada at \d{4}-"):
            run_round(other, wait=False, annotator="Dr. Bo")
        assert number == labelled_project.next_round_number  # nothing registered by the refused run
    summary = run_round(other, wait=False, annotator="Dr. Bo")  # the lock is free again
    assert summary.round == number
    other.close()


def test_the_holder_of_the_lock_is_known_without_waiting_and_without_keeping_it(labelled_project):
    other = Project.open(labelled_project.path)
    assert other.round_holder() is None
    with labelled_project.round_lock(annotator="Dr. Ada"):
        holder = other.round_holder()
        assert holder["annotator"] == "Dr. Ada"
        assert labelled_project.round_holder()["annotator"] == "Dr. Ada"
        assert holder["started_at"].startswith("20")
    assert other.round_holder() is None  # asking took nothing: the lock is free
    with other.round_lock(wait=False):
        pass
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


def test_opening_the_project_while_a_round_is_saved_leaves_its_staging_folder_alone(labelled_project):
    """The app opens the project on every rerun; that once deleted a round's files while it wrote them."""
    rounds = labelled_project.rounds_dir
    with labelled_project.round_lock():
        staging = rounds / ".round_0099.tmp-running"  # what save_round writes into
        staging.mkdir()
        Project.open(labelled_project.path).close()
        assert staging.is_dir()
    Project.open(labelled_project.path).close()  # no round running: a leftover of a killed run
    assert not staging.exists()
