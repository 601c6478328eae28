"""The exclusion class on a real project: learnt as a class, left out of the round's Loupe CSV and of accuracy."""

import pandas as pd

from activespot import _constants as K
from activespot.project import round_history, run_round


def test_the_model_learns_the_exclusion_class_and_the_round_csv_and_accuracy_leave_its_spots_out(labelled_project):
    project = labelled_project
    assert project.set_exclusion_class(annotator="t")  # "Not tissue", declared now
    edge = [b for b in project.barcodes if b not in project.labels()][:15]
    project.add_labels(dict.fromkeys(edge, K.DEFAULT_EXCLUSION_CLASS), annotator="t")

    summary = run_round(project)
    predictions = project.predictions()
    assert f"p({K.DEFAULT_EXCLUSION_CLASS})" in predictions.columns  # an ordinary class for the model
    assert summary.label_counts[K.DEFAULT_EXCLUSION_CLASS] == 15
    written = pd.read_csv(summary.prediction_csv, index_col=0).iloc[:, 0]
    predicted_out = predictions.index[predictions["label"] == K.DEFAULT_EXCLUSION_CLASS]
    assert not set(written.index) & (set(edge) | set(predicted_out))
    assert len(written) == len(predictions) - len(set(edge) | set(predicted_out))

    # a truth the model gets right everywhere but on the spots the annotator excluded
    truth = predictions["label"].astype(object).copy()
    truth[edge] = ["WM" if label == "L1" else "L1" for label in predictions.loc[edge, "label"]]
    assert round_history(project, truth=truth)["accuracy"].iloc[-1] == 1.0
    project.set_exclusion_class(None, annotator="t")
    assert round_history(project, truth=truth)["accuracy"].iloc[-1] < 1.0
