"""Queue page: the spots the latest round asks about, labelled in one click.

One focused spot takes keyboard shortcuts; a gallery shows the page of the queue it belongs to.
The page stays put while it is being labelled (a labelled card keeps its place and shows its
label): a click then changes two cards instead of shifting every card by one, which is what keeps
a click under a few hundred milliseconds in the browser. The focused spot keeps its slot in the
gallery as a marker, not a second copy; cards are laid out row by row, so tab order reads along.

Several annotators share the queue through the journal: the page claims the spots it shows (the
focused spot and the gallery's unlabelled ones) for ``CLAIM_TIMEOUT_S``, and another annotator's
queue passes over them; a skip is stored per annotator and round, so a skipped spot stays at the
end of that annotator's queue after a reload. A label is stored with the newest event id of the
spot as the page showed it: if a colleague changed the spot since, nothing is overwritten and
the page says who changed it to what, with a button to overwrite anyway.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from .. import _constants as K
from ..project import Project, claims_to_renew, queue_order, queue_table
from . import _data as D
from . import _state as S

GALLERY_SIZE = 8  # cards per gallery page below the focused spot
_CARDS_PER_ROW = 4  # gallery cards per row (one st.columns per row: tab order follows the rows)
_SHORTCUT_KEYS = "123456789"  # class buttons of the focused spot; C and R are reserved by Streamlit


def _label(
    project_path: str,
    barcode: str,
    label: str,
    annotator: str,
    predicted: pd.DataFrame | None,
    expected: int | None,
) -> None:
    D.label_spots(
        project_path,
        {barcode: label},
        annotator=annotator,
        source=K.SOURCE_MANUAL,
        predicted=predicted,
        expected={barcode: expected},
    )


def _label_from_card(
    project_path: str, barcode: str, annotator: str, predicted: pd.DataFrame | None, expected: int | None
) -> None:
    label = st.session_state.get(S.card_key(barcode))
    if label:
        _label(project_path, barcode, label, annotator, predicted, expected)


def _skip(project_path: str, barcode: str, annotator: str, round_number: int) -> None:
    if annotator:
        D.open_project(project_path, wait=False).store.add_skip(barcode, annotator=annotator, round_number=round_number)


def _prediction_text(row: pd.Series) -> str:
    if not isinstance(row["prediction"], str):
        return "no prediction yet"
    return f"model: **{row['prediction']}** ({row['confidence']:.0%})"


def _claim_shown(project: Project, shown: list[str], claims: pd.DataFrame, annotator: str) -> None:
    """Claim the spots on this annotator's page that nobody holds, and renew their own old claims."""
    held = {
        item: (row[K.COL_ANNOTATOR], datetime.fromisoformat(row[K.COL_CREATED_AT])) for item, row in claims.iterrows()
    }
    renew = claims_to_renew(shown, annotator=annotator, claims=held, now=datetime.now(UTC))
    if renew:
        project.store.claim(renew, annotator=annotator)


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
    round_number = int(table["round"].iloc[0])
    st.progress(done / len(table), text=f"**{done} / {len(table)} labelled** · round {round_number}")
    if not annotator:
        st.warning("Enter your name in the sidebar to label spots.", icon=":material/person:")
    if not classes:
        st.warning("The project has no classes yet: add them on the Classes page.")
        return
    D.show_refused(path, annotator, predicted)

    todo = list(table.index[table["label"].isna()])
    claims = project.store.claims()
    held = claims[K.COL_ANNOTATOR].to_dict()
    skipped = project.store.skipped(annotator=annotator, round_number=round_number) if annotator else []
    order = queue_order(todo, annotator=annotator, skipped=skipped, claims=held)
    focus = order[0] if order else None
    cards = _gallery_page(list(table.index), focus)
    others = {item: who for item, who in held.items() if who != annotator}
    if annotator:
        # what they skipped stays free for the others unless it is what they look at now
        later = set(skipped)
        _claim_shown(
            project, [b for b in [focus, *cards] if b == focus or (b in order and b not in later)], claims, annotator
        )
    newest = project.store.newest_events([focus, *cards] if focus else cards)
    if focus is None and todo:
        names = ", ".join(sorted(set(others.values())))
        st.info(
            f"The {len(todo)} unlabelled spots left are on {names}'s screen. They come back to your queue when "
            f"skipped, or {K.CLAIM_TIMEOUT_S // 60} minutes after they were last shown.",
            icon=":material/group:",
        )
    elif focus is None:
        st.success(
            "Every queried spot is labelled. Train the next round on the Rounds page.", icon=":material/done_all:"
        )
        st.page_link(D.page_file("rounds"), label="Go to Rounds", icon=":material/model_training:")
    else:
        row = table.loc[focus]
        with st.container(border=True, key="queue_focus"):
            image_col, info_col = st.columns([1.5, 2], vertical_alignment="center")
            with image_col:
                D.show_spot(focus, path, width=2 * D.CROP_SIZE, wider=True)
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
                    args=(path, focus, name, annotator, predicted, newest.get(focus)),
                    shortcut=shortcut,
                    type="primary" if name == row["prediction"] else "secondary",
                    width="stretch",
                    disabled=not annotator,
                )
            tools = info_col.columns(3)
            tools[0].button(
                "Skip",
                key=S.QUEUE_SKIP,
                on_click=_skip,
                args=(path, focus, annotator, round_number),
                icon=":material/skip_next:",
                shortcut="S",
                disabled=not annotator,
                help="Later: the spot goes to the end of your queue, also after a reload.",
            )
            D.undo_button(tools[1], S.QUEUE_UNDO, project, annotator=annotator)
            D.redo_button(tools[2], S.QUEUE_REDO, project, annotator=annotator)

    st.markdown(D.legend_html({c: int((table["label"] == c).sum()) for c in classes}, colors), unsafe_allow_html=True)
    show_done = st.toggle("Show labelled spots too", key=S.QUEUE_SHOW_DONE)
    if show_done:
        labelled = [b for b in table.index[table["label"].notna()] if b not in cards]
        cards = labelled + cards
    if not cards:
        return
    st.subheader("This page of the queue" if not show_done else "Spots")
    # One row of columns per 4 cards, so that keyboard focus (tab) runs along the rows as they read.
    for start in range(0, len(cards), _CARDS_PER_ROW):
        columns = st.columns(_CARDS_PER_ROW)
        for column, barcode in zip(columns, cards[start : start + _CARDS_PER_ROW], strict=False):
            with column.container(border=True):
                if barcode == focus:  # shown above: marked here, not repeated
                    st.caption(f"`{barcode}` · :violet[**labelling now**], above")
                    continue
                _card(path, table.loc[barcode], barcode, classes, annotator, predicted, newest, others)


