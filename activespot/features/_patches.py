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
from scipy import sparse

from .. import _constants as K
from ..errors import InputFileError
from ..io import (
    SpotImage,
    is_blank,
    open_image_level,
    pyramid_levels,
    read_microns_per_pixel,
    to_uint8_rgb,
)

__all__ = ["ImagePatches", "SpotPatches", "TilePatches", "select_image", "write_patch_overlay"]

logger = logging.getLogger(__name__)

_SPOT_COLOUR = (0, 200, 255)
_PATCH_COLOUR = (255, 40, 40)


def select_image(
    adata: AnnData,
    *,
    library_id: str | None = None,
    target_mpp: float | None = None,
    mpp: float | None = None,
) -> SpotImage:
    """Pick the image to crop from: full resolution if its path is known, else hires, else lowres.

    A pyramidal full-resolution image (SVS, NDPI, OME-TIFF, BigTIFF) is read from the coarsest
    level that is not coarser than ``target_mpp``, so a 0.25 µm/px scan embedded by a model
    trained at 0.5 µm/px decodes a quarter of the pixels. Blank images (Space Ranger writes an
    all-black hires placeholder when there was none) are skipped.

    Parameters
    ----------
    adata, library_id
        The spots and which ``uns['spatial']`` library holds the image.
    target_mpp
        The pixel size (µm) patches need; ``None`` reads full resolution.
    mpp
        Pixel size (µm) of the full-resolution image, when neither the file nor the scale
        factors give one (see :func:`fullres_microns_per_pixel`).

    Raises
    ------
    ValueError
        ``adata`` has no spatial coordinates, no image, or several libraries and none was chosen.
    InputFileError
        The full-resolution image file is recorded but cannot be opened, or a pyramid has no
        pixel size anywhere.
    """
    library = _check_spatial(adata, library_id)
    scalefactors = library[K.SCALEFACTORS_KEY]
    fullres = library.get(K.METADATA_KEY, {}).get(K.FULLRES_PATH_KEY)
    if fullres:
        path = Path(fullres)
        levels = pyramid_levels(path)
        if target_mpp is None or len(levels) == 1:
            return open_image_level(path, 0)
        full_mpp = fullres_microns_per_pixel(path, scalefactors, mpp=mpp)
        return open_image_level(path, _pyramid_level(levels, full_mpp, target_mpp))
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


def fullres_microns_per_pixel(path: Path | None, scalefactors: dict[str, Any], *, mpp: float | None = None) -> float:
    """Pixel size (µm) of a sample's full-resolution image: ``mpp``, else the scale factors', else the file's.

    The scale factors tie the spot positions to microns for every Space Ranger output (a Visium
    spot is 55 µm across ``spot_diameter_fullres`` pixels; Visium HD records
    ``microns_per_pixel``), so they come before the scanner's own record (an SVS ``MPP``,
    OME ``PhysicalSizeX``, resolution tags in cm); when the two disagree by more than 10 %, the
    image is probably not the one Space Ranger was given, and a warning says so.

    Raises
    ------
    InputFileError
        No pixel size anywhere (the message says how to give one).
    """
    if mpp is not None:
        return float(mpp)
    from_file = None if path is None else read_microns_per_pixel(path)
    from_scalefactors = _scalefactor_microns_per_pixel(scalefactors)
    if from_file and from_scalefactors and abs(from_file / from_scalefactors - 1) > 0.1:
        logger.warning(
            "%s records %.3f µm/px but the spot positions imply %.3f µm/px: is it the image Space Ranger was given?",
            path, from_file, from_scalefactors,
        )  # fmt: skip
    found = from_scalefactors or from_file
    if found is None and path is None:
        msg = "The sample's scale factors give no pixel size; pass one with --mpp (µm per full-resolution pixel)."
        raise ValueError(msg)
    if found is None:
        raise InputFileError(
            path,
            "the image records no pixel size and the sample's scale factors give none",
            "pass it with --mpp (µm per full-resolution pixel, e.g. 0.25 for a 40x scan, 0.5 for 20x)",
        )
    return found


