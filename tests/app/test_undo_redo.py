"""Undo names what it undid, redo gives it back: Queue, Review and Cells (issue 15), widgets by key."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from activespot import _constants as K
from activespot.app import _state as S
from activespot.project import Project

from .conftest import journal, open_app


def _toasts(app) -> list[str]:
    return [t.proto.body for t in app.toast]


def test_queue_undo_names_the_spot_and_class_and_redo_gives_the_label_back(demo_project):
    app = open_app(demo_project, page="queue")
    button = app.button(key=S.class_button_key(0))
    button.click().run()
    focus = journal(demo_project).iloc[-1]["item"]
    assert Project.open(demo_project).labels()[focus] == button.label

    app.button(key=S.QUEUE_UNDO).click().run()
    assert not app.exception, app.exception
    assert f"Undid: {focus} → {button.label} (manual)" in _toasts(app)
    assert focus not in Project.open(demo_project).labels()

    app.button(key=S.QUEUE_REDO).click().run()
    assert not app.exception, app.exception
    assert f"Redid: {focus} → {button.label} (manual)" in _toasts(app)
    assert Project.open(demo_project).labels()[focus] == button.label
    assert app.button(key=S.QUEUE_REDO).disabled  # nothing more to redo
    app.button(key=S.QUEUE_UNDO).click().run()
    assert not app.button(key=S.QUEUE_REDO).disabled
    app.button(key=S.class_button_key(1)).click().run()  # a new label: the undo can no longer be redone
    assert app.button(key=S.QUEUE_REDO).disabled


def _redo_as_nobody(project_path: str) -> None:
    from activespot.app import _data as D

    D.redo_last(project_path, annotator="nobody")  # what a stale button in a second tab would do
    D.show_flash()


def test_redo_with_nothing_to_redo_says_so_and_stores_nothing(demo_project):
    before = len(journal(demo_project))
    app = AppTest.from_function(_redo_as_nobody, args=(str(demo_project),), default_timeout=60).run()
    assert not app.exception, app.exception
    assert _toasts(app) == ["Nothing of nobody's to redo: only undos since your last label can be redone."]
    assert len(journal(demo_project)) == before


def test_review_undo_of_an_accept_names_the_classes_and_undo_undo_redo_redo_works(demo_project):
    app = open_app(demo_project, page="review")
    labelled = Project.open(demo_project).labels()
    app.number_input(key=S.REVIEW_TOP_N).set_value(3).run()
    app.button(key=S.REVIEW_ACCEPT_TOP).click().run()
    app.number_input(key=S.REVIEW_TOP_N).set_value(2).run()
    app.button(key=S.REVIEW_ACCEPT_TOP).click().run()
    after = Project.open(demo_project).labels()
    assert len(after) == len(labelled) + 5
    events = journal(demo_project)
    second = events[events["action_id"] == events["action_id"].max()]["label"].value_counts()

    app.button(key=S.REVIEW_UNDO).click().run()
    classes = ", ".join(f"{label} ×{n}" for label, n in second.items())
    assert f"Undid 2 labels (accepted: {classes})" in _toasts(app)
    app.button(key=S.REVIEW_UNDO).click().run()
    assert Project.open(demo_project).labels().equals(labelled)
    app.button(key=S.REVIEW_REDO).click().run()
    assert any(t.startswith("Redid 3 labels (accepted: ") for t in _toasts(app))
    app.button(key=S.REVIEW_REDO).click().run()
    assert not app.exception, app.exception
    assert Project.open(demo_project).labels().sort_index().equals(after.sort_index())


@pytest.mark.parametrize(("page", "key"), [("queue", S.QUEUE_REDO), ("review", S.REVIEW_REDO)])
def test_redo_is_next_to_undo_and_needs_a_name(demo_project, page, key):
    app = open_app(demo_project, annotator="", page=page)
    assert app.button(key=key).label == "Redo"
    assert app.button(key=key).disabled


def test_cells_undo_after_accept_all_reverts_every_label_in_one_click_and_redo_restores_them(cell_project):
    app = open_app(cell_project.path)  # a cell project opens on its cells page
    assert app.title[0].value == "Cells"
    before = Project.open(cell_project.path).labels()
    app.button(key="cells_accept_all").click().run()
    assert not app.exception, app.exception
    accepted = Project.open(cell_project.path).labels()
    n = len(accepted) - len(before)
    assert n > 1

    app.button(key=S.CELLS_UNDO).click().run()
    assert not app.exception, app.exception
    assert Project.open(cell_project.path).labels().equals(before)  # one click: the whole Accept all
    assert any(t.startswith(f"Undid {n} labels (accepted: ") for t in _toasts(app))
    assert journal(cell_project.path).iloc[-n:]["source"].eq(K.SOURCE_UNDO).all()

    app.button(key=S.CELLS_REDO).click().run()
    assert not app.exception, app.exception
    assert Project.open(cell_project.path).labels().sort_index().equals(accepted.sort_index())
    assert any(t.startswith(f"Redid {n} labels (accepted: ") for t in _toasts(app))
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Labels"] == str(len(accepted))  # the redone labels count once


def test_tissue_region_undo_names_the_classes_and_redo_relabels_the_whole_region(demo_project):
    from .test_tissue_select import _select_page, _selected_in_box

    app = _select_page(demo_project)
    box, inside = _selected_in_box(demo_project)
    app.session_state[S.TISSUE_SELECT] = box
    app.run()
    classes = Project.open(demo_project).store.classes()
    app.selectbox(key=S.TISSUE_CLASS).set_value(classes[0]).run()
    app.button(key=S.TISSUE_LABEL).click().run()
    labelled = Project.open(demo_project).labels()
    assert app.button(key=S.TISSUE_REDO).disabled

    app.button(key=S.TISSUE_UNDO).click().run()
    assert f"Undid {len(inside):,} labels (manual: {classes[0]} ×{len(inside):,})" in _toasts(app)
    app.button(key=S.TISSUE_REDO).click().run()
    assert not app.exception, app.exception
    assert f"Redid {len(inside):,} labels (manual: {classes[0]} ×{len(inside):,})" in _toasts(app)
    assert Project.open(demo_project).labels().sort_index().equals(labelled.sort_index())
