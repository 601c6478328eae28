"""The manifest of a study: one CSV line per section, checked whole before anything is created.

Columns ``sample`` and ``visium`` are required; ``image``, ``labels`` (a Loupe CSV to import)
and ``truth`` (true labels, for Cohen's κ in ``study status``) are optional. Paths are relative
to the manifest's folder unless absolute. Every problem is an :class:`InputFileError` naming the
manifest and its line, so a study of forty sections is never half made because of line 37.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from .. import _constants as K
from ..errors import InputFileError

__all__ = ["ManifestRow", "read_manifest"]

# A sample names its project folder: portable on every file system, no hidden or relative names.
_SAMPLE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_HEADER_LINE = 1


@dataclass(frozen=True)
class ManifestRow:
    """One section of the manifest, its paths absolute.

    Attributes
    ----------
    line
        The manifest line it was read from (1 is the header).
    sample
        The section's name; its project is ``STUDY/sections/<sample>``.
    visium
        Space Ranger ``outs`` folder or ``.h5ad``.
    image, labels, truth
        Full-resolution H&E, Loupe CSV of labels to import, CSV of true labels; ``None`` when not given.
    """

    line: int
    sample: str
    visium: Path
    image: Path | None = None
    labels: Path | None = None
    truth: Path | None = None


def read_manifest(path: str | Path) -> list[ManifestRow]:
    """Read and check a study manifest: columns, sample names, and that every path it names exists.

    Parameters
    ----------
    path
        The manifest CSV (``sample,visium[,image][,labels][,truth]``).

    Returns
    -------
    list of ManifestRow
        The sections in file order.

    Raises
    ------
    InputFileError
        The first problem found, naming the manifest, its line and what to do: an unknown,
        missing or repeated column, a row of the wrong length, an empty or unusable sample name,
        a sample named twice, a path that does not exist, or no section at all.
    """
    path = Path(path).absolute()
    if not path.is_file():
        raise InputFileError(path, "manifest not found", "check the path")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise InputFileError(path, f"cannot read the manifest ({err})", "save it as UTF-8 CSV") from None
    reader = csv.reader(text.splitlines(keepends=True))
    header = [name.strip() for name in next(reader, [])]
    _check_header(path, header)
    rows: list[ManifestRow] = []
    seen: dict[str, int] = {}
    line = reader.line_num + 1
    for fields in reader:
        if any(value.strip() for value in fields):
            row = _check_row(path, line, header, fields)
            other = seen.setdefault(row.sample.casefold(), line)
            if other != line:
                problem = f"sample {row.sample!r} is already on line {other}"
                raise InputFileError(path, problem, "give every section its own sample name", line=line)
            rows.append(row)
        line = reader.line_num + 1
    if not rows:
        raise InputFileError(path, "no section listed", "add one line per section under the header", line=_HEADER_LINE)
    return rows


def _check_header(path: Path, header: list[str]) -> None:
    columns = f"the columns are {', '.join(K.MANIFEST_REQUIRED)} (required) and {', '.join(K.MANIFEST_COLUMNS[2:])}"
    for name in header:
        if name not in K.MANIFEST_COLUMNS:
            raise InputFileError(path, f"unknown column {name!r}", columns, line=_HEADER_LINE)
        if header.count(name) > 1:
            raise InputFileError(path, f"column {name!r} appears twice", "keep one", line=_HEADER_LINE)
    missing = [name for name in K.MANIFEST_REQUIRED if name not in header]
    if missing:
        raise InputFileError(path, f"no column {missing[0]!r}", columns, line=_HEADER_LINE)


def _check_row(path: Path, line: int, header: list[str], fields: list[str]) -> ManifestRow:
    if len(fields) != len(header):
        problem = f"{len(fields)} fields, the header has {len(header)}"
        raise InputFileError(path, problem, "quote values that hold commas", line=line)
    values = {name: value.strip() for name, value in zip(header, fields, strict=True)}
    sample = values[K.MANIFEST_SAMPLE]
    if not _SAMPLE_NAME.fullmatch(sample):
        problem = f"sample {sample!r} cannot name a folder" if sample else "no sample name"
        hint = "use letters, digits, '.', '_' and '-' (up to 100, starting with a letter or digit)"
        raise InputFileError(path, problem, hint, line=line)
    paths: dict[str, Path | None] = {}
    for name in K.MANIFEST_COLUMNS[1:]:
        value = values.get(name, "")
        if not value:
            if name in K.MANIFEST_REQUIRED:
                raise InputFileError(path, f"sample {sample!r} has no {name} path", "fill it in", line=line)
            paths[name] = None
            continue
        given = Path(value).expanduser()
        resolved = (given if given.is_absolute() else path.parent / given).resolve()
        if not resolved.exists():
            kind = "folder or .h5ad" if name == K.MANIFEST_VISIUM else "file"
            problem = f"{name} {kind} {resolved} of sample {sample!r} not found"
            hint = "paths are relative to the manifest's folder unless absolute"
            raise InputFileError(path, problem, hint, line=line)
        paths[name] = resolved
    return ManifestRow(
        line=line,
        sample=sample,
        visium=paths[K.MANIFEST_VISIUM],
        image=paths[K.MANIFEST_IMAGE],
        labels=paths[K.MANIFEST_LABELS],
        truth=paths[K.MANIFEST_TRUTH],
    )
