"""Visium HD features: the square grid, tile-grid morphology and neighbourhood-pooled expression.

The section is the synthetic HD output of ``benchmarks/synthetic_hd.py`` (Voronoi regions of six
classes with their own marker genes and stain): small here, the same code as the 640k benchmark.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData

from activespot import _constants as K
from activespot.config import FeaturesConfig
from activespot.features import compute_features, spatial_graph
from activespot.features._grid import SquareGrid
from activespot.features._patches import TilePatches

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

_BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _synthetic_hd():
    spec = importlib.util.spec_from_file_location("synthetic_hd", _BENCHMARKS / "synthetic_hd.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def hd_section(tmp_path_factory):
    """A 60 x 60 grid of 8 µm bins (3,600) with its planted classes."""
    from activespot.io import read_visium

    folder = tmp_path_factory.mktemp("hd")
    paths = _synthetic_hd().build_hd_outs(folder, side=60, n_genes=800, n_regions=8, seed=1)
    adata = read_visium(paths["outs"])
    truth = pd.read_csv(paths["truth_008um"], index_col=0)["Region"].reindex(adata.obs_names)
    return adata, truth.to_numpy()


def test_grid_neighbours_are_the_bins_within_the_rings_on_a_holed_grid():
    rng = np.random.default_rng(0)
    rows, cols = np.divmod(rng.permutation(100)[:70], 10)  # 70 of 100 positions: holes and edges
    graph = SquareGrid.from_positions(rows + 5, cols + 7).neighbour_graph(rings=2)
    chebyshev = np.maximum(np.abs(rows[:, None] - rows[None]), np.abs(cols[:, None] - cols[None]))
    expected = (chebyshev <= 2) & (chebyshev > 0)
    np.testing.assert_array_equal(graph.toarray() > 0, expected)


def test_the_gaussian_over_the_grid_is_a_weighted_mean_of_the_bins_that_exist():
    from scipy import ndimage

    rows, cols = np.divmod(np.array([0, 1, 2, 11, 12, 13, 24, 35, 47, 48]), 12)
    grid = SquareGrid.from_positions(rows, cols)
    values = np.arange(20, dtype=np.float32).reshape(10, 2)
    smoothed = grid.gaussian(values, sigma_bins=1.5)
    distance2 = (rows[:, None] - rows[None]) ** 2 + (cols[:, None] - cols[None]) ** 2
    one_d = ndimage.gaussian_filter1d(np.eye(25)[12], 1.5, truncate=3.0)  # scipy's discrete kernel
    kernel = one_d[12 + (rows[:, None] - rows[None])] * one_d[12 + (cols[:, None] - cols[None])]
    kernel[distance2 > 20**2] = 0
    expected = kernel @ values / kernel.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(smoothed, expected, rtol=1e-5)
    np.testing.assert_array_equal(grid.gaussian(values, 0), values)


def test_hd_context_uses_rings_of_eight_neighbours(hd_section):
    adata, _ = hd_section
    graph, info = spatial_graph(adata, rings=1)
    assert info["method"] == "square grid"
    degree = graph.getnnz(axis=1)
    assert degree.max() == 8  # interior bins
    assert degree.min() == 3  # corners
    assert np.bincount(degree)[8] == 58 * 58


def test_tiles_number_bins_over_sixteen_and_each_bin_blends_the_tiles_around_it(hd_section):
    adata, _ = hd_section
    tiles = TilePatches(adata, size=16, patch_um=64, stride_um=32)
    assert len(tiles) == (60 * 8 // 32 + 1) ** 2  # 16 bins of 8 µm per 32 µm tile, one more row and column
    np.testing.assert_allclose(np.asarray(tiles.blend.sum(axis=1)).ravel(), 1, rtol=1e-6)
    assert tiles.blend.getnnz(axis=1).max() <= 4
    # A bin's blend weights put its position at the weighted mean of the tile centres (bilinear).
    centres = np.asarray(adata.obsm[K.SPATIAL_KEY])[:, :2] * tiles.image.scale + 0.5
    np.testing.assert_allclose(tiles.blend @ tiles.centres, centres, atol=1e-6)
    microns = tiles.side / tiles.image.scale * tiles.microns_per_pixel
    assert microns == pytest.approx(64)


def test_pooled_expression_equals_scanpy_pca_when_nothing_is_pooled():
    """With no neighbourhood the sparse projection reproduces the spot recipe's scaled PCA (where it clips nothing)."""
    import scanpy as sc

    from activespot.features import expression_features
    from activespot.features._expression import grid_expression_features

    rng = np.random.default_rng(0)
    side = 20
    rows, cols = np.divmod(np.arange(side * side), side)
    counts = rng.poisson(rng.uniform(2, 8, 40), (side * side, 40)).astype(np.float32)  # dense: no clipping
    adata = AnnData(
        X=counts, obs=pd.DataFrame({K.ARRAY_ROW: rows, K.ARRAY_COL: cols}, index=[f"b{i}" for i in range(side * side)])
    )
    adata.var_names = [f"g{i}" for i in range(40)]
    adata.uns[K.SPATIAL_KEY] = {"lib": {K.SCALEFACTORS_KEY: {K.BIN_SIZE_UM: 8.0}}}
    grid_block, info = grid_expression_features(adata, n_top_genes=20, n_pcs=5, sigma_um=0)
    spot_block, _ = expression_features(adata, n_top_genes=20, n_pcs=5)
    assert info["pool_bins"] == 1
    normalised = AnnData(X=counts.copy())
    sc.pp.normalize_total(normalised, target_sum=1e4)
    sc.pp.log1p(normalised)
    hvgs = normalised[:, adata.var_names.get_indexer(info["genes"])].X
    clipped = (np.abs((hvgs - hvgs.mean(axis=0)) / hvgs.std(axis=0, ddof=1)) > 10).any(axis=1)
    assert clipped.sum() < 5  # the spot recipe clips scaled values at 10; the projection does not
    np.testing.assert_allclose(grid_block[~clipped], spot_block[~clipped], atol=2e-4)


