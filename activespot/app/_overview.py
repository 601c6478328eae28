"""Overview page: the sample, its labels and predictions on the tissue, and label files in and out."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from .. import _constants as K
from ..errors import ActivespotError
from ..project import Project

_UPLOAD_LIMIT_MB = 50


@st.cache_resource(show_spinner="Reading the sample…")
def _annotated(project_path: str, n_events: int, n_rounds: int):
    """The sample with labels in obs; re-read only when the journal or rounds change."""
    return Project.open(project_path).annotated_adata()


def _tissue_figure(adata, color: str):
    import matplotlib

    matplotlib.use("Agg")
    import squidpy as sq

    library = adata.uns[K.LIBRARY_ID_KEY]
    images = adata.uns[K.SPATIAL_KEY][library][K.IMAGES_KEY]
    resolution = "hires" if "hires" in images else "lowres"
    ax = sq.pl.spatial_scatter(
        adata, color=color, img_res_key=resolution, na_color="#d9d9d9", frameon=False, title="", return_ax=True
    )
    return ax.figure


def render_overview(project: Project, *, annotator: str) -> None:
    """Draw the overview page for ``project``."""
    details = project.info()
    st.title("activespot")
    st.caption(f"Project `{details['project']}` · sample `{details['sample']}`")
    left, middle, right = st.columns(3)
    left.metric("Spots", details["spots"])
    middle.metric("Labelled", details["labelled"])
    right.metric("Rounds", details["rounds"])

    counts = {name: n for name, n in details["classes"].items()}
    if counts:
        st.subheader("Classes")
        st.bar_chart(counts, horizontal=True)

    adata = _annotated(str(project.path), details["events"], details["rounds"])
    choices = [K.OBS_LABEL] + [c for c in (K.OBS_PREDICTION, K.OBS_CONFIDENCE) if c in adata.obs]
    color = st.radio("Colour spots by", choices, horizontal=True, key="overview_color")
    library = adata.uns.get(K.LIBRARY_ID_KEY)
    if adata.uns.get(K.SPATIAL_KEY, {}).get(library, {}).get(K.IMAGES_KEY):
        st.pyplot(_tissue_figure(adata, color), clear_figure=True)

    st.subheader("Labels from Loupe Browser")
    upload = st.file_uploader("Loupe category CSV (Barcode,<Category>)", type=["csv"], key="overview_upload")
    if upload is not None and st.button("Import", key="overview_import"):
        if upload.size > _UPLOAD_LIMIT_MB * 1024 * 1024:
            st.error(f"{upload.name}: larger than {_UPLOAD_LIMIT_MB} MB; this is not a Loupe category CSV.")
        else:
            _import_upload(project, upload, annotator=annotator)

    labels = project.labels()
    if len(labels):
        from ..io import write_loupe_csv

        with tempfile.TemporaryDirectory() as folder:
            path = write_loupe_csv(labels, Path(folder) / "labels.csv", category=K.LOUPE_LABEL_CATEGORY)
            st.download_button("Download labels as Loupe CSV", path.read_bytes(), "activespot_labels.csv", "text/csv")


def _import_upload(project: Project, upload, *, annotator: str) -> None:
    # The uploaded name is shown to the user but never used as a path.
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload.csv"
        path.write_bytes(upload.getvalue())
        try:
            summary = project.import_loupe(path, annotator=annotator)
        except ActivespotError as err:
            st.error(str(err).replace(str(path), upload.name))
            return
    st.success(f"Imported {summary.new} new and {summary.changed} changed labels from {upload.name}.")
