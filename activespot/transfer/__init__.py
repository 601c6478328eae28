"""Across sections: label transfer with joint (Harmony-corrected) features.

:func:`transfer_labels` trains on one project's labels and starts a new section's project with
the predictions as suggestions; :func:`transfer_into` writes them into a project that exists
(a study's section), learning from one or several labelled projects jointly.
"""

from ._features import harmonize, joint_feature_blocks
from ._transfer import TransferSummary, transfer_into, transfer_labels

__all__ = ["TransferSummary", "harmonize", "joint_feature_blocks", "transfer_into", "transfer_labels"]
