import logging

import numpy as np
import pytest
from anndata import AnnData

from activespot.features import expression_features, joint_expression_features

from .conftest import make_section


def test_hvgs_then_pca_leave_counts_untouched(section):
    before = section.X.copy()
    block, info = expression_features(section, n_top_genes=10, n_pcs=5)
    assert block.shape == (section.n_obs, 5)
    assert block.dtype == np.float32
    assert info["n_genes"] == 10
    assert len(info["genes"]) == 10
    assert info["n_pcs"] == 5
    assert 0 < info["variance_explained"] <= 1
    assert (before != section.X).nnz == 0
    assert "highly_variable" not in section.var


def test_without_pca_the_block_is_log_normalised_expression(section):
    block, info = expression_features(section, n_top_genes=10, n_pcs=None)
    genes = info["genes"]
    counts = section[:, genes].X.toarray()
    totals = np.asarray(section.X.sum(axis=1))
    np.testing.assert_allclose(block, np.log1p(counts / totals * 1e4), rtol=1e-5)


def test_more_genes_requested_than_measured_is_capped_with_a_notice(section, caplog):
    with caplog.at_level(logging.WARNING, logger="activespot.features"):
        block, info = expression_features(section, n_top_genes=1000, n_pcs=None)
    assert block.shape == (section.n_obs, section.n_vars)
    assert info["n_genes"] == section.n_vars
    assert "1000 highly variable genes requested but only 30" in caplog.text


def test_labels_never_change_the_features(section):
    first, _ = expression_features(section, n_top_genes=10, n_pcs=5)
    section.obs["layer"] = np.where(np.arange(section.n_obs) % 2, "L1", "L2")
    again, _ = expression_features(section, n_top_genes=10, n_pcs=5)
    np.testing.assert_array_equal(first, again)


def test_joint_features_align_genes_by_name_and_report_overlap():
    a = make_section(n_genes=30, seed=1)
    b = make_section(rows=4, n_genes=30, seed=2)
    b = AnnData(b.X[:, ::-1][:, 5:], obs=b.obs, var=b.var.iloc[::-1].iloc[5:])  # other order, 5 genes fewer
    blocks, info = joint_expression_features([a, b], n_top_genes=12, n_pcs=4)
    assert [x.shape for x in blocks] == [(a.n_obs, 4), (b.n_obs, 4)]
    assert info["genes_per_sample"] == [30, 25]
    assert info["common_genes"] == 25
    assert set(info["genes"]) <= set(b.var_names)
    assert len(info["genes"]) == 12

    # Aligned by name: the same sample with its genes shuffled gives the same features.
    shuffled = a[:, np.random.default_rng(0).permutation(a.n_vars)].copy()
    again, _ = joint_expression_features([shuffled, b], n_top_genes=12, n_pcs=4)
    np.testing.assert_allclose(np.abs(again[0]), np.abs(blocks[0]), rtol=1e-4, atol=1e-4)


def test_invalid_expression_input(section):
    with pytest.raises(ValueError, match="no genes"):
        expression_features(section[:, []].copy())
    section.X = -section.X
    with pytest.raises(ValueError, match="negative values"):
        expression_features(section)
    with pytest.raises(ValueError, match="share no gene names"):
        joint_expression_features([make_section(), _renamed(make_section())])


def _renamed(adata):
    adata.var_names = [f"other{i}" for i in range(adata.n_vars)]
    return adata
