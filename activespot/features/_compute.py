"""The one entry point: every feature block of a sample, written into its AnnData, and stored on disk.

``compute_features`` fills ``obsm['X_morph']`` (morphology), ``obsm['X_expr']`` (expression) and
``obsm['X_context']`` (neighbour context) and records in ``uns['activespot_features']`` what each
block is — backbone, weights and their sha256 (or "none: weight-free descriptor"), patch size,
genes, graph — so no result is ever separated from the parameters that made it.
"""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from .. import _constants as K
from .._files import atomic_write_bytes
from ..config import FeaturesConfig
from ..errors import InputFileError
from ._backbones import check_backbone_name
from ._cache import cached_block
from ._context import context_features
from ._embed import embed_spots, embed_tiles
from ._expression import RECIPE_VERSION, expression_features, grid_expression_features
from ._grid import is_square_grid, library_scalefactors
from ._patches import select_image

__all__ = [
    "check_features_input",
    "compute_features",
    "feature_blocks",
    "morphology_features",
    "read_features",
    "write_features",
]

logger = logging.getLogger(__name__)


def compute_features(
    adata: AnnData,
    config: FeaturesConfig | None = None,
    *,
    cache_dir: str | Path | None = None,
    library_id: str | None = None,
    progress: bool = True,
    copy: bool = False,
) -> AnnData | None:
    """Compute the morphology, expression and context blocks of every spot.

    Parameters
    ----------
    adata
        Spots with coordinates, a tissue image and (for the expression block) raw counts in ``X``.
    config
        What to compute; ``None`` uses the defaults (weight-free descriptor, 1000 HVGs → 50 PCs,
        one ring of context).
    cache_dir
        Folder for the embedding cache (a project's ``features/``); ``None`` disables it.
    library_id
        Which ``uns['spatial']`` library holds the image, when there are several.
    progress
        Show a progress bar while embedding.
    copy
        Return a new AnnData instead of writing into ``adata``.

    Returns
    -------
    ``None``, or the new AnnData when ``copy`` is true. Writes:

    - ``obsm['X_morph']`` — backbone embedding or descriptor, float32 (n_spots, dim).
    - ``obsm['X_expr']`` — PCA of log-normalised HVGs (or the HVGs), when ``config.expression``.
    - ``obsm['X_context']`` — neighbour mean of the blocks above, when ``config.context_rings`` ≥ 1.
    - ``uns['activespot_features']`` — per block, its provenance and parameters; ``'config'``.

    Raises
    ------
    ValueError
        Invalid configuration or an AnnData without what a block needs (see
        :func:`check_features_input`).
    InputFileError
        Weights or the full-resolution image cannot be used.
    """
    config = FeaturesConfig() if config is None else config
    check_features_input(adata, config, library_id=library_id)
    adata = adata.copy() if copy else adata
    blocks, provenance = _compute(adata, config, cache_dir=cache_dir, library_id=library_id, progress=progress)
    _save_blocks(adata, blocks, _uns_safe({**provenance, "config": config.model_dump(mode="json")}))
    return adata if copy else None


def check_features_input(adata: AnnData, config: FeaturesConfig, *, library_id: str | None = None) -> None:
    """Raise a ValueError naming the problem if ``compute_features`` cannot run on ``adata`` with ``config``.

    Cheap (no image is read beyond its header, no weights are loaded), so commands can check
    before starting minutes of work.
    """
    check_backbone_name(config.backbone)
    if config.backbone == K.DESCRIPTOR_BACKBONE and config.weights is not None:
        msg = f"Weights {config.weights!r} were given but the descriptor uses none; name their backbone too."
        raise ValueError(msg)
    select_image(adata, library_id=library_id)
    if config.expression and adata.n_vars == 0:
        msg = "The sample has no expression matrix; turn the expression block off (--no-expression)."
        raise ValueError(msg)


