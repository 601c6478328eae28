"""The Review page's film strip: least confident first; agree, disagree or a class, each kept with the suggestion."""

from __future__ import annotations

from activespot import _constants as K
from activespot.app import _state as S
from activespot.project import Project

from .conftest import journal, open_app


def _strip_order(project_path) -> list[str]:
    """The unlabelled predictions, least confident first: what the strip shows."""
    project = Project.open(project_path)
    predicted = project.predictions()
    unlabelled = predicted.drop(index=project.labels().index, errors="ignore")
    return list(unlabelled.sort_values("confidence", kind="stable").index)


def test_the_strip_starts_with_the_least_confident_and_agree_accepts_it(demo_project):
    app = open_app(demo_project, page="review")
    first = _strip_order(demo_project)[0]
    assert any(first in m.value for m in app.markdown)  # the focused card names the least confident spot
    app.button(key=S.STRIP_AGREE).click().run()
    assert not app.exception, app.exception
    event = journal(demo_project).iloc[-1]
    predicted = Project.open(demo_project).predictions()
    assert (event["item"], event["source"]) == (first, K.SOURCE_ACCEPTED)
    assert event["label"] == event["suggested_label"] == predicted.at[first, "label"]
    assert any(_strip_order(demo_project)[0] in m.value for m in app.markdown)  # the next one is focused


def test_disagree_then_a_class_is_a_correction_that_keeps_the_suggestion(demo_project):
    app = open_app(demo_project, page="review")
    first = _strip_order(demo_project)[0]
    predicted = Project.open(demo_project).predictions().at[first, "label"]
    classes = Project.open(demo_project).store.classes()
    app.button(key=S.STRIP_DISAGREE_BUTTON).click().run()
    assert app.session_state[S.STRIP_DISAGREE] == first
    other = next(i for i, c in enumerate(classes) if c != predicted)
    assert app.button(key=S.strip_class_key(classes.index(predicted))).disabled  # disagreeing: not the prediction
    app.button(key=S.strip_class_key(other)).click().run()
    event = journal(demo_project).iloc[-1]
    assert (event["item"], event["label"], event["source"]) == (first, classes[other], K.SOURCE_CORRECTED)
    assert event["suggested_label"] == predicted
    assert 0 < event["suggestion_confidence"] <= 1


def test_agree_to_all_on_the_strip_is_one_action_and_each_card_shows_where_its_spot_is(demo_project):
    app = open_app(demo_project, page="review")
    strip = _strip_order(demo_project)[:6]
    captions = [caption for image in app.get("image") for caption in image.captions]
    assert captions.count("where") == len(strip)  # a section map beside every crop of the strip
    before = len(journal(demo_project))
    app.button(key=S.STRIP_AGREE_ALL).click().run()
    events = journal(demo_project).iloc[before:]
    assert list(events["item"]) == strip
    assert events["action_id"].nunique() == 1
    assert (events["source"] == K.SOURCE_ACCEPTED).all()


def test_every_queue_crop_comes_with_the_section_map_marking_its_spot(demo_project):
    app = open_app(demo_project, page="queue")
    captions = [image.captions for image in app.get("image")]
    maps = sum(c == ["where"] for c in captions)
    assert maps >= 2  # the focused spot and at least one gallery card
    # Every crop but the wider view (in its popover, one for the focused spot) has its map.
    assert maps == (len(captions) - 1) // 2


def test_agreeing_with_a_spot_a_colleague_labelled_since_the_strip_was_shown_is_refused(demo_project):
    app = open_app(demo_project, page="review")
    first = _strip_order(demo_project)[0]
    project = Project.open(demo_project)
    other = next(c for c in project.store.classes() if c != project.predictions().at[first, "label"])
    project.add_labels({first: other}, annotator="Dr. Other")  # another tab, after the strip was drawn
    before = len(journal(demo_project))
    app.button(key=S.STRIP_AGREE).click().run()
    assert len(journal(demo_project)) == before
    assert any(first in w.value and "Dr. Other" in w.value for w in app.warning)
    assert Project.open(demo_project).labels()[first] == other


def test_accepting_the_most_confident_never_overwrites_a_spot_a_colleague_labelled_meanwhile(demo_project):
    app = open_app(demo_project, page="review")
    project = Project.open(demo_project)
    predicted = project.predictions().drop(index=project.labels().index)
    top = predicted.sort_values("confidence", kind="stable").index[-1]
    other = next(c for c in project.store.classes() if c != predicted.at[top, "label"])
    project.add_labels({top: other}, annotator="Dr. Other")  # another tab, after the page was drawn
    app.button(key=S.REVIEW_ACCEPT_TOP).click().run()
    assert not app.exception, app.exception
    events = journal(demo_project)
    assert events[events["item"] == top].iloc[-1]["annotator"] == "Dr. Other"
    assert Project.open(demo_project).labels()[top] == other
