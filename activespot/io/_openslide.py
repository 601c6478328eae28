"""Slides only OpenSlide reads (MIRAX ``.mrxs``, Hamamatsu ``.vms``/``.vmu``, Aperio ``.svslide``), by region.

TIFF-based formats (SVS, NDPI, OME-TIFF, SCN, Philips TIFF, BigTIFF) go through tifffile, which
needs no system library; these formats are not TIFFs, so they need openslide-python and its
binary wheel, an optional extra (``pip install 'activespot[openslide]'``). Without it, the error
names the extra instead of failing as an unreadable image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputFileError

OPENSLIDE_SUFFIXES = (".mrxs", ".vms", ".vmu", ".svslide")
_EXTRA_HINT = "install the OpenSlide extra: pip install 'activespot[openslide]' (openslide-python and openslide-bin)"


def open_slide(path: Path) -> Any:
    """An ``openslide.OpenSlide``, or an error naming the missing extra or the unreadable file."""
    try:
        import openslide
    except ImportError:
        problem = f"{path.suffix} slides are read through OpenSlide, which is not installed"
        raise InputFileError(path, problem, _EXTRA_HINT) from None
    try:
        return openslide.OpenSlide(str(path))
    except (openslide.OpenSlideError, OSError) as err:  # OpenSlideUnsupportedFormatError is an OpenSlideError
        problem = f"OpenSlide cannot read it ({err.__class__.__name__}: {err})"
        hint = "check that every file of the slide (e.g. the .mrxs data folder) is there"
        raise InputFileError(path, problem, hint) from err


def slide_levels(path: Path) -> list[tuple[int, int]]:
    """(height, width) of every level, full resolution first."""
    slide = open_slide(path)
    try:
        return [(int(height), int(width)) for width, height in slide.level_dimensions]
    finally:
        slide.close()


def slide_microns_per_pixel(path: Path) -> float | None:
    """The pixel size (µm) OpenSlide finds in the slide's vendor metadata, or ``None``."""
    slide = open_slide(path)
    try:
        value = slide.properties.get("openslide.mpp-x")
    finally:
        slide.close()
    return float(value) if value else None


class SlideLevel:
    """One level of an OpenSlide slide, indexed like an array: ``level[rows, cols]`` is uint8 RGB.

    OpenSlide returns RGBA whose transparent pixels are outside the scanned area; they become
    white, like the glass around the tissue.
    """

    def __init__(self, path: Path, level: int):
        self._slide = open_slide(path)
        self._level = level
        self._downsample = float(self._slide.level_downsamples[level])

    def __getitem__(self, index: tuple[slice, slice]) -> np.ndarray:
        rows, cols = index[0], index[1]
        # read_region takes the top-left corner in level-0 pixels and the size in this level's.
        corner = (round(cols.start * self._downsample), round(rows.start * self._downsample))
        size = (cols.stop - cols.start, rows.stop - rows.start)
        rgba = np.asarray(self._slide.read_region(corner, self._level, size), dtype=np.float32)
        alpha = rgba[..., 3:] / 255.0
        return np.rint(rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
