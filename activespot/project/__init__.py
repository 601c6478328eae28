"""Annotation projects: a folder with a sample reference, a label journal and model rounds."""

from ._project import Project, Round
from ._store import LabelStore, Suggestion, check_class_name
from ._workload import annotator_workload, queue_table, review_table, round_class_counts, round_history

__all__ = [
    "LabelStore",
    "Project",
    "Round",
    "Suggestion",
    "annotator_workload",
    "check_class_name",
    "queue_table",
    "review_table",
    "round_class_counts",
    "round_history",
]
