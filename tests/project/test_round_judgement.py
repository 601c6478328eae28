"""What a round says about when to stop: estimated accuracy, unchanged predictions, accepted suggestions."""

from activespot import _constants as K
from activespot.project import Suggestion, run_round


def _suggested(barcodes, *, right: bool) -> tuple[dict, dict]:
    """Labels given with a suggestion on screen: the suggestion itself (accepted) or another class (corrected)."""
    labels, suggestions = {}, {}
    for barcode in barcodes:
        labels[barcode] = "L3"
        suggestions[barcode] = Suggestion("L3" if right else "L5", 0.7)
    return labels, suggestions


def test_accepted_suggestions_count_from_the_round_before(labelled_project):
    unlabelled = [b for b in labelled_project.barcodes if b not in labelled_project.labels().index]
    early, accepted, corrected = unlabelled[:4], unlabelled[4:9], unlabelled[9:12]
    labels, suggestions = _suggested(early, right=True)
    labelled_project.add_labels(labels, annotator="t", source=K.SOURCE_ACCEPTED, suggestions=suggestions)
    first = run_round(labelled_project)
    assert first.estimate is not None
    assert first.estimate["low"] <= first.estimate["accuracy"] <= first.estimate["high"]
    assert first.unchanged is None
    assert first.accepted is None
    assert first.judgement()[0].startswith("estimated accuracy 0.")
    labels, suggestions = _suggested(accepted, right=True)
    labelled_project.add_labels(labels, annotator="t", source=K.SOURCE_ACCEPTED, suggestions=suggestions)
    labels, suggestions = _suggested(corrected, right=False)
    labelled_project.add_labels(labels, annotator="t", source=K.SOURCE_CORRECTED, suggestions=suggestions)
    second = run_round(labelled_project)
    assert second.accepted == {"shown": 8, "accepted": 5, "share": 0.625}  # the 4 before round 1 left out
    assert labelled_project.latest_round().info[K.ROUND_INFO_ACCEPTED] == second.accepted
    assert 0.5 < second.unchanged <= 1
    assert second.unchanged == round(1 - second.changed / labelled_project.sample.n_spots, 4)
    lines = second.judgement()
    assert f"% of predictions unchanged since round {first.round}" in lines[1]
    assert lines[2] == f"62 % of the 8 suggestions shown since round {first.round} were accepted as they were"
