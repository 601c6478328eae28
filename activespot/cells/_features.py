"""Features of each cell: a patch around its centroid, described without weights or by a backbone.

HALS embeds each cell's patch with a frozen backbone. Offline, a weight-free descriptor stands in:
the nucleus is segmented inside its patch (haematoxylin above the image's Otsu threshold, the
component under the centroid), then described by what pathologists look at — size and shape
(area, eccentricity, solidity, …), stain (haematoxylin and eosin in the nucleus, in a ring of
cytoplasm around it and in the whole patch) — by a radial stain profile that needs no
segmentation, and by its local context: how pale, stained and crowded the neighbourhood is
(epithelium lines glands around pale lumen and mucin, lymphocytes come in sheets of small dark
nuclei).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from anndata import AnnData

from .. import _constants as K
from .._progress import progress_bar

__all__ = ["cell_feature_names", "cell_features", "cell_patch_size", "check_cell_backbone"]

logger = logging.getLogger(__name__)

_SHAPE = ("log_area", "perimeter2_per_area", "eccentricity", "solidity", "extent", "minor_axis", "found")
_CHANNELS = ("h", "e", "red", "green", "blue")
_NUCLEUS_STATS = ("mean", "std", "q10", "q50", "q90")
_STAIN = (*(f"{c}_nucleus_{s}" for c in _CHANNELS for s in _NUCLEUS_STATS), "h_ring", "e_ring")
# Context around the nucleus at three scales (fractions of the patch side): how much pale lumen or
# mucin, haematoxylin, eosin and brightness surrounds it — what tells a gland-lining nucleus
# from one in the stroma when the nuclei themselves look alike.
_CONTEXT_SCALES = (0.25, 0.5, 1.0)
_CONTEXT = tuple(f"{q}_within_{s}" for s in _CONTEXT_SCALES for q in ("pale", "h", "e", "grey"))
_PALE = 0.8  # grey level above which a pixel is lumen, mucin or glass
# Mean haematoxylin and eosin in concentric rings out to half the patch side: how dark, how large
# and how sharp-edged the nucleus is and what surrounds it, read straight from the stain around
# the centroid. It needs no outline, so it is as good from bare centroids as from an instance
# mask, and it is the strongest single group of the descriptor (consep: 5-fold accuracy 0.90
# without it, 0.94 with it).
_RINGS = 8
_RADIAL = tuple(f"{c}_radial{k}" for c in ("h", "e") for k in range(_RINGS))
_CROWD = ("neighbours_r1", "neighbours_r2", "nn_distance_mean")
_DESCRIPTOR_SOURCE = "none: weight-free cell descriptor"


def cell_patch_size(adata: AnnData, *, patch_px: int = 40, patch_um: float | None = None) -> int:
    """Side of a cell's patch in pixels: ``patch_um`` converted when the pixel size is known, else ``patch_px``.

    Parameters
    ----------
    adata
        Cells from :func:`activespot.io.read_cells` (``uns['activespot_cells']['microns_per_pixel']``).
    patch_px
        Side in pixels (HALS: 40).
    patch_um
        Side in µm; used only when the pixel size is known.
    """
    mpp = (adata.uns.get(K.CELLS_UNS_KEY) or {}).get("microns_per_pixel")
    if patch_um is not None and mpp:
        return max(8, round(patch_um / float(mpp)))
    return int(patch_px)


def check_cell_backbone(name: str, *, source: str | Path) -> None:
    """Check that ``cells.backbone`` names a backbone, blaming the settings file ``source`` when it does not.

    Raises
    ------
    InputFileError
        ``name`` is neither ``"descriptor"`` nor registered (the valid names are listed).
    """
    from ..errors import InputFileError
    from ..features import check_backbone_name

    try:
        check_backbone_name(name)
    except ValueError as err:
        raise InputFileError(source, f"cells.backbone: {err}", "set cells.backbone to one of these") from None


def cell_feature_names() -> list[str]:
    """Name of every descriptor column: shape, stain in and around the nucleus, context, radial profile, crowding."""
    return list(_SHAPE) + list(_STAIN) + list(_CONTEXT) + list(_RADIAL) + list(_CROWD)


def cell_features(
    adata: AnnData,
    image: Any = None,
    *,
    patch_px: int = 40,
    backbone: str = K.DESCRIPTOR_BACKBONE,
    weights: str | Path | None = None,
    batch_size: int = 64,
    device: str = "auto",
    precision: str = "auto",
    cache_dir: str | Path | None = None,
    progress: bool = True,
    copy: bool = False,
) -> AnnData | None:
    """Describe every cell and store the result in ``obsm['X_cell']``.

    Parameters
    ----------
    adata
        Cells from :func:`activespot.io.read_cells`.
    image
        The image (from :func:`activespot.io.open_cell_image`); ``None`` opens the one recorded
        in ``uns['activespot_cells']``.
    patch_px
        Patch side in pixels (see :func:`cell_patch_size` for µm).
    backbone
        ``"descriptor"`` (weight-free, the offline default) or a name from
        :func:`activespot.features.list_backbones`, whose embedding replaces the descriptor's
        columns (the crowding columns are added to it as well). Backbone patches go through
        :func:`activespot.features.embed_patches`, as spots do.
    weights
        Weights of the backbone (file or Hub id).
    batch_size
        Patches per forward pass of a backbone.
    device, precision
        Where a backbone runs and its autocast precision (``auto``: the GPU when there is one).
    cache_dir
        Folder of the feature cache (a project's ``features/``); ``None`` disables it. The key is
        every input: the image's and the instance mask's sha256, the cell ids, centroids and boxes,
        the backbone, its weights' sha256, the patch side and the descriptor's columns.
    progress
        Show a progress bar.
    copy
        Return a new AnnData instead of writing into ``adata``.

    Returns
    -------
    ``None``, or the new AnnData when ``copy``. Writes ``obsm['X_cell']`` (float32) and
    ``uns['activespot_cells']['features']`` (backbone, weights and their sha256, patch size,
    column names, cache file).

    Raises
    ------
    ValueError
        ``patch_px`` below 8, or an unknown backbone (the valid names are listed).
    InputFileError
        The weights are missing, unreadable or do not fit the backbone.
    """
    from ..features import check_backbone_name
    from ..io import open_cell_image

    if patch_px < 8:
        msg = f"`patch_px` must be at least 8 pixels; got {patch_px}."
        raise ValueError(msg)
    check_backbone_name(backbone)
    adata = adata.copy() if copy else adata
    if image is None:
        image = open_cell_image(adata.uns[K.CELLS_UNS_KEY][K.CELLS_IMAGE])
    cache_dir = None if cache_dir is None else Path(cache_dir)
    xy = np.asarray(adata.obsm[K.SPATIAL_KEY], dtype=float)
    ids = np.asarray(adata.obs_names, dtype=str)
    key = () if cache_dir is None else _inputs_key(adata, image, xy, cache_dir)  # no cache: no hashing
    if backbone == K.DESCRIPTOR_BACKBONE:
        own, info = _cached_descriptor(adata, image, xy, ids, key, patch_px=patch_px, cache_dir=cache_dir,
                                       progress=progress)  # fmt: skip
        names = list(info["columns"])
    else:
        from ..features import embed_patches, get_backbone

        size = get_backbone(backbone).input_size
        own, info = embed_patches(
            _CellPatches(image, xy, patch_px=patch_px, size=size),
            backbone,
            weights=weights,
            ids=ids,
            key=key,
            patch={"patch_px": int(patch_px), "input_size": size},
            cache_dir=cache_dir,
            batch_size=batch_size,
            device=device,
            precision=precision,
            progress=progress,
            desc=f"cell patches ({backbone})",
        )
        names = [f"{backbone}_{i}" for i in range(own.shape[1])]
    features = np.concatenate([own, _crowding(xy, radius=patch_px)], axis=1).astype(np.float32)
    adata.obsm[K.CELL_FEATURES_KEY] = features
    names = names + list(_CROWD)
    stored = dict(adata.uns.get(K.CELLS_UNS_KEY) or {})
    provenance = {"backbone": backbone, "weights": info.get("weights"), "weights_sha256": info.get("weights_sha256"),
                  "patch_px": int(patch_px), "columns": names, "cache_file": info.get("cache_file")}  # fmt: skip
    stored["features"] = {name: value for name, value in provenance.items() if value is not None}
    adata.uns[K.CELLS_UNS_KEY] = stored
    logger.info("added obsm[%r] (%d cells x %d features, %s)", K.CELL_FEATURES_KEY, *features.shape, backbone)
    return adata if copy else None


def _inputs_key(adata: AnnData, image: Any, xy: np.ndarray, cache_dir: Path | None) -> tuple[Any, ...]:
    """What the cells' patches depend on besides the backbone: the image, the centroids, the nuclei outlines."""
    from ..features import cached_sha256, image_fingerprint

    info = adata.uns.get(K.CELLS_UNS_KEY) or {}
    boxes = np.asarray(adata.obsm[K.CELL_BBOX_KEY], dtype=float) if K.CELL_BBOX_KEY in adata.obsm else None
    mask = None
    if info.get(K.CELLS_NUCLEI_FORMAT) == "mask" and info.get(K.CELLS_NUCLEI):
        mask = cached_sha256(info[K.CELLS_NUCLEI], cache_dir=cache_dir)
    return (image_fingerprint(image, cache_dir=cache_dir), xy, boxes, mask)


def _cached_descriptor(
    adata: AnnData,
    image: Any,
    xy: np.ndarray,
    ids: np.ndarray,
    key: tuple[Any, ...],
    *,
    patch_px: int,
    cache_dir: Path | None,
    progress: bool,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The weight-free descriptor of every cell, read from or written to the feature cache."""
    from ..features import cached_block

    names = list(_SHAPE) + list(_STAIN) + list(_CONTEXT) + list(_RADIAL)
    info: dict[str, Any] = {"backbone": K.DESCRIPTOR_BACKBONE, "weights": _DESCRIPTOR_SOURCE, "columns": names,
                            "patch": {"patch_px": int(patch_px)}}  # fmt: skip

    def describe() -> tuple[np.ndarray, dict[str, Any]]:
        return _describe_cells(image, xy, _Outlines(adata), patch_px=patch_px, progress=progress), info

    key_parts = () if cache_dir is None else (info, ids, *key)
    stem = f"cells-{K.DESCRIPTOR_BACKBONE}"
    return cached_block(describe, cache_dir=cache_dir, stem=stem, key_parts=key_parts, obs_names=ids)


def _crop(image: Any, x: float, y: float, side: int) -> np.ndarray:
    x0, y0 = round(x - side / 2), round(y - side / 2)
    return image.read(slice(y0, y0 + side), slice(x0, x0 + side))


class _Outlines:
    """Where each nucleus's outline comes from: the instance mask, else its box, else the stain alone.

    An instance mask (``read_cells`` with a mask) gives the exact nucleus; a box (CSV, HoVer-Net,
    GeoJSON) confines the haematoxylin blob to the nucleus; a bare centroid takes the blob under it,
    which merges touching nuclei — so shape features are only as good as the input allows.
    """

    def __init__(self, adata: AnnData):
        info = adata.uns.get(K.CELLS_UNS_KEY) or {}
        self.mask = None
        if info.get("nuclei_format") == "mask" and info.get("nuclei"):
            from ..io import read_instance_mask_pixels

            self.mask = read_instance_mask_pixels(info[K.CELLS_NUCLEI])
            self.ids = np.array([int(name) if str(name).isdigit() else -1 for name in adata.obs_names])
        self.boxes = np.asarray(adata.obsm[K.CELL_BBOX_KEY], dtype=float) if K.CELL_BBOX_KEY in adata.obsm else None

    def restrict(self, i: int, x0: int, y0: int, side: int) -> tuple[np.ndarray | None, bool]:
        """Pixels of the patch (top-left ``x0, y0``) the nucleus may occupy (``None``: anywhere), and whether exact."""
        if self.mask is not None and self.ids[i] > 0:
            out = np.zeros((side, side), dtype=bool)
            h, w = self.mask.shape
            cy0, cy1, cx0, cx1 = max(y0, 0), min(y0 + side, h), max(x0, 0), min(x0 + side, w)
            if cy0 < cy1 and cx0 < cx1:
                out[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0] = self.mask[cy0:cy1, cx0:cx1] == self.ids[i]
            if out.sum() >= 4:
                return out, True
        if self.boxes is not None and np.isfinite(self.boxes[i]).all():
            bx0, by0, bx1, by1 = self.boxes[i]
            rr, cc = np.ogrid[y0 : y0 + side, x0 : x0 + side]
            return (rr >= by0) & (rr < by1) & (cc >= bx0) & (cc < bx1), False
        return None, False


def _describe_cells(image: Any, xy: np.ndarray, outlines: _Outlines, *, patch_px: int, progress: bool) -> np.ndarray:
    from skimage.color import rgb2hed

    from ..features import haematoxylin_threshold

    threshold = haematoxylin_threshold(image)
    rings = _ring_index(patch_px + 2 * (patch_px // 2), radius=patch_px / 2)  # every wide crop has this side
    rows = []
    bar = progress_bar(xy, desc="cell descriptor", unit="cell", disable=not progress, mininterval=1.0)
    for i, (x, y) in enumerate(bar):
        x0, y0 = round(x - patch_px / 2), round(y - patch_px / 2)
        rows_wide = slice(y0 - patch_px // 2, y0 + patch_px + patch_px // 2)
        cols_wide = slice(x0 - patch_px // 2, x0 + patch_px + patch_px // 2)
        rgb = image.read(rows_wide, cols_wide).astype(np.float64) / 255.0
        hed = rgb2hed(rgb)
        inside = _inside_image(rows_wide, cols_wide, image.shape)
        centre = (slice(patch_px // 2, patch_px // 2 + patch_px),) * 2
        allowed, exact = outlines.restrict(i, x0, y0, patch_px)
        own = _describe_one(rgb[centre], hed[centre], threshold, allowed, exact=exact)
        rows.append(own + _surroundings(rgb, hed, inside) + _radial_profile(hed, inside, rings))
    return np.asarray(rows, dtype=np.float64)


def _describe_one(
    rgb: np.ndarray, hed: np.ndarray, threshold: float, allowed: np.ndarray | None, *, exact: bool
) -> list[float]:
    """Shape and stain of the nucleus in a patch (``rgb`` in [0, 1] and its ``hed`` deconvolution)."""
    from scipy import ndimage as ndi
    from skimage.filters import gaussian
    from skimage.measure import label, regionprops

    h, e = hed[..., 0], hed[..., 1]
    side = rgb.shape[0]
    centre = (side // 2, side // 2)
    if exact:
        nucleus = allowed  # an exact outline from the instance mask
    else:
        stained = gaussian(h, sigma=1.0) > threshold
        blobs = label(stained & allowed if allowed is not None else stained)
        nucleus = _component_at(blobs, centre)
        if nucleus is None and allowed is not None and allowed.any():
            nucleus = allowed
    if nucleus is None:  # no haematoxylin blob near the centroid: describe a small disc instead
        rr, cc = np.ogrid[:side, :side]
        nucleus = (rr - centre[0]) ** 2 + (cc - centre[1]) ** 2 <= (side / 8) ** 2
        found = 0.0
    else:
        found = 1.0
    region = regionprops(nucleus.astype(np.uint8))[0]
    ring = ndi.binary_dilation(nucleus, iterations=3) & ~nucleus
    shape = [
        np.log(region.area), region.perimeter**2 / region.area, region.eccentricity, region.solidity,
        region.extent, region.axis_minor_length, found,
    ]  # fmt: skip
    stain = []
    for channel in (h, e, rgb[..., 0], rgb[..., 1], rgb[..., 2]):
        values = channel[nucleus]
        stain += [values.mean(), values.std(), *np.quantile(values, (0.1, 0.5, 0.9))]
    stain += [h[ring].mean() if ring.any() else h.mean(), e[ring].mean() if ring.any() else e.mean()]
    return [float(v) for v in shape + stain]


def _inside_image(rows: slice, cols: slice, shape: tuple[int, int]) -> np.ndarray:
    """Which pixels of the crop ``rows`` x ``cols`` lie inside an image of ``shape`` (height, width)."""
    height, width = shape[:2]
    inside_rows = (np.arange(rows.start, rows.stop) >= 0) & (np.arange(rows.start, rows.stop) < height)
    inside_cols = (np.arange(cols.start, cols.stop) >= 0) & (np.arange(cols.start, cols.stop) < width)
    return inside_rows[:, None] & inside_cols[None, :]


def _surroundings(rgb: np.ndarray, hed: np.ndarray, inside: np.ndarray) -> list[float]:
    """Pale fraction, haematoxylin, eosin and grey level in centred squares of growing side.

    ``rgb`` (in [0, 1]) and ``hed`` are the wide crop, twice the patch side. Only pixels
    ``inside`` the image count: past the edge of a tile is unknown, not pale glass, and counting
    it as glass made every cell near an edge look like a gland-lining one.
    """
    from skimage.color import rgb2gray

    grey = rgb2gray(rgb)
    side = rgb.shape[0] / 2  # the wide crop is twice the patch side
    centre = rgb.shape[0] // 2
    out = []
    for scale in _CONTEXT_SCALES:
        half = max(1, round(scale * side))
        window = (slice(centre - half, centre + half + 1),) * 2
        known = inside[window]  # never empty: the centroid lies inside the image
        out += [
            (grey[window][known] > _PALE).mean(),
            hed[window][..., 0][known].mean(),
            hed[window][..., 1][known].mean(),
            grey[window][known].mean(),
        ]
    return [float(v) for v in out]


def _ring_index(side: int, *, radius: float) -> np.ndarray:
    """Which ring each pixel of a ``side`` x ``side`` crop falls in: 0 … ``_RINGS`` - 1, ``_RINGS`` past the last.

    The rings have equal width and reach ``radius`` from the crop's centre.
    """
    rows, cols = np.indices((side, side))
    distance = np.hypot(rows - (side - 1) / 2, cols - (side - 1) / 2)
    return np.minimum((distance / radius * _RINGS).astype(int), _RINGS)


def _radial_profile(hed: np.ndarray, inside: np.ndarray, rings: np.ndarray) -> list[float]:
    """Mean haematoxylin, then eosin, in each ring of ``rings`` (see :func:`_ring_index`).

    Pixels past the image edge do not count; a ring with none left repeats the ring inside it.
    """
    out = []
    for channel in (hed[..., 0], hed[..., 1]):
        previous = float(channel[inside].mean())
        for k in range(_RINGS):
            members = (rings == k) & inside
            previous = float(channel[members].mean()) if members.any() else previous
            out.append(previous)
    return out


def _component_at(blobs: np.ndarray, centre: tuple[int, int], reach: int = 4) -> np.ndarray | None:
    """The labelled component under ``centre``, else the one nearest to it within ``reach`` pixels."""
    cy, cx = centre
    if blobs[cy, cx]:
        return blobs == blobs[cy, cx]
    window = blobs[max(cy - reach, 0) : cy + reach + 1, max(cx - reach, 0) : cx + reach + 1]
    if not window.any():
        return None
    rr, cc = np.nonzero(window)
    nearest = np.argmin((rr - min(cy, reach)) ** 2 + (cc - min(cx, reach)) ** 2)
    return blobs == window[rr[nearest], cc[nearest]]


class _CellPatches:
    """Map-style dataset of cell patches: ``patch_px`` square around each centroid, resized to ``size``."""

    def __init__(self, image: Any, xy: np.ndarray, *, patch_px: int, size: int):
        self.image, self.xy, self.patch_px, self.size = image, xy, patch_px, size

    def __len__(self) -> int:
        return len(self.xy)

    def __getitem__(self, i: int) -> np.ndarray:
        from PIL import Image

        x, y = self.xy[i]
        crop = Image.fromarray(_crop(self.image, x, y, self.patch_px))
        return np.array(crop.resize((self.size, self.size), Image.BILINEAR))  # writable, for torch


def _crowding(xy: np.ndarray, *, radius: float) -> np.ndarray:
    """Neighbours within one and two patch sides, and mean distance to the five nearest."""
    from scipy.spatial import cKDTree

    tree = cKDTree(xy)
    k = min(6, len(xy))
    distance, _ = tree.query(xy, k=k)
    distance = np.atleast_2d(distance)[:, 1:]
    counts = [np.array([len(n) - 1 for n in tree.query_ball_point(xy, r)]) for r in (radius, 2 * radius)]
    return np.column_stack([*counts, distance.mean(axis=1) if distance.size else np.zeros(len(xy))])
