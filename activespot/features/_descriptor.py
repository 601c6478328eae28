"""The weight-free morphology descriptor: stain statistics and texture of each H&E patch.

Foundation-model weights are gated or too large for many machines; a project must still start
offline. Haematoxylin (nuclei) and eosin (cytoplasm, stroma) amounts and their spread separate
cellular from fibrous or empty tissue, and grey-level texture (GLCM, local binary patterns)
separates dense nuclei from smooth stroma — enough for a first model, and every output names
these features so nobody mistakes them for a foundation-model embedding.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DESCRIPTOR_INPUT_SIZE", "describe_patches", "descriptor_feature_names"]

# Side of the square the patch is resampled to before description: large enough for texture at
# two distances, small enough that describing a section takes seconds.
DESCRIPTOR_INPUT_SIZE = 64
_QUANTILES = (0.1, 0.5, 0.9)
_GLCM_LEVELS = 32
_GLCM_DISTANCES = (1, 2)
_GLCM_ANGLES = (0.0, np.pi / 4, np.pi / 2, 3 * np.pi / 4)
_GLCM_PROPS = ("contrast", "dissimilarity", "homogeneity", "energy", "correlation")
_LBP_POINTS = 8
_LBP_RADIUS = 1
_LBP_BINS = _LBP_POINTS + 2  # "uniform" LBP codes 0..P+1


def descriptor_feature_names() -> list[str]:
    """Name of every descriptor column, in order (stored with the features so they stay readable)."""
    names = []
    for stain in ("haematoxylin", "eosin"):
        names += [f"{stain}_mean", f"{stain}_std"] + [f"{stain}_q{int(q * 100)}" for q in _QUANTILES]
    names += [f"{c}_{stat}" for c in ("red", "green", "blue") for stat in ("mean", "std")]
    names += [f"glcm_{prop}_d{d}" for d in _GLCM_DISTANCES for prop in _GLCM_PROPS]
    names += [f"lbp_{code}" for code in range(_LBP_BINS)]
    return names


def describe_patches(patches: np.ndarray) -> np.ndarray:
    """Describe a batch of uint8 RGB patches (N, H, W, 3) as float32 rows (N, n_features).

    The whole batch is computed at once (array operations, no loop over patches), so a batch
    costs little more than one numpy pass over its pixels and releases the GIL while it runs:
    threads describing different batches use every core.

    Parameters
    ----------
    patches
        RGB patches, as cropped by :class:`~activespot.features.SpotPatches`.

    Returns
    -------
    One row per patch; columns are named by :func:`descriptor_feature_names`.
    """
    from skimage.color import rgb2gray, rgb2hed

    patches = np.asarray(patches)
    if patches.ndim != 4 or patches.shape[-1] != 3:
        msg = f"Patches must be an (N, H, W, 3) RGB batch; got shape {patches.shape}."
        raise ValueError(msg)
    n = patches.shape[0]
    rgb = patches.astype(np.float64) / 255.0
    hed = rgb2hed(rgb).reshape(n, -1, 3)
    stains = [
        np.column_stack([channel.mean(axis=1), channel.std(axis=1), np.quantile(channel, _QUANTILES, axis=1).T])
        for channel in (hed[..., 0], hed[..., 1])
    ]
    pixels = rgb.reshape(n, -1, 3)
    colour = np.stack([pixels.mean(axis=1), pixels.std(axis=1)], axis=2).reshape(n, -1)  # r mean, r std, g ...
    grey = rgb2gray(rgb)
    levels = np.minimum((grey * _GLCM_LEVELS).astype(np.int64), _GLCM_LEVELS - 1)
    texture = _glcm_texture(levels)
    lbp = _uniform_lbp_histogram((grey * 255).astype(np.uint8).astype(np.float64))
    return np.hstack([*stains, colour, texture, lbp]).astype(np.float32)


def _glcm_texture(levels: np.ndarray) -> np.ndarray:
    """GLCM properties per patch (N, distances × props), each averaged over the four directions.

    Tissue has no preferred orientation on the slide, hence the average. The co-occurrences of
    all patches are counted in one ``bincount`` per offset (scikit-image's ``graycomatrix``
    offsets, symmetric and normalised); ``graycoprops`` then reads every patch's matrices at once.
    A flat patch has an undefined correlation (zero variance); scikit-image reports it as 1.
    """
    from skimage.feature import graycoprops

    n, height, width = levels.shape
    glcm = np.empty((_GLCM_LEVELS, _GLCM_LEVELS, len(_GLCM_DISTANCES), len(_GLCM_ANGLES), n))
    first = np.arange(n)[:, None, None] * _GLCM_LEVELS
    for d_index, distance in enumerate(_GLCM_DISTANCES):
        for a_index, angle in enumerate(_GLCM_ANGLES):
            dr, dc = round(np.sin(angle) * distance), round(np.cos(angle) * distance)
            rows = slice(max(0, -dr), min(height, height - dr))
            cols = slice(max(0, -dc), min(width, width - dc))
            shifted = levels[:, rows.start + dr : rows.stop + dr, cols.start + dc : cols.stop + dc]
            codes = (first + levels[:, rows, cols]) * _GLCM_LEVELS + shifted
            counts = np.bincount(codes.ravel(), minlength=n * _GLCM_LEVELS**2).reshape(n, _GLCM_LEVELS, _GLCM_LEVELS)
            glcm[:, :, d_index, a_index] = (counts + counts.transpose(0, 2, 1)).transpose(1, 2, 0)
    stacked = glcm.reshape(_GLCM_LEVELS, _GLCM_LEVELS, len(_GLCM_DISTANCES), -1)  # (angle, patch) flattened
    props = [
        graycoprops(stacked, prop).reshape(len(_GLCM_DISTANCES), len(_GLCM_ANGLES), n).mean(axis=1)
        for prop in _GLCM_PROPS
    ]
    return np.stack(props, axis=0).transpose(2, 1, 0).reshape(n, -1)  # per patch: d1 props, then d2 props


def _uniform_lbp_histogram(grey: np.ndarray) -> np.ndarray:
    """Share of each "uniform" local binary pattern code (P=8, R=1) per patch, as scikit-image computes them.

    Neighbours are sampled on the circle by bilinear interpolation with zero padding, with the
    operations in scikit-image's order so that ties (a neighbour equal to the centre) resolve the
    same way; a pattern with at most two 0/1 changes (not counting the wrap) is coded by its
    number of ones, any other by P + 1.
    """
    n, height, width = grey.shape
    padded = np.pad(grey, ((0, 0), (2, 2), (2, 2)))
    angles = 2 * np.pi * np.arange(_LBP_POINTS, dtype=np.float64) / _LBP_POINTS
    row_offsets = np.round(-_LBP_RADIUS * np.sin(angles), 5)
    col_offsets = np.round(_LBP_RADIUS * np.cos(angles), 5)
    above = np.empty((_LBP_POINTS, n, height, width), dtype=bool)
    for p, (row_offset, col_offset) in enumerate(zip(row_offsets, col_offsets, strict=True)):
        # Each neighbour is the same whole-pixel shift for every pixel (the offsets are not near an
        # integer boundary), so the four corners are slices; the fractions are computed per row and
        # column as scikit-image computes them.
        r = np.arange(height, dtype=np.float64) + row_offset
        c = np.arange(width, dtype=np.float64) + col_offset
        dr, dc = (r - np.floor(r))[None, :, None], (c - np.floor(c))[None, None, :]
        low_r, high_r = int(np.floor(row_offset)), int(np.ceil(row_offset))
        low_c, high_c = int(np.floor(col_offset)), int(np.ceil(col_offset))
        top = (1 - dc) * _shifted(padded, low_r, low_c, grey.shape) + dc * _shifted(padded, low_r, high_c, grey.shape)
        bottom = (1 - dc) * _shifted(padded, high_r, low_c, grey.shape) + dc * _shifted(
            padded, high_r, high_c, grey.shape
        )
        above[p] = (1 - dr) * top + dr * bottom - grey >= 0
    changes = (above[1:] != above[:-1]).sum(axis=0)
    codes = np.where(changes <= 2, above.sum(axis=0), _LBP_POINTS + 1)
    first = np.arange(n)[:, None, None] * _LBP_BINS
    counts = np.bincount((first + codes).ravel(), minlength=n * _LBP_BINS).reshape(n, _LBP_BINS)
    return counts / (height * width)


def _shifted(padded: np.ndarray, row_shift: int, col_shift: int, shape: tuple[int, ...]) -> np.ndarray:
    """The padded (by 2) images of a batch moved by whole pixels: (r, c) reads pixel (r + row_shift, c + col_shift)."""
    _, height, width = shape
    return padded[:, 2 + row_shift : 2 + row_shift + height, 2 + col_shift : 2 + col_shift + width]
