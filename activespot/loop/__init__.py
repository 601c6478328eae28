"""The active-learning loop on arrays: one round, its estimated accuracy, and the simulated annotator.

Nothing here reads a project folder; :mod:`activespot.project` runs these rounds on a project.
"""

from ._estimate import AccuracyEstimate, estimate_accuracy, estimate_round, out_of_fold_probabilities
from ._round import (
    RoundResult,
    fit_predict_select,
    initial_query,
    make_classifier,
    sample_blocks,
    select_query,
)
from ._simulate import ALL, plot_learning_curves, run_simulation, simulate, supervised_ceiling

__all__ = [
    "ALL",
    "AccuracyEstimate",
    "RoundResult",
    "estimate_accuracy",
    "estimate_round",
    "fit_predict_select",
    "initial_query",
    "make_classifier",
    "out_of_fold_probabilities",
    "plot_learning_curves",
    "run_simulation",
    "sample_blocks",
    "select_query",
    "simulate",
    "supervised_ceiling",
]
