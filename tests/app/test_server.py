"""Starting the app: the command line, a busy port, and a server that never outlives ``activespot app``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from activespot.app import app_command, app_script, check_port
from activespot.app._server import free_port
from activespot.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_app_command_binds_localhost_and_names_the_project(tmp_path):
    command = app_command(tmp_path, port=8765, options=("--theme.base", "dark"))
    assert command[command.index("--server.address") + 1] == "127.0.0.1"
    assert command[command.index("--server.port") + 1] == "8765"
    assert command.index("--theme.base") < command.index("--")
    assert command[-2:] == ["--project", str(tmp_path.absolute())]
    assert command[command.index("run") + 1] == str(app_script())


def test_app_refuses_a_folder_that_is_not_a_project(tmp_path):
    result = CliRunner().invoke(main, ["app", str(tmp_path)])
    assert result.exit_code != 0
    assert len(result.stderr.strip().splitlines()) == 1
    assert "not an activespot project" in result.stderr


def test_app_command_turns_off_what_slows_every_click(tmp_path):
    """The file watcher and the post-rerun full GC cost CPU on each click (issue 5's latency)."""
    command = app_command(tmp_path)
    assert command[command.index("--server.fileWatcherType") + 1] == "none"
    assert command[command.index("--runner.postScriptGC") + 1] == "false"


def _activespot(*args: str, cwd: Path, log: Path) -> subprocess.Popen:
    """``activespot ARGS`` in a process of its own, output to ``log`` (this checkout's code)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with log.open("wb") as sink:
        return subprocess.Popen([sys.executable, "-c", "from activespot.cli import main; main()", *args],
                                cwd=cwd, env=env, stdout=sink, stderr=subprocess.STDOUT)  # fmt: skip


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as reply:
            return reply.status == 200
    except OSError:
        return False


def _wait_until(condition, *, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def test_killing_activespot_app_stops_its_server(demo_project, tmp_path):
    """Issue 18, bug 12: SIGKILL on ``activespot app`` used to leave its Streamlit child serving."""
    port = free_port()
    log = tmp_path / "app.log"
    app = _activespot("app", str(demo_project), "--port", str(port), cwd=tmp_path, log=log)
    try:
        _wait_until(lambda: _answers(port) or app.poll() is not None, timeout=90, what="no answer", log=log)
        assert app.poll() is None, log.read_text()
        os.kill(app.pid, signal.SIGKILL)
        app.wait(timeout=10)
        _wait_until(lambda: not _answers(port), timeout=10, what="still serving after SIGKILL", log=log)
        check_port("127.0.0.1", port)  # free again: the next `activespot app` can take it
    finally:
        if app.poll() is None:
            app.kill()


def test_a_busy_port_is_one_line_with_the_next_free_port_before_anything_starts(demo_project, monkeypatch):
    started = []
    monkeypatch.setattr(os, "execve", lambda *args: started.append(args))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(main, ["app", str(demo_project), "--port", str(port)])
        assert result.exit_code == 2
        assert not started  # Streamlit was never started
        line = result.stderr.strip()
        assert len(line.splitlines()) == 1
        assert f"port {port} is in use on 127.0.0.1" in line
        suggested = int(line.rsplit("try --port ", 1)[1])
        assert suggested > port
        check_port("127.0.0.1", suggested)


def test_activespot_app_becomes_the_server_with_the_annotator_and_truth(demo_project, tmp_path, monkeypatch):
    started = []
    monkeypatch.setattr(os, "execve", lambda *args: started.append(args))
    truth = tmp_path / "truth.csv"
    truth.write_text("barcode,class\n")
    port = free_port()
    arguments = ["app", str(demo_project), "--port", str(port), "--annotator", "Dr. Ada", "--truth", str(truth)]
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 0, result.output
    ((program, command, env),) = started
    assert program == sys.executable
    assert command[command.index("run") + 1] == str(app_script())
    assert command[-2:] == ["--truth", str(truth)]
    assert env["ACTIVESPOT_ANNOTATOR"] == "Dr. Ada"