def _card(
    path: str,
    row: pd.Series,
    barcode: str,
    classes: list[str],
    annotator: str,
    predicted: pd.DataFrame | None,
    newest: dict[str, int],
    others: dict[str, str],
) -> None:
    """One gallery card: the spot's crop, its prediction and a one-click class control."""
    D.show_spot(barcode, path, width=D.CROP_SIZE)
    elsewhere = f" · :orange[on {others[barcode]}'s screen]" if barcode in others else ""
    st.caption(f"`{barcode}` · " + _prediction_text(row) + elsewhere)
    # The journal decides what the card shows: a label given with the buttons above, an undo
    # or a class merged away since the card was drawn.
    st.session_state[S.card_key(barcode)] = row["label"] if isinstance(row["label"], str) else None
    st.segmented_control(
        "Class",
        classes,
        key=S.card_key(barcode),
        on_change=_label_from_card,
        args=(path, barcode, annotator, predicted, newest.get(barcode)),
        label_visibility="collapsed",
        disabled=not annotator or barcode in others,
    )


def _gallery_page(queue: list[str], focus: str | None) -> list[str]:
    """The ``GALLERY_SIZE`` spots of the queue page holding ``focus`` (the last page once all are labelled)."""
    if not queue:
        return []
    position = queue.index(focus) if focus is not None else len(queue) - 1
    start = position // GALLERY_SIZE * GALLERY_SIZE
    return queue[start : start + GALLERY_SIZE]
