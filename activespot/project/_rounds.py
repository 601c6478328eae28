"""The loop on a project folder: labels from the journal, features from the cache, rounds under the lock.

:func:`suggest` and :func:`run_round` wrap the array core (:mod:`activespot.loop`) for a project:
every round is computed and written inside :meth:`Project.round_lock`, so two runs at once never
share a number or touch each other's files, and each round stores every setting that produced it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import sparse

from .. import _constants as K
from ..errors import ProjectError
from ..io import query_table
from ._project import check_spot_project
from ._workload import accepted_since, judgement_lines

if TYPE_CHECKING:
    from anndata import AnnData

    from ..config import Config
    from ._project import Project

__all__ = [
    "RoundSummary",
    "SpotQuery",
    "project_blocks",
    "round_settings",
    "run_round",
    "suggest",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpotQuery:
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
    device: str = "cpu"
    estimate: dict[str, Any] | None = None
    unchanged: float | None = None
    accepted: dict[str, Any] | None = None
    previous: int | None = None

    def judgement(self) -> list[str]:
        """How good the predictions look, in words: estimated accuracy, stability, accepted suggestions."""
        return judgement_lines(self.estimate, self.unchanged, self.accepted, previous=self.previous)


def project_blocks(project: Project) -> tuple[AnnData, dict[str, np.ndarray]]:
    """The project's spots with their features, read from the project's cache or computed and cached.

    With features in the cache, the AnnData is the sample's layout (:meth:`Project.load_layout`:
    no counts, no images) unless the full sample is loaded already.

    Raises
    ------
    ProjectError
        ``project`` is a cell project.
    """
    from ..features import read_features, write_features
    from ..loop import sample_blocks

    check_spot_project(project)
    stored = project.features_dir / K.FEATURES_FILE
    # Stored features need only the spots and their positions, not the counts and images.
    adata = project.load_layout() if stored.is_file() else project.load_sample()
    if not any(key in adata.obsm for key in K.FEATURE_BLOCKS):
        if stored.is_file():
            read_features(adata, stored)
        else:
            logger.info("Computing features for %s (once; cached in %s).", project.path, project.features_dir)
            sample_blocks(adata, project.config, cache_dir=project.features_dir)
            write_features(adata, stored)
    return adata, sample_blocks(adata, project.config)


def round_settings(config: Config, *, provenance: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every setting a spot round depends on, for its record: model, selection, features (and their provenance)."""
    settings: dict[str, Any] = {
        "model": config.model.model_dump(mode="json"),
        "select": config.select.model_dump(mode="json"),
        "features": config.features.model_dump(mode="json"),
    }
    if provenance is not None:
        settings["feature_provenance"] = dict(provenance)
    return settings


