"""Visium HD labels across bin sizes and segmented cells: every rule that moves a label between items.

Space Ranger builds the 8 and 16 µm bins of an HD output by merging squares of 2 µm bins, and
names every bin by its size and grid position: ``s_008um_00269_00526-1`` is row 269, column 526 of
the 8 µm grid. A coarse bin therefore holds exactly the (coarse / fine)² fine bins whose row and
column divide down to its own, and a label moves between sizes with integer arithmetic:

- coarse → fine: every fine bin inside a labelled coarse bin takes its label (containment);
- fine → coarse: a coarse bin takes the label most of its labelled fine bins carry (majority);
  a tie leaves it unlabelled, since no label would then be the annotator's.

Space Ranger 4's segmented cells (``cellid_000000001-1``, see :mod:`._hd_cells`) are polygons in
image pixels, and bins are squares on the same image, so labels move between them by position:

- bins → cells: a cell takes the label of the bin under its centroid (the nearest labelled bin
  centre, kept only when the centroid lies inside that bin's square); a cell whose centroid falls
  in an unlabelled bin stays unlabelled. Any bin size works, since it is the bin's own square.
- cells → bins: a bin takes the label of the cell its centre falls in (point in polygon); a bin
  centre outside every cell stays unlabelled, and where polygons overlap the cell first in the
  GeoJSON wins. A cell too small to hold any bin centre (a 16 µm bin is larger than most cells)
  labels the bin under its centroid instead, unless another cell holds that bin's centre; so
  every labelled cell shows in the export. Only in-tissue bins are written (those Loupe lists).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _constants as K
from ..errors import InputFileError

__all__ = ["check_one_bin_size", "hd_bin_size", "map_bin_labels", "map_bins_to_cells", "map_cells_to_bins"]

_HD_BARCODE = re.compile(r"s_(\d{3})um_(\d{5})_(\d{5})(-\d+)?")
LOUPE_BIN_SIZES = (8, 16)  # Loupe Browser opens these HD bin sizes (not 2 µm)


def hd_bin_size(barcodes: Iterable[str]) -> int | None:
    """The bin size (µm) all ``barcodes`` share, or ``None`` when they are not all Visium HD bins of one size."""
    sizes = {match[1] if (match := _HD_BARCODE.fullmatch(str(code))) else None for code in barcodes}
    return int(sizes.pop()) if len(sizes) == 1 and None not in sizes else None


def check_one_bin_size(barcodes: Iterable[str], path: str | Path) -> None:
    """Raise when the HD bin barcodes of the file at ``path`` are of more than one bin size.

    A Loupe CSV mixing sizes cannot be mapped (one label would land on a bin twice, at two
    sizes), and Loupe Browser never writes one: such a file was assembled by hand.

    Raises
    ------
    InputFileError
        Bins of two or more sizes are present (the message names the sizes and an example of each).
    """
    examples: dict[int, str] = {}
    for code in barcodes:
        if (match := _HD_BARCODE.fullmatch(str(code))) is not None:
            examples.setdefault(int(match[1]), str(code))
    if len(examples) > 1:
        listed = ", ".join(f"{size} µm ({code})" for size, code in sorted(examples.items()))
        raise InputFileError(
            path,
            f"the barcodes mix Visium HD bin sizes: {listed}",
            "export one bin size per CSV from Loupe Browser and import each file on its own",
        )


def map_bin_labels(labels: pd.Series, *, to_um: int) -> pd.Series:
    """``labels`` of Visium HD bins of one size, moved to bins of ``to_um`` µm (see the module's rules).

    Raises
    ------
    ValueError
        The barcodes are not HD bins of one size, or the sizes do not nest (one is not a multiple
        of the other).
    """
    from_um = hd_bin_size(labels.index)
    if from_um is None:
        msg = "The barcodes are not Visium HD bins of one size (like s_008um_00269_00526-1)."
        raise ValueError(msg)
    if from_um == to_um:
        return labels.copy()
    coarse, fine = max(from_um, to_um), min(from_um, to_um)
    if coarse % fine:
        msg = f"{from_um} µm bins do not nest in {to_um} µm bins; choose sizes that divide each other (2, 8, 16)."
        raise ValueError(msg)
    factor = coarse // fine
    parts = labels.index.str.extract(_HD_BARCODE.pattern)
    rows, cols, suffix = parts[1].astype(int).to_numpy(), parts[2].astype(int).to_numpy(), parts[3].fillna("")
    if to_um > from_um:
        votes = pd.crosstab(pd.Index(_names(to_um, rows // factor, cols // factor, suffix)), labels.to_numpy())
        best = votes.eq(votes.max(axis=1), axis=0)
        winners = best[best.sum(axis=1) == 1].idxmax(axis=1)  # a tie has no winner
        return pd.Series(winners.to_numpy(), index=winners.index.rename(labels.index.name), name=labels.name)
    offsets = np.arange(factor)
    fine_rows = np.add.outer(rows * factor, offsets).repeat(factor, axis=1).ravel()  # each row offset, every col
    fine_cols = np.tile(np.add.outer(cols * factor, offsets), (1, factor)).ravel()
    names = _names(to_um, fine_rows, fine_cols, suffix.repeat(factor * factor).to_numpy())
    return pd.Series(
        np.repeat(labels.to_numpy(), factor * factor), index=pd.Index(names, name=labels.index.name), name=labels.name
    )


def _names(size: int, rows: np.ndarray, cols: np.ndarray, suffix: Iterable[str]) -> list[str]:
    return [f"s_{size:03d}um_{r:05d}_{c:05d}{s}" for r, c, s in zip(rows, cols, suffix, strict=True)]


def map_bins_to_cells(adata: AnnData, labels: pd.Series) -> tuple[pd.Series, int]:
    """``labels`` of Visium HD bins (one size), moved to the segmented cells of ``adata``.

    Each cell takes the label of the bin under its centroid (see the module's rules). The bins'
    centres are read from ``binned_outputs/square_NNNum/spatial/tissue_positions.parquet`` of
    the output the cells came from (``adata`` as :func:`~activespot.io.read_visium` returns it
    with ``cells=True``).

    Returns
    -------
    cells
        Labels indexed by cell barcode, in ``adata`` order; cells in unlabelled bins are left out.
    empty_bins
        How many labelled bins hold no cell centroid (their labels reach no cell).

    Raises
    ------
    InputFileError
        The bins' positions are missing or malformed, or labelled barcodes are not in-tissue bins of
        that output (the message names the file).
    ValueError
        ``labels`` are not HD bins of one size, or ``adata`` holds no segmented cells.
    """
    bin_um = _check_bin_labels(labels)
    outs = _cells_outs(adata)
    positions_path, centres, axes = _bin_centres(outs, bin_um)
    known = labels.index.isin(centres.index)
    if not known.all():
        missing = labels.index[~known]
        raise InputFileError(
            positions_path,
            f"{len(missing)} of {len(labels)} labelled bins are not in-tissue bins here, e.g. {', '.join(missing[:3])}",
            "was the CSV exported from another sample?",
        )
    return _bins_to_cells(labels, centres.loc[labels.index].to_numpy(), axes, adata)


def map_cells_to_bins(labels: pd.Series, outs: str | Path, *, bin_size: int) -> pd.Series:
    """``labels`` of segmented cells (``cellid_…`` barcodes), moved to the ``bin_size`` µm bins of ``outs``.

    Each in-tissue bin takes the label of the cell its centre falls in (see the module's rules);
    the polygons come from ``segmented_outputs/cell_segmentations.geojson``, the bins from
    ``binned_outputs/square_NNNum/spatial/tissue_positions.parquet``.

    Returns
    -------
    pandas.Series
        Labels indexed by bin barcode (``s_008um_…-1``), in the positions file's order.

    Raises
    ------
    InputFileError
        A file is missing or malformed, the output has no bins of that size, or a labelled cell
        has no polygon (the message names the file).
    """
    from ._hd_cells import CELL_GEOJSON_FILE, locate_segmented, read_cell_segmentations

    segmented = locate_segmented(Path(outs).expanduser())
    _, centres, axes = _bin_centres(segmented.folder.parent, bin_size)
    polygons = read_cell_segmentations(segmented.folder / CELL_GEOJSON_FILE)
    rows = polygons.barcodes.get_indexer(labels.index)
    if (rows < 0).any():
        missing = labels.index[rows < 0]
        raise InputFileError(
            polygons.source,
            f"{len(missing)} labelled cells have no polygon here, e.g. {', '.join(map(str, missing[:3]))}",
            "the project was made from another segmentation: export from the outs folder it was created from",
        )
    points = centres.to_numpy()
    owner = _cells_over_points(polygons, rows, points)
    _bins_under_small_cells(owner, polygons.centroids()[rows], rows, points, axes)
    hit = owner >= 0
    values = labels.to_numpy()[owner[hit]]
    return pd.Series(values, index=pd.Index(centres.index[hit], name=labels.index.name), name=labels.name)


def _bins_under_small_cells(
    owner: np.ndarray, centroids: np.ndarray, rows: np.ndarray, points: np.ndarray, axes: np.ndarray
) -> None:
    """Give each cell that holds no bin centre the bin under its centroid, unless another cell holds that bin.

    ``owner`` (per bin: position of its cell in ``rows``, or -1) is updated in place; among small
    cells over one bin the first in the GeoJSON wins, as for overlapping polygons.
    """
    from scipy.spatial import cKDTree

    without = np.setdiff1d(np.arange(len(rows)), owner[owner >= 0])
    if not len(without) or not len(points):
        return
    without = without[np.argsort(rows[without], kind="stable")]
    _, nearest = cKDTree(points).query(centroids[without], k=1)
    offsets = np.linalg.solve(axes, (centroids[without] - points[nearest]).T).T
    inside = (np.abs(offsets).max(axis=1) <= 0.5 + 1e-9) & (owner[nearest] < 0)
    bins, first = np.unique(nearest[inside], return_index=True)
    owner[bins] = without[inside][first]


def _check_bin_labels(labels: pd.Series) -> int:
    size = hd_bin_size(labels.index)
    if size is None:
        msg = "The barcodes are not Visium HD bins of one size (like s_008um_00269_00526-1)."
        raise ValueError(msg)
    return size


def _cells_outs(adata: AnnData) -> Path:
    """The HD outs folder the cells of ``adata`` were read from."""
    if adata.uns.get(K.ITEMS_UNS_KEY) != K.ITEMS_HD_CELLS:
        msg = "adata holds no Space Ranger segmented cells; read it with read_visium(..., cells=True)."
        raise ValueError(msg)
    library = adata.uns[K.SPATIAL_KEY][adata.uns[K.LIBRARY_ID_KEY]]
    return Path(library[K.METADATA_KEY][K.SOURCE_PATH_KEY]).parent


def _bin_centres(outs: Path, bin_um: int) -> tuple[Path, pd.DataFrame, np.ndarray]:
    """In-tissue bin centres (x, y full-resolution px) of one size, and the grid's step vectors.

    The steps are the columns of the 2 × 2 matrix taking (row, col) grid steps to pixels, fitted
    by least squares over the bins (Space Ranger's grid may be rotated on the image).
    """
    from ._positions import PXL_COL, PXL_ROW, read_positions

    spatial = outs / "binned_outputs" / f"square_{bin_um:03d}um" / "spatial"
    if not spatial.is_dir():
        found = sorted(p.name for p in (outs / "binned_outputs").glob("square_*um")) or ["none"]
        raise InputFileError(
            spatial,
            f"no {bin_um} µm bins in this Visium HD output (it has: {', '.join(found)})",
            "map to a bin size the output has, with its binned_outputs/ folder next to segmented_outputs/",
        )
    path, positions = read_positions(spatial)
    positions = positions[positions[K.IN_TISSUE].to_numpy() == 1]
    centres = pd.DataFrame({"x": positions[PXL_COL], "y": positions[PXL_ROW]}, index=positions.index)
    step = max(1, len(positions) // 200_000)  # a sample fits the grid as well as all of it
    grid = positions[[K.ARRAY_ROW, K.ARRAY_COL]].to_numpy(dtype=np.float64)[::step]
    design = np.column_stack([grid, np.ones(len(grid))])
    fit, *_ = np.linalg.lstsq(design, centres.to_numpy()[::step], rcond=None)
    axes = fit[:2].T  # pixels per (row step, col step), as columns
    if np.linalg.matrix_rank(design) < 3:  # one row or column of bins: assume a grid along the image axes
        axes = np.diag([_bin_side_px(spatial)] * 2)
    return path, centres, axes


def _bin_side_px(spatial: Path) -> float:
    import json

    path = spatial / "scalefactors_json.json"
    try:
        side = float(json.loads(path.read_text(encoding="utf-8"))[K.SPOT_DIAMETER])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise InputFileError(
            path, f"the bins' size in pixels ({K.SPOT_DIAMETER}) could not be read ({err})", "copy spatial/ again"
        ) from None
    return side


def _bins_to_cells(labels: pd.Series, centres: np.ndarray, axes: np.ndarray, adata: AnnData) -> tuple[pd.Series, int]:
    from scipy.spatial import cKDTree

    points = np.asarray(adata.obsm[K.SPATIAL_KEY], dtype=np.float64)[:, :2]
    _, nearest = cKDTree(centres).query(points, k=1)
    offsets = np.linalg.solve(axes, (points - centres[nearest]).T).T  # in bin steps along row and col
    inside = np.abs(offsets).max(axis=1) <= 0.5 + 1e-9
    cells = pd.Series(
        labels.to_numpy()[nearest[inside]], index=pd.Index(adata.obs_names[inside], name=labels.index.name)
    )
    cells.name = labels.name
    empty_bins = len(labels) - len(np.unique(nearest[inside]))
    return cells, empty_bins


def _cells_over_points(polygons, rows: np.ndarray, points: np.ndarray) -> np.ndarray:
    """For each point, the position in ``rows`` of the first polygon holding it, or -1.

    Candidates come from a KD-tree query around each polygon's box, and only those are tested
    against the polygon (matplotlib's point-in-polygon), so the cost grows with the cells, not
    with cells × bins.
    """
    from matplotlib.path import Path as Polygon
    from scipy.spatial import cKDTree

    owner = np.full(len(points), -1, dtype=np.int64)
    if not len(rows) or not len(points):
        return owner
    bounds = polygons.bounds()[rows]
    lo, hi = bounds[:, :2].min(axis=0), bounds[:, 2:].max(axis=0)
    near = np.flatnonzero(((points >= lo) & (points <= hi)).all(axis=1))
    if not len(near):
        return owner
    tree = cKDTree(points[near])
    centre = (bounds[:, :2] + bounds[:, 2:]) / 2
    radius = np.hypot(*(bounds[:, 2:] - bounds[:, :2]).T) / 2 + 1e-9
    found = tree.query_ball_point(centre, radius)
    for k in np.argsort(rows, kind="stable"):  # in GeoJSON order, so that the first of overlapping cells wins
        candidates = found[k]
        if not candidates:
            continue
        chosen = near[np.asarray(candidates)]
        chosen = chosen[owner[chosen] < 0]
        if len(chosen):
            inside = Polygon(polygons.ring(rows[k])).contains_points(points[chosen])
            owner[chosen[inside]] = k
    return owner
