"""The journal's exclusion class, skips, claims and stale-write check; the queue's pure ordering."""

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from activespot import _constants as K
from activespot.project import LabelStore, StaleLabelError, claims_to_renew, queue_order


@pytest.fixture
def store(tmp_path):
    with LabelStore(tmp_path / "labels.sqlite", create=True) as opened:
        opened.add_classes(["Tumour", "Stroma"], annotator="ana")
        yield opened


# -- the exclusion class ---------------------------------------------------------------------------
def test_a_declared_class_is_marked_as_the_exclusion_class_and_keeps_the_mark_through_a_rename(store):
    assert store.exclusion_class() is None
    store.add_classes([K.DEFAULT_EXCLUSION_CLASS], annotator="ana")
    store.set_exclusion_class(K.DEFAULT_EXCLUSION_CLASS, annotator="ana")
    assert store.exclusion_class() == "Not tissue"
    store.rename_class("Not tissue", "Background", annotator="ana")
    assert store.exclusion_class() == "Background"
    store.set_exclusion_class(None, annotator="ana")
    assert store.exclusion_class() is None


def test_only_a_declared_class_can_be_the_exclusion_class_and_a_refusal_writes_nothing(store):
    before = len(store.actions())
    with pytest.raises(ValueError, match=r"no class named 'Glass'.*Tumour, Stroma"):
        store.set_exclusion_class("Glass", annotator="ana")
    assert len(store.actions()) == before


def test_the_new_tables_are_append_only(store):
    store.add_skip("A-1", annotator="ana", round_number=1)
    store.claim(["B-1"], annotator="ana")
    store.set_exclusion_class("Stroma", annotator="ana")
    for table in (K.EXCLUSION_TABLE, K.SKIPS_TABLE, K.CLAIMS_TABLE):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            store._conn.execute(f"DELETE FROM {table}")


def test_a_project_made_before_the_new_tables_opens_and_gains_them(tmp_path):
    path = tmp_path / "old.sqlite"
    with LabelStore(path, create=True) as fresh:
        fresh.add_labels({"A-1": "Tumour"}, annotator="ana", source="manual")
    with sqlite3.connect(path) as conn:  # as an older activespot left it: no exclusion, skip or claim tables
        for table in (K.EXCLUSION_TABLE, K.SKIPS_TABLE, K.CLAIMS_TABLE):
            conn.execute(f"DROP TABLE {table}")
    with LabelStore(path) as reopened:
        assert reopened.current_labels().to_dict() == {"A-1": "Tumour"}
        assert reopened.exclusion_class() is None
        reopened.add_skip("A-1", annotator="ana", round_number=None)
        assert reopened.skipped(annotator="ana", round_number=None) == ["A-1"]


# -- skips ----------------------------------------------------------------------------------------
def test_skips_are_kept_per_annotator_and_round_longest_ago_first(store):
    store.add_skip("A-1", annotator="ana", round_number=2)
    store.add_skip("B-1", annotator="ana", round_number=2)
    store.add_skip("C-1", annotator="ben", round_number=2)
    store.add_skip("D-1", annotator="ana", round_number=1)
    store.add_skip("A-1", annotator="ana", round_number=2)  # skipped again: now the most recent
    assert store.skipped(annotator="ana", round_number=2) == ["B-1", "A-1"]
    assert store.skipped(annotator="ben", round_number=2) == ["C-1"]
    assert store.skipped(annotator="ana", round_number=3) == []


# -- claims ---------------------------------------------------------------------------------------
def test_a_claim_holds_until_it_expires_or_its_spot_is_labelled_or_skipped(store):
    store.claim(["A-1", "B-1", "C-1"], annotator="ana")
    assert store.claims()[K.COL_ANNOTATOR].to_dict() == {"A-1": "ana", "B-1": "ana", "C-1": "ana"}
    store.add_labels({"A-1": "Tumour"}, annotator="ben", source="manual")  # labelled: released
    store.add_skip("B-1", annotator="ana", round_number=1)  # skipped: released
    assert list(store.claims().index) == ["C-1"]
    later = datetime.now(UTC) + timedelta(seconds=K.CLAIM_TIMEOUT_S + 1)
    assert store.claims(now=later).empty


