"""An annotation project: one folder that holds everything about one sample's annotation.

::

    PROJECT/
      project.yaml      sample reference (absolute paths), configuration overrides
      labels.sqlite     the label journal (see :mod:`activespot.project._store`)
      features/         cached feature blocks
      rounds/round_NNNN model checkpoint, predictions and next query of each round (+ manifest)
      exports/          Loupe CSVs written for the annotator

A project is created complete or not at all (built in a temporary folder, then renamed), and a
round counts only once its folder is complete and registered in the database, so a process
killed at any moment never leaves a state that later commands would trust.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import logging
import os
import shutil
import socket
import unicodedata
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from io import BytesIO
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import yaml

from .. import __version__
from .. import _constants as K
from .._files import atomic_write_bytes, atomic_write_text, built_folder, fsync_dir, sha256_file, write_hashed
from ..config import Config, FeaturesConfig
from ..errors import InputFileError, ProjectError
from ._store import LabelStore, Suggestion, check_class_name

__all__ = ["FeaturesUpdate", "ImportSummary", "Project", "Round", "RoundBusyError", "default_annotator"]

logger = logging.getLogger(__name__)


def default_annotator() -> str:
    """Who is labelling: ``$ACTIVESPOT_ANNOTATOR``, else the login name."""
    return os.environ.get("ACTIVESPOT_ANNOTATOR") or getpass.getuser() or "annotator"


class RoundBusyError(ProjectError):
    """Another process (or another tab of the app) is writing a round of this project right now."""


@dataclass(frozen=True)
class SampleRef:
    """Where the project's sample lives; paths are absolute so the project can be opened from anywhere."""

    visium: str = ""
    image: str | None = None
    library_id: str | None = None
    n_spots: int = 0
    n_genes: int = 0
    # A cell project (HALS) has an H&E image and its nuclei instead of a Visium folder; n_spots
    # then counts cells. Older project.yaml files have neither key and read as Visium.
    kind: str = K.SAMPLE_KIND_VISIUM
    nuclei: str | None = None
    nuclei_format: str | None = None
    bin_size: int | None = None  # Visium HD: the bin size (µm) the project labels; None for 55 µm spots
    cells: bool = False  # Visium HD: the items are Space Ranger 4's segmented cells (cellid_… barcodes), not bins

    @property
    def morphology_only(self) -> bool:
        """A Visium sample without its count matrix, labelled from the H&E alone (features without expression)."""
        return self.kind == K.SAMPLE_KIND_VISIUM and self.n_genes == 0


@dataclass(frozen=True)
class FeaturesUpdate:
    """What :meth:`Project.update_features` did: the stored file, its provenance, and whether it computed."""

    path: Path
    provenance: dict[str, Any]
    shapes: dict[str, tuple[int, int]]
    computed: bool
    settings_saved: bool = False
    adata: Any = field(default=None, repr=False)  # the sample with its blocks, when computed


@dataclass(frozen=True)
class ImportSummary:
    """What a label import changed."""

    new: int
    changed: int
    unchanged: int
    column: str
    action_id: int | None = None
    mapped_from_um: int | None = None  # Visium HD: the bin size of the file's barcodes, when not the project's
    outside: int = 0  # mapped bins that are not among the project's (off tissue); for cells: labelled bins without one


@dataclass(frozen=True)
class Round:
    """A committed round: its number, folder and the artefacts listed in its manifest."""

    number: int
    path: Path
    info: dict[str, Any] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    def load_array(self, name: str) -> np.ndarray:
        """Load an array saved with :meth:`Project.save_round` (one stored at half precision as float32)."""
        array = np.load(self.path / f"{name}.npy", allow_pickle=False)
        return array.astype(np.float32) if array.dtype == np.float16 else array

    def load_table(self, name: str) -> pd.DataFrame:
        """Load a table saved with :meth:`Project.save_round` (index restored)."""
        return pd.read_parquet(self.path / f"{name}.parquet")

    def load_file(self, name: str) -> bytes:
        """Load raw bytes (e.g. a model checkpoint) saved with :meth:`Project.save_round`."""
        return (self.path / f"{name}.bin").read_bytes()


