"""Across-section commands: ``transfer``, ``agreement`` and ``review``."""

from __future__ import annotations

from pathlib import Path

import click

from ._main import device_option, main, user_errors

_SHOWN = 5


harmony_option = click.option(
    "--harmony/--no-harmony",
    default=True,
    show_default=True,
    help="Batch-correct the joint expression PCs with Harmony (the model reads the corrected PCs).",
)
ensemble_option = click.option(
    "--ensemble",
    type=click.IntRange(min=1),
    default=None,
    help="Models to average (default: transfer.ensemble of the (first) source's settings, 5).",
)


@main.command()
@click.option("--source", required=True, type=click.Path(path_type=Path), help="Labelled project to learn from.")
@click.option(
    "--target", required=True, type=click.Path(path_type=Path), help="Space Ranger 'outs' folder (or .h5ad) to label."
)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="New project folder for the target.")
@harmony_option
@click.option("--image", type=click.Path(path_type=Path), default=None, help="Full-resolution H&E of the target.")
@click.option("--annotator", default=None, help="Who creates the target project (default: $ACTIVESPOT_ANNOTATOR).")
@ensemble_option
@device_option
@user_errors
def transfer(
    source: Path,
    target: Path,
    out: Path,
    harmony: bool,
    image: Path | None,
    annotator: str | None,
    ensemble: int | None,
    device: str | None,
) -> None:
    """Predict every spot of TARGET from SOURCE's labels and start OUT, a project for TARGET.

    Features are computed jointly (genes matched by name, joint HVGs and PCA, Harmony) with the
    source's settings. OUT's first round holds the predictions as suggestions to accept or
    correct; 'activespot round OUT' continues from the transferred model.
    """
    from ..project import Project
    from ..transfer import transfer_labels

    summary = transfer_labels(
        Project.open(source),
        target,
        out=out,
        harmony=harmony,
        image=image,
        annotator=annotator,
        ensemble=ensemble,
        device=device,
    )
    n_source, n_target = summary.genes_per_sample or (0, 0)
    if n_source:
        share = summary.common_genes / max(min(n_source, n_target), 1)
        click.echo(
            f"Genes: {n_source} in the source, {n_target} in the target, {summary.common_genes} in common "
            f"({share:.0%} of the smaller panel; matched by name)"
        )
    click.echo(
        f"Trained {summary.ensemble} model{'s' if summary.ensemble > 1 else ''} on {summary.n_source_labels} source "
        f"labels; expression {'with' if summary.harmony else 'without'} Harmony; {summary.seconds:.1f} s"
    )
    width = max(map(len, summary.predicted_counts), default=5)
    for name, count in sorted(summary.predicted_counts.items()):
        click.echo(f"  {name:<{width}}  {count:>6} spots predicted")
    click.echo(f"Created project {summary.project} (round {summary.round}: transferred predictions)")
    click.echo(f"Predictions: {summary.loupe_csv}")
    click.echo(f"AnnData: {summary.h5ad}")


@main.command()
@click.argument("a_csv", metavar="A.csv", type=click.Path(path_type=Path))
@click.argument("b_csv", metavar="B.csv", type=click.Path(path_type=Path))
@click.option("--column-a", default=None, help="Label column of A.csv (default: the first after the barcodes).")
@click.option("--column-b", default=None, help="Label column of B.csv (default: the first after the barcodes).")
@click.option("--plot", "plot_out", type=click.Path(path_type=Path), default=None, help="Write a confusion heatmap.")
@click.option(
    "--exclude",
    default=None,
    metavar="CLASS",
    help="The exclusion class (e.g. 'Not tissue'): spots either file gives it are left out of every number.",
)
@user_errors
def agreement(
    a_csv: Path, b_csv: Path, column_a: str | None, column_b: str | None, plot_out: Path | None, exclude: str | None
) -> None:
    """Agreement of two annotations of one section: Cohen's kappa, accuracy, weighted F1, confusion.

    Reads Loupe category CSVs ('Barcode,<Category>') or ground-truth tables ('barcode,layer,...').
    A is the reference for weighted F1 and the per-class table. Spots labelled in only one file
    are counted and listed.
    """
    from ..errors import InputFileError
    from ..review import agreement as compare
    from ..review import plot_agreement, read_annotation

    a = read_annotation(a_csv, column=column_a)
    b = read_annotation(b_csv, column=column_b)
    try:
        result = compare(a, b, name_a=a_csv.name, name_b=b_csv.name, exclude=exclude)
    except ValueError as err:
        raise InputFileError(b_csv, str(err), f"compare it with an annotation of the same section as {a_csv}") from None
    click.echo(f"Spots labelled in both: {result.n_common} (A: column {a.name!r}, B: column {b.name!r})")
    if exclude is not None:
        click.echo(f"Left out: {result.n_excluded} spots of the exclusion class {exclude!r} in either file")
    click.echo(f"Cohen's kappa: {result.kappa:.3f}")
    click.echo(f"Accuracy:      {result.accuracy:.3f}")
    click.echo(f"Weighted F1:   {result.weighted_f1:.3f}")
    for name, only in ((a_csv, result.only_a), (b_csv, result.only_b)):
        if len(only):
            more = ", …" if len(only) > _SHOWN else ""
            click.echo(f"Only in {name}: {len(only)} spots (e.g. {', '.join(only[:_SHOWN])}{more})")
    click.echo("Confusion (rows: A, columns: B):")
    click.echo(result.confusion.to_string())
    click.echo("Per class of A:")
    click.echo(result.per_class.round(3).to_string())
    if plot_out is not None:
        click.echo(f"Wrote {plot_agreement(result, plot_out)}")


@main.command()
@click.argument("project", type=click.Path(path_type=Path))
@click.option("--folds", type=click.IntRange(min=2), default=5, show_default=True, help="Out-of-fold splits.")
@click.option(
    "--min-confidence",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.8,
    show_default=True,
    help="List a label when the model predicts another class with at least this probability.",
)
@click.option("--top", type=click.IntRange(min=0), default=20, show_default=True, help="Rows to print.")
@click.option("--out", "csv_out", type=click.Path(path_type=Path), default=None, help="Loupe CSV (default: exports/).")
@user_errors
def review(project: Path, folds: int, min_confidence: float, top: int, csv_out: Path | None) -> None:
    """List labels the model disputes, judged out-of-fold (never by a model trained on them).

    Writes the disputed spots as a Loupe CSV (category 'ActiveSpot Review', value 'label -> predicted')
    to re-check in Loupe Browser, and prints the most confident disputes.
    """
    from .. import _constants as K
    from ..io import write_loupe_csv
    from ..project import Project
    from ..review import review_labels

    opened = Project.open(project)
    disputed = review_labels(opened, folds=folds, min_confidence=min_confidence)
    n_labels = len(opened.labels())
    click.echo(f"{len(disputed)} of {n_labels} labels disputed with confidence >= {min_confidence:g} ({folds} folds)")
    if csv_out is None:
        csv_out = opened.exports_dir / K.REVIEW_EXPORT.format(round=opened.last_round_number or 0)
    values = disputed["label"] + " -> " + disputed["predicted"]
    write_loupe_csv(values, csv_out, category=K.LOUPE_REVIEW_CATEGORY)
    if len(disputed):
        shown = disputed.head(top)[["label", "predicted", "confidence", "p_label", "annotator", "source"]]
        click.echo(shown.round(3).to_string())
    click.echo(f"Review CSV: {csv_out}")
