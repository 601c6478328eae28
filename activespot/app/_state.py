"""Every Streamlit session-state and widget key of the review app, in one place.

Session state holds only view settings and the last action's message: every label goes to the
project's journal the moment it is given, so a refreshed browser loses nothing. Widget keys are
what the tests address (``AppTest``'s ``key=`` lookups and the browser test's selectors).
"""

from __future__ import annotations

from typing import Final

# --- app-wide ---------------------------------------------------------------------------------
PROJECT_PATH: Final = "project_path"  # text input: project folder when the app was started without one
ANNOTATOR: Final = "annotator"  # sidebar text input: who is labelling (stored with every event)
PROJECT: Final = "project"  # the Project the entry point opened for this run (re-opened every run; pages read it)
FLASH: Final = "flash"  # (kind, message) shown once at the top of the next run, after an action
TRUTH: Final = "truth"  # pandas Series barcode -> class of an attached truth file (not labels)
TRUTH_NAME: Final = "truth_name"  # the uploaded truth file's name, shown only

# --- tissue -----------------------------------------------------------------------------------
TISSUE_COLOR: Final = "tissue_color"  # radio: colour spots by label / prediction / uncertainty / query
TISSUE_OPACITY: Final = "tissue_opacity"  # slider: spot fill opacity
TISSUE_CHART: Final = "tissue_chart"  # pydeck chart (hover shows spot details; an HD raster: the tile or bin clicked)
TISSUE_MODE: Final = "tissue_mode"  # segmented control: look around (deck.gl) or select a region (Plotly)
TISSUE_SELECT: Final = "tissue_select"  # Plotly chart of the selection view (state: boxes, lassos, clicks)
TISSUE_DRAWN: Final = "tissue_drawn"  # the drawing last applied to the selection (shown again: no change)
TISSUE_SELECTION: Final = "tissue_selection"  # list of the selected items' positions in the sample
TISSUE_SEEN: Final = "tissue_seen"  # newest event id of each selected spot when the page showed the selection
TISSUE_CLASS: Final = "tissue_class"  # selectbox: the class a region action gives
TISSUE_LABEL: Final = "tissue_label"  # button: label the selection as the class (manual)
TISSUE_CORRECT: Final = "tissue_correct"  # button: correct the selection's predictions to the class (corrected)
TISSUE_ACCEPT: Final = "tissue_accept"  # button: accept the selection's predictions (accepted)
TISSUE_CLEAR: Final = "tissue_clear"  # button: clear the selection's labels (new events, nothing deleted)
TISSUE_DESELECT: Final = "tissue_deselect"  # button: empty the selection
TISSUE_UNDO: Final = "tissue_undo"  # button: undo the last action (a whole region at once)
TISSUE_REDO: Final = "tissue_redo"  # button: redo the last undo

# --- queue ------------------------------------------------------------------------------------
QUEUE_CLASS_BUTTON: Final = "queue_label_{index}"  # button: label the current spot with class {index}
QUEUE_SKIP: Final = "queue_skip"  # button: skip the focused spot (stored in the journal; it goes to the end)
STALE: Final = "stale"  # {labels, source, message} of labels refused because a spot changed since it was shown
STALE_OVERWRITE: Final = "stale_overwrite"  # button: store the refused labels anyway
STALE_KEEP: Final = "stale_keep"  # button: keep the colleague's labels, forget the refused ones
QUEUE_CARD: Final = "queue_card_{barcode}"  # segmented control on a gallery card: label that spot
QUEUE_UNDO: Final = "queue_undo"  # button: undo the last action
QUEUE_REDO: Final = "queue_redo"  # button: redo the last undo
QUEUE_SHOW_DONE: Final = "queue_show_done"  # toggle: include already labelled spots in the gallery

# --- review -----------------------------------------------------------------------------------
REVIEW_ORDER: Final = "review_order"  # radio: least or most confident first
REVIEW_FILTER: Final = "review_filter"  # selectbox: only spots predicted as one class
REVIEW_UNLABELLED: Final = "review_unlabelled"  # toggle: hide spots that already have a label
REVIEW_TABLE: Final = "review_table_{version}"  # dataframe with row selection (new key clears the selection)
REVIEW_VERSION: Final = "review_version"  # int bumped after each action so the stale selection is dropped
REVIEW_ACCEPT: Final = "review_accept"  # button: accept the selected predictions
REVIEW_ACCEPT_TOP: Final = "review_accept_top"  # button: accept the N most confident shown
REVIEW_TOP_N: Final = "review_top_n"  # number input: N for REVIEW_ACCEPT_TOP
REVIEW_CORRECT_TO: Final = "review_correct_to"  # selectbox: class to correct the selected spots to
REVIEW_CORRECT: Final = "review_correct"  # button: correct the selected spots
REVIEW_UNDO: Final = "review_undo"  # button: undo the last action
REVIEW_REDO: Final = "review_redo"  # button: redo the last undo
REVIEW_SEEN: Final = "review_seen"  # newest event id of the selected and the N most confident spots as shown
STRIP_SEEN: Final = "strip_seen"  # newest event id of each spot of the film strip as shown
STRIP_AGREE: Final = "strip_agree"  # button (A): agree with the focused card's prediction (accepted)
STRIP_DISAGREE_BUTTON: Final = "strip_disagree"  # button (D): disagree; the class buttons then ask which class it is
STRIP_DISAGREE: Final = "strip_disagreed"  # the barcode the annotator disagreed with (its class buttons light up)
STRIP_AGREE_ALL: Final = "strip_agree_all"  # button: agree with every card on the strip (one action)
STRIP_CLASS: Final = "strip_class_{index}"  # button (1–9): give the focused card class {index}
STRIP_CARD: Final = "strip_card_{barcode}"  # button: agree with that card of the strip

