"""``study features``: the same blocks serially, on two worker processes, and with a worker killed mid-run."""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
import types

import numpy as np
import pytest
from click.testing import CliRunner

from activespot import _constants as K
from activespot.cli import main
from activespot.errors import SettingError
from activespot.study import open_scheduler, update_study_features

from .conftest import new_study, stored_blocks


@pytest.fixture(scope="module")
def client():
    """A ``local:2`` cluster: two single-threaded worker processes (shared by this module's cluster tests).

    Workers are spawned, and a spawned process first runs the parent's ``__main__`` file; after
    Streamlit's ``AppTest`` (the app tests) that is a script of AppTest's that cannot run alone.
    A bare ``__main__``, as in a notebook, is what the activespot command's guarded one amounts to.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
        with open_scheduler("local:2") as client:
            info = client.scheduler_info()
            assert len(info["workers"]) == 2
            assert all(worker["nthreads"] == 1 for worker in info["workers"].values())
            yield client


def assert_same_blocks(study, reference) -> None:
    expected, found = stored_blocks(reference), stored_blocks(study)
    assert found.keys() == expected.keys()
    for sample, blocks in expected.items():
        for key, block in blocks.items():
            np.testing.assert_array_equal(found[sample][key], block, err_msg=f"{sample} {key}")


def test_a_rerun_computes_nothing(serial_study):
    files = [section.project / K.FEATURES_DIR / K.FEATURES_FILE for section in serial_study.sections]
    before = [path.stat().st_mtime_ns for path in files]
    result = CliRunner().invoke(main, ["study", "features", str(serial_study.path)])
    assert result.exit_code == 0, result.output
    assert "151673: up to date" in result.output
    assert "151674: up to date" in result.output
    assert "0 of 2 sections computed, 2 up to date" in result.output
    assert [path.stat().st_mtime_ns for path in files] == before


def test_two_workers_give_the_serial_blocks(client, serial_study, manifest, tmp_path):
    """Joined as a running cluster (tcp://), as on a cluster of machines."""
    study = new_study(tmp_path / "study", manifest)
    address = client.scheduler.address
    result = CliRunner().invoke(main, ["study", "features", str(study.path), "--scheduler", address])
    assert result.exit_code == 0, result.output
    assert "2 of 2 sections computed" in result.output
    assert_same_blocks(study, serial_study)


def test_a_worker_killed_mid_run_changes_nothing(client, serial_study, manifest, tmp_path):
    study = new_study(tmp_path / "study", manifest)
    pids = client.run(os.getpid)
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["results"] = update_study_features(study, scheduler=client, progress=False)
        except Exception as err:  # handed to the test below
            outcome["error"] = err

    thread = threading.Thread(target=run)
    thread.start()
    killed, deadline = None, time.monotonic() + 60
    while killed is None and time.monotonic() < deadline and thread.is_alive():
        busy = [address for address, keys in client.processing().items() if keys and address in pids]
        if busy:
            killed = busy[0]
            os.kill(pids[killed], signal.SIGKILL)
        time.sleep(0.01)
    thread.join(timeout=120)
    assert killed is not None, "no worker was seen holding a task"
    assert "error" not in outcome, outcome.get("error")
    assert [result.computed for result in outcome["results"]] == [True, True]
    assert_same_blocks(study, serial_study)


def test_a_scheduler_that_does_not_answer_is_one_line_and_fast(serial_study, manifest, tmp_path):
    study = new_study(tmp_path / "study", manifest)
    with socket.socket() as free:  # a port nothing listens on
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    start = time.monotonic()
    result = CliRunner().invoke(
        main, ["study", "features", str(study.path), "--scheduler", f"tcp://127.0.0.1:{port}", "--connect-timeout", "1"]
    )
    assert time.monotonic() - start < 10
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert f"error: scheduler tcp://127.0.0.1:{port} did not answer within 1 s: " in result.output
    assert not any((section.project / K.FEATURES_DIR / K.FEATURES_FILE).exists() for section in study.sections)


@pytest.mark.parametrize("scheduler", ["local:0", "local:two", "tcp://", "dask"])
def test_a_malformed_scheduler_lists_the_forms(serial_study, scheduler):
    with pytest.raises(SettingError, match="local:N"):
        update_study_features(serial_study, scheduler=scheduler, progress=False)
    result = CliRunner().invoke(main, ["study", "features", str(serial_study.path), "--scheduler", scheduler])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1


def test_local_workers_of_a_machine_with_several_gpus_take_one_each(monkeypatch):
    import distributed
    import torch

    from activespot.study import worker_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert worker_device("auto") == "auto"  # not in a worker: this process resolves it itself

    class Worker:
        def __init__(self, name):
            self.name = name

    for name, expected in ((0, "cuda:0"), (1, "cuda:1"), (2, "cuda:0")):
        monkeypatch.setattr(distributed, "get_worker", lambda name=name: Worker(name))
        assert worker_device("auto") == expected
        assert worker_device("cuda") == expected
        assert worker_device("cpu") == "cpu"  # a device asked for by name stays
        assert worker_device("cuda:1") == "cuda:1"
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)  # a dask-cuda worker sees its own GPU only
    assert worker_device("auto") == "auto"


def test_local_workers_from_the_command_line_print_one_line_warnings_without_docrep(serial_study, manifest, tmp_path):
    """``--scheduler local:N`` as a user runs it; squidpy's docrep warnings used to print from every worker."""
    import subprocess
    import sys

    study = new_study(tmp_path / "study", manifest)
    command = [sys.executable, "-c", "from activespot.cli import main; main()"]
    done = subprocess.run(
        [*command, "study", "features", str(study.path), "--scheduler", "local:2"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "2 of 2 sections computed" in done.stdout
    assert "docrep" not in done.stderr
    assert "SyntaxWarning" not in done.stderr
    assert_same_blocks(study, serial_study)
