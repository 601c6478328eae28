"""Zero-shot label transfer: a model trained on one section's labels predicts a new section.

The new section becomes a project of its own whose first round holds the transferred
predictions (kind ``transferred``), so the annotator starts by accepting or correcting
suggestions, and the next ``activespot round`` continues from the transferred model, in the
same joint feature space (the joint blocks are stored as the new project's features).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .. import _constants as K
from ..errors import ProjectError

if TYPE_CHECKING:
    from ..project import Project

__all__ = ["TransferSummary", "transfer_labels"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TransferSummary:
    """What :func:`transfer_labels` did, for printing and for the benchmark.

    Attributes
    ----------
    project
        The new target project.
    round
        Number of its ``transferred`` round (1).
    n_source_labels
        Labels of the source the model was trained on.
    genes_per_sample
        Genes measured in the source and in the target.
    common_genes
        Genes in both panels (matched by name): the only genes the expression block uses.
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


def transfer_labels(
    source: Project,
    target: str | Path,
    *,
    out: str | Path,
    harmony: bool = True,
    image: str | Path | None = None,
    annotator: str | None = None,
    ensemble: int | None = None,
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
    import time

    start = time.perf_counter()
    ensemble = source.config.transfer.ensemble if ensemble is None else int(ensemble)
    if ensemble < 1:
        msg = f"`ensemble` must be at least 1 (one model); got {ensemble}."
        raise ValueError(msg)
    labels = source.labels()
    if labels.nunique() < 2:
        msg = (
            f"{source.path}: transfer needs labels of at least 2 classes; the project has "
            f"{labels.value_counts().to_dict()}. Label it first (activespot import)."
        )
        raise ProjectError(msg)
    out = Path(out).absolute()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        msg = f"{out}: already exists and is not empty; choose a new project folder for the target"
        raise ProjectError(msg)
    from ..io import read_visium

    target_adata = read_visium(target, fullres_image=image)  # InputFileError naming the file, before any work
    source_adata = source.load_sample()
    blocks, info = _features(source, source_adata, target_adata, harmony=harmony, progress=progress)
    model, table, embeddings, query = _train_predict(
        source, labels, source_adata, target_adata, blocks, ensemble=ensemble
    )
    project = _create_target(source, target, out=out, image=image, annotator=annotator, blocks=blocks[1], info=info)
    project.save_transfer_source(blocks[0], _labels_of(labels, source_adata.obs_names))
    predicted_counts = {str(k): int(v) for k, v in table["label"].value_counts().items()}
    from ..loop import query_table
    from ..project import round_settings

    with project.round_lock(annotator=annotator) as number:
        round_info = {
            K.ROUND_INFO_KIND: K.ROUND_KIND_TRANSFERRED,
            "source_project": str(source.path),
            "source_sample": source.sample.visium,
            "n_source_labels": len(labels),
            "source_label_counts": {str(k): int(v) for k, v in labels.value_counts().items()},
            "predicted_counts": predicted_counts,
            "harmony": info["harmony"],
            "ensemble": ensemble,
            "genes_per_sample": info.get("genes_per_sample"),
            "common_genes": info.get("common_genes"),
            "strategy": source.config.select.strategy,
            "blocks": {name: int(block.shape[1]) for name, block in blocks[1].items()},
            **round_settings(source.config),
            "transfer": source.config.transfer.model_dump(mode="json"),
        }
        project.save_round(
            number,
            arrays={
                K.ROUND_PROBABILITIES: table.filter(like="p(").to_numpy(),
                K.ROUND_EMBEDDINGS: embeddings.astype(K.ROUND_EMBEDDINGS_DTYPE),
            },
            tables={K.ROUND_PREDICTIONS: table, K.ROUND_QUERY: query_table(query, number)},
            files={K.ROUND_MODEL: model.to_bytes()},
            info=round_info,
        )
    loupe_csv, h5ad = _export(project, table, number, blocks=blocks[1], info=round_info)
    seconds = time.perf_counter() - start
    logger.info("transferred %d labels from %s to %s in %.1f s", len(labels), source.path, project.path, seconds)
    return TransferSummary(
        project=project.path,
        round=number,
        n_source_labels=len(labels),
        genes_per_sample=list(info.get("genes_per_sample") or []),
        common_genes=int(info.get("common_genes") or 0),
        harmony=bool(info["harmony"]),
        ensemble=ensemble,
        predicted_counts=predicted_counts,
        predictions=table,
        loupe_csv=loupe_csv,
        h5ad=h5ad,
        seconds=seconds,
    )


def _features(
    source: Project, source_adata: Any, target_adata: Any, *, harmony: bool, progress: bool
) -> tuple[list[dict[str, np.ndarray]], dict[str, Any]]:
    from ._features import joint_feature_blocks

    config = source.config
    blocks, info = joint_feature_blocks(
        [source_adata, target_adata],
        config.features,
        harmony=harmony,
        cache_dirs=[source.features_dir, None],
        seed=config.model.seed,
        progress=progress,
    )
    wanted = config.model.blocks
    if wanted is not None:
        missing = [name for name in wanted if name not in blocks[0]]
        if missing:
            msg = f"{source.path}: model.blocks asks for {', '.join(missing)}, which its feature settings turn off"
            raise ProjectError(msg)
        blocks = [{name: own[name] for name in wanted} for own in blocks]
    return blocks, info


def _train_predict(
    source: Project,
    labels: pd.Series,
    source_adata: Any,
    target_adata: Any,
    blocks: list[dict[str, np.ndarray]],
    *,
    ensemble: int,
) -> tuple[Any, pd.DataFrame, np.ndarray, list[str]]:
    """Fit on the source's labels and every spot of both samples; predict and smooth on the target's graph.

    The target's spots enter ``fit`` unlabelled: they shape only the block standardisation
    (unsupervised), so the model's inputs are scaled over both sections alike.

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

    config = source.config
    n_source = source_adata.n_obs
    stacked = {name: np.vstack([blocks[0][name], blocks[1][name]]) for name in blocks[0]}
    y = np.full(n_source + target_adata.n_obs, None, dtype=object)
    y[:n_source] = _labels_of(labels, source_adata.obs_names)
    model, *others = (
        make_classifier(config.model, seed=config.model.seed + offset).set_params(warm_start=False).fit(stacked, y)
        for offset in range(ensemble)
    )
    probs, embeddings = model.predict_proba_and_embed(blocks[1])
    probs = np.mean([probs, *(member.predict_proba(blocks[1]) for member in others)], axis=0)
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


def _labels_of(labels: pd.Series, barcodes: pd.Index) -> np.ndarray:
    """The label of each of ``barcodes`` (``None`` where unlabelled), as an object array."""
    return labels.reindex(barcodes).astype(object).where(lambda s: s.notna(), None).to_numpy()


def _create_target(
    source: Project,
    target: str | Path,
    *,
    out: Path,
    image: str | Path | None,
    annotator: str | None,
    blocks: dict[str, np.ndarray],
    info: dict[str, Any],
) -> Project:
    """The target's project with the source's settings and classes, and the joint blocks as its features."""
    from ..features import write_features
    from ..project import Project, default_annotator

    classes = source.store.classes()
    project = Project.create(
        out,
        visium=target,
        image=image,
        classes=classes,
        config=source.config,
        annotator=annotator or default_annotator(),
    )
    sample = project.load_sample()
    for key, block in blocks.items():
        sample.obsm[key] = block
    sample.uns[K.FEATURES_UNS_KEY] = {"joint": json.dumps(info, default=str)}
    write_features(sample, project.features_dir / K.FEATURES_FILE)
    return project


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