def test_the_newest_claim_of_a_spot_wins(store):
    store.claim(["A-1"], annotator="ana")
    store.claim(["A-1"], annotator="ben")
    assert store.claims()[K.COL_ANNOTATOR].to_dict() == {"A-1": "ben"}


# -- stale writes ---------------------------------------------------------------------------------
def test_a_label_changed_since_the_page_read_it_is_not_overwritten_and_the_error_says_who_and_what(store):
    store.add_labels({"A-1": "Tumour"}, annotator="ana", source="manual")
    seen = store.newest_events(["A-1", "B-1"])  # what the page showed: A-1 labelled, B-1 never
    expected = {"A-1": seen.get("A-1"), "B-1": seen.get("B-1")}
    store.add_labels({"A-1": "Stroma"}, annotator="ben", source="corrected")  # a colleague, meanwhile
    before = len(store.events())
    changed = r"1 spot\(s\) changed.*A-1 labelled 'Stroma' by ben \(corrected\)"
    with pytest.raises(StaleLabelError, match=changed) as err:
        store.add_labels({"A-1": "Tumour", "B-1": "Tumour"}, annotator="ana", source="manual", expected=expected)
    assert list(err.value.changes[K.COL_ITEM]) == ["A-1"]
    assert len(store.events()) == before  # nothing stored
    store.add_labels({"A-1": "Tumour"}, annotator="ana", source="manual")  # overwrite anyway: no expected
    assert store.current_labels()["A-1"] == "Tumour"


def test_an_unchanged_spot_is_labelled_with_its_expected_state(store):
    store.add_labels({"B-1": "Tumour"}, annotator="ana", source="manual", expected={"B-1": None})
    newest = store.newest_events(["B-1"])
    store.add_labels({"B-1": "Stroma"}, annotator="ana", source="manual", expected=newest)
    assert store.current_labels()["B-1"] == "Stroma"
    with pytest.raises(StaleLabelError, match="B-1 labelled 'Stroma' by ana"):
        store.add_labels({"B-1": "Tumour"}, annotator="ben", source="manual", expected={"B-1": None})


# -- the queue's order --------------------------------------------------------------------------------
def test_skipped_spots_go_last_and_spots_claimed_by_others_are_left_out():
    todo = ["a", "b", "c", "d", "e"]
    claims = {"b": "ben", "c": "ana"}
    assert queue_order(todo, annotator="ana", skipped=["d", "a"], claims=claims) == ["c", "e", "d", "a"]
    assert queue_order(todo, annotator="ben", claims=claims) == ["a", "b", "d", "e"]
    assert queue_order(todo, annotator="ana") == todo


def test_two_annotators_get_disjoint_pages_once_the_first_claims_hers():
    todo = [f"s{i}" for i in range(12)]
    now = datetime(2026, 1, 1, tzinfo=UTC)
    first = queue_order(todo, annotator="ana")[:4]
    held = {item: ("ana", now) for item in claims_to_renew(first, annotator="ana", claims={}, now=now)}
    second = queue_order(todo, annotator="ben", claims={k: v[0] for k, v in held.items()})[:4]
    assert first == ["s0", "s1", "s2", "s3"]
    assert second == ["s4", "s5", "s6", "s7"]


def test_a_page_renews_only_its_old_claims_and_never_takes_another_annotators():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    old = now - timedelta(seconds=K.CLAIM_RENEW_S + 1)
    claims = {"a": ("ana", now), "b": ("ana", old), "c": ("ben", old)}
    assert claims_to_renew(["a", "b", "c", "d"], annotator="ana", claims=claims, now=now) == ["b", "d"]


def test_a_new_exclusion_class_is_declared_and_marked_in_one_action(store):
    before = len(store.actions())
    assert store.set_exclusion_class("Not tissue", annotator="ana", declare=True)
    assert store.declared_classes() == ["Tumour", "Stroma", "Not tissue"]
    assert store.exclusion_class() == "Not tissue"
    assert len(store.actions()) == before + 1
    assert not store.set_exclusion_class("Not tissue", annotator="ana", declare=True)  # already so: no write
    assert len(store.actions()) == before + 1
