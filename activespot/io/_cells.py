"""Cells of an H&E image: nuclei from a file (or the built-in detector) to an AnnData of cells.

Cell-level annotation (HALS) starts from a list of nuclei. Pathologists bring them from whatever
tool they used — a CSV of centroids, a QuPath GeoJSON export, a HoVer-Net JSON, an instance-label
mask — or have none, in which case a small scikit-image detector finds them and says so. Every
reader returns the same table (``id, x, y, xmin, ymin, xmax, ymax, area, cls``), which
:func:`read_cells` turns into an AnnData: ``obs`` = cells, ``obsm['spatial']`` = centroids (x, y)
in image pixels.

Images are opened lazily through :class:`~activespot.features.SpotImage`: a whole-slide TIFF is
read region by region (tifffile + zarr), never whole; PNG and JPEG have no region access and are
decoded once.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _constants as K
from ..errors import InputFileError

__all__ = [
    "detect_nuclei",
    "guess_nuclei_format",
    "open_cell_image",
    "read_cell_labels_csv",
    "read_cells",
    "read_hovernet_json",
    "read_instance_mask",
    "read_nuclei_csv",
    "read_point_labels",
    "read_qupath_geojson",
    "write_cell_labels_csv",
    "write_cell_labels_geojson",
]

logger = logging.getLogger(__name__)

_TABLE_COLUMNS = ("id", "x", "y", "xmin", "ymin", "xmax", "ymax", "area", "cls")
_X_NAMES = ("x", "centroid_x", "centroid x", "center_x", "cx", "x_px", "centroid x px", "centroid x µm")
_Y_NAMES = ("y", "centroid_y", "centroid y", "center_y", "cy", "y_px", "centroid y px", "centroid y µm")
_ID_NAMES = ("id", "instance_id", "cell_id", "object id", "object_id", "name")
_CLASS_NAMES = ("class", "label", "type", "classification", "class_color", "cell_type")
_BBOX_NAMES = ("bbox_xmin", "bbox_ymin", "bbox_xmax", "bbox_ymax")
_AREA_NAMES = ("area", "area_px", "nucleus: area", "area px^2")
_IMAGE_HINT = "pass an H&E image as PNG, JPEG or TIFF"
# Built-in detector defaults (pixels at ~0.25-0.5 µm/px, 20-40x): nuclei are 4-15 µm across.
_DETECTOR_MIN_AREA = 30
_DETECTOR_MIN_DISTANCE = 5
_DETECTOR_TILE = 2048
_DETECTOR_OVERLAP = 64


# --- images ------------------------------------------------------------------------------------
def open_cell_image(path: str | Path) -> Any:
    """Open an H&E image for region reads without decoding a whole-slide TIFF.

    Parameters
    ----------
    path
        PNG, JPEG or TIFF (a pyramidal whole-slide TIFF is read from its full-resolution level,
        region by region).

    Returns
    -------
    :class:`~activespot.features.SpotImage` named ``"fullres"``; ``.read(rows, cols)`` gives uint8 RGB.

    Raises
    ------
    InputFileError
        The file is missing or cannot be opened as an image.
    """
    from ..features._patches import SpotImage
    from ._images import read_image_size

    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "image not found", _IMAGE_HINT)
    height, width = read_image_size(path)
    image = SpotImage("fullres", 1.0, (height, width), path.absolute())
    try:
        image.read(slice(0, 1), slice(0, 1))  # decode now, so a broken file fails here, not mid-loop
    except InputFileError:
        raise
    except Exception as err:  # tifffile/zarr/PIL raise many types for a damaged file
        raise InputFileError(path, f"cannot read pixels ({err.__class__.__name__}: {err})", _IMAGE_HINT) from err
    return image


# --- nuclei readers: one per format ----------------------------------------------------------------
def read_nuclei_csv(path: str | Path) -> pd.DataFrame:
    """Read a CSV (or TSV) of nucleus centroids, with optional bounding boxes, area, id and class.

    Columns are found by name (case-insensitive): ``x``/``centroid_x`` and ``y``/``centroid_y``
    are required; ``bbox_xmin, bbox_ymin, bbox_xmax, bbox_ymax`` (half-open), ``area``/``area_px``,
    ``id``/``instance_id``/``cell_id`` and ``class``/``label``/``type``/``class_color`` are used
    when present. QuPath's "Export measurements" table (``Centroid X px``) reads the same way.

    Returns
    -------
    One row per nucleus with columns ``id, x, y, xmin, ymin, xmax, ymax, area, cls``.

    Raises
    ------
    InputFileError
        Missing file, no x/y columns, or a non-numeric or missing coordinate (line named).
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
    header = [h.strip().lower() for h in rows[0]]
    x_col, y_col = _find(header, _X_NAMES), _find(header, _Y_NAMES)
    if x_col is None or y_col is None:
        raise InputFileError(
            path,
            f"no centroid columns; expected 'x' and 'y' (or 'centroid_x', 'centroid_y'), got {', '.join(rows[0])}",
            "rename the centroid columns, or pass headerless '<Y> <X> <class>' point files with --format points",
            line=1,
        )
    id_col, cls_col, area_col = _find(header, _ID_NAMES), _find(header, _CLASS_NAMES), _find(header, _AREA_NAMES)
    bbox_cols = [_find(header, (name,)) for name in _BBOX_NAMES]
    records = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise InputFileError(
                path, f"{len(row)} fields where the header has {len(header)}", "fix the row", line=number
            )
        x = _number(row[x_col], path, number, "x")
        y = _number(row[y_col], path, number, "y")
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
                "area": _number(row[area_col], path, number, "area") if area_col is not None else math.nan,
                "cls": row[cls_col].strip() or None if cls_col is not None else None,
            }
        )
    if not records:
        raise InputFileError(path, "a header but no nuclei", "export the nuclei table again")
    return _table(records)


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
    return _table(records)


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
    return _table(records)


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
    return _table(records)


