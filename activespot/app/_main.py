"""The review app's Streamlit entry point: the sidebar (project, annotator) and the navigation.

``activespot app DIR`` runs this file (it ships inside the package, so an installed activespot
serves the app from any folder); ``streamlit run app.py -- --project DIR`` in a checkout runs the
same :func:`main` through the thin ``app.py``. Each page is a small file in ``views/`` (its own
URL) whose code is in :mod:`activespot.app`.
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

__all__ = ["main"]


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="activespot app")
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


def _page(name: str, title: str, icon: str, *, default: bool = False) -> st.Page:
    return st.Page(D.page_file(name), title=title, icon=icon, default=default)


def main() -> None:
    """Build the sidebar and the navigation for the project given on the command line (or typed), and run the page."""
    st.set_page_config(page_title="activespot", page_icon=":material/biotech:", layout="wide")
    args = _arguments()
    path = args.project or st.session_state.get(S.PROJECT_PATH) or os.environ.get("ACTIVESPOT_PROJECT")
    if not path:
        st.title("activespot")
        st.text_input("Project folder", key=S.PROJECT_PATH, placeholder="/path/to/project")
        st.info(
            "Start with `activespot app DIR` (or `streamlit run app.py -- --project DIR`), or type a project folder."
        )
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
            truth = Path(args.truth)
            st.session_state[S.TRUTH] = read_truth_upload(project, truth.name, truth.read_bytes())
            st.session_state[S.TRUTH_NAME] = truth.name
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
            "Annotate": [_page("cells", "Cells", ":material/scatter_plot:", default=True)],
            "Project": [_page("classes", "Classes", ":material/label:")],
        }
    else:
        D.warm_up(str(project.path))
        pages = {
            "Annotate": [
                _page("overview", "Overview", ":material/dashboard:", default=True),
                _page("queue", "Queue", ":material/grid_view:"),
                _page("review", "Review", ":material/fact_check:"),
                _page("tissue", "Tissue", ":material/blur_on:"),
            ],
            "Model": [
                _page("rounds", "Rounds", ":material/model_training:"),
                _page("workload", "Workload", ":material/timer:"),
                _page("agreement", "Agreement", ":material/compare_arrows:"),
            ],
            "Project": [
                _page("classes", "Classes", ":material/label:"),
                _page("files", "Files", ":material/folder_open:"),
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


if __name__ == "__main__":  # run by ``activespot app`` (``streamlit run`` on this file)
    main()
