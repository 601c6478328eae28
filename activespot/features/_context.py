"""The spatial context block: each spot's neighbours' features, averaged on the tissue graph.

Pathologists judge a spot by its surroundings as much as by itself (a layer boundary, the edge of
a tumour); averaging the neighbours' morphology and expression gives the model that view at the
cost of one sparse matrix product. On a Visium grid the neighbours are the hexagonal rings
1..k around the spot (squidpy's grid graph); on the square grid of Visium HD bins, the rings of
8-neighbours (the (2k + 1)² window, built from the bin raster in :mod:`._grid`); for data without
a grid (cells, arbitrary coordinates) the nearest neighbours a k-ring hexagon would hold.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
from anndata import AnnData
from scipy import sparse

from .. import _constants as K
from ._grid import SquareGrid, is_square_grid

__all__ = ["context_features", "spatial_graph"]

logger = logging.getLogger(__name__)

_HEX_NEIGHBOURS = 6  # Visium spots sit on a hexagonal lattice


def spatial_graph(adata: AnnData, *, rings: int = 1) -> tuple[sparse.csr_matrix, dict[str, Any]]:
    """Neighbour graph of the spots: grid rings 1..``rings`` when array coordinates exist, else kNN.

    Parameters
    ----------
    adata
        Spots with ``obsm['spatial']``; ``obs['array_row']``/``obs['array_col']`` mark a grid.
    rings
        Rings of grid neighbours (1 = the six touching spots).

    Returns
    -------
    connectivities
        Binary (n_spots, n_spots) CSR matrix without self-loops.
    info
        The method and its parameters, and the mean number of neighbours.
    """
    _check_context(adata, rings=rings)
    if is_square_grid(adata):
        graph = SquareGrid.from_adata(adata).neighbour_graph(rings)
        return graph, {"method": "square grid", "n_neighs": 8, "rings": rings, **_mean_neighbours(graph)}
    import squidpy as sq

    # squidpy builds the graph on a bare AnnData so that nothing is written into the user's.
    bare = AnnData(obs=adata.obs[[]].copy(), obsm={K.SPATIAL_KEY: np.asarray(adata.obsm[K.SPATIAL_KEY])[:, :2]})
    # squidpy announces every graph at INFO through spatialdata's logger; our caller logs what matters.
    chatty = logging.getLogger("spatialdata._logging")
    level = chatty.level
    chatty.setLevel(logging.WARNING)
    try:
        if {K.ARRAY_ROW, K.ARRAY_COL} <= set(adata.obs.columns):
            result = sq.gr.spatial_neighbors_grid(bare, n_neighs=_HEX_NEIGHBOURS, n_rings=rings, copy=True)
            info = {"method": "grid", "n_neighs": _HEX_NEIGHBOURS, "rings": rings}
        else:
            k = 3 * rings * (rings + 1)  # spots within `rings` rings of a hexagonal lattice
            result = sq.gr.spatial_neighbors_knn(bare, n_neighs=k, copy=True)
            info = {"method": "knn", "n_neighs": k, "rings": rings}
    finally:
        chatty.setLevel(level)
    graph = sparse.csr_matrix(result.connectivities, dtype=np.float32)
    graph.setdiag(0)
    graph.eliminate_zeros()
    graph.data[:] = 1.0
    return graph, {**info, **_mean_neighbours(graph)}


def _mean_neighbours(graph: sparse.csr_matrix) -> dict[str, float]:
    return {"mean_neighbours": float(graph.getnnz(axis=1).mean()) if graph.shape[0] else 0.0}


def _check_context(adata: AnnData, *, rings: int) -> None:
    if K.SPATIAL_KEY not in adata.obsm:
        msg = f"adata.obsm[{K.SPATIAL_KEY!r}] (spot coordinates) is needed for the context block."
        raise ValueError(msg)
    if not isinstance(rings, int) or rings < 1:
        msg = f"The context rings must be an integer >= 1; got {rings!r}."
        raise ValueError(msg)


def context_features(
    adata: AnnData, blocks: Mapping[str, np.ndarray], *, rings: int = 1
) -> tuple[np.ndarray, dict[str, Any]]:
    """Mean of each spot's neighbours' features, for every block given, side by side.

    A spot without neighbours (isolated at the tissue edge) gets its own features, so the block
    never claims an empty neighbourhood looks like zero expression.

    Parameters
    ----------
    adata
        Spots with coordinates (see :func:`spatial_graph`).
    blocks
        Feature blocks to aggregate, e.g. ``{'X_morph': ..., 'X_expr': ...}``, one row per spot.
    rings
        Neighbour rings (see :func:`spatial_graph`).

    Returns
    -------
    block
        float32 (n_spots, sum of the blocks' widths), columns in the order of ``blocks``.
    info
        Graph parameters, the source blocks and the number of isolated spots.
    """
    _check_blocks(adata, blocks)
    graph, info = spatial_graph(adata, rings=rings)
    degree = np.asarray(graph.sum(axis=1)).ravel()
    isolated = degree == 0
    mean = sparse.diags(1.0 / np.where(isolated, 1.0, degree)) @ graph
    features = np.hstack([np.asarray(block, dtype=np.float32) for block in blocks.values()])
    context = np.asarray(mean @ features, dtype=np.float32)
    context[isolated] = features[isolated]
    if isolated.any():
        logger.info("%d spots have no neighbours; their context is their own features", int(isolated.sum()))
    widths = {key: int(np.shape(block)[1]) for key, block in blocks.items()}
    return context, {**info, "sources": widths, "isolated_spots": int(isolated.sum()), "aggregation": "mean"}


def _check_blocks(adata: AnnData, blocks: Mapping[str, np.ndarray]) -> None:
    if not blocks:
        msg = "The context block needs at least one feature block to aggregate; got none."
        raise ValueError(msg)
    for key, block in blocks.items():
        if np.ndim(block) != 2 or np.shape(block)[0] != adata.n_obs:
            msg = f"Block {key!r} must have shape (n_spots={adata.n_obs}, n_features); got {np.shape(block)}."
            raise ValueError(msg)
