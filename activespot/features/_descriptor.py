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

    Parameters
    ----------
    patches
        RGB patches, as cropped by :class:`~activespot.features.SpotPatches`.

    Returns
    -------
    One row per patch; columns are named by :func:`descriptor_feature_names`.
    """
    return np.stack([_describe(patch) for patch in patches]).astype(np.float32)


def _describe(patch: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2gray, rgb2hed
    from skimage.feature import graycomatrix, graycoprops, local_binary_pattern

    rgb = patch.astype(np.float64) / 255.0
    hed = rgb2hed(rgb)
    stains = [
        np.concatenate(([channel.mean(), channel.std()], np.quantile(channel, _QUANTILES)))
        for channel in (hed[..., 0], hed[..., 1])
    ]
    colour = np.stack([rgb.mean(axis=(0, 1)), rgb.std(axis=(0, 1))], axis=1).ravel()

    grey = rgb2gray(rgb)
    levels = np.minimum((grey * _GLCM_LEVELS).astype(np.uint8), _GLCM_LEVELS - 1)
    glcm = graycomatrix(levels, _GLCM_DISTANCES, _GLCM_ANGLES, levels=_GLCM_LEVELS, symmetric=True, normed=True)
    # Averaged over the four directions: tissue has no preferred orientation on the slide.
    # A flat patch has an undefined correlation (zero variance); scikit-image reports it as 1.
    texture = np.concatenate([graycoprops(glcm, prop).mean(axis=1) for prop in _GLCM_PROPS])
    texture = texture.reshape(len(_GLCM_PROPS), len(_GLCM_DISTANCES)).T.ravel()

    codes = local_binary_pattern((grey * 255).astype(np.uint8), _LBP_POINTS, _LBP_RADIUS, method="uniform")
    lbp = np.bincount(codes.astype(np.int64).ravel(), minlength=_LBP_BINS) / codes.size
    return np.concatenate([*stains, colour, texture, lbp])
