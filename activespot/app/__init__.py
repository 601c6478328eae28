"""Streamlit pages for the review app (``app.py`` builds the navigation).

Pages are thin: they read and write through :mod:`activespot.project` and never keep labels in
session state alone, so a browser refresh loses nothing.
"""

from ._overview import render_overview

__all__ = ["render_overview"]
