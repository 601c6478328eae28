import numpy as np
import pytest

from activespot import _constants as K
from activespot.config import FeaturesConfig
from activespot.errors import InputFileError
from activespot.features import compute_features, feature_blocks, read_features, write_features


@pytest.fixture
def small_config():
    return FeaturesConfig(n_top_genes=10, n_pcs=5, batch_size=16)


def test_blocks_and_provenance_are_written(section, small_config, tmp_path):
    compute_features(section, small_config, cache_dir=tmp_path, progress=False)
    blocks = feature_blocks(section)
    assert list(blocks) == [K.MORPH_KEY, K.EXPR_KEY, K.CONTEXT_KEY]
    morph_dim = blocks[K.MORPH_KEY].shape[1]
    assert blocks[K.EXPR_KEY].shape == (section.n_obs, 5)
    assert blocks[K.CONTEXT_KEY].shape == (section.n_obs, morph_dim + 5)
    provenance = section.uns[K.FEATURES_UNS_KEY]
    assert provenance[K.MORPH_KEY]["weights"] == "none: weight-free descriptor"
    assert provenance[K.MORPH_KEY]["patch"]["image"] == "hires"
    assert provenance[K.CONTEXT_KEY]["sources"] == {K.MORPH_KEY: morph_dim, K.EXPR_KEY: 5}
    assert provenance["config"]["n_top_genes"] == 10
    section.write_h5ad(tmp_path / "with_features.h5ad")  # provenance is storable


def test_copy_leaves_the_input_alone_and_blocks_can_be_switched_off(section, small_config):
    config = small_config.model_copy(update={"expression": False, "context_rings": 0})
    out = compute_features(section, config, copy=True, progress=False)
    assert K.MORPH_KEY not in section.obsm
    assert list(feature_blocks(out)) == [K.MORPH_KEY]


def test_stored_features_come_back_by_barcode(section, small_config, tmp_path):
    compute_features(section, small_config, progress=False)
    path = write_features(section, tmp_path / K.FEATURES_FILE)
    shuffled = section[np.random.default_rng(0).permutation(section.n_obs)].copy()
    for key in K.FEATURE_BLOCKS:
        del shuffled.obsm[key]
    read_features(shuffled, path)
    for key, block in feature_blocks(section).items():
        np.testing.assert_array_equal(
            feature_blocks(shuffled)[key], block[[section.obs_names.get_loc(n) for n in shuffled.obs_names]]
        )
    assert shuffled.uns[K.FEATURES_UNS_KEY][K.MORPH_KEY]["backbone"] == "descriptor"

    other = section.copy()
    other.obs_names = [f"x{i}" for i in range(other.n_obs)]
    with pytest.raises(InputFileError, match=r"48 spots have no stored features \(e\.g\. x0, x1, x2\)"):
        read_features(other, path)
    with pytest.raises(InputFileError, match="features file not found"):
        read_features(other, tmp_path / "nothing.npz")


def test_what_a_block_needs_is_checked_first(section):
    no_genes = section[:, []].copy()
    with pytest.raises(ValueError, match=r"no expression matrix.*--no-expression"):
        compute_features(no_genes, FeaturesConfig())
    with pytest.raises(ValueError, match="backbone must be one of descriptor"):
        compute_features(section, FeaturesConfig(backbone="unknown"))
    with pytest.raises(ValueError, match="the descriptor uses none"):
        compute_features(section, FeaturesConfig(weights="uni.bin"))
    with pytest.raises(ValueError, match="none of the feature blocks"):
        feature_blocks(section)


def test_every_block_is_cached_by_its_inputs_and_settings(section, small_config, tmp_path, monkeypatch):
    from activespot.features import _compute

    compute_features(section, small_config, cache_dir=tmp_path, progress=False)
    first = feature_blocks(section)

    def must_not_run(*args, **kwargs):
        raise AssertionError("recomputed a cached block")

    with monkeypatch.context() as patched:
        patched.setattr(_compute, "expression_features", must_not_run)
        patched.setattr(_compute, "context_features", must_not_run)
        compute_features(section, small_config, cache_dir=tmp_path, progress=False)
    provenance = section.uns[K.FEATURES_UNS_KEY]
    assert all(provenance[key]["cache_hit"] for key in K.FEATURE_BLOCKS)
    for key, block in feature_blocks(section).items():
        np.testing.assert_array_equal(block, first[key])

    # Other settings, or other counts, are other keys.
    compute_features(section, small_config.model_copy(update={"n_pcs": 4}), cache_dir=tmp_path, progress=False)
    provenance = section.uns[K.FEATURES_UNS_KEY]
    assert not provenance[K.EXPR_KEY]["cache_hit"]
    assert not provenance[K.CONTEXT_KEY]["cache_hit"]  # it averages the new expression block
    section.X[0, 0] += 1
    compute_features(section, small_config, cache_dir=tmp_path, progress=False)
    provenance = section.uns[K.FEATURES_UNS_KEY]
    assert provenance[K.MORPH_KEY]["cache_hit"]
    assert not provenance[K.EXPR_KEY]["cache_hit"]
