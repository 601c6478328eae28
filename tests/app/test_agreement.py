"""The agreement page shows the numbers and errors of ``activespot agreement`` and ``activespot review``."""

from __future__ import annotations

from click.testing import CliRunner

from activespot import _constants as K
from activespot.app import _data as D
from activespot.app import _state as S
from activespot.app._agreement import REVIEW_FOLDS, REVIEW_MIN_CONFIDENCE, journal_version
from activespot.cli import main
from activespot.project import Project
from activespot.review import agreement, read_annotation, review_labels
from tests.conftest import DLPFC

from .conftest import ANNOTATOR, journal, open_app

TRUTH = DLPFC / "ground_truth_layers.csv"  # barcode,layer,nuclei_count_vistoseg: two label columns


def _metrics(app) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def test_agreement_of_an_uploaded_annotation_is_the_library_s(demo_project):
    app = open_app(demo_project, page="agreement")
    app.file_uploader(key=S.AGREEMENT_UPLOAD).set_value(("published.csv", TRUTH.read_bytes(), "text/csv")).run()
    assert not app.exception
    assert app.selectbox(key=S.AGREEMENT_COLUMN).options == ["layer", "nuclei_count_vistoseg"]
    project = Project.open(demo_project)
    truth = read_annotation(TRUTH)
    expected = agreement(truth, project.labels())
    shown = _metrics(app)
    assert shown["Cohen's κ"] == f"{expected.kappa:.3f}"
    assert shown["Accuracy"] == f"{expected.accuracy:.3f}"
    assert shown["Weighted F1"] == f"{expected.weighted_f1:.3f}"
    assert shown["Spots in both"] == f"{expected.n_common:,}" == "53"
    assert shown["Only in the file"] == f"{len(expected.only_a):,}"
    assert shown["Only in the labels"] == "0"

    app.radio(key=S.AGREEMENT_AGAINST).set_value("predictions").run()
    expected = agreement(truth, D.predictions(project)["label"])
    shown = _metrics(app)
    assert shown["Cohen's κ"] == f"{expected.kappa:.3f}"
    assert shown["Spots in both"] == f"{expected.n_common:,}"
    assert "share of row" in app.get("vega_lite_chart")[0].proto.spec  # the confusion heatmap


def test_a_bad_annotation_shows_the_cli_error_and_writes_nothing(demo_project, tmp_path):
    bad = tmp_path / "their labels.csv"
    bad.write_text("Barcode;Layer\nAAACAAGTATCTCCCA-1;L1\n", encoding="utf-8")
    cli = CliRunner().invoke(main, ["agreement", str(bad), str(TRUTH)])
    assert cli.exit_code == 2
    before = len(journal(demo_project))

    app = open_app(demo_project, page="agreement")
    app.file_uploader(key=S.AGREEMENT_UPLOAD).set_value((bad.name, bad.read_bytes(), "text/csv")).run()
    assert not app.exception
    message = app.error[0].value
    assert message == cli.output.strip().removeprefix("error: ").replace(str(bad), bad.name)
    assert not app.metric or "Cohen's κ" not in _metrics(app)
    assert len(journal(demo_project)) == before


def test_consistency_review_lists_the_cli_s_disputes_and_relabels_as_events(demo_project):
    project = Project.open(demo_project)
    # one torch thread: on a shared 2-core machine two spinning threads make tiny fits many times slower
    project.save_config(project.config.updated({"model": {"num_threads": 1}}))
    app = open_app(demo_project, page="agreement")
    app.button(key=S.CONSISTENCY_RUN).click().run(timeout=120)
    assert not app.exception
    project = D.open_project(str(demo_project))  # the sample the app has loaded
    expected = review_labels(project, folds=REVIEW_FOLDS, min_confidence=REVIEW_MIN_CONFIDENCE, progress=False)
    assert len(expected), "the demo project's labels should hold disputed ones"
    table = app.dataframe[0].value
    assert list(table.index) == list(expected.index)
    assert list(table["predicted"]) == list(expected["predicted"])
    assert app.button(key=S.CONSISTENCY_RUN).disabled  # up to date: nothing to run again

    reviews = D.LOADS["review"]
    key = S.CONSISTENCY_TABLE.format(version=journal_version(project))
    app.session_state[key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    app.run()
    app.selectbox(key=S.CONSISTENCY_RELABEL_TO).set_value("L1").run()
    app.button(key=S.CONSISTENCY_RELABEL).click().run()
    assert not app.exception
    last = journal(demo_project).iloc[-1]
    barcode = expected.index[0]
    assert (last["item"], last["label"], last["source"], last["annotator"]) == (
        barcode,
        "L1",
        K.SOURCE_MANUAL,
        ANNOTATOR,
    )
    assert last["suggested_label"] == expected.at[barcode, "predicted"]  # what the pathologist was shown
    assert app.dataframe[0].value.at[barcode, "now"] == "L1"  # the list stays, with the new label
    assert D.LOADS["review"] == reviews  # selecting and re-labelling did not retrain the fold models
    assert not app.button(key=S.CONSISTENCY_RUN).disabled  # the labels changed: it can be run again
    assert any("Labels changed" in c.value for c in app.caption)
    assert app.get("download_button")

    # Undo names the re-label; redo gives it back (issue 15).
    app.button(key=S.CONSISTENCY_UNDO).click().run()
    assert f"Undid: {barcode} → L1 (manual)" in [t.proto.body for t in app.toast]
    assert app.dataframe[0].value.at[barcode, "now"] == expected.at[barcode, "label"]
    app.button(key=S.CONSISTENCY_REDO).click().run()
    assert not app.exception, app.exception
    assert f"Redid: {barcode} → L1 (manual)" in [t.proto.body for t in app.toast]
    assert app.dataframe[0].value.at[barcode, "now"] == "L1"


def test_consistency_review_of_one_class_shows_the_cli_error(demo_project):
    project = Project.open(demo_project)
    for name in project.store.classes()[1:]:
        project.store.merge_class(name, "L1", annotator=ANNOTATOR)
    cli = CliRunner().invoke(main, ["review", str(demo_project)])
    assert cli.exit_code == 2
    app = open_app(demo_project, page="agreement")
    app.button(key=S.CONSISTENCY_RUN).click().run()
    assert not app.exception
    assert app.error[0].value == cli.output.strip().removeprefix("error: ")
    assert app.button(key=S.CONSISTENCY_RUN).label == "Find disputed labels"  # it can be run again
