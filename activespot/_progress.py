"""Progress bars that stay readable in a log file.

On a terminal a bar redraws in place. When stderr is not a terminal (a log file, CI, a job
scheduler) tqdm would still redraw on every update, and a whole Visium HD section fills the log
with thousands of carriage-return-separated bars. There the bar instead stays silent for work
shorter than a few seconds, then writes one plain line at most every 30 seconds, plus the final one.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any, TextIO

__all__ = ["progress_bar"]

LOG_INTERVAL_S = 30.0  # seconds between two progress lines in a log
LOG_DELAY_S = 5.0  # work shorter than this leaves no progress line in a log


def progress_bar(iterable: Iterable | None = None, *, disable: bool = False, **options: Any) -> Any:
    """A ``tqdm`` bar over ``iterable`` (or a manual one with ``total=``) that writes sparsely to a non-terminal.

    Takes tqdm's keyword arguments (``total``, ``desc``, ``unit``, ``leave`` …).
    """
    from tqdm.auto import tqdm

    stream = options.pop("file", None) or sys.stderr
    if not disable and not _is_terminal(stream):
        options = {**options, "mininterval": LOG_INTERVAL_S, "maxinterval": LOG_INTERVAL_S, "miniters": 1}
        options["delay"] = LOG_DELAY_S
        options.update(ascii=True, dynamic_ncols=False, ncols=80)
        stream = _LineWriter(stream)
    return tqdm(iterable, disable=disable, file=stream, **options)


class _LineWriter:
    """Turns tqdm's in-place redraws into whole lines; drops the blank redraw that clears a bar."""

    def __init__(self, stream: TextIO):
        self._stream = stream

    def write(self, text: str) -> int:
        line = text.replace("\r", "").rstrip()
        if line:
            self._stream.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self._stream.flush()


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # replaced or closed stream
        return False
