"""Nuclei files, one reader per format, each to the same table of nuclei.

Pathologists bring nuclei from whatever tool they used — a CSV of centroids (QuPath's measurement
export included), headerless ``<Y> <X> <class>`` points, a QuPath GeoJSON export, a HoVer-Net JSON,
an instance-label mask. Every reader returns one row per nucleus with the columns of
:data:`NUCLEI_COLUMNS` (``id, x, y, xmin, ymin, xmax, ymax, area, cls``), in image pixels, which
:func:`activespot.io.read_cells` turns into an AnnData of cells.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputFileError

__all__ = [
    "NUCLEI_COLUMNS",
    "NUCLEI_READERS",
    "guess_nuclei_format",
    "nuclei_table",
    "read_hovernet_json",
    "read_instance_mask",
    "read_instance_mask_pixels",
    "read_nuclei_csv",
    "read_point_labels",
    "read_qupath_geojson",
]

NUCLEI_COLUMNS = ("id", "x", "y", "xmin", "ymin", "xmax", "ymax", "area", "cls")
_X_NAMES = ("x", "centroid_x", "centroid x", "center_x", "cx", "x_px", "centroid x px")
_Y_NAMES = ("y", "centroid_y", "centroid y", "center_y", "cy", "y_px", "centroid y px")
_X_UM_NAMES = ("centroid x µm", "centroid x um", "x_um", "x µm")  # QuPath's export of a calibrated image
_Y_UM_NAMES = ("centroid y µm", "centroid y um", "y_um", "y µm")
_ID_NAMES = ("id", "instance_id", "cell_id", "object id", "object_id", "name")
_CLASS_NAMES = ("class", "label", "type", "classification", "class_color", "cell_type")
_BBOX_NAMES = ("bbox_xmin", "bbox_ymin", "bbox_xmax", "bbox_ymax")
_AREA_NAMES = ("area", "area_px", "nucleus: area", "area px^2", "nucleus: area px^2", "nucleus: area µm^2", "area µm^2")


def read_nuclei_csv(path: str | Path, *, microns_per_pixel: float | None = None) -> pd.DataFrame:
    """Read a CSV (or TSV) of nucleus centroids, with optional bounding boxes, area, id and class.

    Columns are found by name (case-insensitive): ``x``/``centroid_x`` and ``y``/``centroid_y``
    are required; ``bbox_xmin, bbox_ymin, bbox_xmax, bbox_ymax`` (half-open), ``area``/``area_px``,
    ``id``/``instance_id``/``cell_id`` and ``class``/``label``/``type``/``class_color`` are used
    when present. QuPath's "Export measurements" table reads the same way, with its centroids in
    pixels (``Centroid X px``) or in µm (``Centroid X µm``, converted with ``microns_per_pixel``;
    an area in µm² too).

    Parameters
    ----------
    path
        The table.
    microns_per_pixel
        Pixel size of the image, needed only for centroids in µm.

    Returns
    -------
    One row per nucleus with columns ``id, x, y, xmin, ymin, xmax, ymax, area, cls``.

    Raises
    ------
    InputFileError
        Missing file, no x/y columns, centroids in µm without a pixel size, or a non-numeric or
        missing coordinate (line named).
    """
    path = _check_file(path, "nuclei CSV")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputFileError(path, "not UTF-8 text", "save the table as a UTF-8 CSV") from err
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise InputFileError(path, "the file is empty", "export the nuclei table again")
    delimiter = "\t" if "\t" in lines[0] else ";" if lines[0].count(";") > lines[0].count(",") else ","
    rows = list(csv.reader(lines, delimiter=delimiter))
    header = [h.strip().lower().replace("\u03bc", "µ") for h in rows[0]]  # Greek mu as the micro sign
    x_col, y_col = _find(header, _X_NAMES), _find(header, _Y_NAMES)
    per_unit = 1.0  # pixels per unit of the coordinate columns
    if x_col is None or y_col is None:
        x_col, y_col = _find(header, _X_UM_NAMES), _find(header, _Y_UM_NAMES)
        if x_col is not None and y_col is not None:
            per_unit = _pixels_per_micron(path, rows[0][x_col], microns_per_pixel)
    if x_col is None or y_col is None:
        raise InputFileError(
            path,
            f"no centroid columns; expected 'x' and 'y' (or 'centroid_x', 'centroid_y'), got {', '.join(rows[0])}",
            "rename the centroid columns, or pass headerless '<Y> <X> <class>' point files with --format points",
            line=1,
        )
    id_col, cls_col, area_col = _find(header, _ID_NAMES), _find(header, _CLASS_NAMES), _find(header, _AREA_NAMES)
    # An area is in the coordinates' unit squared unless its column says pixels.
    area_per_unit = 1.0 if area_col is None or "px" in header[area_col] else per_unit**2
    bbox_cols = [_find(header, (name,)) for name in _BBOX_NAMES]
    records = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise InputFileError(
                path, f"{len(row)} fields where the header has {len(header)}", "fix the row", line=number
            )
        x = _number(row[x_col], path, number, "x") * per_unit
        y = _number(row[y_col], path, number, "y") * per_unit
        box = [_number(row[c], path, number, "bbox") if c is not None else math.nan for c in bbox_cols]
        records.append(
            {
                "id": row[id_col].strip() if id_col is not None else None,
                "x": x,
                "y": y,
                "xmin": box[0],
                "ymin": box[1],
                "xmax": box[2],
                "ymax": box[3],
                "area": _number(row[area_col], path, number, "area") * area_per_unit
                if area_col is not None
                else math.nan,
                "cls": row[cls_col].strip() or None if cls_col is not None else None,
            }
        )
    if not records:
        raise InputFileError(path, "a header but no nuclei", "export the nuclei table again")
    return nuclei_table(records)


def read_point_labels(path: str | Path) -> pd.DataFrame:
    """Read a headerless whitespace file of ``<Y> <X> [<class>]`` rows — **Y first** (BRCA-M2C).

    Returns
    -------
    Nuclei table (see :func:`read_nuclei_csv`); no boxes or areas.

    Raises
    ------
    InputFileError
        Missing file, or a row with other than 2 or 3 fields or a non-numeric coordinate.
    """
    path = _check_file(path, "point file")
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.replace(",", " ").split()
        if not fields:
            continue
        if len(fields) not in (2, 3):
            raise InputFileError(path, f"expected '<Y> <X> [<class>]', got {line!r}", "fix the row", line=number)
        y, x = _number(fields[0], path, number, "y"), _number(fields[1], path, number, "x")
        records.append({"id": None, "x": x, "y": y, "cls": fields[2] if len(fields) == 3 else None})
    if not records:
        raise InputFileError(path, "no points", "expected one '<Y> <X> <class>' row per cell")
    return nuclei_table(records)


def read_qupath_geojson(path: str | Path) -> pd.DataFrame:
    """Read a QuPath GeoJSON export of detections or cells (Export objects → GeoJSON).

    The nucleus geometry (``properties.nucleusGeometry`` of a cell, else the feature geometry)
    gives the centroid, box and area; ``properties.classification.name`` the class.

    Raises
    ------
    InputFileError
        Not JSON, not a FeatureCollection or list of features, or a feature without a polygon.
    """
    path = _check_file(path, "GeoJSON file")
    data = _load_json(path)
    features = data.get("features") if isinstance(data, dict) else data
    if isinstance(data, dict) and data.get("type") == "Feature":
        features = [data]
    if not isinstance(features, list):
        raise InputFileError(path, "not a GeoJSON FeatureCollection", "export detections from QuPath as GeoJSON")
    records = []
    for index, feature in enumerate(features):
        props = feature.get("properties") or {} if isinstance(feature, dict) else {}
        geometry = props.get("nucleusGeometry") or (feature.get("geometry") if isinstance(feature, dict) else None)
        ring = _outer_ring(geometry)
        if ring is None:
            raise InputFileError(
                path,
                f"feature {index} has no Polygon or Point geometry",
                "export detections (not annotations) as GeoJSON",
            )
        classification = props.get("classification") or {}
        cls = classification.get("name") if isinstance(classification, dict) else None
        records.append({"id": feature.get("id") or props.get("name"), "cls": cls, **_shape_of(ring)})
    if not records:
        raise InputFileError(path, "no features", "export detections from QuPath as GeoJSON")
    return nuclei_table(records)


def read_hovernet_json(path: str | Path) -> pd.DataFrame:
    """Read HoVer-Net's instance JSON: ``{"nuc": {id: {"centroid", "bbox", "type", "contour"}}}``.

    HoVer-Net writes ``bbox`` as ``[[row_min, col_min], [row_max, col_max]]`` and ``centroid`` as
    ``[x, y]``; the area comes from the contour. ``type`` 0 (unclassified) reads as no class.

    Raises
    ------
    InputFileError
        Not JSON, no ``nuc`` mapping, or a nucleus without a centroid.
    """
    path = _check_file(path, "HoVer-Net JSON")
    data = _load_json(path)
    nuclei = data.get("nuc") if isinstance(data, dict) else None
    if not isinstance(nuclei, dict):
        raise InputFileError(path, "no 'nuc' mapping of nuclei", "pass the per-image JSON HoVer-Net wrote (json/)")
    records = []
    for key, nucleus in nuclei.items():
        centroid = nucleus.get("centroid") if isinstance(nucleus, dict) else None
        if not isinstance(centroid, list | tuple) or len(centroid) != 2:
            raise InputFileError(path, f"nucleus {key} has no [x, y] centroid", "re-run HoVer-Net's inference")
        record = {"id": str(key), "x": float(centroid[0]), "y": float(centroid[1])}
        bbox = nucleus.get("bbox")
        if isinstance(bbox, list) and len(bbox) == 2:
            (r0, c0), (r1, c1) = bbox
            record.update(xmin=float(c0), ymin=float(r0), xmax=float(c1), ymax=float(r1))
        contour = nucleus.get("contour")
        if isinstance(contour, list) and len(contour) >= 3:
            record["area"] = _shape_of(contour)["area"]
        kind = nucleus.get("type")
        record["cls"] = str(kind) if kind not in (None, 0) else None
        records.append(record)
    if not records:
        raise InputFileError(path, "the 'nuc' mapping is empty", "re-run HoVer-Net's inference")
    return nuclei_table(records)


def read_instance_mask(path: str | Path) -> pd.DataFrame:
    """Read an instance-label mask image (0 = background, n = nucleus n), e.g. a uint16 PNG or TIFF.

    Raises
    ------
    InputFileError
        Not an image, a colour image, or no labelled pixels.
    """
    from skimage.measure import regionprops_table

    path = _check_file(path, "mask image")
    mask = read_instance_mask_pixels(path)
    if mask.max() == 0:
        raise InputFileError(path, "the mask has no labelled pixels", "pass an instance-label mask (0 = background)")
    props = pd.DataFrame(regionprops_table(mask, properties=("label", "centroid", "bbox", "area")))
    records = [
        {
            "id": str(int(row["label"])),
            "x": row["centroid-1"],
            "y": row["centroid-0"],
            "xmin": row["bbox-1"],
            "ymin": row["bbox-0"],
            "xmax": row["bbox-3"],
            "ymax": row["bbox-2"],
            "area": row["area"],
        }
        for _, row in props.iterrows()
    ]
    return nuclei_table(records)


NUCLEI_READERS = {
    "csv": read_nuclei_csv,
    "points": read_point_labels,
    "geojson": read_qupath_geojson,
    "hovernet": read_hovernet_json,
    "mask": read_instance_mask,
}


def guess_nuclei_format(path: str | Path) -> str:
    """Guess the nuclei format from a file name (and, for JSON and TXT, its first bytes).

    ``.geojson`` → geojson; ``.json`` → hovernet, or geojson if it holds GeoJSON features;
    ``.png``/``.tif`` → mask; ``.txt`` whose first row starts with two numbers → points; else csv.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".geojson":
        return "geojson"
    if suffix == ".json":
        try:
            head = path.read_text(encoding="utf-8", errors="replace")[:4096]
        except OSError:
            return "hovernet"
        return "geojson" if '"Feature' in head or '"type"' in head.split('"nuc"')[0] else "hovernet"
    if suffix in (".png", ".tif", ".tiff"):
        return "mask"
    if suffix == ".txt" and path.is_file():
        with path.open(encoding="utf-8", errors="replace") as handle:
            first = handle.readline().replace(",", " ").split()
        if len(first) in (2, 3) and all(_is_number(f) for f in first[:2]):
            return "points"
    return "csv"


