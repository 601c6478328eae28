"""Annotation projects: a folder with a sample reference, a label journal and model rounds."""

from ._project import Project, Round, RoundBusyError, default_annotator
from ._rounds import RoundSummary, SpotQuery, check_spot_project, project_blocks, round_settings, run_round, suggest
from ._store import LabelStore, Suggestion, check_class_name
from ._workload import annotator_workload, queue_table, review_table, round_class_counts, round_history

__all__ = [
    "LabelStore",
    "Project",
    "Round",
    "RoundBusyError",
    "RoundSummary",
    "SpotQuery",
    "Suggestion",
    "annotator_workload",
    "check_class_name",
    "check_spot_project",
    "default_annotator",
    "project_blocks",
    "queue_table",
    "review_table",
    "round_class_counts",
    "round_history",
    "round_settings",
    "run_round",
    "suggest",
]
