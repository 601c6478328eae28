"""The true class of every cell, for the simulated annotator: a column of the nuclei CSV, its class, or a CSV.

Every problem is an :class:`~activespot.errors.InputFileError` naming the file the classes were
to come from, so ``activespot cells simulate`` ends with one line, not a traceback.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _constants as K
from ..errors import InputFileError

__all__ = ["cell_truth"]

_OWN_CLASS = ("class", K.CELL_SOURCE_CLASS)  # how a user names the nuclei file's own class
_MIN_CELLS = 4


def cell_truth(adata: AnnData, column: str, *, truth: str | Path | None = None) -> np.ndarray:
    """The true class of every cell (``None`` where unknown), checked to hold two classes over four cells.

    Parameters
    ----------
    adata
        Cells from :func:`activespot.io.read_cells`.
    column
        A column of ``truth`` (a CSV: cell ids, then columns), else of the nuclei CSV, else
        ``"class"`` for the nuclei file's own class (``obs['source_class']``).
    truth
        CSV with the true classes by cell id (first column), when the nuclei file has none.

    Raises
    ------
    InputFileError
        The file is missing or unreadable, has no such column, or its classes are fewer than
        two over four cells.
    """
    info = adata.uns[K.CELLS_UNS_KEY]
    nuclei = Path(info[K.CELLS_NUCLEI] or info[K.CELLS_IMAGE])
    if truth is not None:
        from ..io import read_truth

        source, values = Path(truth), read_truth(truth, column=column, barcodes=adata.obs_names)
    elif info[K.CELLS_NUCLEI_FORMAT] == "csv" and column not in _OWN_CLASS:
        source, values = nuclei, _csv_column(nuclei, column)
    else:
        if column not in _OWN_CLASS:
            raise InputFileError(
                nuclei,
                f"no truth column {column!r}: a {info[K.CELLS_NUCLEI_FORMAT]} nuclei file has only its own class",
                "pass --truth-column class, or --truth with a CSV of cell ids and classes",
            )
        source, values = nuclei, adata.obs[K.CELL_SOURCE_CLASS].to_numpy(dtype=object)
    _check_classes(source, column, values)
    return values


def _csv_column(path: Path, column: str) -> np.ndarray:
    table = pd.read_csv(path, sep=None, engine="python", dtype=str, encoding="utf-8-sig")
    if column not in table.columns:
        raise InputFileError(
            path,
            f"has no column {column!r}",
            f"pass one of {', '.join(map(str, table.columns))} or 'class', or --truth with a CSV of classes",
            line=1,
        )
    return table[column].to_numpy(dtype=object)  # rows of the CSV are the cells, in order


def _check_classes(path: Path, column: str, values: np.ndarray) -> None:
    known = pd.Series(values).dropna()
    if len(known) < _MIN_CELLS or known.nunique() < 2:
        classes = ", ".join(map(str, known.unique()[:5])) or "none"
        raise InputFileError(
            path,
            f"column {column!r} gives {len(known)} cells a class and {known.nunique()} classes ({classes}); "
            f"a simulation needs at least two classes over {_MIN_CELLS} cells",
            "pick the column that holds the true classes",
        )
