"""Kill a process that is importing labels and running rounds, at random moments, for real.

After every SIGKILL the project is reopened: every import the child reported as committed is
there, the import in flight is there entirely or not at all, the newest round is complete and
verified, and no half-written round is visible.
"""

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from activespot import _constants as K
from activespot.io import write_loupe_csv
from activespot.model import FusedMLPClassifier
from activespot.project import Project, suggest
from tests.conftest import DLPFC

CHILD = Path(__file__).with_name("_crash_child.py")
TRIALS = 20
BATCH = 15  # spots per imported file (real labels of 151673)


def _run_child_until_killed(project_dir, batches_dir, start, rng):
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(project_dir), str(batches_dir), str(start)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def read():
        for line in child.stdout:
            lines.append(line.strip())
            if line.strip() == "ready":
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert ready.wait(timeout=60), child.stderr.read()
    time.sleep(rng.uniform(0.0, 1.5))
    child.kill()  # SIGKILL: no cleanup, no atexit, no finally
    child.wait()
    reader.join(timeout=10)
    return lines


@pytest.mark.slow
def test_sigkill_at_random_moments_never_loses_committed_labels_or_exposes_half_rounds(tmp_path, dlpfc_truth):
    rng = np.random.default_rng(7)
    classes = sorted(dlpfc_truth.unique())
    project = Project.create(tmp_path / "project", visium=DLPFC, classes=classes, annotator="setup")
    suggest(project)  # computes and caches the features, as a user's first command would
    truth = dlpfc_truth.sample(frac=1, random_state=0)  # real labels, in random order
    batches_dir = tmp_path / "batches"
    expected: dict[int, pd.Series] = {}
    for batch, first in enumerate(range(0, len(truth), BATCH)):
        expected[batch] = truth.iloc[first : first + BATCH]
        write_loupe_csv(expected[batch], batches_dir / f"batch_{batch:03d}.csv")
    project.import_loupe(batches_dir / "batch_000.csv", annotator="setup")  # two classes at least
    project.close()

    committed_batches: set[int] = {0}
    committed_rounds: set[int] = set()
    start = 1
    killed_before_commit = 0
    killed_during_round = 0
    for _ in range(TRIALS):
        lines = _run_child_until_killed(project.path, batches_dir, start, rng)
        killed_during_round += bool(lines) and lines[-1].startswith("imported")
        committed_batches |= {int(line.split()[1]) for line in lines if line.startswith("imported")}
        committed_rounds |= {int(line.split()[1]) for line in lines if line.startswith("round")}

        reopened = Project.open(project.path)
        assert reopened.store.integrity_problems() == []
        labels = reopened.labels()
        for batch in committed_batches:
            assert labels.reindex(expected[batch].index).equals(expected[batch]), f"committed batch {batch} lost"
        in_flight = max(committed_batches, default=-1) + 1
        if in_flight in expected:
            present = labels.index.isin(expected[in_flight].index).sum()
            assert present in (0, len(expected[in_flight])), f"batch {in_flight} half imported ({present})"
            killed_before_commit += present == 0
        latest = reopened.latest_round()
        if committed_rounds:
            assert latest is not None
            assert latest.number >= max(committed_rounds)
        trained = reopened.latest_round(containing=K.ROUND_PREDICTIONS)
        if trained is not None:
            predictions = trained.load_table(K.ROUND_PREDICTIONS)
            assert predictions.index.equals(reopened.barcodes)
            probabilities = trained.load_array(K.ROUND_PROBABILITIES)
            assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-4)
            model = FusedMLPClassifier.from_bytes(trained.load_file(K.ROUND_MODEL))
            assert list(model.classes_) == sorted(model.classes_)
        assert not list(reopened.rounds_dir.glob(".round_*")), "a half-written round is still visible"
        start = max(committed_batches, default=-1) + 1
        if start in expected and labels.index.isin(expected[start].index).all():
            start += 1  # the in-flight import had committed before its line was printed
        reopened.close()
    assert killed_before_commit > 0, "no trial was killed before an import committed; widen the timing"
    assert killed_during_round > 0, "no trial was killed while a round was running; widen the timing"
