"""The expression block: library-size normalised, log-transformed highly variable genes, optionally PCA.

The standard scanpy recipe (``normalize_total`` to 10,000 counts, ``log1p``, top-N HVGs by the
"seurat" dispersion ranking, scale, PCA). Genes and components are chosen from expression alone —
labels are never looked at, so the features cannot leak the annotation the model is judged on.

For several samples (cross-sample label transfer) the genes are aligned by name — panels differ
between runs and chemistries — and HVGs and PCA are fitted jointly, so that a component means the
same thing in every sample.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from anndata import AnnData
from scipy import sparse

__all__ = ["expression_features", "grid_expression_features", "joint_expression_features"]

logger = logging.getLogger(__name__)

RECIPE_VERSION = 2  # bumped whenever the recipe below changes what the block means (it keys the cache)
TARGET_SUM = 1e4
HVG_FLAVOR = "seurat"
_MAX_SCALED = 10  # clip scaled values, as scanpy tutorials do, so a few outlier spots cannot dominate PCA
_BATCH = "_activespot_sample"
_PCA_FIT_ROWS = 50_000  # rows a grid's PCA is fitted on (pools, or a seeded sample of them): plenty for 50 PCs


def expression_features(
    adata: AnnData, *, n_top_genes: int = 1000, n_pcs: int | None = 50
) -> tuple[np.ndarray, dict[str, Any]]:
    """Expression block of one sample, from raw counts in ``adata.X`` (left unchanged).

    Parameters
    ----------
    adata
        Spots × genes with raw UMI counts.
    n_top_genes
        Highly variable genes kept; capped at the number of genes (with a warning).
    n_pcs
        Principal components of the scaled HVGs; ``None`` keeps the log-normalised HVGs themselves.

    Returns
    -------
    block
        float32 (n_spots, n_pcs or n_genes kept).
    info
        Genes kept, recipe and explained variance.

    Raises
    ------
    ValueError
        No genes, negative values in ``X``, or non-positive ``n_top_genes``/``n_pcs``.
    """
    _check_expression(adata, n_top_genes=n_top_genes, n_pcs=n_pcs)
    return _hvg_block(_log_normalise(adata), n_top_genes=n_top_genes, n_pcs=n_pcs, batch=None)


def grid_expression_features(
    adata: AnnData, *, n_top_genes: int = 1000, n_pcs: int = 50, sigma_um: float = 16.0
) -> tuple[np.ndarray, dict[str, Any]]:
    """Expression block of Visium HD bins: neighbourhood-pooled, sparse throughout.

    An 8 µm bin holds tens of UMIs, too few for one bin's expression to say much, and 500k+
    bins × 1000 HVGs would be gigabytes dense. So:

    1. counts are summed over square pools of bins about 2σ wide (a sparse product), and HVGs
       are ranked and the scaled PCA fitted on those pools (at most 50k, a seeded sample beyond);
    2. every bin's own log-normalised HVGs are projected on the components (sparse × dense, the
       scaling folded into the loadings, so nothing is densified);
    3. the components are averaged over the grid with a Gaussian of σ ``sigma_um`` — the same as
       projecting Gaussian-pooled expression, since the projection is linear.

    Parameters
    ----------
    adata
        Bins × genes with raw UMI counts, ``obs['array_row'/'array_col']`` and the bin size in the
        scale factors.
    n_top_genes, n_pcs
        As for :func:`expression_features` (``n_pcs`` is required here).
    sigma_um
        Width of the Gaussian neighbourhood in µm; 0 keeps each bin's own expression (HVGs and
        PCA then fitted on a sample of single bins).

    Returns
    -------
    block
        float32 (n_bins, n_pcs).
    info
        Genes kept, recipe, pool and Gaussian widths, explained variance on the pools.
    """
    from ._grid import SquareGrid, bin_size_um

    _check_expression(adata, n_top_genes=n_top_genes, n_pcs=n_pcs)
    if sigma_um < 0:
        msg = f"The expression neighbourhood sigma_um must be >= 0; got {sigma_um!r}."
        raise ValueError(msg)
    grid = SquareGrid.from_adata(adata)
    bin_um = bin_size_um(adata)
    pool = max(1, round(2 * sigma_um / bin_um))
    counts = sparse.csr_matrix(adata.X, dtype=np.float32)
    pools = _pool_counts(counts, grid, pool)
    rng = np.random.default_rng(0)
    if pools.shape[0] > _PCA_FIT_ROWS:
        pools = pools[np.sort(rng.choice(pools.shape[0], _PCA_FIT_ROWS, replace=False))]
    fitted, info = _fit_hvg_pca(
        _log_normalise(AnnData(X=pools, var=adata.var[[]].copy())), n_top_genes=n_top_genes, n_pcs=n_pcs, batch=None
    )
    genes = adata.var_names.get_indexer(info["genes"])
    loadings, offset = _projection(fitted)
    bins = _log_normalise(AnnData(X=counts, var=adata.var[[]].copy())).X[:, genes]
    scores = np.asarray(bins @ loadings, dtype=np.float32) - offset
    smoothed = grid.gaussian(scores, sigma_um / bin_um)
    where = f"{pool}x{pool}-bin pools" if pool > 1 else "single bins"
    return smoothed, {
        **info,
        "recipe": f"{info['recipe']} fitted on {where}; bins projected, then a Gaussian over the grid",
        "pool_bins": pool,
        "sigma_um": float(sigma_um),
        "fitted_rows": int(fitted.n_obs),
    }


def _pool_counts(counts: sparse.csr_matrix, grid: Any, pool: int) -> sparse.csr_matrix:
    """Counts summed over ``pool`` × ``pool`` squares of the grid, one row per non-empty square."""
    if pool == 1:
        return counts
    square = (grid.rows // pool) * (int(grid.cols.max()) // pool + 1) + grid.cols // pool
    squares, row = np.unique(square, return_inverse=True)
    summing = sparse.csr_matrix(
        (np.ones(grid.n_bins, dtype=np.float32), (row, np.arange(grid.n_bins))), shape=(len(squares), grid.n_bins)
    )
    return (summing @ counts).tocsr()


def _projection(fitted: AnnData) -> tuple[np.ndarray, np.ndarray]:
    """Loadings and offset that project log-normalised HVGs as the fitted scale + PCA does, without densifying.

    scanpy's ``scale`` divides by the genes' standard deviation (ddof 1, zero read as 1) after
    centring, then PCA centres again; both are affine, so ``scores = X @ loadings - offset``.
    """
    components = fitted.varm["PCs"].astype(np.float64)  # genes × PCs
    mean, std = fitted.var["mean"].to_numpy(np.float64), fitted.var["std"].to_numpy(np.float64)
    std = np.where(std > 0, std, 1.0)
    loadings = components / std[:, None]
    centre = np.asarray(fitted.X, dtype=np.float64).mean(axis=0)  # of the scaled (and clipped) values
    offset = (mean / std + centre) @ components
    return loadings.astype(np.float32), offset.astype(np.float32)


def joint_expression_features(
    adatas: Sequence[AnnData], *, n_top_genes: int = 1000, n_pcs: int | None = 50
) -> tuple[list[np.ndarray], dict[str, Any]]:
    """Expression blocks of several samples in one shared space: common genes, joint HVGs and PCA.

    Genes are matched by name; only genes measured in every sample are used, and the overlap is
    logged and returned. HVGs are ranked per sample and combined (scanpy's ``batch_key``), PCA is
    fitted on all spots together.

    Parameters
    ----------
    adatas
        Samples with raw counts in ``X`` and gene names as ``var_names``.
    n_top_genes, n_pcs
        As for :func:`expression_features`.

    Returns
    -------
    blocks
        One float32 block per sample, in the order given.
    info
        Genes kept, the gene overlap (``genes_per_sample``, ``common_genes``) and the recipe.

    Raises
    ------
    ValueError
        Fewer than one sample, duplicated gene names, or no gene shared by all samples.
    """
    import anndata

    if len(adatas) == 0:
        msg = "joint_expression_features needs at least one sample; got none."
        raise ValueError(msg)
    for adata in adatas:
        _check_expression(adata, n_top_genes=n_top_genes, n_pcs=n_pcs)
    common = _common_genes(adatas)
    overlap = {"genes_per_sample": [int(a.n_vars) for a in adatas], "common_genes": len(common)}
    logger.info(
        "aligned %d samples by gene name: %s genes each, %d in common",
        len(adatas),
        "/".join(map(str, overlap["genes_per_sample"])),
        len(common),
    )
    normalised = [_log_normalise(adata[:, common]) for adata in adatas]
    for i, part in enumerate(normalised):
        part.obs[_BATCH] = str(i)
    combined = anndata.concat(normalised, index_unique="-")
    block, info = _hvg_block(combined, n_top_genes=n_top_genes, n_pcs=n_pcs, batch=_BATCH)
    bounds = np.cumsum([0] + [a.n_obs for a in adatas])
    return [block[a:b] for a, b in itertools.pairwise(bounds)], {**info, **overlap}


def _check_expression(adata: AnnData, *, n_top_genes: int, n_pcs: int | None) -> None:
    if adata.n_vars == 0:
        msg = "The sample has no genes (no expression matrix); compute features without expression."
        raise ValueError(msg)
    if n_top_genes < 1 or (n_pcs is not None and n_pcs < 1):
        msg = f"n_top_genes and n_pcs must be >= 1 (n_pcs may be None); got {n_top_genes!r} and {n_pcs!r}."
        raise ValueError(msg)
    values = adata.X.data if sparse.issparse(adata.X) else np.asarray(adata.X)
    if values.size and values.min() < 0:
        msg = "adata.X has negative values: expected raw counts (not scaled or centred data)."
        raise ValueError(msg)
    if not adata.var_names.is_unique:
        msg = "Gene names (adata.var_names) must be unique; call adata.var_names_make_unique() first."
        raise ValueError(msg)


def _common_genes(adatas: Sequence[AnnData]) -> list[str]:
    common = set(adatas[0].var_names)
    for adata in adatas[1:]:
        common &= set(adata.var_names)
    if not common:
        msg = "The samples share no gene names; check that all use the same gene identifiers (symbols vs. IDs)."
        raise ValueError(msg)
    return [gene for gene in adatas[0].var_names if gene in common]


def _log_normalise(adata: AnnData) -> AnnData:
    import scanpy as sc

    out = AnnData(X=adata.X.astype(np.float32, copy=True), obs=adata.obs[[]].copy(), var=adata.var[[]].copy())
    empty = int((np.asarray(out.X.sum(axis=1)).ravel() == 0).sum())
    if empty:
        logger.warning("%d spots have no counts; their expression features are all zero", empty)
    sc.pp.normalize_total(out, target_sum=TARGET_SUM)
    sc.pp.log1p(out)
    return out


def _hvg_block(
    normalised: AnnData, *, n_top_genes: int, n_pcs: int | None, batch: str | None
) -> tuple[np.ndarray, dict[str, Any]]:
    fitted, info = _fit_hvg_pca(normalised, n_top_genes=n_top_genes, n_pcs=n_pcs, batch=batch)
    if n_pcs is None:
        return _dense(fitted.X), info
    return fitted.obsm["X_pca"].astype(np.float32), info


def _fit_hvg_pca(
    normalised: AnnData, *, n_top_genes: int, n_pcs: int | None, batch: str | None
) -> tuple[AnnData, dict[str, Any]]:
    """The HVGs of ``normalised`` (log-normalised), scaled and with their PCA when ``n_pcs``, and what was done."""
    import scanpy as sc

    n_genes = min(n_top_genes, normalised.n_vars)
    if n_genes < n_top_genes:
        logger.warning("%d highly variable genes requested but only %d genes measured: using all", n_top_genes, n_genes)
    if n_genes < normalised.n_vars:
        sc.pp.highly_variable_genes(normalised, n_top_genes=n_genes, flavor=HVG_FLAVOR, batch_key=batch)
        normalised = normalised[:, _exactly_top(normalised.var, n_genes)].copy()
    genes = normalised.var_names.tolist()
    info: dict[str, Any] = {
        "recipe": f"normalize_total({TARGET_SUM:g}) + log1p + {HVG_FLAVOR} HVGs",
        "n_top_genes": n_top_genes,
        "n_genes": len(genes),
        "genes": genes,
    }
    if n_pcs is None:
        return normalised, {**info, "n_pcs": None}
    n_comps = min(n_pcs, normalised.n_obs - 1, len(genes) - 1)
    if n_comps < 1:
        msg = f"PCA needs at least 2 spots and 2 genes; got {normalised.n_obs} spots and {len(genes)} genes."
        raise ValueError(msg)
    normalised.X = _dense(normalised.X)  # scaling centres the HVGs: dense anyway, say so explicitly
    sc.pp.scale(normalised, max_value=_MAX_SCALED)
    sc.pp.pca(normalised, n_comps=n_comps, svd_solver="covariance_eigh", random_state=0)
    variance = float(normalised.uns["pca"]["variance_ratio"].sum())
    info.update(recipe=info["recipe"] + f" + scale + PCA({n_comps})", n_pcs=n_comps, variance_explained=variance)
    return normalised, info


def _exactly_top(var: Any, n: int) -> np.ndarray:
    """The HVG mask cut to ``n`` genes: scanpy's seurat flavour keeps every gene tied at the cutoff."""
    keep = var["highly_variable"].to_numpy(dtype=bool)
    if keep.sum() > n:
        dispersion = var["dispersions_norm"].to_numpy(dtype=np.float64)
        ranked = np.flatnonzero(keep)[np.argsort(-np.nan_to_num(dispersion[keep], nan=-np.inf), kind="stable")]
        keep = np.zeros_like(keep)
        keep[ranked[:n]] = True
    return keep


def _dense(matrix: Any) -> np.ndarray:
    return np.asarray(matrix.toarray() if sparse.issparse(matrix) else matrix, dtype=np.float32)
