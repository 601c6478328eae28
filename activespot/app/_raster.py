"""Items on a square grid as a raster: one pixel per Visium HD bin, and image regions back to bins.

A Visium HD section holds 500-700k 8 µm bins (10M+ at 2 µm): far too many to send to the browser
as one object each. The bins sit on a square grid (``array_row``, ``array_col``) that the scanner
maps to the image by an affine transform (a scale, a slight rotation, sometimes a flip), so the
whole section is an image of ``rows × cols`` pixels, one per bin, placed over the H&E by that
transform. :class:`BinGrid` holds the transform and an index raster (grid cell → item position,
``-1`` for none); the same raster answers the reverse question, which bins lie under a point, a
box or a lasso drawn on the image, which region selection needs.

Pure functions over arrays: no Streamlit, so the library and the tests use them directly.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import numpy as np

#: Largest misfit (in bin pitches) between a bin's image position and the grid's affine transform
#: for the bins to be drawn as one raster: beyond it a pixel would no longer cover its own bin.
GRID_TOLERANCE = 0.5


@dataclass(frozen=True)
class BinGrid:
    """Items on a square grid and the affine map from grid cells to image coordinates.

    Attributes
    ----------
    index
        ``(n_rows, n_cols)`` int32: the position of the item in cell ``(row0 + i, col0 + j)``,
        ``-1`` where there is none. Full grid resolution, whatever the resolution drawn.
    row0, col0
        Grid row and column of ``index[0, 0]``.
    affine
        ``(2, 3)``: ``[x, y] = affine @ [col, row, 1]`` maps a cell centre to the image.
    n_items
        How many items the grid was made from (positions run ``0 .. n_items - 1``).
    """

    index: np.ndarray
    row0: int
    col0: int
    affine: np.ndarray
    n_items: int

    @property
    def shape(self) -> tuple[int, int]:
        """Rows and columns of the grid."""
        return self.index.shape  # type: ignore[return-value]

    @property
    def pitch(self) -> float:
        """Distance between neighbouring cell centres in image units."""
        return float(np.sqrt(abs(np.linalg.det(self.affine[:, :2]))))

    def to_image(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Image coordinates ``(n, 2)`` of grid points (absolute rows and columns, fractional allowed)."""
        grid = np.column_stack([np.ravel(cols), np.ravel(rows), np.ones(np.size(rows))])
        return grid @ self.affine.T

    def to_index(self, xy: np.ndarray) -> np.ndarray:
        """Fractional ``(i, j)`` positions in :attr:`index` of image points ``(n, 2)``."""
        linear, offset = self.affine[:, :2], self.affine[:, 2]
        col_row = np.linalg.solve(linear, (np.atleast_2d(xy) - offset).T).T
        return np.column_stack([col_row[:, 1] - self.row0, col_row[:, 0] - self.col0])


def fit_grid(rows: np.ndarray, cols: np.ndarray, xy: np.ndarray) -> BinGrid:
    """The grid of items at grid cells ``(rows, cols)`` with image positions ``xy``.

    The grid → image transform is fitted by least squares over every item, so it follows the
    scanner's registration (rotation, flip) rather than assuming rows run down the image.

    Parameters
    ----------
    rows, cols
        Integer grid cell of each item (``obs['array_row']``, ``obs['array_col']``).
    xy
        ``(n, 2)`` image coordinates of each item's centre, in the units the raster is drawn in.

    Raises
    ------
    ValueError
        When two items share a cell, or an item lies more than :data:`GRID_TOLERANCE` pitches
        from where the fitted transform puts its cell: the items are not a square grid.
    """
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    xy = np.asarray(xy, dtype=np.float64)
    if not (len(rows) == len(cols) == len(xy) and len(rows) >= 3):
        msg = (
            "Expected at least 3 items, each with a row, a column and an image position; "
            f"got {len(rows)}, {len(cols)} and {len(xy)}."
        )
        raise ValueError(msg)
    design = np.column_stack([cols, rows, np.ones(len(rows))]).astype(np.float64)
    affine = np.linalg.lstsq(design, xy, rcond=None)[0].T
    grid = _index_grid(rows, cols, affine)
    misfit = float(np.abs(xy - design @ affine.T).max()) / max(grid.pitch, 1e-12)
    if not misfit <= GRID_TOLERANCE:
        msg = (
            f"The items are not on a square grid: an item lies {misfit:.2f} pitches from its cell "
            f"(at most {GRID_TOLERANCE})."
        )
        raise ValueError(msg)
    return grid


