"""Shared fixtures: paths to the real data bundled in data/ (copies, never the originals)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VISIUM = REPO / "data" / "visium"
DLPFC = VISIUM / "dlpfc_151673"
HEART = VISIUM / "heart_sr1_subset" / "1.0.0"
MOUSE_BRAIN = VISIUM / "mouse_brain_cytassist_hires"


@pytest.fixture
def dlpfc_copy(tmp_path: Path) -> Path:
    """A writable copy of the DLPFC 151673 outs folder."""
    target = tmp_path / "dlpfc_151673"
    shutil.copytree(DLPFC, target)
    for path in target.rglob("*"):
        path.chmod(0o644 if path.is_file() else 0o755)
    return target


@pytest.fixture(scope="session")
def dlpfc_truth():
    """Published layer labels of DLPFC 151673 (barcode -> layer), NA rows dropped."""
    import pandas as pd

    return pd.read_csv(DLPFC / "ground_truth_layers.csv", index_col=0)["layer"].dropna()
