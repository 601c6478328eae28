"""Loupe Browser category CSVs: ``Barcode,<Category>`` in and out.

Loupe exports one row per barcode with the barcode first and one or more category columns;
blank cells mean "not in any group". We read every variant Loupe (and Excel after it) writes:
UTF-8 with or without BOM, CRLF, quoted fields, multi-digit ``-N`` barcode suffixes. Anything
else is refused with the file, the line and what to do, before anything is written.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from .._constants import LOUPE_BARCODE, LOUPE_LABEL_CATEGORY
from .._files import atomic_write_text
from ..errors import InputFileError

__all__ = ["query_table", "read_loupe_csv", "write_loupe_csv"]

logger = logging.getLogger(__name__)

_MAX_BYTES = 200 * 1024 * 1024  # a Visium HD export of 600k bins is ~30 MB; anything far larger is not a Loupe CSV
_SHOWN = 5  # how many offending barcodes an error lists


def read_loupe_csv(
    path: str | Path,
    *,
    column: str | None = None,
    known_barcodes: Iterable[str] | None = None,
    check_label=None,
) -> pd.Series:
    """Read the labelled barcodes of a Loupe Browser category CSV.

    Parameters
    ----------
    path
        The CSV file.
    column
        The category column to read. Needed only when the file has several.
    known_barcodes
        The sample's barcodes; any other barcode in the file is an error.
    check_label
        Optional callable that raises ``ValueError`` for an unacceptable label (e.g. not a
        project class); its message is reported with the file and line.

    Returns
    -------
    Labels indexed by barcode (name ``Barcode``), in file order; blank labels are left out.

    Raises
    ------
    InputFileError
        Empty, binary, compressed or non-comma file; no ``Barcode`` column; ambiguous or
        unknown category column; conflicting duplicates; unknown barcodes; a bad label.
    """
    path = Path(path)
    rows, header_line = _read_rows(path)
    header = [cell.strip() for cell in rows[0]]
    barcode_col = _barcode_column(path, header)
    label_col = _label_column(path, header, barcode_col, column)
    name = header[label_col]

    labels: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for offset, row in enumerate(rows[1:], start=1):
        line = header_line + offset
        if not any(cell.strip() for cell in row):
            continue  # Excel leaves empty rows at the end
        if len(row) != len(header):
            raise InputFileError(
                path, f"{len(row)} fields where the header has {len(header)}", "check for stray commas", line=line
            )
        barcode = row[barcode_col].strip()
        if not barcode:
            raise InputFileError(path, "empty barcode", "every row needs a barcode in the first column", line=line)
        if any(ch.isspace() for ch in barcode):
            raise InputFileError(path, f"barcode {barcode!r} contains spaces", "barcodes look like ACGT…-1", line=line)
        label = row[label_col]
        if not label.strip():
            continue  # blank = unlabelled, as Loupe writes spots outside every group
        if check_label is not None:
            try:
                check_label(label)
            except ValueError as err:
                raise InputFileError(path, f"column {name!r}: {err}", line=line) from None
        if barcode in labels and labels[barcode] != label:
            raise InputFileError(
                path,
                f"barcode {barcode} is labelled {labels[barcode]!r} on line {first_line[barcode]} and {label!r} here",
                "keep one label per barcode",
                line=line,
            )
        labels.setdefault(barcode, label)
        first_line.setdefault(barcode, line)

    if known_barcodes is not None:
        _check_known(path, labels, first_line, set(known_barcodes))
    series = pd.Series(labels, dtype=object, name=name)
    series.index.name = LOUPE_BARCODE
    logger.info("read %d labelled barcodes from %s (column %r)", len(series), path, name)
    return series


def _read_rows(path: Path) -> tuple[list[list[str]], int]:
    """Decode and split the file; return the rows from the header on and the header's line number."""
    if not path.exists():
        raise InputFileError(path, "file not found", "check the path")
    if path.is_dir():
        raise InputFileError(path, "is a folder, not a CSV file", "give the CSV exported from Loupe Browser")
    size = path.stat().st_size
    if size == 0:
        raise InputFileError(path, "the file is empty", "export the category again from Loupe Browser")
    if size > _MAX_BYTES:
        raise InputFileError(path, f"file is {size / 1e6:.0f} MB, too large for a Loupe category CSV")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raise InputFileError(path, "is gzip-compressed", "decompress it first (gunzip) and import the .csv")
    if raw[:4] == b"PK\x03\x04":
        raise InputFileError(path, "is a ZIP or Excel file, not a CSV", "save it as 'CSV UTF-8 (comma delimited)'")
    if b"\x00" in raw[:4096]:
        raise InputFileError(path, "is a binary file, not a CSV", "export the category as CSV from Loupe Browser")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise InputFileError(path, "is not UTF-8 text", "save it as 'CSV UTF-8 (comma delimited)'", line=line) from None
    rows = list(csv.reader(io.StringIO(text, newline="")))
    # Skip leading blank lines but keep line numbers true to the file.
    first = next((i for i, row in enumerate(rows) if any(cell.strip() for cell in row)), None)
    if first is None:
        raise InputFileError(path, "the file has no content", "export the category again from Loupe Browser")
    return rows[first:], first + 1


