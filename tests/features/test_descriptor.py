import numpy as np

from activespot.features import describe_patches, descriptor_feature_names


def _patch(colour, *, noise=0, seed=0):
    rng = np.random.default_rng(seed)
    patch = np.full((64, 64, 3), colour, dtype=float) + rng.normal(0, noise, (64, 64, 3)) if noise else None
    patch = np.full((64, 64, 3), colour, dtype=float) if patch is None else patch
    return np.clip(patch, 0, 255).astype(np.uint8)


def test_names_match_columns_and_values_are_finite():
    patches = np.stack([_patch((90, 40, 160), noise=20), _patch((255, 255, 255))])
    described = describe_patches(patches)
    names = descriptor_feature_names()
    assert described.shape == (2, len(names))
    assert described.dtype == np.float32
    assert len(set(names)) == len(names)
    assert np.isfinite(described).all()


def test_nuclei_stain_more_haematoxylin_than_stroma():
    nuclei, stroma = describe_patches(np.stack([_patch((90, 40, 160)), _patch((240, 130, 180))]))
    h, e = descriptor_feature_names().index("haematoxylin_mean"), descriptor_feature_names().index("eosin_mean")
    assert nuclei[h] > stroma[h]
    assert nuclei[h] - nuclei[e] > stroma[h] - stroma[e]


def test_texture_separates_rough_from_smooth_and_is_deterministic():
    rough, smooth = _patch((150, 100, 170), noise=40), _patch((150, 100, 170))
    first = describe_patches(np.stack([rough, smooth]))
    contrast = descriptor_feature_names().index("glcm_contrast_d1")
    assert first[0, contrast] > first[1, contrast]
    np.testing.assert_array_equal(first, describe_patches(np.stack([rough, smooth])))


def _reference_texture(patch):
    """scikit-image's per-patch GLCM properties and uniform LBP histogram, the definition the batch code follows."""
    from skimage.color import rgb2gray
    from skimage.feature import graycomatrix, graycoprops, local_binary_pattern

    grey = rgb2gray(patch.astype(np.float64) / 255.0)
    levels = np.minimum((grey * 32).astype(np.uint8), 31)
    glcm = graycomatrix(
        levels, (1, 2), (0, np.pi / 4, np.pi / 2, 3 * np.pi / 4), levels=32, symmetric=True, normed=True
    )
    props = ("contrast", "dissimilarity", "homogeneity", "energy", "correlation")
    texture = np.stack([graycoprops(glcm, prop).mean(axis=1) for prop in props]).T.ravel()
    codes = local_binary_pattern((grey * 255).astype(np.uint8), 8, 1, method="uniform")
    return np.concatenate([texture, np.bincount(codes.astype(int).ravel(), minlength=10) / codes.size])


def test_the_batch_descriptor_equals_scikit_image_patch_by_patch():
    from scipy import ndimage

    rng = np.random.default_rng(3)
    patches = rng.integers(0, 256, (12, 64, 64, 3), dtype=np.uint8)
    patches[0] = 128  # flat: undefined correlation, every LBP neighbour ties with its centre
    patches[1, :, :32] = 10  # an edge
    patches[2:8] = ndimage.uniform_filter(patches[2:8].astype(float), (0, 5, 5, 0)).astype(np.uint8)  # smooth
    names = descriptor_feature_names()
    first = names.index("glcm_contrast_d1")
    described = describe_patches(patches)
    for patch, row in zip(patches, described, strict=True):
        np.testing.assert_allclose(row[first:], _reference_texture(patch), rtol=1e-5, atol=1e-6)