# --- helpers -------------------------------------------------------------------------------------
def _pixels_per_micron(path: Path, column: str, microns_per_pixel: float | None) -> float:
    if not microns_per_pixel:
        raise InputFileError(
            path,
            f"the centroids are in µm (column {column!r}) and the image's pixel size is unknown",
            "pass --microns-per-pixel (cells.microns_per_pixel in the settings), or export the centroids in pixels",
            line=1,
        )
    return 1.0 / float(microns_per_pixel)


def _check_file(path: str | Path, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, f"{what} not found", "check the path")
    return path


def _find(header: list[str], names: tuple[str, ...]) -> int | None:
    for name in names:
        if name in header:
            return header.index(name)
    return None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number(text: str, path: Path, line: int, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) and (what in ("x", "y") or text.strip() not in ("", "nan", "NaN")):
        raise InputFileError(path, f"{what} is not a number: {text!r}", "fix or remove the row", line=line)
    return value


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputFileError(path, f"not valid JSON ({err.__class__.__name__})", "export the file again") from err


def _outer_ring(geometry: Any) -> list | None:
    if not isinstance(geometry, dict):
        return None
    kind, coords = geometry.get("type"), geometry.get("coordinates")
    try:
        if kind == "Polygon":
            return coords[0]
        if kind == "MultiPolygon":  # the largest part
            return max((part[0] for part in coords), key=lambda ring: abs(_shape_of(ring)["area"]))
        if kind == "Point":
            return [coords]
    except (TypeError, IndexError, ValueError):
        return None
    return None


