"""The Queue page over the journal: stored skips, claims between annotators, stale labels, the gallery's layout.

Also the exclusion class on the Classes, Files and Agreement pages.
"""

from __future__ import annotations

from activespot import _constants as K
from activespot.app import _data as D
from activespot.app import _state as S
from activespot.app._queue import GALLERY_SIZE
from activespot.project import Project

from .conftest import ANNOTATOR, journal, open_app


def _focus(app) -> str:
    heading = app.markdown[0].value  # "#### `barcode`"
    return heading.removeprefix("#### `").removesuffix("`")


def _cards(app) -> list[str]:
    """The gallery's labelling controls in page order (what keyboard focus walks through)."""
    return [w.key.removeprefix("queue_card_") for w in app.get("button_group") if w.key]


def test_the_gallery_is_laid_out_row_by_row_and_leaves_the_focused_spot_out(demo_project):
    app = open_app(demo_project, page="queue")
    focus = _focus(app)
    page = D.query(Project.open(demo_project))[:GALLERY_SIZE]
    assert focus == page[0]
    assert _cards(app) == page[1:]  # row by row: the order they read in, not down each column
    assert any("labelling now" in c.value and focus in c.value for c in app.caption)  # its slot is marked


def test_a_skip_is_stored_and_the_spot_stays_at_the_end_of_that_annotator_s_queue_after_a_reload(demo_project):
    app = open_app(demo_project, page="queue")
    skipped = _focus(app)
    app.button(key=S.QUEUE_SKIP).click().run()
    assert not app.exception
    project = Project.open(demo_project)
    round_number = project.last_round_number
    assert project.store.skipped(annotator=ANNOTATOR, round_number=round_number) == [skipped]

    reloaded = open_app(demo_project, page="queue")  # a new session: nothing of the old one is left
    assert _focus(reloaded) != skipped
    assert skipped in _cards(reloaded)  # still on the page it belongs to, not claimed again
    other = open_app(demo_project, annotator="Dr. Bob", page="queue")  # Bob did not skip it: his to take
    assert _focus(other) == skipped


def test_two_annotators_split_the_queue_instead_of_labelling_the_same_spots(demo_project):
    ada = open_app(demo_project, page="queue")
    ada_page = [_focus(ada), *_cards(ada)]
    claims = Project.open(demo_project).store.claims()
    assert set(ada_page) <= set(claims.index)
    assert set(claims.loc[ada_page, K.COL_ANNOTATOR]) == {ANNOTATOR}

    bob = open_app(demo_project, annotator="Dr. Bob", page="queue")
    assert _focus(bob) not in ada_page
    assert not set(_cards(bob)) & set(ada_page)  # Bob's gallery is the next page of the queue

    ada.button(key=S.class_button_key(0)).click().run()  # a label releases Ada's claim on that spot
    assert ada_page[0] not in Project.open(demo_project).store.claims().index


def test_a_label_a_colleague_changed_since_the_page_showed_it_is_not_overwritten_without_asking(demo_project):
    app = open_app(demo_project, page="queue")
    focus = _focus(app)
    Project.open(demo_project).add_labels({focus: "L3"}, annotator="Dr. Bob")  # another tab, meanwhile
    before = len(journal(demo_project))
    app.button(key=S.class_button_key(0)).click().run()
    assert not app.exception
    assert len(journal(demo_project)) == before  # nothing overwritten
    warning = next(w.value for w in app.warning if "changed since" in w.value)
    assert focus in warning
    assert "labelled 'L3' by Dr. Bob" in warning

    app.button(key=S.STALE_OVERWRITE).click().run()
    assert not app.exception
    last = journal(demo_project).iloc[-1]
    assert (last["item"], last["label"], last["annotator"]) == (
        focus,
        app.button(key=S.class_button_key(0)).label,
        ANNOTATOR,
    )
    assert not any("changed since" in w.value for w in app.warning)


def test_the_classes_page_adds_and_marks_the_exclusion_class(demo_project):
    app = open_app(demo_project, page="classes")
    app.button(key=S.CLASSES_EXCLUDE).click().run()
    assert not app.exception
    project = Project.open(demo_project)
    assert project.store.declared_classes()[-1] == K.DEFAULT_EXCLUSION_CLASS
    assert project.exclusion_class() == K.DEFAULT_EXCLUSION_CLASS
    app.button(key=S.CLASSES_UNEXCLUDE).click().run()
    assert Project.open(demo_project).exclusion_class() is None


def _exclude_some(demo_project, n: int = 4) -> list[str]:
    project = Project.open(demo_project)
    project.set_exclusion_class(annotator=ANNOTATOR)
    spots = list(project.labels().index[:n])
    project.add_labels(dict.fromkeys(spots, K.DEFAULT_EXCLUSION_CLASS), annotator=ANNOTATOR)
    return spots


def test_the_files_page_says_how_many_excluded_spots_its_loupe_csvs_leave_out(demo_project):
    _exclude_some(demo_project)
    app = open_app(demo_project, page="files")
    assert not app.exception
    project = Project.open(demo_project)
    kept, left_out = project.without_excluded(project.labels())
    assert left_out == 4
    assert any("4 labelled" in c.value and "Not tissue" in c.value for c in app.caption)
    assert K.DEFAULT_EXCLUSION_CLASS not in set(kept)


def test_the_agreement_page_leaves_excluded_spots_out(demo_project):
    excluded = _exclude_some(demo_project)
    labels = Project.open(demo_project).labels()
    upload = "Barcode,Layer\n" + "".join(f"{b},L1\n" for b in labels.index)
    app = open_app(demo_project, page="agreement")
    app.file_uploader(key=S.AGREEMENT_UPLOAD).set_value(("colleague.csv", upload.encode(), "text/csv")).run()
    assert not app.exception
    shown = {m.label: m.value for m in app.metric}
    assert shown["Spots in both"] == f"{len(labels) - len(excluded):,}"
    assert any(f"{len(excluded)} spots of the exclusion class" in c.value for c in app.caption)
