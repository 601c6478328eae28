"""Starting the review app's Streamlit server for a project: one command line for the CLI, tests and benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from .. import _constants as K
from ..errors import ProjectError

__all__ = ["HEADLESS_CHROMIUM_ARGS", "app_command", "app_script", "free_port", "start_app_server"]

# How the browser test and benchmark start Debian's chromium: headless, offline, no background traffic.
HEADLESS_CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def app_script() -> Path:
    """The Streamlit entry point, ``app.py`` at the repository root."""
    script = Path(__file__).resolve().parents[2] / K.APP_SCRIPT
    if not script.is_file():
        msg = f"{script}: the review app is not there; run activespot from a source checkout (pip install -e .)"
        raise ProjectError(msg)
    return script


def app_command(
    project: str | Path,
    *,
    host: str = K.APP_HOST,
    port: int = K.APP_PORT,
    headless: bool = True,
    options: Sequence[str] = (),
) -> list[str]:
    """The ``streamlit run app.py [options] -- --project PROJECT`` command line, bound to ``host`` only.

    Two Streamlit defaults that suit code being edited are turned off for people labelling: the
    file watcher (it polls every module the app imports) and the full garbage collection after
    every rerun (with AnnData, torch and scanpy loaded it cost ~150 ms of CPU per click).
    """
    return [
        sys.executable, "-m", "streamlit", "run", str(app_script()),
        "--server.address", host, "--server.port", str(port), "--server.headless", str(headless).lower(),
        "--server.maxUploadSize", str(K.APP_UPLOAD_LIMIT_MB), "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none", "--runner.postScriptGC", "false",
        *options, "--", "--project", str(Path(project).absolute()),
    ]  # fmt: skip


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app_server(
    project: str | Path, *, log: Path, timeout: float = 90, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, str]:
    """Serve the app for ``project`` on a free local port; return the process once it answers, and its URL.

    Output goes to ``log``. Raises ``RuntimeError`` (with the end of the log) if Streamlit exits or
    does not answer its health check within ``timeout`` seconds.
    """
    port = free_port()
    command = app_command(project, port=port)
    with log.open("wb") as sink:
        server = subprocess.Popen(
            command, cwd=app_script().parent, env=env or dict(os.environ), stdout=sink, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            msg = f"streamlit exited with {server.returncode}:\n{log.read_text()[-3000:]}"
            raise RuntimeError(msg)
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    return server, url
        except OSError:
            time.sleep(0.1)
    server.terminate()
    msg = f"streamlit did not answer on {url} within {timeout} s:\n{log.read_text()[-3000:]}"
    raise RuntimeError(msg)
