"""activespot review app: ``streamlit run app.py -- --project DIR`` (or ``activespot app DIR``).

This script builds the sidebar (project, annotator, navigation) and opens the project for the
run; each page lives in ``activespot/app/pages/`` and its code in ``activespot/app``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import streamlit as st

from activespot import _constants as K
from activespot.app import _data as D
from activespot.app import _state as S
from activespot.errors import ActivespotError

PAGES = Path("activespot") / "app" / "pages"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="app.py")
    parser.add_argument("--project", default=None, help="activespot project folder")
    parser.add_argument("--truth", default=None, help="CSV of barcode,class to measure accuracy per round")
    args, _ = parser.parse_known_args()
    return args


def _remember_annotator() -> None:
    name = st.session_state.get(S.ANNOTATOR, "").strip()
    if name:
        st.query_params[K.APP_QUERY_ANNOTATOR] = name
    elif K.APP_QUERY_ANNOTATOR in st.query_params:
        del st.query_params[K.APP_QUERY_ANNOTATOR]


st.set_page_config(page_title="activespot", page_icon=":material/biotech:", layout="wide")
args = _arguments()
path = args.project or st.session_state.get(S.PROJECT_PATH) or os.environ.get("ACTIVESPOT_PROJECT")
if not path:
    st.title("activespot")
    st.text_input("Project folder", key=S.PROJECT_PATH, placeholder="/path/to/project")
    st.info("Start with `activespot app DIR` (or `streamlit run app.py -- --project DIR`), or type a project folder.")
    st.stop()
try:
    project = D.open_project(str(path), wait=False)
except ActivespotError as err:
    st.error(str(err))
    st.stop()

if S.ANNOTATOR not in st.session_state:
    st.session_state[S.ANNOTATOR] = st.query_params.get(K.APP_QUERY_ANNOTATOR) or os.environ.get(
        "ACTIVESPOT_ANNOTATOR", ""
    )
if args.truth and S.TRUTH not in st.session_state:
    from activespot.app._rounds import read_truth_upload

    try:
        st.session_state[S.TRUTH] = read_truth_upload(project, Path(args.truth).name, Path(args.truth).read_bytes())
        st.session_state[S.TRUTH_NAME] = Path(args.truth).name
    except (OSError, ValueError) as err:
        st.sidebar.error(f"--truth: {err}")

with st.sidebar:
    unit = "cells" if project.sample.kind == K.SAMPLE_KIND_CELLS else "spots"
    st.markdown(f"### :material/biotech: activespot\n`{project.path.name}` · {project.sample.n_spots:,} {unit}")
    st.text_input(
        "Your name",
        key=S.ANNOTATOR,
        on_change=_remember_annotator,
        placeholder="stored with every label",
        help="Stored with every label, accept, correction and undo. Kept in the page address across reloads.",
    )
    if not st.session_state[S.ANNOTATOR].strip():
        st.caption(":orange[Enter your name to start labelling.]")
    elif st.query_params.get(K.APP_QUERY_ANNOTATOR) != st.session_state[S.ANNOTATOR].strip():
        _remember_annotator()  # navigation drops query parameters; a reload keeps the name
st.session_state[S.PROJECT] = project

if project.sample.kind == K.SAMPLE_KIND_CELLS:
    # A cell project (HALS) is labelled region by region on its own page.
    pages = {
        "Annotate": [st.Page(PAGES / "cells.py", title="Cells", icon=":material/scatter_plot:", default=True)],
        "Project": [st.Page(PAGES / "classes.py", title="Classes", icon=":material/label:")],
    }
else:
    D.warm_up(str(project.path))
    pages = {
        "Annotate": [
            st.Page(PAGES / "overview.py", title="Overview", icon=":material/dashboard:", default=True),
            st.Page(PAGES / "queue.py", title="Queue", icon=":material/grid_view:"),
            st.Page(PAGES / "review.py", title="Review", icon=":material/fact_check:"),
            st.Page(PAGES / "tissue.py", title="Tissue", icon=":material/blur_on:"),
        ],
        "Model": [
            st.Page(PAGES / "rounds.py", title="Rounds", icon=":material/model_training:"),
            st.Page(PAGES / "workload.py", title="Workload", icon=":material/timer:"),
            st.Page(PAGES / "agreement.py", title="Agreement", icon=":material/compare_arrows:"),
        ],
        "Project": [
            st.Page(PAGES / "classes.py", title="Classes", icon=":material/label:"),
            st.Page(PAGES / "files.py", title="Files", icon=":material/folder_open:"),
        ],
    }
page = st.navigation(pages)
D.show_flash()
page.run()
with st.sidebar, st.expander("Diagnostics", icon=":material/speed:"):
    st.caption(
        "Loads in this server process (cached objects are loaded once): "
        + (", ".join(f"{name} {n}×" for name, n in sorted(D.LOADS.items())) or "none"),
        help="Cached: the sample with its features, the tissue image, spot patches, each round's predictions.",
    )
