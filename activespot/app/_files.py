"""Files page: import a Loupe CSV, download labels, predictions, the query and the AnnData."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from .. import _constants as K
from ..project import Project
from . import _data as D
from . import _state as S


def import_upload(project: Project, name: str, data: bytes, *, column: str | None, annotator: str) -> str:
    """Import an uploaded Loupe CSV exactly as ``activespot import`` does; returns the summary line.

    Raises ``ValueError`` with the CLI's message, naming the uploaded file (see
    :func:`~activespot.app._data.uploaded_file`).
    """
    if not annotator:
        msg = "Enter your name in the sidebar first: it is stored with every label."
        raise ValueError(msg)
    with D.uploaded_file(name, data, expected="this is not a Loupe category CSV") as path:
        summary = project.import_loupe(path, column=column or None, annotator=annotator)
    return (
        f"Imported column {summary.column!r} from {name}: {summary.new} new, {summary.changed} changed, "
        f"{summary.unchanged} unchanged labels."
    )


def loupe_bytes(values, category: str) -> bytes:
    """A Loupe category CSV of ``values`` (barcode -> class) as bytes."""
    from ..io import write_loupe_csv

    with tempfile.TemporaryDirectory() as folder:
        return write_loupe_csv(values, Path(folder) / "out.csv", category=category).read_bytes()


def _h5ad_bytes(project: Project) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sample.h5ad"
        D.open_project(str(project.path)).annotated_adata().write_h5ad(path)
        return path.read_bytes()


def render_files(project: Project, *, annotator: str) -> None:
    """Draw the files page."""
    st.title("Files")
    name = Path(project.path).name
    st.subheader("Import labels from Loupe Browser")
    st.caption(
        f"A Loupe category CSV (Barcode,<Category>), at most {K.APP_UPLOAD_LIMIT_MB} MB. The whole file is "
        "checked first: on any error nothing is imported. Blank labels are skipped."
    )
    upload = st.file_uploader("Loupe category CSV", type=["csv"], key=S.FILES_UPLOAD)
    column = st.text_input("Category column (only when the CSV has several)", key=S.FILES_COLUMN)
    if st.button("Import", key=S.FILES_IMPORT, type="primary", disabled=upload is None, icon=":material/upload:"):
        try:
            message = import_upload(project, upload.name, upload.getvalue(), column=column, annotator=annotator)
        except ValueError as err:
            st.error(str(err), icon=":material/error:")
        else:
            st.success(message, icon=":material/check_circle:")

    st.subheader("Download")
    labels, labels_left_out = project.without_excluded(project.labels())
    predicted = D.predictions(project)
    predicted_labels, predictions_left_out = (
        project.without_excluded(predicted["label"]) if predicted is not None else (None, 0)
    )
    query = D.query(project)
    exclusion = project.exclusion_class()
    if labels_left_out or predictions_left_out:
        st.caption(
            f"The Loupe CSVs leave out the spots of the exclusion class {exclusion!r}: {labels_left_out:,} "
            f"labelled, {predictions_left_out:,} labelled or predicted; the AnnData keeps them, flagged in "
            f"`obs['{K.OBS_EXCLUDED}']`.",
            help="Mark or unmark the exclusion class on the Classes page.",
        )
    a, b, c, d = st.columns(4)
    a.download_button(
        f"Labels ({len(labels):,})",
        loupe_bytes(labels, K.LOUPE_LABEL_CATEGORY) if len(labels) else b"",
        f"{name}_labels.csv",
        "text/csv",
        key=S.FILES_DOWNLOAD_LABELS,
        disabled=not len(labels),
        icon=":material/download:",
    )
    b.download_button(
        "Predictions",
        loupe_bytes(predicted_labels, K.LOUPE_PREDICTION_CATEGORY) if predicted is not None else b"",
        f"{name}_predictions.csv",
        "text/csv",
        key=S.FILES_DOWNLOAD_PREDICTIONS,
        disabled=predicted is None,
        icon=":material/download:",
    )
    import pandas as pd

    query_values = pd.Series("query", index=pd.Index(query, name=K.LOUPE_BARCODE))
    c.download_button(
        f"Query ({len(query)})",
        loupe_bytes(query_values, K.LOUPE_QUERY_CATEGORY) if query else b"",
        f"{name}_query.csv",
        "text/csv",
        key=S.FILES_DOWNLOAD_QUERY,
        disabled=not query,
        icon=":material/download:",
    )
    if d.button("Prepare AnnData (.h5ad)", key=S.FILES_PREPARE_H5AD, icon=":material/database:"):
        with st.spinner("Writing the AnnData…"):
            st.session_state[S.H5AD] = _h5ad_bytes(project)
    if st.session_state.get(S.H5AD):
        d.download_button(
            "Download .h5ad",
            st.session_state[S.H5AD],
            f"{name}.h5ad",
            "application/octet-stream",
            key=S.FILES_DOWNLOAD_H5AD,
            icon=":material/download:",
        )
    st.caption(
        "Loupe CSVs import into Loupe Browser as categories (ActiveSpot Label / Prediction / Query). "
        "The AnnData holds the sample with `obs['activespot_label']`, `activespot_prediction` and "
        "`activespot_confidence`."
    )
