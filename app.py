"""activespot review app: ``streamlit run app.py -- --project DIR``."""

from __future__ import annotations

import argparse

import streamlit as st

from activespot.app import render_overview
from activespot.errors import ActivespotError
from activespot.project import Project
from activespot.project._project import default_annotator


def _project_path() -> str | None:
    parser = argparse.ArgumentParser(prog="app.py")
    parser.add_argument("--project", default=None, help="activespot project folder")
    args, _ = parser.parse_known_args()
    return args.project


st.set_page_config(page_title="activespot", layout="wide")
path = _project_path() or st.text_input("Project folder", key="project_path")
if not path:
    st.info("Start with `streamlit run app.py -- --project DIR` or type a project folder above.")
    st.stop()
try:
    project = Project.open(path)
except ActivespotError as err:
    st.error(str(err))
    st.stop()
annotator = st.sidebar.text_input("Your name", value=default_annotator(), key="annotator")
render_overview(project, annotator=annotator)
