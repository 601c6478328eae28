"""Agreement metrics on hand-computed examples, both CSV shapes, one-sided spots, the CLI."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from activespot.cli import main
from activespot.errors import InputFileError
from activespot.review import agreement, annotation_columns, plot_agreement, read_annotation

from .conftest import SECTIONS


def test_known_small_example():
    a = pd.Series({"s1": "x", "s2": "x", "s3": "y", "s4": "y", "only_a": "x"})
    b = pd.Series({"s1": "x", "s2": "y", "s3": "y", "s4": "y", "only_b1": "y", "only_b2": None})
    result = agreement(a, b)
    # observed 3/4; chance = P(x)P(x) + P(y)P(y) = 0.5*0.25 + 0.5*0.75 = 0.5 -> kappa = (0.75-0.5)/(1-0.5)
    assert result.accuracy == pytest.approx(0.75)
    assert result.kappa == pytest.approx(0.5)
    # F1(x) = 2/3 (precision 1, recall 1/2), F1(y) = 0.8 (precision 2/3, recall 1), supports 2 and 2
    assert result.weighted_f1 == pytest.approx((2 / 3 + 0.8) / 2)
    assert result.n_common == 4
    assert result.confusion.loc["x", "y"] == 1
    assert result.confusion.to_numpy().sum() == 4
    assert list(result.only_a) == ["only_a"]
    assert list(result.only_b) == ["only_b1"]  # a missing label is no label
    assert result.per_class.loc["x", "agreement"] == pytest.approx(0.5)
    assert result.to_dict()["only_b"] == {"count": 1, "examples": ["only_b1"]}


def test_perfect_and_opposite_agreement():
    a = pd.Series(["x", "y", "x", "y"], index=list("abcd"))
    assert agreement(a, a).kappa == pytest.approx(1.0)
    flipped = a.map({"x": "y", "y": "x"})
    assert agreement(a, flipped).kappa == pytest.approx(-1.0)
    assert agreement(a, flipped).accuracy == 0


def test_no_common_spot_is_an_error():
    with pytest.raises(ValueError, match="share no labelled barcode"):
        agreement(pd.Series({"a": "x"}), pd.Series({"b": "x"}))


def test_reads_ground_truth_tables_and_loupe_csvs(tmp_path):
    truth = read_annotation(SECTIONS["151673"] / "ground_truth_layers.csv")
    assert truth.name == "layer"
    assert "NA" not in set(truth)  # unannotated spots are unlabelled, not a class "NA"
    expected = pd.read_csv(SECTIONS["151673"] / "ground_truth_layers.csv", index_col=0)["layer"].dropna()
    assert len(truth) == len(expected)
    loupe = tmp_path / "loupe.csv"
    loupe.write_text("\ufeffBarcode,Pathologist\r\nAAAC-1,L1\r\nAAAG-1,\r\nAAAT-1,NA\r\n", encoding="utf-8")
    labels = read_annotation(loupe)
    assert labels.to_dict() == {"AAAC-1": "L1", "AAAT-1": "NA"}  # in a Loupe export "NA" is whatever the user typed


def test_annotation_columns_lists_the_label_columns_and_nothing_for_a_bad_file(tmp_path):
    header = pd.read_csv(SECTIONS["151673"] / "ground_truth_layers.csv", nrows=0).columns
    assert annotation_columns(SECTIONS["151673"] / "ground_truth_layers.csv") == list(header[1:])
    no_barcodes = tmp_path / "cells.csv"
    no_barcodes.write_text("cell,label\nc1,L1\n", encoding="utf-8")
    assert annotation_columns(no_barcodes) == []
    assert annotation_columns(tmp_path / "missing.csv") == []


def test_cli_reports_scores_one_sided_spots_and_plots(tmp_path):
    truth = SECTIONS["151674"] / "ground_truth_layers.csv"
    labels = pd.read_csv(truth, index_col=0)["layer"].dropna()
    mine = labels.iloc[:200].copy()
    mine.iloc[:20] = "WM"
    mine["EXTRA-1"] = "L1"
    csv = tmp_path / "mine.csv"
    mine.rename("Pathologist").rename_axis("Barcode").to_csv(csv)
    plot = tmp_path / "agreement.png"
    result = CliRunner().invoke(main, ["agreement", str(truth), str(csv), "--column-a", "layer", "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    expected = agreement(labels, mine)
    assert f"Cohen's kappa: {expected.kappa:.3f}" in result.output
    assert f"Only in {truth}: {len(labels) - 200} spots" in result.output
    assert "Only in" in result.output
    assert "EXTRA-1" in result.output
    assert plot.stat().st_size > 1000


def test_plot_agreement_writes_png(tmp_path):
    a = pd.Series(["x", "y", "x", "z"], index=list("abcd"))
    path = plot_agreement(agreement(a, a.replace("z", "x")), tmp_path / "sub" / "heat.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("content", "args", "needle"),
    [
        (None, [], "missing.csv"),
        ("Barcode,Cat\nAAAC-1,L1\n", ["--column-b", "Nope"], "no column named 'Nope'"),
        ("Barcode;Cat\nAAAC-1;L1\n", [], "';'"),
        ("Barcode,Cat\nZZZZ-1,L1\n", [], "share no labelled barcode"),
    ],
)
def test_cli_bad_inputs_are_one_line_errors_naming_the_file(tmp_path, content, args, needle):
    bad = tmp_path / "missing.csv"
    if content is not None:
        bad = tmp_path / "bad.csv"
        bad.write_text(content, encoding="utf-8")
    truth = SECTIONS["151673"] / "ground_truth_layers.csv"
    result = CliRunner().invoke(main, ["agreement", str(truth), str(bad), *args])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert str(bad) in result.output
    assert needle in result.output


def test_read_annotation_refuses_a_file_without_labels(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("Barcode,Cat\nAAAC-1,\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="no labelled spot"):
        read_annotation(empty)
