"""The ``features`` command: compute a project's feature blocks once and store them for later commands."""

from __future__ import annotations

from pathlib import Path

import click

from .. import _constants as K
from ._main import main, user_errors


@main.command()
@click.argument("project", type=click.Path(path_type=Path))
@click.option(
    "--backbone",
    default=None,
    help="Morphology backbone, e.g. descriptor (needs no weights), resnet50, uni, virchow2; a wrong name "
    "lists them all. Default: the project's setting.",
)
@click.option(
    "--weights",
    default=None,
    help="Backbone weights: a local .safetensors/.bin/.pth/.pt file, or a Hugging Face id (hf-hub:org/name).",
)
@click.option(
    "--context-rings", type=click.IntRange(min=0), default=None, help="Neighbour rings of the context block (0: none)."
)
@click.option("--no-expression", is_flag=True, help="Leave out the expression block (e.g. morphology-only samples).")
@click.option(
    "--overlay",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write a PNG of spots and patches on the image.",
)
@user_errors
def features(
    project: Path,
    backbone: str | None,
    weights: str | None,
    context_rings: int | None,
    no_expression: bool,
    overlay: Path | None,
) -> None:
    """Compute the feature blocks of PROJECT's sample and store them in PROJECT/features/.

    Morphology embeddings are cached by sample, backbone, weights and patch size, so running the
    command again (or with other expression settings) reuses them. Settings given here become the
    project's own, so later commands (``round``, ``transfer``) use the same features.
    """
    from ..project import Project, check_spot_project

    opened = Project.open(project)
    check_spot_project(opened)
    if weights is not None and not weights.startswith("hf-hub:"):
        weights = str(Path(weights).expanduser().resolve())  # the project is used from other folders too
    overrides = {"backbone": backbone, "weights": weights, "context_rings": context_rings}
    overrides = {key: value for key, value in overrides.items() if value is not None}
    if no_expression:
        overrides["expression"] = False
    settings = opened.config.updated({"features": overrides})
    inputs = opened.feature_inputs(settings.features)
    stored = opened.stored_features()
    if settings == opened.config and stored is not None and stored.get(K.FEATURES_INPUTS_KEY) == inputs:
        _print_summary(stored, stored[K.FEATURES_SHAPES_KEY], stored=True)
        where = opened.features_dir / K.FEATURES_FILE
        click.echo(f"Up to date in {where}: the sample, weights and settings are unchanged")
        return
    _compute_and_store(opened, settings, overrides, inputs, overlay)


def _compute_and_store(opened, settings, overrides: dict, inputs: str, overlay: Path | None) -> None:
    from ..errors import ActivespotError, ProjectError
    from ..features import check_features_input, compute_features, write_features, write_patch_overlay

    config = settings.features
    adata = opened.load_sample()
    try:
        check_features_input(adata, config)
    except ActivespotError:
        raise
    except ValueError as err:  # what the sample or settings lack, in words: not a crash
        msg = f"{opened.path}: {err}"
        raise ProjectError(msg) from None
    compute_features(adata, config, cache_dir=opened.features_dir)
    adata.uns[K.FEATURES_UNS_KEY][K.FEATURES_INPUTS_KEY] = inputs
    stored = write_features(adata, opened.features_dir / K.FEATURES_FILE)
    if settings != opened.config:
        opened.save_config(settings)
        click.echo(f"Feature settings saved to {opened.path}: {_changed(overrides)}")
    if overlay is not None:
        write_patch_overlay(adata, overlay, context_factor=config.context_factor)
    shapes = {key: adata.obsm[key].shape for key in K.FEATURE_BLOCKS if key in adata.obsm}
    _print_summary(adata.uns[K.FEATURES_UNS_KEY], shapes)
    click.echo(f"Stored in {stored}")


def _changed(overrides: dict) -> str:
    return ", ".join(f"features.{key} = {value}" for key, value in overrides.items())


def _print_summary(provenance: dict, shapes: dict, *, stored: bool = False) -> None:
    """One line per block: its shape, what made it, and whether it was read back rather than computed."""
    for key, shape in shapes.items():
        info = provenance[key]
        if key == K.MORPH_KEY:
            source = f"backbone {info['backbone']}, weights {info['weights']}; patch {info['patch']['image']} image"
        elif key == K.EXPR_KEY:
            source = info["recipe"]
        else:
            source = f"mean of {', '.join(info['sources'])} over {info['method']} neighbours ({info['rings']} ring(s))"
        origin = " (stored)" if stored else " (from cache)" if info.get("cache_hit") else ""
        click.echo(f"{key:10s} {shape[0]} x {shape[1]:<5d} {source}{origin}")
