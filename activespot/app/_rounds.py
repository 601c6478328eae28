"""Rounds page: train the next round (or see who trains it), then estimated accuracy, class counts, changes."""

from __future__ import annotations

import time
from datetime import datetime

import altair as alt
import pandas as pd
import streamlit as st

from .. import _constants as K
from ..errors import ActivespotError
from ..project import Project, judgement_lines, round_class_counts, round_history
from . import _data as D
from . import _state as S


def read_truth_upload(project: Project, name: str, data: bytes) -> pd.Series:
    """A truth CSV (barcode, class) aligned to the sample; errors name the uploaded file, never a path."""
    from ..io import read_truth

    barcodes = D.load_sample(str(project.path)).obs_names
    with D.uploaded_file(name, data, expected="expected a CSV of barcode,class") as path:
        values = read_truth(path, barcodes=barcodes)
    return pd.Series(values, index=barcodes, dtype=object).dropna()


def busy_message(project: Project) -> str | None:
    """The sentence "Round N is being trained by X since HH:MM" while the round lock is held, else ``None``."""
    holder = project.round_holder()
    if holder is None:
        return None
    if not holder:
        return f"Round {project.next_round_number} is being trained (it started moments ago)."
    since = datetime.fromisoformat(holder["started_at"]).astimezone().strftime("%H:%M")
    return f"Round {project.next_round_number} is being trained by {holder['annotator']} since {since}."


def train_round(project: Project, *, annotator: str) -> None:
    """Run :func:`activespot.loop.run_round` with a progress indicator and report the result."""
    from ..project import run_round

    start = time.perf_counter()
    with st.status(f"Training round {project.next_round_number}…", expanded=True) as status:
        st.write("Reading labels and features (cached after the first round)…")
        project = D.open_project(str(project.path))  # waits for the sample if it is still loading
        st.write("Training the model, predicting every spot, choosing the next spots…")
        try:
            summary = run_round(project, wait=False, annotator=annotator)  # busy: say by whom, never wait
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
    history = round_history(project)
    estimated = history.dropna(subset=["estimated_accuracy"]).tail(1)
    a, b, c, d = st.columns(4)
    a.metric("Labels", f"{len(labels):,}")
    b.metric("Queue labelled", f"{done} / {len(queue)}")
    c.metric("Next round", project.next_round_number)
    if len(estimated):
        row = estimated.iloc[0]
        d.metric(
            f"Estimated accuracy (round {int(row['round'])})",
            f"{row['estimated_accuracy']:.0%}",
            help="Out-of-fold models on the labels so far, weighted to the whole section; no truth needed.",
        )
        d.caption(f"95 % interval {row['estimate_low']:.0%}–{row['estimate_high']:.0%}")
    else:
        d.metric("Estimated accuracy", "–", help="Estimated at every trained round, from its labels alone.")
    latest = project.latest_round(kinds=K.MODEL_ROUND_KINDS)
    if latest is not None:
        judged = judgement_lines(
            latest.info.get(K.ROUND_INFO_ESTIMATE),
            latest.info.get(K.ROUND_INFO_UNCHANGED),
            latest.info.get(K.ROUND_INFO_ACCEPTED),
            previous=_round_before(history, latest.number),
        )
        if judged:
            st.caption(f"Round {latest.number}: " + "; ".join(judged) + ".")
    busy = busy_message(project)
    if busy is not None:
        st.info(busy, icon=":material/hourglass_top:")
    run = st.button(
        "Train the next round",
        key=S.ROUNDS_RUN,
        type="primary",
        icon=":material/model_training:",
        help="Train on every current label, predict every spot and choose the next spots to ask.",
        disabled=busy is not None,
    )
    if run:
        train_round(project, annotator=annotator)

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
    st.subheader("Estimated accuracy")
    _estimate_chart(history)
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
            "estimated_accuracy": st.column_config.NumberColumn("estimated accuracy", format="%.3f"),
            "estimate_low": st.column_config.NumberColumn("interval low", format="%.3f"),
            "estimate_high": st.column_config.NumberColumn("interval high", format="%.3f"),
            "unchanged": st.column_config.NumberColumn("unchanged", format="%.3f"),
            "accepted": st.column_config.NumberColumn("suggestions accepted", format="%.3f"),
        },
    )


def _round_before(history: pd.DataFrame, number: int) -> int | None:
    before = history.loc[history["round"] < number, "round"]
    return int(before.iloc[-1]) if len(before) else None


def _estimate_chart(history: pd.DataFrame) -> None:
    """Estimated accuracy per round as a line in its 95 % interval band (and the truth's accuracy, if attached)."""
    data = history.dropna(subset=["estimated_accuracy"])
    if data.empty:
        st.caption("Estimated at every trained round from the labels alone (out-of-fold models).")
        return
    axis = alt.Axis(format="%")
    base = alt.Chart(data).encode(x=alt.X("round:O", title="round"))
    band = base.mark_area(opacity=0.25, color="#0072B2").encode(
        y=alt.Y("estimate_low:Q", title="accuracy", axis=axis), y2="estimate_high:Q"
    )
    tooltip = ["round", "n_labels", "estimated_accuracy", "estimate_low", "estimate_high"]
    line = base.mark_line(point=True, color="#0072B2").encode(y="estimated_accuracy:Q", tooltip=tooltip)
    layers = [band, line]
    if data["accuracy"].notna().any():
        layers.append(base.mark_line(point=True, color="#009E73", strokeDash=[4, 3]).encode(y="accuracy:Q"))
    st.altair_chart(alt.layer(*layers), width="stretch")
    st.caption(
        "Blue: estimated without truth, with its 95 % interval"
        + ("; green dashed: accuracy against the attached truth file." if data["accuracy"].notna().any() else ".")
    )
