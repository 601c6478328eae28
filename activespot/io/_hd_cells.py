"""Space Ranger 4 segmented cells of a Visium HD output: polygons kept as arrays, and the cells as an AnnData.

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

:func:`read_segmented` is what ``read_visium(..., cells=True)`` runs: it shares that module's
checks of scale factors and images, so that cells and bins are refused for the same problems.
"""

from __future__ import annotations

import gc
import json
import logging
import math
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _constants as K
from ..errors import InputFileError
from ._counts import read_counts
from ._visium import (
    _COPY_HINT,
    _HD_BIN_FOLDER,
    _HD_BINS,
    _IMAGE_FILES,
    _IMAGE_SCALEF,
    _POSITIONS_HD,
    _SCALEFACTORS_FILE,
    _SPATIAL_DIR,
    _SPATIAL_HINT,
    DEFAULT_BIN_UM,
    _attach_fullres,
    _check_image_extent,
    _check_scalefactors,
    _default_library_id,
    _positive_number,
    _read_images,
    _warn,
)

__all__ = ["CellPolygons", "read_cell_segmentations"]

logger = logging.getLogger(__name__)

SEGMENTED_DIR = "segmented_outputs"
CELL_MATRIX_FILE = "filtered_feature_cell_matrix.h5"
CELL_GEOJSON_FILE = "cell_segmentations.geojson"
_CELL_BARCODE = re.compile(r"cellid_\d{9}-\d+")
_HINT = "use the cell_segmentations.geojson Space Ranger 4 wrote in segmented_outputs/"
_COPY_SEGMENTED = "copy segmented_outputs/ whole from the Space Ranger outs folder"


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
        raise InputFileError(path, "cell segmentation not found", _COPY_SEGMENTED)
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


# --- Space Ranger 4 segmented cells of a Visium HD output --------------------------------------


@dataclass(frozen=True)
class Segmented:
    """Where the segmented cells of one HD output are, and the bin folders that may lend images and scale factors."""

    folder: Path  # segmented_outputs/
    bin_dirs: tuple[Path, ...]  # binned_outputs/square_XXXum/, 8 µm first

    @property
    def spatial(self) -> Path:
        return self.folder / _SPATIAL_DIR


def locate_segmented(path: Path) -> Segmented:
    """Find ``segmented_outputs/`` under ``path`` (the HD outs folder, the sample folder or the folder itself)."""
    hint = (
        "pass the outs folder of a Space Ranger 4 Visium HD run (it holds segmented_outputs/ next to binned_outputs/)"
    )
    if not path.exists():
        raise InputFileError(path, "folder not found", hint)
    if path.suffix.lower() == ".h5ad" or not path.is_dir():
        raise InputFileError(path, "not a Space Ranger outs folder; --cells reads its segmented_outputs/", hint)
    path = path.resolve()
    candidates = [path, path / SEGMENTED_DIR, path / "outs" / SEGMENTED_DIR]
    folder = next((c for c in candidates if c.name == SEGMENTED_DIR and c.is_dir()), None)
    if folder is None:
        outs = path / "outs" if (path / "outs").is_dir() and not (path / _SPATIAL_DIR).is_dir() else path
        if (outs / _HD_BINS).is_dir():
            raise InputFileError(
                outs / SEGMENTED_DIR,
                "no segmented_outputs/ folder: this Visium HD output has no cell segmentation",
                "run spaceranger count 4.0 or later with the H&E image to segment cells, or leave out --cells to "
                "label its bins",
            )
        if (outs / _SPATIAL_DIR / _POSITIONS_HD).is_file():
            raise InputFileError(outs, "this is one bin folder of a Visium HD output, not the outs folder", hint)
        if (outs / _SPATIAL_DIR).is_dir():
            raise InputFileError(
                outs,
                "a Visium output of 55 µm spots has no segmented cells",
                "leave out --cells (it is for Space Ranger 4 Visium HD outputs)",
            )
        raise InputFileError(path, "not a Space Ranger outs folder (no segmented_outputs/ or binned_outputs/)", hint)
    for name in (CELL_MATRIX_FILE, CELL_GEOJSON_FILE):
        if not (folder / name).is_file():
            raise InputFileError(
                folder / name,
                f"not found: segmented cells need {CELL_MATRIX_FILE} and {CELL_GEOJSON_FILE}",
                _COPY_SEGMENTED,
            )
    bins = folder.parent / _HD_BINS
    found = sorted(p for p in bins.iterdir() if _HD_BIN_FOLDER.fullmatch(p.name)) if bins.is_dir() else []
    found.sort(key=lambda p: int(_HD_BIN_FOLDER.fullmatch(p.name)[1]) != DEFAULT_BIN_UM)
    return Segmented(folder, tuple(found))


