"""Queue page: the spots the latest round asks about, labelled in one click.

One focused spot takes keyboard shortcuts; a gallery shows the page of the queue it belongs to.
The page stays put while it is being labelled (a labelled card keeps its place and shows its
label): a click then changes two cards instead of shifting every card by one, which is what keeps
a click under a few hundred milliseconds in the browser.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from .. import _constants as K
from ..project import Project, queue_table
from . import _data as D
from . import _state as S

GALLERY_SIZE = 8  # cards per gallery page below the focused spot
_SHORTCUT_KEYS = "123456789"  # class buttons of the focused spot; C and R are reserved by Streamlit


def _label(project_path: str, barcode: str, label: str, annotator: str, predicted: pd.DataFrame | None) -> None:
    D.label_spots(project_path, {barcode: label}, annotator=annotator, source=K.SOURCE_MANUAL, predicted=predicted)


def _label_from_card(project_path: str, barcode: str, annotator: str, predicted: pd.DataFrame | None) -> None:
    label = st.session_state.get(S.card_key(barcode))
    if label:
        _label(project_path, barcode, label, annotator, predicted)


def _skip(barcode: str) -> None:
    st.session_state[S.QUEUE_SKIPPED] = [*st.session_state.get(S.QUEUE_SKIPPED, []), barcode]


def _prediction_text(row: pd.Series) -> str:
    if not isinstance(row["prediction"], str):
        return "no prediction yet"
    return f"model: **{row['prediction']}** ({row['confidence']:.0%})"


def render_queue(project: Project, *, annotator: str) -> None:
    """Draw the queue."""
    st.title("Queue")
    path = str(project.path)
    query = D.query(project)
    predicted = D.predictions(project)
    table = queue_table(project, query=query, predictions=predicted)
    if table.empty:
        st.info("No spots asked yet: run `activespot suggest` or train a round on the Rounds page.")
        return
    classes = project.store.classes()
    colors = D.class_colors(project)
    done = int(table["label"].notna().sum())
    st.progress(done / len(table), text=f"**{done} / {len(table)} labelled** · round {int(table['round'].iloc[0])}")
    if not annotator:
        st.warning("Enter your name in the sidebar to label spots.", icon=":material/person:")
    if not classes:
        st.warning("The project has no classes yet: add them on the Classes page.")
        return

    todo = table[table["label"].isna()]
    skipped = [b for b in st.session_state.get(S.QUEUE_SKIPPED, []) if b in todo.index]
    order = [b for b in todo.index if b not in skipped] + skipped
    if not order:
        st.success(
            "Every queried spot is labelled. Train the next round on the Rounds page.", icon=":material/done_all:"
        )
        st.page_link(D.page_file("rounds"), label="Go to Rounds", icon=":material/model_training:")
    else:
        focus = order[0]
        row = table.loc[focus]
        with st.container(border=True, key="queue_focus"):
            image_col, info_col = st.columns([1, 2], vertical_alignment="center")
            image_col.image(D.spot_crop(path, focus), width=2 * D.CROP_SIZE, output_format="PNG")
            info_col.markdown(f"#### `{focus}`")
            info_col.markdown(_prediction_text(row))
            info_col.caption("Press 1–9 for a class (shown on each button).")
            buttons = info_col.columns(min(len(classes), 5))
            for i, name in enumerate(classes):
                shortcut = _SHORTCUT_KEYS[i] if i < len(_SHORTCUT_KEYS) else None
                buttons[i % len(buttons)].button(
                    name,
                    key=S.class_button_key(i),
                    on_click=_label,
                    args=(path, focus, name, annotator, predicted),
                    shortcut=shortcut,
                    type="primary" if name == row["prediction"] else "secondary",
                    width="stretch",
                    disabled=not annotator,
                )
            tools = info_col.columns([1, 1, 1, 2])
            tools[0].button(
                "Skip", key=S.QUEUE_SKIP, on_click=_skip, args=(focus,), icon=":material/skip_next:", shortcut="S"
            )
            tools[1].button(
                "Undo",
                key=S.QUEUE_UNDO,
                on_click=D.undo_last,
                args=(path,),
                kwargs={"annotator": annotator},
                icon=":material/undo:",
                shortcut=D.UNDO_SHORTCUT,
                disabled=not annotator,
            )
            D.redo_button(tools[2], S.QUEUE_REDO, project, annotator=annotator)

    st.markdown(D.legend_html({c: int((table["label"] == c).sum()) for c in classes}, colors), unsafe_allow_html=True)
    show_done = st.toggle("Show labelled spots too", key=S.QUEUE_SHOW_DONE)
    cards = _gallery_page(list(table.index), order[0] if order else None)
    if show_done:
        labelled = [b for b in table.index[table["label"].notna()] if b not in cards]
        cards = labelled + cards
    if not cards:
        return
    st.subheader("This page of the queue" if not show_done else "Spots")
    columns = st.columns(4)
    for i, barcode in enumerate(cards):
        row = table.loc[barcode]
        with columns[i % 4].container(border=True):
            st.image(D.spot_crop(path, barcode), width="stretch", output_format="PNG")
            now = " · :violet[**labelling now**]" if order and barcode == order[0] else ""
            st.caption(f"`{barcode}` · " + _prediction_text(row) + now)
            # The journal decides what the card shows: a label given with the buttons above, an undo
            # or a class merged away since the card was drawn.
            st.session_state[S.card_key(barcode)] = row["label"] if isinstance(row["label"], str) else None
            st.segmented_control(
                "Class",
                classes,
                key=S.card_key(barcode),
                on_change=_label_from_card,
                args=(path, barcode, annotator, predicted),
                label_visibility="collapsed",
                disabled=not annotator,
            )


def _gallery_page(queue: list[str], focus: str | None) -> list[str]:
    """The ``GALLERY_SIZE`` spots of the queue page holding ``focus`` (the last page once all are labelled)."""
    if not queue:
        return []
    position = queue.index(focus) if focus is not None else len(queue) - 1
    start = position // GALLERY_SIZE * GALLERY_SIZE
    return queue[start : start + GALLERY_SIZE]