def _probe_accuracy(block: np.ndarray, truth: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    return float(cross_val_score(LogisticRegression(max_iter=500), block, truth, cv=3).mean())


def test_pooling_the_neighbourhood_recovers_the_planted_classes_from_weak_bins(hd_section):
    from activespot.features._expression import grid_expression_features

    adata, truth = hd_section
    pooled, info = grid_expression_features(adata, n_top_genes=200, n_pcs=20, sigma_um=16)
    alone, _ = grid_expression_features(adata, n_top_genes=200, n_pcs=20, sigma_um=0)
    assert (info["pool_bins"], info["sigma_um"]) == (4, 16)
    assert pooled.shape == (adata.n_obs, 20)
    assert pooled.dtype == np.float32
    pooled_accuracy, alone_accuracy = _probe_accuracy(pooled, truth), _probe_accuracy(alone, truth)
    assert pooled_accuracy > 0.9
    assert pooled_accuracy > alone_accuracy + 0.1


def test_hd_features_embed_tiles_and_record_the_grid(hd_section, tmp_path):
    adata, truth = hd_section
    adata = adata.copy()
    config = FeaturesConfig(n_top_genes=200, n_pcs=20, context_rings=2)
    compute_features(adata, config, cache_dir=tmp_path, progress=False)
    provenance = adata.uns[K.FEATURES_UNS_KEY]
    assert provenance[K.MORPH_KEY]["patch"]["tiles"] == 16 * 16
    assert provenance[K.MORPH_KEY]["patch"]["tile_grid"]["patch_um"] == 64
    assert provenance[K.CONTEXT_KEY]["method"] == "square grid"
    assert _probe_accuracy(adata.obsm[K.MORPH_KEY], truth) > 0.5  # the stain alone tells some classes apart
    repeat = adata.copy()
    compute_features(repeat, config, cache_dir=tmp_path, progress=False)
    assert repeat.uns[K.FEATURES_UNS_KEY][K.MORPH_KEY]["cache_hit"]
    np.testing.assert_array_equal(repeat.obsm[K.MORPH_KEY], adata.obsm[K.MORPH_KEY])
