"""Tissue images: the small PNGs loaded as uint8 RGB, the full-resolution one only measured (size, pixel size).

Space Ranger's hires/lowres PNGs are a few MB and every later step (overlays, patches at low
magnification) wants them as ``uint8`` RGB arrays, whatever bit depth or channel layout the file
happens to have. The full-resolution image can be a 20 GB whole-slide TIFF, so it is only opened
far enough to read its dimensions; patches are cropped from it lazily later.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import InputFileError
from ._openslide import OPENSLIDE_SUFFIXES, slide_levels, slide_microns_per_pixel

__all__ = [
    "TIFF_SUFFIXES",
    "is_blank",
    "read_image_size",
    "read_microns_per_pixel",
    "read_tissue_image",
    "to_uint8_rgb",
]

# An image whose pixels barely vary (e.g. Space Ranger's all-black placeholder) carries no morphology.
_BLANK_STD = 1.0
# Greyscale values beyond 8 bits are assumed to be 16-bit unless larger values occur.
_UINT16_MAX = 65535
_COPY_HINT = "copy the PNG again from the Space Ranger spatial/ folder"
TIFF_SUFFIXES = (".tif", ".tiff", ".btf", ".tf8", ".svs", ".ndpi", ".scn")


def read_tissue_image(path: Path) -> np.ndarray:
    """Decode a hires/lowres tissue image into a ``uint8`` array of shape (height, width, 3).

    Raises
    ------
    InputFileError
        The file is not an image PIL can decode, or it is truncated.
    """
    try:
        with Image.open(path) as image:
            image.load()
            array = np.asarray(_numeric_mode(image))
    except (UnidentifiedImageError, Image.DecompressionBombError) as err:
        raise InputFileError(path, f"not a readable image ({err.__class__.__name__})", _COPY_HINT) from err
    except (OSError, SyntaxError, ValueError) as err:
        # PIL reports truncated or corrupt PNG data as OSError, and bad chunks as SyntaxError.
        raise InputFileError(path, f"the image is truncated or corrupt ({err})", _COPY_HINT) from err
    return to_uint8_rgb(array, path)


def _numeric_mode(image: Image.Image) -> Image.Image:
    # Palette, 1-bit and non-RGB colour spaces have no pixel values that mean intensity; the rest
    # (L, LA, RGB, RGBA, I;16, I, F) are converted numerically by to_uint8_rgb.
    if image.mode in ("P", "PA"):
        return image.convert("RGBA")
    if image.mode in ("1", "CMYK", "YCbCr", "LAB", "HSV"):
        return image.convert("RGB")
    return image


def to_uint8_rgb(array: np.ndarray, path: Path) -> np.ndarray:
    """Bring any image array to ``uint8`` (height, width, 3): drop alpha, spread grey, rescale depth.

    16-bit data is divided by 257 so that full white stays full white; floats in [0, 1] (what
    scanpy stores in h5ad files) are multiplied by 255; anything with a larger range is stretched
    to its own maximum.

    Raises
    ------
    InputFileError
        The array is not 2-D or 3-D with 1 to 4 channels.
    """
    if array.ndim == 2:
        array = array[:, :, np.newaxis]
    if array.ndim != 3 or array.shape[2] not in (1, 2, 3, 4) or 0 in array.shape[:2]:
        raise InputFileError(
            path,
            f"expected an image of shape (height, width[, 1-4 channels]), got shape {array.shape}",
            "use the RGB tissue image Space Ranger wrote",
        )
    channels = array.shape[2]
    if channels in (1, 2):  # grey, or grey + alpha
        array = np.repeat(array[:, :, :1], 3, axis=2)
    elif channels == 4:
        array = array[:, :, :3]
    return _to_uint8(array)


def _to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    values = np.nan_to_num(array.astype(np.float64, copy=False), nan=0.0, posinf=0.0, neginf=0.0)
    values = np.clip(values, 0, None)
    peak = float(values.max(initial=0.0))
    if array.dtype.kind == "f" and peak <= 1.0:
        values = values * 255.0
    elif peak > 255:
        values = values / (257.0 if peak <= _UINT16_MAX and array.dtype.kind in "ui" else peak / 255.0)
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def is_blank(image: np.ndarray) -> bool:
    """Whether an image is (nearly) one colour, like Space Ranger's all-black hires placeholder."""
    step = max(1, min(image.shape[:2]) // 512)  # a strided sample is plenty to see variation
    return float(image[::step, ::step].std()) < _BLANK_STD


def read_image_size(path: Path) -> tuple[int, int]:
    """Read the (height, width) of a full-resolution image without decoding its pixels.

    TIFFs (including pyramidal whole-slide ones) are measured with tifffile from their first
    series' full-resolution level; other formats with PIL, which reads only the header.

    Raises
    ------
    InputFileError
        The file is missing, cannot be opened as an image, or has no height/width axes.
    """
    hint = "pass the full-resolution H&E image that was given to Space Ranger (TIFF, PNG or JPEG)"
    if not path.is_file():
        raise InputFileError(path, "full-resolution image not found", hint)
    if path.suffix.lower() in TIFF_SUFFIXES:
        return _tiff_size(path, hint)
    if path.suffix.lower() in OPENSLIDE_SUFFIXES:
        return slide_levels(path)[0]
    try:
        with _no_pixel_limit(), Image.open(path) as image:
            width, height = image.size
    except (OSError, SyntaxError, ValueError) as err:  # UnidentifiedImageError is an OSError
        raise InputFileError(path, f"cannot be opened as an image ({err.__class__.__name__})", hint) from err
    return int(height), int(width)


def _tiff_size(path: Path, hint: str) -> tuple[int, int]:
    import tifffile  # only needed when a TIFF is given

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            shape, axes = series.shape, series.axes
    except (tifffile.TiffFileError, OSError, ValueError, IndexError) as err:
        raise InputFileError(path, f"cannot be opened as a TIFF ({err})", hint) from err
    if "Y" not in axes or "X" not in axes:
        raise InputFileError(path, f"the TIFF has no height/width axes (axes {axes!r}, shape {shape})", hint)
    return int(shape[axes.index("Y")]), int(shape[axes.index("X")])


@contextmanager
def _no_pixel_limit() -> Iterator[None]:
    # PIL refuses to even open images above ~179 Mpx (decompression-bomb guard), but a whole-slide
    # JPEG is legitimately that large and we only read its header here.
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous


# Plausible pixel sizes of a bright-field scan (µm): outside, a resolution tag is a placeholder (72 dpi).
_MPP_RANGE = (0.05, 20.0)
_CM_UNIT = 3  # TIFF ResolutionUnit: centimetre


def read_microns_per_pixel(path: str | Path) -> float | None:
    """Pixel size (µm) recorded in an image's metadata, or ``None`` when it records none.

    Aperio SVS descriptions (``MPP = 0.499``), OME-XML (``PhysicalSizeX``) and TIFF resolution
    tags in centimetres are read, and OpenSlide's ``openslide.mpp-x`` for the slides only it
    reads; PNG and JPEG carry no trustworthy pixel size (their dpi is a
    screen setting), nor do TIFF resolutions in inches (usually a 72 dpi placeholder).
    """
    path = Path(path)
    if path.suffix.lower() in OPENSLIDE_SUFFIXES and path.is_file():
        return slide_microns_per_pixel(path)
    if path.suffix.lower() not in TIFF_SUFFIXES or not path.is_file():
        return None
    import re

    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            description = page.description or ""
            tags = {name: page.tags.get(name) for name in ("ResolutionUnit", "XResolution")}
            unit = int(tags["ResolutionUnit"].value) if tags["ResolutionUnit"] is not None else None
            resolution = tags["XResolution"].value if tags["XResolution"] is not None else None
    except (tifffile.TiffFileError, OSError, ValueError, IndexError):
        return None
    found = re.search(r"\bMPP\s*=\s*([0-9.]+)", description) or re.search(
        r'PhysicalSizeX="([0-9.eE+-]+)"(?![^>]*PhysicalSizeXUnit="(?!µm)[^"]*")', description
    )
    mpp = float(found.group(1)) if found else None
    if mpp is None and unit == _CM_UNIT and resolution and resolution[0]:
        mpp = 1e4 * resolution[1] / resolution[0]  # pixels per cm as a fraction -> µm per pixel
    return mpp if mpp is not None and _MPP_RANGE[0] <= mpp <= _MPP_RANGE[1] else None
