"""Simulated annotation: the loop run against known labels, to measure strategies and settings.

A simulated annotator answers each query from a ground-truth table, and that is the only way
truth enters: features, normalisation, the model's settings and the query strategy see the
truth only of spots already asked. Spots without truth are kept as spots (they still shape the
unsupervised features and the neighbour graph) but never asked, and left out of the metrics.

The result is a plain dict (and JSON file) that other tools read::

    {"strategy": ..., "config": {...},
     "rounds": [{"n_labeled", "pool_weighted_f1", "pool_macro_f1", "pool_misclassified_pct",
                 "pool_weighted_f1_labels_substituted", "seconds", "pool_accuracy",
                 "estimated_accuracy", "estimated_accuracy_low", "estimated_accuracy_high",
                 "oof_accuracy", "oof_accuracy_low", "oof_accuracy_high", "estimate_seconds",
                 "unchanged_pct"}, ...],
     "queried_barcodes": [[barcodes answered before each round's training], ...],
     "full_supervision": {"pool_weighted_f1", "pool_macro_f1", "pool_misclassified_pct"},
     "baselines": {strategy: {"rounds": [...]}}}   # with strategy="all"

Pool metrics are over every spot with truth, from the model's predictions;
``pool_weighted_f1_labels_substituted`` is the same figure with the labels asked so far put in
place of their predictions, i.e. what a user exporting labels-or-predictions would get.

``pool_accuracy`` is the true share of the pool predicted right, and next to it what a project
would be told without the truth (:func:`~activespot.loop.estimate_accuracy`):
``estimated_accuracy`` with its 95 % interval (confidence-weighted to the pool), and
``oof_accuracy`` with its Wilson interval (the out-of-fold models' accuracy on the labels alone);
``unchanged_pct`` is the share of the pool predicted as in the round before (``None`` in the
first). The estimate keys are left out when ``estimate`` is off (the baselines of ``"all"``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

from .. import _constants as K
from .._progress import progress_bar
from ..config import Config
from ..io import query_table, read_truth
from ..select import DEFAULT_STRATEGY, STRATEGIES, get_strategy
from ._estimate import estimate_round
from ._round import RoundResult, fit_predict_select, initial_query, make_classifier, sample_blocks

if TYPE_CHECKING:
    from anndata import AnnData
    from scipy import sparse

__all__ = ["ALL", "plot_learning_curves", "run_simulation", "simulate", "supervised_ceiling"]

logger = logging.getLogger(__name__)

ALL = "all"  # --strategy all: the default strategy, with every other strategy as a baseline


def _pool_metrics(truth: np.ndarray, predicted: np.ndarray, pool: np.ndarray) -> dict[str, float]:
    y, p = truth[pool].astype(str), predicted[pool].astype(str)
    return {
        "pool_weighted_f1": round(float(f1_score(y, p, average="weighted")), 4),
        "pool_macro_f1": round(float(f1_score(y, p, average="macro")), 4),
        "pool_misclassified_pct": round(100.0 * float(np.mean(y != p)), 3),
    }


def _cover_classes(picked: np.ndarray, truth: np.ndarray, pool: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Add one random spot of every class the initial query missed (simulation only: needs the truth)."""
    seen = {truth[i] for i in picked}
    extra = [rng.choice(pool[truth[pool] == c]) for c in sorted({truth[i] for i in pool} - seen)]
    return np.concatenate([picked, np.asarray(extra, dtype=int)]) if extra else picked


