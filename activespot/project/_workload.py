"""Read-only summaries of a project for the review app: the queue, the review table, rounds, workload.

Plain functions over a :class:`~activespot.project.Project` or its
:class:`~activespot.project.LabelStore`; they never write and never import Streamlit, so the
app's pages stay thin and the numbers can be checked without a browser.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .. import _constants as K

if TYPE_CHECKING:
    from ._project import Project
    from ._store import LabelStore

__all__ = ["annotator_workload", "queue_table", "review_table", "round_class_counts", "round_history"]

_IDLE_MINUTES = 10.0  # a pause longer than this ends a working session (not counted as labelling time)


def queue_table(
    project: Project, *, query: list[str] | None = None, predictions: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The spots the latest round asks about, in the order asked.

    Parameters
    ----------
    project
        An open project.
    query
        The latest query's barcodes when the caller already holds them (else they are read).
    predictions
        The latest predictions table when the caller already holds it (else it is read).

    Returns
    -------
    pandas.DataFrame
        Index ``barcode``; columns ``label`` (current label or ``None``), ``prediction`` and
        ``confidence`` (from the latest round with predictions, ``NaN`` before the first) and
        ``round`` (the round that asked). Empty before any query.
    """
    columns = ["label", "prediction", "confidence", "round"]
    number = project.last_round_number
    if query is None:
        latest = project.latest_round(containing=K.ROUND_QUERY)
        query = [] if latest is None else list(latest.load_table(K.ROUND_QUERY).index)
        number = None if latest is None else latest.number
        predictions = project.predictions() if predictions is None else predictions
    if not query:
        return pd.DataFrame(columns=columns, index=pd.Index([], name="barcode"))
    barcodes = pd.Index(query, name="barcode")
    table = pd.DataFrame(index=barcodes)
    table["label"] = project.labels().reindex(barcodes).astype(object)
    if predictions is not None:
        table["prediction"] = predictions["label"].reindex(barcodes).astype(object)
        table["confidence"] = predictions["confidence"].reindex(barcodes).astype(float)
    else:
        table["prediction"] = None
        table["confidence"] = np.nan
    table["round"] = number
    return table[columns]