def read_instance_mask(path: str | Path) -> pd.DataFrame:
    """Read an instance-label mask image (0 = background, n = nucleus n), e.g. a uint16 PNG or TIFF.

    Raises
    ------
    InputFileError
        Not an image, a colour image, or no labelled pixels.
    """
    from skimage.measure import regionprops_table

    path = _check_file(path, "mask image")
    mask = _read_mask(path)
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
    return _table(records)


def detect_nuclei(
    image: Any,
    *,
    min_area: int = _DETECTOR_MIN_AREA,
    min_distance: int = _DETECTOR_MIN_DISTANCE,
    tile: int = _DETECTOR_TILE,
    progress: bool = True,
) -> pd.DataFrame:
    """Find nuclei with the built-in detector: haematoxylin → threshold → distance-transform watershed.

    A fallback for images without a nuclei file, not a trained segmenter: colour deconvolution
    (Ruifrok & Johnston) isolates haematoxylin, Otsu's threshold on the smoothed channel separates
    nuclei, and a watershed on the distance transform splits touching ones. Large images are
    processed tile by tile with an overlap, keeping each nucleus in the tile that holds its centre.

    Parameters
    ----------
    image
        An image from :func:`open_cell_image`, or a uint8 RGB array.
    min_area
        Smaller objects (pixels) are debris.
    min_distance
        Minimum distance in pixels between two nucleus centres.
    tile
        Side of the tiles read at a time.
    progress
        Show a progress bar when there is more than one tile.

    Returns
    -------
    Nuclei table (see :func:`read_nuclei_csv`), without classes.
    """
    from tqdm.auto import tqdm

    read = _reader(image)
    height, width = image.shape[:2]
    threshold = _haematoxylin_threshold(image, read)
    starts = [(y, x) for y in range(0, height, tile) for x in range(0, width, tile)]
    records: list[dict[str, Any]] = []
    for y0, x0 in tqdm(starts, desc="detecting nuclei", unit="tile", disable=not progress or len(starts) < 2):
        ry0, rx0 = max(y0 - _DETECTOR_OVERLAP, 0), max(x0 - _DETECTOR_OVERLAP, 0)
        ry1, rx1 = min(y0 + tile + _DETECTOR_OVERLAP, height), min(x0 + tile + _DETECTOR_OVERLAP, width)
        found = _detect_tile(read(ry0, ry1, rx0, rx1), threshold, min_area=min_area, min_distance=min_distance)
        for record in found:
            x, y = record["x"] + rx0, record["y"] + ry0
            if not (x0 <= x < x0 + tile and y0 <= y < y0 + tile):
                continue  # this nucleus belongs to a neighbouring tile
            record.update(
                x=x, y=y, xmin=record["xmin"] + rx0, xmax=record["xmax"] + rx0,
                ymin=record["ymin"] + ry0, ymax=record["ymax"] + ry0,
            )  # fmt: skip
            records.append(record)
    return _table(records)


