"""Read-only summaries of a project for the review app: the queue, the review table, rounds, workload.

Plain functions over a :class:`~activespot.project.Project` or its
:class:`~activespot.project.LabelStore`; they never write and never import Streamlit, so the
app's pages stay thin and the numbers can be checked without a browser.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .. import _constants as K

if TYPE_CHECKING:
    from ._project import Project
    from ._store import LabelStore

__all__ = [
    "accepted_since",
    "annotator_workload",
    "given_with_suggestion",
    "judgement_lines",
    "label_givers",
    "queue_table",
    "review_table",
    "round_class_counts",
    "round_history",
    "workload",
]

_IDLE_MINUTES = 10.0  # a pause longer than this ends a working session (not counted as labelling time)
_GROUPS = {"annotator": K.COL_ANNOTATOR, "region": K.COL_ROUND, "all": None}  # `by` of workload()
_GIVEN = (K.SOURCE_MANUAL, K.SOURCE_ACCEPTED, K.SOURCE_CORRECTED)  # labels given in the tool (suggestions shown)


def _undone_actions(actions: pd.DataFrame) -> set[int]:
    """Actions whose effect is taken back: reverted by an undo (or a redo) that is not itself reverted.

    A redo reverts an undo, so the action the undo took back stands again; an undo of the redo
    takes it back once more. Whatever reverts an action is newer than it, so one pass from the
    newest reverting action down decides each in turn.
    """
    if not len(actions):
        return set()
    reverting = actions.dropna(subset=[K.COL_UNDOES]).sort_values(K.COL_ID, ascending=False)
    undone: set[int] = set()
    for action, target in zip(reverting[K.COL_ID].astype(int), reverting[K.COL_UNDOES].astype(int), strict=True):
        if action not in undone:
            undone.add(target)
    return undone


def _standing_events(store: LabelStore) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(every event, the label events that still stand): undo events and events of undone actions left out.

    A redo's events are ``undo`` events too: what stands after a redo is the redone action's own
    events, so a redone correction counts once, as corrected, and not as undone.

    A cleared label (an event without a label, e.g. "Clear their labels" on a region) is no label
    given: it is left out of both, so it counts neither as a label nor as one taken back.
    """
    events = store.events()
    events = events[events[K.COL_LABEL].notna() | (events[K.COL_SOURCE] == K.SOURCE_UNDO)]
    undone = _undone_actions(store.actions())
    standing = events[(events[K.COL_SOURCE] != K.SOURCE_UNDO) & ~events[K.COL_ACTION_ID].isin(undone)]
    return events, standing


def label_givers(store: LabelStore) -> pd.DataFrame:
    """Every current label with the event that gave it: the one definition of "labelled" and "whose label".

    A current label (:meth:`LabelStore.current_labels`, after undo, renames and merges) belongs to
    the newest event of its item that still stands: not an undo, not part of an undone action.
    (An item whose every label action was undone, yet which an undo restored to a label, keeps
    the undo's annotator.) So the labels per annotator add up to the labelled items.

    Returns
    -------
    pandas.DataFrame
        Index ``item``; columns ``label`` (current), ``annotator``, ``source`` and ``round`` of the
        giving event.
    """
    events, standing = _standing_events(store)
    current = store.current_labels()
    columns = [K.COL_ANNOTATOR, K.COL_SOURCE, K.COL_ROUND]
    newest = standing.drop_duplicates(K.COL_ITEM, keep="last").set_index(K.COL_ITEM)[columns]
    fallback = events.drop_duplicates(K.COL_ITEM, keep="last").set_index(K.COL_ITEM)[columns]
    givers = newest.reindex(current.index).combine_first(fallback.reindex(current.index))[columns]
    givers.insert(0, K.COL_LABEL, current)
    givers.index.name = K.COL_ITEM
    return givers


def given_with_suggestion(store: LabelStore) -> pd.DataFrame:
    """Label events given in the tool with the model's suggestion on screen, of actions not undone."""
    _, standing = _standing_events(store)
    return standing[standing[K.COL_SOURCE].isin(_GIVEN) & standing[K.COL_SUGGESTED_LABEL].notna()]


