"""Spatial smoothing of predicted probabilities: part of the model's prediction, not of its training.

Neighbouring spots on a tissue section mostly share a tissue type, while a single spot's
prediction carries its own sampling noise (a few hundred UMIs, a partial nucleus). Averaging each
spot's probabilities with its grid neighbours' — a step of label propagation that uses only the
model's own outputs and the spot coordinates, never a label — removes isolated errors at the
cost of a slight blur of true boundaries, which a round-one neighbourhood keeps to one spot.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

__all__ = ["smooth_probabilities"]


def smooth_probabilities(probs: np.ndarray, graph: sparse.spmatrix, *, steps: int = 1) -> np.ndarray:
    """Average each spot's probabilities with its neighbours', ``steps`` times.

    Parameters
    ----------
    probs
        ``(n_spots, K)`` class probabilities; rows sum to one.
    graph
        ``(n_spots, n_spots)`` neighbour adjacency, e.g. from
        :func:`activespot.features.spatial_graph` (weights are ignored, self-loops added).
    steps
        Number of averaging steps; 0 returns ``probs`` unchanged.

    Returns
    -------
    numpy.ndarray
        Smoothed probabilities; rows still sum to one.
    """
    probs = np.asarray(probs)
    if probs.ndim != 2 or graph.shape != (probs.shape[0], probs.shape[0]):
        msg = f"`graph` must be (n_spots, n_spots) for probabilities of shape {probs.shape}; got {graph.shape}."
        raise ValueError(msg)
    if not isinstance(steps, int) or steps < 0:
        msg = f"`steps` must be a non-negative integer; got {steps!r}."
        raise ValueError(msg)
    if steps == 0:
        return probs
    adjacency = sparse.csr_matrix(graph, dtype=np.float64, copy=True)
    adjacency.data[:] = 1.0
    adjacency = adjacency + sparse.eye(probs.shape[0], format="csr")
    mean = sparse.diags(1.0 / np.asarray(adjacency.sum(axis=1)).ravel()) @ adjacency
    out = probs.astype(np.float64)
    for _ in range(steps):
        out = mean @ out
    return out.astype(probs.dtype)
