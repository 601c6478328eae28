"""Annotation projects: a folder with a sample reference, a label journal and model rounds."""

from ._project import Project, Round
from ._store import LabelStore, Suggestion, check_class_name

__all__ = ["LabelStore", "Project", "Round", "Suggestion", "check_class_name"]
