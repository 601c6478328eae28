"""Rounds page: train the next round, then per-round class counts, changed predictions and accuracy."""

from __future__ import annotations

import time

import altair as alt
import pandas as pd
import streamlit as st

from ..errors import ActivespotError
from ..project import Project, round_class_counts, round_history
from . import _data as D
from . import _state as S


def read_truth_upload(project: Project, name: str, data: bytes) -> pd.Series:
    """A truth CSV (barcode, class) aligned to the sample; errors name the uploaded file, never a path."""
    from ..io import read_truth

    barcodes = D.load_sample(str(project.path)).obs_names
    with D.uploaded_file(name, data, expected="expected a CSV of barcode,class") as path:
        values = read_truth(path, barcodes=barcodes)
    return pd.Series(values, index=barcodes, dtype=object).dropna()


def train_round(project: Project) -> None:
    """Run :func:`activespot.loop.run_round` with a progress indicator and report the result."""
    from ..project import run_round

    start = time.perf_counter()
    with st.status(f"Training round {project.next_round_number}…", expanded=True) as status:
        st.write("Reading labels and features (cached after the first round)…")
        project = D.open_project(str(project.path))  # waits for the sample if it is still loading
        st.write("Training the model, predicting every spot, choosing the next spots…")
        try:
            summary = run_round(project)
        except ActivespotError as err:
            status.update(label="Round not trained", state="error")
            st.error(str(err))
            return
        status.update(label=f"Round {summary.round} trained in {time.perf_counter() - start:.1f} s", state="complete")
    changed = "" if summary.changed is None else f"; {summary.changed} predictions changed"
    D.flash("success", f"Round {summary.round}: {len(summary.query)} new spots in the queue{changed}.")
    st.rerun()


def render_rounds(project: Project, *, annotator: str) -> None:
    """Draw the rounds page."""
    st.title("Rounds")
    labels = project.labels()
    queue = D.query(project)
    done = int(pd.Index(queue).isin(labels.index).sum()) if queue else 0
    a, b, c = st.columns(3)
    a.metric("Labels", f"{len(labels):,}")
    b.metric("Queue labelled", f"{done} / {len(queue)}")
    c.metric("Next round", project.next_round_number)
    run = st.button(
        "Train the next round",
        key=S.ROUNDS_RUN,
        type="primary",
        icon=":material/model_training:",
        help="Train on every current label, predict every spot and choose the next spots to ask.",
    )
    if run:
        train_round(project)

    truth = st.session_state.get(S.TRUTH)
    with st.expander(
        "Accuracy against a truth file" + (f" — {st.session_state.get(S.TRUTH_NAME)}" if truth is not None else "")
    ):
        upload = st.file_uploader("Truth CSV (barcode, class)", type=["csv"], key=S.ROUNDS_TRUTH_UPLOAD)
        if upload is not None and st.session_state.get(S.TRUTH_NAME) != upload.name:
            try:
                st.session_state[S.TRUTH] = read_truth_upload(project, upload.name, upload.getvalue())
                st.session_state[S.TRUTH_NAME] = upload.name
                truth = st.session_state[S.TRUTH]
            except ValueError as err:
                st.error(str(err))
        if truth is not None:
            st.caption(f"{len(truth):,} spots with a truth; accuracy = share of them predicted right.")

    history = round_history(project, truth=truth)
    if history.empty:
        st.info("No trained round yet. Label the queue, then train the first round.")
        return
    colors = D.class_colors(project)
    counts = round_class_counts(project)
    scale = alt.Scale(domain=list(colors), range=list(colors.values()))
    st.subheader("Class counts per round")
    chart = (
        alt.Chart(counts)
        .mark_bar()
        .encode(
            x=alt.X("round:O", title="round"),
            y=alt.Y("count:Q", title="spots"),
            color=alt.Color("class:N", scale=scale, title="class"),
            column=alt.Column("kind:N", title=None, sort=["labelled", "predicted"]),
            tooltip=["round", "kind", "class", "count"],
        )
        .properties(width=320, height=240)
        .resolve_scale(y="independent")
    )
    st.altair_chart(chart)
    left, right = st.columns(2)
    with left:
        st.subheader("Predictions changed")
        data = history.dropna(subset=["changed"])
        if data.empty:
            st.caption("Shown from the second trained round on.")
        else:
            st.altair_chart(
                alt.Chart(data).mark_line(point=True).encode(x="round:O", y=alt.Y("changed:Q", title="spots changed")),
                width="stretch",
            )
    with right:
        st.subheader("Accuracy")
        if truth is None:
            st.caption("Attach a truth file above to see accuracy per round.")
        else:
            st.altair_chart(
                alt.Chart(history)
                .mark_line(point=True, color="#009E73")
                .encode(x="round:O", y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"))),
                width="stretch",
            )
    shown = history.assign(created_at=history["created_at"].dt.strftime("%Y-%m-%d %H:%M"))
    st.dataframe(
        shown,
        hide_index=True,
        column_config={
            "seconds": st.column_config.NumberColumn("training s", format="%.1f"),
            "minutes": st.column_config.NumberColumn("minutes since previous round", format="%.1f"),
            "accuracy": st.column_config.NumberColumn("accuracy", format="%.3f"),
        },
    )
