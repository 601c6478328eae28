"""Checking labels: agreement between two annotations (Cohen's κ, confusion) and the out-of-fold consistency review.

:func:`agreement` compares two annotations (κ, accuracy, weighted F1, confusion);
:func:`review_labels` lists the labels of a project that a model trained without them disputes.
"""

from ._agreement import Agreement, agreement, annotation_columns, plot_agreement, read_annotation
from ._consistency import out_of_fold_probabilities, review_labels

__all__ = [
    "Agreement",
    "agreement",
    "annotation_columns",
    "out_of_fold_probabilities",
    "plot_agreement",
    "read_annotation",
    "review_labels",
]