def accepted_since(store: LabelStore, round_number: int) -> dict[str, Any]:
    """Suggestions shown and accepted as they were since round ``round_number`` was saved.

    The definition of the Workload page's acceptance (:func:`~activespot.project.workload`: label
    events given with the model's suggestion on screen, of actions not undone; accepted = source
    ``accepted``), restricted to the events written after that round.

    Returns
    -------
    dict
        ``shown``, ``accepted`` (counts) and ``share`` (accepted / shown; ``None`` when nothing was shown).
    """
    rounds = store.rounds()
    saved = rounds.loc[rounds[K.COL_ROUND] == round_number, K.COL_CREATED_AT]
    shown = given_with_suggestion(store)
    if len(saved):
        shown = shown[pd.to_datetime(shown[K.COL_CREATED_AT], utc=True) > pd.to_datetime(saved.iloc[0], utc=True)]
    n_accepted = int((shown[K.COL_SOURCE] == K.SOURCE_ACCEPTED).sum())
    return {
        "shown": len(shown),
        "accepted": n_accepted,
        "share": round(n_accepted / len(shown), 4) if len(shown) else None,
    }


def judgement_lines(
    estimate: Mapping[str, Any] | None,
    unchanged: float | None,
    accepted: Mapping[str, Any] | None,
    *,
    previous: int | None,
) -> list[str]:
    """The numbers that say when to stop, one sentence each (``activespot round`` and the Rounds page)."""
    lines = []
    if estimate is not None:
        lines.append(
            f"estimated accuracy {estimate['accuracy']:.2f} ({100 * estimate['level']:.0f} % interval "
            f"{estimate['low']:.2f}–{estimate['high']:.2f}, "
            f"{estimate['folds']}-fold CV on {estimate['n_labels']} labels)"
        )
    if unchanged is not None and previous is not None:
        lines.append(f"{100 * unchanged:.1f} % of predictions unchanged since round {previous}")
    if accepted is not None and accepted.get("shown"):
        lines.append(
            f"{100 * accepted['share']:.0f} % of the {accepted['shown']} suggestions shown since round {previous} "
            "were accepted as they were"
        )
    return lines