def review_table(project: Project, *, predictions: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every predicted spot with its current label, least confident first.

    Parameters
    ----------
    project
        An open project.
    predictions
        The latest round's predictions table when the caller already holds it (else it is read).

    Returns
    -------
    pandas.DataFrame
        Index ``barcode``; columns ``prediction``, ``confidence``, ``label`` (current label or
        ``None``) and ``agrees`` (label equals prediction). Empty before the first trained round.
    """
    if predictions is None:
        predictions = project.predictions()
    columns = ["prediction", "confidence", "label", "agrees"]
    if predictions is None:
        return pd.DataFrame(columns=columns, index=pd.Index([], name="barcode"))
    table = pd.DataFrame(
        {"prediction": predictions["label"].astype(object), "confidence": predictions["confidence"].astype(float)}
    )
    table.index.name = "barcode"
    table["label"] = project.labels().reindex(table.index).astype(object)
    table["agrees"] = table["label"].eq(table["prediction"])
    return table.sort_values("confidence", kind="stable")[columns]


def round_history(project: Project, *, truth: pd.Series | None = None) -> pd.DataFrame:
    """One row per model round (trained or transferred): labels used, changes, seconds and (with ``truth``) accuracy.

    Parameters
    ----------
    project
        An open project.
    truth
        Known class per barcode (e.g. a published annotation); accuracy is the share of the spots
        with a truth whose prediction matches it.

    Returns
    -------
    pandas.DataFrame
        Columns ``round``, ``kind`` (one of ``MODEL_ROUND_KINDS``), ``created_at``, ``n_labels``
        (the labels the model was trained on), ``changed`` (predictions that differ from the round
        before; ``NaN`` for the first), ``seconds`` (training), ``minutes`` (wall time
        since the round before was saved: the annotation time of this round) and ``accuracy``
        (``NaN`` without truth).
    """
    rows = []
    previous = None
    for row in project.store.rounds().itertuples():
        info = json.loads(row.info) if row.info else {}
        created = pd.Timestamp(row.created_at)
        minutes = np.nan if previous is None else (created - previous).total_seconds() / 60
        previous = created
        if getattr(row, K.ROUND_KIND_COLUMN) not in K.MODEL_ROUND_KINDS:
            continue
        accuracy = np.nan
        if truth is not None and len(truth):
            folder = project.rounds_dir / row.path
            predicted = pd.read_parquet(folder / f"{K.ROUND_PREDICTIONS}.parquet", columns=["label"])["label"]
            known = truth.dropna()
            common = known.index.intersection(predicted.index)
            if len(common):
                accuracy = float((predicted.reindex(common) == known.reindex(common)).mean())
        rows.append(
            {
                "round": int(row.round),
                "kind": getattr(row, K.ROUND_KIND_COLUMN),
                "created_at": created,
                "n_labels": int(info.get("n_labels", info.get("n_source_labels", row.n_labels))),
                "changed": np.nan if info.get("changed") is None else float(info["changed"]),
                "seconds": float(info.get("seconds", np.nan)),
                "minutes": minutes,
                "accuracy": accuracy,
            }
        )
    columns = ["round", "kind", "created_at", "n_labels", "changed", "seconds", "minutes", "accuracy"]
    return pd.DataFrame(rows, columns=columns)


def round_class_counts(project: Project) -> pd.DataFrame:
    """Class counts per model round, long form: ``round``, ``class``, ``kind`` (labelled/predicted), ``count``.

    A transferred round's labelled counts are the source project's labels it was trained on.
    """
    rows = []
    for row in project.store.rounds().itertuples():
        if getattr(row, K.ROUND_KIND_COLUMN) not in K.MODEL_ROUND_KINDS:
            continue
        info = json.loads(row.info) if row.info else {}
        labelled = info.get("label_counts") or info.get("source_label_counts")
        for kind, counts in (("labelled", labelled), ("predicted", info.get("predicted_counts"))):
            for name, count in (counts or {}).items():
                rows.append({"round": int(row.round), "class": str(name), "kind": kind, "count": int(count)})
    return pd.DataFrame(rows, columns=["round", "class", "kind", "count"])


def annotator_workload(store: LabelStore, *, idle_minutes: float = _IDLE_MINUTES) -> pd.DataFrame:
    """Per annotator: labels by source, suggestions shown and taken, active time and labels per minute.

    A suggestion counts as shown when the event stored one (the app stores the model's prediction
    with every label given while it was on screen). Active time adds the gaps between an
    annotator's consecutive events that are shorter than ``idle_minutes``, so a lunch break does
    not lower the rate.

    Returns
    -------
    pandas.DataFrame
        Index ``annotator``; columns ``labels`` (events other than undo), ``manual``, ``accepted``,
        ``corrected``, ``imported``, ``undo``, ``suggestions_shown``, ``acceptance``
        (accepted / shown), ``active_minutes`` and ``labels_per_minute`` (``NaN`` when no time
        elapsed between labels, e.g. a single import).
    """
    events = store.events()
    columns = [
        "labels",
        *[s for s in K.LABEL_SOURCES],
        "suggestions_shown",
        "acceptance",
        "active_minutes",
        "labels_per_minute",
    ]
    if events.empty:
        return pd.DataFrame(columns=columns, index=pd.Index([], name="annotator"))
    events["created_at"] = pd.to_datetime(events["created_at"], format="ISO8601")
    by_source = events.pivot_table(index="annotator", columns="source", values="id", aggfunc="count", fill_value=0)
    table = by_source.reindex(columns=list(K.LABEL_SOURCES), fill_value=0).astype(int)
    table["labels"] = table.drop(columns=K.SOURCE_UNDO).sum(axis=1)
    table["suggestions_shown"] = events[events["suggested_label"].notna()].groupby("annotator").size()
    table["suggestions_shown"] = table["suggestions_shown"].fillna(0).astype(int)
    shown = table["suggestions_shown"].where(table["suggestions_shown"] > 0)
    table["acceptance"] = table[K.SOURCE_ACCEPTED] / shown
    minutes = {}
    for who, own in events[events["source"] != K.SOURCE_UNDO].groupby("annotator"):
        gaps = own.drop_duplicates("action_id")["created_at"].sort_values().diff().dt.total_seconds().div(60)
        minutes[who] = float(gaps[gaps <= idle_minutes].sum())
    table["active_minutes"] = pd.Series(minutes).reindex(table.index).fillna(0.0)
    # Labels given one by one: the first action of a session has no measured time before it.
    manual_like = table[[K.SOURCE_MANUAL, K.SOURCE_ACCEPTED, K.SOURCE_CORRECTED]].sum(axis=1)
    table["labels_per_minute"] = manual_like / table["active_minutes"].where(table["active_minutes"] > 0)
    table.index.name = "annotator"
    table.columns.name = None
    return table[columns]
