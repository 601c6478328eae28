"""The ``app`` command: serve the Streamlit review app for a project."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .. import _constants as K
from ._main import main, user_errors


@main.command()
@click.argument("project", type=click.Path(path_type=Path))
@click.option(
    "--host", default=K.APP_HOST, show_default=True, help="Address to bind (0.0.0.0 exposes it to the network)."
)
@click.option("--port", default=K.APP_PORT, show_default=True, type=int, help="Port to serve on.")
@click.option("--annotator", default=None, help="Pre-fill the annotator's name (else typed in the app).")
@click.option(
    "--truth",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="CSV of barcode,class: show the accuracy of each round.",
)
@click.option("--browser/--no-browser", default=False, show_default=True, help="Open a browser window.")
@user_errors
def app(project: Path, host: str, port: int, annotator: str | None, truth: Path | None, browser: bool) -> None:
    """Serve the review app for PROJECT at http://HOST:PORT (127.0.0.1 by default).

    Label the queue, accept or correct predictions, run rounds, import and export Loupe CSVs.
    Stop it with Ctrl+C; every label is already stored.
    """
    from ..app import app_command, check_port
    from ..project import Project

    opened = Project.open(project)  # fail here, not in the browser, on a wrong folder
    check_port(host, port)  # and on a busy port, before anything starts
    command = app_command(opened.path, host=host, port=port, headless=not browser)
    if truth is not None:
        command += ["--truth", str(truth.absolute())]
    env = dict(os.environ)
    if annotator:
        env["ACTIVESPOT_ANNOTATOR"] = annotator
    click.echo(f"activespot review app for {opened.path}\n  URL: http://{host}:{port}\n  (Ctrl+C to stop)")
    sys.stdout.flush()
    sys.stderr.flush()
    # This process becomes the Streamlit server (same process id) instead of starting a child:
    # whatever stops or kills `activespot app`, even SIGKILL, stops the server with it.
    os.execve(command[0], command, env)