def grid_from_positions(xy: np.ndarray, pitch: float) -> BinGrid:
    """A grid of square cells of side ``pitch`` over items known only by their image positions.

    For many items that are not Visium HD bins (no ``array_row``/``array_col`` of a square grid):
    each item takes the cell its centre falls in; of items sharing a cell the last one is kept.
    """
    xy = np.asarray(xy, dtype=np.float64)
    if not pitch > 0:
        msg = f"The cell `pitch` must be positive; got {pitch!r}."
        raise ValueError(msg)
    cols, rows = (np.floor(xy[:, axis] / pitch).astype(np.int64) for axis in (0, 1))
    affine = np.array([[pitch, 0.0, pitch / 2], [0.0, pitch, pitch / 2]])
    return _index_grid(rows, cols, affine, keep_last=True)


def _index_grid(rows: np.ndarray, cols: np.ndarray, affine: np.ndarray, *, keep_last: bool = False) -> BinGrid:
    row0, col0 = int(rows.min()), int(cols.min())
    shape = (int(rows.max()) - row0 + 1, int(cols.max()) - col0 + 1)
    flat = (rows - row0) * shape[1] + (cols - col0)
    if not keep_last and np.bincount(flat, minlength=shape[0] * shape[1]).max(initial=0) > 1:
        msg = "The items are not on a square grid: two items share a grid cell (array_row, array_col)."
        raise ValueError(msg)
    index = np.full(shape[0] * shape[1], -1, dtype=np.int32)
    index[flat] = np.arange(len(flat), dtype=np.int32)
    return BinGrid(
        index=index.reshape(shape), row0=row0, col0=col0, affine=np.asarray(affine, dtype=np.float64), n_items=len(flat)
    )


# --- drawing ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Raster:
    """An RGBA image of a grid and where it goes on the tissue image.

    Attributes
    ----------
    rgba
        ``(height, width, 4)`` uint8, transparent where no item is.
    step
        Grid cells per pixel side (1: one pixel per bin; more when the grid was downsampled).
    bounds
        The image's four corners in image coordinates, in deck.gl's ``BitmapLayer`` order:
        bottom-left, top-left, top-right, bottom-right (the top is the first row of ``rgba``).
    """

    rgba: np.ndarray
    step: int
    bounds: list[list[float]]


