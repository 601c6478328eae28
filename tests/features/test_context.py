import numpy as np
import pytest

from activespot import _constants as K
from activespot.features import context_features, spatial_graph


def test_hex_ring_neighbours_are_averaged(section):
    features = np.arange(section.n_obs, dtype=np.float32)[:, None] * [1.0, 10.0]
    context, info = context_features(section, {"X_morph": features}, rings=1)
    assert info["method"] == "grid"
    assert info["n_neighs"] == 6
    rows, cols = section.obs[K.ARRAY_ROW].to_numpy(), section.obs[K.ARRAY_COL].to_numpy()
    interior = np.flatnonzero((rows == 2) & (cols == 6))[0]
    dr, dc = np.abs(rows - rows[interior]), np.abs(cols - cols[interior])
    ring = np.flatnonzero(((dr == 0) & (dc == 2)) | ((dr == 1) & (dc == 1)))
    assert len(ring) == 6
    np.testing.assert_allclose(context[interior], features[ring].mean(axis=0), rtol=1e-6)


def test_blocks_are_concatenated_and_rings_grow(section):
    one, _ = spatial_graph(section, rings=1)
    two, info = spatial_graph(section, rings=2)
    assert one.diagonal().sum() == 0
    assert (two.multiply(one) != one).nnz == 0
    assert info["mean_neighbours"] > one.getnnz(axis=1).mean()
    blocks = {"a": np.ones((section.n_obs, 2)), "b": np.zeros((section.n_obs, 3))}
    context, info = context_features(section, blocks, rings=2)
    assert context.shape == (section.n_obs, 5)
    assert info["sources"] == {"a": 2, "b": 3}


def test_without_a_grid_nearest_neighbours_are_used(section):
    section.obs = section.obs.drop(columns=[K.ARRAY_ROW, K.ARRAY_COL])
    graph, info = spatial_graph(section, rings=1)
    assert info["method"] == "knn"
    assert info["n_neighs"] == 6
    assert (graph.getnnz(axis=1) >= 6).all()


def test_isolated_spot_keeps_its_own_features(section):
    section.obsm[K.SPATIAL_KEY][0] = [1e5, 1e5]
    features = np.arange(section.n_obs, dtype=np.float32)[:, None]
    context, info = context_features(section, {"X_morph": features})
    assert info["isolated_spots"] >= 1
    assert context[0, 0] == 0.0


def test_context_input_is_checked(section):
    with pytest.raises(ValueError, match="rings must be an integer >= 1; got 0"):
        spatial_graph(section, rings=0)
    with pytest.raises(ValueError, match=r"shape \(n_spots=48, n_features\); got \(3, 2\)"):
        context_features(section, {"X_morph": np.ones((3, 2))})
