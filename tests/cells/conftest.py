"""Small real inputs cut from CoNSeP train_6 (data/cells/consep_train6): a 300 x 300 px tile and its nuclei."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

CONSEP = Path(__file__).resolve().parents[2] / "data" / "cells" / "consep_train6"
IMAGE = CONSEP / "example_images" / "train_6.png"
MASK = CONSEP / "example_images" / "indexed" / "train_6_mask.png"
NUCLEI = CONSEP / "derived" / "train_6_nuclei.csv"
_BOX = (350, 350, 650, 650)  # x0, y0, x1, y1: gland rim and lamina propria, both classes


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
