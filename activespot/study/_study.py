"""A study: many sections of one experiment, each an ordinary project, listed in one file.

::

    STUDY/
      study.yaml                the sections: sample, project folder (relative), manifest paths (absolute)
      sections/<sample>/        one project per section (``activespot info STUDY/sections/<sample>`` works)

A study is created complete or not at all: the manifest is checked whole first, then every
section is built in a temporary folder next to STUDY, which is renamed into place at the end.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from .. import __version__
from .. import _constants as K
from .._files import atomic_write_text, built_folder
from ..errors import ActivespotError, InputFileError
from ._manifest import ManifestRow, read_manifest

if TYPE_CHECKING:
    from ..config import Config
    from ..project import Project

__all__ = ["Section", "Study", "StudyError"]

logger = logging.getLogger(__name__)


class StudyError(ActivespotError):
    """A study folder is missing or damaged, a sample is not in it, or its scheduler cannot be used."""


@dataclass(frozen=True)
class Section:
    """One section of a study: its sample name, project folder and the manifest's paths (absolute)."""

    sample: str
    project: Path
    visium: Path
    image: Path | None = None
    labels: Path | None = None
    truth: Path | None = None


class Study:
    """A study folder. Use :meth:`create` or :meth:`open`, not the constructor."""

    def __init__(self, path: Path, sections: tuple[Section, ...]):
        self.path = path
        self.sections = sections

    @classmethod
    def create(
        cls,
        path: str | Path,
        *,
        manifest: str | Path,
        config: Config | None = None,
        annotator: str | None = None,
    ) -> Study:
        """Create a study with a project per manifest line, each with its labels imported.

        Parameters
        ----------
        path
            The new study folder (must not exist, or be empty).
        manifest
            The manifest CSV (see :func:`~activespot.study.read_manifest`).
        config
            Settings of every section's project (default: the defaults).
        annotator
            Who imports the labels (default: ``$ACTIVESPOT_ANNOTATOR`` or the login name).

        Returns
        -------
        Study

        Raises
        ------
        InputFileError
            The manifest is wrong, or a section's sample or labels cannot be read: the message names
            the manifest's line (and the file). Nothing is written then.
        StudyError
            ``path`` exists and is not empty.
        """
        path, manifest = Path(path).absolute(), Path(manifest).absolute()
        rows = read_manifest(manifest)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            msg = f"{path}: already exists and is not empty; choose a new study folder"
            raise StudyError(msg)
        sections = tuple(_section(path, row) for row in rows)
        with built_folder(path) as staging:
            for row in rows:
                _create_project(staging, row, manifest=manifest, config=config, annotator=annotator)
            _write_study_file(staging, sections, manifest=manifest)
        logger.info("created study %s with %d sections", path, len(sections))
        return cls(path, sections)

    @classmethod
    def open(cls, path: str | Path) -> Study:
        """Open an existing study folder.

        Raises
        ------
        StudyError
            ``path`` holds no ``study.yaml``.
        InputFileError
            ``study.yaml`` is damaged.
        """
        path = Path(path).absolute()
        listing = path / K.STUDY_FILE
        if not listing.is_file():
            msg = f"{path}: not an activespot study (no {K.STUDY_FILE}); create one with 'activespot study init'"
            raise StudyError(msg)
        try:
            raw = yaml.safe_load(listing.read_text(encoding="utf-8"))
            sections = tuple(_read_section(path, entry) for entry in raw["sections"])
        except Exception as err:
            raise InputFileError(listing, f"study file is damaged ({err})", "restore it from a backup") from None
        return cls(path, sections)

    @property
    def samples(self) -> list[str]:
        """The sections' sample names, in manifest order."""
        return [section.sample for section in self.sections]

    def section(self, sample: str) -> Section:
        """The section of ``sample``.

        Raises
        ------
        StudyError
            No section of that name (the message lists them).
        """
        for section in self.sections:
            if section.sample == sample:
                return section
        msg = f"{self.path}: no section {sample!r}; the sections are {', '.join(self.samples)}"
        raise StudyError(msg)

    def open_project(self, sample: str) -> Project:
        """Open the project of ``sample``'s section."""
        from ..project import Project

        return Project.open(self.section(sample).project)


def _section(study: Path, row: ManifestRow) -> Section:
    project = study / K.STUDY_SECTIONS_DIR / row.sample
    return Section(row.sample, project, row.visium, row.image, row.labels, row.truth)


def _create_project(
    staging: Path, row: ManifestRow, *, manifest: Path, config: Config | None, annotator: str | None
) -> None:
    """The section's project inside ``staging``, its labels imported; errors name the manifest line."""
    from ..project import Project, default_annotator
    from ..review import read_annotation

    annotator = annotator or default_annotator()
    with _on_line(manifest, row):
        project = Project.create(
            staging / K.STUDY_SECTIONS_DIR / row.sample,
            visium=row.visium,
            image=row.image,
            config=config,
            annotator=annotator,
        )
        try:
            if row.labels is not None:
                project.import_loupe(row.labels, annotator=annotator)
            if row.truth is not None:
                read_annotation(row.truth)  # a truth that cannot be read fails now, not at the first status
        finally:
            project.close()


@contextmanager
def _on_line(manifest: Path, row: ManifestRow) -> Iterator[None]:
    """Name the manifest line whose section raised (the message keeps the file it was about)."""
    try:
        yield
    except ActivespotError as err:
        raise InputFileError(manifest, f"sample {row.sample!r}: {err}", line=row.line) from err


def _write_study_file(folder: Path, sections: tuple[Section, ...], *, manifest: Path) -> None:
    def entry(section: Section) -> dict[str, str | None]:
        paths = {"visium": section.visium, "image": section.image, "labels": section.labels, "truth": section.truth}
        return {
            "sample": section.sample,
            "project": f"{K.STUDY_SECTIONS_DIR}/{section.sample}",  # relative: the study can be moved
            **{name: None if value is None else str(value) for name, value in paths.items()},
        }

    content = {"activespot": __version__, "manifest": str(manifest), "sections": [entry(s) for s in sections]}
    atomic_write_text(folder / K.STUDY_FILE, yaml.safe_dump(content, sort_keys=False, allow_unicode=True))


def _read_section(study: Path, entry: dict) -> Section:
    def optional(name: str) -> Path | None:
        return None if entry.get(name) is None else Path(entry[name])

    return Section(
        sample=str(entry["sample"]),
        project=study / entry["project"],
        visium=Path(entry["visium"]),
        image=optional("image"),
        labels=optional("labels"),
        truth=optional("truth"),
    )
