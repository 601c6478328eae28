import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from activespot.project import LabelStore, Suggestion, check_class_name

WRITER = Path(__file__).with_name("_writer_child.py")


@pytest.fixture
def store(tmp_path):
    with LabelStore(tmp_path / "labels.sqlite", create=True) as opened:
        yield opened


def test_newest_event_is_the_current_label(store):
    store.add_labels({"A-1": "Tumour", "B-1": "Stroma"}, annotator="ana", source="manual")
    suggestion = {"A-1": Suggestion("Tumour", 0.9)}
    store.add_labels({"A-1": "Stroma"}, annotator="ben", source="corrected", suggestions=suggestion)
    assert store.current_labels().to_dict() == {"B-1": "Stroma", "A-1": "Stroma"}
    events = store.events()
    assert list(events["source"]) == ["manual", "manual", "corrected"]
    corrected = events.iloc[-1]
    assert corrected["suggested_label"] == "Tumour"
    assert corrected["suggestion_confidence"] == pytest.approx(0.9)


def test_clearing_a_label_removes_it(store):
    store.add_labels({"A-1": "Tumour"}, annotator="ana", source="manual")
    store.add_labels({"A-1": None}, annotator="ana", source="manual")
    assert store.current_labels().empty


def test_undo_restores_previous_labels_as_new_events(store):
    store.add_labels({"A-1": "Tumour"}, annotator="ana", source="manual")
    second = store.add_labels({"A-1": "Stroma", "B-1": "Immune"}, annotator="ana", source="accepted")
    assert store.undo(annotator="ana") == second
    assert store.current_labels().to_dict() == {"A-1": "Tumour"}
    # The next undo goes further back; history only grows.
    store.undo(annotator="ana")
    assert store.current_labels().empty
    assert store.undo(annotator="ana") is None
    assert list(store.events()["source"]) == ["manual", "accepted", "accepted", "undo", "undo", "undo"]


def test_undo_only_own_skips_other_annotators(store):
    own = store.add_labels({"A-1": "Tumour"}, annotator="ana", source="manual")
    store.add_labels({"B-1": "Stroma"}, annotator="ben", source="manual")
    assert store.undo(annotator="ana", only_own=True) == own
    assert store.current_labels().to_dict() == {"B-1": "Stroma"}


def test_history_cannot_be_rewritten(store):
    store.add_labels({"A-1": "Tumour"}, annotator="ana", source="manual")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store._conn.execute("UPDATE events SET label = 'x'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store._conn.execute("DELETE FROM events")


def test_database_is_in_wal_mode(store):
    assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.integrity_problems() == []


def test_class_rename_and_merge_apply_to_existing_labels(store):
    store.add_classes(["Tumor", "Stroma", "Fat"], annotator="ana")
    store.add_labels({"A-1": "Tumor", "B-1": "Fat"}, annotator="ana", source="manual")
    store.rename_class("Tumor", "Tumour", annotator="ana")
    store.merge_class("Fat", "Stroma", annotator="ana")
    assert store.declared_classes() == ["Tumour", "Stroma"]
    assert store.current_labels().to_dict() == {"A-1": "Tumour", "B-1": "Stroma"}
    with pytest.raises(ValueError, match="already exists"):
        store.rename_class("Tumour", "Stroma", annotator="ana")
    with pytest.raises(ValueError, match="no class named"):
        store.merge_class("Fat", "Stroma", annotator="ana")


def test_a_merge_frees_its_slot_without_moving_the_other_classes(store):
    """Slots key the app's class colours: merging one class must not recolour the others."""
    store.add_classes(["L1", "L2", "L3", "WM"], annotator="ana")
    store.merge_class("L2", "L1", annotator="ana")
    store.rename_class("WM", "White matter", annotator="ana")
    store.add_classes(["Vessel"], annotator="ana")
    assert store.class_slots() == {"L1": 0, "L3": 2, "White matter": 3, "Vessel": 4}
    assert store.declared_classes() == ["L1", "L3", "White matter", "Vessel"]


def test_undeclared_labels_in_use_are_listed_as_classes(store):
    store.add_classes(["Tumour"], annotator="ana")
    store.add_labels({"A-1": "Immune"}, annotator="ana", source="imported")
    assert store.classes() == ["Tumour", "Immune"]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "empty"),
        (" Tumour", "leading or trailing spaces"),
        ("Tumour\u200b", "invisible"),
        ("Tumour\t", "leading or trailing"),
        ("Tume\u0301r", "NFC"),
    ],
)
def test_unclean_class_names_are_refused(name, problem):
    with pytest.raises(ValueError, match=problem):
        check_class_name(name)


def test_unicode_class_names_are_welcome():
    assert check_class_name("Tumör-Stroma (β)") == "Tumör-Stroma (β)"


def test_bad_source_and_missing_annotator_are_refused(store):
    with pytest.raises(ValueError, match="source must be one of"):
        store.add_labels({"A-1": "x"}, annotator="ana", source="guessed")
    with pytest.raises(ValueError, match="annotator"):
        store.add_labels({"A-1": "x"}, annotator=" ", source="manual")
    assert store.events().empty


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    path = tmp_path / "labels.sqlite"
    LabelStore(path, create=True).close()
    writers = [
        subprocess.Popen([sys.executable, str(WRITER), str(path), name, "150"], stderr=subprocess.PIPE, text=True)
        for name in ("ana", "ben")
    ]
    for writer in writers:
        _, errors = writer.communicate(timeout=120)
        assert writer.returncode == 0, errors
    with LabelStore(path) as store:
        labels = store.current_labels()
        assert len(labels) == 300
        assert store.events()["annotator"].value_counts().to_dict() == {"ana": 150, "ben": 150}
        assert store.integrity_problems() == []