def simulate(
    blocks: Mapping[str, np.ndarray],
    truth: np.ndarray,
    *,
    graph: sparse.spmatrix | None,
    config: Config | None = None,
    rounds: int = 10,
    seed: int = 0,
    progress: bool = False,
    estimate: bool = True,
    estimate_folds: int = 5,
    estimate_epochs: int | None = None,
) -> tuple[dict[str, Any], RoundResult]:
    """Run the loop against ``truth`` for ``rounds`` rounds after the initial query.

    Parameters
    ----------
    blocks
        Feature blocks of every spot (computed without the truth).
    truth
        One label per spot, ``None`` where unknown; unknown spots are never asked.
    graph
        Spot neighbour graph for the model's probability smoothing.
    config
        Strategy, batch sizes and model settings; ``select.strategy`` is the strategy run.
    rounds
        Query rounds after the initial one; ``rounds + 1`` models are trained.
    seed
        Seeds the model and the strategy (overrides ``model.seed``).
    progress
        Show a progress bar.
    estimate
        Estimate each round's accuracy without the truth (out-of-fold models: ~5 trainings more
        per round), to set next to the true pool accuracy.
    estimate_folds, estimate_epochs
        Folds of the estimate and epochs of its out-of-fold models (``model.epochs`` by default).

    Returns
    -------
    result
        ``{"strategy", "seed", "rounds": [...], "queried": [positions asked before each round's fit]}``.
    last
        The last round's :class:`~activespot.loop.RoundResult` (predictions, next query).
    """
    config = Config() if config is None else config
    get_strategy(config.select.strategy)
    truth = np.asarray(truth, dtype=object)
    pool = np.flatnonzero(pd.notna(truth))
    unknown = np.ones(truth.size, dtype=bool)
    unknown[pool] = False
    if np.unique(truth[pool].astype(str)).size < 2:
        msg = "The truth must hold at least 2 classes to simulate annotation."
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    asked = _cover_classes(initial_query(blocks, config.select.init, rng=rng, exclude=unknown), truth, pool, rng)
    labels = np.full(truth.size, None, dtype=object)
    model = make_classifier(config.model, seed=seed)
    model_config = config.model.model_copy(update={"seed": seed})
    records, queried, before = [], [], None
    for _ in progress_bar(range(rounds + 1), desc=config.select.strategy, disable=not progress, leave=False):
        labels[asked] = truth[asked]  # the simulated annotator answers the query
        queried.append([int(i) for i in asked])
        result = fit_predict_select(
            model, blocks, labels, graph=graph, config=config, n=config.select.batch, rng=rng, exclude=unknown
        )
        substituted = np.where(pd.notna(labels), labels, result.predictions)
        records.append(
            {
                "n_labeled": int(pd.notna(labels).sum()),
                **_pool_metrics(truth, result.predictions, pool),
                "pool_weighted_f1_labels_substituted": _pool_metrics(truth, substituted, pool)["pool_weighted_f1"],
                "seconds": round(result.seconds, 3),
                "pool_accuracy": round(
                    float(np.mean(truth[pool].astype(str) == result.predictions[pool].astype(str))), 4
                ),
                "unchanged_pct": None
                if before is None
                else round(100.0 * float(np.mean(before == result.predictions[pool])), 3),
            }
        )
        if estimate:
            found = estimate_round(
                blocks,
                labels,
                result,
                graph=graph,
                config=model_config,
                exclude=unknown,
                folds=estimate_folds,
                epochs=estimate_epochs,
            )
            records[-1].update(_estimate_record(found.to_dict()))
        before = result.predictions[pool]
        asked = result.query
    summary = {"strategy": config.select.strategy, "seed": seed}
    return {**summary, "rounds": records, "queried": queried}, result


def _estimate_record(found: dict[str, Any]) -> dict[str, float]:
    """An :class:`~activespot.loop.AccuracyEstimate` as a simulation round's keys."""
    return {
        "estimated_accuracy": found["accuracy"],
        "estimated_accuracy_low": found["low"],
        "estimated_accuracy_high": found["high"],
        "oof_accuracy": found["labelled_accuracy"],
        "oof_accuracy_low": found["labelled_low"],
        "oof_accuracy_high": found["labelled_high"],
        "estimate_seconds": round(found["seconds"], 3),
    }


def supervised_ceiling(
    blocks: Mapping[str, np.ndarray], truth: np.ndarray, *, graph: sparse.spmatrix | None, config: Config, seed: int = 0
) -> dict[str, float]:
    """Pool metrics of the same model trained on every spot with truth: the curve's ceiling."""
    model = make_classifier(config.model, seed=seed).set_params(warm_start=False)
    result = fit_predict_select(model, blocks, truth, graph=graph, config=config, n=1, rng=seed)
    return _pool_metrics(np.asarray(truth, dtype=object), result.predictions, np.flatnonzero(pd.notna(truth)))