def suggest(project: Project, *, n: int | None = None, wait: bool = True, annotator: str | None = None) -> SpotQuery:
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
    wait, annotator
        As :meth:`Project.round_lock` (the initial query is a round of its own).
    """
    # The round's own query needs neither torch nor scikit-learn: they are imported (~4 s) only to
    # choose a new one.
    config = project.config
    if n is not None and n < 1:
        msg = f"The number of spots to suggest must be at least 1; got {n}."
        raise ProjectError(msg)
    check_spot_project(project)
    barcodes = project.barcodes
    labelled = np.zeros(barcodes.size, dtype=bool)
    labelled[barcodes.isin(project.labels().index)] = True
    latest = project.latest_round()
    stored = None if latest is None else barcodes.get_indexer(latest.load_table(K.ROUND_QUERY).index)
    if latest is not None and latest.info.get(K.ROUND_INFO_KIND) in K.MODEL_ROUND_KINDS:
        n = n or config.select.batch
        if stored.size == n and (stored >= 0).all() and not labelled[stored].any():
            picked = stored  # the round's own query, none of it answered yet
        else:
            from ..loop import select_query

            picked = select_query(
                latest.load_array(K.ROUND_PROBABILITIES),
                latest.load_array(K.ROUND_EMBEDDINGS),
                labelled,
                n=n,
                config=config,
                rng=np.random.default_rng([config.model.seed, latest.number]),
            )
        number = latest.number
    elif latest is not None and n is None:  # the initial query already made: what is left of it
        picked = stored[(stored >= 0) & ~labelled[np.maximum(stored, 0)]]
        number = latest.number
    else:
        from ..loop import initial_query

        adata, blocks = project_blocks(project)
        with project.round_lock(wait=wait, annotator=annotator) as number:
            picked = initial_query(
                blocks,
                n or config.select.init,
                rng=np.random.default_rng([config.model.seed, number]),
                exclude=labelled,
            )
            project.save_round(
                number,
                tables={K.ROUND_QUERY: query_table(barcodes[picked], number)},
                info={
                    K.ROUND_INFO_KIND: K.ROUND_KIND_INITIAL,
                    "n_query": int(picked.size),
                    "n": n or config.select.init,
                    **round_settings(config, provenance=adata.uns.get(K.FEATURES_UNS_KEY)),
                },
            )
    query = list(barcodes[picked])
    path = _write_query(project, query, round_number=number)
    return SpotQuery(path, query, number)


def _with_transfer_source(
    project: Project, blocks: dict[str, np.ndarray], labels: np.ndarray, graph: sparse.spmatrix
) -> tuple[dict[str, np.ndarray], np.ndarray, sparse.spmatrix, int]:
    """Blocks, labels and graph to train on: the source's spots first when the project was transferred.

    Returns them unchanged (and 0 source rows) for a project of its own, or when its features are
    no longer the joint ones of its transfer (recomputed with ``activespot features``).
    """
    source = project.transfer_source()
    if source is None:
        return blocks, labels, graph, 0
    source_blocks, source_labels = source
    shapes = {name: block.shape[1] for name, block in blocks.items()}
    if {name: block.shape[1] for name, block in source_blocks.items()} != shapes:
        logger.warning(
            "%s: the features are no longer those of its transfer; training on this section's labels alone",
            project.path,
        )
        return blocks, labels, graph, 0
    rows = source_labels.size
    stacked = {name: np.vstack([source_blocks[name], block]) for name, block in blocks.items()}
    apart = sparse.block_diag([sparse.csr_matrix((rows, rows)), graph], format="csr")  # no smoothing across
    return stacked, np.concatenate([source_labels, labels]), apart, rows


def _write_query(project: Project, query: list[str], *, round_number: int) -> Path:
    from ..io import write_loupe_csv

    path = project.exports_dir / K.QUERY_EXPORT.format(round=round_number)
    return write_loupe_csv(query_table(query, round_number)["query"], path, category=K.LOUPE_QUERY_CATEGORY)


def run_round(
    project: Project, *, device: str | None = None, wait: bool = True, annotator: str | None = None
) -> RoundSummary:
    """Train on the project's current labels, predict every spot, choose the next query; save it all.

    Writes a round (probabilities, embeddings, predictions and query tables, model checkpoint)
    and two Loupe CSVs in ``exports/``: every spot's prediction (category "ActiveSpot
    Prediction") and the next query ("ActiveSpot Query"). The model warm-starts from the latest
    trained round's checkpoint when ``model.warm_start`` is on. The labels are read inside the
    round lock, so the round trains on what was labelled when it started. A project made by
    ``activespot transfer`` trains on the source's labels too, in the joint feature space it
    was transferred in, so that its own first labels refine the transfer instead of replacing it.

    Parameters
    ----------
    project
        An open project.
    device
        Where the model trains this time (default: the project's ``model.device``, ``auto``).
    wait
        When another round is running: wait for it (true) or raise :class:`RoundBusyError`.
    annotator
        Who started the round (shown to anyone who finds the project busy).

    Raises
    ------
    ProjectError
        Fewer than two classes are labelled yet.
    RoundBusyError
        ``wait`` is false and another round is running.
    """
    from ..features import resolve_device, spatial_graph
    from ..io import write_loupe_csv
    from ..loop import fit_predict_select, make_classifier
    from ..model import FusedMLPClassifier, labelled_positions

    config = project.config if device is None else project.config.updated({"model": {"device": device}})
    trained_on = str(resolve_device(config.model.device))  # a GPU this machine lacks fails before anything is read
    adata, blocks = project_blocks(project)
    barcodes = pd.Index(adata.obs_names)
    graph, _ = spatial_graph(adata, rings=1)
    with project.round_lock(wait=wait, annotator=annotator) as number:
        labels = project.labels_for(barcodes)
        counts = pd.Series(labels[labelled_positions(labels)]).value_counts()
        if counts.size < 2:
            msg = (
                f"Training needs labels of at least 2 classes; the project has {dict(counts)}. "
                "Label more spots (activespot suggest, then activespot import)."
            )
            raise ProjectError(msg)
        # initial-query rounds exist only before the first trained round, so this is the last model
        previous = project.model_round()
        model = make_classifier(config.model)
        if previous is not None and config.model.warm_start and K.ROUND_MODEL in previous.files:
            model = FusedMLPClassifier.from_bytes(previous.load_file(K.ROUND_MODEL)).set_params(
                **make_classifier(config.model).get_params()
            )
        fit_blocks, fit_labels, fit_graph, source_rows = _with_transfer_source(project, blocks, labels, graph)
        exclude = np.arange(fit_labels.size) < source_rows  # the source's spots are never asked about
        result = fit_predict_select(
            model,
            fit_blocks,
            fit_labels,
            graph=fit_graph,
            config=config,
            n=config.select.batch,
            rng=np.random.default_rng([config.model.seed, number]),
            exclude=exclude if source_rows else None,
        )
        estimate = _estimate(fit_blocks, fit_labels, result, graph=fit_graph, config=config, exclude=exclude)
        result = dataclasses.replace(
            result,
            probabilities=result.probabilities[source_rows:],
            embeddings=result.embeddings[source_rows:],
            query=result.query - source_rows,
        )
        predicted = pd.Series(result.predictions, index=barcodes, name="label")
        # Per-class columns are prefixed so that no class name can collide with "label" or "confidence".
        columns = [f"p({c})" for c in result.model.classes_]
        table = pd.DataFrame(result.probabilities, index=barcodes, columns=columns)
        table.insert(0, "confidence", result.probabilities.max(axis=1))
        table.insert(0, "label", predicted)
        changed = unchanged = accepted = None
        if previous is not None:
            before = previous.load_table(K.ROUND_PREDICTIONS)["label"].reindex(barcodes)
            changed = int(before.ne(predicted).sum())
            unchanged = round(1 - changed / max(barcodes.size, 1), 4)
            accepted = accepted_since(project.store, previous.number)
        query = list(barcodes[result.query])
        info = {
            K.ROUND_INFO_KIND: K.ROUND_KIND_TRAINED,
            "n_labels": int(counts.sum()),
            "label_counts": {str(k): int(v) for k, v in counts.items()},
            "predicted_counts": {str(k): int(v) for k, v in predicted.value_counts().items()},
            "changed": changed,
            K.ROUND_INFO_ESTIMATE: estimate,
            K.ROUND_INFO_UNCHANGED: unchanged,
            K.ROUND_INFO_ACCEPTED: accepted,
            "strategy": config.select.strategy,
            "seconds": round(result.seconds, 3),
            "device": trained_on,
            "warm_started_from": previous.number if previous is not None and config.model.warm_start else None,
            "blocks": {name: int(block.shape[1]) for name, block in blocks.items()},
            **round_settings(config, provenance=adata.uns.get(K.FEATURES_UNS_KEY)),
        }
        project.save_round(
            number,
            arrays={
                K.ROUND_PROBABILITIES: result.probabilities,
                K.ROUND_EMBEDDINGS: result.embeddings.astype(K.ROUND_EMBEDDINGS_DTYPE),
            },
            tables={K.ROUND_PREDICTIONS: table, K.ROUND_QUERY: query_table(query, number)},
            files={K.ROUND_MODEL: result.model.to_bytes()},
            info=info,
        )
    prediction_csv = write_loupe_csv(
        project.without_excluded(predicted)[0],  # spots of the exclusion class left out, as in every export
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
        device=trained_on,
        estimate=estimate,
        unchanged=unchanged,
        accepted=accepted,
        previous=None if previous is None else previous.number,
    )


def _estimate(
    blocks: Mapping[str, np.ndarray],
    labels: np.ndarray,
    result: Any,
    *,
    graph: sparse.spmatrix,
    config: Config,
    exclude: np.ndarray,
) -> dict[str, Any] | None:
    """The round's estimated accuracy over the project's spots (:func:`activespot.loop.estimate_accuracy`).

    ``None``, with a message, when the labels are too few for the folds (a class with one label
    leaves a fold that cannot be trained).
    """
    from ..loop import estimate_round

    try:
        found = estimate_round(blocks, labels, result, graph=graph, config=config.model, exclude=exclude)
    except ValueError as err:
        logger.warning("No accuracy estimate for this round: %s", err)
        return None
    logger.info("Accuracy estimated in %.2f s", found.seconds)
    return found.to_dict()
