"""Command-line interface: ``activespot <command> --help`` documents each command.

Commands are thin wrappers over the library; each module below registers its commands on
:data:`main` when imported.
"""

from . import (
    _app,  # noqa: F401  (registers app)
    _cells,  # noqa: F401  (registers the cells group: init, next, import, export, workload, simulate)
    _features,  # noqa: F401
    _loop,  # noqa: F401  (registers suggest, round, simulate)
    _project,  # noqa: F401  (registers init, import, export, info, demo)
    _study,  # noqa: F401  (registers the study group: init, features, transfer, status)
    _transfer,  # noqa: F401  (registers transfer, agreement, review)
)
from ._main import main

__all__ = ["main"]
