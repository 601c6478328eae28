"""A corpus of malformed inputs, each fed through the command line as a user would.

Every case must end with a non-zero exit, one line on stderr naming the offending file and the
problem, and no change to the project (or no project at all, for ``init``).
"""

import gzip
import json
import shutil
from pathlib import Path

import h5py
import pandas as pd
import pytest
from click.testing import CliRunner

from activespot.cli import main
from tests.conftest import DLPFC

GOOD = "AAACAAGTATCTCCCA-1"  # a real in-tissue barcode of 151673


@pytest.fixture(scope="module")
def base_project(tmp_path_factory):
    path = tmp_path_factory.mktemp("base") / "project"
    result = CliRunner().invoke(main, ["init", str(path), "--visium", str(DLPFC), "--classes", "L1,L2,L3,WM"])
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture
def project(base_project, tmp_path):
    target = tmp_path / "project"
    shutil.copytree(base_project, target)
    return target


def _snapshot(project: Path):
    """What must not change: the journal and the project file (SQLite's -wal/-shm may)."""
    from activespot.project import LabelStore

    with LabelStore(project / "labels.sqlite") as store:
        events = store.events().to_dict("list")
        classes = store.declared_classes()
    files = sorted(p.name for p in project.rglob("*") if not p.name.endswith(("-wal", "-shm")))
    return events, classes, (project / "project.yaml").read_text(), files


def _expect_one_line_error(args, filename):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert filename in lines[0], lines[0]
    return lines[0]


# --- a broken Visium folder: `activespot init` must not create anything ----------------------
def _positions(folder):
    return folder / "spatial" / "tissue_positions_list.csv"


def _edit_positions(folder, edit):
    table = pd.read_csv(_positions(folder), header=None)
    edit(table)
    table.to_csv(_positions(folder), header=False, index=False)


def _set_first_in_tissue(column, value):
    def edit(table):
        table[column] = table[column].astype(object)
        table.loc[table.index[table[1] == 1][0], column] = value

    return edit


def _scalefactors(folder, content):
    (folder / "spatial" / "scalefactors_json.json").write_text(content)


VISIUM_CASES = {
    "missing folder": (lambda f: shutil.rmtree(f), "dlpfc_151673"),
    "no spatial folder": (lambda f: shutil.rmtree(f / "spatial"), "spatial"),
    "no positions file": (lambda f: _positions(f).unlink(), "tissue_positions"),
    "positions match no barcode": (
        lambda f: _edit_positions(f, lambda t: t.__setitem__(0, "X" + t[0].astype(str))),
        "tissue_positions_list.csv",
    ),
    "NaN coordinate": (lambda f: _edit_positions(f, _set_first_in_tissue(4, float("nan"))), "tissue_positions"),
    "negative coordinate": (lambda f: _edit_positions(f, _set_first_in_tissue(5, -40)), "tissue_positions"),
    "text in coordinates": (lambda f: _edit_positions(f, _set_first_in_tissue(4, "abc")), "tissue_positions"),
    "scalefactors missing key": (
        lambda f: _scalefactors(f, json.dumps({"tissue_lowres_scalef": 0.045})),
        "scalefactors_json.json",
    ),
    "scalefactors not JSON": (lambda f: _scalefactors(f, "{spot_diameter: 96"), "scalefactors_json.json"),
    "truncated PNG": (
        lambda f: (f / "spatial" / "tissue_lowres_image.png").write_bytes(
            (DLPFC / "spatial" / "tissue_lowres_image.png").read_bytes()[:5000]
        ),
        "tissue_lowres_image.png",
    ),
    "text saved as PNG": (
        lambda f: (f / "spatial" / "tissue_lowres_image.png").write_text("not an image"),
        "tissue_lowres_image.png",
    ),
    "h5 with the wrong layout": (
        lambda f: h5py.File(f / "filtered_feature_bc_matrix.h5", "w").create_dataset("counts", data=[1, 2]),
        "filtered_feature_bc_matrix.h5",
    ),
    "0-byte h5": (lambda f: (f / "filtered_feature_bc_matrix.h5").write_bytes(b""), "filtered_feature_bc_matrix.h5"),
    "garbage h5": (
        lambda f: (f / "filtered_feature_bc_matrix.h5").write_bytes(bytes(range(256)) * 40),
        "filtered_feature_bc_matrix.h5",
    ),
}


@pytest.mark.parametrize("case", list(VISIUM_CASES))
def test_broken_visium_folder(case, dlpfc_copy, tmp_path):
    corrupt, filename = VISIUM_CASES[case]
    corrupt(dlpfc_copy)
    target = tmp_path / "new_project"
    _expect_one_line_error(["init", target, "--visium", dlpfc_copy], filename)
    assert not target.exists()
    assert not list(tmp_path.glob(".new_project*"))


def test_missing_fullres_image(tmp_path):
    target = tmp_path / "new_project"
    _expect_one_line_error(["init", target, "--visium", DLPFC, "--image", tmp_path / "slide.tif"], "slide.tif")
    assert not target.exists()


