"""``activespot cells …`` commands, end to end on a small real tile."""

from __future__ import annotations

import json

from click.testing import CliRunner

from activespot import _constants as K
from activespot.cli import main


def test_init_next_import_export_workload(tile, tmp_path):
    runner = CliRunner()
    project = tmp_path / "proj"
    result = runner.invoke(
        main,
        [
            "cells",
            "init",
            str(project),
            "--image",
            str(tile["image"]),
            "--nuclei",
            str(tile["csv"]),
            "--classes",
            "red,blue",
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"{len(tile['table'])} cells read from" in result.output

    result = runner.invoke(main, ["cells", "next", str(project), "--json", str(tmp_path / "next.json")])
    assert result.exit_code == 0, result.output
    assert "No suggestions yet" in result.output
    shown = json.loads((tmp_path / "next.json").read_text())
    assert shown["cells"]
    assert len(shown["region"]) == 4

    labels = tmp_path / "labels.csv"
    rows = tile["table"].head(25)
    labels.write_text(
        "cell_id,label\n" + "".join(f"{i},{c}\n" for i, c in zip(rows.instance_id, rows.class_color, strict=False))
    )
    result = runner.invoke(main, ["cells", "import", str(project), str(labels), "--annotator", "ana"])
    assert result.exit_code == 0
    assert "Imported 25 labels" in result.output

    result = runner.invoke(main, ["cells", "export", str(project)])
    assert result.exit_code == 0, result.output
    geojson = json.loads((project / K.EXPORTS_DIR / K.CELLS_GEOJSON_EXPORT).read_text())
    assert len(geojson["features"]) == 25
    assert (project / K.EXPORTS_DIR / K.CELLS_CSV_EXPORT).read_text().startswith("cell_id,x,y,label")

    result = runner.invoke(main, ["cells", "workload", str(project), "--by", "all"])
    assert result.exit_code == 0
    header, *_, row = result.output.splitlines()  # columns, the index's name, the one row ("all")
    values = dict(zip(header.split(), row.split()[1:], strict=True))
    # imported labels are labels, but no suggestion was shown for them: no workload to measure
    assert (values["labels"], values["imported"], values["suggestions_shown"]) == ("25", "25", "0")
    assert values["workload"] == "NaN"


def test_init_with_the_built_in_detector_says_so(tile, tmp_path):
    result = CliRunner().invoke(main, ["cells", "init", str(tmp_path / "p"), "--image", str(tile["image"])])
    assert result.exit_code == 0, result.output
    assert "built-in detector" in result.output


def test_bad_nuclei_file_is_one_line_error(tile, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    result = CliRunner().invoke(
        main, ["cells", "init", str(tmp_path / "p"), "--image", str(tile["image"]), "--nuclei", str(bad)]
    )
    assert result.exit_code == 2
    assert "bad.csv" in result.output
    assert "no centroid columns" in result.output
    assert not (tmp_path / "p").exists()


def test_simulate_prints_the_hals_numbers(tile, tmp_path):
    config = tmp_path / "fast.yaml"
    config.write_text(
        "cells:\n  max_iter: 30\n  min_labels_per_class: 5\n"
        "  effectiveness_labels: [10, 20, 10]\n  effectiveness_repeats: 1\n"
    )
    out = tmp_path / "sim.json"
    result = CliRunner().invoke(
        main,
        [
            "cells",
            "simulate",
            "--image",
            str(tile["image"]),
            "--nuclei",
            str(tile["csv"]),
            "--truth-column",
            "class_color",
            "--seed",
            "1",
            "--max-labels",
            "30",
            "--config",
            str(config),
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["suggestions_shown"] > 0
    assert set(summary) == {"workload_reduction", "suggestions_shown", "corrected", "effectiveness_auc",
                            "control_auc", "auc_ratio"}  # fmt: skip
    assert 0 <= summary["corrected"] <= summary["suggestions_shown"] <= 30
    assert json.loads(out.read_text())["labels"] == 30
