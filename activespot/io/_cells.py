"""Cells of an H&E image: an image and its nuclei table to one AnnData of cells.

Cell-level annotation (HALS) starts from a list of nuclei (:mod:`activespot.io._nuclei` reads
them; :func:`activespot.features.detect_cells` finds them when there is no file). Whatever the
source, :func:`cells_from_nuclei` assembles the same AnnData: ``obs`` = cells,
``obsm['spatial']`` = centroids (x, y) in image pixels, and where they came from in
``uns['activespot_cells']``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
from anndata import AnnData

from .. import _constants as K
from ..errors import InputFileError
from ._images import read_microns_per_pixel
from ._nuclei import NUCLEI_READERS, guess_nuclei_format, read_nuclei_csv
from ._regions import SpotImage, open_cell_image

__all__ = ["cells_from_nuclei", "read_cells"]

logger = logging.getLogger(__name__)


def read_cells(
    image: str | Path,
    nuclei: str | Path,
    *,
    nuclei_format: str | None = None,
    microns_per_pixel: float | None = None,
) -> AnnData:
    """Read an H&E image and its nuclei file as an AnnData of cells.

    Parameters
    ----------
    image
        The H&E image (PNG, JPEG or TIFF; whole-slide TIFFs are never read whole).
    nuclei
        Nuclei file: CSV of centroids, headerless ``<Y> <X> <class>`` points, QuPath GeoJSON,
        HoVer-Net JSON or an instance-label mask. Without one, use
        :func:`activespot.features.detect_cells`.
    nuclei_format
        One of ``csv, points, geojson, hovernet, mask``; ``None`` guesses from the file name.
    microns_per_pixel
        Pixel size; ``None`` reads it from the image's metadata (whole-slide TIFFs) when it is
        there. Needed for centroids in µm; stored so patch sizes can be given in µm.

    Returns
    -------
    The cells (see :func:`cells_from_nuclei`).

    Raises
    ------
    InputFileError
        The image or nuclei file cannot be read, a nucleus lies outside the image, centroids are
        in µm and the pixel size is unknown, or ``nuclei_format`` is not a known format.
    """
    pixels = open_cell_image(image)
    microns_per_pixel = microns_per_pixel or read_microns_per_pixel(image)
    fmt = nuclei_format or guess_nuclei_format(nuclei)
    if fmt not in NUCLEI_READERS:
        raise InputFileError(
            nuclei, f"unknown nuclei format {fmt!r}; valid formats are {', '.join(NUCLEI_READERS)}", "pick one"
        )
    if fmt == "csv":
        table = read_nuclei_csv(nuclei, microns_per_pixel=microns_per_pixel)
    else:
        table = NUCLEI_READERS[fmt](nuclei)
    _check_inside(table, pixels.shape, nuclei, Path(image))
    return cells_from_nuclei(table, pixels, nuclei=nuclei, nuclei_format=fmt, microns_per_pixel=microns_per_pixel)


def cells_from_nuclei(
    table: pd.DataFrame,
    image: SpotImage,
    *,
    nuclei: str | Path | None,
    nuclei_format: str,
    microns_per_pixel: float | None = None,
) -> AnnData:
    """The AnnData of cells for a nuclei table (see :func:`~activespot.io.nuclei_table`) of ``image``.

    Parameters
    ----------
    table
        One row per nucleus, in image pixels.
    image
        The image, from :func:`open_cell_image`.
    nuclei
        The file the table was read from (``None``: found by the built-in detector).
    nuclei_format
        One of :data:`activespot._constants.NUCLEI_FORMATS`.
    microns_per_pixel
        Pixel size, when known.

    Returns
    -------
    AnnData with no variables: ``obs`` indexed by ``cell_id`` with ``area_px`` and
    ``source_class`` (the file's class, if any); ``obsm['spatial']`` centroids (x, y) in pixels;
    ``obsm['bbox']`` boxes (x_min, y_min, x_max, y_max; NaN when unknown);
    ``uns['activespot_cells']`` = image path and shape, nuclei path and format, whether the
    built-in detector found them, pixel size.
    """
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
        K.CELLS_IMAGE: str(Path(image.source).absolute()),
        K.CELLS_IMAGE_SHAPE: [int(image.shape[0]), int(image.shape[1])],
        K.CELLS_NUCLEI: str(Path(nuclei).absolute()) if nuclei is not None else None,
        K.CELLS_NUCLEI_FORMAT: nuclei_format,
        K.CELLS_FROM_DETECTOR: nuclei_format == K.NUCLEI_DETECTOR,
        K.CELLS_MICRONS_PER_PIXEL: microns_per_pixel,
    }
    logger.info("%d cells from %s (%s)", adata.n_obs, nuclei or image.source, nuclei_format)
    return adata


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