def workload(store: LabelStore, *, by: str = "annotator") -> pd.DataFrame:
    """Labels, suggestions shown, accepted and corrected per annotator, per region or overall; undo taken back.

    The one workload definition (spot projects' Workload page, the cells page, ``cells workload``):
    an undone action counts nowhere, and ``workload`` is corrected / suggestions shown.

    Parameters
    ----------
    store
        A project's label journal.
    by
        ``"annotator"``, ``"region"`` (the round a label was given in) or ``"all"``.

    Returns
    -------
    pandas.DataFrame
        One row per group (index ``annotator``, ``region`` or ``all``) with ``labels`` (current
        labels given, see :func:`label_givers`), ``manual``, ``accepted``, ``corrected``,
        ``imported`` (events of actions not undone; a redone action is not undone), ``undone``
        (events of undone actions),
        ``suggestions_shown`` (manual, accepted or corrected events given with the model's
        suggestion on screen), ``acceptance`` (accepted / shown), ``workload`` (corrected / shown)
        and ``workload_reduction`` (1 − workload); ratios are ``NaN`` when nothing was shown.
    """
    if by not in _GROUPS:
        msg = f"`by` must be one of {', '.join(_GROUPS)}; got {by!r}."
        raise ValueError(msg)
    events, standing = _standing_events(store)
    taken_back = events[(events[K.COL_SOURCE] != K.SOURCE_UNDO) & ~events[K.COL_ID].isin(standing[K.COL_ID])]

    def group(table: pd.DataFrame) -> pd.Series:
        if _GROUPS[by] is None:
            return pd.Series("all", index=table.index)
        return table[_GROUPS[by]].fillna(-1).astype(int) if by == "region" else table[_GROUPS[by]]

    sources = [K.SOURCE_MANUAL, K.SOURCE_ACCEPTED, K.SOURCE_CORRECTED, K.SOURCE_IMPORTED]
    table = pd.crosstab(group(standing), standing[K.COL_SOURCE]).reindex(columns=sources, fill_value=0)
    shown = given_with_suggestion(store)
    givers = label_givers(store)
    counts = {
        "labels": givers.groupby(group(givers)).size(),
        "undone": taken_back.groupby(group(taken_back)).size(),
        "suggestions_shown": shown.groupby(group(shown)).size(),
    }
    index = table.index.union(counts["labels"].index).union(counts["undone"].index)
    table = table.reindex(index, fill_value=0)
    for name, values in counts.items():
        table[name] = values.reindex(index).fillna(0).astype(int)
    seen = table["suggestions_shown"].where(table["suggestions_shown"] > 0)
    table["acceptance"] = table[K.SOURCE_ACCEPTED] / seen
    table["workload"] = table[K.SOURCE_CORRECTED] / seen
    table["workload_reduction"] = 1.0 - table["workload"]
    table.index.name = by
    table.columns.name = None
    order = ["labels", *sources, "undone", "suggestions_shown", "acceptance", "workload", "workload_reduction"]
    return table[order]


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
        with a truth whose prediction matches it, spots of the exclusion class (labelled or true)
        left out.

    Returns
    -------
    pandas.DataFrame
        Columns ``round``, ``kind`` (one of ``MODEL_ROUND_KINDS``), ``created_at``, ``n_labels``
        (the labels the model was trained on), ``changed`` (predictions that differ from the round
        before; ``NaN`` for the first), ``seconds`` (training), ``minutes`` (wall time
        since the round before was saved: the annotation time of this round), ``accuracy``
        (``NaN`` without truth), and what the round estimated without truth:
        ``estimated_accuracy`` with its interval ``estimate_low``, ``estimate_high``
        (:func:`activespot.loop.estimate_accuracy`), ``unchanged`` (share of predictions as in
        the round before) and ``accepted`` (share of the suggestions shown since the round before
        that were accepted); ``NaN`` where a round has none.
    """
    rows = []
    previous = None
    exclusion = project.exclusion_class()
    excluded = project.excluded() if exclusion is not None else None
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
            if exclusion is not None:  # spots labelled, or true, as the exclusion class are no test of the model
                known = known[(known != exclusion) & ~known.index.isin(excluded)]
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
                **_estimate_columns(info),
            }
        )
    columns = ["round", "kind", "created_at", "n_labels", "changed", "seconds", "minutes", "accuracy", *_ESTIMATES]
    return pd.DataFrame(rows, columns=columns)


_ESTIMATES = ("estimated_accuracy", "estimate_low", "estimate_high", "unchanged", "accepted")


def _estimate_columns(info: dict) -> dict[str, float]:
    """A round's estimates without truth (see :func:`round_history`), ``NaN`` where it has none."""
    estimate = info.get(K.ROUND_INFO_ESTIMATE) or {}
    accepted = (info.get(K.ROUND_INFO_ACCEPTED) or {}).get("share")
    values = (
        estimate.get("accuracy"),
        estimate.get("low"),
        estimate.get("high"),
        info.get(K.ROUND_INFO_UNCHANGED),
        accepted,
    )
    return {name: np.nan if value is None else float(value) for name, value in zip(_ESTIMATES, values, strict=True)}


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
    """Per annotator: :func:`workload` with active time and labels per minute.

    A suggestion counts as shown when the event stored one (the app stores the model's prediction
    with every label given while it was on screen). Active time adds the gaps between an
    annotator's consecutive actions (undone ones too: the time was spent) that are shorter than
    ``idle_minutes``, so a lunch break does not lower the rate.

    Returns
    -------
    pandas.DataFrame
        Index ``annotator``; the columns of :func:`workload`, then ``active_minutes`` and
        ``labels_per_minute`` (manual, accepted and corrected labels that stand per active minute;
        ``NaN`` when no time elapsed between labels, e.g. a single import).
    """
    table = workload(store, by="annotator")
    events = store.events()
    events = events[events[K.COL_SOURCE] != K.SOURCE_UNDO]
    times = pd.to_datetime(events[K.COL_CREATED_AT], format="ISO8601")
    minutes = {}
    for who, own in times.groupby(events[K.COL_ANNOTATOR]):
        gaps = own[~events.loc[own.index, K.COL_ACTION_ID].duplicated()].sort_values().diff().dt.total_seconds()
        gaps = gaps.div(60)
        minutes[who] = float(gaps[gaps <= idle_minutes].sum())
    table["active_minutes"] = pd.Series(minutes, dtype=float).reindex(table.index).fillna(0.0)
    # Labels given one by one: the first action of a session has no measured time before it.
    given = table[list(_GIVEN)].sum(axis=1)
    table["labels_per_minute"] = given / table["active_minutes"].where(table["active_minutes"] > 0)
    return table
