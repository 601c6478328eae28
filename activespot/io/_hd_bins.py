"""Visium HD labels across bin sizes, from the barcodes alone.

Space Ranger builds the 8 and 16 µm bins of an HD output by merging squares of 2 µm bins, and
names every bin by its size and grid position: ``s_008um_00269_00526-1`` is row 269, column 526 of
the 8 µm grid. A coarse bin therefore holds exactly the (coarse / fine)² fine bins whose row and
column divide down to its own, and a label moves between sizes with integer arithmetic:

- coarse → fine: every fine bin inside a labelled coarse bin takes its label (containment);
- fine → coarse: a coarse bin takes the label most of its labelled fine bins carry (majority);
  a tie leaves it unlabelled, since no label would then be the annotator's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

__all__ = ["hd_bin_size", "map_bin_labels"]

_HD_BARCODE = re.compile(r"s_(\d{3})um_(\d{5})_(\d{5})(-\d+)?")
LOUPE_BIN_SIZES = (8, 16)  # Loupe Browser opens these HD bin sizes (not 2 µm)


def hd_bin_size(barcodes: Iterable[str]) -> int | None:
    """The bin size (µm) all ``barcodes`` share, or ``None`` when they are not all Visium HD bins of one size."""
    sizes = {match[1] if (match := _HD_BARCODE.fullmatch(str(code))) else None for code in barcodes}
    return int(sizes.pop()) if len(sizes) == 1 and None not in sizes else None


def map_bin_labels(labels: pd.Series, *, to_um: int) -> pd.Series:
    """``labels`` of Visium HD bins of one size, moved to bins of ``to_um`` µm (see the module's rules).

    Raises
    ------
    ValueError
        The barcodes are not HD bins of one size, or the sizes do not nest (one is not a multiple
        of the other).
    """
    from_um = hd_bin_size(labels.index)
    if from_um is None:
        msg = "The barcodes are not Visium HD bins of one size (like s_008um_00269_00526-1)."
        raise ValueError(msg)
    if from_um == to_um:
        return labels.copy()
    coarse, fine = max(from_um, to_um), min(from_um, to_um)
    if coarse % fine:
        msg = f"{from_um} µm bins do not nest in {to_um} µm bins; choose sizes that divide each other (2, 8, 16)."
        raise ValueError(msg)
    factor = coarse // fine
    parts = labels.index.str.extract(_HD_BARCODE.pattern)
    rows, cols, suffix = parts[1].astype(int).to_numpy(), parts[2].astype(int).to_numpy(), parts[3].fillna("")
    if to_um > from_um:
        votes = pd.crosstab(pd.Index(_names(to_um, rows // factor, cols // factor, suffix)), labels.to_numpy())
        best = votes.eq(votes.max(axis=1), axis=0)
        winners = best[best.sum(axis=1) == 1].idxmax(axis=1)  # a tie has no winner
        return pd.Series(winners.to_numpy(), index=winners.index.rename(labels.index.name), name=labels.name)
    offsets = np.arange(factor)
    fine_rows = np.add.outer(rows * factor, offsets).repeat(factor, axis=1).ravel()  # each row offset, every col
    fine_cols = np.tile(np.add.outer(cols * factor, offsets), (1, factor)).ravel()
    names = _names(to_um, fine_rows, fine_cols, suffix.repeat(factor * factor).to_numpy())
    return pd.Series(
        np.repeat(labels.to_numpy(), factor * factor), index=pd.Index(names, name=labels.index.name), name=labels.name
    )


def _names(size: int, rows: np.ndarray, cols: np.ndarray, suffix: Iterable[str]) -> list[str]:
    return [f"s_{size:03d}um_{r:05d}_{c:05d}{s}" for r, c, s in zip(rows, cols, suffix, strict=True)]
