"""Review page: predictions sorted by confidence; accept one or many, correct, undo."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from .. import _constants as K
from ..project import Project, review_table
from . import _data as D
from . import _state as S
from ._strip import render_strip

_ORDERS = {"least": "Least confident first", "most": "Most confident first"}


def shown_table(project: Project, predicted: pd.DataFrame) -> pd.DataFrame:
    """The review table after the page's order, class filter and labelled-spot filter."""
    table = review_table(project, predictions=predicted)
    if st.session_state.get(S.REVIEW_UNLABELLED, True):
        table = table[table["label"].isna()]
    only = st.session_state.get(S.REVIEW_FILTER)
    if only:
        table = table[table["prediction"] == only]
    if st.session_state.get(S.REVIEW_ORDER, "least") == "most":
        table = table.iloc[::-1]
    return table


def _selected(table: pd.DataFrame) -> list[str]:
    return D.selected_rows(table, S.review_table_key())


def _clear_selection() -> None:
    st.session_state[S.REVIEW_VERSION] = st.session_state.get(S.REVIEW_VERSION, 0) + 1


def _store(project_path: str, labels: dict[str, str], source: str, annotator: str, predicted: pd.DataFrame) -> None:
    """One action, refused if a spot changed since the page showed it (the page then says who changed what)."""
    expected = D.shown_state(S.REVIEW_SEEN, labels)
    D.label_spots(project_path, labels, annotator=annotator, source=source, predicted=predicted, expected=expected)
    _clear_selection()


def _accept(project_path: str, barcodes: list[str], annotator: str, predicted: pd.DataFrame) -> None:
    labels = {b: str(predicted.at[b, "label"]) for b in barcodes}
    _store(project_path, labels, K.SOURCE_ACCEPTED, annotator, predicted)


def _accept_selected(project_path: str, annotator: str, predicted: pd.DataFrame) -> None:
    project = D.open_project(project_path)
    barcodes = _selected(shown_table(project, predicted))
    if not barcodes:
        D.flash("info", "Select rows in the table first (click the boxes on the left).")
        return
    _accept(project_path, barcodes, annotator, predicted)


def _most_confident(project: Project, predicted: pd.DataFrame) -> list[str]:
    """The N most confident unlabelled spots (of the filtered class): what "Accept the N most confident" takes."""
    table = review_table(project, predictions=predicted)
    table = table[table["label"].isna()]
    only = st.session_state.get(S.REVIEW_FILTER)
    if only:
        table = table[table["prediction"] == only]
    return list(table.index[::-1][: int(st.session_state.get(S.REVIEW_TOP_N, 10))])


def _accept_top(project_path: str, annotator: str, predicted: pd.DataFrame) -> None:
    _accept(project_path, _most_confident(D.open_project(project_path), predicted), annotator, predicted)


def _correct_selected(project_path: str, annotator: str, predicted: pd.DataFrame) -> None:
    project = D.open_project(project_path)
    barcodes = _selected(shown_table(project, predicted))
    target = st.session_state.get(S.REVIEW_CORRECT_TO)
    if not barcodes or not target:
        D.flash("info", "Select rows in the table and a class to correct them to.")
        return
    _store(project_path, dict.fromkeys(barcodes, target), K.SOURCE_CORRECTED, annotator, predicted)


def render_review(project: Project, *, annotator: str) -> None:
    """Draw the review page."""
    st.title("Review predictions")
    path = str(project.path)
    predicted = D.predictions(project)
    if predicted is None:
        st.info("No predictions yet: label the queue, then train a round on the Rounds page.")
        return
    if not annotator:
        st.warning("Enter your name in the sidebar to accept or correct predictions.", icon=":material/person:")
    classes = project.store.classes()
    colors = D.class_colors(project)

    a, b, c = st.columns([2, 2, 1.3], vertical_alignment="bottom")
    a.radio("Order", list(_ORDERS), format_func=_ORDERS.get, horizontal=True, key=S.REVIEW_ORDER)
    b.selectbox("Predicted class", classes, index=None, placeholder="all classes", key=S.REVIEW_FILTER)
    c.toggle("Unlabelled only", value=True, key=S.REVIEW_UNLABELLED)
    table = shown_table(project, predicted)
    D.show_refused(path, annotator, predicted)
    render_strip(path, table, predicted, classes, annotator=annotator)

    st.subheader("All predictions")
    view = table.assign(confidence=table["confidence"].round(3))
    view["label"] = view["label"].fillna("")
    st.dataframe(
        view[["prediction", "confidence", "label"]],
        key=S.review_table_key(),
        on_select="rerun",
        selection_mode="multi-row",
        height=420,
        column_config={
            "confidence": st.column_config.ProgressColumn("confidence", min_value=0.0, max_value=1.0, format="%.2f"),
            "prediction": st.column_config.TextColumn("prediction"),
            "label": st.column_config.TextColumn("current label"),
        },
    )
    selected = _selected(table)
    D.remember_shown(S.REVIEW_SEEN, project, [*selected, *_most_confident(project, predicted)])
    st.caption(f"{len(table):,} spots shown · {len(selected)} selected")
    st.markdown(
        D.legend_html(table["prediction"].value_counts().reindex(classes).fillna(0).astype(int).to_dict(), colors),
        unsafe_allow_html=True,
    )

    accept, correct, undo = st.columns([2, 2, 1], vertical_alignment="bottom", border=True)
    accept.button(
        f"Accept {len(selected)} selected",
        key=S.REVIEW_ACCEPT,
        type="primary",
        icon=":material/check:",
        on_click=_accept_selected,
        args=(path, annotator, predicted),
        disabled=not annotator or not selected,
    )
    n_col, top_col = accept.columns([1, 2], vertical_alignment="bottom")
    n_col.number_input("N", min_value=1, max_value=500, value=10, step=5, key=S.REVIEW_TOP_N)
    top_col.button(
        "Accept the N most confident",
        key=S.REVIEW_ACCEPT_TOP,
        icon=":material/done_all:",
        on_click=_accept_top,
        args=(path, annotator, predicted),
        disabled=not annotator,
    )
    correct.selectbox("Correct selected to", classes, index=None, placeholder="choose a class", key=S.REVIEW_CORRECT_TO)
    correct.button(
        f"Correct {len(selected)} selected",
        key=S.REVIEW_CORRECT,
        icon=":material/edit:",
        on_click=_correct_selected,
        args=(path, annotator, predicted),
        disabled=not annotator or not selected,
    )
    D.undo_button(undo, S.REVIEW_UNDO, project, annotator=annotator, then=_clear_selection, label="Undo last")
    D.redo_button(undo, S.REVIEW_REDO, project, annotator=annotator, then=_clear_selection)
    st.caption(
        "Accepted labels are stored as *accepted*, corrections as *corrected*, both with the model's "
        "suggestion and confidence; undo reverts your last action with new events, and redo gives it back."
    )
