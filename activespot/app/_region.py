"""Regions drawn on the tissue back to spots: what a box, a lasso or a click on the Tissue page selects.

The browser sends only the *shapes* (a box's corners, a lasso's vertices, the points clicked);
which spots or bins lie inside is decided here, on the server, from their positions or their
grid (:mod:`._raster`), so a lasso around 100k Visium HD bins costs one polygon fill, not a
hundred thousand objects shipped to the browser and back.

Pure functions over arrays and the selection state Streamlit returns for a Plotly chart
(``{"selection": {"points": [...], "box": [...], "lasso": [...]}}``): no Streamlit here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import _raster as R


@dataclass(frozen=True)
class Drawn:
    """What the annotator drew on the chart: polygons (boxes and lassos) and the points clicked.

    Attributes
    ----------
    polygons
        ``(xs, ys)`` vertex arrays in image coordinates, one per box or lasso.
    clicked
        The ``customdata`` of each point clicked (an item position, or a tile's ``-1 - number``).
    signature
        A stable text of the whole drawing: a rerun that shows the same drawing is not a new one.
    """

    polygons: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    clicked: list[int] = field(default_factory=list)
    signature: str = ""

    @property
    def empty(self) -> bool:
        """Nothing drawn and nothing clicked."""
        return not self.polygons and not self.clicked


def drawn_shapes(state: Mapping | None) -> Drawn:
    """The boxes, lassos and clicked points of a Plotly chart's selection state (``None``: nothing)."""
    selection = (state or {}).get("selection") or {}
    polygons = []
    for box in selection.get("box") or []:
        (x0, x1), (y0, y1) = box["x"][:2], box["y"][:2]
        polygons.append((np.array([x0, x1, x1, x0], dtype=float), np.array([y0, y0, y1, y1], dtype=float)))
    for lasso in selection.get("lasso") or []:
        xs, ys = np.asarray(lasso["x"], dtype=float), np.asarray(lasso["y"], dtype=float)
        if xs.size >= 3 and xs.shape == ys.shape:
            polygons.append((xs, ys))
    clicked = []
    if not polygons:  # a box or lasso also reports the points inside it: only a bare click toggles
        for point in selection.get("points") or []:
            data = point.get("customdata")
            if isinstance(data, list | tuple):
                data = data[0] if data else None
            if data is not None:
                clicked.append(int(data))
    signature = json.dumps(
        {"polygons": [[xs.round(3).tolist(), ys.round(3).tolist()] for xs, ys in polygons], "clicked": clicked}
    )
    return Drawn(polygons=polygons, clicked=clicked, signature=signature)


def points_in_polygon(xy: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Positions (sorted) of the points ``xy`` ``(n, 2)`` inside the polygon of vertices ``xs``, ``ys``."""
    from matplotlib.path import Path

    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    lo = np.array([xs.min(), ys.min()])
    hi = np.array([xs.max(), ys.max()])
    near = np.flatnonzero(np.all((xy >= lo) & (xy <= hi), axis=1))  # the bounding box first: cheap
    inside = Path(np.column_stack([xs, ys])).contains_points(xy[near])
    return near[inside].astype(np.int64)


def items_in_polygons(
    polygons: list[tuple[np.ndarray, np.ndarray]], *, xy: np.ndarray, grid: R.BinGrid | None = None
) -> np.ndarray:
    """Positions (sorted, unique) of the items whose centre lies in any of ``polygons``.

    Items on a grid (Visium HD bins) are found by filling the polygon over the grid; others
    (Visium spots, cells) by testing the centres ``xy`` inside the polygon's bounding box.
    """
    found = [
        R.bins_in_polygon(grid, xs, ys) if grid is not None else points_in_polygon(xy, xs, ys) for xs, ys in polygons
    ]
    return np.unique(np.concatenate(found)) if found else np.empty(0, dtype=np.int64)


def clicked_items(clicked: list[int], tile_of_item: np.ndarray | None) -> np.ndarray:
    """Item positions of the points clicked: an item itself, or every item of a clicked tile (``-1 - tile``)."""
    items = [c for c in clicked if c >= 0]
    tiles = [-1 - c for c in clicked if c < 0]
    if tiles and tile_of_item is not None:
        items.extend(np.flatnonzero(np.isin(tile_of_item, tiles)).tolist())
    return np.unique(np.asarray(items, dtype=np.int64))


def toggled(selection: np.ndarray, items: np.ndarray) -> np.ndarray:
    """``selection`` with ``items`` added, or removed when every one of them was already in it."""
    selection = np.asarray(selection, dtype=np.int64)
    if items.size and np.isin(items, selection).all():
        return np.setdiff1d(selection, items)
    return np.union1d(selection, items)


def selection_mix(table: pd.DataFrame, positions: np.ndarray, *, classes: list[str]) -> pd.DataFrame:
    """Per class: how many selected items carry it as their label and as their prediction.

    A row ``(no label)`` / ``(no prediction)`` counts the selected items without one.
    """
    rows = table.iloc[np.asarray(positions, dtype=np.int64)]
    names = [*classes, "(none)"]
    label = rows["label"].replace("", "(none)").value_counts().reindex(names, fill_value=0)
    prediction = rows["prediction"].replace("", "(none)").value_counts().reindex(names, fill_value=0)
    mix = pd.DataFrame({"labelled": label, "predicted": prediction})
    return mix[(mix["labelled"] > 0) | (mix["predicted"] > 0)]