# --- rounds -----------------------------------------------------------------------------------
ROUNDS_RUN: Final = "rounds_run"  # button: train the next round
ROUNDS_TRUTH_UPLOAD: Final = "rounds_truth_upload"  # file uploader: a truth CSV (barcode, class)

# --- files ------------------------------------------------------------------------------------
FILES_UPLOAD: Final = "files_upload"  # file uploader: Loupe category CSV
FILES_COLUMN: Final = "files_column"  # text input: category column when the CSV has several
FILES_IMPORT: Final = "files_import"  # button: import the uploaded CSV
FILES_DOWNLOAD_LABELS: Final = "files_download_labels"  # download button: labels as Loupe CSV
FILES_DOWNLOAD_PREDICTIONS: Final = "files_download_predictions"  # download button: predictions as Loupe CSV
FILES_DOWNLOAD_QUERY: Final = "files_download_query"  # download button: the current query as Loupe CSV
FILES_PREPARE_H5AD: Final = "files_prepare_h5ad"  # button: write the annotated AnnData for download
FILES_DOWNLOAD_H5AD: Final = "files_download_h5ad"  # download button: the annotated AnnData
H5AD: Final = "h5ad_bytes"  # the prepared AnnData file (bytes) until it is downloaded or the session ends

# --- agreement --------------------------------------------------------------------------------
AGREEMENT_UPLOAD: Final = "agreement_upload"  # file uploader: a second annotation (Loupe CSV or truth table)
AGREEMENT_COLUMN: Final = "agreement_column"  # selectbox: its label column, when it has several
AGREEMENT_AGAINST: Final = "agreement_against"  # radio: compare with the project's labels or latest predictions
CONSISTENCY_RUN: Final = "consistency_run"  # button: run the out-of-fold consistency review
CONSISTENCY_SHOWN: Final = "consistency_shown"  # (project folder, journal version) of the review on screen
CONSISTENCY_TABLE: Final = "consistency_table_{version}"  # dataframe of disputed labels (new key per journal version)
CONSISTENCY_RELABEL_TO: Final = "consistency_relabel_to"  # selectbox: class to re-label the selected spots to
CONSISTENCY_RELABEL: Final = "consistency_relabel"  # button: re-label the selected spots
CONSISTENCY_ACCEPT: Final = "consistency_accept"  # button: give the selected spots the model's class
CONSISTENCY_UNDO: Final = "consistency_undo"  # button: undo the last action
CONSISTENCY_REDO: Final = "consistency_redo"  # button: redo the last undo
CELLS_UNDO: Final = "cells_undo"  # cells page button: undo the last action (an "Accept all" is one)
CELLS_REDO: Final = "cells_redo"  # cells page button: redo the last undo
CONSISTENCY_DOWNLOAD: Final = "consistency_download"  # download button: the disputed labels as a Loupe CSV

# --- classes ----------------------------------------------------------------------------------
CLASSES_NEW: Final = "classes_new"  # text input: name of a class to add
CLASSES_ADD: Final = "classes_add"  # button: add it
CLASSES_RENAME_FROM: Final = "classes_rename_from"  # selectbox
CLASSES_RENAME_TO: Final = "classes_rename_to"  # text input
CLASSES_RENAME: Final = "classes_rename"  # button
CLASSES_MERGE_FROM: Final = "classes_merge_from"  # selectbox
CLASSES_MERGE_INTO: Final = "classes_merge_into"  # selectbox
CLASSES_MERGE: Final = "classes_merge"  # button
CLASSES_EXCLUDE_NAME: Final = "classes_exclude_name"  # text input: the exclusion class (default "Not tissue")
CLASSES_EXCLUDE: Final = "classes_exclude"  # button: add (if new) and mark it as the exclusion class
CLASSES_UNEXCLUDE: Final = "classes_unexclude"  # button: no exclusion class


def review_table_key() -> str:
    """Widget key of the review table in this run."""
    import streamlit as st

    return REVIEW_TABLE.format(version=st.session_state.get(REVIEW_VERSION, 0))


def strip_class_key(index: int) -> str:
    """Widget key of the film strip's button for class ``index``."""
    return STRIP_CLASS.format(index=index)


def strip_card_key(barcode: str) -> str:
    """Widget key of the agree button on the strip's card of ``barcode``."""
    return STRIP_CARD.format(barcode=barcode)


def card_key(barcode: str) -> str:
    """Widget key of the gallery card of ``barcode``."""
    return QUEUE_CARD.format(barcode=barcode)


def class_button_key(index: int) -> str:
    """Widget key of the ``index``-th class button of the current queue spot."""
    return QUEUE_CLASS_BUTTON.format(index=index)
