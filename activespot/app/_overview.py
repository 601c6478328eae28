"""Overview page: where the project stands and what to do next."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from ..project import Project
from . import _data as D

_BAR_PX = 24  # each class's bar thickness, whatever the number of classes


def class_chart(counts: dict[str, int], colors: dict[str, str]) -> alt.LayerChart:
    """One bar per class in its colour with its count beside it; an integer axis (counts are whole)."""
    data = pd.DataFrame({"class": list(counts), "spots": list(counts.values())})
    base = alt.Chart(data).encode(
        x=alt.X("spots:Q", title="labelled spots", axis=D.count_axis()),
        y=alt.Y("class:N", sort=list(counts), title=None),
        tooltip=["class", alt.Tooltip("spots:Q", format=",d")],
    )
    scale = alt.Scale(domain=list(colors), range=list(colors.values()))
    bars = base.mark_bar(size=_BAR_PX - 6).encode(color=alt.Color("class:N", scale=scale, legend=None))
    text = base.mark_text(align="left", dx=3, fontSize=11).encode(text=alt.Text("spots:Q", format=",d"))
    return alt.layer(bars, text).properties(height=alt.Step(_BAR_PX))


def render_overview(project: Project, *, annotator: str) -> None:
    """Metrics, class counts in the class colours, and the next step."""
    details = project.info()
    st.title("Overview")
    st.caption(f"Sample `{details['sample']}` · project `{details['project']}`")
    queue = D.query(project)
    labels = project.labels()
    done = int(pd.Index(queue).isin(labels.index).sum()) if queue else 0
    a, b, c, d = st.columns(4)
    a.metric("Spots", f"{details['spots']:,}")
    b.metric("Labelled", f"{details['labelled']:,}", help="Spots with a current label (after undo, all annotators).")
    c.metric("Queue", f"{done} / {len(queue)}", help="Spots asked by the latest round that are labelled.")
    d.metric("Rounds", details["rounds"], help="Rounds with a model (trained here or transferred).")

    colors = D.class_colors(project)
    counts = details["classes"]
    if counts:
        st.subheader("Labels per class")
        st.markdown(D.legend_html(counts, colors), unsafe_allow_html=True)
        if sum(counts.values()):
            st.altair_chart(class_chart(counts, colors), width="stretch")
        else:
            st.info("No labels yet: the chart of labels per class appears with the first label.")

    st.subheader("Next step")
    if not queue:
        st.info("No spots asked yet: run `activespot suggest` (or the demo) to choose the first spots.")
    elif done < len(queue):
        st.page_link(
            D.page_file("queue"),
            label=f"Label the queue: {len(queue) - done} spots left",
            icon=":material/grid_view:",
        )
    else:
        st.page_link(D.page_file("rounds"), label="Queue done: train the next round", icon=":material/model_training:")
    if D.predictions(project) is not None:
        st.page_link(D.page_file("review"), label="Review the predictions", icon=":material/fact_check:")
    if details["annotators"]:
        given = ", ".join(f"{who} ({n})" for who, n in details["annotators"].items())
        st.caption(f"Current labels by annotator: {given}")
