"""Feature blocks of several samples in one shared space, so a model trained on one can read another.

Per-sample features do not transfer: each sample's PCA has its own axes, and a stain or scanner
difference shifts every morphology descriptor. Here

- expression is computed jointly (genes aligned by *name*, joint HVGs, joint PCA; see
  :func:`activespot.features.joint_expression_features`) and, with ``harmony``, batch-corrected
  with Harmony — the corrected embedding *is* the expression block the model reads;
- morphology comes from the same backbone for every sample and is standardised within each
  sample, removing the per-section offset and scale that stain intensity and scanning put on
  every image feature (Harmony's job for expression, done the simple way for a few dozen
  image statistics);
- the context block is computed per sample, on that sample's own tissue graph, from the joint
  blocks above, so a neighbour is always a neighbour on the same slide.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from anndata import AnnData

from .. import _constants as K
from .._numeric import standardise
from ..config import FeaturesConfig

__all__ = ["harmonize", "joint_feature_blocks"]

logger = logging.getLogger(__name__)


def harmonize(embedding: np.ndarray, batches: Sequence[Any], *, seed: int = 0) -> np.ndarray:
    """Harmony batch correction of an embedding (e.g. joint expression PCs).

    Parameters
    ----------
    embedding
        ``(n_spots, n_dims)`` embedding of the spots of every sample, stacked.
    batches
        The sample of each spot (``n_spots`` values); at least two distinct ones.
    seed
        harmonypy's ``random_state`` (its k-means start), so a transfer is reproducible.

    Returns
    -------
    numpy.ndarray
        float32 ``(n_spots, n_dims)``: the corrected embedding, rows in the order given.

    Raises
    ------
    ValueError
        Shapes disagree, or fewer than two batches.
    """
    embedding = np.asarray(embedding, dtype=np.float64)
    batches = np.asarray([str(b) for b in batches], dtype=object)
    _check_harmony_input(embedding, batches)
    return _harmonize(embedding, batches, seed=seed)


def _check_harmony_input(embedding: np.ndarray, batches: np.ndarray) -> None:
    if embedding.ndim != 2 or batches.shape != (embedding.shape[0],):
        msg = f"`batches` needs one entry per row of `embedding` {embedding.shape}; got {batches.shape[0]}."
        raise ValueError(msg)
    if np.unique(batches).size < 2:
        msg = f"Harmony corrects between samples: `batches` must hold at least 2 distinct values; got {set(batches)}."
        raise ValueError(msg)


def _harmonize(embedding: np.ndarray, batches: np.ndarray, *, seed: int) -> np.ndarray:
    import harmonypy
    import pandas as pd

    meta = pd.DataFrame({K.BATCH_KEY: batches})
    # harmonypy logs every iteration at INFO; progress is the caller's to show.
    quiet = logging.getLogger("harmonypy")
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        result = harmonypy.run_harmony(embedding, meta, [K.BATCH_KEY], random_state=seed, verbose=False)
    finally:
        quiet.setLevel(level)
    corrected = np.asarray(result.Z_corr, dtype=np.float32)
    if corrected.shape != embedding.shape:  # harmonypy < 0.1 returned (n_dims, n_spots)
        corrected = corrected.T
    return np.ascontiguousarray(corrected)


def joint_feature_blocks(
    adatas: Sequence[AnnData],
    config: FeaturesConfig | None = None,
    *,
    harmony: bool = True,
    cache_dirs: Sequence[str | Path | None] | None = None,
    seed: int = 0,
    progress: bool = True,
) -> tuple[list[dict[str, np.ndarray]], dict[str, Any]]:
    """Feature blocks of several samples in one shared space (see the module docstring).

    Parameters
    ----------
    adatas
        Samples as :func:`activespot.io.read_visium` returns them (raw counts, coordinates, image).
    config
        Backbone, HVGs, PCs and context rings; ``None`` uses the defaults. Use the source
        project's settings so the blocks match what its model was configured for.
    harmony
        Batch-correct the joint expression PCs with Harmony before they become ``X_expr``.
    cache_dirs
        Embedding cache folder per sample (e.g. a project's ``features/``), or ``None``.
    seed
        Seed of Harmony's k-means.
    progress
        Show progress bars while embedding patches.

    Returns
    -------
    blocks
        Per sample, ``{'X_morph', 'X_expr', 'X_context'}`` (those the config turns on), float32.
    info
        Provenance: per block its recipe, the gene overlap (``genes_per_sample``,
        ``common_genes``), whether Harmony ran, and the per-sample context graphs.

    Raises
    ------
    ValueError
        Fewer than two samples, or samples without what a block needs.
    """
    from ..features import check_features_input

    config = FeaturesConfig() if config is None else config
    if len(adatas) < 2:
        msg = f"Joint features need at least 2 samples; got {len(adatas)}."
        raise ValueError(msg)
    cache_dirs = list(cache_dirs) if cache_dirs is not None else [None] * len(adatas)
    if len(cache_dirs) != len(adatas):
        msg = f"`cache_dirs` needs one entry per sample ({len(adatas)}); got {len(cache_dirs)}."
        raise ValueError(msg)
    for adata in adatas:
        check_features_input(adata, config)
    return _joint_blocks(list(adatas), config, harmony=harmony, cache_dirs=cache_dirs, seed=seed, progress=progress)


def _joint_blocks(
    adatas: list[AnnData],
    config: FeaturesConfig,
    *,
    harmony: bool,
    cache_dirs: list[str | Path | None],
    seed: int,
    progress: bool,
) -> tuple[list[dict[str, np.ndarray]], dict[str, Any]]:
    from ..features import context_features, joint_expression_features, morphology_features

    blocks: list[dict[str, np.ndarray]] = [{} for _ in adatas]
    info: dict[str, Any] = {"samples": len(adatas)}
    morph_info = []
    for i, adata in enumerate(adatas):
        morph, details = morphology_features(adata, config, cache_dir=cache_dirs[i], progress=progress)
        blocks[i][K.MORPH_KEY] = standardise(morph, dtype=np.float32)
        morph_info.append(details)
    info[K.MORPH_KEY] = {**morph_info[0], "per_sample": "standardised within each sample"}
    if config.expression:
        expr, expr_info = joint_expression_features(adatas, n_top_genes=config.n_top_genes, n_pcs=config.n_pcs)
        if harmony:
            batches = np.concatenate([np.full(b.shape[0], str(i)) for i, b in enumerate(expr)])
            corrected = harmonize(np.vstack(expr), batches, seed=seed)
            bounds = np.cumsum([0] + [b.shape[0] for b in expr])
            expr = [corrected[a:b] for a, b in itertools.pairwise(bounds)]
            expr_info["recipe"] += " + Harmony"
        for i, block in enumerate(expr):
            blocks[i][K.EXPR_KEY] = block
        info[K.EXPR_KEY] = {**expr_info, "harmony": harmony}
        info["genes_per_sample"] = expr_info["genes_per_sample"]
        info["common_genes"] = expr_info["common_genes"]
    info["harmony"] = bool(harmony and config.expression)
    if config.context_rings > 0:
        contexts = []
        for adata, own in zip(adatas, blocks, strict=True):
            own[K.CONTEXT_KEY], context_info = context_features(adata, dict(own), rings=config.context_rings)
            contexts.append(context_info)
        info[K.CONTEXT_KEY] = {**contexts[0], "per_sample": "each sample on its own tissue graph"}
    return blocks, info
