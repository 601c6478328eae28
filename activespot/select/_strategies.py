"""Query strategies: which unlabelled spots to ask the annotator about next.

Every strategy is a pure function over arrays with one signature,
``strategy(probs, embeddings, labelled_mask, n, *, rng) -> indices``, built in three layers
(modAL's split): a *score* says how much the model would learn from each spot, a *selector*
turns scores or embeddings into ``n`` distinct indices, and the *strategy* joins the two and
restricts them to the unlabelled pool. The strategies are collected in :data:`STRATEGIES`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans

logger = logging.getLogger(__name__)

Strategy = Callable[..., np.ndarray]
DEFAULT_STRATEGY = "least_confidence_kmeans"
_TOP_FRACTION = 0.05  # ActiveVisium keeps the 5 % least confident spots before clustering them
# Up to this many points k-means is exact (a Visium section's candidates, or its first query);
# beyond it — Visium HD's 500k+ bins — mini-batch k-means is fitted on at most _KMEANS_SAMPLE of them.
_EXACT_KMEANS_MAX = 10_000
_KMEANS_SAMPLE = 50_000


# --- scores: higher means more informative -------------------------------------------------


def least_confidence_score(probs: np.ndarray) -> np.ndarray:
    """Least confidence ``(1 - max p) * K / (K - 1)``, rescaled to [0, 1] for any ``K``.

    The rescaling makes a round with 7 classes comparable with one with 2, which matters when a
    class is added between rounds.
    """
    k = probs.shape[1]
    return (1.0 - probs.max(axis=1)) * k / (k - 1)


def margin_score(probs: np.ndarray) -> np.ndarray:
    """One minus the gap between the two most probable classes: high when the model hesitates."""
    top2 = np.partition(probs, -2, axis=1)[:, -2:]
    return 1.0 - (top2[:, 1] - top2[:, 0])


def entropy_score(probs: np.ndarray) -> np.ndarray:
    """Shannon entropy of the predicted distribution (nats); zero probabilities contribute zero."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(probs > 0, probs * np.log(probs), 0.0)
    return -terms.sum(axis=1)


# --- selectors: scores or embeddings -> n distinct positions -------------------------------


