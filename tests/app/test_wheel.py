"""The app served from an installed wheel, outside the checkout (issue 18, bug 3)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from activespot.app._server import free_port

REPO = Path(__file__).resolve().parents[2]

# Run by the installed copy: every page of the project renders through the packaged entry point.
_RENDER_EVERY_PAGE = """
import json, sys
from pathlib import Path
import activespot
from activespot.app import app_script
from activespot.app._data import page_file
from streamlit.testing.v1 import AppTest

app = AppTest.from_file(str(app_script()), default_timeout=120)
app.session_state["project_path"] = sys.argv[1]
app.session_state["annotator"] = "Dr. Wheel"
app.run()
pages = {}
for name in ("overview", "queue", "review", "tissue", "rounds", "workload", "agreement", "classes", "files"):
    app.switch_page(page_file(name)).run()
    pages[name] = {"exception": [str(e.value) for e in app.exception], "title": [t.value for t in app.title]}
print(json.dumps({"package": activespot.__file__, "script": str(app_script()), "pages": pages}))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The package built into a wheel and installed (without dependencies) into a folder of its own."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"  # a copy: building in the checkout would leave build/ and egg-info behind
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "activespot", source / "activespot", ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(root / "dist"), str(source)],
                   check=True, capture_output=True)  # fmt: skip
    (wheel,) = (root / "dist").glob("activespot-*.whl")
    target = root / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True, capture_output=True)
    return target


def _env(site: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ACTIVESPOT_ANNOTATOR")}
    env["PYTHONPATH"] = str(site)  # first on the path: shadows the checkout's editable install
    return env


def test_the_installed_app_renders_every_page_outside_the_checkout(installed, demo_project, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run(
        [sys.executable, "-c", _RENDER_EVERY_PAGE, str(demo_project)],
        cwd=elsewhere, env=_env(installed), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(report["package"]).is_relative_to(installed)
    assert Path(report["script"]).is_relative_to(installed)
    for name, page in report["pages"].items():
        assert not page["exception"], (name, page["exception"])
        assert page["title"], name


def test_activespot_app_serves_from_an_installed_wheel(installed, demo_project, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    port = free_port()
    log = tmp_path / "app.log"
    command = [sys.executable, "-c", "from activespot.cli import main; main()", "app", str(demo_project)]
    with log.open("wb") as sink:
        server = subprocess.Popen([*command, "--port", str(port)], cwd=elsewhere, env=_env(installed),
                                  stdout=sink, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        assert _health(port, server, log) == 200
        assert "is not there" not in log.read_text()
    finally:
        server.terminate()
        server.wait(timeout=30)


def _health(port: int, server: subprocess.Popen, log: Path, timeout: float = 90) -> int:
    """The status of the app's health endpoint once it answers (fails with the log if the server exits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"activespot app exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as reply:
                return reply.status
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"no answer on port {port} within {timeout} s:\n{log.read_text()[-3000:]}")