def run_simulation(
    visium: str | Path | AnnData,
    truth: str | Path,
    *,
    bin_size: int | None = None,
    truth_column: str | None = None,
    strategy: str = DEFAULT_STRATEGY,
    init: int | None = None,
    batch: int | None = None,
    rounds: int = 10,
    seed: int = 0,
    backbone: str | None = None,
    config: Config | None = None,
    out_dir: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Read a sample and its truth, compute features, and simulate annotation with one or all strategies.

    This is what ``activespot simulate`` and ``activespot demo`` run.

    Parameters
    ----------
    visium
        Space Ranger ``outs`` folder or ``.h5ad``, or an AnnData as :func:`activespot.io.read_visium`
        returns it (feature blocks already in ``obsm`` are used as they are).
    bin_size
        Visium HD: which bins to simulate on (µm; see :func:`activespot.io.read_visium`).
    truth
        Ground-truth CSV (barcodes, then labels; see :func:`read_truth`).
    truth_column
        Label column of ``truth``; the second column by default.
    strategy
        A name from :data:`activespot.select.STRATEGIES`, or ``"all"`` to run the default strategy
        and every other one as a baseline.
    init, batch
        Initial and per-round query sizes; default from ``config.select``.
    rounds
        Query rounds after the initial one.
    seed
        Seed of the model and strategies.
    backbone
        Morphology backbone; defaults to ``config.features.backbone``.
    config
        Settings; the defaults when ``None``.
    out_dir
        When given, writes ``simulation.json``, ``learning_curve.png`` and the last round's Loupe
        CSVs (predictions and next query) into this folder.
    progress
        Show progress bars.

    Returns
    -------
    dict
        The result described in the module docstring.
    """
    config = Config() if config is None else config
    overrides: dict[str, Any] = {"select": {}, "model": {"seed": seed}}
    if strategy != ALL:
        get_strategy(strategy)
        overrides["select"]["strategy"] = strategy
    if init is not None:
        overrides["select"]["init"] = init
    if batch is not None:
        overrides["select"]["batch"] = batch
    if backbone is not None:
        overrides["features"] = {"backbone": backbone}
    config = config.updated(overrides)
    if rounds < 0:
        msg = f"`rounds` must be >= 0; got {rounds}."
        raise ValueError(msg)

    from anndata import AnnData

    from ..features import spatial_graph
    from ..io import read_visium

    adata = visium if isinstance(visium, AnnData) else read_visium(visium, bin_size=bin_size)
    labels = read_truth(truth, column=truth_column, barcodes=adata.obs_names)
    blocks = sample_blocks(adata, config, progress=progress)
    graph, _ = spatial_graph(adata, rings=1)
    names = [config.select.strategy]
    if strategy == ALL:
        names += [name for name in STRATEGIES if name != config.select.strategy]
    runs = {}
    for name in names:
        runs[name] = simulate(
            blocks,
            labels,
            graph=graph,
            config=config.updated({"select": {"strategy": name}}),
            rounds=rounds,
            seed=seed,
            progress=progress,
            estimate=name == names[0],  # the baselines are compared by their truth alone
        )
    main, last = runs[names[0]]
    result = {
        "strategy": main["strategy"],
        "seed": seed,
        "config": {**config.to_dict(), "rounds": rounds, "truth": str(truth)},
        "rounds": main["rounds"],
        "queried_barcodes": [list(adata.obs_names[q]) for q in main["queried"]],
        "full_supervision": supervised_ceiling(blocks, labels, graph=graph, config=config, seed=seed),
    }
    if len(names) > 1:
        result["baselines"] = {name: {"rounds": runs[name][0]["rounds"]} for name in names[1:]}
    if out_dir is not None:
        _write_outputs(result, last, adata.obs_names, Path(out_dir))
    return result


def _write_outputs(result: dict[str, Any], last: RoundResult, barcodes: pd.Index, out_dir: Path) -> None:
    from ..io import write_loupe_csv

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "simulation.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    plot_learning_curves(result, out_dir / "learning_curve.png")
    n_rounds = len(result["rounds"]) - 1
    write_loupe_csv(
        pd.Series(last.predictions, index=barcodes),
        out_dir / K.PREDICTION_EXPORT.format(round=n_rounds),
        category=K.LOUPE_PREDICTION_CATEGORY,
    )
    query = query_table(barcodes[last.query], n_rounds)["query"]
    write_loupe_csv(query, out_dir / K.QUERY_EXPORT.format(round=n_rounds), category=K.LOUPE_QUERY_CATEGORY)
    logger.info("Wrote the simulation's JSON, plot and Loupe CSVs to %s.", out_dir)


def plot_learning_curves(result: Mapping[str, Any], path: str | Path) -> Path:
    """Plot pool weighted F1 against the number of labels: the run, the random baseline, the ceiling.

    Parameters
    ----------
    result
        A :func:`run_simulation` result (or a mean of several with the same keys).
    path
        Output image; the format follows the suffix (``.png``, ``.pdf``, ``.svg``).
    """
    from matplotlib.figure import Figure  # no pyplot: files only, no global backend or window

    curves = {result["strategy"]: result["rounds"]}
    if "random" in result.get("baselines", {}):
        curves["random"] = result["baselines"]["random"]["rounds"]
    fig = Figure(figsize=(5.5, 4))
    ax = fig.subplots()
    for name, records in curves.items():
        ax.plot([r["n_labeled"] for r in records], [r["pool_weighted_f1"] for r in records], marker="o", label=name)
    ceiling = result.get("full_supervision", {}).get("pool_weighted_f1")
    if ceiling is not None:
        ax.axhline(ceiling, color="grey", linestyle="--", label="full supervision")
    ax.set_xlabel("labelled spots")
    ax.set_ylabel("weighted F1 over the pool")
    ax.set_title(f"Simulated annotation ({result['strategy']})")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
