"""The bin raster's geometry: grid fit, one pixel per bin at the right place, and regions back to bins."""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from activespot.app._raster import (
    bins_at_point,
    bins_in_box,
    bins_in_polygon,
    draw,
    fit_grid,
    grid_from_positions,
    png_data_url,
)

from ..conftest import VISIUM

PALETTE = np.array([[0, 0, 0, 0], [200, 200, 200, 128], [0, 114, 178, 255], [230, 159, 0, 255]], dtype=np.uint8)


def _grid_items(n_rows: int, n_cols: int, *, rotation_deg: float = 0.0, pitch: float = 3.0, flip_cols: bool = False):
    """Every cell of an ``n_rows × n_cols`` grid, shuffled, with image positions under a known transform."""
    rows, cols = np.divmod(np.arange(n_rows * n_cols), n_cols)
    order = np.random.default_rng(0).permutation(rows.size)
    rows, cols = rows[order] + 10, cols[order] + 20  # a grid that does not start at 0
    angle = np.deg2rad(rotation_deg)
    sign = -1.0 if flip_cols else 1.0
    linear = pitch * np.array([[sign * np.cos(angle), -np.sin(angle)], [sign * np.sin(angle), np.cos(angle)]])
    xy = np.column_stack([cols, rows]) @ linear.T + [500.0, 40.0]
    return rows, cols, xy


def test_the_fit_recovers_the_transform_and_maps_image_points_to_their_bins():
    rows, cols, xy = _grid_items(30, 40, rotation_deg=1.0, flip_cols=True)
    grid = fit_grid(rows, cols, xy)
    assert grid.shape == (30, 40)
    assert (grid.row0, grid.col0) == (10, 20)
    assert grid.pitch == pytest.approx(3.0)
    for position in (0, 17, 555, len(rows) - 1):
        # the bin's centre, and a point just inside its cell
        assert bins_at_point(grid, *xy[position]).tolist() == [position]
        assert bins_at_point(grid, *(xy[position] + [0.4 * 3, -0.4 * 3])).tolist() == [position]
    assert bins_at_point(grid, -1000.0, -1000.0).size == 0


def test_items_off_a_square_grid_are_refused():
    rows, cols, xy = _grid_items(10, 10)
    moved = xy.copy()
    moved[5] += [2.0, 0.0]  # two thirds of a pitch away from its cell
    with pytest.raises(ValueError, match="not on a square grid"):
        fit_grid(rows, cols, moved)
    with pytest.raises(ValueError, match="share a grid cell"):
        fit_grid(np.r_[rows, rows[:1]], np.r_[cols, cols[:1]], np.r_[xy, xy[:1]])


def test_each_pixel_has_its_bins_colour_and_the_bounds_put_it_over_the_bin():
    rows, cols, xy = _grid_items(20, 30, rotation_deg=0.5, flip_cols=True)
    codes = np.ones(len(rows), dtype=np.uint8)
    tumour = (rows == 12) & (cols == 25)
    stroma = (rows == 29) & (cols == 20)
    codes[tumour], codes[stroma] = 2, 3
    keep = ~((rows == 15) & (cols == 30))  # one empty cell
    grid = fit_grid(rows[keep], cols[keep], xy[keep])
    raster = draw(grid, codes[keep], PALETTE)
    assert raster.rgba.shape == (20, 30, 4)
    assert raster.step == 1
    assert raster.rgba[12 - 10, 25 - 20].tolist() == PALETTE[2].tolist()
    assert raster.rgba[29 - 10, 20 - 20].tolist() == PALETTE[3].tolist()
    assert raster.rgba[15 - 10, 30 - 20].tolist() == [0, 0, 0, 0]  # transparent where no bin
    assert raster.rgba[0, 0].tolist() == PALETTE[1].tolist()

    # The image's corners, interpolated as deck.gl does, put pixel (i, j)'s centre on its bin.
    bottom_left, top_left, top_right, _ = np.asarray(raster.bounds)
    height, width = raster.rgba.shape[:2]
    i, j = 12 - 10, 25 - 20
    centre = top_left + (top_right - top_left) * (j + 0.5) / width + (bottom_left - top_left) * (i + 0.5) / height
    assert np.allclose(centre, xy[keep][np.flatnonzero(tumour[keep])[0]])


