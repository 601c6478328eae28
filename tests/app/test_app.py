"""The review app's logic through ``streamlit.testing.v1.AppTest``: widgets addressed by key."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from activespot import _constants as K
from activespot.app import _data as D
from activespot.app import _state as S
from activespot.app._data import page_file
from activespot.app._queue import GALLERY_SIZE, _gallery_page
from activespot.project import Project

from .conftest import ANNOTATOR, APP, CHECKOUT_APP, journal, open_app

# the pages of a Visium project
PAGES = ["overview", "queue", "review", "tissue", "rounds", "workload", "agreement", "classes", "files"]


def test_every_page_shows_without_errors(demo_project):
    app = open_app(demo_project)
    assert {m.label: m.value for m in app.metric}["Spots"] == "3,639"
    for page in PAGES:
        app.switch_page(page_file(page)).run()
        assert not app.exception, (page, app.exception)
        assert app.title, page


def test_the_checkout_app_py_runs_the_packaged_app(demo_project):
    app = AppTest.from_file(str(CHECKOUT_APP), default_timeout=60)
    app.session_state[S.PROJECT_PATH] = str(demo_project)
    app.session_state[S.ANNOTATOR] = ANNOTATOR
    app.run()
    assert not app.exception, app.exception
    assert {m.label: m.value for m in app.metric}["Spots"] == "3,639"
    app.switch_page(page_file("queue")).run()
    assert not app.exception, app.exception
    assert app.title[0].value == "Queue"


def test_app_without_a_project_asks_for_one():
    app = AppTest.from_file(str(APP), default_timeout=30).run()
    assert not app.exception
    assert "project" in app.info[0].value


def test_a_wrong_folder_is_an_error_not_a_crash(tmp_path):
    app = AppTest.from_file(str(APP), default_timeout=30)
    app.session_state[S.PROJECT_PATH] = str(tmp_path)
    app.run()
    assert not app.exception
    assert "not an activespot project" in app.error[0].value


def test_labelling_from_the_queue_is_stored_at_once_with_the_suggestion_and_can_be_undone(demo_project):
    app = open_app(demo_project, page="queue")
    project = Project.open(demo_project)
    focus = next(b for b in D.query(project) if b not in project.labels())
    button = app.button(key=S.class_button_key(0))
    button.click().run()
    assert not app.exception
    events = journal(demo_project)
    last = events.iloc[-1]
    assert (last["item"], last["label"], last["source"], last["annotator"]) == (
        focus,
        button.label,
        "manual",
        ANNOTATOR,
    )
    assert isinstance(last["suggested_label"], str)  # the prediction on screen is kept

    app.button(key=S.QUEUE_UNDO).click().run()
    events = journal(demo_project)
    assert events.iloc[-1]["source"] == "undo"
    assert focus not in Project.open(demo_project).labels()


def test_a_gallery_card_labels_its_spot_in_one_click(demo_project):
    app = open_app(demo_project, page="queue")
    card = next(w for w in app.get("button_group") if w.key and w.key.startswith("queue_card_"))
    barcode = card.key.removeprefix("queue_card_")
    card.set_value("WM").run()
    assert not app.exception
    assert Project.open(demo_project).labels()[barcode] == "WM"


def test_the_gallery_page_stays_put_and_shows_labels_given_from_the_focus_and_their_undo(demo_project):
    """Cards keep their places while a page is labelled (a click redraws two cards, not eight).

    The focused spot's slot is a marker, not a second copy of it: once labelled, it is a card again.
    """
    app = open_app(demo_project, page="queue")

    def cards():
        return {w.key.removeprefix("queue_card_"): w.value for w in app.get("button_group") if w.key}

    before = cards()
    focus = app.markdown[0].value  # "#### `barcode`"
    focus = next(b for b in D.query(Project.open(demo_project)) if b in focus)
    assert focus not in before
    app.button(key=S.class_button_key(0)).click().run()
    after = cards()
    assert focus in after
    assert len(after) == len(before)  # the next spot became the marker: one card in, one out
    assert [b for b in after if b in before] == [b for b in before if b in after]  # the others keep their order
    assert after[focus] == app.button(key=S.class_button_key(0)).label
    assert not any(v for b, v in after.items() if b != focus)

    app.button(key=S.QUEUE_UNDO).click().run()
    assert cards() == before


def test_gallery_pages_cover_the_queue_in_fixed_chunks():
    queue = [f"s{i}" for i in range(20)]
    assert _gallery_page(queue, "s0") == queue[:GALLERY_SIZE]
    assert _gallery_page(queue, queue[GALLERY_SIZE + 1]) == queue[GALLERY_SIZE : 2 * GALLERY_SIZE]
    assert _gallery_page(queue, None) == queue[2 * GALLERY_SIZE :]  # all labelled: the last page
    assert _gallery_page([], None) == []


@pytest.mark.parametrize(
    ("page", "buttons"),
    [
        ("queue", [S.class_button_key(0), S.QUEUE_UNDO]),
        ("review", [S.REVIEW_ACCEPT_TOP, S.REVIEW_UNDO]),
        ("classes", [S.CLASSES_ADD, S.CLASSES_RENAME]),
    ],
)
def test_without_a_name_nothing_can_be_labelled(demo_project, page, buttons):
    app = open_app(demo_project, annotator="", page=page)
    assert all(app.button(key=key).disabled for key in buttons)
    assert any("name" in w.value for w in app.warning)


def test_without_a_name_an_import_says_so_and_stores_nothing(demo_project):
    app = open_app(demo_project, annotator="", page="files")
    barcode = Project.open(demo_project).barcodes[0]
    app.file_uploader(key=S.FILES_UPLOAD).set_value(("x.csv", f"Barcode,Layer\n{barcode},L2\n".encode(), "text/csv"))
    app.run()
    before = len(journal(demo_project))
    app.button(key=S.FILES_IMPORT).click().run()
    assert not app.exception
    assert "Enter your name" in app.error[0].value
    assert len(journal(demo_project)) == before


def test_accept_and_correct_predictions_keep_the_suggestion(demo_project):
    app = open_app(demo_project, page="review")
    app.number_input(key=S.REVIEW_TOP_N).set_value(3).run()
    app.button(key=S.REVIEW_ACCEPT_TOP).click().run()
    assert not app.exception
    events = journal(demo_project)
    accepted = events[events["source"] == "accepted"]
    assert len(accepted) == 3
    assert (accepted["label"] == accepted["suggested_label"]).all()
    assert (accepted["annotator"] == ANNOTATOR).all()

    # Select the two least confident rows and correct them.
    table_key = S.REVIEW_TABLE.format(version=app.session_state[S.REVIEW_VERSION])  # bumped by the accept
    app.session_state[table_key] = {"selection": {"rows": [0, 1], "columns": [], "cells": []}}
    app.run()
    app.selectbox(key=S.REVIEW_CORRECT_TO).set_value("L1").run()
    app.button(key=S.REVIEW_CORRECT).click().run()
    assert not app.exception
    corrected = journal(demo_project).query("source == 'corrected'")
    assert len(corrected) == 2
    assert (corrected["label"] == "L1").all()
    assert corrected["suggested_label"].notna().all()
    assert corrected["suggestion_confidence"].between(0, 1).all()

    app.button(key=S.REVIEW_UNDO).click().run()
    assert journal(demo_project).iloc[-1]["source"] == "undo"
    assert len(Project.open(demo_project).labels()) == 53 + 3


def test_a_round_trains_and_the_new_queue_appears(demo_project):
    project = Project.open(demo_project)
    config = project.config.updated({"model": {"epochs": 2}})  # the round's logic, not its accuracy
    project.save_config(config)
    before = project.last_round_number
    app = open_app(demo_project, page="rounds")
    app.button(key=S.ROUNDS_RUN).click().run(timeout=120)
    assert not app.exception
    assert Project.open(demo_project).last_round_number == before + 1
    assert any(f"Round {before + 1}" in t.proto.body for t in app.toast)
    assert app.dataframe  # the per-round table


def test_importing_a_bad_loupe_csv_shows_the_cli_error_with_the_file_name(demo_project):
    app = open_app(demo_project, page="files")
    bad = b"Barcode,Layer\nNOT-A-BARCODE-1,L1\n"
    app.file_uploader(key=S.FILES_UPLOAD).set_value(("my labels.csv", bad, "text/csv")).run()
    app.button(key=S.FILES_IMPORT).click().run()
    assert not app.exception
    message = app.error[0].value
    assert message.startswith("my labels.csv")
    assert "upload.csv" not in message
    assert "/tmp" not in message
    assert len(journal(demo_project).query("source == 'imported'")) == 53  # nothing stored


def test_importing_a_good_loupe_csv_stores_the_labels(demo_project):
    app = open_app(demo_project, page="files")
    barcode = Project.open(demo_project).barcodes[0]
    app.file_uploader(key=S.FILES_UPLOAD).set_value(("x.csv", f"Barcode,Layer\n{barcode},L2\n".encode(), "text/csv"))
    app.run()
    app.button(key=S.FILES_IMPORT).click().run()
    assert "1 new" in app.success[0].value
    assert journal(demo_project).iloc[-1]["annotator"] == ANNOTATOR


@pytest.mark.parametrize(
    ("steps", "classes"),
    [
        ([(S.CLASSES_NEW, "Necrosis", S.CLASSES_ADD)], ["L1", "L2", "L3", "L4", "L5", "L6", "WM", "Necrosis"]),
        (
            [(S.CLASSES_RENAME_TO, "White matter", S.CLASSES_RENAME)],
            ["White matter", "L2", "L3", "L4", "L5", "L6", "WM"],
        ),
    ],
)
def test_classes_are_added_and_renamed_as_events(demo_project, steps, classes):
    app = open_app(demo_project, page="classes")
    for key, value, button in steps:
        app.text_input(key=key).set_value(value).run()
        app.button(key=button).click().run()
        assert not app.exception
    assert Project.open(demo_project).store.declared_classes() == classes


def test_merging_a_class_reads_old_labels_under_the_new_name(demo_project):
    colours = D.class_colors(Project.open(demo_project))
    app = open_app(demo_project, page="classes")
    app.selectbox(key=S.CLASSES_MERGE_FROM).set_value("L1").run()
    app.selectbox(key=S.CLASSES_MERGE_INTO).set_value("L2").run()
    app.button(key=S.CLASSES_MERGE).click().run()
    project = Project.open(demo_project)
    assert "L1" not in project.store.declared_classes()
    assert "L1" not in set(project.labels())
    assert D.class_colors(project) == {name: c for name, c in colours.items() if name != "L1"}  # none recoloured


def test_heavy_objects_are_loaded_once_per_project(demo_project):
    app = open_app(demo_project, page="queue")
    path = str(Project.open(demo_project).path)
    loads = D.LOADS.copy()
    for _ in range(3):
        app.button(key=S.QUEUE_SKIP).click().run()
    app.switch_page(page_file("tissue")).run()
    app.switch_page(page_file("queue")).run()
    assert not app.exception
    assert D.LOADS["sample"] == loads["sample"]
    assert D.LOADS["predictions"] == loads["predictions"]
    assert D.LOADS["patches"] == loads["patches"]
    assert D.LOADS["image"] <= loads["image"] + 1  # the tissue image is built once, on first use
    assert path in D._READY


def test_without_a_name_the_cells_page_asks_for_it_and_a_click_on_a_class_stores_nothing(cell_project):
    """Issue 18, bug 12: no ``ValueError: an annotator name is required`` traceback, no page gone."""
    from activespot.cells import latest_cell_round, load_cells

    app = open_app(cell_project.path, annotator="")  # the first run chooses the first region
    assert any("Enter your name" in w.value for w in app.warning)
    current = latest_cell_round(Project.open(cell_project.path))
    cell = str(load_cells(cell_project).obs_names[current.region.cells[0]])
    app.session_state["cells_region_0"] = {"selection": {"cell": [{K.CELL_ID: cell}]}}
    app.run()
    assert all(app.button(key=key).disabled for key in ("cells_set_0", "cells_set_1", "cells_save", "cells_accept_all"))

    # The name cleared in the sidebar in the same run as a class is clicked (what the browser sends
    # when the name is emptied and a button pressed before the page has redrawn).
    app = open_app(cell_project.path)
    app.session_state["cells_region_0"] = {"selection": {"cell": [{K.CELL_ID: cell}]}}
    app.run()
    before = len(journal(cell_project.path))
    app.text_input(key=S.ANNOTATOR).set_value("")
    app.button(key="cells_set_0").click().run()
    assert not app.exception, app.exception
    assert any("Enter your name" in w.value for w in app.warning)
    assert app.title[0].value == "Cells"
    assert "Workload reduction" in {m.label for m in app.metric}  # the rest of the page is still there
    assert len(journal(cell_project.path)) == before
