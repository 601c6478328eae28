"""The active-learning loop: train on the labels so far, predict every spot, choose the next batch.

Two layers. :func:`fit_predict_select` and :func:`initial_query` work on arrays only (feature
blocks, a label per spot, a neighbour graph) and are what the simulation benchmark runs;
:func:`suggest` and :func:`run_round` wrap them for a project folder: they read labels from the
journal, features from the project's cache, and write rounds and Loupe CSVs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from . import _constants as K
from .config import Config, ModelConfig
from .errors import ProjectError
from .model import FusedMLPClassifier, labelled_positions, smooth_probabilities
from .select import get_strategy, initial_kmeans, least_confidence_kmeans

if TYPE_CHECKING:
    from anndata import AnnData
    from scipy import sparse

    from .project import Project

__all__ = [
    "RoundResult",
    "RoundSummary",
    "fit_predict_select",
    "initial_query",
    "make_classifier",
    "query_table",
    "run_round",
    "sample_blocks",
    "suggest",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoundResult:
    """What one round computes, as arrays aligned with the spots.

    Attributes
    ----------
    model
        The fitted classifier (its :meth:`~FusedMLPClassifier.to_bytes` is the checkpoint).
    probabilities
        ``(n_spots, K)`` class probabilities after spatial smoothing, columns ``model.classes_``.
    embeddings
        ``(n_spots, fusion)`` penultimate embeddings the query was chosen on.
    query
        Positions of the spots to ask next, in the strategy's order.
    seconds
        Wall time of training, prediction and selection.
    """

    model: FusedMLPClassifier
    probabilities: np.ndarray
    embeddings: np.ndarray
    query: np.ndarray
    seconds: float

    @property
    def predictions(self) -> np.ndarray:
        """Most probable class of every spot."""
        return self.model.classes_[self.probabilities.argmax(axis=1)]


def make_classifier(config: ModelConfig, *, seed: int | None = None) -> FusedMLPClassifier:
    """A classifier with the settings of a project's ``model`` section (``seed`` overrides its seed)."""
    return FusedMLPClassifier(
        hidden=config.hidden,
        fusion=config.fusion,
        dropout=config.dropout,
        epochs=config.epochs,
        learning_rate=config.learning_rate,
        batch_size=config.batch_size,
        weight_decay=config.weight_decay,
        validation_fraction=config.validation_fraction,
        validation_min_labels=config.validation_min_labels,
        warm_start=config.warm_start,
        random_state=config.seed if seed is None else seed,
        num_threads=config.num_threads,
    )


def fit_predict_select(
    model: FusedMLPClassifier,
    blocks: Mapping[str, np.ndarray],
    labels: np.ndarray,
    *,
    graph: sparse.spmatrix | None,
    config: Config,
    n: int,
    rng: np.random.Generator | int | None = None,
    exclude: np.ndarray | None = None,
) -> RoundResult:
    """One round: fit ``model`` on the labelled spots, predict all, choose ``n`` to ask next.

    Parameters
    ----------
    model
        Classifier to fit; when it is already fitted and ``warm_start`` is on, training continues
        from its weights (the previous round).
    blocks
        Feature blocks of every spot.
    labels
        One label per spot; ``None``/``NaN``/``""`` for unlabelled spots.
    graph
        Spot neighbour graph for smoothing the probabilities; ``None`` disables smoothing.
    config
        Uses ``model.smoothing_steps``, ``select.strategy`` and ``select.top_fraction``.
    n
        Batch size of the next query.
    rng
        Seed or generator of the query strategy.
    exclude
        Boolean mask of spots never to ask (besides the labelled ones), e.g. spots without ground
        truth in a simulation.

    Returns
    -------
    RoundResult
    """
    get_strategy(config.select.strategy)  # fail before training on a misspelt name
    start = time.perf_counter()
    model.fit(blocks, labels)
    probs, embeddings = model.predict_proba_and_embed(blocks)
    if graph is not None:
        probs = smooth_probabilities(probs, graph, steps=config.model.smoothing_steps)
    asked = np.zeros(probs.shape[0], dtype=bool)
    asked[labelled_positions(labels)] = True
    if exclude is not None:
        asked |= exclude
    query = _query(config, probs, embeddings, asked, n, rng=rng) if (~asked).any() else np.array([], dtype=int)
    return RoundResult(model, probs, embeddings, np.asarray(query, dtype=int), time.perf_counter() - start)


def _query(
    config: Config,
    probs: np.ndarray,
    embeddings: np.ndarray,
    asked: np.ndarray,
    n: int,
    *,
    rng: np.random.Generator | int | None,
) -> np.ndarray:
    """Run the configured strategy, passing ``top_fraction`` to the strategies that take it."""
    strategy = get_strategy(config.select.strategy)
    options = {"top_fraction": config.select.top_fraction} if strategy is least_confidence_kmeans else {}
    return strategy(probs, embeddings, asked, n, rng=rng, **options)


