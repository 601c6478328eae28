"""Ground-truth tables: a CSV of barcodes and labels, aligned to a sample's spots (for simulation and accuracy)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputFileError

__all__ = ["read_truth"]

logger = logging.getLogger(__name__)


def read_truth(path: str | Path, *, column: str | None = None, barcodes: Iterable[str]) -> np.ndarray:
    """Read a ground-truth CSV and align it to ``barcodes``.

    Parameters
    ----------
    path
        CSV whose first column holds barcodes and which has a header row.
    column
        Name of the label column; by default the second column.
    barcodes
        The sample's spots, in order.

    Returns
    -------
    numpy.ndarray
        One label (``str``) per spot, ``None`` where the CSV has no row or an empty/NA label.

    Raises
    ------
    InputFileError
        Unreadable file, missing column, or no barcode in common with the sample.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "ground-truth file not found", "check the path")
    try:
        table = pd.read_csv(path, index_col=0, dtype=str, keep_default_na=True)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise InputFileError(path, f"not a readable CSV ({err.__class__.__name__})", "save it as UTF-8 CSV") from err
    table.index = table.index.astype(str)  # dtype=str skips the index column: numeric cell ids stay ints
    if table.shape[1] == 0:
        raise InputFileError(path, "has only one column; expected barcodes then labels", line=1)
    if column is None:
        column = str(table.columns[0])
    elif column not in table.columns:
        raise InputFileError(
            path, f"has no column {column!r}", f"columns are: {', '.join(map(str, table.columns))}", line=1
        )
    labels = table[column].str.strip().replace("", np.nan)
    labels = labels[~labels.index.duplicated(keep="first")]
    aligned = labels.reindex(pd.Index(list(barcodes)))
    if aligned.notna().sum() == 0:
        raise InputFileError(path, "shares no labelled barcode with the sample", "is it the truth of another section?")
    logger.info("Truth for %d of %d spots from %s (column %r).", aligned.notna().sum(), aligned.size, path, column)
    return aligned.astype(object).where(aligned.notna(), None).to_numpy()