def read_segmented(seg: Segmented, *, library_id: str | None, fullres: Path | None, notes: list[str]) -> AnnData:
    """Cells of ``segmented_outputs/``: scale factors, polygons, then counts, each checked before the join."""
    json_path = next(
        (
            d / _SCALEFACTORS_FILE
            for d in (seg.spatial, *(b / _SPATIAL_DIR for b in seg.bin_dirs))
            if (d / _SCALEFACTORS_FILE).is_file()
        ),
        seg.spatial / _SCALEFACTORS_FILE,
    )
    raw = _read_json_object(json_path)
    image_paths = _find_cell_images(seg, json_path.parent, raw, notes)
    polygons = read_cell_segmentations(seg.folder / CELL_GEOJSON_FILE)
    counts_path = seg.folder / CELL_MATRIX_FILE
    counts, h5_meta = read_counts(counts_path)
    _check_cells_match(polygons.barcodes, counts.obs_names, polygons.source, counts_path)

    rows = polygons.barcodes.get_indexer(counts.obs_names)
    centroids, areas = polygons.centroids()[rows], polygons.areas()[rows]
    raw = {key: value for key, value in raw.items() if key != K.BIN_SIZE_UM}  # cells are not bins
    raw[K.SPOT_DIAMETER] = 2.0 * math.sqrt(float(np.median(areas)) / math.pi) if len(areas) else 1.0
    scalefactors = _check_scalefactors(raw, json_path, images=image_paths, hd=False, where="")
    if K.MICRONS_PER_PIXEL not in scalefactors:
        raise InputFileError(
            json_path,
            f"missing scale factor {K.MICRONS_PER_PIXEL} (needed: the physical size of patches)",
            "use the scalefactors_json.json Space Ranger wrote for this sample",
        )
    images = _read_images(image_paths, where=seg.spatial, has_fullres=fullres is not None, notes=notes)
    obs = pd.DataFrame(
        {K.IN_TISSUE: np.ones(counts.n_obs, dtype=np.int64), K.HAS_COUNTS: True, K.CELL_AREA: areas},
        index=counts.obs_names.astype(str),
    )
    var = counts.var.copy()
    var.index = var.index.astype(str)
    adata = AnnData(X=counts.X, obs=obs, var=var, obsm={K.SPATIAL_KEY: centroids.astype(np.float64)})

    library_id = library_id or _default_library_id(seg.folder.parent, h5_meta.pop("library_ids", None))
    metadata = {K.SOURCE_PATH_KEY: str(seg.folder), **h5_meta}
    adata.uns[K.SPATIAL_KEY] = {
        library_id: {K.IMAGES_KEY: images, K.SCALEFACTORS_KEY: scalefactors, K.METADATA_KEY: metadata}
    }
    adata.uns[K.LIBRARY_ID_KEY] = library_id
    adata.uns[K.ITEMS_UNS_KEY] = K.ITEMS_HD_CELLS
    _check_image_extent(adata.obsm[K.SPATIAL_KEY], images, image_paths, scalefactors, notes)
    if fullres is not None:
        _attach_fullres(adata, fullres, library_id)
    logger.info(
        "Read %d segmented cells x %d genes from %s (library %r, images: %s); wrote obs %s, obsm[%r], uns[%r], "
        "uns[%r], uns[%r]",
        adata.n_obs,
        adata.n_vars,
        seg.folder,
        library_id,
        ", ".join(images) or "none",
        list(adata.obs.columns),
        K.SPATIAL_KEY,
        K.SPATIAL_KEY,
        K.LIBRARY_ID_KEY,
        K.ITEMS_UNS_KEY,
    )
    return adata


def _check_cells_match(polygon_ids: pd.Index, matrix_ids: pd.Index, geojson: Path, matrix: Path) -> None:
    """Every cell of the matrix has a polygon and every polygon a column: both files are of one segmentation."""
    hint = "the two files come from different runs: copy segmented_outputs/ whole from one Space Ranger run"
    for ids, other, path, other_path in (
        (matrix_ids, polygon_ids, matrix, geojson),
        (polygon_ids, matrix_ids, geojson, matrix),
    ):
        missing = ids[~ids.isin(other)]
        if len(missing):
            shown = ", ".join(map(str, missing[:3]))
            raise InputFileError(
                path,
                f"{len(missing)} of its {len(ids)} cells are not in {other_path.name} (e.g. {shown}; "
                f"{other_path.name} names cells like {other[0] if len(other) else 'nothing'})",
                hint,
            )


def _find_cell_images(
    seg: Segmented, json_dir: Path, scalefactors: Mapping[str, Any], notes: list[str]
) -> dict[str, Path]:
    """Images of the cells: ``segmented_outputs/spatial/`` first, then the bin folders'.

    An image from another folder than the scale factors' is taken only when that folder's own
    scale factor for it is the same, so that a cell never lands on the wrong pixel of a resized image.
    """
    found = {}
    for folder in (json_dir, seg.spatial, *(b / _SPATIAL_DIR for b in seg.bin_dirs)):
        for name, file_name in _IMAGE_FILES.items():
            if name in found or not (folder / file_name).is_file():
                continue
            if folder != json_dir and (folder / _SCALEFACTORS_FILE).is_file():
                own = _read_json_object(folder / _SCALEFACTORS_FILE).get(_IMAGE_SCALEF[name])
                ours = scalefactors.get(_IMAGE_SCALEF[name])
                if not (_positive_number(own) and _positive_number(ours) and math.isclose(own, ours, rel_tol=1e-6)):
                    _warn(
                        notes,
                        f"{folder / file_name}: its {_IMAGE_SCALEF[name]} ({own}) is not the one in "
                        f"{json_dir / _SCALEFACTORS_FILE} ({ours}), so the image was not used for the cells",
                    )
                    continue
            found[name] = folder / file_name
    return found


def _read_json_object(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputFileError(path, "scale factors file not found", _SPATIAL_HINT)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InputFileError(path, f"not valid JSON ({err.msg})", _COPY_HINT, line=err.lineno) from err
    except UnicodeDecodeError as err:
        raise InputFileError(path, "not valid JSON (undecodable bytes)", _COPY_HINT) from err
    if not isinstance(raw, dict):
        raise InputFileError(path, f"expected a JSON object of scale factors, got {type(raw).__name__}", _COPY_HINT)
    return raw
