"""Active-learning commands: ``suggest``, ``round`` and ``simulate``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ._main import device_option, main, user_errors


@main.command()
@click.argument("project", type=click.Path(path_type=Path))
@click.option(
    "--n", "n", type=click.IntRange(min=1), default=None, help="Spots to ask (default: select.init, then select.batch)."
)
@user_errors
def suggest(project: Path, n: int | None) -> None:
    """Write a Loupe CSV of the spots to annotate next, and print its path.

    Before the first round these are k-means picks over the features; afterwards the configured
    strategy's picks from the latest round, skipping spots labelled since.
    """
    from ..project import Project
    from ..project import suggest as suggest_spots

    result = suggest_spots(Project.open(project), n=n)
    click.echo(f"{len(result.barcodes)} spots to annotate (round {result.round}); import the CSV into Loupe Browser:")
    click.echo(str(result.path))


@main.command(name="round")
@click.argument("project", type=click.Path(path_type=Path))
@device_option
@user_errors
def round_(project: Path, device: str | None) -> None:
    """Train on the current labels, predict every spot and choose the next spots to annotate.

    Writes the round into PROJECT and two Loupe CSVs (predictions, next query) into its exports.
    """
    from ..project import Project, run_round

    summary = run_round(Project.open(project), device=device)
    n_labels = sum(summary.label_counts.values())
    click.echo(f"Round {summary.round}: trained on {n_labels} labels in {summary.seconds:.2f} s on {summary.device}")
    width = max(map(len, [*summary.label_counts, *summary.predicted_counts]))
    click.echo(f"  {'class':<{width}}  labels  predicted")
    for name in sorted({*summary.label_counts, *summary.predicted_counts}):
        labels, predicted = summary.label_counts.get(name, 0), summary.predicted_counts.get(name, 0)
        click.echo(f"  {name:<{width}}  {labels:>6}  {predicted:>9}")
    if summary.changed is not None:
        click.echo(f"  predictions changed since the last round: {summary.changed}")
    for line in summary.judgement():
        click.echo(f"  {line}")
    click.echo(f"Predictions: {summary.prediction_csv}")
    click.echo(f"Next {len(summary.query)} spots to annotate: {summary.query_csv}")


@main.command()
@click.option("--visium", required=True, type=click.Path(path_type=Path), help="Space Ranger 'outs' folder or .h5ad.")
@click.option("--truth", required=True, type=click.Path(path_type=Path), help="CSV: barcodes, then labels.")
@click.option(
    "--bin-size", type=click.IntRange(min=1), default=None, help="Visium HD: bin size in µm (default 8 when present)."
)
@click.option("--truth-column", default=None, help="Label column of the truth CSV (default: the second column).")
@click.option("--strategy", default="least_confidence_kmeans", show_default=True, help="Strategy name, or 'all'.")
@click.option("--init", type=click.IntRange(min=1), default=None, help="Initial query size (default: select.init).")
@click.option("--batch", type=click.IntRange(min=1), default=None, help="Spots per round (default: select.batch).")
@click.option("--rounds", type=click.IntRange(min=0), default=10, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--backbone", default=None, help="Morphology backbone (default: features.backbone).")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None, help="Settings YAML.")
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None, help="Write the result JSON here.")
@click.option("--plot", "plot_out", type=click.Path(path_type=Path), default=None, help="Write the learning curve.")
@user_errors
def simulate(
    visium: Path,
    truth: Path,
    bin_size: int | None,
    truth_column: str | None,
    strategy: str,
    init: int | None,
    batch: int | None,
    rounds: int,
    seed: int,
    backbone: str | None,
    config_path: Path | None,
    json_out: Path | None,
    plot_out: Path | None,
) -> None:
    """Simulate annotation of a labelled sample: the truth answers each query.

    Prints weighted F1 and accuracy over every spot with truth after each round, and next to
    them the accuracy a project would estimate without the truth (with its 95 % interval);
    --strategy all also runs every other strategy (random included) as a baseline.
    """
    from ..config import load_config
    from ..loop import ALL, plot_learning_curves, run_simulation
    from ..select import STRATEGIES

    if strategy != ALL and strategy not in STRATEGIES:
        msg = f"must be one of {', '.join(STRATEGIES)}, {ALL}; got {strategy!r}"
        raise click.BadParameter(msg, param_hint="--strategy")
    result = run_simulation(
        visium,
        truth,
        bin_size=bin_size,
        truth_column=truth_column,
        strategy=strategy,
        init=init,
        batch=batch,
        rounds=rounds,
        seed=seed,
        backbone=backbone,
        config=load_config(config_path),
    )
    baselines = result.get("baselines", {})
    names = "  ".join(f"{name:>24}" for name in [result["strategy"], *baselines])
    click.echo(f"labels  {names}  accuracy  estimated [95 % interval]  seconds")
    for i, record in enumerate(result["rounds"]):
        scores = [record["pool_weighted_f1"]] + [b["rounds"][i]["pool_weighted_f1"] for b in baselines.values()]
        columns = "  ".join(f"{score:>24.3f}" for score in scores)
        estimated = (
            f"{record['estimated_accuracy']:.3f} [{record['estimated_accuracy_low']:.3f}, "
            f"{record['estimated_accuracy_high']:.3f}]"
            if "estimated_accuracy" in record
            else "-"
        )
        accuracy = f"{record['pool_accuracy']:>8.3f}  {estimated:>26}"
        click.echo(f"{record['n_labeled']:>6}  {columns}  {accuracy}  {record['seconds']:>7.2f}")
    click.echo(f"full supervision: weighted F1 {result['full_supervision']['pool_weighted_f1']:.3f}")
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result, indent=2), encoding="utf-8")
        click.echo(f"Wrote {json_out}")
    if plot_out is not None:
        click.echo(f"Wrote {plot_learning_curves(result, plot_out)}")
