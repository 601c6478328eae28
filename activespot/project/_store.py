"""The label journal: an append-only table of label events in SQLite (WAL mode).

Nothing is ever updated or deleted (triggers refuse it). The current label of an item is its
newest event; an undo is a new event that restores the label an item had before the undone
action, and a redo an undo of that undo; renaming or merging a class is a class event that maps
old names onto new ones when labels are read. Every write is one ``BEGIN IMMEDIATE``
transaction, so a process killed at any moment leaves either the whole action or none of it, and
two processes writing at once wait for each other instead of losing labels.
"""

from __future__ import annotations

import json
import sqlite3
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from .. import _constants as K
from ..errors import ProjectError

__all__ = ["LabelStore", "StaleLabelError", "Suggestion", "check_class_name"]

_BUSY_TIMEOUT_MS = 60_000  # a second writer waits this long for the first before giving up
_SQL_VARIABLES = 900  # items per ``IN (…)`` query: under SQLite's oldest limit of 999 bound variables
_SHOWN_STALE = 5  # changed spots a StaleLabelError spells out (the rest are counted)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {K.META_TABLE} ({K.COL_KEY} TEXT PRIMARY KEY, {K.COL_VALUE} TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS {K.ACTIONS_TABLE} (
    {K.COL_ID} INTEGER PRIMARY KEY AUTOINCREMENT,
    {K.COL_KIND} TEXT NOT NULL,
    {K.COL_ANNOTATOR} TEXT NOT NULL,
    {K.COL_CREATED_AT} TEXT NOT NULL,
    {K.COL_UNDOES} INTEGER REFERENCES {K.ACTIONS_TABLE}({K.COL_ID}),
    {K.COL_DETAIL} TEXT
);
CREATE TABLE IF NOT EXISTS {K.EVENTS_TABLE} (
    {K.COL_ID} INTEGER PRIMARY KEY AUTOINCREMENT,
    {K.COL_ACTION_ID} INTEGER NOT NULL REFERENCES {K.ACTIONS_TABLE}({K.COL_ID}),
    {K.COL_ITEM} TEXT NOT NULL,
    {K.COL_LABEL} TEXT,
    {K.COL_ANNOTATOR} TEXT NOT NULL,
    {K.COL_CREATED_AT} TEXT NOT NULL,
    {K.COL_SOURCE} TEXT NOT NULL CHECK ({K.COL_SOURCE} IN ({", ".join(repr(s) for s in K.LABEL_SOURCES)})),
    {K.COL_ROUND} INTEGER,
    {K.COL_SUGGESTED_LABEL} TEXT,
    {K.COL_SUGGESTION_CONFIDENCE} REAL
);
CREATE INDEX IF NOT EXISTS events_by_item ON {K.EVENTS_TABLE}({K.COL_ITEM}, {K.COL_ID});
CREATE INDEX IF NOT EXISTS events_by_action ON {K.EVENTS_TABLE}({K.COL_ACTION_ID});
CREATE TABLE IF NOT EXISTS {K.CLASS_EVENTS_TABLE} (
    {K.COL_ID} INTEGER PRIMARY KEY AUTOINCREMENT,
    {K.COL_ACTION_ID} INTEGER NOT NULL REFERENCES {K.ACTIONS_TABLE}({K.COL_ID}),
    {K.COL_KIND} TEXT NOT NULL CHECK ({K.COL_KIND} IN ({", ".join(repr(k) for k in K.CLASS_EVENT_KINDS)})),
    {K.COL_NAME} TEXT NOT NULL,
    {K.COL_TARGET} TEXT,
    {K.COL_CREATED_AT} TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS {K.EXCLUSION_TABLE} (
    {K.COL_ID} INTEGER PRIMARY KEY AUTOINCREMENT,
    {K.COL_ACTION_ID} INTEGER NOT NULL REFERENCES {K.ACTIONS_TABLE}({K.COL_ID}),
    {K.COL_NAME} TEXT,
    {K.COL_CREATED_AT} TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS {K.SKIPS_TABLE} (
    {K.COL_ID} INTEGER PRIMARY KEY AUTOINCREMENT,
    {K.COL_ITEM} TEXT NOT NULL,
    {K.COL_ANNOTATOR} TEXT NOT NULL,
    {K.COL_ROUND} INTEGER,
    {K.COL_CREATED_AT} TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS skips_by_annotator ON {K.SKIPS_TABLE}({K.COL_ANNOTATOR}, {K.COL_ROUND});
CREATE TABLE IF NOT EXISTS {K.CLAIMS_TABLE} (
    {K.COL_ID} INTEGER PRIMARY KEY AUTOINCREMENT,
    {K.COL_ITEM} TEXT NOT NULL,
    {K.COL_ANNOTATOR} TEXT NOT NULL,
    {K.COL_KIND} TEXT NOT NULL CHECK ({K.COL_KIND} IN ({", ".join(repr(k) for k in K.CLAIM_KINDS)})),
    {K.COL_CREATED_AT} TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS claims_by_time ON {K.CLAIMS_TABLE}({K.COL_CREATED_AT});
CREATE TABLE IF NOT EXISTS {K.ROUNDS_TABLE} (
    {K.COL_ROUND} INTEGER PRIMARY KEY,
    {K.COL_CREATED_AT} TEXT NOT NULL,
    {K.COL_PATH} TEXT NOT NULL,
    {K.COL_N_LABELS} INTEGER NOT NULL,
    {K.COL_INFO} TEXT
);
"""
_APPEND_ONLY = [
    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb} BEFORE {verb.upper()} ON {table} "
    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: add an event instead'); END;"
    for table in (
        K.EVENTS_TABLE,
        K.ACTIONS_TABLE,
        K.CLASS_EVENTS_TABLE,
        K.EXCLUSION_TABLE,
        K.SKIPS_TABLE,
        K.CLAIMS_TABLE,
    )
    for verb in ("update", "delete")
]


_EVENT_COLUMNS = (
    K.COL_ACTION_ID,
    K.COL_ITEM,
    K.COL_LABEL,
    K.COL_ANNOTATOR,
    K.COL_CREATED_AT,
    K.COL_SOURCE,
    K.COL_ROUND,
    K.COL_SUGGESTED_LABEL,
    K.COL_SUGGESTION_CONFIDENCE,
)


def _insert(table: str, columns: tuple[str, ...]) -> str:
    """``INSERT INTO table(c1, c2, …) VALUES (?, ?, …)``, one placeholder per column."""
    return f"INSERT INTO {table}({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


class StaleLabelError(ProjectError):
    """Spots changed in the journal since the page that labels them read it (another tab, a colleague).

    ``changes`` holds one row per such spot: ``item``, ``label`` (its label now, ``None`` when
    cleared), ``annotator``, ``source`` and ``created_at`` of the change.
    """

    def __init__(self, message: str, changes: pd.DataFrame):
        super().__init__(message)
        self.changes = changes


@dataclass(frozen=True)
class Suggestion:
    """What the model proposed for an item when the annotator labelled it."""

    label: str
    confidence: float


def check_class_name(name: str) -> str:
    """Return ``name`` if it is a clean class name, else raise ``ValueError`` saying why.

    Clean: non-empty, no leading/trailing spaces, no control or invisible characters, and in
    Unicode NFC form (so "é" typed two ways is one class, not two). Any script is allowed.
    """
    if not isinstance(name, str) or not name:
        msg = "a class name cannot be empty"
        raise ValueError(msg)
    if name != name.strip():
        msg = f"class name {name!r} has leading or trailing spaces; use {name.strip()!r}"
        raise ValueError(msg)
    bad = [ch for ch in name if unicodedata.category(ch) in {"Cc", "Cf", "Co", "Cs", "Zl", "Zp"}]
    if bad:
        codes = ", ".join(f"U+{ord(ch):04X}" for ch in bad)
        msg = f"class name {name!r} contains invisible or control characters ({codes}); retype it"
        raise ValueError(msg)
    if unicodedata.normalize("NFC", name) != name:
        msg = f"class name {name!r} is not in Unicode NFC form; retype it or re-save the file as UTF-8"
        raise ValueError(msg)
    return name


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class LabelStore:
    """Append-only journal of label events for one project.

    Parameters
    ----------
    path
        The SQLite file. It is created (with its schema) when missing and ``create`` is true.
    create
        Create the database if it does not exist; otherwise a missing file is an error.
    """

    def __init__(self, path: str | Path, *, create: bool = False):
        self.path = Path(path)
        if not self.path.exists() and not create:
            msg = f"{self.path}: label database not found; is this an activespot project folder?"
            raise ProjectError(msg)
        self._conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        self._conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            msg = f"{self.path}: the file system refused SQLite WAL mode ({mode}); use a local disk"
            raise ProjectError(msg)
        # FULL: a transaction reported committed survives power loss, not only a killed process.
        self._conn.execute("PRAGMA synchronous = FULL")
        self._conn.execute("PRAGMA foreign_keys = ON")
        with self._write():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._conn.execute(statement)
            for statement in _APPEND_ONLY:
                self._conn.execute(statement)
            self._conn.execute(
                f"INSERT OR IGNORE INTO {K.META_TABLE}({K.COL_KEY}, {K.COL_VALUE}) VALUES ('schema_version', ?)",
                (str(K.SCHEMA_VERSION),),
            )
        version = int(self._meta("schema_version"))
        if version > K.SCHEMA_VERSION:
            msg = f"{self.path}: written by a newer activespot (schema {version}); upgrade activespot to open it"
            raise ProjectError(msg)

    # -- plumbing ------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection (the WAL is checkpointed by SQLite)."""
        self._conn.close()

    def __enter__(self) -> LabelStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One all-or-nothing write transaction that holds the write lock from the start."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _meta(self, key: str) -> str:
        row = self._conn.execute(f"SELECT {K.COL_VALUE} FROM {K.META_TABLE} WHERE {K.COL_KEY} = ?", (key,)).fetchone()
        return row[0] if row else ""

    def _new_action(self, kind: str, annotator: str, *, undoes: int | None = None, detail: dict | None = None) -> int:
        cur = self._conn.execute(
            _insert(K.ACTIONS_TABLE, (K.COL_KIND, K.COL_ANNOTATOR, K.COL_CREATED_AT, K.COL_UNDOES, K.COL_DETAIL)),
            (kind, annotator, _now(), undoes, json.dumps(detail) if detail else None),
        )
        return int(cur.lastrowid)

    # -- labels --------------------------------------------------------------------------------
    def add_labels(
        self,
        labels: Mapping[str, str | None],
        *,
        annotator: str,
        source: str,
        round_number: int | None = None,
        suggestions: Mapping[str, Suggestion] | None = None,
        detail: dict | None = None,
        expected: Mapping[str, int | None] | None = None,
    ) -> int:
        """Record one action that sets the label of each item (``None`` clears it).

        Returns the action id. Either every event of the action is stored or none is.
        ``expected`` is the newest event id of items as the caller read them (:meth:`newest_events`;
        ``None``: the item had none): if any has a newer event now, nothing is stored and
        :class:`StaleLabelError` names those spots, who changed them, to what and when. The check
        runs inside the write transaction, so no writer can slip in between.
        """
        if source not in K.LABEL_SOURCES or source == K.SOURCE_UNDO:
            valid = ", ".join(s for s in K.LABEL_SOURCES if s != K.SOURCE_UNDO)
            msg = f"source must be one of {valid}; got {source!r}"
            raise ValueError(msg)
        if not annotator or not annotator.strip():
            msg = "an annotator name is required for every label"
            raise ValueError(msg)
        for label in labels.values():
            if label is not None:
                check_class_name(label)
        suggestions = suggestions or {}
        with self._write():
            if expected:
                self._check_expected(expected)
            action = self._new_action(source, annotator, detail=detail)
            created = _now()
            self._conn.executemany(
                _insert(K.EVENTS_TABLE, _EVENT_COLUMNS),
                [
                    (
                        action,
                        item,
                        label,
                        annotator,
                        created,
                        source,
                        round_number,
                        suggestions[item].label if item in suggestions else None,
                        float(suggestions[item].confidence) if item in suggestions else None,
                    )
                    for item, label in labels.items()
                ],
            )
        return action

    def newest_events(self, items: Iterable[str]) -> dict[str, int]:
        """The id of each item's newest event (items without an event are left out): what ``expected`` takes."""
        items = list(dict.fromkeys(items))
        newest: dict[str, int] = {}
        for start in range(0, len(items), _SQL_VARIABLES):
            chunk = items[start : start + _SQL_VARIABLES]
            rows = self._conn.execute(
                f"SELECT {K.COL_ITEM}, MAX({K.COL_ID}) FROM {K.EVENTS_TABLE} "
                f"WHERE {K.COL_ITEM} IN ({', '.join('?' * len(chunk))}) GROUP BY {K.COL_ITEM}",
                chunk,
            ).fetchall()
            newest.update({item: int(event) for item, event in rows})
        return newest

    def _check_expected(self, expected: Mapping[str, int | None]) -> None:
        """Raise :class:`StaleLabelError` for the items whose newest event is not the one ``expected``."""
        now = self.newest_events(expected)
        stale = [item for item, seen in expected.items() if now.get(item) != (None if seen is None else int(seen))]
        if not stale:
            return
        ids = [now[item] for item in stale if item in now]
        rows = self._conn.execute(
            f"SELECT {K.COL_ITEM}, {K.COL_LABEL}, {K.COL_ANNOTATOR}, {K.COL_SOURCE}, {K.COL_CREATED_AT} "
            f"FROM {K.EVENTS_TABLE} WHERE {K.COL_ID} IN ({', '.join('?' * len(ids))}) ORDER BY {K.COL_ID}",
            ids,
        ).fetchall()
        mapping = self._class_mapping()
        columns = [K.COL_ITEM, K.COL_LABEL, K.COL_ANNOTATOR, K.COL_SOURCE, K.COL_CREATED_AT]
        changes = pd.DataFrame(rows, columns=columns)
        changes[K.COL_LABEL] = [None if label is None else mapping.get(label, label) for label in changes[K.COL_LABEL]]
        words = [
            f"{row.item} {'cleared' if row.label is None else f'labelled {row.label!r}'} by {row.annotator} "
            f"({row.source}) at {row.created_at[:19].replace('T', ' ')} UTC"
            for row in changes.head(_SHOWN_STALE).itertuples()
        ]
        more = f" and {len(changes) - _SHOWN_STALE} more" if len(changes) > _SHOWN_STALE else ""
        msg = (
            f"{len(stale)} spot(s) changed since this page showed them: {'; '.join(words)}{more}. "
            "Nothing was stored: look at the new label(s) first, or overwrite them anyway."
        )
        raise StaleLabelError(msg, changes)

    def undo(self, *, annotator: str, only_own: bool = False) -> int | None:
        """Undo the newest label action not yet undone; returns the undone action id or ``None``.

        The undo is itself an action whose events restore each item's previous label.
        ``only_own`` restricts it to the newest action of ``annotator``. A redo is a label action
        here: an undo right after a redo reverts the redo.
        """
        with self._write():
            query = (
                f"SELECT a.{K.COL_ID} FROM {K.ACTIONS_TABLE} a WHERE a.{K.COL_KIND} != ? "
                f"AND NOT EXISTS (SELECT 1 FROM {K.ACTIONS_TABLE} u WHERE u.{K.COL_UNDOES} = a.{K.COL_ID}) "
                f"AND EXISTS (SELECT 1 FROM {K.EVENTS_TABLE} e WHERE e.{K.COL_ACTION_ID} = a.{K.COL_ID})"
            )
            params: list = [K.SOURCE_UNDO]
            if only_own:
                query += f" AND a.{K.COL_ANNOTATOR} = ?"
                params.append(annotator)
            row = self._conn.execute(query + f" ORDER BY a.{K.COL_ID} DESC LIMIT 1", params).fetchone()
            if row is None:
                return None
            target = int(row[0])
            self._revert(target, K.SOURCE_UNDO, annotator)
        return target

    def redo(self, *, annotator: str) -> int | None:
        """Re-apply ``annotator``'s most recently undone action; returns its id or ``None``.

        Undo and redo behave as the two stacks of an editor: each undo of ``annotator`` can be
        redone, newest first, until ``annotator`` gives a new label (which clears what is left to
        redo; other annotators' labels do not). A redo reverts the undo: it is an action of kind
        ``redo`` whose ``undoes`` is the undo, with ``undo`` events that restore each item's label
        from just before the undo (so an old database, whose ``source`` CHECK lists only the
        original sources, takes it as it is). The returned id is the label action whose labels
        stand again (:func:`~activespot.project.workload` counts that action's events again, once,
        and neither the undo nor the redo). An undo after a redo reverts the redo.
        """
        if not annotator or not annotator.strip():
            msg = "an annotator name is required to redo"
            raise ValueError(msg)
        with self._write():
            undo = self.redoable(annotator)
            if undo is None:
                return None
            self._revert(undo, K.ACTION_REDO, annotator)
            return self.label_action(undo)

    def redoable(self, annotator: str) -> int | None:
        """The undo :meth:`redo` would revert now for ``annotator`` (``None``: nothing to redo)."""
        row = self._conn.execute(
            f"SELECT u.{K.COL_ID} FROM {K.ACTIONS_TABLE} u WHERE u.{K.COL_KIND} = ? AND u.{K.COL_ANNOTATOR} = ? "
            f"AND NOT EXISTS (SELECT 1 FROM {K.ACTIONS_TABLE} r WHERE r.{K.COL_UNDOES} = u.{K.COL_ID}) "
            f"AND u.{K.COL_ID} > (SELECT COALESCE(MAX(a.{K.COL_ID}), 0) FROM {K.ACTIONS_TABLE} a "
            f"WHERE a.{K.COL_ANNOTATOR} = u.{K.COL_ANNOTATOR} AND a.{K.COL_KIND} NOT IN (?, ?) "
            f"AND EXISTS (SELECT 1 FROM {K.EVENTS_TABLE} e WHERE e.{K.COL_ACTION_ID} = a.{K.COL_ID})) "
            f"ORDER BY u.{K.COL_ID} DESC LIMIT 1",
            (K.SOURCE_UNDO, annotator, K.SOURCE_UNDO, K.ACTION_REDO),
        ).fetchone()
        return None if row is None else int(row[0])

    def _revert(self, target: int, kind: str, annotator: str) -> None:
        """Record an action of ``kind`` reverting ``target``: each of its items back to the label it had before."""
        restored = self._conn.execute(
            f"SELECT e.{K.COL_ITEM}, (SELECT p.{K.COL_LABEL} FROM {K.EVENTS_TABLE} p "
            f"WHERE p.{K.COL_ITEM} = e.{K.COL_ITEM} AND p.{K.COL_ID} < e.{K.COL_ID} "
            f"ORDER BY p.{K.COL_ID} DESC LIMIT 1) "
            f"FROM {K.EVENTS_TABLE} e WHERE e.{K.COL_ACTION_ID} = ? ORDER BY e.{K.COL_ID}",
            (target,),
        ).fetchall()
        action = self._new_action(kind, annotator, undoes=target)
        created = _now()
        self._conn.executemany(
            _insert(K.EVENTS_TABLE, _EVENT_COLUMNS[:6]),
            [(action, item, label, annotator, created, K.SOURCE_UNDO) for item, label in restored],
        )

    def label_action(self, action: int) -> int:
        """The label action behind ``action``: itself, or for an undo or redo the one it finally reverts."""
        while True:
            kind, undoes = self._conn.execute(
                f"SELECT {K.COL_KIND}, {K.COL_UNDOES} FROM {K.ACTIONS_TABLE} WHERE {K.COL_ID} = ?", (action,)
            ).fetchone()
            if kind not in (K.SOURCE_UNDO, K.ACTION_REDO) or undoes is None:
                return action
            action = int(undoes)

    def events(self) -> pd.DataFrame:
        """Every label event, oldest first (the journal as a table)."""
        return pd.read_sql_query(f"SELECT * FROM {K.EVENTS_TABLE} ORDER BY {K.COL_ID}", self._conn)

    def action_events(self, action: int) -> pd.DataFrame:
        """The label events of one action (the columns of :meth:`events`), oldest first."""
        query = f"SELECT * FROM {K.EVENTS_TABLE} WHERE {K.COL_ACTION_ID} = ? ORDER BY {K.COL_ID}"
        return pd.read_sql_query(query, self._conn, params=(action,))

    def actions(self) -> pd.DataFrame:
        """Every action (a batch of events, a class change or an undo), oldest first."""
        return pd.read_sql_query(f"SELECT * FROM {K.ACTIONS_TABLE} ORDER BY {K.COL_ID}", self._conn)

    def current_labels(self) -> pd.Series:
        """Label of every labelled item (newest event wins; class renames and merges applied)."""
        rows = self._conn.execute(
            f"SELECT e.{K.COL_ITEM}, e.{K.COL_LABEL} FROM {K.EVENTS_TABLE} e "
            f"JOIN (SELECT {K.COL_ITEM}, MAX({K.COL_ID}) AS {K.COL_ID} "
            f"FROM {K.EVENTS_TABLE} GROUP BY {K.COL_ITEM}) newest "
            f"ON e.{K.COL_ID} = newest.{K.COL_ID} WHERE e.{K.COL_LABEL} IS NOT NULL ORDER BY e.{K.COL_ID}"
        ).fetchall()
        mapping = self._class_mapping()
        series = pd.Series({item: mapping.get(label, label) for item, label in rows}, dtype=object)
        series.index.name = K.COL_ITEM
        return series.rename(K.COL_LABEL)

    # -- classes -------------------------------------------------------------------------------
    def add_classes(self, names: list[str], *, annotator: str) -> None:
        """Declare classes (in order); declaring an existing class again is a no-op."""
        for name in names:
            check_class_name(name)
        with self._write():
            known = set(self.declared_classes())
            new = [name for name in dict.fromkeys(names) if name not in known]
            if not new:
                return
            action = self._new_action(K.ACTION_CLASSES, annotator)
            created = _now()
            self._conn.executemany(
                _insert(K.CLASS_EVENTS_TABLE, (K.COL_ACTION_ID, K.COL_KIND, K.COL_NAME, K.COL_CREATED_AT)),
                [(action, K.CLASS_ADD, name, created) for name in new],
            )

    def rename_class(self, old: str, new: str, *, annotator: str) -> None:
        """Rename a class; labels given under the old name read as the new one. ``new`` must be unused."""
        self._change_class(K.CLASS_RENAME, old, new, annotator=annotator)

    def merge_class(self, source: str, into: str, *, annotator: str) -> None:
        """Fold class ``source`` into the existing class ``into``."""
        self._change_class(K.CLASS_MERGE, source, into, annotator=annotator)

    def _change_class(self, kind: str, name: str, target: str, *, annotator: str) -> None:
        check_class_name(target)
        with self._write():
            classes = self.declared_classes()
            if name not in classes:
                msg = f"no class named {name!r}; classes are: {', '.join(classes) or '(none)'}"
                raise ValueError(msg)
            if kind == K.CLASS_RENAME and target in classes:
                msg = f"a class named {target!r} already exists; merge into it instead"
                raise ValueError(msg)
            if kind == K.CLASS_MERGE and target not in classes:
                msg = f"cannot merge into {target!r}: no such class; classes are: {', '.join(classes)}"
                raise ValueError(msg)
            action = self._new_action(K.ACTION_CLASSES, annotator)
            self._conn.execute(
                _insert(
                    K.CLASS_EVENTS_TABLE, (K.COL_ACTION_ID, K.COL_KIND, K.COL_NAME, K.COL_TARGET, K.COL_CREATED_AT)
                ),
                (action, kind, name, target, _now()),
            )

    def _class_mapping(self) -> dict[str, str]:
        """Old class name -> the name it has now, following renames and merges in order."""
        mapping: dict[str, str] = {}
        rows = self._conn.execute(
            f"SELECT {K.COL_NAME}, {K.COL_TARGET} FROM {K.CLASS_EVENTS_TABLE} "
            f"WHERE {K.COL_KIND} != ? ORDER BY {K.COL_ID}",
            (K.CLASS_ADD,),
        ).fetchall()
        for name, target in rows:
            for old, now in list(mapping.items()):
                if now == name:
                    mapping[old] = target
            mapping[name] = target
        return mapping

    def class_slots(self) -> dict[str, int]:
        """Position of each declared class in the declaration order, merged-away classes' slots left empty.

        A rename keeps the slot; a merge frees it without moving the others, so whatever is keyed on
        the slot (a class's colour in the app) stays the same for every other class.
        """
        slots: list[str | None] = []
        rows = self._conn.execute(
            f"SELECT {K.COL_KIND}, {K.COL_NAME}, {K.COL_TARGET} FROM {K.CLASS_EVENTS_TABLE} ORDER BY {K.COL_ID}"
        ).fetchall()
        for kind, name, target in rows:
            if kind == K.CLASS_ADD and name not in slots:
                slots.append(name)
            elif kind == K.CLASS_RENAME:
                slots[slots.index(name)] = target
            elif kind == K.CLASS_MERGE:
                slots[slots.index(name)] = None
        return {name: slot for slot, name in enumerate(slots) if name is not None}

    def declared_classes(self) -> list[str]:
        """Classes declared (and renamed or merged since), in declaration order."""
        return list(self.class_slots())

    def classes(self) -> list[str]:
        """Declared classes in declaration order, plus any label in use that was never declared."""
        declared = self.declared_classes()
        in_use = [label for label in self.current_labels().unique() if label not in declared]
        return declared + sorted(in_use)

    # -- the exclusion class ---------------------------------------------------------------------
    def set_exclusion_class(self, name: str | None, *, annotator: str, declare: bool = False) -> bool:
        """Mark the declared class ``name`` as the exclusion class ("not tissue"), or none (``None``).

        The model learns it as any other class; exports and agreement leave its spots out. One
        class at most: marking another moves the mark. A renamed class keeps the mark; merging it
        into another class moves the mark there. With ``declare`` a new ``name`` is declared in
        the same transaction (both or neither are stored). Returns whether it was declared now.
        """
        if name is not None:
            check_class_name(name)
        with self._write():
            new = False
            if name is not None:
                classes = self.declared_classes()
                new = name not in classes
                if new and not declare:
                    msg = (
                        f"no class named {name!r} to mark as the exclusion class; "
                        f"classes are: {', '.join(classes) or '(none)'}"
                    )
                    raise ValueError(msg)
            if name == self.exclusion_class():
                return False
            action = self._new_action(K.ACTION_CLASSES, annotator)
            created = _now()
            if new:
                self._conn.execute(
                    _insert(K.CLASS_EVENTS_TABLE, (K.COL_ACTION_ID, K.COL_KIND, K.COL_NAME, K.COL_CREATED_AT)),
                    (action, K.CLASS_ADD, name, created),
                )
            self._conn.execute(
                _insert(K.EXCLUSION_TABLE, (K.COL_ACTION_ID, K.COL_NAME, K.COL_CREATED_AT)), (action, name, created)
            )
        return new

    def exclusion_class(self) -> str | None:
        """The class whose spots every export and agreement leaves out (its name now), or ``None``."""
        row = self._conn.execute(
            f"SELECT {K.COL_NAME} FROM {K.EXCLUSION_TABLE} ORDER BY {K.COL_ID} DESC LIMIT 1"
        ).fetchone()
        if row is None or row[0] is None:
            return None
        return self._class_mapping().get(row[0], row[0])

    # -- skips and claims (the Queue page's, per annotator) ----------------------------------------
    def add_skip(self, item: str, *, annotator: str, round_number: int | None) -> None:
        """Record that ``annotator`` skipped ``item`` in the queue of round ``round_number``; releases their claim."""
        if not annotator or not annotator.strip():
            msg = "an annotator name is required to skip a spot"
            raise ValueError(msg)
        with self._write():
            created = _now()
            self._conn.execute(
                _insert(K.SKIPS_TABLE, (K.COL_ITEM, K.COL_ANNOTATOR, K.COL_ROUND, K.COL_CREATED_AT)),
                (item, annotator, round_number, created),
            )
            self._conn.execute(
                _insert(K.CLAIMS_TABLE, (K.COL_ITEM, K.COL_ANNOTATOR, K.COL_KIND, K.COL_CREATED_AT)),
                (item, annotator, K.CLAIM_RELEASE, created),
            )

    def skipped(self, *, annotator: str, round_number: int | None) -> list[str]:
        """Items ``annotator`` skipped in round ``round_number``'s queue, the longest ago first (each once)."""
        rows = self._conn.execute(
            f"SELECT {K.COL_ITEM}, MAX({K.COL_ID}) AS newest FROM {K.SKIPS_TABLE} "
            f"WHERE {K.COL_ANNOTATOR} = ? AND {K.COL_ROUND} IS ? GROUP BY {K.COL_ITEM} ORDER BY newest",
            (annotator, round_number),
        ).fetchall()
        return [item for item, _ in rows]

    def claim(self, items: Iterable[str], *, annotator: str) -> None:
        """Claim ``items`` for ``annotator`` for ``CLAIM_TIMEOUT_S`` seconds (a renewal is a new claim)."""
        items = list(dict.fromkeys(items))
        if not items:
            return
        with self._write():
            created = _now()
            self._conn.executemany(
                _insert(K.CLAIMS_TABLE, (K.COL_ITEM, K.COL_ANNOTATOR, K.COL_KIND, K.COL_CREATED_AT)),
                [(item, annotator, K.CLAIM, created) for item in items],
            )

    def claims(self, *, now: datetime | None = None, timeout_s: float = K.CLAIM_TIMEOUT_S) -> pd.DataFrame:
        """Claims that hold at ``now``: each item's newest claim, younger than ``timeout_s``, not released.

        A claim is released by a skip of its annotator, and by any label event of its item since
        it was made (a label, an undo, an import): the spot is no longer waiting for anyone.

        Returns
        -------
        pandas.DataFrame
            Index ``item``; columns ``annotator`` and ``created_at`` (ISO 8601 UTC).
        """
        now = now or datetime.now(UTC)
        cutoff = (now - timedelta(seconds=timeout_s)).isoformat(timespec="microseconds")
        rows = self._conn.execute(
            f"SELECT c.{K.COL_ITEM}, c.{K.COL_ANNOTATOR}, c.{K.COL_CREATED_AT} FROM {K.CLAIMS_TABLE} c "
            f"JOIN (SELECT {K.COL_ITEM}, MAX({K.COL_ID}) AS {K.COL_ID} FROM {K.CLAIMS_TABLE} "
            f"WHERE {K.COL_CREATED_AT} > ? GROUP BY {K.COL_ITEM}) newest ON c.{K.COL_ID} = newest.{K.COL_ID} "
            f"WHERE c.{K.COL_KIND} = ? AND NOT EXISTS (SELECT 1 FROM {K.EVENTS_TABLE} e "
            f"WHERE e.{K.COL_ITEM} = c.{K.COL_ITEM} AND e.{K.COL_CREATED_AT} >= c.{K.COL_CREATED_AT}) "
            f"ORDER BY c.{K.COL_ID}",
            (cutoff, K.CLAIM),
        ).fetchall()
        table = pd.DataFrame(rows, columns=[K.COL_ITEM, K.COL_ANNOTATOR, K.COL_CREATED_AT]).set_index(K.COL_ITEM)
        return table

    # -- rounds --------------------------------------------------------------------------------
    def record_round(self, round_number: int, path: str, *, n_labels: int, info: dict | None = None) -> None:
        """Register a finished round whose files are already complete on disk."""
        with self._write():
            self._conn.execute(
                _insert(K.ROUNDS_TABLE, (K.COL_ROUND, K.COL_CREATED_AT, K.COL_PATH, K.COL_N_LABELS, K.COL_INFO)),
                (round_number, _now(), path, n_labels, json.dumps(info or {})),
            )

    def rounds(self) -> pd.DataFrame:
        """Committed rounds, oldest first, with their info's ``kind`` as a column of its own."""
        rounds = pd.read_sql_query(f"SELECT * FROM {K.ROUNDS_TABLE} ORDER BY {K.COL_ROUND}", self._conn)
        rounds[K.ROUND_KIND_COLUMN] = [json.loads(info or "{}").get(K.ROUND_INFO_KIND) for info in rounds[K.COL_INFO]]
        return rounds

    def integrity_problems(self) -> list[str]:
        """SQLite's own integrity check; an empty list means the database is sound."""
        rows = [r[0] for r in self._conn.execute("PRAGMA integrity_check").fetchall()]
        return [] if rows == ["ok"] else rows