@pytest.mark.parametrize("classes", ["L1,,L2", "L1,L2\u200b"])
def test_bad_class_names_at_init(classes, tmp_path):
    target = tmp_path / "new_project"
    result = CliRunner().invoke(main, ["init", str(target), "--visium", str(DLPFC), "--classes", classes])
    assert result.exit_code != 0
    assert len(result.stderr.strip().splitlines()) == 1
    assert "class" in result.stderr
    assert not target.exists()


# --- a broken Loupe CSV: `activespot import` must not change the project ----------------------
CSV_CASES = {
    "empty file": b"",
    "binary garbage": bytes(range(256)) * 4,
    "gzip-compressed": gzip.compress(f"Barcode,Layer\n{GOOD},L1\n".encode()),
    "semicolon-delimited": f"Barcode;Layer\n{GOOD};L1\n".encode(),
    "no Barcode column": f"Spot,Layer\n{GOOD},L1\n".encode(),
    "unknown barcodes": b"Barcode,Layer\nAAAAAAAAAAAAAAAA-1,L1\nCCCCCCCCCCCCCCCC-1,L2\n",
    "conflicting duplicate": f"Barcode,Layer\n{GOOD},L1\n{GOOD},L2\n".encode(),
    "label with stray space": f"Barcode,Layer\n{GOOD},L1 \n".encode(),
    "label with look-alike Unicode": f"Barcode,Layer\n{GOOD},Ｌ1\n".encode(),
    "label with zero-width space": f"Barcode,Layer\n{GOOD},L1\u200b\n".encode(),
    "label not a project class": f"Barcode,Layer\n{GOOD},Tumour\n".encode(),
    "two category columns": f"Barcode,Layer,Cluster\n{GOOD},L1,3\n".encode(),
    "Latin-1 encoded": "Barcode,Layer\nAAACAAGTATCTCCCA-1,Lé\n".encode("latin-1"),
    "Excel workbook": b"PK\x03\x04\x14\x00\x06\x00" + bytes(200),
    "ragged row": f"Barcode,Layer\n{GOOD},L1,extra\n".encode(),
    "Barcode with a space": b"Barcode,Layer\nAAACAAGTATC TCCCA-1,L1\n",
}


@pytest.mark.parametrize("case", list(CSV_CASES))
def test_broken_loupe_csv(case, project, tmp_path):
    path = tmp_path / "annotations.csv"
    path.write_bytes(CSV_CASES[case])
    before = _snapshot(project)
    _expect_one_line_error(["import", project, path], "annotations.csv")
    assert _snapshot(project) == before


def test_half_good_file_imports_nothing(project, tmp_path):
    good = pd.read_csv(DLPFC / "ground_truth_layers.csv", index_col=0)["layer"].dropna()
    good = good[good.isin(["L1", "L2", "L3", "WM"])].iloc[:50]
    text = "Barcode,Layer\n" + "".join(f"{b},{v}\n" for b, v in good.items()) + "NOTABARCODE-1,L1\n"
    path = tmp_path / "annotations.csv"
    path.write_text(text)
    before = _snapshot(project)
    _expect_one_line_error(["import", project, path], "annotations.csv")
    assert _snapshot(project) == before


def test_unknown_column_and_missing_file(project, tmp_path):
    path = tmp_path / "annotations.csv"
    path.write_text(f"Barcode,Layer\n{GOOD},L1\n")
    _expect_one_line_error(["import", project, path, "--column", "layer"], "annotations.csv")
    _expect_one_line_error(["import", project, tmp_path / "missing.csv"], "missing.csv")


def test_not_a_project(tmp_path):
    path = tmp_path / "annotations.csv"
    path.write_text(f"Barcode,Layer\n{GOOD},L1\n")
    _expect_one_line_error(["import", tmp_path / "nowhere", path], "nowhere")


def test_predictions_before_any_round(project, tmp_path):
    _expect_one_line_error(["export", project, "--loupe", tmp_path / "p.csv", "--what", "predictions"], "project")
    assert not (tmp_path / "p.csv").exists()


# --- a wrong backbone or weights file: every command that takes one ends with one line --------
def test_unknown_backbone_in_simulate_lists_the_names(tmp_path):
    args = ["simulate", "--visium", DLPFC, "--truth", DLPFC / "ground_truth_layers.csv", "--rounds", 0]
    line = _expect_one_line_error([*args, "--backbone", "resnet-50", "--json", tmp_path / "r.json"], "'resnet-50'")
    assert "resnet50" in line
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize(
    ("options", "filename"),
    [
        (["--backbone", "resnet-50"], "resnet50"),
        (["--backbone", "resnet18", "--weights", "{dir}/missing.pt"], "missing.pt"),
        (["--backbone", "resnet18", "--weights", "{dir}/garbage.pt"], "garbage.pt"),
    ],
)
def test_wrong_backbone_or_weights_in_features(project, tmp_path, options, filename):
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    before = _snapshot(project)
    _expect_one_line_error(["features", project, *(o.format(dir=tmp_path) for o in options)], filename)
    events, classes, settings, files = _snapshot(project)
    # A weights file's sha256 may be remembered in the features cache (it keys the cache); nothing else changes.
    assert (events, classes, settings, [f for f in files if f != "sha256_book.json"]) == before
