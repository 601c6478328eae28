"""Fixtures: small real subsets of two adjacent DLPFC sections (151673, 151674) and their layer labels.

A band of array rows crosses layers 2-6 and the white matter in both sections, so a few hundred
spots per section keep the real panels, images and label structure while tests stay fast.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

from activespot import _constants as K

REPO = Path(__file__).resolve().parents[2]
SECTIONS = {name: REPO / "data" / "visium" / f"dlpfc_{name}" for name in ("151673", "151674")}
ROWS = (44, 52)  # array rows kept


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    # The machine's two cores are shared; the small models here gain nothing from threads.
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def subsets(tmp_path_factory) -> dict[str, Path]:
    """Each section's band of rows as an h5ad (read by activespot like any sample)."""
    from activespot.io import read_visium

    folder = tmp_path_factory.mktemp("dlpfc_subsets")
    paths = {}
    for name, outs in SECTIONS.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "lowres image only"
            adata = read_visium(outs)
        rows = adata.obs[K.ARRAY_ROW]
        part = adata[(rows >= ROWS[0]) & (rows < ROWS[1])].copy()
        paths[name] = folder / f"{name}.h5ad"
        part.write_h5ad(paths[name])
    return paths


@pytest.fixture(scope="session")
def truth() -> dict[str, pd.Series]:
    """Published layer per barcode of each section, NA rows dropped."""
    return {
        name: pd.read_csv(outs / "ground_truth_layers.csv", index_col=0)["layer"].dropna()
        for name, outs in SECTIONS.items()
    }


@pytest.fixture(scope="session")
def samples(subsets):
    """The two subsets as AnnData (read once; tests copy before changing them)."""
    from activespot.io import read_visium

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return {name: read_visium(path) for name, path in subsets.items()}


@pytest.fixture
def source_project(tmp_path, subsets, truth):
    """A project on the 151673 subset with every layer label imported."""
    from activespot.project import Project

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        project = Project.create(tmp_path / "source", visium=subsets["151673"], annotator="test")
    # one torch thread: on a shared 2-core machine two spinning threads make tiny fits 100x slower
    project.save_config(project.config.updated({"model": {"num_threads": 1, "epochs": 30}}))
    labels = truth["151673"].reindex(project.barcodes).dropna()
    project.add_labels(labels.to_dict(), annotator="test", source=K.SOURCE_IMPORTED)
    yield project
    project.close()