def initial_query(
    blocks: Mapping[str, np.ndarray],
    n: int,
    *,
    rng: np.random.Generator | int | None = None,
    exclude: np.ndarray | None = None,
) -> np.ndarray:
    """The first batch, before any label: k-means over the standardised, concatenated blocks.

    Each block is standardised and divided by the square root of its width so that every block
    weighs the same in the distances, as the model's equal-width projection heads do.
    """
    parts = []
    for block in blocks.values():
        block = np.asarray(block, dtype=np.float64)
        scale = block.std(axis=0)
        parts.append((block - block.mean(axis=0)) / np.where(scale > 0, scale, 1.0) / np.sqrt(block.shape[1]))
    return initial_kmeans(np.hstack(parts), n, rng=rng, exclude=exclude)


def sample_blocks(
    adata: AnnData, config: Config, *, cache_dir: str | Path | None = None, progress: bool = True
) -> dict[str, np.ndarray]:
    """Feature blocks of a sample, computed if ``adata`` does not hold them, restricted to ``model.blocks``.

    Raises
    ------
    ValueError
        ``model.blocks`` names a block that was not computed (the message lists those that were).
    """
    from .features import compute_features, feature_blocks

    if not any(key in adata.obsm for key in K.FEATURE_BLOCKS):
        compute_features(adata, config.features, cache_dir=cache_dir, progress=progress)
    blocks = feature_blocks(adata)
    wanted = config.model.blocks
    if wanted is None:
        return blocks
    missing = [name for name in wanted if name not in blocks]
    if missing:
        msg = f"model.blocks asks for {', '.join(missing)}, which were not computed; available: {', '.join(blocks)}."
        raise ValueError(msg)
    return {name: blocks[name] for name in wanted}


# --- project level -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    """Spots to annotate next, written as a Loupe CSV."""

    path: Path
    barcodes: list[str]
    round: int | None


@dataclass(frozen=True)
class RoundSummary:
    """What :func:`run_round` did, for printing."""

    round: int
    label_counts: dict[str, int]
    predicted_counts: dict[str, int]
    changed: int | None
    seconds: float
    prediction_csv: Path
    query_csv: Path
    query: list[str] = field(default_factory=list)


def _project_blocks(project: Project) -> tuple[AnnData, dict[str, np.ndarray]]:
    """The project's sample with its features, read from the project's cache or computed and cached."""
    from .features import read_features, write_features

    adata = project.load_sample()
    stored = project.features_dir / K.FEATURES_FILE
    if not any(key in adata.obsm for key in K.FEATURE_BLOCKS):
        if stored.is_file():
            read_features(adata, stored)
        else:
            logger.info("Computing features for %s (once; cached in %s).", project.path, project.features_dir)
            sample_blocks(adata, project.config, cache_dir=project.features_dir)
            write_features(adata, stored)
    return adata, sample_blocks(adata, project.config)


def _labels_array(project: Project, barcodes: pd.Index) -> np.ndarray:
    labels = project.labels()
    return labels.reindex(barcodes).astype(object).where(lambda s: s.notna(), None).to_numpy()


def suggest(project: Project, *, n: int | None = None) -> Suggestion:
    """Write a Loupe CSV of the spots to annotate next and return its path.

    Before any trained round the spots are the k-means initial query over the features (recorded
    in the project as a round of kind ``initial_query``); afterwards they are chosen by the
    configured strategy from the latest round's probabilities and embeddings, skipping spots
    labelled since that round.

    Parameters
    ----------
    project
        An open project.
    n
        How many spots; defaults to ``select.init`` before the first trained round, ``select.batch``
        after.
    """
    config = project.config
    if n is not None and n < 1:
        msg = f"The number of spots to suggest must be at least 1; got {n}."
        raise ProjectError(msg)
    adata, blocks = _project_blocks(project)
    barcodes = pd.Index(adata.obs_names)
    labelled = np.zeros(barcodes.size, dtype=bool)
    labelled[labelled_positions(_labels_array(project, barcodes))] = True
    latest = project.latest_round()
    if latest is not None and latest.info.get("kind") in K.MODEL_ROUND_KINDS:
        picked = _query(
            config,
            latest.load_array(K.ROUND_PROBABILITIES),
            latest.load_array(K.ROUND_EMBEDDINGS),
            labelled,
            n or config.select.batch,
            rng=np.random.default_rng([config.model.seed, latest.number]),
        )
        number = latest.number
    elif latest is not None and n is None:  # the initial query already made: what is left of it
        stored = barcodes.get_indexer(latest.load_table(K.ROUND_QUERY).index)
        picked = stored[(stored >= 0) & ~labelled[np.maximum(stored, 0)]]
        number = latest.number
    else:
        number = project.next_round_number
        picked = initial_query(
            blocks, n or config.select.init, rng=np.random.default_rng([config.model.seed, number]), exclude=labelled
        )
        project.save_round(
            number,
            tables={K.ROUND_QUERY: query_table(barcodes[picked], number)},
            info={"kind": K.ROUND_KIND_INITIAL, "n_query": int(picked.size)},
        )
    query = list(barcodes[picked])
    path = _write_query(project, query, round_number=number)
    return Suggestion(path, query, number)


