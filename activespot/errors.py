"""Errors a user can act on.

Every problem with a user's file is raised as :class:`InputFileError`, whose message names the
file (and line, when there is one), says what is wrong and what to do. The command line prints
that message on one line and exits non-zero; nothing is written to a project when one is raised.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["ActivespotError", "InputFileError", "ProjectError", "SettingError"]


class ActivespotError(Exception):
    """Base class of every error activespot raises on purpose; the CLI prints these without a traceback."""


class InputFileError(ActivespotError, ValueError):
    """A user-supplied file or folder is missing, unreadable or malformed.

    Parameters
    ----------
    path
        The offending file or folder.
    problem
        What is wrong, in plain words.
    hint
        What the user can do about it.
    line
        1-based line number in a text file, when the problem is on one line.
    """

    def __init__(self, path: str | Path, problem: str, hint: str = "", *, line: int | None = None):
        self.path = Path(path)
        self.problem = problem
        self.hint = hint
        self.line = line
        where = f"{self.path}" + (f", line {line}" if line is not None else "")
        message = f"{where}: {problem}"
        if hint:
            message += f" — {hint}"
        super().__init__(" ".join(message.split("\n")))


class ProjectError(ActivespotError):
    """A project folder is missing, not a project, or asked to do something its state does not allow."""


class SettingError(ActivespotError, ValueError):
    """A setting or option has a value that is not allowed; the message lists the valid ones."""