def _scalefactor_microns_per_pixel(scalefactors: dict[str, Any]) -> float | None:
    """Full-resolution pixel size (µm) the scale factors imply, or ``None`` when they imply none."""
    if scalefactors.get(K.MICRONS_PER_PIXEL):
        return float(scalefactors[K.MICRONS_PER_PIXEL])
    diameter = scalefactors.get(K.SPOT_DIAMETER)
    if not diameter:
        return None
    spot_um = scalefactors.get(K.BIN_SIZE_UM) or K.VISIUM_SPOT_UM  # an HD bin's "spot" is the bin
    return float(spot_um) / float(diameter)


def _pyramid_level(levels: list[tuple[int, int]], full_mpp: float, target_mpp: float) -> int:
    """The coarsest level whose pixels are not coarser than ``target_mpp`` (2 % slack for rounded sizes)."""
    chosen = 0
    for index, (_, width) in enumerate(levels):
        if full_mpp * levels[0][1] / width <= target_mpp * 1.02:
            chosen = index
    return chosen


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


class ImagePatches:
    """Square crops of one image around given centres, resampled to ``size``: a map-style dataset.

    Parameters
    ----------
    image
        The :class:`~activespot.io.SpotImage` to cut from.
    centres
        (n, 2) centres (x, y) in continuous coordinates of that image (pixel k spans [k, k + 1)).
    side
        Crop side in pixels of that image, before resampling.
    size
        Side of the returned patches in pixels (the backbone's input size).
    """

    def __init__(self, image: SpotImage, centres: np.ndarray, *, side: float, size: int):
        _check_positive(size=size, side=side)
        self.image = image
        self.centres = np.asarray(centres, dtype=np.float64)
        self.side = float(side)
        self.size = int(size)

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
            "image_level": self.image.level,
            "side_px": self.side,
            "input_size": self.size,
        }


