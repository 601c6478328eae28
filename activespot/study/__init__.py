"""Studies: many sections of one experiment, each an ordinary project, worked on together.

:meth:`Study.create` makes a project per line of a manifest (``sample,visium[,image][,labels][,truth]``);
:func:`update_study_features` embeds every section, one dask task per section (here, on local
worker processes or on a cluster); :func:`transfer_study` learns from the labelled sections and
starts the others with a transferred round; :func:`study_status` says where each section stands.
"""

from ._features import SectionFeatures, open_scheduler, update_study_features, worker_device
from ._manifest import ManifestRow, read_manifest
from ._status import SectionStatus, study_status, transfer_study
from ._study import Section, Study, StudyError

__all__ = [
    "ManifestRow",
    "Section",
    "SectionFeatures",
    "SectionStatus",
    "Study",
    "StudyError",
    "open_scheduler",
    "read_manifest",
    "study_status",
    "transfer_study",
    "update_study_features",
    "worker_device",
]
