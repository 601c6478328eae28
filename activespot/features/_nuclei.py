"""The built-in nuclei detector: image analysis for images that come without a nuclei file.

Not a trained segmenter, and not I/O: colour deconvolution isolates haematoxylin, a threshold
separates nuclei and a watershed splits touching ones. :func:`detect_cells` gives the same
AnnData of cells as :func:`activespot.io.read_cells`, recorded as found by the detector.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _constants as K
from ..errors import InputFileError
from ..io import cells_from_nuclei, nuclei_table, open_cell_image, read_microns_per_pixel

__all__ = ["detect_cells", "detect_nuclei", "haematoxylin_threshold"]

logger = logging.getLogger(__name__)

# Built-in detector defaults (pixels at ~0.25-0.5 µm/px, 20-40x): nuclei are 4-15 µm across.
_DETECTOR_MIN_AREA = 30
_DETECTOR_MIN_DISTANCE = 5
_DETECTOR_TILE = 2048
_DETECTOR_OVERLAP = 64


def detect_cells(image: str | Path, *, microns_per_pixel: float | None = None, progress: bool = True) -> AnnData:
    """Find the nuclei of an H&E image with :func:`detect_nuclei`, as an AnnData of cells (logged as such).

    Parameters
    ----------
    image
        The H&E image (PNG, JPEG or TIFF).
    microns_per_pixel
        Pixel size; ``None`` reads it from the image's metadata when it is there.
    progress
        Progress bar over the detector's tiles.

    Returns
    -------
    The cells, as :func:`activespot.io.cells_from_nuclei` describes them (nuclei format ``detector``).

    Raises
    ------
    InputFileError
        The image cannot be read, or the detector finds no nuclei in it.
    """
    pixels = open_cell_image(image)
    logger.warning("no nuclei file given: nuclei found by the built-in scikit-image detector in %s", image)
    table = detect_nuclei(pixels, progress=progress)
    if table.empty:
        raise InputFileError(image, "the built-in detector found no nuclei", "pass a nuclei file with --nuclei")
    return cells_from_nuclei(
        table,
        pixels,
        nuclei=None,
        nuclei_format=K.NUCLEI_DETECTOR,
        microns_per_pixel=microns_per_pixel or read_microns_per_pixel(image),
    )


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
        An image from :func:`activespot.io.open_cell_image`, or a uint8 RGB array.
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
    Nuclei table (see :func:`activespot.io.nuclei_table`), without classes.
    """
    from .._progress import progress_bar

    read = _reader(image)
    height, width = image.shape[:2]
    threshold = haematoxylin_threshold(image)
    starts = [(y, x) for y in range(0, height, tile) for x in range(0, width, tile)]
    records: list[dict[str, Any]] = []
    for y0, x0 in progress_bar(starts, desc="detecting nuclei", unit="tile", disable=not progress or len(starts) < 2):
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
    return nuclei_table(records)


def _reader(image: Any):
    if isinstance(image, np.ndarray):
        return lambda y0, y1, x0, x1: image[y0:y1, x0:x1]
    return lambda y0, y1, x0, x1: image.read(slice(y0, y1), slice(x0, x1))


def _haematoxylin(rgb: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2hed

    return rgb2hed(rgb.astype(np.float64) / 255.0)[..., 0]


def haematoxylin_threshold(image: Any) -> float:
    """What counts as nuclear stain: Otsu's threshold of the smoothed haematoxylin (a few regions of a large image).

    Parameters
    ----------
    image
        An image from :func:`activespot.io.open_cell_image`, or a uint8 RGB array.
    """
    from skimage.filters import gaussian, threshold_otsu

    read = _reader(image)
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