def _reader(image: Any):
    if isinstance(image, np.ndarray):
        return lambda y0, y1, x0, x1: image[y0:y1, x0:x1]
    return lambda y0, y1, x0, x1: image.read(slice(y0, y1), slice(x0, x1))


def _haematoxylin(rgb: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2hed

    return rgb2hed(rgb.astype(np.float64) / 255.0)[..., 0]


def _haematoxylin_threshold(image: Any, read) -> float:
    """Otsu threshold of the smoothed haematoxylin, from a strided sample of the whole image."""
    from skimage.filters import gaussian, threshold_otsu

    height, width = image.shape[:2]
    side = 1024
    if height * width <= 4 * side * side:
        sample = read(0, height, 0, width)
    else:  # a few regions spread over the slide instead of the whole slide
        tiles = [
            read(y, y + side, x, x + side)
            for y in np.linspace(0, height - side, 3).astype(int)
            for x in np.linspace(0, width - side, 3).astype(int)
        ]
        sample = np.concatenate(tiles, axis=0)
    return float(threshold_otsu(gaussian(_haematoxylin(sample), sigma=1.0)))


def _detect_tile(rgb: np.ndarray, threshold: float, *, min_area: int, min_distance: int) -> list[dict[str, Any]]:
    from scipy import ndimage as ndi
    from skimage.feature import peak_local_max
    from skimage.filters import gaussian
    from skimage.measure import label, regionprops
    from skimage.morphology import remove_small_objects
    from skimage.segmentation import watershed

    foreground = gaussian(_haematoxylin(rgb), sigma=1.0) > threshold
    foreground = ndi.binary_fill_holes(ndi.binary_opening(foreground, iterations=1))
    foreground = remove_small_objects(foreground, max_size=min_area)
    if not foreground.any():
        return []
    distance = ndi.distance_transform_edt(foreground)
    blobs = label(foreground)
    peaks = peak_local_max(gaussian(distance, sigma=1.0), min_distance=min_distance, labels=blobs, exclude_border=False)
    markers = np.zeros(distance.shape, dtype=np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    instances = watershed(-distance, markers, mask=foreground)
    records = []
    for region in regionprops(instances):
        if region.area < min_area:
            continue
        r0, c0, r1, c1 = region.bbox
        cy, cx = region.centroid
        records.append(
            {"id": None, "x": cx, "y": cy, "xmin": c0, "ymin": r0, "xmax": c1, "ymax": r1, "area": float(region.area)}
        )
    return records


# --- the AnnData of cells --------------------------------------------------------------------------
_READERS = {
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


def read_cells(
    image: str | Path,
    nuclei: str | Path | None = None,
    *,
    nuclei_format: str | None = None,
    microns_per_pixel: float | None = None,
    progress: bool = True,
) -> AnnData:
    """Read an H&E image and its nuclei as an AnnData of cells.

    Parameters
    ----------
    image
        The H&E image (PNG, JPEG or TIFF; whole-slide TIFFs are never read whole).
    nuclei
        Nuclei file: CSV of centroids, headerless ``<Y> <X> <class>`` points, QuPath GeoJSON,
        HoVer-Net JSON or an instance-label mask. ``None`` runs the built-in detector
        (:func:`detect_nuclei`), which is logged and recorded as such.
    nuclei_format
        One of ``csv, points, geojson, hovernet, mask``; ``None`` guesses from the file name.
    microns_per_pixel
        Pixel size, when known; stored so patch sizes can be given in µm.
    progress
        Progress bar for the detector.

    Returns
    -------
    AnnData with no variables: ``obs`` indexed by ``cell_id`` with ``area_px`` and
    ``source_class`` (the file's class, if any); ``obsm['spatial']`` centroids (x, y) in pixels;
    ``obsm['bbox']`` boxes (x_min, y_min, x_max, y_max; NaN when unknown);
    ``uns['activespot_cells']`` = image path and shape, nuclei path and format, pixel size.

    Raises
    ------
    InputFileError
        The image or nuclei file cannot be read, a nucleus lies outside the image, or
        ``nuclei_format`` is not a known format.
    """
    pixels = open_cell_image(image)
    if nuclei is None:
        fmt = K.NUCLEI_DETECTOR
        logger.warning("no nuclei file given: nuclei found by the built-in scikit-image detector in %s", image)
        table = detect_nuclei(pixels, progress=progress)
        if table.empty:
            raise InputFileError(image, "the built-in detector found no nuclei", "pass a nuclei file with --nuclei")
    else:
        fmt = nuclei_format or guess_nuclei_format(nuclei)
        if fmt not in _READERS:
            raise InputFileError(
                nuclei, f"unknown nuclei format {fmt!r}; valid formats are {', '.join(_READERS)}", "pick one"
            )
        table = _READERS[fmt](nuclei)
        _check_inside(table, pixels.shape, nuclei, Path(image))
    return _to_adata(table, pixels, image=Path(image), nuclei=nuclei, fmt=fmt, microns_per_pixel=microns_per_pixel)


def _to_adata(
    table: pd.DataFrame, pixels: Any, *, image: Path, nuclei: str | Path | None, fmt: str, microns_per_pixel
) -> AnnData:
    ids = table["id"].where(table["id"].notna(), None)
    if ids.isna().any() or ids.duplicated().any():
        names = [f"cell_{i:05d}" for i in range(1, len(table) + 1)]
    else:
        names = [str(i) for i in ids]
    obs = pd.DataFrame(
        {K.CELL_AREA: table["area"].to_numpy(float), K.CELL_SOURCE_CLASS: table["cls"].astype(object).to_numpy()},
        index=pd.Index(names, name=K.CELL_ID),
    )
    adata = AnnData(obs=obs)
    adata.obsm[K.SPATIAL_KEY] = table[["x", "y"]].to_numpy(float)
    adata.obsm[K.CELL_BBOX_KEY] = table[["xmin", "ymin", "xmax", "ymax"]].to_numpy(float)
    adata.uns[K.CELLS_UNS_KEY] = {
        "image": str(image.absolute()),
        "image_shape": [int(pixels.shape[0]), int(pixels.shape[1])],
        "nuclei": str(Path(nuclei).absolute()) if nuclei is not None else None,
        "nuclei_format": fmt,
        "built_in_detector": fmt == K.NUCLEI_DETECTOR,
        "microns_per_pixel": microns_per_pixel,
    }
    logger.info("%d cells from %s (%s)", adata.n_obs, nuclei or image, fmt)
    return adata


# --- cell labels in and out ----------------------------------------------------------------------
def read_cell_labels_csv(path: str | Path, *, known: pd.Index | None = None, column: str | None = None) -> pd.Series:
    """Read cell labels from a CSV with a ``cell_id`` column and a label column.

    Parameters
    ----------
    path
        The CSV (as written by :func:`write_cell_labels_csv`, or any table with ``cell_id``).
    known
        Cell ids of the project; an unknown id is an error naming its line.
    column
        Label column; default ``label``, else the only column besides ``cell_id, x, y``.

    Returns
    -------
    Series cell_id → label, empty labels dropped.

    Raises
    ------
    InputFileError
        No ``cell_id`` column, no single label column, or an unknown cell id (line named).
    """
    path = _check_file(path, "cell label CSV")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (ValueError, UnicodeDecodeError) as err:
        raise InputFileError(path, f"not a readable CSV ({err.__class__.__name__})", "save it as UTF-8 CSV") from err
    if K.CELL_ID not in table.columns:
        raise InputFileError(path, f"no '{K.CELL_ID}' column; got {', '.join(table.columns)}", "export from activespot")
    candidates = [c for c in table.columns if c not in (K.CELL_ID, "x", "y")]
    if column is None:
        column = "label" if "label" in candidates else candidates[0] if len(candidates) == 1 else None
    if column is None or column not in table.columns:
        raise InputFileError(
            path, f"which column holds the labels? columns are {', '.join(candidates)}", "pass the column name"
        )
    if known is not None:
        unknown = ~table[K.CELL_ID].isin(known)
        if unknown.any():
            first = int(np.flatnonzero(unknown.to_numpy())[0])
            raise InputFileError(
                path,
                f"cell id {table[K.CELL_ID].iloc[first]!r} is not a cell of this project",
                "export labels from the same image and nuclei",
                line=first + 2,
            )
    labels = table.set_index(K.CELL_ID)[column].str.strip()
    return labels[labels != ""].rename("label")


def write_cell_labels_csv(adata: AnnData, labels: Mapping[str, str] | pd.Series, path: str | Path) -> Path:
    """Write ``cell_id, x, y, label`` for every labelled cell; returns the path.

    Parameters
    ----------
    adata
        The cells (for the centroids).
    labels
        cell_id → label.
    path
        Output CSV.
    """
    labels = pd.Series(labels, dtype=object)
    xy = pd.DataFrame(adata.obsm[K.SPATIAL_KEY], index=adata.obs_names, columns=["x", "y"]).loc[labels.index]
    out = xy.assign(label=labels.to_numpy())
    out.index.name = K.CELL_ID
    path = Path(path)
    out.to_csv(path, float_format="%.2f")
    return path


def write_cell_labels_geojson(adata: AnnData, labels: Mapping[str, str] | pd.Series, path: str | Path) -> Path:
    """Write labelled cells as a QuPath-compatible GeoJSON FeatureCollection of detections.

    Each cell is a ``Polygon`` (its box, or an 8-px square around the centroid when the box is
    unknown) with ``objectType: detection`` and ``classification.name`` = the label, which QuPath's
    *File → Import objects* reads as classified detections.

    Parameters
    ----------
    adata
        The cells.
    labels
        cell_id → label.
    path
        Output ``.geojson``.
    """
    labels = pd.Series(labels, dtype=object)
    position = pd.Series(np.arange(adata.n_obs), index=adata.obs_names)
    xy, boxes = adata.obsm[K.SPATIAL_KEY], adata.obsm[K.CELL_BBOX_KEY]
    features = []
    for cell, label in labels.items():
        i = int(position[cell])
        x0, y0, x1, y1 = boxes[i]
        if not np.isfinite([x0, y0, x1, y1]).all():
            x0, y0, x1, y1 = xy[i, 0] - 4, xy[i, 1] - 4, xy[i, 0] + 4, xy[i, 1] + 4
        ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
        features.append(
            {
                "type": "Feature",
                "id": str(cell),
                "geometry": {"type": "Polygon", "coordinates": [[[float(a), float(b)] for a, b in ring]]},
                "properties": {
                    "objectType": "detection",
                    "name": str(cell),
                    "classification": {"name": str(label)},
                    "isLocked": False,
                },
            }
        )
    path = Path(path)
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


# --- helpers -------------------------------------------------------------------------------------
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


def _read_mask(path: Path) -> np.ndarray:
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


def _table(records: list[dict[str, Any]]) -> pd.DataFrame:
    table = pd.DataFrame.from_records(records)
    for column in _TABLE_COLUMNS:
        if column not in table:
            table[column] = None if column in ("id", "cls") else math.nan
    table = table[list(_TABLE_COLUMNS)]
    for column in ("x", "y", "xmin", "ymin", "xmax", "ymax", "area"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype(float)
    return table


def _check_inside(table: pd.DataFrame, shape: tuple[int, ...], nuclei: str | Path, image: Path) -> None:
    height, width = shape[:2]
    outside = (table["x"] < -0.5) | (table["y"] < -0.5) | (table["x"] > width) | (table["y"] > height)
    if outside.any():
        row = table.loc[outside].iloc[0]
        raise InputFileError(
            nuclei,
            f"{int(outside.sum())} nuclei lie outside the {width}x{height} image {image.name}, "
            f"e.g. at x={row['x']:.1f}, y={row['y']:.1f}",
            "pass the nuclei of this image (for '<Y> <X>' point files use --nuclei-format points)",
        )
