"""The Rounds page: the estimated accuracy of each round, and who is training the round now."""

from __future__ import annotations

import re

from activespot import _constants as K
from activespot.app import _state as S
from activespot.project import Project

from .conftest import open_app


def test_the_rounds_page_shows_the_estimated_accuracy_and_its_interval(demo_project):
    project = Project.open(demo_project)
    latest = project.latest_round(kinds=K.MODEL_ROUND_KINDS)
    estimate = latest.info[K.ROUND_INFO_ESTIMATE]
    project.close()
    app = open_app(demo_project, page="rounds")
    metrics = {m.label: m.value for m in app.metric}
    assert metrics[f"Estimated accuracy (round {latest.number})"] == f"{estimate['accuracy']:.0%}"
    captions = [c.value for c in app.caption]
    assert f"95 % interval {estimate['low']:.0%}–{estimate['high']:.0%}" in captions
    assert any(c.startswith(f"Round {latest.number}: estimated accuracy {estimate['accuracy']:.2f}") for c in captions)
    assert not app.info  # nobody is training: no busy message
    assert not app.button(key=S.ROUNDS_RUN).disabled
    specs = [chart.proto.spec for chart in app.get("vega_lite_chart")]
    band = [spec for spec in specs if '"estimate_low"' in spec and '"estimate_high"' in spec]
    assert len(band) == 1  # the estimate per round, in its interval band
    assert '"area"' in band[0]


def test_a_round_in_progress_disables_the_button_and_says_by_whom_since_when(demo_project):
    other = Project.open(demo_project)  # another tab, another person
    with other.round_lock(annotator="Dr. Bo") as number:
        app = open_app(demo_project, page="rounds")
        assert app.button(key=S.ROUNDS_RUN).disabled
        (message,) = [i.value for i in app.info]
        assert re.fullmatch(rf"Round {number} is being trained by Dr\. Bo since \d\d:\d\d\.", message)
    app.run()
    assert not app.info
    assert not app.button(key=S.ROUNDS_RUN).disabled
    other.close()
