"""Overview page: where the project stands and what to do next."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from ..project import Project
from . import _data as D


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
        data = pd.DataFrame({"class": list(counts), "spots": list(counts.values())})
        chart = (
            alt.Chart(data)
            .mark_bar()
            .encode(
                x=alt.X("spots:Q", title="labelled spots"),
                y=alt.Y("class:N", sort=list(counts), title=None),
                color=alt.Color(
                    "class:N", scale=alt.Scale(domain=list(colors), range=list(colors.values())), legend=None
                ),
                tooltip=["class", "spots"],
            )
            .properties(height=28 * len(counts) + 20)
        )
        st.altair_chart(chart, width="stretch")

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