def _shape_of(ring: list) -> dict[str, float]:
    """Centroid, box and area of a polygon ring (a single point for a Point)."""
    points = np.asarray(ring, dtype=float).reshape(-1, 2)
    x, y = points[:, 0], points[:, 1]
    if len(points) < 3:
        return {"x": float(x.mean()), "y": float(y.mean())}
    xs, ys = np.roll(x, -1), np.roll(y, -1)
    cross = x * ys - xs * y
    area = cross.sum() / 2.0
    if abs(area) < 1e-9:
        cx, cy = x.mean(), y.mean()
    else:
        cx, cy = ((x + xs) * cross).sum() / (6 * area), ((y + ys) * cross).sum() / (6 * area)
    return {
        "x": float(cx), "y": float(cy), "area": float(abs(area)),
        "xmin": float(x.min()), "ymin": float(y.min()), "xmax": float(x.max()), "ymax": float(y.max()),
    }  # fmt: skip


def read_instance_mask_pixels(path: str | Path) -> np.ndarray:
    """The pixels of an instance-label mask as int64 (0 = background, n = nucleus n), e.g. for nucleus outlines.

    Raises
    ------
    InputFileError
        Not a readable image, or not a single-channel integer image (a colour class mask).
    """
    path = Path(path)
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            mask = tifffile.imread(path)
        else:
            from PIL import Image

            with Image.open(path) as img:
                mask = np.asarray(img)
    except Exception as err:  # PIL and tifffile raise many types for a damaged file
        raise InputFileError(path, f"not a readable mask image ({err.__class__.__name__})", "export it again") from err
    if mask.ndim != 2 or mask.dtype.kind not in "ui":
        raise InputFileError(
            path,
            f"expected a single-channel integer instance mask, got shape {mask.shape} dtype {mask.dtype}",
            "pass the instance-label mask (one id per nucleus), not a colour class mask",
        )
    return mask.astype(np.int64)


def nuclei_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The nuclei table every reader (and the detector) returns, from one dict per nucleus; missing columns NaN/None."""
    table = pd.DataFrame.from_records(records)
    for column in NUCLEI_COLUMNS:
        if column not in table:
            table[column] = None if column in ("id", "cls") else math.nan
    table = table[list(NUCLEI_COLUMNS)]
    for column in ("x", "y", "xmin", "ymin", "xmax", "ymax", "area"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype(float)
    return table