class Project:
    """An annotation project folder. Use :meth:`create` or :meth:`open`, not the constructor."""

    def __init__(self, path: Path, *, sample: SampleRef, config: Config):
        self.path = path
        self.sample = sample
        self.config = config
        self._adata = None
        self._layout = None
        self._held_round: int | None = None

    # -- creation and opening --------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        path: str | Path,
        *,
        visium: str | Path,
        image: str | Path | None = None,
        classes: Iterable[str] = (),
        config: Config | None = None,
        annotator: str | None = None,
        morphology_only: bool = False,
        bin_size: int | None = None,
        cells: bool = False,
    ) -> Project:
        """Create a project for a Space Ranger ``outs`` folder (or ``.h5ad``).

        The sample is read and validated first; the project folder appears only when complete.
        ``morphology_only`` accepts a folder without its count matrix (e.g. only ``spatial/``):
        the spots are labelled from the H&E, and the project's features leave expression out.
        ``bin_size`` picks a Visium HD output's bins (µm; default 8 when present, as in Loupe).
        ``cells`` labels the cells Space Ranger 4 segmented in a Visium HD output instead of its
        bins (``segmented_outputs/``; the project records ``cells: true``).

        Raises
        ------
        InputFileError
            The sample cannot be read (the message names the file and the problem).
        ProjectError
            ``path`` already exists and is not empty, or a class name is invalid.
        """
        from ..io import read_visium

        path, classes = _check_new_project(path, classes)
        if cells and (bin_size is not None or morphology_only):
            flag = "--bin-size picks bins" if bin_size is not None else "--morphology-only drops the counts"
            msg = f"--cells labels the segmented cells (with their counts), but {flag}: leave one of them out"
            raise ProjectError(msg)
        adata = read_visium(
            visium, fullres_image=image, require_counts=not morphology_only, bin_size=bin_size, cells=cells
        )
        scalefactors = next(iter(adata.uns.get(K.SPATIAL_KEY, {}).values()), {}).get(K.SCALEFACTORS_KEY, {})
        if bin_size is not None and K.BIN_SIZE_UM not in scalefactors:
            msg = f"{visium}: --bin-size is for Visium HD outputs; this sample has 55 µm Visium spots, leave it out"
            raise ProjectError(msg)
        sample = SampleRef(
            visium=str(Path(visium).absolute()),
            image=str(Path(image).absolute()) if image else None,
            library_id=str(adata.uns.get(K.LIBRARY_ID_KEY, "")) or None,
            n_spots=int(adata.n_obs),
            n_genes=int(adata.n_vars),
            bin_size=int(scalefactors[K.BIN_SIZE_UM]) if K.BIN_SIZE_UM in scalefactors else None,
            cells=cells,
        )
        config = config or Config()
        if morphology_only:
            config = config.updated({"features": {"expression": False}})
        _build_project_folder(path, sample, config, classes, annotator=annotator or default_annotator())
        project = cls(path, sample=sample, config=config)
        project._adata = adata
        logger.info("created project %s for %s (%d spots)", path, sample.visium, sample.n_spots)
        return project

    @classmethod
    def create_cells(
        cls,
        path: str | Path,
        *,
        image: str | Path,
        nuclei: str | Path | None = None,
        nuclei_format: str | None = None,
        classes: Iterable[str] = (),
        config: Config | None = None,
        annotator: str | None = None,
    ) -> Project:
        """Create a cell-annotation project for an H&E image and its nuclei (HALS).

        The image and nuclei are read and validated first (without ``nuclei`` the built-in
        detector runs and the project records that); the folder appears only when complete.

        Raises
        ------
        InputFileError
            The image or nuclei file cannot be read (the message names the file and the problem).
        ProjectError
            ``path`` already exists and is not empty, or a class name is invalid.
        """
        path, classes = _check_new_project(path, classes)
        config = config or Config()
        adata = _read_cells(image, nuclei, nuclei_format, microns_per_pixel=config.cells.microns_per_pixel)
        info = adata.uns[K.CELLS_UNS_KEY]
        sample = SampleRef(
            image=str(Path(image).absolute()),
            n_spots=int(adata.n_obs),
            kind=K.SAMPLE_KIND_CELLS,
            nuclei=info[K.CELLS_NUCLEI],
            nuclei_format=info[K.CELLS_NUCLEI_FORMAT],
        )
        _build_project_folder(path, sample, config, classes, annotator=annotator or default_annotator())
        project = cls(path, sample=sample, config=config)
        project._adata = adata
        logger.info("created cell project %s for %s (%d cells, %s)", path, image, adata.n_obs, sample.nuclei_format)
        return project

    @classmethod
    def open(cls, path: str | Path, *, sample: Any = None) -> Project:
        """Open an existing project folder.

        ``sample`` is this project's sample already read with :meth:`load_sample` by another
        ``Project`` object (the review app keeps one per project); it is used instead of being
        read again. It is shared, not copied.
        """
        path = Path(path).absolute()
        manifest = path / K.PROJECT_FILE
        if not manifest.is_file():
            msg = f"{path}: not an activespot project (no {K.PROJECT_FILE}); create one with 'activespot init'"
            raise ProjectError(msg)
        try:
            raw = yaml.safe_load(manifest.read_text(encoding="utf-8"))
            sample_ref = SampleRef(**raw["sample"])
            config = Config().updated(raw.get("config") or {})
        except Exception as err:
            raise InputFileError(manifest, f"project file is damaged ({err})", "restore it from a backup") from None
        project = cls(path, sample=sample_ref, config=config)
        project._adata = sample
        project._discard_unfinished_rounds()
        return project

    def save_config(self, config: Config) -> None:
        """Store new settings for this project (only overrides of the defaults are written)."""
        _write_manifest(self.path, self.sample, config)
        self.config = config

    # -- sample ----------------------------------------------------------------------------------
    def load_sample(self) -> Any:
        """The sample as AnnData (read once per Project object)."""
        if self._adata is None and self.sample.kind == K.SAMPLE_KIND_CELLS:
            self._adata = _read_cells(
                self.sample.image,
                self.sample.nuclei,
                self.sample.nuclei_format,
                microns_per_pixel=self.config.cells.microns_per_pixel,
            )
        if self._adata is None:
            self._adata = self._read_visium(layout_only=False)
        return self._adata

    def load_layout(self) -> Any:
        """The sample's spots, positions and scale factors, without counts or images, unless already loaded.

        What the loop needs once the features are stored: for a 640k-bin HD section, a fraction
        of a second instead of the seconds it takes to read the matrix and the images. The same
        spots in the same order as :meth:`load_sample`. A cell project has no lighter form.
        """
        if self._adata is not None or self.sample.kind == K.SAMPLE_KIND_CELLS:
            return self.load_sample()
        if self._layout is None:
            self._layout = self._read_visium(layout_only=True)
        return self._layout

    def _read_visium(self, *, layout_only: bool) -> Any:
        from ..io import read_visium

        with warnings.catch_warnings():
            # The reader's notes on this sample (e.g. "lowres only") were shown at init.
            warnings.simplefilter("ignore", UserWarning)
            return read_visium(
                self.sample.visium,
                fullres_image=self.sample.image,
                require_counts=not self.sample.morphology_only,
                bin_size=self.sample.bin_size,
                cells=self.sample.cells,
                layout_only=layout_only,
            )

    @cached_property
    def barcodes(self) -> pd.Index:
        """Barcodes of every in-tissue spot of the sample."""
        return pd.Index(self.load_layout().obs_names)

    @property
    def features_dir(self) -> Path:
        """Folder for cached feature blocks."""
        return self.path / K.FEATURES_DIR

    def feature_inputs(self, settings: FeaturesConfig) -> str:
        """Fingerprint of all that ``activespot features`` reads, to tell whether stored features are current.

        It covers the sample's files (path, size and modification time), the weights file, the
        settings and activespot's version. Stored with the features; an equal fingerprint later
        means they are current, and the command can say so without reading a byte of the sample.
        """
        sources = [self.sample.visium, self.sample.image, self.sample.nuclei, settings.weights]
        stats = []
        for source in (Path(name) for name in sources if name):
            members = sorted(source.rglob("*")) if source.is_dir() else [source]
            stats += [(str(m), m.stat().st_size, m.stat().st_mtime_ns) for m in members if m.is_file()]
        record = [__version__, settings.model_dump(mode="json"), stats]
        return hashlib.sha256(json.dumps(record, default=str).encode()).hexdigest()

    def update_features(self, settings: Config, *, device: str | None = None, progress: bool = True) -> FeaturesUpdate:
        """Compute and store the feature blocks for ``settings`` unless the stored ones are current.

        Each block comes from its own cache when its inputs are the same bytes, and the file is
        written atomically, so a run killed part-way (or a study worker lost mid-section) leaves
        the previous features, and a rerun redoes only what is missing. Settings that differ from
        the project's become its own, so ``round`` and ``transfer`` use the same features; ``device``
        (``auto``, ``cpu``, ``cuda:1``...) is this run's only: a machine's, not the project's.

        Raises
        ------
        ProjectError
            A cell project, or a sample that lacks what the settings need (in words).
        InputFileError
            Weights or image that cannot be used.
        """
        from ..errors import ActivespotError
        from ..features import check_features_input, compute_features, resolve_device, write_features

        check_spot_project(self)
        if device is not None:
            resolve_device(device)  # a GPU this machine lacks fails before the sample is read
        where = self.features_dir / K.FEATURES_FILE
        if settings == self.config and self.features_current():
            stored = self.stored_features()
            return FeaturesUpdate(where, stored, dict(stored[K.FEATURES_SHAPES_KEY]), computed=False)
        inputs = self.feature_inputs(settings.features)
        adata = self.load_sample()
        try:
            check_features_input(adata, settings.features)
        except ActivespotError:
            raise
        except ValueError as err:  # what the sample or settings lack, in words: not a crash
            msg = f"{self.path}: {err}"
            raise ProjectError(msg) from None
        config = settings.features if device is None else settings.features.model_copy(update={"device": device})
        compute_features(adata, config, cache_dir=self.features_dir, progress=progress)
        provenance = adata.uns[K.FEATURES_UNS_KEY]
        provenance[K.FEATURES_INPUTS_KEY] = inputs
        write_features(adata, where)
        saved = settings != self.config
        if saved:
            self.save_config(settings)
        shapes = {key: adata.obsm[key].shape for key in K.FEATURE_BLOCKS if key in adata.obsm}
        return FeaturesUpdate(where, provenance, shapes, computed=True, settings_saved=saved, adata=adata)

    def features_current(self) -> bool:
        """Whether stored features exist and were computed from what the sample and settings are now."""
        stored = self.stored_features()
        return stored is not None and stored.get(K.FEATURES_INPUTS_KEY) == self.feature_inputs(self.config.features)

    def stored_features(self) -> dict[str, Any] | None:
        """Provenance of the stored feature blocks, or ``None`` when there are none (or none readable)."""
        path = self.features_dir / K.FEATURES_FILE
        try:
            with np.load(path, allow_pickle=False) as stored:
                return json.loads(str(stored[K.FEATURES_PROVENANCE_MEMBER]))
        except (OSError, ValueError, KeyError):
            return None

    def save_transfer_source(self, blocks: Mapping[str, np.ndarray], labels: np.ndarray) -> Path:
        """Keep a transfer's source: its spots' blocks in this project's (joint) feature space, and their labels.

        Rounds on this project then train on the source's labels together with its own, so that
        a few labels of this section refine what the transfer knew instead of replacing it.
        """
        buffer = BytesIO()
        names = np.asarray([str(name) for name in blocks])
        labels = np.asarray(["" if label is None else str(label) for label in labels])
        np.savez(buffer, block_names=names, labels=labels, **{str(k): np.asarray(v) for k, v in blocks.items()})
        return atomic_write_bytes(self.features_dir / K.TRANSFER_SOURCE_FILE, buffer.getvalue())

    def transfer_source(self) -> tuple[dict[str, np.ndarray], np.ndarray] | None:
        """The blocks and labels (``None`` where unlabelled) kept by :meth:`save_transfer_source`, if any."""
        path = self.features_dir / K.TRANSFER_SOURCE_FILE
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as stored:
                blocks = {str(name): stored[str(name)] for name in stored["block_names"]}
                labels = stored["labels"].astype(object)
        except (OSError, ValueError, KeyError) as err:
            raise InputFileError(path, f"not a readable transfer source ({err})", "transfer again") from None
        labels[labels == ""] = None
        return blocks, labels

    @property
    def exports_dir(self) -> Path:
        """Folder for the Loupe CSVs handed to the annotator."""
        return self.path / K.EXPORTS_DIR

    # -- labels ----------------------------------------------------------------------------------
    @cached_property
    def store(self) -> LabelStore:
        """The label journal."""
        return LabelStore(self.path / K.DATABASE_FILE)

    def close(self) -> None:
        """Close the database connection."""
        if "store" in self.__dict__:
            self.store.close()
            del self.__dict__["store"]

    def labels(self) -> pd.Series:
        """Current label of every labelled spot."""
        return self.store.current_labels()

    def labels_for(self, items: Iterable[str]) -> np.ndarray:
        """Current label of each of ``items`` in that order, as an object array with ``None`` where unlabelled."""
        labels = self.labels().reindex(items if isinstance(items, pd.Index) else pd.Index(list(items)))
        return labels.astype(object).where(labels.notna(), None).to_numpy()

    def check_label(self, label: str) -> None:
        """Raise ``ValueError`` unless ``label`` is a clean class name allowed in this project.

        When classes were declared, a label must be one of them; a near-miss (other case,
        spaces, Unicode look-alike) is named in the message.
        """
        check_class_name(label)
        declared = self.store.declared_classes()
        if declared and label not in declared:
            near = [c for c in declared if _loose(c) == _loose(label)]
            hint = f"did you mean {near[0]!r}? " if near else ""
            msg = f"{label!r} is not a class of this project; {hint}classes are: {', '.join(declared)}"
            raise ValueError(msg)

    def add_labels(
        self,
        labels: Mapping[str, str | None],
        *,
        annotator: str,
        source: str = K.SOURCE_MANUAL,
        suggestions: Mapping[str, Suggestion] | None = None,
        expected: Mapping[str, int | None] | None = None,
    ) -> int:
        """Label spots (one undoable action); barcodes and classes are checked first.

        ``expected``: the newest event id of each spot as the page showed it
        (:meth:`LabelStore.newest_events`, ``None`` for a spot without one). A spot changed since
        raises :class:`~activespot.project.StaleLabelError` (who changed it, to what, when) and
        nothing is stored; leave ``expected`` out to overwrite anyway.
        """
        unknown = [b for b in labels if b not in self.barcodes]
        if unknown:
            msg = f"{len(unknown)} barcode(s) not in this sample, e.g. {', '.join(unknown[:3])}"
            raise ProjectError(msg)
        for label in labels.values():
            if label is not None:
                try:
                    self.check_label(label)
                except ValueError as err:
                    raise ProjectError(str(err)) from None
        return self.store.add_labels(
            labels,
            annotator=annotator,
            source=source,
            round_number=self.last_round_number,
            suggestions=suggestions,
            expected=expected,
        )

    def set_exclusion_class(self, name: str | None = K.DEFAULT_EXCLUSION_CLASS, *, annotator: str) -> bool:
        """Mark ``name`` as the exclusion class, declaring it first when it is new; ``None`` unmarks.

        The model learns it as any other class; every Loupe export and agreement leaves its spots
        out, the annotated AnnData flags them. Returns whether the class was declared now.

        Raises
        ------
        ProjectError
            ``name`` is not a clean class name (the message says why and how to fix it).
        """
        try:
            return self.store.set_exclusion_class(name, annotator=annotator, declare=True)
        except ValueError as err:
            raise ProjectError(str(err)) from None

    def exclusion_class(self) -> str | None:
        """The class marked "leave out" (e.g. "Not tissue"), or ``None``: see :meth:`LabelStore.set_exclusion_class`."""
        return self.store.exclusion_class()

    def excluded(self) -> pd.Index:
        """Spots labelled as the exclusion class (empty when none is marked)."""
        exclusion = self.exclusion_class()
        labels = self.labels()
        return labels.index[labels == exclusion] if exclusion is not None else labels.index[:0]

    def marking_excluded(self, values: pd.Series) -> pd.Series:
        """``values`` (e.g. predictions) with the spots labelled as the exclusion class given that class.

        What agreement compares, with ``exclude=`` the exclusion class: a spot the annotator called
        "not tissue" is left out whatever the model says of it.
        """
        exclusion = self.exclusion_class()
        return values if exclusion is None else values.where(~values.index.isin(self.excluded()), exclusion)

    def without_excluded(self, values: pd.Series) -> tuple[pd.Series, int]:
        """``values`` (barcode -> class) for an export: spots labelled or valued as the exclusion class left out.

        Returns the values kept and how many were left out. The one rule of every Loupe export of
        labels and predictions (``activespot export``, the Files page, a round's prediction CSV).
        """
        exclusion = self.exclusion_class()
        if exclusion is None:
            return values, 0
        out = values.eq(exclusion) | values.index.isin(self.excluded())
        return values[~out], int(out.sum())

    def import_loupe(self, csv_path: str | Path, *, column: str | None = None, annotator: str) -> ImportSummary:
        """Import the labels of a Loupe Browser CSV as one action (all or nothing).

        Only barcodes whose label differs from the current one become events, so importing
        the same file twice changes nothing. In a Visium HD project a CSV of another bin size is
        mapped to the project's items (bins, or segmented cells by the bin under each centroid;
        :mod:`activespot.io` ``_hd_bins`` states the rules); one mixing bin sizes is refused.
        """
        from ..io import check_one_bin_size, hd_bin_size, map_bin_labels, map_bins_to_cells, read_loupe_csv

        project_um, mapped_from, outside, incoming = self.sample.bin_size, None, 0, None
        if project_um is not None or self.sample.cells:  # Visium HD: the file may label another size of the section
            anysize = read_loupe_csv(csv_path, column=column, check_label=self.check_label)
            check_one_bin_size(anysize.index, csv_path)
            file_um = hd_bin_size(anysize.index)
            if file_um is not None and self.sample.cells:
                incoming, outside = map_bins_to_cells(self.load_sample(), anysize)
                mapped_from = file_um
            elif file_um is not None and file_um != project_um:
                mapped = map_bin_labels(anysize, to_um=project_um)
                known = mapped.index.isin(self.barcodes)
                incoming, mapped_from, outside = mapped[known], file_um, int((~known).sum())
        if incoming is None:
            incoming = read_loupe_csv(
                csv_path, column=column, known_barcodes=self.barcodes, check_label=self.check_label
            )
        current = self.labels()
        before = current.reindex(incoming.index)
        changed_mask = before.ne(incoming) | before.isna()
        new = int(before.isna().sum())
        changed = int(changed_mask.sum()) - new
        action = None
        if changed_mask.any():
            action = self.store.add_labels(
                incoming[changed_mask].to_dict(),
                annotator=annotator,
                source=K.SOURCE_IMPORTED,
                round_number=self.last_round_number,
                detail={"file": str(Path(csv_path).absolute()), "column": str(incoming.name)},
            )
        return ImportSummary(
            new=new,
            changed=changed,
            unchanged=int((~changed_mask).sum()),
            column=str(incoming.name),
            action_id=action,
            mapped_from_um=mapped_from,
            outside=outside,
        )

    # -- rounds ----------------------------------------------------------------------------------
    @property
    def rounds_dir(self) -> Path:
        """Folder holding one sub-folder per committed round."""
        return self.path / K.ROUNDS_DIR

    @property
    def last_round_number(self) -> int | None:
        """Number of the newest committed round, ``None`` before the first."""
        rounds = self.store.rounds()
        return int(rounds["round"].max()) if len(rounds) else None

    @property
    def next_round_number(self) -> int:
        """Number the next round would get (for display; :meth:`round_lock` allocates it)."""
        last = self.last_round_number
        return 1 if last is None else last + 1

    @contextmanager
    def round_lock(self, *, wait: bool = False, annotator: str | None = None) -> Iterator[int]:
        """Hold the project's round lock and yield the number of the round to write.

        Everything from reading the labels to registering the round happens inside, so two runs
        (two annotators pressing "train", a CLI ``round`` while the app trains) never get the same
        number or overwrite each other's files. The lock is an OS file lock on
        ``rounds/.round.lock``: the kernel releases it when its process dies, so a killed run never
        leaves the project locked.

        Parameters
        ----------
        wait
            Wait for a running round to finish (the CLI) instead of raising (the app).
        annotator
            Who starts the round; shown to anyone who finds the project busy.

        Raises
        ------
        RoundBusyError
            ``wait`` is false and a round is already running (the message says who started it, when).
        """
        if self._held_round is not None:
            msg = "round_lock is not re-entrant: this Project already holds the round lock"
            raise RuntimeError(msg)
        self.rounds_dir.mkdir(parents=True, exist_ok=True)
        path = self.rounds_dir / K.ROUND_LOCK_FILE
        with path.open("a+", encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _lock_holder(path)
                if not wait:
                    msg = f"a round is already running in {self.path}, {holder}; wait for it to finish, then try again"
                    raise RoundBusyError(msg) from None
                logger.warning("a round is already running, %s; waiting for it to finish", holder)
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                handle.seek(0)
                handle.truncate()
                holder = {
                    "annotator": annotator or default_annotator(),
                    "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                }
                handle.write(json.dumps(holder))
                handle.flush()
                self._held_round = self.next_round_number
                yield self._held_round
            finally:
                self._held_round = None
                fcntl.flock(handle, fcntl.LOCK_UN)

    def round_holder(self) -> dict[str, Any] | None:
        """Who is writing a round right now (``annotator``, ``started_at``, ``pid``, ``host``), or ``None``.

        What :meth:`round_lock` would refuse with, asked without waiting and without taking the
        lock for longer than the question (the app disables its button instead of failing). A
        holder whose record is being written at this very moment reads as ``{}``.
        """
        path = self.rounds_dir / K.ROUND_LOCK_FILE
        if self._held_round is not None:  # this very object holds it: no second descriptor to ask
            return _holder_record(path) or {}
        if not path.is_file():
            return None
        with path.open("a+", encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return _holder_record(path) or {}
            fcntl.flock(handle, fcntl.LOCK_UN)
        return None

    def save_round(
        self,
        number: int,
        *,
        arrays: Mapping[str, np.ndarray] | None = None,
        tables: Mapping[str, pd.DataFrame] | None = None,
        files: Mapping[str, bytes] | None = None,
        info: Mapping[str, Any] | None = None,
    ) -> Round:
        """Write a round's artefacts and commit it; only inside :meth:`round_lock`, with the number it gave.

        Everything is written and fsynced in a temporary folder, which is then renamed and only
        afterwards registered in the database: a round that is not registered does not exist
        for :meth:`latest_round`, whatever is on disk. A registered round is never replaced.

        Raises
        ------
        RuntimeError
            Called outside :meth:`round_lock`, or with another number than the one it allocated.
        """
        if self._held_round is None or number != self._held_round:
            msg = f"save_round({number}) must run inside Project.round_lock(), with the number it yields"
            raise RuntimeError(msg)
        final = self.rounds_dir / f"round_{number:04d}"
        staging = self.rounds_dir / f".round_{number:04d}.tmp-{uuid.uuid4().hex[:8]}"
        staging.mkdir(parents=True)
        try:
            listing: dict[str, dict[str, Any]] = {}
            for name, array in (arrays or {}).items():
                listing[name] = _write_member(staging / f"{name}.npy", _array_writer(array), "array")
            for name, table in (tables or {}).items():
                buffer = BytesIO()
                table.to_parquet(buffer)
                listing[name] = _write_member(staging / f"{name}.parquet", _bytes_writer(buffer.getbuffer()), "table")
            for name, data in (files or {}).items():
                listing[name] = _write_member(staging / f"{name}.bin", _bytes_writer(data), "file")
            manifest = {
                "round": number,
                "created_at": datetime.now(UTC).isoformat(),
                "activespot": __version__,
                "files": listing,
                "info": dict(info or {}),
            }
            atomic_write_text(staging / K.ROUND_MANIFEST, json.dumps(manifest, indent=2, default=_json_default))
            if final.exists():  # unregistered (the lock allocated this number): a run killed before registering
                shutil.rmtree(final)
            staging.rename(final)
            fsync_dir(self.rounds_dir)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        n_labels = len(self.labels())
        self.store.record_round(number, final.name, n_labels=n_labels, info=manifest["info"])
        return Round(number, final, manifest["info"], listing)

    def latest_round(self, *, containing: str | None = None, kinds: Iterable[str] | None = None) -> Round | None:
        """The newest committed round whose files are intact, or ``None``.

        ``containing`` skips rounds without that artefact (e.g. ``'predictions'``: a round that
        only chose the first spots to annotate has none); ``kinds`` keeps rounds of those kinds only.
        """
        rounds = self.store.rounds()
        if kinds is not None:
            rounds = rounds[rounds[K.ROUND_KIND_COLUMN].isin(list(kinds))]
        for row in rounds.sort_values("round", ascending=False).itertuples():
            loaded = _load_round(self.rounds_dir / row.path)
            if loaded is None:
                logger.warning("round %d in %s is damaged; using the one before", row.round, self.path)
            elif containing is None or containing in loaded.files:
                return loaded
        return None

    def _discard_unfinished_rounds(self) -> None:
        """Remove staging folders of rounds killed before they were committed.

        Only while no round runs: a running round's staging folder is being written (the app opens
        the project again on every rerun, in other threads and processes, while a round is saved).
        Leftovers found while a round runs are removed by a later open.
        """
        leftovers = list(self.rounds_dir.glob(".round_*.tmp-*")) if self.rounds_dir.is_dir() else []
        if not leftovers:
            return
        with (self.rounds_dir / K.ROUND_LOCK_FILE).open("a+", encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            try:
                for leftover in leftovers:
                    shutil.rmtree(leftover, ignore_errors=True)
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- summaries ----------------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """What the project holds, as plain data: the numbers ``activespot info`` and the app show.

        One definition per number: ``labelled`` counts current labels (after undo), ``classes``
        the current labels per class, ``annotators`` the current labels each annotator gave (they
        add up to ``labelled``; see :func:`~activespot.project.label_givers`), ``rounds`` the rounds
        that hold a model (of ``MODEL_ROUND_KINDS``: trained or transferred, not the first query).
        A cell project speaks of ``cells``, its ``nuclei`` and the ``regions`` annotated; a Visium
        project of ``spots``, its ``sample``, ``library_id`` and ``genes`` (in Visium HD the spots
        are bins of ``bin_size_um``, or the ``segmented_cells``).
        """
        from ._workload import label_givers

        givers = label_givers(self.store)
        counts = givers[K.COL_LABEL].value_counts()
        annotators = givers.groupby(K.COL_ANNOTATOR).size()
        rounds = self.store.rounds()
        details: dict[str, Any] = {"project": str(self.path), "kind": self.sample.kind, "image": self.sample.image}
        if self.sample.kind == K.SAMPLE_KIND_CELLS:
            details["nuclei"] = self.sample.nuclei or "found by the built-in detector"
            details["unit"] = "cells"
            details["cells"] = self.sample.n_spots
            details["regions"] = int((rounds[K.ROUND_KIND_COLUMN] == K.CELL_ROUND_KIND).sum())
        else:
            models = rounds[rounds[K.ROUND_KIND_COLUMN].isin(K.MODEL_ROUND_KINDS)]
            details["sample"] = self.sample.visium
            details["library_id"] = self.sample.library_id
            details["unit"] = "spots"
            details["spots"] = self.sample.n_spots
            details["bin_size_um"] = self.sample.bin_size  # Visium HD: the spots are bins of this size
            details["segmented_cells"] = self.sample.cells  # Visium HD: the spots are Space Ranger's cells
            details["genes"] = self.sample.n_genes
            details["rounds"] = len(models)
            details["last_round"] = int(models["round"].max()) if len(models) else None
        details.update(
            {
                "labelled": len(givers),
                "classes": {name: int(counts.get(name, 0)) for name in self.store.classes()},
                "events": len(self.store.events()),
                "annotators": {str(k): int(v) for k, v in annotators.items()},
                "features": (self.stored_features() or {}).get(K.FEATURES_SHAPES_KEY, {}),
            }
        )
        return details

    def round(self, number: int) -> Round | None:
        """Registered round ``number`` after checking its files against its manifest, or ``None`` if damaged.

        A round whose manifest names another number, or whose registered info differs from the
        manifest's, is damaged too: the folder is not the one the journal registered.

        Raises
        ------
        ProjectError
            No round ``number`` is registered.
        """
        rows = self.store.rounds()
        row = rows[rows["round"] == number]
        if row.empty:
            registered = ", ".join(map(str, rows["round"])) or "none yet"
            msg = f"{self.path}: no round {number}; registered rounds: {registered}"
            raise ProjectError(msg)
        loaded = _load_round(self.rounds_dir / row["path"].iloc[0])
        registered_info = json.loads(row["info"].iloc[0] or "{}")
        if loaded is None or loaded.number != number or loaded.info != registered_info:
            return None
        return loaded

    def model_round(self) -> Round | None:
        """The newest round that holds a model and its predictions (trained here or transferred), or ``None``.

        The one answer to "which round do predictions come from", for the CLI, the app and the workload.
        """
        return self.latest_round(containing=K.ROUND_PREDICTIONS, kinds=K.MODEL_ROUND_KINDS)

    def predictions(self) -> pd.DataFrame | None:
        """Predicted label and confidence per spot from :meth:`model_round`, if any."""
        latest = self.model_round()
        return None if latest is None else latest.load_table(K.ROUND_PREDICTIONS)

    def annotated_adata(self) -> Any:
        """The sample with current labels and the latest predictions in ``obs``.

        Adds ``obs['activespot_label']``, ``obs['activespot_excluded']`` and, after a round,
        ``obs['activespot_prediction']`` and ``obs['activespot_confidence']`` (a copy; the cached
        sample is not changed). Excluded spots are kept: ``activespot_excluded`` is true where the
        label is the exclusion class, or where there is no label and the prediction is.
        """
        adata = self.load_sample().copy()
        labels = self.labels().reindex(adata.obs_names)
        adata.obs[K.OBS_LABEL] = pd.Categorical(labels, categories=self.store.classes())
        exclusion = self.exclusion_class()
        excluded = labels.eq(exclusion).to_numpy() if exclusion is not None else np.zeros(adata.n_obs, dtype=bool)
        predictions = self.predictions()
        if predictions is not None:
            predicted = predictions["label"].reindex(adata.obs_names)
            adata.obs[K.OBS_PREDICTION] = predicted.astype("category")
            adata.obs[K.OBS_CONFIDENCE] = predictions["confidence"].reindex(adata.obs_names).astype(float)
            if exclusion is not None:
                excluded |= (labels.isna() & predicted.eq(exclusion)).to_numpy()
        adata.obs[K.OBS_EXCLUDED] = excluded
        adata.uns[K.PROJECT_UNS_KEY] = {"project": str(self.path), "version": __version__}
        return adata


def check_spot_project(project: Project) -> None:
    """Raise a :class:`ProjectError` when ``project`` holds cells, not spots (its commands are ``cells …``)."""
    if project.sample.kind == K.SAMPLE_KIND_CELLS:
        msg = f"{project.path}: a cell project has no spot features or rounds; use 'activespot cells next'"
        raise ProjectError(msg)


def _check_new_project(path: str | Path, classes: Iterable[str]) -> tuple[Path, list[str]]:
    """Absolute project path (absent or an empty folder) and the checked, de-duplicated classes."""
    path = Path(path).absolute()
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        msg = f"{path}: already exists and is not empty; choose a new project folder"
        raise ProjectError(msg)
    classes = list(dict.fromkeys(classes))
    for name in classes:
        try:
            check_class_name(name)
        except ValueError as err:
            msg = f"--classes: {err}"
            raise ProjectError(msg) from None
    return path, classes


def _build_project_folder(path: Path, sample: SampleRef, config: Config, classes: list[str], *, annotator: str) -> None:
    """Build the project in a staging folder and rename it into place, so it appears complete or not at all."""
    with built_folder(path) as staging:
        for sub in (K.FEATURES_DIR, K.ROUNDS_DIR, K.EXPORTS_DIR):
            (staging / sub).mkdir()
        with LabelStore(staging / K.DATABASE_FILE, create=True) as store:
            if classes:
                store.add_classes(classes, annotator=annotator)
        _write_manifest(staging, sample, config)


def _loose(name: str) -> str:
    """Comparison key that ignores case, outer spaces and Unicode look-alikes (NFKC)."""
    return unicodedata.normalize("NFKC", name).strip().casefold()


def _write_manifest(folder: Path, sample: SampleRef, config: Config) -> None:
    content = {
        "activespot": __version__,
        "sample": sample.__dict__,
        "config": config.to_dict(exclude_defaults=True),
    }
    atomic_write_text(folder / K.PROJECT_FILE, yaml.safe_dump(content, sort_keys=False, allow_unicode=True))


def _write_member(path: Path, write: Callable[[IO[bytes]], object], kind: str) -> dict[str, Any]:
    size, digest = write_hashed(path, write)
    return {"file": path.name, "kind": kind, "bytes": size, "sha256": digest}


def _bytes_writer(data: bytes | memoryview) -> Callable[[IO[bytes]], object]:
    return lambda handle: handle.write(data)


def _array_writer(array: np.ndarray) -> Callable[[IO[bytes]], object]:
    return lambda handle: np.save(handle, np.asarray(array), allow_pickle=False)  # streamed in chunks, no copy


def _load_round(folder: Path) -> Round | None:
    """Read a round's manifest and check every file it lists is there, complete and unchanged."""
    try:
        manifest = json.loads((folder / K.ROUND_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    files = manifest.get("files", {})
    for entry in files.values():
        member = folder / entry["file"]
        if not member.is_file() or member.stat().st_size != entry["bytes"] or sha256_file(member) != entry["sha256"]:
            return None
    return Round(int(manifest["round"]), folder, manifest.get("info", {}), files)


def _holder_record(path: Path) -> dict[str, Any] | None:
    """The round lock's record of who holds it, ``None`` while it is being written (or unreadable)."""
    try:
        holder = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # being written at this very moment
        return None
    keys = ("annotator", "started_at", "pid", "host")
    return holder if isinstance(holder, dict) and all(key in holder for key in keys) else None


def _lock_holder(path: Path) -> str:
    """Who holds the round lock, as words ("started by Dr. Ada at … (process 123 on host)")."""
    holder = _holder_record(path)
    if holder is None:
        return "started moments ago"
    return f"started by {holder['annotator']} at {holder['started_at']} (process {holder['pid']} on {holder['host']})"


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    msg = f"cannot store {type(value).__name__} in a round's info"
    raise TypeError(msg)


def _read_cells(image: str | Path, nuclei: str | Path | None, nuclei_format: str | None, *, microns_per_pixel):
    """The cells of a cell project: read from the nuclei file, or found by the built-in detector when there is none."""
    if nuclei is None:
        from ..features import detect_cells

        return detect_cells(image, microns_per_pixel=microns_per_pixel, progress=False)
    from ..io import read_cells

    return read_cells(image, nuclei, nuclei_format=nuclei_format, microns_per_pixel=microns_per_pixel)
