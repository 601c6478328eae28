"""The workload page (a thin file so that each page has its own URL; the code is in activespot.app)."""

from activespot.app import render_workload
from activespot.app._data import current

project, annotator = current()
render_workload(project, annotator=annotator)