def _top_n(scores: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Positions of the ``n`` highest scores; ties are broken at random, reproducibly."""
    shuffle = rng.permutation(scores.size)
    order = np.argsort(-scores[shuffle], kind="stable")
    return shuffle[order[:n]]


def _kmeans_medoids(points: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Cluster ``points`` into ``n`` groups and return, per cluster, the member nearest its centre.

    Taking a member of each cluster (not merely the point nearest each centre) guarantees ``n``
    distinct positions. Exact k-means up to ``_EXACT_KMEANS_MAX`` points; above, mini-batch
    k-means on a seeded sample, every point then assigned to its nearest centre, so the cost
    stays seconds at half a million points.
    """
    if points.shape[0] <= n:
        return np.arange(points.shape[0])
    seed = int(rng.integers(2**31 - 1))
    if points.shape[0] <= _EXACT_KMEANS_MAX:
        points = np.asarray(points, dtype=np.float64)
        km = KMeans(n_clusters=n, n_init=1, random_state=seed).fit(points)
        labels = km.labels_
    else:
        points = np.asarray(points, dtype=np.float32)
        sample = points
        if points.shape[0] > _KMEANS_SAMPLE:
            sample = points[np.sort(rng.choice(points.shape[0], _KMEANS_SAMPLE, replace=False))]
        # one k-means++ start, as the exact branch: three cost 1.6 s more on a 640k-bin HD round's 32k candidates
        km = MiniBatchKMeans(n_clusters=n, n_init=1, batch_size=4096, random_state=seed).fit(sample)
        labels = km.predict(points)
    dist = np.linalg.norm(points - km.cluster_centers_[labels].astype(points.dtype), axis=1)
    picks = []
    for cluster in range(n):
        members = np.flatnonzero(labels == cluster)
        if members.size:  # k-means may leave a cluster empty when points coincide
            picks.append(members[np.argmin(dist[members])])
    picks = np.asarray(picks, dtype=int)
    if picks.size < n:  # fill up from the remaining points, farthest from their centre first
        rest = np.setdiff1d(np.arange(points.shape[0]), picks)
        picks = np.concatenate([picks, rest[_top_n(dist[rest], n - picks.size, rng)]])
    return picks


def _k_center_greedy(points: np.ndarray, centres: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Greedy k-center (Sener & Savarese's Coreset): repeatedly take the point farthest from all centres.

    Parameters
    ----------
    points
        Candidate embeddings, one row each.
    centres
        Embeddings already covered (the labelled spots); may have zero rows, in which case the
        first pick is random.
    n
        How many candidates to pick.
    rng
        Source of the first pick when there are no centres.
    """
    picks: list[int] = []
    if not centres.shape[0]:  # nothing covered yet: start anywhere
        picks.append(int(rng.integers(points.shape[0])))
        centres = points[picks]
    nearest = _min_sq_dist(points, centres)
    nearest[picks] = -1.0
    while len(picks) < n:
        best = int(np.argmax(nearest))
        picks.append(best)
        nearest = np.minimum(nearest, ((points - points[best]) ** 2).sum(axis=1))
        nearest[best] = -1.0  # never picked twice, even when points coincide
    return np.asarray(picks, dtype=int)


def _min_sq_dist(points: np.ndarray, centres: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Squared distance from each point to its nearest centre, in chunks to bound memory."""
    out = np.empty(points.shape[0])
    c_sq = (centres**2).sum(axis=1)
    for start in range(0, points.shape[0], chunk):
        block = points[start : start + chunk]
        d = (block**2).sum(axis=1)[:, None] - 2.0 * block @ centres.T + c_sq[None, :]
        out[start : start + chunk] = np.maximum(d.min(axis=1), 0.0)
    return out


# --- validation ----------------------------------------------------------------------------


def _check_inputs(
    probs: np.ndarray | None, embeddings: np.ndarray | None, labelled_mask: np.ndarray, n: int
) -> tuple[np.ndarray, int]:
    """Check shapes and ``n``; return the unlabelled pool's positions and the number to pick."""
    labelled_mask = np.asarray(labelled_mask)
    if labelled_mask.ndim != 1 or labelled_mask.dtype != bool:
        msg = (
            "`labelled_mask` must be a 1-D boolean array; "
            f"got dtype {labelled_mask.dtype}, shape {labelled_mask.shape}."
        )
        raise ValueError(msg)
    for name, arr in (("probs", probs), ("embeddings", embeddings)):
        if arr is not None and (arr.ndim != 2 or arr.shape[0] != labelled_mask.size):
            msg = f"`{name}` must be 2-D with one row per spot ({labelled_mask.size}); got shape {arr.shape}."
            raise ValueError(msg)
    if probs is not None and probs.shape[1] < 2:
        msg = f"`probs` needs at least 2 class columns; got {probs.shape[1]}."
        raise ValueError(msg)
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        msg = f"`n` must be a positive integer; got {n!r}."
        raise ValueError(msg)
    pool = np.flatnonzero(~labelled_mask)
    if pool.size < n:
        logger.info("Only %d unlabelled spots left; asking for all of them instead of %d.", pool.size, n)
    return pool, min(int(n), pool.size)


def _as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


# --- strategies ----------------------------------------------------------------------------


def least_confidence_kmeans(
    probs: np.ndarray,
    embeddings: np.ndarray,
    labelled_mask: np.ndarray,
    n: int,
    *,
    rng: np.random.Generator | int | None = None,
    top_fraction: float = _TOP_FRACTION,
) -> np.ndarray:
    """ActiveVisium's acquisition: uncertain spots, spread over the embedding space.

    The ``top_fraction`` least confident unlabelled spots (never fewer than ``n``) are clustered
    into ``n`` groups with k-means on the model's penultimate embeddings, and the spot nearest
    each centre is asked. Uncertainty alone would ask ``n`` near-identical spots on one boundary;
    clustering spreads the batch over the distinct kinds of uncertainty.

    Parameters
    ----------
    probs
        Predicted class probabilities, ``(n_spots, K)`` with ``K >= 2``.
    embeddings
        Penultimate-layer embeddings, ``(n_spots, d)``.
    labelled_mask
        ``True`` for spots that already have a label; they are never picked.
    n
        Batch size; fewer are returned only when the pool is smaller.
    rng
        Seed or generator for k-means and tie-breaking.
    top_fraction
        Share of the unlabelled pool kept as candidates, in (0, 1].

    Returns
    -------
    numpy.ndarray
        Distinct positions of unlabelled spots, ``int``.
    """
    pool, n = _check_inputs(probs, embeddings, labelled_mask, n)
    if not 0 < top_fraction <= 1:
        msg = f"`top_fraction` must be in (0, 1]; got {top_fraction!r}."
        raise ValueError(msg)
    rng = _as_rng(rng)
    n_candidates = max(n, math.ceil(top_fraction * pool.size))
    candidates = pool[_top_n(least_confidence_score(probs[pool]), n_candidates, rng)]
    return candidates[_kmeans_medoids(embeddings[candidates], n, rng)]


def margin(
    probs: np.ndarray,
    embeddings: np.ndarray | None,
    labelled_mask: np.ndarray,
    n: int,
    *,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """The ``n`` unlabelled spots with the smallest gap between their two most probable classes.

    ``embeddings`` is accepted for a uniform signature and not used.
    """
    pool, n = _check_inputs(probs, None, labelled_mask, n)
    return pool[_top_n(margin_score(probs[pool]), n, _as_rng(rng))]


def entropy(
    probs: np.ndarray,
    embeddings: np.ndarray | None,
    labelled_mask: np.ndarray,
    n: int,
    *,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """The ``n`` unlabelled spots whose predicted distribution has the highest entropy.

    ``embeddings`` is accepted for a uniform signature and not used.
    """
    pool, n = _check_inputs(probs, None, labelled_mask, n)
    return pool[_top_n(entropy_score(probs[pool]), n, _as_rng(rng))]


def coreset(
    probs: np.ndarray | None,
    embeddings: np.ndarray,
    labelled_mask: np.ndarray,
    n: int,
    *,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Coreset by greedy k-center: the unlabelled spots farthest from everything labelled.

    Ignores the model's confidence (``probs`` may be ``None``) and covers the embedding space
    instead, which suits the first rounds when the probabilities are still unreliable.
    """
    pool, n = _check_inputs(None, embeddings, labelled_mask, n)
    emb = np.asarray(embeddings, dtype=np.float64)
    return pool[_k_center_greedy(emb[pool], emb[labelled_mask], n, _as_rng(rng))]


def random(
    probs: np.ndarray | None,
    embeddings: np.ndarray | None,
    labelled_mask: np.ndarray,
    n: int,
    *,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """``n`` unlabelled spots drawn uniformly without replacement: the baseline every strategy must beat."""
    pool, n = _check_inputs(None, None, labelled_mask, n)
    return _as_rng(rng).choice(pool, size=n, replace=False)


def initial_kmeans(
    features: np.ndarray,
    n: int,
    *,
    rng: np.random.Generator | int | None = None,
    exclude: np.ndarray | None = None,
) -> np.ndarray:
    """The first query, before any model exists: the spot nearest each of ``n`` k-means centres.

    Clustering the features (not the model's embeddings, which do not exist yet) gives a batch
    that covers the section's main kinds of spot, so that rare tissue types are likely asked.

    Parameters
    ----------
    features
        ``(n_spots, d)`` unsupervised features, e.g. expression PCs and spatial context.
    n
        Number of spots to ask.
    rng
        Seed or generator for k-means.
    exclude
        Optional boolean mask of spots that must not be picked (e.g. already labelled).
    """
    features = np.asarray(features)
    if features.ndim != 2:
        msg = f"`features` must be 2-D (spots x dimensions); got shape {features.shape}."
        raise ValueError(msg)
    mask = np.zeros(features.shape[0], dtype=bool) if exclude is None else np.asarray(exclude, dtype=bool)
    pool, n = _check_inputs(None, features, mask, n)
    return pool[_kmeans_medoids(features[pool], n, _as_rng(rng))]


STRATEGIES: dict[str, Strategy] = {
    "least_confidence_kmeans": least_confidence_kmeans,
    "margin": margin,
    "entropy": entropy,
    "coreset": coreset,
    "random": random,
}


def get_strategy(name: str) -> Strategy:
    """Look a strategy up by name.

    Raises
    ------
    KeyError
        The name is not in :data:`STRATEGIES`; the message lists the valid names.
    """
    try:
        return STRATEGIES[name]
    except KeyError:
        msg = f"The `strategy` must be one of {', '.join(STRATEGIES)}; got {name!r}."
        raise KeyError(msg) from None