def draw(grid: BinGrid, codes: np.ndarray, palette: np.ndarray, *, max_side: int = 2048) -> Raster:
    """Paint each item with ``palette[codes[item]]``, one pixel per cell, at most ``max_side`` pixels a side.

    A grid wider than ``max_side`` (2 µm bins) is downsampled by a whole ``step``: a pixel shows the
    code most of its cells' items have (ties to the lower code), so small regions keep their
    class colour instead of a blend.

    Parameters
    ----------
    grid
        The items' grid.
    codes
        Per item (in position order), an index into ``palette``; 0 is reserved for "no item".
    palette
        ``(k, 4)`` uint8 RGBA colours; ``palette[0]`` is drawn where no item is (transparent).
    max_side
        The largest image side in pixels.
    """
    codes = np.asarray(codes, dtype=np.uint8)
    palette = np.asarray(palette, dtype=np.uint8)
    if codes.shape != (grid.n_items,):
        msg = f"Expected one code per item of the grid ({grid.n_items}); got {codes.shape}."
        raise ValueError(msg)
    if codes.size and int(codes.max()) >= len(palette):
        msg = f"A code ({int(codes.max())}) has no colour: the palette has {len(palette)}."
        raise ValueError(msg)
    cells = np.where(grid.index >= 0, codes[np.maximum(grid.index, 0)], 0).astype(np.uint8)
    step = max(1, -(-max(cells.shape) // max_side))
    if step > 1:
        cells = _block_mode(cells, step)
    height, width = cells.shape
    top = grid.row0 - 0.5
    left = grid.col0 - 0.5
    bottom = top + height * step
    right = left + width * step
    corners = grid.to_image(np.array([bottom, top, top, bottom]), np.array([left, left, right, right]))
    return Raster(rgba=palette[cells], step=step, bounds=corners.round(3).tolist())


def _block_mode(cells: np.ndarray, step: int) -> np.ndarray:
    """The most frequent non-zero code of each ``step × step`` block (0 when the block has none)."""
    height, width = (-(-side // step) * step for side in cells.shape)
    padded = np.zeros((height, width), dtype=cells.dtype)
    padded[: cells.shape[0], : cells.shape[1]] = cells
    blocks = padded.reshape(height // step, step, width // step, step)
    best = np.zeros((height // step, width // step), dtype=cells.dtype)
    best_count = np.zeros(best.shape, dtype=np.int32)
    for code in np.unique(cells[cells > 0]):
        count = (blocks == code).sum(axis=(1, 3), dtype=np.int32)
        wins = count > best_count
        best[wins] = code
        best_count[wins] = count[wins]
    return best


def png_data_url(rgba: np.ndarray) -> str:
    """``rgba`` as a ``data:image/png;base64,...`` URL (what a deck.gl ``BitmapLayer`` loads)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba), mode="RGBA").save(buffer, format="PNG", compress_level=6)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@dataclass(frozen=True)
class Tiles:
    """The grid cut into square tiles: what a click or a hover over the raster can name.

    A browser cannot report which pixel of an image was picked back to the server (see
    ``_tissue.py``), so the view lays a few hundred pickable tiles over the raster instead of one
    object per bin; a tile names its bins exactly.

    Attributes
    ----------
    side
        Grid cells per tile side.
    of_item
        ``(n_items,)`` tile number of each item (``-1`` for an item the grid does not hold).
    numbers
        The tiles that hold items, ascending; tile ``t`` covers grid rows
        ``row0 + (t // per_row) * side`` onwards and columns ``col0 + (t % per_row) * side`` onwards.
    per_row
        Tiles per row of tiles.
    corners
        ``(len(numbers), 4, 2)`` image coordinates of each tile's corners, in drawing order.
    """

    side: int
    of_item: np.ndarray
    numbers: np.ndarray
    per_row: int
    corners: np.ndarray


def tiles(grid: BinGrid, *, per_side: int = 32) -> Tiles:
    """Cut ``grid`` into at most ``per_side × per_side`` square tiles and say which items each holds."""
    side = max(1, -(-max(grid.shape) // per_side))
    per_row = -(-grid.shape[1] // side)
    i, j = np.nonzero(grid.index >= 0)
    tile_of_cell = (i // side) * per_row + j // side
    of_item = np.full(grid.n_items, -1, dtype=np.int64)
    of_item[grid.index[i, j]] = tile_of_cell
    numbers = np.unique(tile_of_cell)
    top = grid.row0 - 0.5 + (numbers // per_row) * side
    left = grid.col0 - 0.5 + (numbers % per_row) * side
    rows = np.stack([top, top, top + side, top + side], axis=1)
    cols = np.stack([left, left + side, left + side, left], axis=1)
    corners = grid.to_image(rows, cols).reshape(len(numbers), 4, 2)
    return Tiles(side=side, of_item=of_item, numbers=numbers, per_row=per_row, corners=corners)


# --- image regions back to items ----------------------------------------------------------------
def bins_at_point(grid: BinGrid, x: float, y: float) -> np.ndarray:
    """Position of the item whose cell holds image point ``(x, y)``; empty when none does."""
    i, j = np.floor(grid.to_index(np.array([[x, y]]))[0] + 0.5).astype(np.int64)
    rows, cols = grid.shape
    if not (0 <= i < rows and 0 <= j < cols) or grid.index[i, j] < 0:
        return np.empty(0, dtype=np.int64)
    return np.array([grid.index[i, j]], dtype=np.int64)


def bins_in_box(grid: BinGrid, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """Positions (sorted) of the items whose cell centre lies in the image box ``[x0, x1] × [y0, y1]``."""
    x0, x1 = sorted((x0, x1))
    y0, y1 = sorted((y0, y1))
    return bins_in_polygon(grid, np.array([x0, x1, x1, x0]), np.array([y0, y0, y1, y1]))


def bins_in_polygon(grid: BinGrid, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Positions (sorted) of the items whose cell centre lies inside the image polygon (a lasso).

    The polygon is taken to grid coordinates and filled over the index raster by scan lines, so a
    lasso around 100k bins costs what its area costs, not a test of every bin.
    """
    from skimage.draw import polygon

    xs = np.asarray(xs, dtype=np.float64)
    ys = np.asarray(ys, dtype=np.float64)
    if xs.shape != ys.shape or xs.ndim != 1 or xs.size < 3:
        msg = f"A polygon needs at least 3 vertices, as equal-length xs and ys; got {xs.shape} and {ys.shape}."
        raise ValueError(msg)
    ij = grid.to_index(np.column_stack([xs, ys]))
    filled_i, filled_j = polygon(ij[:, 0], ij[:, 1], shape=grid.shape)
    inside = grid.index[filled_i, filled_j]
    return np.sort(inside[inside >= 0]).astype(np.int64)


# --- items on the image's own pixels (the region-selection view) --------------------------------
def disk_index(xy: np.ndarray, radius: float, width: int, height: int) -> np.ndarray:
    """``(height, width)`` int32: the item whose disk of ``radius`` covers each pixel, ``-1`` for none.

    Visium spots are disks on a hexagonal lattice, not cells of a square grid: painted at their
    true size on the image's own pixels, they can be drawn like bins (:func:`paint`). Where two
    disks overlap, the later item wins.
    """
    index = np.full((height, width), -1, dtype=np.int32)
    reach = int(np.ceil(radius))
    dy, dx = np.mgrid[-reach : reach + 1, -reach : reach + 1]
    keep = (dx + 0.5) ** 2 + (dy + 0.5) ** 2 <= radius**2  # pixel centres inside the disk
    dx, dy = dx[keep], dy[keep]
    centre = np.floor(np.asarray(xy, dtype=np.float64) - 0.5).astype(np.int64)
    cols = centre[:, :1] + dx
    rows = centre[:, 1:2] + dy
    inside = (cols >= 0) & (cols < width) & (rows >= 0) & (rows < height)
    items = np.broadcast_to(np.arange(len(centre))[:, None], cols.shape)
    index[rows[inside], cols[inside]] = items[inside]
    return index


def resampled_index(grid: BinGrid, width: int, height: int) -> np.ndarray:
    """``(height, width)`` int32: the item of ``grid`` under each image pixel's centre, ``-1`` for none.

    The grid's cells follow the scanner's registration (rotated, flipped); resampled onto the
    image's pixels, the bins can be laid over the image as an axis-aligned picture.
    """
    ys, xs = np.mgrid[0:height, 0:width]
    ij = np.floor(grid.to_index(np.column_stack([xs.ravel() + 0.5, ys.ravel() + 0.5])) + 0.5).astype(np.int64)
    rows, cols = grid.shape
    inside = (ij[:, 0] >= 0) & (ij[:, 0] < rows) & (ij[:, 1] >= 0) & (ij[:, 1] < cols)
    index = np.full(height * width, -1, dtype=np.int32)
    index[inside] = grid.index[ij[inside, 0], ij[inside, 1]]
    return index.reshape(height, width)


def paint(index: np.ndarray, codes: np.ndarray, palette: np.ndarray) -> str:
    """A PNG data URL of ``palette[codes[item]]`` on every pixel of ``index`` (``palette[0]`` where none is).

    A palette PNG (one byte a pixel, transparency in the palette): a quarter of an RGBA image's
    bytes and encoded in a fraction of its time, which is what keeps a colour switch quick.
    """
    from PIL import Image

    codes = np.asarray(codes, dtype=np.uint8)
    palette = np.asarray(palette, dtype=np.uint8)
    cells = np.where(index >= 0, codes[np.maximum(index, 0)], 0).astype(np.uint8)
    image = Image.fromarray(cells, mode="L").convert("P")  # the bytes are the palette's indices
    image.putpalette(palette.ravel().tobytes(), rawmode="RGBA")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
