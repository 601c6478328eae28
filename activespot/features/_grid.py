"""The square grid of Visium HD bins: neighbours and smoothing, in one place.

Space Ranger names every HD bin by its row and column on a square lattice (``array_row``,
``array_col``), so geometry on bins is raster arithmetic rather than a nearest-neighbour search
over half a million points: the bins' positions go into an index raster (row, col) → bin, and

- neighbours within ``rings`` rings are the bins of the (2·rings + 1)² window around a bin
  (rings of 8-neighbours, Chebyshev distance), built for all bins at once, one offset at a time;
- a Gaussian over the grid is ``scipy.ndimage.gaussian_filter`` on the raster, normalised by the
  same filter of the occupancy mask so that edges and holes in the tissue are not pulled to zero.

Context rings, the HD expression neighbourhood and the smoothing of predictions all use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from anndata import AnnData
from scipy import ndimage, sparse

from .. import _constants as K

__all__ = ["SquareGrid", "bin_size_um", "is_square_grid", "library_scalefactors"]

_GAUSSIAN_TRUNCATE = 3.0  # the filter reaches 3 sigma, as scipy's default (4) with a smaller window


def library_scalefactors(adata: AnnData) -> Mapping[str, Any]:
    """The scale factors of ``adata``'s library (the one named in ``uns``, else the first); empty when none."""
    libraries = adata.uns.get(K.SPATIAL_KEY, {})
    library = libraries.get(adata.uns.get(K.LIBRARY_ID_KEY)) or (next(iter(libraries.values())) if libraries else {})
    return library.get(K.SCALEFACTORS_KEY, {})


def is_square_grid(adata: AnnData) -> bool:
    """Whether ``adata``'s items are Visium HD bins: grid coordinates and a ``bin_size_um`` scale factor."""
    return {K.ARRAY_ROW, K.ARRAY_COL} <= set(adata.obs.columns) and K.BIN_SIZE_UM in library_scalefactors(adata)


def bin_size_um(adata: AnnData) -> float:
    """The side of ``adata``'s Visium HD bins in µm, from the scale factors.

    Raises
    ------
    ValueError
        The scale factors have no ``bin_size_um`` (the items are not HD bins).
    """
    size = library_scalefactors(adata).get(K.BIN_SIZE_UM)
    if not size:
        msg = f"The scale factors have no {K.BIN_SIZE_UM!r}: the items are not Visium HD bins."
        raise ValueError(msg)
    return float(size)


@dataclass(frozen=True)
class SquareGrid:
    """Bins on a square lattice: each bin's row and column, and the raster of bin positions.

    Attributes
    ----------
    rows, cols
        Grid row and column of every bin, shifted so that the smallest is 0.
    index
        ``(n_rows, n_cols)`` int raster: the position of the bin at (row, col), -1 where none.
    """

    rows: np.ndarray
    cols: np.ndarray
    index: np.ndarray

    @classmethod
    def from_adata(cls, adata: AnnData) -> SquareGrid:
        """The grid of ``adata``'s bins from ``obs['array_row']`` and ``obs['array_col']``.

        Raises
        ------
        ValueError
            The grid columns are missing or two bins share a grid position.
        """
        if not {K.ARRAY_ROW, K.ARRAY_COL} <= set(adata.obs.columns):
            msg = f"obs[{K.ARRAY_ROW!r}] and obs[{K.ARRAY_COL!r}] (the bin grid) are needed for square-grid geometry."
            raise ValueError(msg)
        return cls.from_positions(adata.obs[K.ARRAY_ROW].to_numpy(), adata.obs[K.ARRAY_COL].to_numpy())

    @classmethod
    def from_positions(cls, rows: np.ndarray, cols: np.ndarray) -> SquareGrid:
        """The grid of bins at integer ``rows`` and ``cols`` (see :meth:`from_adata`)."""
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        if rows.size:
            rows, cols = rows - rows.min(), cols - cols.min()
        shape = (int(rows.max()) + 1, int(cols.max()) + 1) if rows.size else (0, 0)
        index = np.full(shape, -1, dtype=np.int64 if rows.size >= 2**31 else np.int32)
        index[rows, cols] = np.arange(rows.size)
        if rows.size and np.count_nonzero(index >= 0) != rows.size:
            msg = "Two bins share a grid position (array_row, array_col); the bin grid is inconsistent."
            raise ValueError(msg)
        return cls(rows, cols, index)

    @property
    def n_bins(self) -> int:
        """Number of bins."""
        return int(self.rows.size)

    def neighbour_graph(self, rings: int = 1) -> sparse.csr_matrix:
        """Binary (n_bins, n_bins) CSR adjacency of the bins within ``rings`` rings (no self-loops)."""
        sources, targets = [], []
        n_rows, n_cols = self.index.shape
        for dr in range(-rings, rings + 1):
            for dc in range(-rings, rings + 1):
                if dr == 0 and dc == 0:
                    continue
                r, c = self.rows + dr, self.cols + dc
                inside = (r >= 0) & (r < n_rows) & (c >= 0) & (c < n_cols)
                found = np.full(self.n_bins, -1, dtype=np.int64)
                found[inside] = self.index[r[inside], c[inside]]
                hit = found >= 0
                sources.append(np.flatnonzero(hit))
                targets.append(found[hit])
        rows = np.concatenate(sources) if sources else np.array([], dtype=np.int64)
        cols = np.concatenate(targets) if targets else np.array([], dtype=np.int64)
        data = np.ones(rows.size, dtype=np.float32)
        return sparse.csr_matrix((data, (rows, cols)), shape=(self.n_bins, self.n_bins))

    def gaussian(self, values: np.ndarray, sigma_bins: float) -> np.ndarray:
        """Each bin's Gaussian-weighted mean of ``values`` over the grid (σ in bins), float32.

        Only bins take part: the filter of the values is divided by the filter of the occupancy,
        so a bin at the tissue edge averages the bins that exist. Columns are filtered one at a
        time, so memory stays at one raster whatever the width of ``values``.
        """
        values = np.asarray(values, dtype=np.float32)
        if sigma_bins <= 0 or self.n_bins == 0:
            return values.copy()
        column_values = values.reshape(self.n_bins, -1)
        weight = self._filter(np.where(self.index >= 0, 1.0, 0.0).astype(np.float32), sigma_bins)[self.rows, self.cols]
        out = np.empty_like(column_values)
        raster = np.zeros(self.index.shape, dtype=np.float32)
        for j in range(column_values.shape[1]):
            raster[self.rows, self.cols] = column_values[:, j]
            out[:, j] = self._filter(raster, sigma_bins)[self.rows, self.cols] / weight
        return out.reshape(values.shape)

    @staticmethod
    def _filter(raster: np.ndarray, sigma_bins: float) -> np.ndarray:
        return ndimage.gaussian_filter(raster, sigma_bins, mode="constant", cval=0.0, truncate=_GAUSSIAN_TRUNCATE)
