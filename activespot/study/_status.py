"""Across a study: transfer from its labelled sections to the others, and where each section stands."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import _constants as K
from ..errors import InputFileError
from ._study import Study, StudyError

if TYPE_CHECKING:
    from ..project import Project
    from ..transfer import TransferSummary

__all__ = ["SectionStatus", "study_status", "transfer_study"]

FEATURES_DONE = "yes"  # stored, and made from the section's current files and settings
FEATURES_NONE = "no"
FEATURES_STALE = "stale"  # stored, but a file or a setting changed since
FEATURES_JOINT = "joint"  # a transfer's joint blocks (kept by ``study features``)


@dataclass(frozen=True)
class SectionStatus:
    """Where one section stands.

    Attributes
    ----------
    sample
        The section.
    spots
        Spots of its sample.
    labels
        Current labels.
    rounds
        Rounds that hold a model (trained or transferred).
    features
        ``yes``, ``no``, ``stale`` (stored, but the sample's files or the settings changed since), or
        ``joint`` (a transfer's joint blocks).
    kappa
        Cohen's κ of the predictions of its model round against the manifest's truth; ``None``
        without a truth or a model round.
    n_truth
        Spots both predicted and in the truth (what κ is over); ``None`` when κ is.
    """

    sample: str
    spots: int
    labels: int
    rounds: int
    features: str
    kappa: float | None = None
    n_truth: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready)."""
        return asdict(self)


def transfer_study(
    study: Study,
    sources: Sequence[str],
    *,
    harmony: bool = True,
    ensemble: int | None = None,
    annotator: str | None = None,
    device: str | None = None,
    progress: bool = True,
) -> dict[str, TransferSummary]:
    """Train on the labelled ``sources`` jointly and start every other section with a transferred round.

    Each target gets what ``activespot transfer`` gives a new project (see
    :func:`activespot.transfer.transfer_into`): joint features, the sources' spots for its later
    rounds, and a round of predictions to accept or correct.

    Parameters
    ----------
    study
        The study.
    sources
        Sample names of the labelled sections to learn from.
    harmony
        Batch-correct the joint expression PCs with Harmony.
    ensemble
        Fused MLPs to average (default: ``transfer.ensemble`` of the first source's settings).
    annotator
        Who starts the rounds.
    device
        Where backbones and models run (default: the sources' settings, ``auto``).
    progress
        Show progress bars.

    Returns
    -------
    dict
        The transfer of each target, by sample, in the study's order.

    Raises
    ------
    StudyError
        No source, a sample that is not in the study, or no section left to predict.
    ProjectError
        The sources' labels or settings cannot train a model (see ``transfer_into``).
    """
    from ..transfer import transfer_into

    sources = list(dict.fromkeys(sources))
    if not sources:
        msg = "name the labelled sections to learn from, e.g. --from 151673,151674"
        raise StudyError(msg)
    for sample in sources:
        study.section(sample)  # a StudyError listing the study's samples
    targets = [sample for sample in study.samples if sample not in sources]
    if not targets:
        msg = f"{study.path}: every section is a source; leave at least one out of --from to predict it"
        raise StudyError(msg)
    opened = [study.open_project(sample) for sample in sources]
    summaries = {}
    try:
        for sample in targets:
            target = study.open_project(sample)
            try:
                summaries[sample] = transfer_into(
                    opened,
                    target,
                    harmony=harmony,
                    ensemble=ensemble,
                    annotator=annotator,
                    device=device,
                    progress=progress,
                )
            finally:
                target.close()
    finally:
        for project in opened:
            project.close()
    return summaries


def study_status(study: Study) -> list[SectionStatus]:
    """Spots, labels, rounds, features and κ against the truth, per section, in the study's order.

    Parameters
    ----------
    study
        The study.

    Returns
    -------
    list of SectionStatus

    Raises
    ------
    InputFileError
        A section's truth cannot be read, or shares no spot with its predictions.
    """
    statuses = []
    for section in study.sections:
        project = study.open_project(section.sample)
        try:
            details = project.info()
            kappa, n_truth = _kappa(project, section.truth)
            statuses.append(
                SectionStatus(
                    sample=section.sample,
                    spots=int(details["spots"]),
                    labels=int(details["labelled"]),
                    rounds=int(details["rounds"]),
                    features=_features_state(project),
                    kappa=kappa,
                    n_truth=n_truth,
                )
            )
        finally:
            project.close()
    return statuses


def _features_state(project: Project) -> str:
    stored = project.stored_features()
    if stored is None:
        return FEATURES_NONE
    if K.FEATURES_JOINT_KEY in stored:
        return FEATURES_JOINT
    return FEATURES_DONE if project.features_current() else FEATURES_STALE


def _kappa(project: Project, truth: Path | None) -> tuple[float | None, int | None]:
    predictions = project.predictions()
    if truth is None or predictions is None:
        return None, None
    from ..review import agreement, read_annotation

    labels = read_annotation(truth)
    try:
        result = agreement(
            labels,
            project.marking_excluded(predictions["label"]),
            name_a=truth.name,
            name_b="predictions",
            exclude=project.exclusion_class(),
        )
    except ValueError as err:
        raise InputFileError(
            truth, str(err), f"give the truth of section {project.path.name} in the manifest"
        ) from None
    return result.kappa, result.n_common