def _compute(
    adata: AnnData, config: FeaturesConfig, *, cache_dir: str | Path | None, library_id: str | None, progress: bool
) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
    blocks: dict[str, np.ndarray] = {}
    provenance: dict[str, dict[str, Any]] = {}
    blocks[K.MORPH_KEY], provenance[K.MORPH_KEY] = morphology_features(
        adata, config, cache_dir=cache_dir, library_id=library_id, progress=progress
    )
    cache_dir = None if cache_dir is None else Path(cache_dir)
    obs_names = np.asarray(adata.obs_names, dtype=str)
    if config.expression:
        blocks[K.EXPR_KEY], provenance[K.EXPR_KEY] = cached_block(
            lambda: _expression(adata, config),
            cache_dir=cache_dir,
            stem="expr",
            key_parts=() if cache_dir is None else _expression_key(adata, config),
            obs_names=obs_names,
        )
    if config.context_rings > 0:
        sources = dict(blocks)
        blocks[K.CONTEXT_KEY], provenance[K.CONTEXT_KEY] = cached_block(
            lambda: context_features(adata, sources, rings=config.context_rings),
            cache_dir=cache_dir,
            stem="context",
            key_parts=() if cache_dir is None else _context_key(adata, sources, config),
            obs_names=obs_names,
        )
    return blocks, provenance


