"""Space Ranger 4 segmented cells of a Visium HD output: the cell polygons, read once and kept as arrays.

Space Ranger 4.0 segments the H&E of a Visium HD run into cells and writes them next to the bins::

    outs/segmented_outputs/
      filtered_feature_cell_matrix.h5   counts per cell (10x HDF5; barcodes cellid_000000001-1, ...)
      cell_segmentations.geojson        a FeatureCollection, one Polygon per cell, properties.cell_id = 1, ...
      spatial/scalefactors_json.json    the image scale factors (no bin size, no spot diameter)

The matrix names the cell whose GeoJSON ``cell_id`` is N ``cellid_{N:09d}-1`` (the form scverse's
spatialdata-io reader joins on); polygon vertices are ``[x, y]`` in full-resolution image pixels, the
frame of ``obsm['spatial']``. A section holds ~200k cells of a few dozen vertices each, so all rings
are kept in one vertex array with offsets, and centroids and areas are computed for every cell at once
(the shoelace formula over that array), never one Python object per cell.
"""

from __future__ import annotations

import gc
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import _constants as K
from ..errors import InputFileError

__all__ = ["CellPolygons", "read_cell_segmentations"]

logger = logging.getLogger(__name__)

SEGMENTED_DIR = "segmented_outputs"
CELL_MATRIX_FILE = "filtered_feature_cell_matrix.h5"
CELL_GEOJSON_FILE = "cell_segmentations.geojson"
_CELL_BARCODE = re.compile(r"cellid_\d{9}-\d+")
_HINT = "use the cell_segmentations.geojson Space Ranger 4 wrote in segmented_outputs/"


@dataclass(frozen=True)
class CellPolygons:
    """The outer ring of every segmented cell, all in one vertex array.

    Attributes
    ----------
    barcodes
        One barcode per cell, as the cell matrix names it (``cellid_000000001-1``), in file order.
    vertices
        ``(V, 2)`` float64, ``x, y`` in full-resolution pixels; ring ``i`` is
        ``vertices[offsets[i]:offsets[i + 1]]`` (closed or not: the last vertex may repeat the first).
    offsets
        ``(n_cells + 1,)`` int64 start of each ring, then the total.
    source
        The file the polygons were read from (for messages).
    """

    barcodes: pd.Index
    vertices: np.ndarray
    offsets: np.ndarray
    source: Path

    def __len__(self) -> int:
        return len(self.barcodes)

    def ring(self, i: int) -> np.ndarray:
        """The ``(k, 2)`` vertices of cell ``i``'s outer ring (a view, not a copy)."""
        return self.vertices[self.offsets[i] : self.offsets[i + 1]]

    def centroids(self) -> np.ndarray:
        """``(n_cells, 2)`` area centroid ``x, y`` of each polygon (the vertex mean where the area is zero)."""
        return _shoelace(self.vertices, self.offsets)[1]

    def areas(self) -> np.ndarray:
        """``(n_cells,)`` area of each polygon in full-resolution pixels² (orientation ignored)."""
        return np.abs(_shoelace(self.vertices, self.offsets)[0])

    def bounds(self) -> np.ndarray:
        """``(n_cells, 4)`` box ``x_min, y_min, x_max, y_max`` of each polygon, in full-resolution pixels."""
        starts = self.offsets[:-1]
        lows = np.minimum.reduceat(self.vertices, starts, axis=0)
        highs = np.maximum.reduceat(self.vertices, starts, axis=0)
        return np.column_stack([lows, highs])


