"""Annotation projects: a folder with a sample reference, a label journal and model rounds."""

from typing import Any

from ._project import FeaturesUpdate, Project, Round, RoundBusyError, check_spot_project, default_annotator
from ._queue import claims_to_renew, queue_order
from ._store import LabelStore, StaleLabelError, Suggestion, check_class_name
from ._workload import (
    accepted_since,
    annotator_workload,
    given_with_suggestion,
    judgement_lines,
    label_givers,
    queue_table,
    review_table,
    round_class_counts,
    round_history,
    workload,
)

# The round functions need the model (torch) and the strategies (scikit-learn): imported on first
# use, so that commands which only read the project (info, features when up to date) start fast.
_ROUND_API = ("RoundSummary", "SpotQuery", "project_blocks", "round_settings", "run_round", "suggest")


def __getattr__(name: str) -> Any:
    if name in _ROUND_API:
        from . import _rounds

        return getattr(_rounds, name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


__all__ = [
    "FeaturesUpdate",
    "LabelStore",
    "Project",
    "Round",
    "RoundBusyError",
    "RoundSummary",
    "SpotQuery",
    "StaleLabelError",
    "Suggestion",
    "accepted_since",
    "annotator_workload",
    "check_class_name",
    "check_spot_project",
    "claims_to_renew",
    "default_annotator",
    "given_with_suggestion",
    "judgement_lines",
    "label_givers",
    "project_blocks",
    "queue_order",
    "queue_table",
    "review_table",
    "round_class_counts",
    "round_history",
    "round_settings",
    "run_round",
    "suggest",
    "workload",
]
