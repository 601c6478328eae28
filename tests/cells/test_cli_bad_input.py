"""``activespot cells …`` with the inputs a user gets wrong: one ``error: …`` line naming the file, exit 2, no files."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from activespot.cli import main


def _fails(args, names, *, tmp_path=None):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr
    for name in names:
        assert name in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def simulate(tile, tmp_path):
    """``cells simulate`` on the tile, writing its JSON into tmp_path (which a failure must leave out)."""

    def run(*extra, names):
        _fails(
            ["cells", "simulate", "--image", tile["image"], "--nuclei", tile["csv"], *extra,
             "--max-labels", "10", "--json", tmp_path / "sim.json"],
            names,
        )  # fmt: skip
        assert not (tmp_path / "sim.json").exists()

    return run


def test_simulate_with_a_wrong_truth_column_lists_the_columns(simulate, tile):
    simulate("--truth-column", "colour", names=[tile["csv"].name, "'colour'", "class_color"])


def test_simulate_with_a_truth_column_of_one_class(simulate, tile, tmp_path):
    truth = tmp_path / "truth.csv"
    pd.DataFrame({"cell": tile["table"]["instance_id"], "one": "red"}).to_csv(truth, index=False)
    simulate("--truth-column", "one", "--truth", truth, names=["truth.csv", "'one'", "two classes"])


def test_simulate_with_a_missing_truth_file_or_column(simulate, tile, tmp_path):
    simulate("--truth-column", "x", "--truth", tmp_path / "missing.csv", names=["missing.csv", "not found"])
    truth = tmp_path / "truth.csv"
    pd.DataFrame({"cell": tile["table"]["instance_id"], "kind": "red"}).to_csv(truth, index=False)
    simulate("--truth-column", "type", "--truth", truth, names=["truth.csv", "'type'", "kind"])


def test_simulate_on_a_mask_asks_for_a_truth_csv(simulate, tile):
    _fails(
        ["cells", "simulate", "--image", tile["image"], "--nuclei", tile["mask"], "--truth-column", "class_color"],
        [tile["mask"].name, "--truth"],
    )


@pytest.mark.parametrize(
    ("setting", "names"),
    [
        ("backbone: resnet-18", ["settings.yaml", "'resnet-18'", "resnet18"]),
        ("backbone: resnet18\n  weights: {missing}", ["missing.pt", "not found"]),
        ("backbone: resnet18\n  weights: {garbage}", ["garbage.pt", "cannot read weights"]),
    ],
)
def test_simulate_with_a_wrong_backbone_or_weights(simulate, tmp_path, setting, names):
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    text = setting.format(missing=tmp_path / "missing.pt", garbage=tmp_path / "garbage.pt")
    (tmp_path / "settings.yaml").write_text(f"cells:\n  {text}\n")
    simulate("--truth-column", "class_color", "--config", tmp_path / "settings.yaml", names=names)


def test_simulate_with_missing_or_empty_inputs(tile, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    base = ["cells", "simulate", "--truth-column", "class_color"]
    _fails([*base, "--image", tmp_path / "none.png", "--nuclei", tile["csv"]], ["none.png"])
    _fails([*base, "--image", tile["image"], "--nuclei", empty], ["empty.csv", "empty"])
    _fails([*base, "--image", tile["image"], "--nuclei", tile["csv"], "--config", tmp_path / "no.yaml"], ["no.yaml"])


@pytest.fixture
def projects(tile, tmp_path):
    """A cell project on the tile and a Visium project, each given to the other's commands."""
    import warnings

    from activespot.project import Project
    from tests.conftest import DLPFC

    cells = Project.create_cells(tmp_path / "cells", image=tile["image"], nuclei=tile["csv"], classes=["red", "blue"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the bundled section has a lowres image only
        spots = Project.create(tmp_path / "spots", visium=DLPFC, classes=["L1", "L2"])
    return {"cells": cells.path, "spots": spots.path}


@pytest.mark.parametrize("command", [["next"], ["export"], ["workload"], ["import", "labels.csv"]])
def test_cell_commands_on_a_visium_project_or_no_project(projects, tmp_path, command):
    (tmp_path / "labels.csv").write_text("cell_id,label\n1,red\n")
    before = sorted(p.name for p in projects["spots"].rglob("*"))
    args = [tmp_path / a if a.endswith(".csv") else a for a in command[1:]]
    _fails(["cells", command[0], projects["spots"], *args], ["spots", "not a cell project", "cells init"])
    assert sorted(p.name for p in projects["spots"].rglob("*")) == before
    _fails(["cells", command[0], tmp_path / "nowhere", *args], ["nowhere", "not an activespot project"])


@pytest.mark.parametrize("command", ["features", "suggest", "round"])
def test_spot_commands_on_a_cell_project(projects, command):
    before = sorted(p.name for p in projects["cells"].rglob("*"))
    _fails([command, projects["cells"]], ["cells", "a cell project", "cells next"])
    assert sorted(p.name for p in projects["cells"].rglob("*")) == before


def test_cell_labels_with_an_unknown_class_cell_or_column(projects, tile, tmp_path):
    first = tile["table"]["instance_id"].iloc[0]
    cases = {
        "unknown_class.csv": (f"cell_id,label\n{first},Tumour\n", ["'Tumour'", "red, blue"]),
        "unknown_cell.csv": ("cell_id,label\nnope,red\n", ["line 2", "'nope'"]),
        "empty.csv": ("", ["not a readable CSV"]),
    }
    for name, (text, names) in cases.items():
        (tmp_path / name).write_text(text)
        _fails(["cells", "import", projects["cells"], tmp_path / name], [name, *names])
    _fails(["cells", "import", projects["cells"], tmp_path / "missing.csv"], ["missing.csv", "not found"])
    (tmp_path / "two.csv").write_text(f"cell_id,a,b\n{first},red,blue\n")
    _fails(["cells", "import", projects["cells"], tmp_path / "two.csv", "--column", "c"], ["two.csv", "a, b"])
    from activespot.project import Project

    assert len(Project.open(projects["cells"]).labels()) == 0
