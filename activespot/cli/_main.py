"""The ``activespot`` command group; subcommands live in sibling modules and register on it."""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from .. import __version__
from ..errors import ActivespotError

__all__ = ["device_option", "main", "user_errors"]

device_option = click.option(
    "--device",
    default=None,
    help="Where torch runs this time: auto (CUDA, else MPS, else CPU), cpu, cuda, cuda:N or mps. "
    "Default: the project's setting (auto). Not saved with the project.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="activespot")
@click.option("-v", "--verbose", count=True, help="Show more log messages (-vv for debug).")
def main(verbose: int) -> None:
    """Annotate every Visium spot (and every cell) with a fraction of the clicks.

    A project folder holds a sample, its labels and the model's rounds. Typical use:
    ``activespot init``, ``activespot import`` (a Loupe CSV), ``activespot info``.
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    warnings.formatwarning = _one_line_warning
    if not verbose:
        # docrep (imported by squidpy) complains about squidpy's docstrings on every start.
        warnings.filterwarnings("ignore", category=SyntaxWarning, module="docrep")


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    """Show a warning as the one line a user needs, without the source line it came from."""
    return f"warning: {message}\n"


def user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Print an :class:`~activespot.errors.ActivespotError` as one line on stderr and exit 2."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ActivespotError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(2)

    return wrapper
