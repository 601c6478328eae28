"""Across sections: label transfer with joint (Harmony-corrected) features, agreement metrics, review.

:func:`transfer_labels` trains on one project's labels and starts a new section's project with
the predictions as suggestions; :func:`agreement` compares two annotations (κ, accuracy,
weighted F1, confusion); :func:`review_labels` lists labels an out-of-fold model disputes.
"""

from ._agreement import Agreement, agreement, annotation_columns, plot_agreement, read_annotation
from ._features import harmonize, joint_feature_blocks
from ._review import out_of_fold_probabilities, review_labels
from ._transfer import TransferSummary, transfer_labels

__all__ = [
    "Agreement",
    "TransferSummary",
    "agreement",
    "annotation_columns",
    "harmonize",
    "joint_feature_blocks",
    "out_of_fold_probabilities",
    "plot_agreement",
    "read_annotation",
    "review_labels",
    "transfer_labels",
]