def read_cell_segmentations(path: str | Path) -> CellPolygons:
    """Read Space Ranger 4's ``cell_segmentations.geojson`` into one :class:`CellPolygons`.

    Each feature must be a ``Polygon`` with a ``cell_id`` property, as Space Ranger writes them:
    the id is what joins a polygon to its counts, so a feature without one cannot be used (a
    GeoJSON's own feature ``id`` is not the cell's). ``cell_id`` may be the integer Space Ranger
    writes or already the matrix barcode (``cellid_000000001-1``). Only the outer ring is kept;
    holes do not move a cell's centroid enough to change the bin under it.

    Raises
    ------
    InputFileError
        The file is missing, not JSON, not a FeatureCollection, or a feature lacks a ``cell_id``,
        is not a Polygon, has fewer than three vertices or non-numeric ones, or repeats an id (the
        message names the feature).
    """
    path = Path(path)
    features = _load_features(path)
    barcodes: list[str] = []
    rings: list[Any] = []
    for number, feature in enumerate(features, start=1):
        barcodes.append(_cell_barcode(feature, number, path))
        rings.append(_outer_ring(feature, number, path))
    lengths = np.fromiter(map(len, rings), dtype=np.int64, count=len(rings))
    try:
        flat = np.fromiter(chain.from_iterable(chain.from_iterable(rings)), dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InputFileError(path, f"a polygon vertex is not a pair of numbers ({err})", _HINT) from None
    if flat.size != 2 * lengths.sum() or not np.isfinite(flat).all():
        raise InputFileError(path, "every polygon vertex must be [x, y], two finite numbers", _HINT)
    index = pd.Index(barcodes)
    if not index.is_unique:
        repeated = index[index.duplicated()].unique()
        shown = ", ".join(repeated[:3])
        raise InputFileError(path, f"{len(repeated)} cell id(s) occur more than once, e.g. {shown}", _HINT)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    logger.info("read %d cell polygons (%d vertices) from %s", len(index), int(offsets[-1]), path)
    return CellPolygons(index, flat.reshape(-1, 2), offsets, path)


def _load_features(path: Path) -> list[Any]:
    if not path.is_file():
        raise InputFileError(path, "cell segmentation not found", "copy segmented_outputs/ whole from the outs folder")
    try:
        with path.open("rb") as handle, _no_cyclic_gc():
            raw = json.load(handle)
    except json.JSONDecodeError as err:
        raise InputFileError(path, f"not valid JSON ({err.msg})", _HINT, line=err.lineno) from None
    except UnicodeDecodeError:
        raise InputFileError(path, "not valid JSON (undecodable bytes)", _HINT) from None
    if not isinstance(raw, dict) or raw.get("type") != "FeatureCollection" or not isinstance(raw.get("features"), list):
        found = raw.get("type") if isinstance(raw, dict) else type(raw).__name__
        raise InputFileError(path, f"expected a GeoJSON FeatureCollection with a features list, got {found!r}", _HINT)
    if not raw["features"]:
        raise InputFileError(path, "the FeatureCollection holds no cells", _HINT)
    return raw["features"]


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while millions of vertex lists are created.

    Each new list counts towards the collector's next pass, and every pass walks all the lists
    made so far, so parsing a 200k-cell GeoJSON spends most of its time in the collector (13 s
    against 2 s without it, measured). The lists hold no cycles, so nothing is lost by waiting.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _cell_barcode(feature: Any, number: int, path: Path) -> str:
    """The matrix barcode of one feature, from its ``cell_id`` property."""
    properties = feature.get("properties") if isinstance(feature, dict) else None
    value = properties.get(K.HD_CELL_ID_PROPERTY) if isinstance(properties, dict) else None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return K.HD_CELL_BARCODE.format(value)
    if isinstance(value, str) and _CELL_BARCODE.fullmatch(value):
        return value
    own = f" (id {feature['id']!r})" if isinstance(feature, dict) and "id" in feature else ""
    problem = (
        f"feature {number}{own} has no properties.{K.HD_CELL_ID_PROPERTY}"
        if value is None
        else f"feature {number}{own} has {K.HD_CELL_ID_PROPERTY} {value!r}, not a cell number"
    )
    raise InputFileError(
        path,
        f"{problem}, so it cannot be joined to a cell of {CELL_MATRIX_FILE} (cell_id 1 is cellid_000000001-1 there)",
        f"{_HINT}, not a copy cut down or re-exported by another tool",
    )


def _outer_ring(feature: dict, number: int, path: Path) -> list:
    geometry = feature.get("geometry")
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    if kind != "Polygon":
        raise InputFileError(path, f"feature {number} is a {kind!r} geometry; expected one Polygon per cell", _HINT)
    coordinates = geometry.get("coordinates")
    ring = coordinates[0] if isinstance(coordinates, list) and coordinates else None
    if not isinstance(ring, list) or len(ring) < 3:
        raise InputFileError(path, f"feature {number}: a polygon needs an outer ring of at least 3 vertices", _HINT)
    return ring


def _shoelace(vertices: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signed area and area centroid of every ring at once.

    Each ring is shifted to its first vertex before the products, so that coordinates of tens of
    thousands of pixels do not cost the precision of a few-pixel cell.
    """
    starts, lengths = offsets[:-1], np.diff(offsets)
    local = vertices - np.repeat(vertices[starts], lengths, axis=0)
    following = np.arange(len(vertices)) + 1
    following[offsets[1:] - 1] = starts  # each ring's last vertex joins its first
    x, y = local[:, 0], local[:, 1]
    x_next, y_next = x[following], y[following]
    cross = x * y_next - x_next * y
    doubled = np.add.reduceat(cross, starts)
    cx = np.add.reduceat((x + x_next) * cross, starts)
    cy = np.add.reduceat((y + y_next) * cross, starts)
    flat = np.abs(doubled) <= 1e-12 * np.maximum(1.0, np.add.reduceat(np.abs(cross), starts))
    safe = np.where(flat, 1.0, 3.0 * doubled)
    mean = np.add.reduceat(local, starts, axis=0) / lengths[:, None]
    centroids = np.where(flat[:, None], mean, np.column_stack([cx / safe, cy / safe])) + vertices[starts]
    return doubled / 2.0, centroids
