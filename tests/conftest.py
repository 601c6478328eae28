"""Shared fixtures: paths to the real data bundled in data/ (copies, never the originals).

The cell tests (and the app's browser test) share a 300 x 300 px tile cut from CoNSeP train_6
(data/cells/consep_train6) with its nuclei.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
VISIUM = REPO / "data" / "visium"
DLPFC = VISIUM / "dlpfc_151673"
HEART = VISIUM / "heart_sr1_subset" / "1.0.0"
MOUSE_BRAIN = VISIUM / "mouse_brain_cytassist_hires"
CONSEP = REPO / "data" / "cells" / "consep_train6"
IMAGE = CONSEP / "example_images" / "train_6.png"
MASK = CONSEP / "example_images" / "indexed" / "train_6_mask.png"
NUCLEI = CONSEP / "derived" / "train_6_nuclei.csv"
_BOX = (350, 350, 650, 650)  # x0, y0, x1, y1: gland rim and lamina propria, both classes


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
    return pd.read_csv(DLPFC / "ground_truth_layers.csv", index_col=0)["layer"].dropna()


@pytest.fixture(scope="session")
def tile(tmp_path_factory) -> dict[str, Path]:
    """A 300 px tile of train_6 with its instance mask and nuclei CSV (coordinates shifted to the tile)."""
    folder = tmp_path_factory.mktemp("consep_tile")
    x0, y0, x1, y1 = _BOX
    image = np.asarray(Image.open(IMAGE).convert("RGB"))[y0:y1, x0:x1]
    Image.fromarray(image).save(folder / "tile.png")
    mask = np.asarray(Image.open(MASK)).astype(np.int64)[y0:y1, x0:x1]
    table = pd.read_csv(NUCLEI)
    inside = table["instance_id"].isin(np.unique(mask[mask > 0]))
    table = table[inside & table["centroid_x"].between(x0, x1 - 1) & table["centroid_y"].between(y0, y1 - 1)].copy()
    mask[~np.isin(mask, table["instance_id"].to_numpy())] = 0
    Image.fromarray(mask.astype(np.uint16)).save(folder / "mask.png")
    for column in ("centroid_x", "bbox_xmin", "bbox_xmax"):
        table[column] -= x0
    for column in ("centroid_y", "bbox_ymin", "bbox_ymax"):
        table[column] -= y0
    table.to_csv(folder / "nuclei.csv", index=False)
    return {"image": folder / "tile.png", "mask": folder / "mask.png", "csv": folder / "nuclei.csv", "table": table}


@pytest.fixture
def cell_project(tile, tmp_path):
    """A cell project on the tile (two classes, small HALS settings) with its first 12 cells labelled."""
    from activespot.config import Config
    from activespot.project import Project

    small = {"min_labels_per_class": 3, "retrain_every": 4, "region_px": 128, "coreset_size": 5, "max_iter": 50}
    project = Project.create_cells(
        tmp_path / "cells", image=tile["image"], nuclei=tile["csv"], classes=["red", "blue"],
        config=Config().updated({"cells": small}),
    )  # fmt: skip
    table = tile["table"]
    first = dict(zip(table["instance_id"].astype(str)[:12], table["class_color"][:12], strict=True))
    project.add_labels(first, annotator="ana")
    return project
