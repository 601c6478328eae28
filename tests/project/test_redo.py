"""Redo: the annotator's undone actions re-applied newest first, and the workload counting each label once."""

import sqlite3

import pytest

from activespot import _constants as K
from activespot.project import LabelStore, Suggestion, label_givers, workload

ORIGINAL_SOURCES = ("manual", "accepted", "corrected", "imported", "undo")  # the CHECK of schema 1 databases


@pytest.fixture
def store(tmp_path):
    with LabelStore(tmp_path / "labels.sqlite", create=True) as opened:
        yield opened


def test_undo_undo_redo_redo_walks_back_and_forth(store):
    first = store.add_labels({"A-1": "Tumour"}, annotator="ana", source="manual")
    second = store.add_labels({"A-1": "Stroma", "B-1": "Immune"}, annotator="ana", source="accepted")
    store.undo(annotator="ana", only_own=True)
    store.undo(annotator="ana", only_own=True)
    assert store.current_labels().empty
    assert store.redo(annotator="ana") == first
    assert store.current_labels().to_dict() == {"A-1": "Tumour"}
    assert store.redo(annotator="ana") == second
    assert store.current_labels().to_dict() == {"A-1": "Stroma", "B-1": "Immune"}
    assert store.redo(annotator="ana") is None  # nothing left to redo


def test_a_new_label_clears_what_is_left_to_redo(store):
    store.add_labels({"A-1": "Tumour"}, annotator="ana", source="manual")
    store.undo(annotator="ana", only_own=True)
    store.add_labels({"B-1": "Stroma"}, annotator="ana", source="manual")
    assert store.redo(annotator="ana") is None
    assert store.current_labels().to_dict() == {"B-1": "Stroma"}


def test_other_annotators_neither_redo_nor_block_a_redo(store):
    own = store.add_labels({"A-1": "Tumour"}, annotator="ana", source="manual")
    store.undo(annotator="ana", only_own=True)
    store.add_labels({"B-1": "Stroma"}, annotator="ben", source="manual")
    assert store.redo(annotator="ben") is None  # ben undid nothing
    assert store.redo(annotator="ana") == own
    assert store.current_labels().to_dict() == {"B-1": "Stroma", "A-1": "Tumour"}


def test_undo_after_redo_reverts_the_redo_and_it_can_be_redone_again(store):
    store.add_labels({"A-1": "Tumour"}, annotator="ana", source="manual")
    second = store.add_labels({"A-1": "Stroma"}, annotator="ana", source="corrected")
    store.undo(annotator="ana", only_own=True)
    store.redo(annotator="ana")
    assert store.current_labels().to_dict() == {"A-1": "Stroma"}
    store.undo(annotator="ana", only_own=True)  # the redo
    assert store.current_labels().to_dict() == {"A-1": "Tumour"}
    assert store.redo(annotator="ana") == second
    assert store.current_labels().to_dict() == {"A-1": "Stroma"}
    store.undo(annotator="ana", only_own=True)
    store.undo(annotator="ana", only_own=True)  # now the first label
    assert store.current_labels().empty
    assert store.undo(annotator="ana", only_own=True) is None


def test_redo_is_recorded_with_the_sources_old_databases_allow(store):
    """Schema-1 databases have a CHECK on `source` that SQLite cannot alter: a redo writes nothing new there."""
    sql = store._conn.execute("SELECT sql FROM sqlite_master WHERE name = 'events'").fetchone()[0]
    assert all(repr(source) in sql for source in ORIGINAL_SOURCES)
    store.add_labels({"A-1": "Tumour"}, annotator="ana", source="manual")
    store.undo(annotator="ana", only_own=True)
    store.redo(annotator="ana")
    assert set(store.events()["source"]) <= set(ORIGINAL_SOURCES)
    actions = store.actions()
    redo = actions.iloc[-1]
    assert (redo["kind"], int(redo["undoes"])) == (K.ACTION_REDO, int(actions.iloc[-2]["id"]))
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store._conn.execute("DELETE FROM actions")


def test_redo_needs_an_annotator(store):
    with pytest.raises(ValueError, match="annotator"):
        store.redo(annotator=" ")


def test_a_redone_correction_counts_once_as_corrected_and_not_as_undone(store):
    shown = {"A-1": Suggestion("Tumour", 0.7), "B-1": Suggestion("Stroma", 0.9)}
    store.add_labels({"B-1": "Stroma"}, annotator="ana", source="accepted", suggestions=shown, round_number=1)
    store.add_labels({"A-1": "Stroma"}, annotator="ana", source="corrected", suggestions=shown, round_number=1)
    columns = ["labels", "accepted", "corrected", "undone", "suggestions_shown"]
    before = workload(store).loc["ana", columns].tolist()
    assert before == [2, 1, 1, 0, 2]

    store.undo(annotator="ana", only_own=True)
    assert workload(store).loc["ana", columns].tolist() == [1, 1, 0, 1, 1]
    store.redo(annotator="ana")
    after = workload(store)
    assert after.loc["ana", columns].tolist() == before
    assert after.loc["ana", "workload"] == pytest.approx(0.5)
    assert workload(store, by="region")["corrected"].to_dict() == {1: 1}
    assert label_givers(store).loc["A-1", ["annotator", "source"]].tolist() == ["ana", "corrected"]

    store.undo(annotator="ana", only_own=True)  # the redo: the correction is undone again
    assert workload(store).loc["ana", columns].tolist() == [1, 1, 0, 1, 1]
    store.redo(annotator="ana")
    assert workload(store).loc["ana", columns].tolist() == before


def test_a_cleared_label_counts_neither_as_a_label_nor_as_one_taken_back(store):
    store.add_labels({"A-1": "Tumour", "B-1": "Stroma"}, annotator="ana", source="manual")
    store.add_labels({"A-1": None}, annotator="bo", source="manual")  # "Clear their labels" on a region
    table = workload(store, by="annotator")
    assert table.loc["ana", "manual"] == 2
    assert "bo" not in table.index or table.loc["bo", "manual"] == 0
    assert table["undone"].sum() == 0
    assert label_givers(store)[K.COL_ANNOTATOR].tolist() == ["ana"]
