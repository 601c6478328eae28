"""Zero-shot label transfer: a model trained on labelled sections predicts a new section.

The new section's project starts with a round of the transferred predictions (kind
``transferred``), so the annotator starts by accepting or correcting suggestions, and the next
``activespot round`` continues from the transferred model, in the same joint feature space (the
joint blocks are stored as the project's features). :func:`transfer_labels` creates that project
for a sample; :func:`transfer_into` writes the round into a project that exists already (a
study's section) and can learn from several labelled sections jointly.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .. import _constants as K
from ..errors import ProjectError

if TYPE_CHECKING:
    from ..config import Config
    from ..project import Project

__all__ = ["TransferSummary", "transfer_into", "transfer_labels"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TransferSummary:
    """What :func:`transfer_labels` or :func:`transfer_into` did, for printing and for the benchmark.

    Attributes
    ----------
    project
        The target project.
    round
        Number of its ``transferred`` round (1 in a new project).
    n_source_labels
        Labels of the sources the model was trained on.
    genes_per_sample
        Genes measured in each source and in the target (the target last).
    common_genes
        Genes in every panel (matched by name): the only genes the expression block uses.
    harmony
        Whether the expression block was Harmony-corrected.
    ensemble
        Fused MLPs whose probabilities were averaged (``transfer.ensemble`` of the source's settings
        unless given).
    predicted_counts
        Spots of the target predicted per class.
    predictions
        The predictions table (index barcode; ``label``, ``confidence``, ``p(<class>)``…).
    loupe_csv, h5ad
        The exported Loupe CSV of predictions and the annotated AnnData.
    seconds
        Wall time, features included.
    """

    project: Path
    round: int
    n_source_labels: int
    genes_per_sample: list[int]
    common_genes: int
    harmony: bool
    ensemble: int
    predicted_counts: dict[str, int]
    predictions: pd.DataFrame = field(repr=False)
    loupe_csv: Path
    h5ad: Path
    seconds: float


@dataclass(frozen=True)
class _Fitted:
    """A transfer computed and not yet written: features, the first model, predictions and the next query."""

    blocks: list[dict[str, np.ndarray]]  # per source, then the target
    info: dict[str, Any]
    source_labels: np.ndarray  # every source spot's label (None where unlabelled), sources stacked
    label_counts: dict[str, int]
    ensemble: int
    model: Any
    table: pd.DataFrame
    embeddings: np.ndarray
    query: list[str]


def transfer_labels(
    source: Project,
    target: str | Path,
    *,
    out: str | Path,
    harmony: bool = True,
    image: str | Path | None = None,
    annotator: str | None = None,
    ensemble: int | None = None,
    device: str | None = None,
    progress: bool = True,
) -> TransferSummary:
    """Train on ``source``'s labels, predict every spot of ``target``, and create its project.

    Parameters
    ----------
    source
        An open project with labels of at least two classes. Its settings (backbone, HVGs, PCs,
        context rings, model, transfer ensemble) are used, and copied into the new project.
    target
        Space Ranger ``outs`` folder (or ``.h5ad``) of the section to annotate.
    out
        The new project folder (must not exist, or be empty).
    harmony
        Batch-correct the joint expression PCs with Harmony (the model reads the corrected PCs).
    image
        Optional full-resolution H&E of the target.
    annotator
        Recorded as the creator of the new project's classes.
    ensemble
        Fused MLPs to average (default: ``transfer.ensemble`` of the source's settings).
    device
        Where backbones and models run this time (default: the source's settings, ``auto``).
    progress
        Show progress bars.

    Returns
    -------
    TransferSummary

    Raises
    ------
    ProjectError
        The source has fewer than two labelled classes, or ``out`` exists and is not empty.
    InputFileError
        The target cannot be read.
    """
    from ..io import read_visium
    from ..project import Project, default_annotator

    start = time.perf_counter()
    ensemble = _check_sources([source], ensemble)
    out = Path(out).absolute()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        msg = f"{out}: already exists and is not empty; choose a new project folder for the target"
        raise ProjectError(msg)
    target_adata = read_visium(target, fullres_image=image)  # InputFileError naming the file, before any work
    fitted = _fit([source], target_adata, None, harmony=harmony, ensemble=ensemble, device=device, progress=progress)
    project = Project.create(
        out,
        visium=target,
        image=image,
        classes=source.store.classes(),
        config=source.config,
        annotator=annotator or default_annotator(),
    )
    return _write(project, [source], fitted, annotator=annotator, start=start)


def transfer_into(
    sources: Project | Sequence[Project],
    target: Project,
    *,
    harmony: bool = True,
    annotator: str | None = None,
    ensemble: int | None = None,
    device: str | None = None,
    progress: bool = True,
) -> TransferSummary:
    """Train on the labels of one or several sources jointly; write the predictions as a round of ``target``.

    What :func:`transfer_labels` does for a project that exists already, e.g. a study's section:
    the features of every source and the target are computed in one joint space (Harmony across
    all of them), one model learns from every source's labels, and ``target`` gets the joint
    blocks as its features, the sources' spots for its later rounds, and a ``transferred`` round.
    Its own labels are kept (and not used by the transfer); the first source's settings become its
    settings and the sources' classes are declared in it, as in a project :func:`transfer_labels` creates.

    Parameters
    ----------
    sources
        Open projects with labels (together of at least two classes) and the same feature settings.
    target
        The open project to predict; not one of ``sources``.
    harmony
        Batch-correct the joint expression PCs with Harmony (the model reads the corrected PCs).
    annotator
        Recorded as who declared classes the target lacked and started the round.
    ensemble
        Fused MLPs to average (default: ``transfer.ensemble`` of the first source's settings).
    device
        Where backbones and models run this time (default: the first source's settings, ``auto``).
    progress
        Show progress bars.

    Returns
    -------
    TransferSummary

    Raises
    ------
    ProjectError
        A source without labels, fewer than two classes in all, sources with different feature
        settings, a target that is a source or a cell project, or a round running in the target.
    """
    from ..project import check_spot_project

    start = time.perf_counter()
    sources = [sources] if not isinstance(sources, Sequence) else list(sources)
    ensemble = _check_sources(sources, ensemble)
    check_spot_project(target)
    if any(source.path == target.path for source in sources):
        msg = f"{target.path}: the target is one of the sources; transfer to a section that is not labelled from"
        raise ProjectError(msg)
    fitted = _fit(
        sources,
        target.load_sample(),
        target.features_dir,
        harmony=harmony,
        ensemble=ensemble,
        device=device,
        progress=progress,
    )
    return _write(target, sources, fitted, annotator=annotator, start=start)


def _check_sources(sources: list[Project], ensemble: int | None) -> int:
    """The ensemble size, after checking that the sources' labels and settings can train one model."""
    if not sources:
        msg = "a transfer needs at least one labelled source project"
        raise ProjectError(msg)
    first = sources[0]
    ensemble = first.config.transfer.ensemble if ensemble is None else int(ensemble)
    if ensemble < 1:
        msg = f"`ensemble` must be at least 1 (one model); got {ensemble}."
        raise ValueError(msg)
    for source in sources[1:]:
        if source.config.features != first.config.features:
            msg = (
                f"{source.path}: its feature settings differ from those of {first.path}; joint features need "
                "one setting for all sources (run 'activespot features' with the same options on both)"
            )
            raise ProjectError(msg)
    if len(sources) > 1:
        empty = [source for source in sources if source.labels().empty]
        if empty:
            msg = f"{empty[0].path}: a source without labels; import its labels or leave it out of the sources"
            raise ProjectError(msg)
    labels = pd.concat([source.labels() for source in sources])
    if labels.nunique() < 2:
        where = first.path if len(sources) == 1 else ", ".join(str(source.path) for source in sources)
        msg = (
            f"{where}: transfer needs labels of at least 2 classes; the project has "
            f"{labels.value_counts().to_dict()}. Label it first (activespot import)."
        )
        raise ProjectError(msg)
    return ensemble


def _fit(
    sources: list[Project],
    target_adata: Any,
    target_cache: Path | None,
    *,
    harmony: bool,
    ensemble: int,
    device: str | None,
    progress: bool,
) -> _Fitted:
    """Joint features of the sources and the target, models trained on the sources' labels, the target predicted."""
    from ..features import resolve_device

    config = sources[0].config
    if device is not None:
        resolve_device(device)  # a GPU this machine lacks fails before anything is read
        config = config.updated({"features": {"device": device}, "model": {"device": device}})
    source_adatas = [source.load_sample() for source in sources]
    cache_dirs = [source.features_dir for source in sources] + [target_cache]
    blocks, info = _features(
        sources[0].path, config, [*source_adatas, target_adata], cache_dirs, harmony=harmony, progress=progress
    )
    source_labels = np.concatenate(
        [source.labels_for(adata.obs_names) for source, adata in zip(sources, source_adatas, strict=True)]
    )
    model, table, embeddings, query = _train_predict(config, source_labels, target_adata, blocks, ensemble=ensemble)
    counts = pd.concat([source.labels() for source in sources]).value_counts()
    return _Fitted(
        blocks=blocks,
        info=info,
        source_labels=source_labels,
        label_counts={str(k): int(v) for k, v in counts.items()},
        ensemble=ensemble,
        model=model,
        table=table,
        embeddings=embeddings,
        query=query,
    )


def _features(
    where: Path,
    config: Config,
    adatas: list[Any],
    cache_dirs: list[Path | None],
    *,
    harmony: bool,
    progress: bool,
) -> tuple[list[dict[str, np.ndarray]], dict[str, Any]]:
    from ._features import joint_feature_blocks

    blocks, info = joint_feature_blocks(
        adatas, config.features, harmony=harmony, cache_dirs=cache_dirs, seed=config.model.seed, progress=progress
    )
    wanted = config.model.blocks
    if wanted is not None:
        missing = [name for name in wanted if name not in blocks[0]]
        if missing:
            msg = f"{where}: model.blocks asks for {', '.join(missing)}, which its feature settings turn off"
            raise ProjectError(msg)
        blocks = [{name: own[name] for name in wanted} for own in blocks]
    return blocks, info


def _train_predict(
    config: Config,
    source_labels: np.ndarray,
    target_adata: Any,
    blocks: list[dict[str, np.ndarray]],
    *,
    ensemble: int,
) -> tuple[Any, pd.DataFrame, np.ndarray, list[str]]:
    """Fit on the sources' labels and every spot of all samples; predict and smooth on the target's graph.

    The target's spots enter ``fit`` unlabelled: they shape only the block standardisation
    (unsupervised), so the model's inputs are scaled over every section alike.

    ``ensemble`` models are fitted on the same labels with seeds ``model.seed``,
    ``model.seed + 1``, …, and their probabilities averaged before smoothing: one fit's prediction
    of a new section varies with the seed alone (the source's labels pin the decision boundaries
    near the source's spots, not near the shifted target's), and the average removes that
    variance. The first member — the one model of ``ensemble: 1`` — is the returned checkpoint
    and gives the embeddings, because the next rounds continue from one model, as the loop does.
    """
    from ..features import spatial_graph
    from ..loop import make_classifier, select_query
    from ..model import smooth_probabilities

    target_blocks = blocks[-1]
    stacked = {name: np.vstack([own[name] for own in blocks]) for name in target_blocks}
    y = np.full(source_labels.size + target_adata.n_obs, None, dtype=object)
    y[: source_labels.size] = source_labels
    model, *others = (
        make_classifier(config.model, seed=config.model.seed + offset).set_params(warm_start=False).fit(stacked, y)
        for offset in range(ensemble)
    )
    probs, embeddings = model.predict_proba_and_embed(target_blocks)
    probs = np.mean([probs, *(member.predict_proba(target_blocks) for member in others)], axis=0)
    graph, _ = spatial_graph(target_adata, rings=1)
    probs = smooth_probabilities(probs, graph, steps=config.model.smoothing_steps)
    barcodes = pd.Index(target_adata.obs_names)
    table = pd.DataFrame(probs, index=barcodes, columns=[f"p({c})" for c in model.classes_])
    table.insert(0, "confidence", probs.max(axis=1))
    table.insert(0, "label", model.classes_[probs.argmax(axis=1)])
    picked = select_query(
        probs,
        embeddings,
        np.zeros(barcodes.size, dtype=bool),
        n=config.select.batch,
        config=config,
        rng=np.random.default_rng([config.model.seed, 1]),
    )
    return model, table, embeddings, list(barcodes[picked])


def _write(
    project: Project, sources: list[Project], fitted: _Fitted, *, annotator: str | None, start: float
) -> TransferSummary:
    """Write a transfer into ``project``: settings, classes, joint features, the sources' spots, the round.

    The first source's settings, every source's classes, the joint blocks as the features: all
    inside the round lock, so no round of the target reads settings and features half-way replaced.
    """
    from ..features import write_features
    from ..io import query_table
    from ..project import default_annotator, round_settings

    config = sources[0].config
    target_blocks = fitted.blocks[-1]
    source_blocks = {name: np.vstack([own[name] for own in fitted.blocks[:-1]]) for name in target_blocks}
    table = fitted.table
    predicted_counts = {str(k): int(v) for k, v in table["label"].value_counts().items()}
    classes = list(dict.fromkeys(name for source in sources for name in source.store.classes()))
    with project.round_lock(annotator=annotator) as number:
        if project.config != config:
            project.save_config(config)
        project.store.add_classes(classes, annotator=annotator or default_annotator())
        sample = project.load_sample()
        for key, block in target_blocks.items():
            sample.obsm[key] = block
        sample.uns[K.FEATURES_UNS_KEY] = {K.FEATURES_JOINT_KEY: json.dumps(fitted.info, default=str)}
        write_features(sample, project.features_dir / K.FEATURES_FILE)
        project.save_transfer_source(source_blocks, fitted.source_labels)
        round_info = {
            K.ROUND_INFO_KIND: K.ROUND_KIND_TRANSFERRED,
            "source_project": ", ".join(str(source.path) for source in sources),
            "source_sample": ", ".join(source.sample.visium for source in sources),
            "n_source_labels": sum(fitted.label_counts.values()),
            "source_label_counts": fitted.label_counts,
            "predicted_counts": predicted_counts,
            "harmony": fitted.info["harmony"],
            "ensemble": fitted.ensemble,
            "genes_per_sample": fitted.info.get("genes_per_sample"),
            "common_genes": fitted.info.get("common_genes"),
            "strategy": config.select.strategy,
            "blocks": {name: int(block.shape[1]) for name, block in target_blocks.items()},
            **round_settings(config),
            "transfer": config.transfer.model_dump(mode="json"),
        }
        project.save_round(
            number,
            arrays={
                K.ROUND_PROBABILITIES: table.filter(like="p(").to_numpy(),
                K.ROUND_EMBEDDINGS: fitted.embeddings.astype(K.ROUND_EMBEDDINGS_DTYPE),
            },
            tables={K.ROUND_PREDICTIONS: table, K.ROUND_QUERY: query_table(fitted.query, number)},
            files={K.ROUND_MODEL: fitted.model.to_bytes()},
            info=round_info,
        )
    loupe_csv, h5ad = _export(project, table, number, blocks=target_blocks, info=round_info)
    seconds = time.perf_counter() - start
    n_labels = round_info["n_source_labels"]
    logger.info(
        "transferred %d labels from %s to %s in %.1f s", n_labels, round_info["source_project"], project.path, seconds
    )
    return TransferSummary(
        project=project.path,
        round=number,
        n_source_labels=n_labels,
        genes_per_sample=list(fitted.info.get("genes_per_sample") or []),
        common_genes=int(fitted.info.get("common_genes") or 0),
        harmony=bool(fitted.info["harmony"]),
        ensemble=fitted.ensemble,
        predicted_counts=predicted_counts,
        predictions=table,
        loupe_csv=loupe_csv,
        h5ad=h5ad,
        seconds=seconds,
    )


def _export(
    project: Project, table: pd.DataFrame, number: int, *, blocks: dict[str, np.ndarray], info: dict[str, Any]
) -> tuple[Path, Path]:
    from ..io import write_loupe_csv

    loupe_csv = write_loupe_csv(
        table["label"],
        project.exports_dir / K.PREDICTION_EXPORT.format(round=number),
        category=K.LOUPE_PREDICTION_CATEGORY,
    )
    adata = project.annotated_adata()
    for key, block in blocks.items():
        adata.obsm[key] = block
    adata.uns[K.TRANSFER_UNS_KEY] = json.dumps(info, default=str)
    h5ad = project.exports_dir / K.TRANSFER_H5AD.format(round=number)
    tmp = h5ad.with_name(f".{h5ad.name}.tmp")
    adata.write_h5ad(tmp)
    tmp.replace(h5ad)
    return loupe_csv, h5ad
