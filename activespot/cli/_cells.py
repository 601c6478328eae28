"""Cell commands (HALS): ``cells init``, ``next``, ``import``, ``export``, ``workload`` and ``simulate``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .. import _constants as K
from ._main import device_option, main, user_errors
from ._project import annotator_name, parse_classes

_FORMATS = click.Choice(["csv", "points", "geojson", "hovernet", "mask"])


@main.group()
def cells() -> None:
    """Annotate the cells of an H&E image with live suggestions and Coreset-guided regions (HALS)."""


@cells.command("init")
@click.argument("project", type=click.Path(path_type=Path))
@click.option("--image", required=True, type=click.Path(path_type=Path), help="H&E image (PNG, JPEG or TIFF).")
@click.option(
    "--nuclei",
    type=click.Path(path_type=Path),
    default=None,
    help="Nuclei: CSV of centroids, '<Y> <X> <class>' points, QuPath GeoJSON, HoVer-Net JSON or an instance mask. "
    "Without it the built-in detector finds them.",
)
@click.option("--nuclei-format", type=_FORMATS, default=None, help="Format of --nuclei (default: from the file name).")
@click.option("--classes", default=None, help="Comma-separated class names, e.g. 'Epithelial,Inflammatory'.")
@click.option("--microns-per-pixel", type=float, default=None, help="Pixel size, when known (patch sizes in µm).")
@click.option("--annotator", default=None, help="Who declares the classes (default: $ACTIVESPOT_ANNOTATOR or login).")
@user_errors
def cells_init(
    project: Path,
    image: Path,
    nuclei: Path | None,
    nuclei_format: str | None,
    classes: str | None,
    microns_per_pixel: float | None,
    annotator: str | None,
) -> None:
    """Create a cell project for IMAGE and its nuclei in the folder PROJECT."""
    from ..config import Config
    from ..project import Project

    config = Config().updated({"cells": {"microns_per_pixel": microns_per_pixel}}) if microns_per_pixel else None
    names = parse_classes(classes)
    created = Project.create_cells(
        project,
        image=image,
        nuclei=nuclei,
        nuclei_format=nuclei_format,
        classes=names,
        config=config,
        annotator=annotator_name(annotator),
    )
    source = (
        "found by the built-in detector (scikit-image watershed; check them, or pass --nuclei)"
        if created.sample.nuclei_format == K.NUCLEI_DETECTOR
        else f"read from {created.sample.nuclei} ({created.sample.nuclei_format})"
    )
    click.echo(f"Created {created.path}: {created.sample.n_spots} cells {source}.")


@cells.command("next")
@click.argument("project", type=click.Path(path_type=Path))
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None, help="Also write the round as JSON.")
@click.option("--force", is_flag=True, help="Retrain now even if fewer than retrain_every labels are new.")
@device_option
@user_errors
def cells_next(project: Path, json_out: Path | None, force: bool, device: str | None) -> None:
    """Show the region to annotate next and the suggestion for each of its cells."""
    from ..cells import cell_round, check_cell_project, latest_cell_round, load_cells, needs_new_round
    from ..project import Project

    opened = Project.open(project)
    check_cell_project(opened)
    current = latest_cell_round(opened)
    if force or needs_new_round(opened, current):
        current = cell_round(opened, device=device, progress=True)
    adata = load_cells(opened, device=device)
    x0, y0, x1, y1 = current.region.box
    names = adata.obs_names[list(current.region.cells)]
    labelled = opened.labels()
    todo = [c for c in names if c not in labelled.index]
    click.echo(f"Round {current.number}: region x {x0}-{x1}, y {y0}-{y1} ({len(todo)} cells to label).")
    shown = len(current.suggestions) and bool(current.suggestions["shown"].all())
    if not shown:
        click.echo(
            f"No suggestions yet: every class needs {opened.config.cells.min_labels_per_class} labels "
            f"(now: {labelled.value_counts().to_dict() or 'none'})."
        )
    xy = adata.obsm[K.SPATIAL_KEY]
    position = {c: i for i, c in enumerate(adata.obs_names)}
    rows = []
    for cell in todo:
        x, y = xy[position[cell]]
        row = {"cell_id": cell, "x": round(float(x), 1), "y": round(float(y), 1)}
        if shown:
            row["suggestion"] = str(current.suggestions.loc[cell, "label"])
            row["confidence"] = round(float(current.suggestions.loc[cell, "confidence"]), 3)
        rows.append(row)
        click.echo("  " + "  ".join(f"{k}={v}" for k, v in row.items()))
    if json_out:
        payload = {"round": current.number, "region": list(current.region.box), "cells": rows}
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(payload, indent=2), encoding="utf-8")


@cells.command("import")
@click.argument("project", type=click.Path(path_type=Path))
@click.argument("csv_file", type=click.Path(path_type=Path))
@click.option("--column", default=None, help="Label column (default: 'label').")
@click.option("--annotator", default=None, help="Who made the labels (default: $ACTIVESPOT_ANNOTATOR or login).")
@user_errors
def cells_import(project: Path, csv_file: Path, column: str | None, annotator: str | None) -> None:
    """Import cell labels from a CSV with columns cell_id and label (one undoable action)."""
    from ..cells import check_cell_project
    from ..errors import InputFileError
    from ..io import read_cell_labels_csv
    from ..project import Project

    opened = Project.open(project)
    check_cell_project(opened)
    labels = read_cell_labels_csv(csv_file, known=opened.barcodes, column=column)
    for cell, label in labels.items():
        try:
            opened.check_label(label)
        except ValueError as err:
            raise InputFileError(csv_file, f"cell {cell}: {err}", "fix the label or declare the class") from None
    changed = labels[labels.ne(opened.labels().reindex(labels.index))]
    if len(changed):
        opened.store.add_labels(
            changed.to_dict(),
            annotator=annotator_name(annotator),
            source=K.SOURCE_IMPORTED,
            round_number=opened.last_round_number,
            detail={"file": str(csv_file.absolute())},
        )
    click.echo(f"Imported {len(changed)} labels ({len(labels) - len(changed)} unchanged) from {csv_file}.")


@cells.command("export")
@click.argument("project", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Folder (default: PROJECT/exports).")
@user_errors
def cells_export(project: Path, out: Path | None) -> None:
    """Write the current cell labels as CSV and as QuPath-compatible GeoJSON."""
    from ..cells import check_cell_project
    from ..io import write_cell_labels_csv, write_cell_labels_geojson
    from ..project import Project

    opened = Project.open(project)
    check_cell_project(opened)
    adata = opened.load_sample()
    labels = opened.labels()
    folder = out or opened.exports_dir
    folder.mkdir(parents=True, exist_ok=True)
    csv_path = write_cell_labels_csv(adata, labels, folder / K.CELLS_CSV_EXPORT)
    geojson_path = write_cell_labels_geojson(adata, labels, folder / K.CELLS_GEOJSON_EXPORT)
    click.echo(f"Wrote {len(labels)} labels to {csv_path} and {geojson_path}.")


@cells.command("workload")
@click.argument("project", type=click.Path(path_type=Path))
@click.option("--by", type=click.Choice(["annotator", "region", "all"]), default="annotator", show_default=True)
@user_errors
def cells_workload(project: Path, by: str) -> None:
    """Suggestions shown, corrected and the workload reduction, from the label journal."""
    from ..cells import check_cell_project
    from ..project import Project, workload

    opened = Project.open(project)
    check_cell_project(opened)
    table = workload(opened.store, by=by)
    empty = "No labels in the journal yet."
    click.echo(table.to_string(float_format=lambda v: f"{v:.3f}") if len(table) else empty)


@cells.command("simulate")
@click.option("--image", required=True, type=click.Path(path_type=Path), help="H&E image.")
@click.option("--nuclei", required=True, type=click.Path(path_type=Path), help="Nuclei file with the true classes.")
@click.option("--nuclei-format", type=_FORMATS, default=None, help="Format of --nuclei (default: from the file name).")
@click.option(
    "--truth-column",
    required=True,
    help="Column with the true class: a column of the nuclei CSV (or of --truth), or 'class' for the file's own class.",
)
@click.option(
    "--truth",
    type=click.Path(path_type=Path),
    default=None,
    help="CSV with the true classes by cell id (first column), when the nuclei file has none (e.g. a mask).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--max-labels", type=int, default=None, help="Stop after this many labels (default: all cells).")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None, help="YAML settings.")
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None, help="Write the result as JSON.")
@user_errors
def cells_simulate(
    image: Path,
    nuclei: Path,
    nuclei_format: str | None,
    truth_column: str,
    truth: Path | None,
    seed: int,
    max_labels: int | None,
    config_path: Path | None,
    json_out: Path | None,
) -> None:
    """Simulate a HALS session on IMAGE: workload reduction and effectiveness vs. an unguided control."""
    from ..cells import cell_features, cell_patch_size, cell_truth, check_cell_backbone, simulate_cells
    from ..config import load_config
    from ..io import read_cells

    config = load_config(config_path).cells
    check_cell_backbone(config.backbone, source=config_path or "the default settings")
    adata = read_cells(image, nuclei, nuclei_format=nuclei_format, microns_per_pixel=config.microns_per_pixel)
    adata.obs["truth"] = cell_truth(adata, truth_column, truth=truth)
    patch = cell_patch_size(adata, patch_px=config.patch_px, patch_um=config.patch_um)
    cell_features(adata, patch_px=patch, backbone=config.backbone, weights=config.weights)
    result = simulate_cells(adata, "truth", config=config, seed=seed, max_labels=max_labels)
    summary = {
        key: result[key]
        for key in (
            "workload_reduction",
            "suggestions_shown",
            "corrected",
            "effectiveness_auc",
            "control_auc",
            "auc_ratio",
        )
    }
    click.echo(json.dumps(_no_nan(summary)))
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(_no_nan(result), indent=2), encoding="utf-8")


def _no_nan(value):
    """NaN (no suggestion shown yet) as JSON null, which every JSON reader accepts."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nan(v) for v in value]
    return value
