"""Cell-level annotation of H&E images (HALS): cell features, the live classifier, Coreset regions, workload.

:func:`cell_features` describes every cell (``obsm['X_cell']``); :class:`CellClassifier` is HALS's
two-layer head; :func:`should_retrain`, :func:`suggestions_ready` and :func:`choose_region` are
the rules the tool follows; :func:`suggest_cells` and :func:`next_region` are the one suggestion
step cell rounds and the simulated annotator share; :func:`neighbour_evidence` weighs the classes
of labelled neighbours into each suggestion (the annotators' workload is :func:`activespot.project.workload`);
:func:`simulate_cells` measures workload reduction and effectiveness with a simulated annotator.
"""

from ._classifier import CellClassifier, training_threads
from ._context import neighbour_evidence, with_neighbour_evidence
from ._features import cell_feature_names, cell_features, cell_patch_size, check_cell_backbone
from ._guide import Region, annotation_order, choose_region, coreset_picks, should_retrain, suggestions_ready
from ._session import (
    CellRound,
    cell_round,
    check_cell_project,
    label_cells,
    latest_cell_round,
    load_cells,
    needs_new_round,
)
from ._simulate import SessionTrace, curve_auc, effectiveness_curve, simulate_cells, simulate_session
from ._suggest import CellSuggestions, cell_classifier, next_region, suggest_cells
from ._truth import cell_truth

__all__ = [
    "CellClassifier",
    "CellRound",
    "CellSuggestions",
    "Region",
    "SessionTrace",
    "annotation_order",
    "cell_classifier",
    "cell_feature_names",
    "cell_features",
    "cell_patch_size",
    "cell_round",
    "cell_truth",
    "check_cell_backbone",
    "check_cell_project",
    "choose_region",
    "coreset_picks",
    "curve_auc",
    "effectiveness_curve",
    "label_cells",
    "latest_cell_round",
    "load_cells",
    "needs_new_round",
    "neighbour_evidence",
    "next_region",
    "should_retrain",
    "simulate_cells",
    "simulate_session",
    "suggest_cells",
    "suggestions_ready",
    "training_threads",
    "with_neighbour_evidence",
]
