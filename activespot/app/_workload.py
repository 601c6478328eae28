"""Workload page: suggestions shown, accepted and corrected per annotator, labels per minute, time per round."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from .. import _constants as K
from ..project import Project, annotator_workload, round_history
from . import _data as D

# Okabe-Ito (colour-blind safe); undone is grey with a dashed outline, unlike any colour of a label that stands.
SOURCE_COLORS = {
    K.SOURCE_MANUAL: "#0072B2",
    K.SOURCE_ACCEPTED: "#009E73",
    K.SOURCE_CORRECTED: "#E69F00",
    K.SOURCE_IMPORTED: "#CC79A7",
    "undone": "#BBBBBB",
}
_BAR_PX = 22  # each annotator's row in a panel, whatever the number of annotators
_PANEL_PX = 130  # each source's panel


def source_chart(table: pd.DataFrame) -> alt.FacetChart | None:
    """Events per annotator, a panel per source with its own scale; ``None`` when there is no event to draw.

    ``table`` is :func:`~activespot.project.annotator_workload`'s. A panel per source, each on its
    own integer axis, so 12 corrections beside 3,000 imports are a bar, not a one-pixel sliver, and
    every count is written beside its bar; the panels' titles name the sources in full (no legend
    to cut off). A source nobody has is left out.
    """
    present = [source for source in SOURCE_COLORS if table[source].sum() > 0]
    if not present:
        return None
    long = table[present].reset_index().melt("annotator", var_name="source", value_name="events")
    undone = alt.datum.source == "undone"
    base = alt.Chart().encode(
        y=alt.Y("annotator:N", title=None),
        x=alt.X("events:Q", title=None, axis=D.count_axis(tickCount=3)),
        tooltip=["annotator", "source", alt.Tooltip("events:Q", format=",d")],
    )
    scale = alt.Scale(domain=list(SOURCE_COLORS), range=list(SOURCE_COLORS.values()))
    bars = base.mark_bar(size=_BAR_PX - 6, stroke="#555555").encode(
        color=alt.Color("source:N", scale=scale, legend=None),
        strokeDash=alt.condition(undone, alt.value([3, 2]), alt.value([1, 0])),
        strokeWidth=alt.condition(undone, alt.value(1), alt.value(0)),
        opacity=alt.condition(undone, alt.value(0.6), alt.value(1.0)),
    )
    counts = base.mark_text(align="left", dx=3, fontSize=11).encode(text=alt.Text("events:Q", format=",d"))
    header = alt.Header(labelFontWeight="bold", labelFontSize=12, labelLimit=0)
    return (
        alt.layer(bars, counts, data=long)
        .properties(width=_PANEL_PX, height=alt.Step(_BAR_PX))
        .facet(column=alt.Column("source:N", sort=present, title=None, header=header))
        .resolve_scale(x="independent")
    )


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

    st.subheader("Labels by source")
    chart = source_chart(table)
    if chart is None:
        st.info("No label events to chart yet.")
    else:
        st.altair_chart(chart, width="content")  # panels of a set width: a facet cannot stretch
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
