"""Checking labels: agreement between two annotations (Cohen's κ, confusion) and the out-of-fold consistency review.

:func:`agreement` compares two annotations (κ, accuracy, weighted F1, confusion);
:func:`review_labels` lists the labels of a project that a model trained without them disputes.
"""

from typing import Any

from ._agreement import Agreement, agreement, annotation_columns, plot_agreement, read_annotation
from ._consistency import review_labels


def __getattr__(name: str) -> Any:
    # The out-of-fold models live in the loop (they need torch): imported on first use, so that
    # reading agreements stays light.
    if name == "out_of_fold_probabilities":
        from ..loop import out_of_fold_probabilities

        return out_of_fold_probabilities
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


__all__ = [
    "Agreement",
    "agreement",
    "annotation_columns",
    "out_of_fold_probabilities",
    "plot_agreement",
    "read_annotation",
    "review_labels",
]
