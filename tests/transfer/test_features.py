"""Joint features: genes matched by name, Harmony reaching the expression block, per-sample context."""

from __future__ import annotations

import numpy as np
import pytest

from activespot import _constants as K
from activespot.config import FeaturesConfig
from activespot.transfer import harmonize, joint_feature_blocks

CONFIG = FeaturesConfig(n_top_genes=300, n_pcs=20, context_rings=1)


@pytest.fixture(scope="module")
def caches(tmp_path_factory):
    """Embedding caches, so each sample's morphology is computed once in this module."""
    return [tmp_path_factory.mktemp("cache_a"), tmp_path_factory.mktemp("cache_b")]


@pytest.fixture(scope="module")
def joint(samples, caches):
    """Blocks without and with Harmony."""
    pair = [samples["151673"], samples["151674"]]
    plain, plain_info = joint_feature_blocks(pair, CONFIG, harmony=False, cache_dirs=caches, progress=False)
    corrected, corrected_info = joint_feature_blocks(pair, CONFIG, harmony=True, cache_dirs=caches, progress=False)
    return plain, plain_info, corrected, corrected_info


def test_genes_are_matched_by_name_not_position(samples, joint, caches):
    plain, info, _, _ = joint
    source, target = samples["151673"], samples["151674"]
    assert info["common_genes"] == len(set(source.var_names) & set(target.var_names))
    assert 0 < info["common_genes"] < min(source.n_vars, target.n_vars)  # panels only partly shared
    assert info["genes_per_sample"] == [source.n_vars, target.n_vars]
    shuffled = target[:, np.random.default_rng(0).permutation(target.n_vars)].copy()
    assert not np.array_equal(shuffled.var_names, target.var_names)
    again, again_info = joint_feature_blocks(
        [source, shuffled],
        CONFIG.model_copy(update={"context_rings": 0}),
        harmony=False,
        cache_dirs=caches,
        progress=False,
    )
    assert again_info["common_genes"] == info["common_genes"]
    np.testing.assert_allclose(again[1][K.EXPR_KEY], plain[1][K.EXPR_KEY], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(again[0][K.EXPR_KEY], plain[0][K.EXPR_KEY], rtol=1e-4, atol=1e-4)


def test_harmony_changes_only_the_expression_block(joint):
    plain, _, corrected, info = joint
    assert info["harmony"]
    assert "Harmony" in info[K.EXPR_KEY]["recipe"]
    for i in range(2):
        assert plain[i][K.EXPR_KEY].shape == corrected[i][K.EXPR_KEY].shape
        assert not np.allclose(plain[i][K.EXPR_KEY], corrected[i][K.EXPR_KEY], atol=1e-2)
        np.testing.assert_array_equal(plain[i][K.MORPH_KEY], corrected[i][K.MORPH_KEY])
    # the context is recomputed from the corrected expression
    assert not np.allclose(plain[1][K.CONTEXT_KEY], corrected[1][K.CONTEXT_KEY], atol=1e-2)
    # ...and the corrected block is Harmony's output on the joint PCs
    stacked = np.vstack([plain[0][K.EXPR_KEY], plain[1][K.EXPR_KEY]])
    batches = np.repeat(["0", "1"], [len(plain[0][K.EXPR_KEY]), len(plain[1][K.EXPR_KEY])])
    np.testing.assert_allclose(
        harmonize(stacked, batches), np.vstack([corrected[0][K.EXPR_KEY], corrected[1][K.EXPR_KEY]]), atol=1e-4
    )


def test_context_uses_each_samples_own_graph(samples, joint):
    from activespot.features import context_features

    plain, _, _, _ = joint
    target = plain[1]
    own = {K.MORPH_KEY: target[K.MORPH_KEY], K.EXPR_KEY: target[K.EXPR_KEY]}
    expected, _ = context_features(samples["151674"], own, rings=1)
    np.testing.assert_allclose(target[K.CONTEXT_KEY], expected, rtol=1e-5)


def test_morphology_is_standardised_per_sample(joint):
    plain, _, _, _ = joint
    for blocks in plain:
        np.testing.assert_allclose(blocks[K.MORPH_KEY].mean(axis=0), 0, atol=1e-4)


def test_harmonize_pulls_shifted_batches_together():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 10)) * 5
    a = centres[rng.integers(3, size=300)] + rng.normal(size=(300, 10))
    b = centres[rng.integers(3, size=300)] + rng.normal(size=(300, 10)) + 3.0  # a batch offset
    corrected = harmonize(np.vstack([a, b]), ["a"] * 300 + ["b"] * 300)
    assert corrected.shape == (600, 10)
    before = np.linalg.norm(a.mean(axis=0) - b.mean(axis=0))
    after = np.linalg.norm(corrected[:300].mean(axis=0) - corrected[300:].mean(axis=0))
    assert after < before / 3


@pytest.mark.parametrize(
    ("embedding", "batches", "match"),
    [(np.zeros((4, 2)), ["a"] * 4, "at least 2 distinct"), (np.zeros((4, 2)), ["a", "b"], "one entry per row")],
)
def test_harmonize_refuses_bad_input(embedding, batches, match):
    with pytest.raises(ValueError, match=match):
        harmonize(embedding, batches)


def test_joint_blocks_need_two_samples(samples):
    with pytest.raises(ValueError, match="at least 2 samples"):
        joint_feature_blocks([samples["151673"]], CONFIG)
