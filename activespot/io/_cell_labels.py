"""Cell labels in and out: a CSV by cell id, and a QuPath-compatible GeoJSON of classified detections."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _constants as K
from .._files import atomic_write_text
from ..errors import InputFileError
from ._nuclei import _check_file

__all__ = ["read_cell_labels_csv", "write_cell_labels_csv", "write_cell_labels_geojson"]


def read_cell_labels_csv(path: str | Path, *, known: pd.Index | None = None, column: str | None = None) -> pd.Series:
    """Read cell labels from a CSV with a ``cell_id`` column and a label column.

    Parameters
    ----------
    path
        The CSV (as written by :func:`write_cell_labels_csv`, or any table with ``cell_id``).
    known
        Cell ids of the project; an unknown id is an error naming its line.
    column
        Label column; default ``label``, else the only column besides ``cell_id, x, y``.

    Returns
    -------
    Series cell_id → label, empty labels dropped.

    Raises
    ------
    InputFileError
        No ``cell_id`` column, no single label column, or an unknown cell id (line named).
    """
    path = _check_file(path, "cell label CSV")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (ValueError, UnicodeDecodeError) as err:
        raise InputFileError(path, f"not a readable CSV ({err.__class__.__name__})", "save it as UTF-8 CSV") from err
    if K.CELL_ID not in table.columns:
        raise InputFileError(path, f"no '{K.CELL_ID}' column; got {', '.join(table.columns)}", "export from activespot")
    candidates = [c for c in table.columns if c not in (K.CELL_ID, "x", "y")]
    if column is None:
        column = "label" if "label" in candidates else candidates[0] if len(candidates) == 1 else None
    if column is None or column not in table.columns:
        raise InputFileError(
            path, f"which column holds the labels? columns are {', '.join(candidates)}", "pass the column name"
        )
    if known is not None:
        unknown = ~table[K.CELL_ID].isin(known)
        if unknown.any():
            first = int(np.flatnonzero(unknown.to_numpy())[0])
            raise InputFileError(
                path,
                f"cell id {table[K.CELL_ID].iloc[first]!r} is not a cell of this project",
                "export labels from the same image and nuclei",
                line=first + 2,
            )
    labels = table.set_index(K.CELL_ID)[column].str.strip()
    return labels[labels != ""].rename("label")


def write_cell_labels_csv(adata: AnnData, labels: Mapping[str, str] | pd.Series, path: str | Path) -> Path:
    """Write ``cell_id, x, y, label`` for every labelled cell; returns the path.

    Parameters
    ----------
    adata
        The cells (for the centroids).
    labels
        cell_id → label.
    path
        Output CSV.
    """
    labels = pd.Series(labels, dtype=object)
    xy = pd.DataFrame(adata.obsm[K.SPATIAL_KEY], index=adata.obs_names, columns=["x", "y"]).loc[labels.index]
    out = xy.assign(label=labels.to_numpy())
    out.index.name = K.CELL_ID
    return atomic_write_text(path, out.to_csv(float_format="%.2f"))


def write_cell_labels_geojson(adata: AnnData, labels: Mapping[str, str] | pd.Series, path: str | Path) -> Path:
    """Write labelled cells as a QuPath-compatible GeoJSON FeatureCollection of detections.

    Each cell is a ``Polygon`` (its box, or an 8-px square around the centroid when the box is
    unknown) with ``objectType: detection`` and ``classification.name`` = the label, which QuPath's
    *File → Import objects* reads as classified detections.

    Parameters
    ----------
    adata
        The cells.
    labels
        cell_id → label.
    path
        Output ``.geojson``.
    """
    labels = pd.Series(labels, dtype=object)
    position = pd.Series(np.arange(adata.n_obs), index=adata.obs_names)
    xy, boxes = adata.obsm[K.SPATIAL_KEY], adata.obsm[K.CELL_BBOX_KEY]
    features = []
    for cell, label in labels.items():
        i = int(position[cell])
        x0, y0, x1, y1 = boxes[i]
        if not np.isfinite([x0, y0, x1, y1]).all():
            x0, y0, x1, y1 = xy[i, 0] - 4, xy[i, 1] - 4, xy[i, 0] + 4, xy[i, 1] + 4
        ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
        features.append(
            {
                "type": "Feature",
                "id": str(cell),
                "geometry": {"type": "Polygon", "coordinates": [[[float(a), float(b)] for a, b in ring]]},
                "properties": {
                    "objectType": "detection",
                    "name": str(cell),
                    "classification": {"name": str(label)},
                    "isLocked": False,
                },
            }
        )
    return atomic_write_text(path, json.dumps({"type": "FeatureCollection", "features": features}))
