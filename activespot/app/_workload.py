"""Workload page: suggestions shown, accepted and corrected per annotator, labels per minute, time per round."""

from __future__ import annotations

import altair as alt
import streamlit as st

from .. import _constants as K
from ..project import Project, annotator_workload, round_history


def render_workload(project: Project, *, annotator: str) -> None:
    """Draw the workload page."""
    st.title("Workload")
    table = annotator_workload(project.store)
    if table.empty:
        st.info("No labels yet.")
        return
    mine = table.loc[annotator] if annotator in table.index else None
    a, b, c, d = st.columns(4)
    a.metric(
        "Your labels", int(mine["labels"]) if mine is not None else 0, help="Current labels you gave (after undo)."
    )
    b.metric("Suggestions you saw", int(mine["suggestions_shown"]) if mine is not None else 0)
    rate = mine["labels_per_minute"] if mine is not None else float("nan")
    c.metric("Your labels / minute", "—" if rate != rate else f"{rate:.1f}")
    d.metric("Annotators", len(table))

    long = table[[K.SOURCE_MANUAL, K.SOURCE_ACCEPTED, K.SOURCE_CORRECTED, K.SOURCE_IMPORTED, "undone"]]
    long = long.reset_index().melt("annotator", var_name="source", value_name="events")
    st.subheader("Labels by source")
    colors = {
        "manual": "#0072B2",
        "accepted": "#009E73",
        "corrected": "#E69F00",
        "imported": "#999999",
        "undone": "#D55E00",
    }
    st.altair_chart(
        alt.Chart(long)
        .mark_bar()
        .encode(
            y=alt.Y("annotator:N", title=None),
            x=alt.X("events:Q", title="events"),
            color=alt.Color("source:N", scale=alt.Scale(domain=list(colors), range=list(colors.values()))),
            tooltip=["annotator", "source", "events"],
        )
        .properties(height=40 * len(table) + 40),
        width="stretch",
    )
    st.dataframe(
        table.reset_index(),
        hide_index=True,
        column_config={
            "acceptance": st.column_config.NumberColumn("accepted / shown", format="%.2f"),
            "workload": st.column_config.NumberColumn("corrected / shown", format="%.2f"),
            "workload_reduction": st.column_config.NumberColumn("workload reduction", format="%.2f"),
            "active_minutes": st.column_config.NumberColumn("active minutes", format="%.1f"),
            "labels_per_minute": st.column_config.NumberColumn("labels / minute", format="%.1f"),
        },
    )
    st.caption(
        "A suggestion counts as shown when the model's prediction was on screen as the label was given; "
        "an undone action counts nowhere but under undone. "
        "Active minutes leave out pauses longer than 10 minutes; imports are not timed."
    )
    history = round_history(project)
    if not history.empty:
        st.subheader("Time per round")
        st.dataframe(
            history[["round", "n_labels", "minutes", "seconds"]],
            hide_index=True,
            column_config={
                "n_labels": "labels used",
                "minutes": st.column_config.NumberColumn("minutes since previous round", format="%.1f"),
                "seconds": st.column_config.NumberColumn("training seconds", format="%.1f"),
            },
        )
