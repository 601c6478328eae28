"""Project commands: ``init``, ``import``, ``export``, ``classes``, ``info`` and ``demo``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .. import _constants as K
from ._main import main, user_errors

_BUNDLED_SAMPLE = Path(__file__).resolve().parents[2] / "data" / "visium" / "dlpfc_151673"
_DEMO_MARKER = ".activespot-demo"

annotator_option = click.option(
    "--annotator",
    default=None,
    help="Who is labelling (stored with every label). Default: $ACTIVESPOT_ANNOTATOR or your login name.",
)


def parse_classes(value: str | None) -> list[str]:
    """Class names from ``--classes A,B,C`` (spaces around commas are fine; an empty name is an error)."""
    from ..errors import ProjectError

    names = [name.strip() for name in value.split(",")] if value else []
    if any(not name for name in names):
        msg = "--classes has an empty class name (two commas in a row?)"
        raise ProjectError(msg)
    return names


def annotator_name(value: str | None) -> str:
    from ..project import default_annotator

    return value or default_annotator()


@main.command()
@click.argument("project", type=click.Path(path_type=Path))
@click.option(
    "--visium",
    required=True,
    type=click.Path(path_type=Path),
    help="Space Ranger 'outs' folder (or an .h5ad) of the sample.",
)
@click.option(
    "--image", type=click.Path(path_type=Path), default=None, help="Full-resolution H&E (TIFF/PNG/JPEG), optional."
)
@click.option("--classes", default=None, help="Comma-separated class names, e.g. 'Tumour,Stroma,Immune'.")
@click.option(
    "--morphology-only",
    is_flag=True,
    help="The folder has no count matrix (e.g. only spatial/): label from the H&E alone, without expression.",
)
@click.option(
    "--bin-size",
    type=click.IntRange(min=1),
    default=None,
    help="Visium HD: which bins to label, in µm (2, 8 or 16). Default: 8 when the output has them, as Loupe.",
)
@click.option(
    "--cells",
    is_flag=True,
    help="Visium HD: label the cells Space Ranger 4 segmented (segmented_outputs/) instead of bins.",
)
@annotator_option
@user_errors
def init(
    project: Path,
    visium: Path,
    image: Path | None,
    classes: str | None,
    morphology_only: bool,
    bin_size: int | None,
    cells: bool,
    annotator: str | None,
) -> None:
    """Create PROJECT (a new folder) for a Visium sample.

    The sample is read and checked first; nothing is created if it cannot be read.
    """
    from ..project import Project

    names = parse_classes(classes)
    created = Project.create(
        project,
        visium=visium,
        image=image,
        classes=names,
        annotator=annotator_name(annotator),
        morphology_only=morphology_only,
        bin_size=bin_size,
        cells=cells,
    )
    click.echo(f"Created project {created.path}")
    items = "spots" if created.sample.bin_size is None else f"{created.sample.bin_size} µm bins"
    items = "segmented cells" if created.sample.cells else items
    click.echo(f"  sample: {created.sample.visium} ({created.sample.n_spots} {items}, {created.sample.n_genes} genes)")
    if morphology_only:
        click.echo("  morphology only: features leave expression out")
    if names:
        click.echo(f"  classes: {', '.join(names)}")


@main.command(name="import")
@click.argument("project", type=click.Path(path_type=Path))
@click.argument("csv_file", metavar="FILE.csv", type=click.Path(path_type=Path))
@click.option("--column", default=None, help="Category column to import when the CSV has several.")
@annotator_option
@user_errors
def import_(project: Path, csv_file: Path, column: str | None, annotator: str | None) -> None:
    """Import labels from a Loupe Browser category CSV (Barcode,<Category>).

    Blank labels are skipped. The whole file is checked before anything is stored: on any
    error nothing is imported.
    """
    from ..project import Project

    opened = Project.open(project)
    summary = opened.import_loupe(csv_file, column=column, annotator=annotator_name(annotator))
    if summary.mapped_from_um is not None and opened.sample.cells:
        click.echo(
            f"note: {csv_file} labels {summary.mapped_from_um} µm bins; mapped to this project's segmented cells "
            f"(each cell takes the label of the bin under its centroid); {summary.outside} labelled bins hold "
            "no cell centroid and label no cell"
        )
    elif summary.mapped_from_um is not None:
        click.echo(
            f"note: {csv_file} labels {summary.mapped_from_um} µm bins; mapped to this project's "
            f"{opened.sample.bin_size} µm bins (containment, or majority with ties left out); "
            f"{summary.outside} mapped bins are not under tissue here and were skipped"
        )
    click.echo(
        f"Imported column {summary.column!r} from {csv_file}: {summary.new} new, {summary.changed} changed, "
        f"{summary.unchanged} unchanged labels."
    )


@main.command()
@click.argument("project", type=click.Path(path_type=Path))
@click.option("--loupe", "loupe_out", type=click.Path(path_type=Path), default=None, help="Write a Loupe CSV here.")
@click.option(
    "--what",
    type=click.Choice(["labels", "predictions", "query"]),
    default="labels",
    show_default=True,
    help="Current labels, the latest round's predictions, or the spots to annotate next.",
)
@click.option("--all-barcodes", is_flag=True, help="List every spot, leaving unlabelled ones blank (Loupe's own form).")
@click.option("--h5ad", "h5ad_out", type=click.Path(path_type=Path), default=None, help="Also write the AnnData.")
@click.option(
    "--bin-size",
    type=click.IntRange(min=1),
    default=None,
    help="Visium HD: write the Loupe CSV for bins of this size (µm), mapped from the project's bins or cells.",
)
@user_errors
def export(
    project: Path, loupe_out: Path | None, what: str, all_barcodes: bool, h5ad_out: Path | None, bin_size: int | None
) -> None:
    """Export labels, predictions or the next query as a Loupe CSV, and/or the annotated AnnData."""
    from ..errors import ProjectError
    from ..io import LOUPE_BIN_SIZES, map_bin_labels, map_cells_to_bins, write_loupe_csv
    from ..project import Project

    if loupe_out is None and h5ad_out is None:
        msg = "nothing to export: give --loupe OUT.csv and/or --h5ad OUT.h5ad"
        raise ProjectError(msg)
    opened = Project.open(project)
    cells = opened.sample.cells
    if bin_size is not None and opened.sample.bin_size is None and not cells:
        msg = f"{opened.path}: --bin-size is for Visium HD projects; this one labels 55 µm spots, leave it out"
        raise ProjectError(msg)
    if bin_size is not None and all_barcodes and bin_size != opened.sample.bin_size:
        msg = "--all-barcodes lists the project's own items; leave it out when exporting another --bin-size"
        raise ProjectError(msg)
    if loupe_out is not None:
        if what == "labels":
            values, category = opened.labels(), K.LOUPE_LABEL_CATEGORY
        else:
            # Predictions come from the one model round (trained or transferred), as in the app.
            latest = opened.model_round() if what == "predictions" else opened.latest_round(containing=K.ROUND_QUERY)
            if latest is None:
                command = "round" if what == "predictions" else "suggest"
                msg = f"{opened.path}: no {what} yet; run 'activespot {command}' first"
                raise ProjectError(msg)
            if what == "predictions":
                values, category = latest.load_table(K.ROUND_PREDICTIONS)["label"], K.LOUPE_PREDICTION_CATEGORY
            else:
                values, category = latest.load_table(K.ROUND_QUERY).iloc[:, 0].astype(str), K.LOUPE_QUERY_CATEGORY
        left_out = 0
        if what != "query":  # the spots asked next are asked whatever they are
            values, left_out = opened.without_excluded(values)
        if bin_size is not None and cells:  # each bin takes the label of the cell its centre falls in
            values = map_cells_to_bins(values, opened.sample.visium, bin_size=bin_size)
        elif bin_size is not None and bin_size != opened.sample.bin_size:
            try:
                values = map_bin_labels(values, to_um=bin_size)
            except ValueError as err:
                msg = f"{opened.path}: {err}"
                raise ProjectError(msg) from None
        if bin_size is not None and bin_size not in LOUPE_BIN_SIZES:
            sizes = " and ".join(f"{size} µm" for size in LOUPE_BIN_SIZES)
            click.echo(f"note: Loupe Browser opens {sizes} bins, not {bin_size} µm: this CSV is for other tools")
        write_loupe_csv(values, loupe_out, category=category, barcodes=opened.barcodes if all_barcodes else None)
        click.echo(f"Wrote {len(values)} {what} to {loupe_out} (category {category!r})")
        if left_out:
            click.echo(f"  left out {left_out} spots of the exclusion class {opened.exclusion_class()!r}")
    if h5ad_out is not None:
        adata = opened.annotated_adata()
        h5ad_out.parent.mkdir(parents=True, exist_ok=True)
        tmp = h5ad_out.with_name(f".{h5ad_out.name}.tmp")
        adata.write_h5ad(tmp)
        tmp.replace(h5ad_out)
        click.echo(f"Wrote AnnData {adata.n_obs} x {adata.n_vars} to {h5ad_out}")


@main.group()
def classes() -> None:
    """List, add and mark the classes of a project (renames and merges: the app's Classes page)."""


@classes.command("list")
@click.argument("project", type=click.Path(path_type=Path))
@user_errors
def classes_list(project: Path) -> None:
    """Print the classes of PROJECT with their label counts; the exclusion class is marked."""
    from ..project import Project

    opened = Project.open(project)
    exclusion = opened.exclusion_class()
    for name, count in opened.info()["classes"].items():
        mark = "  (exclusion class: left out of exports and agreement)" if name == exclusion else ""
        click.echo(f"{name}\t{count}{mark}")


@classes.command("add")
@click.argument("project", type=click.Path(path_type=Path))
@click.argument("names", nargs=-1, required=True)
@annotator_option
@user_errors
def classes_add(project: Path, names: tuple[str, ...], annotator: str | None) -> None:
    """Declare classes NAMES (one argument each; quote names with spaces). An existing class is kept."""
    from ..errors import ProjectError
    from ..project import Project

    opened = Project.open(project)
    try:
        opened.store.add_classes(list(names), annotator=annotator_name(annotator))
    except ValueError as err:
        msg = f"{opened.path}: {err}"
        raise ProjectError(msg) from None
    click.echo(f"Classes of {opened.path}: {', '.join(opened.store.declared_classes())}")


@classes.command("exclude")
@click.argument("project", type=click.Path(path_type=Path))
@click.argument("name", required=False, default=K.DEFAULT_EXCLUSION_CLASS)
@click.option("--none", "unmark", is_flag=True, help="No class is the exclusion class any more.")
@annotator_option
@user_errors
def classes_exclude(project: Path, name: str, unmark: bool, annotator: str | None) -> None:
    """Mark NAME (default 'Not tissue', declared if new) as the exclusion class of PROJECT.

    Spots outside the annotated tissue get this class: the model learns it like any other, Loupe
    exports of labels and predictions leave its spots out (and say how many), the exported AnnData
    keeps them flagged in obs['activespot_excluded'], and agreement and accuracy leave them out.
    """
    from ..project import Project

    opened = Project.open(project)
    if unmark:
        opened.set_exclusion_class(None, annotator=annotator_name(annotator))
        click.echo(f"{opened.path}: no exclusion class; exports include every spot")
        return
    added = opened.set_exclusion_class(name, annotator=annotator_name(annotator))
    click.echo(f"{opened.path}: {name!r} is the exclusion class" + (" (new class)" if added else ""))


@main.command()
@click.argument("project", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON instead of a table.")
@user_errors
def info(project: Path, as_json: bool) -> None:
    """Show the sample (spots or cells), classes with counts, rounds and annotators of PROJECT."""
    from ..project import Project

    opened = Project.open(project)
    details = opened.info()
    if as_json:
        click.echo(json.dumps(details, indent=2))
        return
    _print_info(details)


def _item_words(details: dict) -> str:
    """What the project labels, in words: spots, a Visium HD section's bins or cells, or a slide's cells."""
    if details.get("bin_size_um"):
        return f"{details['bin_size_um']} µm bins"
    return "cells" if details.get("segmented_cells") else details["unit"]


def _print_info(details: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    unit = details["unit"]
    console.print(f"[bold]Project[/bold] {details['project']}")
    if unit == "cells":
        console.print(f"  image    {details['image']}")
        console.print(f"  nuclei   {details['nuclei']}")
        console.print(f"  cells    {details['cells']}  ({details['labelled']} labelled)")
        console.print(f"  regions  {details['regions']}")
    else:
        console.print(f"  sample   {details['sample']}  (library {details['library_id']})")
        if details["image"]:
            console.print(f"  image    {details['image']}")
        genes = f", genes {details['genes']}" if details["genes"] else " (morphology only: no counts)"
        console.print(f"  {_item_words(details):<8} {details['spots']}  ({details['labelled']} labelled){genes}")
        last = details["last_round"]
        console.print(f"  rounds   {details['rounds']} with a model" + (f" (latest {last})" if last else ""))
    if details["features"]:
        blocks = ", ".join(f"{key} {rows} x {dim}" for key, (rows, dim) in details["features"].items())
        console.print(f"  features {blocks}")
    table = Table(title="Classes", show_edge=False)
    table.add_column("class")
    table.add_column(f"labelled {_item_words(details)}", justify="right")
    for name, count in details["classes"].items():
        table.add_row(name, str(count))
    table.add_row("(unlabelled)", str(details[unit] - details["labelled"]), style="dim")
    console.print(table)
    if details["annotators"]:
        console.print("  annotators " + ", ".join(f"{who} ({n} labels)" for who, n in details["annotators"].items()))


@main.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("demo_output"),
    show_default=True,
    help="Folder for the demo project and its files (a previous demo there is replaced).",
)
@click.option(
    "--visium",
    type=click.Path(path_type=Path),
    default=_BUNDLED_SAMPLE,
    show_default=True,
    help="Sample to use (with a ground_truth_layers.csv); the bundled DLPFC section 151673 by default.",
)
@click.option("--rounds", default=10, show_default=True, help="Simulated annotation rounds after the first query.")
@click.option("--seed", default=0, show_default=True)
@user_errors
def demo(out: Path, visium: Path, rounds: int, seed: int) -> None:
    """Run activespot end to end on the bundled DLPFC section.

    1. Creates a project and computes its features (weight-free H&E descriptor, expression,
       spatial context). 2. Asks for the first spots, answers them from the published layer
       annotation through a Loupe CSV, as a pathologist would, and trains one round.
    3. Simulates the whole active-learning loop against that annotation and writes the
    learning curve, the JSON and the last round's Loupe CSVs.
    """
    import shutil

    import pandas as pd

    from ..errors import ProjectError
    from ..io import read_truth, write_loupe_csv
    from ..loop import run_simulation
    from ..project import Project, run_round, suggest

    truth_file = Path(visium) / "ground_truth_layers.csv"
    if out.exists():
        if not (out / _DEMO_MARKER).exists():
            msg = f"{out}: exists and was not made by 'activespot demo'; choose another --out"
            raise ProjectError(msg)
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / _DEMO_MARKER).write_text("made by activespot demo\n", encoding="utf-8")

    click.echo("1/3  Project and features (weight-free H&E descriptor, expression, spatial context)")
    truth = read_truth(truth_file, barcodes=_read_sample(visium).obs_names)
    classes = sorted({label for label in truth if isinstance(label, str)})
    project = Project.create(out / "project", visium=visium, classes=classes, annotator="demo")
    first = suggest(project)  # computes and caches the features, then picks the first spots
    adata = project.load_sample()
    click.echo(f"     {project.path}: {adata.n_obs} spots, classes {', '.join(classes)}")

    click.echo("2/3  First query answered through a Loupe CSV, one round trained")
    answers = pd.Series(truth, index=adata.obs_names).reindex(first.barcodes).dropna()
    answers_csv = write_loupe_csv(answers, out / "first_answers_loupe.csv", category="Layer")
    summary = project.import_loupe(answers_csv, annotator="demo")
    trained = run_round(project)
    click.echo(
        f"     imported {summary.new} labels from {answers_csv.name}; round {trained.round} predicted every spot "
        f"-> {trained.prediction_csv}"
    )

    click.echo(f"3/3  Simulated annotation: {rounds} rounds, default strategy vs. the others")
    result = run_simulation(adata, truth_file, strategy="all", rounds=rounds, seed=seed, out_dir=out / "simulation")
    for row in result["rounds"]:
        click.echo(
            f"     {row['n_labeled']:4d} labels  weighted F1 {row['pool_weighted_f1']:.3f}  accuracy "
            f"{row['pool_accuracy']:.3f}, estimated without truth {row['estimated_accuracy']:.3f} "
            f"[{row['estimated_accuracy_low']:.3f}, {row['estimated_accuracy_high']:.3f}]"
        )
    click.echo(f"     full supervision: weighted F1 {result['full_supervision']['pool_weighted_f1']:.3f}")
    _print_info(project.info())
    click.echo(f"\nDemo output in {out.resolve()} (learning curve: simulation/learning_curve.png)")


def _read_sample(visium: Path):
    import warnings

    from ..io import read_visium

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Project.create reports the sample's notes
        return read_visium(visium)


@main.command(name="config")
@click.argument("project", type=click.Path(path_type=Path), required=False)
@user_errors
def show_config(project: Path | None) -> None:
    """Print the settings of PROJECT (or the defaults) as commented YAML.

    Save the output as a file, edit it, and pass it where a command takes --config.
    """
    from ..config import config_to_yaml
    from ..project import Project

    click.echo(config_to_yaml(Project.open(project).config if project else None), nl=False)
