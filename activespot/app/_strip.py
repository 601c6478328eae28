"""Review page's film strip: the least confident predictions as crops, agreed with or corrected one key at a time.

As Histomics Label's review strip: the model's least certain calls first, each a crop with the
section map beside it (where the spot sits decides a layer as much as what it looks like). The
focused card takes the keyboard: A agrees, D disagrees and offers the classes, 1–9 gives a class
directly. Every decision is an event that keeps the model's suggestion (``accepted`` when it
agrees with the prediction, ``corrected`` when not), so the workload counts it.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from .. import _constants as K
from . import _data as D
from . import _state as S

STRIP_SIZE = 6  # cards on the strip: the focused one and the next five
_SHORTCUT_KEYS = "123456789"


def strip_spots(table: pd.DataFrame) -> pd.DataFrame:
    """The strip: the first ``STRIP_SIZE`` unlabelled spots of the review table, in its order."""
    return table[table["label"].isna()].head(STRIP_SIZE)


def _decide(project_path: str, barcodes: list[str], label: str | None, annotator: str, predicted: pd.DataFrame) -> None:
    """Agree (``label`` ``None``: each spot takes its prediction) or give ``label`` to every one of ``barcodes``."""
    if label is None:
        labels = {b: str(predicted.at[b, "label"]) for b in barcodes}
        source = K.SOURCE_ACCEPTED
    else:
        labels = dict.fromkeys(barcodes, label)
        same = all(str(predicted.at[b, "label"]) == label for b in barcodes)
        source = K.SOURCE_ACCEPTED if same else K.SOURCE_CORRECTED
    expected = D.shown_state(S.STRIP_SEEN, labels)
    D.label_spots(project_path, labels, annotator=annotator, source=source, predicted=predicted, expected=expected)
    st.session_state.pop(S.STRIP_DISAGREE, None)


def _disagree(barcode: str) -> None:
    st.session_state[S.STRIP_DISAGREE] = barcode


def render_strip(
    project_path: str, table: pd.DataFrame, predicted: pd.DataFrame, classes: list[str], *, annotator: str
) -> None:
    """Draw the strip above the review table."""
    strip = strip_spots(table)
    st.subheader("Film strip", help="The predictions in the table's order, unlabelled spots only.")
    if strip.empty:
        st.success("Every prediction shown has a label.", icon=":material/done_all:")
        return
    D.remember_shown(S.STRIP_SEEN, D.open_project(project_path, wait=False), strip.index)
    focus = strip.index[0]
    row = strip.loc[focus]
    disabled = not annotator
    with st.container(border=True, key="strip_focus"):
        image_col, info_col = st.columns([2, 3], vertical_alignment="center")
        with image_col:
            D.show_spot(focus, project_path, width=2 * D.CROP_SIZE, wider=True)
        info_col.markdown(f"#### `{focus}`")
        info_col.markdown(f"model: **{row['prediction']}** ({row['confidence']:.0%})")
        agree, disagree, everything = info_col.columns(3)
        agree.button(
            "Agree",
            key=S.STRIP_AGREE,
            type="primary",
            icon=":material/thumb_up:",
            on_click=_decide,
            args=(project_path, [focus], None, annotator, predicted),
            shortcut="A",
            disabled=disabled,
            width="stretch",
        )
        disagree.button(
            "Disagree",
            key=S.STRIP_DISAGREE_BUTTON,
            icon=":material/thumb_down:",
            on_click=_disagree,
            args=(focus,),
            shortcut="D",
            disabled=disabled,
            width="stretch",
        )
        everything.button(
            f"Agree to all {len(strip)}",
            key=S.STRIP_AGREE_ALL,
            icon=":material/done_all:",
            on_click=_decide,
            args=(project_path, list(strip.index), None, annotator, predicted),
            disabled=disabled,
            width="stretch",
        )
        asking = st.session_state.get(S.STRIP_DISAGREE) == focus
        info_col.caption(
            "Which class is it? Press 1–9." if asking else "A: agree · D: disagree · 1–9: give a class directly."
        )
        buttons = info_col.columns(min(len(classes), 5))
        for i, name in enumerate(classes):
            buttons[i % len(buttons)].button(
                name,
                key=S.strip_class_key(i),
                on_click=_decide,
                args=(project_path, [focus], name, annotator, predicted),
                shortcut=_SHORTCUT_KEYS[i] if i < len(_SHORTCUT_KEYS) else None,
                type="primary" if asking and name != row["prediction"] else "secondary",
                disabled=disabled or (name == row["prediction"] and asking),
                width="stretch",
            )
    rest = strip.iloc[1:]
    if rest.empty:
        return
    columns = st.columns(len(rest))
    for column, (barcode, card) in zip(columns, rest.iterrows(), strict=True):
        with column.container(border=True):
            D.show_spot(barcode, project_path, width=D.CROP_SIZE)
            st.caption(f"`{barcode}` · **{card['prediction']}** ({card['confidence']:.0%})")
            st.button(
                "Agree",
                key=S.strip_card_key(barcode),
                icon=":material/thumb_up:",
                on_click=_decide,
                args=(project_path, [barcode], None, annotator, predicted),
                disabled=disabled,
                width="stretch",
            )
