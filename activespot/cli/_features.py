"""The ``features`` command: compute a project's feature blocks once and store them for later commands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .. import _constants as K
from .._constants import PRECISIONS
from ._main import device_option, main, user_errors


def feature_setting_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options of ``features`` and ``study features`` that become a project's feature settings."""
    options = [
        click.option(
            "--backbone",
            default=None,
            help="Morphology backbone, e.g. descriptor (needs no weights), resnet50, uni, virchow2; a wrong name "
            "lists them all. Default: the project's setting.",
        ),
        click.option(
            "--weights",
            default=None,
            help="Backbone weights: a local .safetensors/.bin/.pth/.pt file, or a Hugging Face id (hf-hub:org/name).",
        ),
        click.option(
            "--context-rings",
            type=click.IntRange(min=0),
            default=None,
            help="Neighbour rings of the context block (0: none).",
        ),
        click.option(
            "--no-expression", is_flag=True, help="Leave out the expression block (e.g. morphology-only samples)."
        ),
        click.option(
            "--precision",
            type=click.Choice(list(PRECISIONS)),
            default=None,
            help="Backbone arithmetic: auto is bf16 autocast on CUDA (fp16 without bf16), fp32 elsewhere.",
        ),
        click.option(
            "--mpp",
            type=click.FloatRange(min=0, min_open=True),
            default=None,
            help="Pixel size (µm) of the full-resolution image, when neither its file nor the scale factors give one.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def feature_overrides(
    *,
    backbone: str | None,
    weights: str | None,
    context_rings: int | None,
    no_expression: bool,
    precision: str | None,
    mpp: float | None,
) -> dict[str, Any]:
    """The ``features`` settings the options give; a weights file by absolute path (projects move, workers too)."""
    if weights is not None and not weights.startswith("hf-hub:"):
        weights = str(Path(weights).expanduser().resolve())
    given = {
        "backbone": backbone,
        "weights": weights,
        "context_rings": context_rings,
        "precision": precision,
        "mpp": mpp,
    }
    overrides = {key: value for key, value in given.items() if value is not None}
    if no_expression:
        overrides["expression"] = False
    return overrides


@main.command()
@click.argument("project", type=click.Path(path_type=Path))
@feature_setting_options
@device_option
@click.option(
    "--overlay",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write a PNG of spots and patches on the image.",
)
@user_errors
def features(project: Path, device: str | None, overlay: Path | None, **settings: Any) -> None:
    """Compute the feature blocks of PROJECT's sample and store them in PROJECT/features/.

    Morphology embeddings are cached by sample, backbone, weights and patch size, so running the
    command again (or with other expression settings) reuses them. Settings given here become the
    project's own, so later commands (``round``, ``transfer``) use the same features.
    """
    from ..features import write_patch_overlay
    from ..project import Project

    opened = Project.open(project)
    overrides = feature_overrides(**settings)
    update = opened.update_features(opened.config.updated({"features": overrides}), device=device)
    if not update.computed:
        _print_summary(update.provenance, update.shapes, stored=True)
        click.echo(f"Up to date in {update.path}: the sample, weights and settings are unchanged")
        return
    if update.settings_saved:
        click.echo(f"Feature settings saved to {opened.path}: {changed_settings(overrides)}")
    if overlay is not None:
        write_patch_overlay(update.adata, overlay, context_factor=opened.config.features.context_factor)
    _print_summary(update.provenance, update.shapes)
    click.echo(f"Stored in {update.path}")


def changed_settings(overrides: dict) -> str:
    return ", ".join(f"features.{key} = {value}" for key, value in overrides.items())


def _print_summary(provenance: dict, shapes: dict, *, stored: bool = False) -> None:
    """One line per block: its shape, what made it, and whether it was read back rather than computed."""
    for key, shape in shapes.items():
        info = provenance[key]
        if key == K.MORPH_KEY:
            source = f"backbone {info['backbone']}, weights {info['weights']}; {_patch_source(info)}"
        elif key == K.EXPR_KEY:
            source = info["recipe"]
        else:
            source = f"mean of {', '.join(info['sources'])} over {info['method']} neighbours ({info['rings']} ring(s))"
        origin = " (stored)" if stored else " (from cache)" if info.get("cache_hit") else ""
        click.echo(f"{key:10s} {shape[0]} x {shape[1]:<5d} {source}{origin}")


def _patch_source(info: dict) -> str:
    """Which image (and pyramid level, at what pixel size) patches came from, and where the backbone ran."""
    patch = info["patch"]
    words = f"patch {patch['image']} image"
    if patch.get("image_source"):
        words += f" {Path(patch['image_source']).name}, level {patch.get('image_level', 0)}"
        if patch.get("microns_per_pixel"):
            words += f" ({patch['microns_per_pixel'] / patch['image_scale']:.3g} µm/px)"
    if info.get("device"):
        words += f"; on {info['device']}, {info['precision']}"
    return words
