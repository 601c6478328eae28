"""Streamlit pages for the review app (:func:`main`, in ``_main.py``, builds the navigation).

Pages are thin: they read and write through :mod:`activespot.project` and never keep labels in
session state alone, so a browser refresh loses nothing. Each page has a small file in
``views/`` (its own URL, addressable by ``AppTest.switch_page``) that calls a ``render_*``
function here with the project and annotator :func:`main` opened for the run.
"""

from ._agreement import render_agreement
from ._cells import render_cells
from ._classes import render_classes
from ._files import render_files
from ._main import main
from ._overview import render_overview
from ._queue import render_queue
from ._review import render_review
from ._rounds import render_rounds
from ._server import PortInUseError, app_command, app_script, check_port
from ._tissue import render_tissue
from ._workload import render_workload

__all__ = [
    "PortInUseError",
    "app_command",
    "app_script",
    "check_port",
    "main",
    "render_agreement",
    "render_cells",
    "render_classes",
    "render_files",
    "render_overview",
    "render_queue",
    "render_review",
    "render_rounds",
    "render_tissue",
    "render_workload",
]
