"""Labelled neighbours as evidence: cell types cluster in tissue, by an amount each image shows itself.

Tumour nests, lymphocyte aggregates and stromal bands put cells of one type next to each other, so
the classes of the labelled cells around a nucleus say something about its own class. How much
varies from image to image (in CoNSeP train_6 a nucleus's nearest neighbour has its class no more
often than chance; in the BRCA images 70–86 % of the time), so nothing is assumed: how often each
class lies next to each other class is counted over the labelled cells themselves, and a cell's
suggestion is the classifier's probability times the likelihood ratio its labelled neighbours give.
Where classes do not cluster the ratios are close to 1 and the suggestion is the classifier's.
"""

from __future__ import annotations

import numpy as np
from anndata import AnnData

from ..config import CellsConfig

__all__ = ["context_radius", "neighbour_evidence", "with_neighbour_evidence"]


def context_radius(adata: AnnData, settings: CellsConfig) -> float:
    """Neighbourhood radius in pixels: one cell patch side (0 when ``settings.label_context`` is off)."""
    from ._features import cell_patch_size

    if not settings.label_context:
        return 0.0
    return float(cell_patch_size(adata, patch_px=settings.patch_px, patch_um=settings.patch_um))


def neighbour_evidence(
    xy: np.ndarray, labelled: np.ndarray, labels: np.ndarray, *, classes: np.ndarray, radius: float
) -> np.ndarray:
    """Log likelihood ratio of each class for every cell, from the labelled cells within ``radius``.

    For class ``c`` and a labelled neighbour of class ``c'``, the ratio is P(c | a neighbour is c') / P(c),
    both counted over the labelled cells (pairs closer than ``radius``; one pseudo-count per class
    pair). A cell's evidence is the mean log ratio over its labelled neighbours, never counting its own
    label; cells with no labelled neighbour get zeros.

    Parameters
    ----------
    xy
        Centroids (n, 2) in pixels.
    labelled
        Positions of the labelled cells.
    labels
        Their classes (same order as ``labelled``), each one of ``classes``.
    classes
        The classifier's classes, in the order of its probability columns.
    radius
        Neighbourhood radius in pixels; 0 gives zeros.

    Returns
    -------
    Array (n, len(classes)).
    """
    from scipy.spatial import cKDTree

    xy = np.asarray(xy, dtype=float)
    labelled = np.asarray(labelled, dtype=int)
    classes = np.asarray(classes).astype(str)
    evidence = np.zeros((len(xy), len(classes)))
    if radius <= 0 or labelled.size < 2:
        return evidence
    index = {name: i for i, name in enumerate(classes)}
    code = np.array([index[name] for name in np.asarray(labels).astype(str)])
    tree = cKDTree(xy[labelled])
    pairs = tree.query_pairs(radius, output_type="ndarray")
    together = np.ones((len(classes), len(classes)))
    np.add.at(together, (code[pairs[:, 0]], code[pairs[:, 1]]), 1)
    np.add.at(together, (code[pairs[:, 1]], code[pairs[:, 0]]), 1)
    share = np.bincount(code, minlength=len(classes)) + 1.0
    ratio = np.log(together / together.sum(axis=0, keepdims=True)) - np.log(share / share.sum())[:, None]
    near = tree.sparse_distance_matrix(cKDTree(xy), radius, output_type="ndarray")
    near = near[labelled[near["i"]] != near["j"]]  # a cell's own label is not evidence
    counts = np.zeros((len(xy), len(classes)))  # labelled neighbours of each class, per cell
    np.add.at(counts, (near["j"], code[near["i"]]), 1)
    total = counts.sum(axis=1, keepdims=True)
    return np.divide(counts @ ratio.T, total, out=evidence, where=total > 0)


def with_neighbour_evidence(probs: np.ndarray, evidence: np.ndarray) -> np.ndarray:
    """``probs`` (n, K) times ``exp(evidence)``, renormalised per row (``probs`` itself when there is no evidence)."""
    if not evidence.any():
        return probs
    logits = np.log(np.clip(probs, 1e-12, None)) + evidence
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    return weights / weights.sum(axis=1, keepdims=True)
