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
from ..errors import ActivespotError

__all__ = [
    "HEADLESS_CHROMIUM_ARGS",
    "PortInUseError",
    "app_command",
    "app_script",
    "check_port",
    "free_port",
    "start_app_server",
]

_PORTS_TRIED = 100  # how far above a busy port the next free one is looked for

# How the browser test and benchmark start Debian's chromium: headless, offline, no background traffic.
HEADLESS_CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


class PortInUseError(ActivespotError):
    """The port the app should serve on is taken (often by an app still running)."""


def app_script() -> Path:
    """The Streamlit entry point, ``activespot/app/_main.py``: inside the package, so any install can serve the app."""
    return Path(__file__).resolve().parent / K.APP_SCRIPT


def app_command(
    project: str | Path,
    *,
    host: str = K.APP_HOST,
    port: int = K.APP_PORT,
    headless: bool = True,
    options: Sequence[str] = (),
) -> list[str]:
    """The ``streamlit run SCRIPT [options] -- --project PROJECT`` command line, bound to ``host`` only.

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


def check_port(host: str, port: int) -> None:
    """Raise :class:`PortInUseError`, naming the next free port, when something listens on ``host:port``.

    Checked before the server starts, so a busy port is one clear line instead of Streamlit's
    message after start-up.
    """
    if _can_bind(host, port):
        return
    free = next((p for p in range(port + 1, min(port + _PORTS_TRIED, 65536)) if _can_bind(host, p)), None)
    hint = f"try --port {free}" if free is not None else "choose a free one with --port"
    msg = f"port {port} is in use on {host} (is another activespot app still running?); {hint}"
    raise PortInUseError(msg)


def _can_bind(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        # As the server binds: a port left in TIME_WAIT by a stopped server is free, a listening one is not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


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
        server = subprocess.Popen(command, env=env or dict(os.environ), stdout=sink, stderr=subprocess.STDOUT)
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
