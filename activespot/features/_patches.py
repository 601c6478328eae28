"""Patches of each spot at its physical size, cropped from the best image the sample has.

A Visium spot is 55 µm across whatever the image resolution, so the crop is defined in
full-resolution pixels (``spot_diameter_fullres`` × a context factor) and converted with the scale
factor of the image actually used: the full-resolution H&E when its path is known, else the
hires PNG, else the lowres one. Each crop is resampled to the backbone's input size with a
sub-pixel box, so the patch centre is the spot centre even when a spot is only 4 px wide.

Patches are produced one at a time by :class:`SpotPatches` (a map-style dataset a
:class:`torch.utils.data.DataLoader` can batch), so a section is never held in memory as patches.
Full-resolution TIFFs — possibly tens of GB — are read region by region through tifffile's zarr
interface; PNG/JPEG full-resolution images have no region access and are decoded once.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
from anndata import AnnData
from PIL import Image, ImageDraw

from .. import _constants as K
from ..io import SpotImage, is_blank, read_image_size, to_uint8_rgb

__all__ = ["SpotPatches", "select_image", "write_patch_overlay"]

logger = logging.getLogger(__name__)

_SPOT_COLOUR = (0, 200, 255)
_PATCH_COLOUR = (255, 40, 40)


def select_image(adata: AnnData, *, library_id: str | None = None) -> SpotImage:
    """Pick the image to crop from: full resolution if its path is known, else hires, else lowres.

    Blank images (Space Ranger writes an all-black hires placeholder when there was none) are
    skipped.

    Raises
    ------
    ValueError
        ``adata`` has no spatial coordinates, no image, or several libraries and none was chosen.
    InputFileError
        The full-resolution image file is recorded but cannot be opened.
    """
    library = _check_spatial(adata, library_id)
    scalefactors = library[K.SCALEFACTORS_KEY]
    fullres = library.get(K.METADATA_KEY, {}).get(K.FULLRES_PATH_KEY)
    if fullres:
        path = Path(fullres)
        return SpotImage("fullres", 1.0, read_image_size(path), source=path)
    images = library.get(K.IMAGES_KEY, {})
    for name, scalef in (("hires", K.HIRES_SCALEF), ("lowres", K.LOWRES_SCALEF)):
        image = images.get(name)
        if image is None or scalef not in scalefactors:
            continue
        if is_blank(image):
            logger.info("skipping the %s image: it is blank", name)
            continue
        pixels = np.asarray(image)
        if pixels.dtype != np.uint8:
            pixels = to_uint8_rgb(pixels, Path(name))
        return SpotImage(name, float(scalefactors[scalef]), pixels.shape[:2], _pixels=pixels)
    msg = (
        "The sample has no usable tissue image (no full-resolution path, no non-blank hires or lowres "
        "image with its scale factor) to crop spot patches from; pass the H&E image or use "
        "features without morphology."
    )
    raise ValueError(msg)


def _check_spatial(adata: AnnData, library_id: str | None) -> dict[str, Any]:
    if K.SPATIAL_KEY not in adata.obsm:
        msg = f"adata.obsm[{K.SPATIAL_KEY!r}] (spot centres in full-resolution pixels) is missing."
        raise ValueError(msg)
    libraries = adata.uns.get(K.SPATIAL_KEY, {})
    if library_id is None:
        library_id = adata.uns.get(K.LIBRARY_ID_KEY)
    if library_id is None and len(libraries) == 1:
        library_id = next(iter(libraries))
    if library_id not in libraries:
        msg = (
            f"The library_id must be one of {', '.join(map(str, libraries)) or '(none: no images)'}; "
            f"got {library_id!r}."
        )
        raise ValueError(msg)
    library = libraries[library_id]
    if K.SPOT_DIAMETER not in library.get(K.SCALEFACTORS_KEY, {}):
        msg = f"adata.uns[{K.SPATIAL_KEY!r}][{library_id!r}] has no {K.SPOT_DIAMETER!r} scale factor."
        raise ValueError(msg)
    return library


class SpotPatches:
    """One RGB patch per spot at the spot's physical footprint: a map-style dataset.

    Parameters
    ----------
    adata
        Spots with ``obsm['spatial']`` (full-resolution pixels) and ``uns['spatial']``.
    size
        Side of the returned patches in pixels (the backbone's input size).
    context_factor
        Patch side as a multiple of the spot diameter (1 = the spot itself, 2 adds a ring).
    library_id
        Which ``uns['spatial']`` library; needed only when there are several.

    Attributes
    ----------
    image
        The :class:`~activespot.io.SpotImage` patches are cut from.
    side
        Patch side in pixels of that image before resampling.
    centres
        Spot centres (x, y) in continuous coordinates of that image (pixel k spans [k, k + 1)).
    """

    def __init__(self, adata: AnnData, *, size: int, context_factor: float = 1.0, library_id: str | None = None):
        _check_positive(size=size, context_factor=context_factor)
        library = _check_spatial(adata, library_id)
        self.image = select_image(adata, library_id=library_id)
        self.size = int(size)
        self.context_factor = float(context_factor)
        self.spot_diameter = float(library[K.SCALEFACTORS_KEY][K.SPOT_DIAMETER])
        self.side = self.spot_diameter * self.context_factor * self.image.scale
        # Pixel k spans [k, k + 1): a coordinate names a pixel, its centre is k + 0.5.
        self.centres = np.asarray(adata.obsm[K.SPATIAL_KEY], dtype=np.float64)[:, :2] * self.image.scale + 0.5
        if self.side < 1:
            logger.warning(
                "spots are %.2f px wide in the %s image: patches carry almost no morphology",
                self.side,
                self.image.name,
            )

    def __len__(self) -> int:
        return len(self.centres)

    def __getitem__(self, index: int) -> np.ndarray:
        cx, cy = self.centres[index]
        half = self.side / 2
        box = (cx - half, cy - half, cx + half, cy + half)
        # One pixel of margin so that bilinear sampling at the box edge sees real neighbours.
        x0, y0 = math.floor(box[0]) - 1, math.floor(box[1]) - 1
        x1, y1 = math.ceil(box[2]) + 1, math.ceil(box[3]) + 1
        region = Image.fromarray(self.image.read(slice(y0, y1), slice(x0, x1)))
        patch = region.resize(
            (self.size, self.size),
            Image.Resampling.BILINEAR,
            box=(box[0] - x0, box[1] - y0, box[2] - x0, box[3] - y0),
        )
        return np.array(patch)  # writable: torch refuses to wrap read-only arrays

    def params(self) -> dict[str, Any]:
        """Patch parameters, stored with the features and part of their cache key."""
        return {
            "image": self.image.name,
            "image_shape": list(self.image.shape),
            "image_scale": self.image.scale,
            "image_source": str(self.image.source) if self.image.source else None,
            "spot_diameter_fullres": self.spot_diameter,
            "context_factor": self.context_factor,
            "side_px": self.side,
            "input_size": self.size,
        }


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not value > 0:
            msg = f"The {name} must be positive; got {value!r}."
            raise ValueError(msg)


def write_patch_overlay(
    adata: AnnData,
    path: str | Path,
    *,
    context_factor: float = 1.0,
    library_id: str | None = None,
    max_side: int = 2000,
) -> Path:
    """Draw every spot (circle, spot diameter) and its patch (square) on the image patches come from.

    The overlay is the proof that coordinates, scale factors and image agree: circles must sit on
    the tissue's spot grid, squares show exactly what the backbone sees.

    Parameters
    ----------
    adata
        Spots with coordinates and images, as for :class:`SpotPatches`.
    path
        PNG file to write.
    context_factor
        As for :class:`SpotPatches`.
    library_id
        As for :class:`SpotPatches`.
    max_side
        Longest side of the written PNG; larger images are shrunk first.

    Returns
    -------
    The path written.
    """
    _check_positive(max_side=max_side)
    patches = SpotPatches(adata, size=1, context_factor=context_factor, library_id=library_id)
    pixels, shrink = patches.image.thumbnail(max_side)
    canvas = Image.fromarray(np.ascontiguousarray(pixels))
    draw = ImageDraw.Draw(canvas)
    spot_radius = patches.spot_diameter * patches.image.scale * shrink / 2
    patch_half = patches.side * shrink / 2
    for cx, cy in patches.centres * shrink:
        draw.ellipse((cx - spot_radius, cy - spot_radius, cx + spot_radius, cy + spot_radius), outline=_SPOT_COLOUR)
        draw.rectangle((cx - patch_half, cy - patch_half, cx + patch_half, cy + patch_half), outline=_PATCH_COLOUR)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    logger.info("wrote patch overlay of %d spots on the %s image to %s", len(patches), patches.image.name, path)
    return path
