"""Spot and bin positions written by Space Ranger, one small reader per format.

Every column is checked before anything is computed from it, and an error points at the file and
line (the row, for Parquet) so that a hand-edited or truncated file can be fixed. Only the spots
under tissue need usable pixel coordinates: those are the ones activespot reads.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from .. import _constants as K
from ..errors import InputFileError

__all__ = ["PXL_COL", "PXL_ROW", "read_positions"]

PXL_ROW = "pxl_row_in_fullres"
PXL_COL = "pxl_col_in_fullres"
_POSITIONS_SR1 = "tissue_positions_list.csv"
_POSITIONS_SR2 = "tissue_positions.csv"
_POSITIONS_HD = "tissue_positions.parquet"
_POSITION_COLUMNS = ("barcode", K.IN_TISSUE, K.ARRAY_ROW, K.ARRAY_COL, PXL_ROW, PXL_COL)
_COPY_HINT = "copy it again from the Space Ranger outs folder"
_SPATIAL_HINT = "copy the whole spatial/ folder from the Space Ranger outs folder"


def read_positions(spatial: Path) -> tuple[Path, pd.DataFrame]:
    """Read and check the positions file, newest format first; return it indexed by barcode."""
    hd = spatial / _POSITIONS_HD
    if hd.is_file():
        return hd, _parse_positions(_positions_visium_hd(hd), hd, first_line=None)
    for name in (_POSITIONS_SR2, _POSITIONS_SR1):
        path = spatial / name
        if path.is_file():
            if _first_field(path) == "barcode":
                return path, _parse_positions(_positions_spaceranger2(path), path, first_line=2)
            return path, _parse_positions(_positions_spaceranger1(path), path, first_line=1)
    raise InputFileError(
        spatial,
        f"no spot positions file: expected {_POSITIONS_SR2} (Space Ranger 2.0+), {_POSITIONS_SR1} (1.x) "
        f"or {_POSITIONS_HD} (Visium HD)",
        _SPATIAL_HINT,
    )


def _first_field(path: Path) -> str:
    try:
        with path.open(encoding="utf-8") as handle:
            return handle.readline().split(",", 1)[0].strip().strip('"')
    except UnicodeDecodeError as err:
        raise InputFileError(path, "not a text CSV file (undecodable bytes)", _COPY_HINT) from err


def _positions_spaceranger1(path: Path) -> pd.DataFrame:
    # Space Ranger 1.x: tissue_positions_list.csv, no header, six columns in a fixed order.
    table = _read_csv(path, header=None)
    if table.shape[1] != len(_POSITION_COLUMNS):
        raise InputFileError(
            path,
            f"expected {len(_POSITION_COLUMNS)} columns ({', '.join(_POSITION_COLUMNS)}), found {table.shape[1]}",
            "use the positions file exactly as Space Ranger wrote it",
            line=1,
        )
    table.columns = list(_POSITION_COLUMNS)
    return table


def _positions_spaceranger2(path: Path) -> pd.DataFrame:
    # Space Ranger 2.0 and later: tissue_positions.csv, a header row names the same six columns.
    table = _read_csv(path, header=0)
    missing = [column for column in _POSITION_COLUMNS if column not in table.columns]
    if missing:
        raise InputFileError(
            path,
            f"the header lacks {', '.join(missing)} (found: {', '.join(map(str, table.columns))})",
            f"the header must name {', '.join(_POSITION_COLUMNS)}",
            line=1,
        )
    return table[list(_POSITION_COLUMNS)]


def _positions_visium_hd(path: Path) -> pd.DataFrame:
    # Visium HD (Space Ranger 3.0+): binned_outputs/square_XXXum/spatial/tissue_positions.parquet, one row per bin.
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        found = pq.read_schema(path).names
        missing = [column for column in _POSITION_COLUMNS if column not in found]
        if missing:
            raise InputFileError(
                path,
                f"lacks column(s) {', '.join(missing)} (found: {', '.join(found)})",
                "use the tissue_positions.parquet Space Ranger wrote",
            )
        return pq.read_table(path, columns=list(_POSITION_COLUMNS)).to_pandas()
    except (pa.ArrowException, OSError) as err:
        raise InputFileError(path, f"not a readable Parquet file ({err.__class__.__name__})", _COPY_HINT) from err


def _read_csv(path: Path, *, header: int | None) -> pd.DataFrame:
    try:
        return pd.read_csv(path, header=header, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError as err:
        raise InputFileError(path, "the file is empty", _COPY_HINT) from err
    except pd.errors.ParserError as err:
        detail = str(err).split("C error:")[-1].strip()
        match = re.search(r"line (\d+)", detail)
        raise InputFileError(
            path,
            f"rows have different numbers of columns ({detail})",
            _COPY_HINT,
            line=int(match[1]) if match else None,
        ) from err
    except UnicodeDecodeError as err:
        raise InputFileError(path, "not a text CSV file (undecodable bytes)", _COPY_HINT) from err


def _parse_positions(table: pd.DataFrame, path: Path, *, first_line: int | None) -> pd.DataFrame:
    """Type and check every column; coordinates must be usable for the in-tissue spots we keep.

    ``first_line`` is the file line of the first data row (None for Parquet, which has no lines).
    Spots outside the tissue may lie off the image (Space Ranger then writes odd coordinates),
    so their coordinates are only required to be numbers or empty.
    """
    table = table.reset_index(drop=True)
    barcodes = table["barcode"].fillna("").astype(str)
    _check_rows(barcodes.to_numpy() == "", table, "barcode", path, first_line, "a barcode is empty")
    duplicated = barcodes.duplicated().to_numpy()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated)[0])
        first = int(np.flatnonzero(barcodes.to_numpy() == barcodes.iloc[row])[0])
        _check_rows(
            duplicated,
            table,
            "barcode",
            path,
            first_line,
            f"barcode is listed twice (first at {_where(first, first_line)})",
        )
    in_tissue = _numeric(table[K.IN_TISSUE])
    _check_rows(~in_tissue.isin((0, 1)).to_numpy(), table, K.IN_TISSUE, path, first_line, "in_tissue must be 0 or 1")
    typed = {K.IN_TISSUE: in_tissue.to_numpy(dtype=np.int64)}
    for column in (K.ARRAY_ROW, K.ARRAY_COL):
        values = _numeric(table[column]).to_numpy(dtype=float)
        bad = ~np.isfinite(values) | (values != np.round(values))
        _check_rows(bad, table, column, path, first_line, f"{column} must be a whole number")
        typed[column] = values.astype(np.int64)
    keep = in_tissue.to_numpy() == 1
    if not keep.any():
        raise InputFileError(
            path,
            "no spot is marked in tissue (in_tissue is 0 on every row)",
            "this is the wrong positions file, or Space Ranger found no tissue: check the alignment",
        )
    for column in (PXL_ROW, PXL_COL):
        values = _numeric(table[column])
        raw = table[column]
        if raw.dtype == object:
            text = raw.fillna("").astype(str).str.strip().to_numpy()
            _check_rows(
                values.isna().to_numpy() & (text != ""), table, column, path, first_line, f"{column} is not a number"
            )
        values = values.to_numpy(dtype=float)
        _check_rows(keep & np.isnan(values), table, column, path, first_line, f"an in-tissue spot has no {column}")
        _check_rows(
            keep & ~(np.isfinite(values) & (values >= 0)),
            table,
            column,
            path,
            first_line,
            f"{column} of an in-tissue spot must be a non-negative pixel coordinate",
        )
        typed[column] = values
    return pd.DataFrame(typed, index=pd.Index(barcodes.to_numpy(), name=None))


def _numeric(column: pd.Series) -> pd.Series:
    return pd.to_numeric(column, errors="coerce") if column.dtype == object else column.astype(float)


def _where(row: int, first_line: int | None) -> str:
    return f"row {row + 1}" if first_line is None else f"line {first_line + row}"


def _check_rows(
    bad: np.ndarray, table: pd.DataFrame, column: str, path: Path, first_line: int | None, problem: str
) -> None:
    """Raise for the first row flagged in ``bad``, quoting its value and counting the others."""
    if not bad.any():
        return
    rows = np.flatnonzero(bad)
    row = int(rows[0])
    more = f"; {len(rows) - 1} more rows like it" if len(rows) > 1 else ""
    where = "" if first_line is not None else f" at {_where(row, None)}"
    raise InputFileError(
        path,
        f"{problem}{where}: {column} = {table[column].iloc[row]!r}{more}",
        "fix or remove the row, or copy the file again from the Space Ranger outs folder",
        line=None if first_line is None else first_line + row,
    )
