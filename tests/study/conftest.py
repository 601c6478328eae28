"""Studies of the transfer tests' real DLPFC subsets (a band of rows of 151673 and 151674, their layers).

The manifest folder holds the subsets, a Loupe CSV of each one's layer labels and small settings;
its paths are relative, as a user's would be. ``serial_study`` has its features computed in this
process and is shared: tests that write copy it first.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest
import yaml

from activespot import _constants as K
from tests.transfer.conftest import SECTIONS, _one_torch_thread, subsets, truth

__all__ = ["SECTIONS", "_one_torch_thread", "subsets", "truth"]

SMALL = """\
features: {n_top_genes: 300, n_pcs: 20}
model: {epochs: 30, num_threads: 1}
transfer: {ensemble: 1}
"""


def write_manifest(folder: Path, lines: list[str], *, name: str = "sections.csv") -> Path:
    """``folder/name`` with ``lines`` (the header first)."""
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def manifest_folder(tmp_path_factory, subsets, truth) -> Path:
    """The subsets as h5ad, their labels as Loupe CSVs, the published layers as truth, and small settings."""
    import anndata

    from activespot.io import write_loupe_csv

    folder = tmp_path_factory.mktemp("manifest")
    for name, path in subsets.items():
        shutil.copy(path, folder / f"{name}.h5ad")
        shutil.copy(SECTIONS[name] / "ground_truth_layers.csv", folder / f"truth_{name}.csv")
        barcodes = anndata.read_h5ad(path, backed="r").obs_names
        write_loupe_csv(truth[name].reindex(barcodes).dropna(), folder / f"labels_{name}.csv", category="Layer")
    (folder / "small.yaml").write_text(SMALL, encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def manifest(manifest_folder) -> Path:
    """151673 labelled, 151674 not; both with their truth."""
    return write_manifest(
        manifest_folder,
        [
            "sample,visium,labels,truth",
            "151673,151673.h5ad,labels_151673.csv,truth_151673.csv",
            "151674,151674.h5ad,,truth_151674.csv",
        ],
    )


def new_study(folder: Path, manifest: Path):
    """A study of ``manifest`` with the small settings, without features."""
    from activespot.config import Config
    from activespot.study import Study

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "lowres image only"
        return Study.create(folder, manifest=manifest, config=Config().updated(yaml.safe_load(SMALL)))


def stored_blocks(study) -> dict[str, dict]:
    """Every section's stored feature blocks (the arrays, not the provenance)."""
    import numpy as np

    blocks = {}
    for section in study.sections:
        with np.load(section.project / K.FEATURES_DIR / K.FEATURES_FILE) as stored:
            blocks[section.sample] = {key: stored[key] for key in K.FEATURE_BLOCKS}
    return blocks


@pytest.fixture(scope="session")
def serial_study(tmp_path_factory, manifest):
    """The study with its features computed here, one section after the other (read-only: copy to change it)."""
    from activespot.study import update_study_features

    study = new_study(tmp_path_factory.mktemp("serial") / "study", manifest)
    results = update_study_features(study, progress=False)
    assert all(result.computed for result in results)
    return study
