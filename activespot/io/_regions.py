"""Images read region by region at their own pixel size: a whole-slide TIFF is never decoded whole.

:class:`SpotImage` is the one image handle of the package: spot patches (:mod:`activespot.features`),
cell patches and the cells page all read pixels through it. TIFFs (including pyramidal whole-slide
ones) are opened through tifffile's zarr interface and read region by region; PNG and JPEG have no
region access and are decoded once, on the first read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..errors import InputFileError
from ._images import TIFF_SUFFIXES, read_image_size, read_tissue_image, to_uint8_rgb
from ._openslide import OPENSLIDE_SUFFIXES, SlideLevel, slide_levels

__all__ = ["SpotImage", "open_cell_image", "open_image_level", "pyramid_levels"]

_BACKGROUND = 255  # outside the image: white, like the glass around a tissue section
_IMAGE_HINT = "pass an H&E image as PNG, JPEG or TIFF"


@dataclass
class SpotImage:
    """An image that patches are cut from.

    Attributes
    ----------
    name
        ``"fullres"``, ``"hires"`` or ``"lowres"``.
    scale
        Image pixels per full-resolution pixel (1 for the full-resolution image).
    shape
        (height, width) in pixels.
    source
        The file read lazily, or ``None`` for an image held in ``adata.uns``.
    level
        Pyramid level of ``source`` that is read (0: full resolution); ``scale`` is that level's.
    """

    name: str
    scale: float
    shape: tuple[int, int]
    source: Path | None = None
    level: int = 0
    _pixels: Any = None
    _axes: str = "YXS"

    def read(self, rows: slice, cols: slice) -> np.ndarray:
        """Pixels of ``rows`` x ``cols`` (slices without step, may reach past the edges) as uint8 RGB.

        Whatever lies outside the image is white, like the glass around tissue.
        """
        y0, y1, x0, x1 = rows.start, rows.stop, cols.start, cols.stop
        out = np.full((y1 - y0, x1 - x0, 3), _BACKGROUND, dtype=np.uint8)
        height, width = self.shape
        cy0, cy1, cx0, cx1 = max(y0, 0), min(y1, height), max(x0, 0), min(x1, width)
        if cy0 < cy1 and cx0 < cx1:
            out[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0] = self._region(cy0, cy1, cx0, cx1)
        return out

    def _region(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        if self._pixels is None:
            self._pixels, self._axes = _open_lazily(self.source, self.level)
        if self.source is None or self.source.suffix.lower() not in TIFF_SUFFIXES:
            return self._pixels[y0:y1, x0:x1]
        index = tuple(
            slice(y0, y1) if axis == "Y" else slice(x0, x1) if axis == "X" else slice(None) if axis in "SC" else 0
            for axis in self._axes
        )
        kept = [axis for axis in self._axes if axis in "YXSC"]
        region = np.asarray(self._pixels[index])
        order = [kept.index("Y"), kept.index("X")] + [i for i, a in enumerate(kept) if a in "SC"]
        return to_uint8_rgb(region.transpose(order), self.source)

    def __getstate__(self) -> dict[str, Any]:
        # DataLoader workers reopen the file themselves: open TIFF handles do not survive pickling.
        state = dict(self.__dict__)
        if self.source is not None:
            state["_pixels"] = None
        return state

    def thumbnail(self, max_side: int) -> tuple[np.ndarray, float]:
        """The whole image shrunk to at most ``max_side`` pixels, and the factor applied."""
        step = max(1, math.ceil(max(self.shape) / max_side))
        if self.source is None:
            return self._pixels[::step, ::step], 1.0 / step
        # Strips of 32 output rows: a whole-slide image is never decoded at once.
        rows = [
            self.read(slice(y, min(y + step * 32, self.shape[0])), slice(0, self.shape[1]))[::step, ::step]
            for y in range(0, self.shape[0], step * 32)
        ]
        return np.concatenate(rows), 1.0 / step


def _open_lazily(path: Path, level: int = 0) -> tuple[Any, str]:
    if path.suffix.lower() in TIFF_SUFFIXES:
        import tifffile
        import zarr

        with tifffile.TiffFile(path) as tif:
            axes = tif.series[0].levels[level].axes
        return zarr.open(tifffile.imread(path, aszarr=True, series=0, level=level), mode="r"), axes
    if path.suffix.lower() in OPENSLIDE_SUFFIXES:
        return SlideLevel(path, level), "YXS"
    # PNG/JPEG cannot be read by region; a full-resolution one is decoded once per process.
    previous, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        return read_tissue_image(path), "YXS"
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def open_cell_image(path: str | Path) -> SpotImage:
    """Open an H&E image for region reads without decoding a whole-slide TIFF.

    Parameters
    ----------
    path
        PNG, JPEG or TIFF (a pyramidal whole-slide TIFF is read from its full-resolution level,
        region by region).

    Returns
    -------
    :class:`SpotImage` named ``"fullres"``; ``.read(rows, cols)`` gives uint8 RGB.

    Raises
    ------
    InputFileError
        The file is missing or cannot be opened as an image.
    """
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


def pyramid_levels(path: str | Path) -> list[tuple[int, int]]:
    """(height, width) of every level of an image, full resolution first; one entry unless a pyramidal TIFF.

    Raises
    ------
    InputFileError
        The file cannot be opened, or no level has height and width axes.
    """
    path = Path(path)
    if path.suffix.lower() in OPENSLIDE_SUFFIXES:
        return slide_levels(path)
    if path.suffix.lower() not in TIFF_SUFFIXES:
        return [read_image_size(path)]
    import tifffile

    hint = "pass a pyramidal TIFF, SVS, NDPI, OME-TIFF or MRXS of the H&E, or a PNG/JPEG"
    try:
        with tifffile.TiffFile(path) as tif:
            levels = [(level.shape, level.axes) for level in tif.series[0].levels]
    except (tifffile.TiffFileError, OSError, ValueError, IndexError) as err:
        raise InputFileError(path, f"cannot be opened as a TIFF ({err})", hint) from err
    sizes = [
        (int(shape[axes.index("Y")]), int(shape[axes.index("X")])) for shape, axes in levels if {"Y", "X"} <= set(axes)
    ]
    if not sizes:
        raise InputFileError(path, f"no level of the image has height and width axes ({levels[0][1]!r})", hint)
    return sizes


def open_image_level(path: str | Path, level: int = 0, *, name: str = "fullres") -> SpotImage:
    """Open one pyramid level of an image for region reads; its ``scale`` is relative to level 0.

    Raises
    ------
    InputFileError
        The file cannot be opened, or has no such level.
    """
    path = Path(path)
    levels = pyramid_levels(path)
    if not 0 <= level < len(levels):
        raise InputFileError(path, f"the image has no level {level} (it has {len(levels)})", _IMAGE_HINT)
    (height, width), (full_height, full_width) = levels[level], levels[0]
    # Each level rounds its size; the mean of both axes' ratios is the downsample within 1/side.
    scale = (height / full_height + width / full_width) / 2
    return SpotImage(name, scale, (height, width), path.absolute(), level=level)