def _barcode_column(path: Path, header: list[str]) -> int:
    lowered = [cell.lower() for cell in header]
    if LOUPE_BARCODE.lower() in lowered:
        return lowered.index(LOUPE_BARCODE.lower())
    if len(header) == 1 and ";" in header[0]:
        raise InputFileError(
            path, "uses ';' between fields", "Loupe expects commas: save as 'CSV UTF-8 (comma delimited)'", line=1
        )
    if len(header) == 1 and "\t" in header[0]:
        raise InputFileError(path, "uses tabs between fields", "save it as comma-separated CSV", line=1)
    shown = ", ".join(repr(cell) for cell in header[:_SHOWN])
    raise InputFileError(
        path,
        f"no 'Barcode' column (header is {shown})",
        "the first line must be 'Barcode,<Category>' as Loupe Browser exports it",
        line=1,
    )


def _label_column(path: Path, header: list[str], barcode_col: int, column: str | None) -> int:
    candidates = [i for i in range(len(header)) if i != barcode_col]
    names = [header[i] for i in candidates]
    if column is not None:
        if column in names:
            return candidates[names.index(column)]
        raise InputFileError(
            path, f"no column named {column!r}", f"the category columns are: {', '.join(names) or '(none)'}", line=1
        )
    if not candidates:
        raise InputFileError(path, "has a Barcode column but no category column", "export a category", line=1)
    if len(candidates) > 1:
        raise InputFileError(
            path,
            f"has {len(candidates)} category columns ({', '.join(names)})",
            "choose one with --column NAME",
            line=1,
        )
    return candidates[0]


def _check_known(path: Path, labels: dict[str, str], first_line: dict[str, int], known: set[str]) -> None:
    unknown = [barcode for barcode in labels if barcode not in known]
    if not unknown:
        return
    listed = ", ".join(f"{b} (line {first_line[b]})" for b in unknown[:_SHOWN])
    more = f" and {len(unknown) - _SHOWN} more" if len(unknown) > _SHOWN else ""
    hint = "was this file exported from another sample?"
    stems = {b.rsplit("-", 1)[0]: b for b in known}
    remapped = [b for b in unknown if b.rsplit("-", 1)[0] in stems]
    if remapped and len(remapped) == len(unknown):
        example = remapped[0]
        hint = (
            f"the sequences match but the suffix differs (file {example}, sample "
            f"{stems[example.rsplit('-', 1)[0]]}): the file probably comes from an aggregated (aggr) "
            "Loupe file; export it from this sample's own .cloupe"
        )
    raise InputFileError(
        path,
        f"{len(unknown)} of {len(labels)} barcodes are not in this sample: {listed}{more}",
        hint,
        line=first_line[unknown[0]],
    )


def write_loupe_csv(
    labels: pd.Series,
    path: str | Path,
    *,
    category: str = LOUPE_LABEL_CATEGORY,
    barcodes: Iterable[str] | None = None,
) -> Path:
    """Write ``Barcode,<category>`` as Loupe Browser imports it, atomically.

    Parameters
    ----------
    labels
        Label per barcode (index = barcodes exactly as in the sample, e.g. ``ACGT…-1``).
    path
        Output CSV.
    category
        The category name Loupe shows, e.g. ``ActiveSpot Query``.
    barcodes
        Write every one of these barcodes, leaving unlabelled ones blank (Loupe's own full
        export); by default only the labelled barcodes are written.

    Returns
    -------
    The path written.
    """
    path = Path(path)
    values = labels if barcodes is None else labels.reindex(pd.Index(list(barcodes)))
    text = values.astype(object).where(values.notna(), "").astype(str)
    table = pd.DataFrame({LOUPE_BARCODE: values.index.astype(str), category: text.to_numpy()})
    buffer = io.StringIO(newline="")
    table.to_csv(buffer, index=False, lineterminator="\n")  # quoted as csv.writer would (QUOTE_MINIMAL)
    atomic_write_text(path, buffer.getvalue())
    return path


def query_table(barcodes: Iterable[str], round_number: int) -> pd.DataFrame:
    """The query as stored in a round and exported to Loupe: barcode index, one value column, in order."""
    index = pd.Index(list(barcodes), name=LOUPE_BARCODE)
    return pd.DataFrame({"query": f"Query round {round_number}"}, index=index)
