"""The rounds page (a thin file so that each page has its own URL; the code is in activespot.app)."""

from activespot.app import render_rounds
from activespot.app._data import current

project, annotator = current()
render_rounds(project, annotator=annotator)
