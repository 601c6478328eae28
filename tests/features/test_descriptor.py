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