def morphology_features(
    adata: AnnData,
    config: FeaturesConfig,
    *,
    cache_dir: str | Path | None = None,
    library_id: str | None = None,
    progress: bool = True,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The morphology block with ``config``'s backbone, weights and patch settings.

    Spots are embedded one patch each (:func:`embed_spots`); Visium HD bins through the tile grid
    of ``config.hd_patch_um`` / ``hd_stride_um`` (:func:`embed_tiles`).
    """
    shared: dict[str, Any] = {
        "weights": config.weights,
        "batch_size": config.batch_size,
        "num_workers": config.num_workers,
        "device": config.device,
        "precision": config.precision,
        "mpp": config.mpp,
        "library_id": library_id,
        "cache_dir": cache_dir,
        "progress": progress,
    }
    if is_square_grid(adata):
        return embed_tiles(adata, config.backbone, patch_um=config.hd_patch_um, stride_um=config.hd_stride_um, **shared)
    return embed_spots(adata, config.backbone, context_factor=config.context_factor, **shared)


def _expression(adata: AnnData, config: FeaturesConfig) -> tuple[np.ndarray, dict[str, Any]]:
    """Visium HD bins pool their neighbours' expression (:func:`grid_expression_features`); spots stand alone."""
    if is_square_grid(adata) and config.n_pcs is not None:
        return grid_expression_features(
            adata, n_top_genes=config.n_top_genes, n_pcs=config.n_pcs, sigma_um=config.hd_expression_sigma_um
        )
    return expression_features(adata, n_top_genes=config.n_top_genes, n_pcs=config.n_pcs)


def _expression_key(adata: AnnData, config: FeaturesConfig) -> tuple[Any, ...]:
    """Everything the expression block depends on: the counts, the gene names and the recipe's settings.

    For Visium HD bins also the grid and the neighbourhood, which decide what each bin pools.
    """
    counts = adata.X
    parts = (counts.data, counts.indices, counts.indptr) if sparse.issparse(counts) else (np.asarray(counts),)
    settings = {"n_top_genes": config.n_top_genes, "n_pcs": config.n_pcs, "recipe_version": RECIPE_VERSION}
    if is_square_grid(adata):
        settings["hd_expression_sigma_um"] = config.hd_expression_sigma_um
        parts = (*parts, adata.obs[K.ARRAY_ROW].to_numpy(), adata.obs[K.ARRAY_COL].to_numpy())
    return (settings, list(counts.shape), np.asarray(adata.var_names, dtype=str), *parts)


def _context_key(adata: AnnData, sources: dict[str, np.ndarray], config: FeaturesConfig) -> tuple[Any, ...]:
    """Everything the context block depends on: the blocks it averages, the spot grid and the rings."""
    grid = [np.asarray(adata.obs[column]) for column in (K.ARRAY_ROW, K.ARRAY_COL) if column in adata.obs]
    scalefactors = {key: value for key, value in library_scalefactors(adata).items() if key == K.BIN_SIZE_UM}
    return (
        {"rings": config.context_rings, "blocks": list(sources), **scalefactors},
        np.asarray(adata.obsm[K.SPATIAL_KEY]),
        *grid,
        *sources.values(),
    )


def _save_blocks(adata: AnnData, blocks: dict[str, np.ndarray], provenance: dict[str, Any]) -> None:
    """The one writer of feature results: blocks into obsm, their provenance into uns, logged."""
    for key in K.FEATURE_BLOCKS:
        adata.obsm.pop(key, None)  # a block not in this result must not survive from an older run
    for key, block in blocks.items():
        adata.obsm[key] = block
    adata.uns[K.FEATURES_UNS_KEY] = provenance
    logger.info(
        "added %s and uns[%r]",
        ", ".join(f"obsm[{key!r}] {block.shape}" for key, block in blocks.items()),
        K.FEATURES_UNS_KEY,
    )


def _uns_safe(value: Any) -> Any:
    # h5ad cannot store None; a missing entry says the same.
    if isinstance(value, dict):
        return {str(k): _uns_safe(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_uns_safe(v) for v in value]
    return value


def feature_blocks(adata: AnnData) -> dict[str, np.ndarray]:
    """The feature blocks present in ``adata.obsm``, by key, in model order (morph, expr, context).

    Raises
    ------
    ValueError
        No block is present: run :func:`compute_features` (or ``activespot features``) first.
    """
    blocks = {key: np.asarray(adata.obsm[key], dtype=np.float32) for key in K.FEATURE_BLOCKS if key in adata.obsm}
    if not blocks:
        msg = f"adata.obsm has none of the feature blocks {', '.join(K.FEATURE_BLOCKS)}; compute features first."
        raise ValueError(msg)
    return blocks


def write_features(adata: AnnData, path: str | Path) -> Path:
    """Store the feature blocks, the spots they describe and their provenance in one ``.npz``, atomically.

    Later commands read them back with :func:`read_features` instead of recomputing.
    """
    blocks = feature_blocks(adata)
    shapes = {key: list(block.shape) for key, block in blocks.items()}
    provenance = {**adata.uns.get(K.FEATURES_UNS_KEY, {}), K.FEATURES_SHAPES_KEY: shapes}
    buffer = io.BytesIO()
    np.savez(
        buffer,
        obs_names=np.asarray(adata.obs_names, dtype=str),
        **{K.FEATURES_PROVENANCE_MEMBER: np.array(json.dumps(provenance, default=_json_default))},
        **blocks,
    )
    path = atomic_write_bytes(path, buffer.getvalue())
    logger.info("stored %s in %s", ", ".join(blocks), path)
    return path


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    msg = f"cannot store {type(value).__name__} in the features file"
    raise TypeError(msg)


def read_features(adata: AnnData, path: str | Path, *, copy: bool = False) -> AnnData | None:
    """Load blocks stored by :func:`write_features` into ``adata`` (obsm and ``uns['activespot_features']``).

    Spots are matched by barcode, so the stored order does not matter; every spot of ``adata``
    must be in the file.

    Raises
    ------
    InputFileError
        The file is missing, unreadable, or lacks some of ``adata``'s spots.
    """
    path = Path(path)
    hint = "recompute them with `activespot features`"
    if not path.is_file():
        raise InputFileError(path, "features file not found", hint)
    try:
        with np.load(path, allow_pickle=False) as stored:
            names = stored["obs_names"]
            provenance = json.loads(str(stored[K.FEATURES_PROVENANCE_MEMBER]))
            blocks = {key: stored[key] for key in K.FEATURE_BLOCKS if key in stored.files}
    except (OSError, ValueError, KeyError) as err:
        raise InputFileError(path, f"not a readable features file ({err})", hint) from err
    if not np.array_equal(names, np.asarray(adata.obs_names, dtype=str)):  # stored in another order, or others
        order = pd.Index(names).get_indexer(adata.obs_names)  # a hash join: 640k HD barcodes in under a second
        missing = list(adata.obs_names[order < 0])
        if missing:
            raise InputFileError(
                path, f"{len(missing)} spots have no stored features (e.g. {', '.join(missing[:3])})", hint
            )
        blocks = {key: block[order] for key, block in blocks.items()}
    adata = adata.copy() if copy else adata
    _save_blocks(adata, blocks, provenance)
    return adata if copy else None