def query_table(barcodes: Iterable[str], round_number: int) -> pd.DataFrame:
    """The query as stored in a round and exported to Loupe: barcode index, one value column, in order."""
    index = pd.Index(list(barcodes), name=K.LOUPE_BARCODE)
    return pd.DataFrame({"query": f"Query round {round_number}"}, index=index)


def _write_query(project: Project, query: list[str], *, round_number: int) -> Path:
    from .io import write_loupe_csv

    path = project.exports_dir / K.QUERY_EXPORT.format(round=round_number)
    return write_loupe_csv(query_table(query, round_number)["query"], path, category=K.LOUPE_QUERY_CATEGORY)


def run_round(project: Project) -> RoundSummary:
    """Train on the project's current labels, predict every spot, choose the next query; save it all.

    Writes a round (probabilities, embeddings, predictions and query tables, model checkpoint)
    and two Loupe CSVs in ``exports/``: every spot's prediction (category "ActiveSpot
    Prediction") and the next query ("ActiveSpot Query"). The model warm-starts from the latest
    trained round's checkpoint when ``model.warm_start`` is on.

    Raises
    ------
    ProjectError
        Fewer than two classes are labelled yet.
    """
    from .features import spatial_graph
    from .io import write_loupe_csv

    config = project.config
    adata, blocks = _project_blocks(project)
    barcodes = pd.Index(adata.obs_names)
    labels = _labels_array(project, barcodes)
    counts = pd.Series(labels[labelled_positions(labels)]).value_counts()
    if counts.size < 2:
        msg = (
            f"Training needs labels of at least 2 classes; the project has {dict(counts)}. "
            "Label more spots (activespot suggest, then activespot import)."
        )
        raise ProjectError(msg)
    latest = project.latest_round()
    # initial-query rounds exist only before the first trained round, so this is the last model
    previous = latest if latest is not None and latest.info.get("kind") in K.MODEL_ROUND_KINDS else None
    model = make_classifier(config.model)
    if previous is not None and config.model.warm_start and K.ROUND_MODEL in previous.files:
        model = FusedMLPClassifier.from_bytes(previous.load_file(K.ROUND_MODEL)).set_params(
            **make_classifier(config.model).get_params()
        )
    number = project.next_round_number
    graph, _ = spatial_graph(adata, rings=1)
    result = fit_predict_select(
        model,
        blocks,
        labels,
        graph=graph,
        config=config,
        n=config.select.batch,
        rng=np.random.default_rng([config.model.seed, number]),
    )
    predicted = pd.Series(result.predictions, index=barcodes, name="label")
    # Per-class columns are prefixed so that no class name can collide with "label" or "confidence".
    columns = [f"p({c})" for c in result.model.classes_]
    table = pd.DataFrame(result.probabilities, index=barcodes, columns=columns)
    table.insert(0, "confidence", result.probabilities.max(axis=1))
    table.insert(0, "label", predicted)
    changed = None
    if previous is not None and K.ROUND_PREDICTIONS in previous.files:
        before = previous.load_table(K.ROUND_PREDICTIONS)["label"].reindex(barcodes)
        changed = int(before.ne(predicted).sum())
    query = list(barcodes[result.query])
    info = {
        "kind": K.ROUND_KIND_TRAINED,
        "n_labels": int(counts.sum()),
        "label_counts": {str(k): int(v) for k, v in counts.items()},
        "predicted_counts": {str(k): int(v) for k, v in predicted.value_counts().items()},
        "changed": changed,
        "strategy": config.select.strategy,
        "seconds": round(result.seconds, 3),
        "blocks": {name: int(block.shape[1]) for name, block in blocks.items()},
        "model": config.model.model_dump(mode="json"),
    }
    project.save_round(
        number,
        arrays={K.ROUND_PROBABILITIES: result.probabilities, K.ROUND_EMBEDDINGS: result.embeddings},
        tables={K.ROUND_PREDICTIONS: table, K.ROUND_QUERY: query_table(query, number)},
        files={K.ROUND_MODEL: result.model.to_bytes()},
        info=info,
    )
    prediction_csv = write_loupe_csv(
        predicted,
        project.exports_dir / K.PREDICTION_EXPORT.format(round=number),
        category=K.LOUPE_PREDICTION_CATEGORY,
    )
    return RoundSummary(
        round=number,
        label_counts=info["label_counts"],
        predicted_counts=info["predicted_counts"],
        changed=changed,
        seconds=result.seconds,
        prediction_csv=prediction_csv,
        query_csv=_write_query(project, query, round_number=number),
        query=query,
    )

