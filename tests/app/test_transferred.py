"""A project made by ``activespot transfer`` opens in the app with its transferred predictions (issue 18, bug 2)."""

from __future__ import annotations

from activespot import _constants as K
from activespot.app import _data as D
from activespot.app import _state as S
from activespot.app._data import page_file
from activespot.app._tissue import COLOR_BY
from activespot.project import Project, queue_table, review_table, round_history

from .conftest import open_app


def test_the_transferred_round_is_the_model_round(transferred_project):
    project = Project.open(transferred_project)
    rounds = project.store.rounds()
    assert list(rounds[K.ROUND_KIND_COLUMN]) == [K.ROUND_KIND_TRANSFERRED]
    assert project.model_round().number == int(rounds["round"].iloc[0])
    assert D.round_numbers(project) == (project.model_round().number, project.model_round().number)
    assert queue_table(project)["prediction"].notna().all()
    assert len(review_table(project)) == project.sample.n_spots
    assert list(round_history(project)["kind"]) == [K.ROUND_KIND_TRANSFERRED]


def test_the_cli_exports_the_transferred_predictions(transferred_project, tmp_path):
    from click.testing import CliRunner

    from activespot.cli import main
    from activespot.io import read_loupe_csv

    out = tmp_path / "predictions.csv"
    arguments = ["export", str(transferred_project), "--what", "predictions", "--loupe", str(out)]
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 0, result.output
    assert len(read_loupe_csv(out)) == Project.open(transferred_project).sample.n_spots


def test_a_transferred_project_opens_with_its_predictions_on_every_page(transferred_project):
    app = open_app(transferred_project, page="queue")
    captions = " ".join(c.value for c in app.caption)
    assert "model: **" in captions
    assert "no prediction yet" not in captions + " ".join(m.value for m in app.markdown)

    app.switch_page(page_file("review")).run()
    assert not app.exception
    assert not any("No predictions" in i.value for i in app.info)
    assert app.button(key=S.REVIEW_ACCEPT_TOP).disabled is False

    app.switch_page(page_file("tissue")).run()
    assert not app.exception
    colour = app.radio(key=S.TISSUE_COLOR)
    assert COLOR_BY["prediction"] in colour.options
    colour.set_value("prediction").run()
    assert not app.exception

    app.switch_page(page_file("files")).run()
    assert not app.exception
    assert app.get("download_button")
    download = next(w for w in app.get("download_button") if w.proto.id.endswith(S.FILES_DOWNLOAD_PREDICTIONS))
    assert not download.proto.disabled

    app.switch_page(page_file("rounds")).run()
    assert not app.exception
    assert not any("No trained round" in i.value for i in app.info)
