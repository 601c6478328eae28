"""The cells page (HALS): regions of nuclei with live suggestions."""

from activespot.app import render_cells
from activespot.app._data import current

project, annotator = current()
render_cells(project, annotator=annotator)