def test_a_grid_wider_than_the_limit_is_downsampled_by_majority():
    rows, cols, xy = _grid_items(8, 8)
    codes = np.full(len(rows), 1, dtype=np.uint8)
    block = (rows < 14) & (cols < 24)  # the top-left 4 × 4 block of cells
    codes[block & ((rows + cols) % 4 != 0)] = 3  # 12 of its 16 cells
    codes[block & ((rows + cols) % 4 == 0)] = 2
    raster = draw(fit_grid(rows, cols, xy), codes, PALETTE, max_side=2)
    assert raster.step == 4
    assert raster.rgba.shape == (2, 2, 4)
    assert raster.rgba[0, 0].tolist() == PALETTE[3].tolist()  # the majority, not a blend
    assert raster.rgba[1, 1].tolist() == PALETTE[1].tolist()
    assert np.allclose(raster.bounds[1], xy[np.flatnonzero((rows == 10) & (cols == 20))[0]] - 1.5)  # top-left corner


def test_boxes_and_lassos_return_the_bins_inside_them():
    rows, cols, xy = _grid_items(50, 50, rotation_deg=0.8)
    grid = fit_grid(rows, cols, xy)
    # A box around the bins of rows 20-24 and columns 30-34 (with margin less than half a pitch).
    planted = np.flatnonzero((rows >= 20) & (rows <= 24) & (cols >= 30) & (cols <= 34))
    lo, hi = xy[planted].min(axis=0), xy[planted].max(axis=0)
    found = bins_in_box(grid, hi[0] + 0.2, hi[1] + 0.2, lo[0] - 0.2, lo[1] - 0.2)  # corners in any order
    inside_box = ((xy >= lo - 0.2) & (xy <= hi + 0.2)).all(axis=1)
    assert found.tolist() == np.flatnonzero(inside_box).tolist()
    assert set(planted) <= set(found)

    # A triangle: the bins found are exactly those whose centre is inside it.
    from matplotlib.path import Path

    triangle = np.array([[520.0, 60.0], [620.0, 80.0], [560.0, 170.0]])
    expected = np.flatnonzero(Path(triangle).contains_points(xy))
    assert expected.size > 100
    assert bins_in_polygon(grid, triangle[:, 0], triangle[:, 1]).tolist() == expected.tolist()
    with pytest.raises(ValueError, match="at least 3 vertices"):
        bins_in_polygon(grid, np.array([1.0, 2.0]), np.array([1.0, 2.0]))


def test_items_without_a_grid_are_binned_by_position():
    xy = np.array([[1.0, 1.0], [11.0, 1.0], [11.5, 21.0]])
    grid = grid_from_positions(xy, pitch=10.0)
    assert grid.shape == (3, 2)
    assert bins_at_point(grid, 15.0, 25.0).tolist() == [2]
    assert draw(grid, np.array([2, 3, 1]), PALETTE).rgba[2, 1].tolist() == PALETTE[1].tolist()


def test_real_visium_hd_positions_fit_their_grid_within_a_fraction_of_a_bin():
    """Space Ranger's grid is flipped and slightly rotated on the image: the fit follows it."""
    positions = pd.read_parquet(VISIUM / "hd_layout/binned_outputs/square_002um/spatial/tissue_positions.parquet")
    xy = positions[["pxl_col_in_fullres", "pxl_row_in_fullres"]].to_numpy()
    grid = fit_grid(positions["array_row"].to_numpy(), positions["array_col"].to_numpy(), xy)
    assert grid.pitch == pytest.approx(7.3, abs=0.05)  # 2 µm at 0.274 µm per pixel
    assert grid.affine[0, 0] < 0  # columns run right to left on this image
    for position, point in enumerate(xy):
        assert bins_at_point(grid, *point).tolist() == [position]


def test_the_png_holds_the_pixels():
    rgba = np.zeros((3, 4, 4), dtype=np.uint8)
    rgba[1, 2] = [1, 2, 3, 255]
    url = png_data_url(rgba)
    assert url.startswith("data:image/png;base64,")
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
    assert np.array_equal(decoded, rgba)
