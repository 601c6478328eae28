"""The Overview and Workload charts (issue 15): integer counts, bars of a set size, a whole legend, undone apart."""

from __future__ import annotations

import json

import pandas as pd

from activespot import _constants as K
from activespot.app._workload import SOURCE_COLORS, source_chart
from activespot.project import Project

from .conftest import open_app


def _specs(app) -> list[dict]:
    """The Vega-Lite spec of every altair chart on the page."""
    return [json.loads(chart.proto.spec) for chart in app.get("vega_lite_chart")]


def _count_axis(encoding: dict) -> None:
    axis = encoding["x"]["axis"]
    assert (axis["format"], axis["tickMinStep"]) == ("d", 1)  # never "0.000000" or 2.5 labels
    assert "% 1" in axis["labelExpr"]  # nor the "1" Vega writes under a tick at 0.5


def test_overview_counts_classes_on_an_integer_axis_with_bars_of_a_set_size(demo_project):
    app = open_app(demo_project)  # a spot project opens on its overview
    (spec,) = _specs(app)
    bars, text = spec["layer"]
    _count_axis(bars["encoding"])
    assert spec["height"] == {"step": 24}  # the chart grows with the classes, each bar keeps its size
    assert bars["mark"]["size"] > 10
    assert text["mark"]["type"] == "text"  # each count is written beside its bar


def test_overview_without_labels_says_so_instead_of_an_empty_chart(demo_project):
    project = Project.open(demo_project)
    project.store.undo(annotator="demo", only_own=True)  # the demo's only labels: one import
    assert project.labels().empty
    app = open_app(demo_project)
    assert not app.exception, app.exception
    assert not _specs(app)
    assert any("No labels yet" in i.value for i in app.info)


def test_workload_chart_keeps_every_source_readable_and_undone_apart(demo_project):
    project = Project.open(demo_project)
    queue = [b for b in project.barcodes if b not in project.labels().index][:4]
    project.add_labels({queue[0]: "L1"}, annotator="demo", source=K.SOURCE_CORRECTED)
    project.add_labels({b: "L2" for b in queue[1:]}, annotator="demo", source=K.SOURCE_ACCEPTED)
    project.store.undo(annotator="demo", only_own=True)
    app = open_app(demo_project, annotator="demo", page="workload")
    assert not app.exception, app.exception
    (spec,) = _specs(app)
    assert spec["facet"]["column"]["field"] == "source"  # a panel per source, each on its own scale:
    assert spec["resolve"]["scale"]["x"] == "independent"  # 1 correction beside 53 imports is a bar
    assert spec["facet"]["column"]["header"]["labelLimit"] == 0  # the panels name the sources in full
    assert spec["facet"]["column"]["sort"] == ["corrected", "imported", "undone"]  # the accept was undone
    assert spec["spec"]["height"] == {"step": 22}  # a row per annotator, whatever their number
    bars, text = spec["spec"]["layer"]
    encoding = bars["encoding"]
    _count_axis(encoding)
    assert encoding["color"]["legend"] is None
    scale = encoding["color"]["scale"]
    colours = dict(zip(scale["domain"], scale["range"], strict=True))
    assert colours == SOURCE_COLORS
    assert len(set(colours.values())) == len(colours)
    assert colours["undone"] == "#BBBBBB"  # grey, not another orange beside corrected
    assert colours["corrected"] == "#E69F00"
    assert "undone" in encoding["strokeDash"]["condition"]["test"]  # and outlined with dashes
    assert bars["mark"]["size"] > 10
    assert text["encoding"]["text"]["field"] == "events"


def test_workload_chart_leaves_out_sources_nobody_has_and_is_none_without_events():
    table = pd.DataFrame(0, index=pd.Index(["ana", "ben"], name="annotator"), columns=list(SOURCE_COLORS))
    assert source_chart(table) is None
    table.loc["ana", "manual"] = 3
    drawn = source_chart(table).data
    assert drawn[["annotator", "source", "events"]].values.tolist() == [["ana", "manual", 3], ["ben", "manual", 0]]
