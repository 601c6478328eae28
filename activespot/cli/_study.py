"""The ``study`` group: ``init``, ``features``, ``transfer`` and ``status`` over many sections at once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .. import _constants as K
from ._features import changed_settings, feature_overrides, feature_setting_options
from ._main import device_option, main, user_errors
from ._project import annotator_name, annotator_option
from ._transfer import ensemble_option, harmony_option

if TYPE_CHECKING:
    from ..study import SectionFeatures


@main.group()
def study() -> None:
    """Studies of many sections: each section an ordinary project inside STUDY/sections/.

    Typical use: 'activespot study init STUDY --manifest sections.csv', 'activespot study features
    STUDY --scheduler local:4', 'activespot study transfer STUDY --from 151673', 'activespot study status STUDY'.
    """


@study.command("init")
@click.argument("study_dir", metavar="STUDY", type=click.Path(path_type=Path))
@click.option(
    "--manifest",
    required=True,
    type=click.Path(path_type=Path),
    help=f"CSV with one line per section: columns {K.MANIFEST_SAMPLE} and {K.MANIFEST_VISIUM} (Space Ranger outs "
    f"or .h5ad), optional {K.MANIFEST_IMAGE} (full-resolution H&E), {K.MANIFEST_LABELS} (a Loupe CSV to import) and "
    f"{K.MANIFEST_TRUTH} (true labels for kappa in 'study status': a Loupe or ground-truth CSV, its first column "
    "after the barcodes). Paths are "
    "relative to the manifest's folder unless absolute.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Settings YAML for every section (see configs/default.yaml); default: the defaults.",
)
@annotator_option
@user_errors
def init(study_dir: Path, manifest: Path, config_file: Path | None, annotator: str | None) -> None:
    """Create STUDY with a project per manifest line, each with its labels imported.

    The whole manifest is checked first, and the study is built in a temporary folder: on any
    error nothing is created, and the message names the manifest line.
    """
    from ..config import load_config
    from ..study import Study

    config = load_config(config_file) if config_file is not None else None
    created = Study.create(study_dir, manifest=manifest, config=config, annotator=annotator_name(annotator))
    click.echo(f"Created study {created.path} with {len(created.sections)} sections")
    for section in created.sections:
        project = created.open_project(section.sample)
        details = project.info()
        project.close()
        click.echo(f"  {section.sample}: {details['spots']} spots, {details['labelled']} labels")


@study.command("features")
@click.argument("study_dir", metavar="STUDY", type=click.Path(path_type=Path))
@feature_setting_options
@device_option
@click.option(
    "--scheduler",
    default="local",
    show_default=True,
    help="local (here, one section after the other), local:N (N worker processes here), or tcp://HOST:PORT "
    "(a running dask scheduler: 'dask scheduler' and 'dask worker' on the cluster's machines).",
)
@click.option(
    "--connect-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Seconds a tcp:// scheduler has to answer.",
)
@user_errors
def features(study_dir: Path, device: str | None, scheduler: str, connect_timeout: float, **settings: Any) -> None:
    """Compute the features of every section of STUDY, one task per section.

    Sections whose features are current are skipped, so an interrupted run continues where it
    stopped. Settings given here become every section's own, as with 'activespot features'.
    """
    from ..study import Study, update_study_features

    opened = Study.open(study_dir)
    overrides = feature_overrides(**settings)
    results = update_study_features(
        opened, features=overrides, device=device, scheduler=scheduler, timeout=connect_timeout, on_section=_echo
    )
    computed = sum(result.computed for result in results)
    click.echo(f"{computed} of {len(results)} sections computed, {len(results) - computed} up to date")
    saved = [result.sample for result in results if result.settings_saved]
    if saved:
        changes = changed_settings(overrides)
        click.echo(f"Feature settings saved to {len(saved)} sections: {changes}")


def _echo(result: SectionFeatures) -> None:
    if result.joint:
        click.echo(f"  {result.sample}: kept (its features are a transfer's joint blocks; transfer again to change)")
    else:
        state = "computed" if result.computed else "up to date"
        click.echo(f"  {result.sample}: {state} in {result.seconds:.1f} s")


@study.command("transfer")
@click.argument("study_dir", metavar="STUDY", type=click.Path(path_type=Path))
@click.option(
    "--from",
    "sources",
    required=True,
    help="Comma-separated samples of the labelled sections to learn from (jointly), e.g. 151673,151674.",
)
@harmony_option
@ensemble_option
@annotator_option
@device_option
@user_errors
def transfer(
    study_dir: Path, sources: str, harmony: bool, ensemble: int | None, annotator: str | None, device: str | None
) -> None:
    """Predict every other section of STUDY from the labelled sections given with --from.

    Each target starts with a transferred round, as a project 'activespot transfer' creates:
    accept or correct its suggestions, then 'activespot round STUDY/sections/<sample>'.
    """
    from ..study import Study, transfer_study

    names = [name.strip() for name in sources.split(",") if name.strip()]
    summaries = transfer_study(
        Study.open(study_dir),
        names,
        harmony=harmony,
        ensemble=ensemble,
        annotator=annotator_name(annotator),
        device=device,
    )
    for sample, summary in summaries.items():
        counts = ", ".join(f"{name} {count}" for name, count in sorted(summary.predicted_counts.items()))
        click.echo(
            f"{sample}: round {summary.round} transferred from {summary.n_source_labels} labels of "
            f"{', '.join(dict.fromkeys(names))} in {summary.seconds:.1f} s ({counts})"
        )


@study.command("status")
@click.argument("study_dir", metavar="STUDY", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON instead of a table.")
@user_errors
def status(study_dir: Path, as_json: bool) -> None:
    """Per section of STUDY: spots, labels, rounds, features (yes/no/stale/joint), kappa against the truth.

    Kappa compares the predictions of the section's model round (trained or transferred) with the
    manifest's truth column, over the spots in both.
    """
    from rich.console import Console
    from rich.table import Table

    from ..study import Study, study_status

    opened = Study.open(study_dir)
    statuses = study_status(opened)
    if as_json:
        click.echo(json.dumps({"study": str(opened.path), "sections": [s.to_dict() for s in statuses]}, indent=2))
        return
    table = Table(title=f"Study {opened.path}")
    for name in ("sample", "spots", "labels", "rounds", "features", "kappa"):
        table.add_column(name, justify="left" if name in {"sample", "features"} else "right")
    for row in statuses:
        kappa = "—" if row.kappa is None else f"{row.kappa:.3f} ({row.n_truth} spots)"
        table.add_row(row.sample, str(row.spots), str(row.labels), str(row.rounds), row.features, kappa)
    Console().print(table)