class SpotPatches(ImagePatches):
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
    native_mpp
        Pixel size (µm) the backbone was trained at: a pyramid is read from the level closest
        to it and not coarser; ``None``: the pixel size of the resampled patch.
    mpp
        Full-resolution pixel size (µm), when neither file nor scale factors give one.

    Attributes
    ----------
    image
        The :class:`~activespot.io.SpotImage` patches are cut from.
    side
        Patch side in pixels of that image before resampling.
    centres
        Spot centres (x, y) in continuous coordinates of that image (pixel k spans [k, k + 1)).
    """

    def __init__(
        self,
        adata: AnnData,
        *,
        size: int,
        context_factor: float = 1.0,
        library_id: str | None = None,
        native_mpp: float | None = None,
        mpp: float | None = None,
    ):
        _check_positive(size=size, context_factor=context_factor)
        library = _check_spatial(adata, library_id)
        self.context_factor = float(context_factor)
        self.spot_diameter = float(library[K.SCALEFACTORS_KEY][K.SPOT_DIAMETER])
        # A spot's diameter is 55 µm, so the scale factors always give the pixel size.
        self.microns_per_pixel = fullres_microns_per_pixel(None, library[K.SCALEFACTORS_KEY], mpp=mpp)
        patch_um = self.spot_diameter * self.context_factor * self.microns_per_pixel
        image = select_image(adata, library_id=library_id, target_mpp=native_mpp or patch_um / size, mpp=mpp)
        side = self.spot_diameter * self.context_factor * image.scale
        if side < 1:
            logger.warning(
                "spots are %.2f px wide in the %s image: patches carry almost no morphology", side, image.name
            )
        super().__init__(image, _image_centres(adata, image), side=side, size=size)

    def params(self) -> dict[str, Any]:
        """Patch parameters, stored with the features and part of their cache key."""
        return {
            **super().params(),
            "spot_diameter_fullres": self.spot_diameter,
            "context_factor": self.context_factor,
            "microns_per_pixel": self.microns_per_pixel,
        }


class TilePatches(ImagePatches):
    """Patches of ``patch_um`` on a square grid every ``stride_um``, covering the items: a map-style dataset.

    Visium HD bins (2-16 µm) are smaller than the tissue structure a pathologist reads, and one
    backbone pass per bin would cost 500k+ passes a section. The image is instead embedded on a
    grid of tiles (axis-aligned in the image, about ``(bin / stride)²`` times fewer than bins), and
    each item takes the bilinear blend of the four tile centres around it (:attr:`blend`), so its
    morphology varies smoothly with its position instead of jumping at tile borders.

    Parameters
    ----------
    adata
        Items with ``obsm['spatial']`` (full-resolution pixels) and ``uns['spatial']`` whose scale
        factors give the pixel size (``microns_per_pixel``, else ``bin_size_um`` over
        ``spot_diameter_fullres``).
    size
        Side of the returned patches in pixels (the backbone's input size).
    patch_um, stride_um
        Tile side and tile spacing in µm.
    library_id
        Which ``uns['spatial']`` library; needed only when there are several.
    native_mpp, mpp
        As for :class:`SpotPatches` (``None``: the tile's own pixel size, ``patch_um / size``).

    Attributes
    ----------
    blend
        Sparse (n_items, n_tiles) CSR matrix of bilinear weights; each row sums to 1.
    tile_names
        One name per tile, ``tile_<row>_<col>`` on the tile grid.
    """

    def __init__(
        self,
        adata: AnnData,
        *,
        size: int,
        patch_um: float,
        stride_um: float,
        library_id: str | None = None,
        native_mpp: float | None = None,
        mpp: float | None = None,
    ):
        _check_positive(size=size, patch_um=patch_um, stride_um=stride_um)
        library = _check_spatial(adata, library_id)
        image = select_image(adata, library_id=library_id, target_mpp=native_mpp or patch_um / size, mpp=mpp)
        self.microns_per_pixel = fullres_microns_per_pixel(image.source, library[K.SCALEFACTORS_KEY], mpp=mpp)
        self.patch_um, self.stride_um = float(patch_um), float(stride_um)
        stride = stride_um / self.microns_per_pixel * image.scale
        items = _image_centres(adata, image)
        origin = items.min(axis=0) if len(items) else np.zeros(2)
        grid = (items - origin) / stride  # tile-grid coordinates (col, row) of every item
        low = np.floor(grid).astype(np.int64)
        frac = grid - low
        corners = [(0, 0), (0, 1), (1, 0), (1, 1)]  # (drow, dcol)
        tile_rows = np.concatenate([low[:, 1] + dr for dr, _ in corners])
        tile_cols = np.concatenate([low[:, 0] + dc for _, dc in corners])
        weights = np.concatenate([np.abs(1 - dr - frac[:, 1]) * np.abs(1 - dc - frac[:, 0]) for dr, dc in corners])
        used = weights > 0
        n_cols = int(tile_cols.max()) + 1 if len(items) else 0
        flat = tile_rows * n_cols + tile_cols
        tiles, column = np.unique(flat[used], return_inverse=True)
        item = np.tile(np.arange(len(items)), len(corners))[used]
        self.blend = sparse.csr_matrix(
            (weights[used].astype(np.float32), (item, column)), shape=(len(items), len(tiles))
        )
        rows, cols = np.divmod(tiles, max(n_cols, 1))
        self.tile_names = np.array([f"tile_{r}_{c}" for r, c in zip(rows, cols, strict=True)], dtype=str)
        centres = origin + np.column_stack([cols, rows]) * stride
        super().__init__(image, centres, side=patch_um / self.microns_per_pixel * image.scale, size=size)

    def params(self) -> dict[str, Any]:
        """Patch parameters, stored with the features and part of their cache key."""
        return {
            **super().params(),
            "tile_grid": {"patch_um": self.patch_um, "stride_um": self.stride_um, "blend": "bilinear"},
            "microns_per_pixel": self.microns_per_pixel,
            "tiles": len(self),
        }


def _image_centres(adata: AnnData, image: SpotImage) -> np.ndarray:
    # Pixel k spans [k, k + 1): a coordinate names a pixel, its centre is k + 0.5.
    return np.asarray(adata.obsm[K.SPATIAL_KEY], dtype=np.float64)[:, :2] * image.scale + 0.5


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
