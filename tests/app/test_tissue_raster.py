"""The Tissue page of a Visium HD project: the bins as one raster image, not one object per bin."""

from __future__ import annotations

import base64
import io
import json
import warnings
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from activespot.app import _data as D
from activespot.app import _state as S
from activespot.app._raster import fit_grid
from activespot.app._tissue import COLOR_BY, NO_ROUND, TILES_PER_SIDE, UNCERTAIN_RGB, raster_codes
from activespot.project import Project

from .conftest import ANNOTATOR, open_app
from .test_browser import _served, goto, page, settle, shot  # noqa: F401  (page: the browser fixture)

N_ROWS, N_COLS = 40, 60  # a small section: 2,400 8 µm bins
BIN_PX = 8 / 0.2738  # full-resolution pixels per 8 µm bin
PLANTED = {(5, 7): "Tumour", (30, 52): "Stroma", (31, 52): "Stroma"}  # (array_row, array_col) -> label


def write_hd_outs(outs: Path, *, n_rows: int, n_cols: int, n_genes: int = 20) -> None:
    """A Space Ranger HD ``outs`` folder with one 8 µm bin per grid cell; columns run right to left.

    The layout ``benchmarks/bench_visium_hd_load.py`` writes (Parquet positions, 10x h5, scale
    factors, hires and lowres PNGs), mirrored left-right as on a real HD slide, so the raster has
    to follow the grid's registration rather than assume columns run along x.
    """
    bins = outs / "binned_outputs" / "square_008um"
    (bins / "spatial").mkdir(parents=True)
    rows, cols = np.divmod(np.arange(n_rows * n_cols, dtype=np.int64), n_cols)
    barcodes = [f"s_008um_{r:05d}_{c:05d}-1" for r, c in zip(rows, cols, strict=True)]
    pd.DataFrame(
        {
            "barcode": barcodes,
            "in_tissue": np.ones(rows.size, dtype=np.int32),
            "array_row": rows.astype(np.int32),
            "array_col": cols.astype(np.int32),
            "pxl_row_in_fullres": (rows + 0.5) * BIN_PX,
            "pxl_col_in_fullres": (n_cols - cols - 0.5) * BIN_PX,
        }
    ).to_parquet(bins / "spatial" / "tissue_positions.parquet", index=False)
    hires_scalef = 0.5
    scalefactors = {
        "spot_diameter_fullres": BIN_PX,
        "bin_size_um": 8.0,
        "microns_per_pixel": 0.2738,
        "tissue_hires_scalef": hires_scalef,
        "tissue_lowres_scalef": hires_scalef / 4,
        "regist_target_img_scalef": hires_scalef,
    }
    (bins / "spatial" / "scalefactors_json.json").write_text(json.dumps(scalefactors))
    for name, scalef in (("hires", hires_scalef), ("lowres", hires_scalef / 4)):
        height, width = (int(side * BIN_PX * scalef) for side in (n_rows, n_cols))
        gradient = np.linspace(60, 220, width, dtype=np.uint8)
        pixels = np.stack(np.broadcast_arrays(np.uint8(200), gradient[None, :], np.full((height, 1), 150, np.uint8)), 2)
        Image.fromarray(np.ascontiguousarray(pixels)).save(bins / "spatial" / f"tissue_{name}_image.png")
    rng = np.random.default_rng(0)
    with h5py.File(bins / "filtered_feature_bc_matrix.h5", "w") as handle:
        handle.attrs["library_ids"] = np.array([b"hd_test"])
        matrix = handle.create_group("matrix")
        matrix["data"] = rng.integers(1, 5, rows.size * 2).astype(np.int32)
        matrix["indices"] = np.sort(rng.integers(0, n_genes, (rows.size, 2)), axis=1).ravel()
        matrix["indptr"] = np.arange(rows.size + 1, dtype=np.int64) * 2
        matrix["shape"] = np.array([n_genes, rows.size], dtype=np.int32)
        matrix["barcodes"] = np.array(barcodes, dtype="S")
        features = matrix.create_group("features")
        features["id"] = np.array([f"ENSG{i:011d}" for i in range(n_genes)], dtype="S")
        features["name"] = np.array([f"Gene{i}" for i in range(n_genes)], dtype="S")
        features["feature_type"] = np.full(n_genes, b"Gene Expression")
        features["genome"] = np.full(n_genes, b"GRCh38")


@pytest.fixture
def hd_project(tmp_path) -> Path:
    """An 8 µm HD project with three planted labels and no round yet."""
    write_hd_outs(tmp_path / "outs", n_rows=N_ROWS, n_cols=N_COLS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # no full-resolution image
        project = Project.create(tmp_path / "hd", visium=tmp_path / "outs", classes=["Tumour", "Stroma"])
    labels = {f"s_008um_{r:05d}_{c:05d}-1": label for (r, c), label in PLANTED.items()}
    project.add_labels(labels, annotator=ANNOTATOR)
    project.close()
    return tmp_path / "hd"


def _layers(app) -> dict[str, dict]:
    (chart,) = app.get("deck_gl_json_chart")
    return {layer["id"]: layer for layer in json.loads(chart.proto.json)["layers"]}


def _decoded(layer: dict) -> np.ndarray:
    url = layer["image"].strip("'")
    assert url.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))


def test_an_hd_project_is_drawn_as_one_raster_with_each_bin_in_its_class_colour(hd_project):
    app = open_app(hd_project, page="tissue")
    layers = _layers(app)
    assert layers["bins"]["@@type"] == "BitmapLayer"
    assert layers["bins"]["textureParameters"]["magFilter"] == "nearest"  # no blur between bins
    assert "spots" not in layers
    assert "he-image" in layers  # the H&E under the bins
    # Nothing carries one object per bin: the tiles are at most 32 × 32, the named bins are the labelled ones.
    assert len(layers["tiles"]["data"]) <= TILES_PER_SIDE**2
    assert all(len(layer.get("data") or []) < N_ROWS * N_COLS / 3 for layer in layers.values())
    assert len(layers["named-bins"]["data"]) == len(PLANTED)

    pixels = _decoded(layers["bins"])
    assert pixels.shape == (N_ROWS, N_COLS, 4)  # one pixel per bin
    colours = D.class_colors(Project.open(hd_project))
    for (row, col), label in PLANTED.items():
        assert pixels[row, col].tolist() == [*D.hex_to_rgb(colours[label]), 255]
    unlabelled = [(r, c) for r, c in [(0, 0), (5, 8), (39, 59)] if (r, c) not in PLANTED]
    for row, col in unlabelled:
        assert pixels[row, col].tolist() == [*D.hex_to_rgb(D.UNLABELLED_COLOR), 128]

    # The image's corners put each pixel over its bin on the H&E (columns run right to left here).
    sample = D.load_sample(str(Project.open(hd_project).path))
    geometry = D.tissue_image(str(Project.open(hd_project).path))
    bottom_left, top_left, top_right, _ = np.asarray(layers["bins"]["bounds"])
    for (row, col), _label in PLANTED.items():
        position = sample.obs_names.get_loc(f"s_008um_{row:05d}_{col:05d}-1")
        centre = (
            top_left + (top_right - top_left) * (col + 0.5) / N_COLS + (bottom_left - top_left) * (row + 0.5) / N_ROWS
        )
        assert np.allclose(centre, [geometry["x"][position], geometry["y"][position]], atol=1e-3)

    caption = " ".join(c.value for c in app.caption)
    assert f"{N_ROWS * N_COLS:,} bins drawn as a raster" in caption
    assert "one pixel per bin" in caption


def test_recolouring_redraws_the_raster_and_a_new_label_is_seen_at_once(hd_project):
    app = open_app(hd_project, page="tissue")
    app.radio(key=S.TISSUE_COLOR).set_value("query").run()
    assert not app.exception
    pixels = _decoded(_layers(app)["bins"])
    assert pixels[5, 7].tolist() == [255, 255, 255, 85]  # no query yet: every bin "other"

    app.radio(key=S.TISSUE_COLOR).set_value("label").run()
    project = Project.open(hd_project)
    project.add_labels({"s_008um_00010_00020-1": "Tumour"}, annotator=ANNOTATOR)
    app.run()
    pixels = _decoded(_layers(app)["bins"])
    assert pixels[10, 20].tolist() == [*D.hex_to_rgb(D.class_colors(project)["Tumour"]), 255]


def test_hovering_and_clicking_name_bins_and_say_there_is_no_round_yet(hd_project):
    app = open_app(hd_project, page="tissue")
    assert COLOR_BY["prediction"] not in app.radio(key=S.TISSUE_COLOR).options
    layers = _layers(app)
    named = {obj["title"]: obj["details"] for obj in layers["named-bins"]["data"]}
    assert named["s_008um_00005_00007-1"] == f"label: Tumour · prediction: {NO_ROUND}"
    assert all("()" not in details for details in named.values())
    tiles = layers["tiles"]["data"]
    assert all(f"prediction: {NO_ROUND}" in tile["details"] for tile in tiles)
    assert sum(int(tile["title"].split(" bins")[0].replace(",", "")) for tile in tiles) == N_ROWS * N_COLS

    # A click on the tile of the planted Stroma bins lists that tile's bins, the planted ones among them.
    tile = next(t for t in tiles if "2 labelled" in t["title"])
    app.session_state[S.TISSUE_CHART] = {"selection": {"indices": {"tiles": [0]}, "objects": {"tiles": [tile]}}}
    app.run()
    assert not app.exception, app.exception
    (listed,) = app.dataframe
    listed = listed.value.set_index("bin")
    assert len(listed) == int(tile["title"].split(" bins")[0])
    assert listed.loc["s_008um_00030_00052-1", "label"] == "Stroma"
    assert listed.loc["s_008um_00031_00052-1", "label"] == "Stroma"
    assert set(listed["prediction"]) == {NO_ROUND}


def test_prediction_and_uncertainty_codes_follow_each_bin():
    colours = {"A": "#0072B2", "B": "#E69F00"}
    table = pd.DataFrame(
        {
            "label": ["A", "", "B", ""],
            "prediction": ["B", "A", "", "A"],
            "confidence": [0.9, 0.5, np.nan, 1.0],
            "queried": [False, True, False, False],
        }
    )
    codes, palette = raster_codes(table, "prediction", colours)
    assert [palette[c][:3].tolist() for c in codes] == [
        D.hex_to_rgb("#E69F00"),
        D.hex_to_rgb("#0072B2"),
        D.hex_to_rgb(D.UNLABELLED_COLOR),
        D.hex_to_rgb("#0072B2"),
    ]
    codes, palette = raster_codes(table, "uncertainty", colours)
    # The least confident is the ramp's darkest green, a colour neither stain of an H&E has.
    assert palette[codes[1]].tolist() == [*UNCERTAIN_RGB, 255]
    assert palette[codes[3]].tolist() == palette[codes[2]].tolist() == [255, 255, 255, 255]  # sure, or no prediction
    codes, palette = raster_codes(table, "query", colours)
    assert codes.tolist() == [1, 2, 1, 1]
    assert palette[0, 3] == 0  # no bin: transparent


def test_a_large_grid_is_fitted_to_the_image_positions_it_was_drawn_from():
    """The fit on the benchmark's 800 × 800 layout puts every bin back in its own cell."""
    rows, cols = np.divmod(np.arange(800 * 800), 800)
    xy = np.column_stack([(800 - cols - 0.5) * BIN_PX, (rows + 0.5) * BIN_PX]) * 0.2
    grid = fit_grid(rows, cols, xy)
    assert grid.shape == (800, 800)
    assert np.array_equal(grid.index.ravel(), np.arange(800 * 800))


@pytest.mark.browser
@pytest.mark.slow
def test_the_raster_shows_in_a_real_browser_and_a_tile_tells_its_bins(page, hd_project, tmp_path):  # noqa: F811
    """deck.gl draws the bins (nearest-neighbour texture, four-corner bounds), a tile's tooltip and its click work."""
    project = Project.open(hd_project)
    block = {f"s_008um_{r:05d}_{c:05d}-1": "Tumour" for r in range(N_ROWS // 2) for c in range(N_COLS)}
    project.add_labels(block, annotator=ANNOTATOR)  # the top half of the section
    tumour = np.array(D.hex_to_rgb(D.class_colors(project)["Tumour"]))
    project.close()
    with _served(hd_project, tmp_path / "streamlit.log") as url:
        page.goto(url)
        settle(page)
        goto(page, "Tissue")
        chart = page.locator('[data-testid="stDeckGlJsonChart"]').first
        chart.locator("canvas").first.wait_for()
        page.wait_for_timeout(1500)  # the bitmap textures load asynchronously
        shot(page, "hd_tissue")
        pixels = np.asarray(Image.open(io.BytesIO(chart.screenshot())).convert("RGB")).astype(int)
        near_tumour = (np.abs(pixels - tumour) < 60).all(axis=2)  # at 0.85 opacity over the H&E
        assert near_tumour.mean() > 0.05, "the labelled half of the section is not drawn in its class colour"

        box = chart.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.55)
        tooltip = page.locator(".deck-tooltip")
        tooltip.wait_for(state="visible")
        assert " bins · " in tooltip.inner_text()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.55)
        page.get_by_text("bins clicked").wait_for()
        settle(page)
        shot(page, "hd_tissue_clicked")


def test_a_box_over_hd_bins_selects_them_by_their_grid_and_labels_them_in_one_action(hd_project):
    app = open_app(hd_project, page="tissue")
    app.session_state[S.TISSUE_MODE] = "select"
    app.run()
    assert not app.exception, app.exception
    geometry = D.tissue_image.__wrapped__(str(hd_project))
    x, y = geometry["x"], geometry["y"]
    x1, y1 = np.quantile(x, 0.5), np.quantile(y, 0.5)  # the quarter of the section nearest the origin
    box = {"selection": {"points": [], "box": [{"x": [x.min() - 1, x1], "y": [y.min() - 1, y1]}], "lasso": []}}
    app.session_state[S.TISSUE_SELECT] = box
    app.run()
    assert not app.exception, app.exception
    inside = np.flatnonzero((x <= x1) & (y <= y1))
    assert len(inside) > 500
    assert any(f"{len(inside):,} bins selected" in m.value for m in app.markdown)
    (chart,) = app.get("plotly_chart")
    assert len(json.loads(chart.proto.spec)["data"][0]["text"]) <= TILES_PER_SIDE**2  # tiles, never one per bin
    app.selectbox(key=S.TISSUE_CLASS).set_value("Stroma").run()
    app.button(key=S.TISSUE_LABEL).click().run()
    assert not app.exception, app.exception
    labels = Project.open(hd_project).labels()
    barcodes = Project.open(hd_project).barcodes[inside]
    assert (labels.reindex(barcodes) == "Stroma").all()
    # A click on a tile adds its bins; a second click takes them out.
    tile = {"selection": {"points": [{"customdata": -1}], "box": [], "lasso": []}}
    app.session_state[S.TISSUE_SELECT] = tile
    app.run()
    assert len(app.session_state[S.TISSUE_SELECTION]) > 0
    app.session_state[S.TISSUE_SELECT] = {"selection": {"points": [], "box": [], "lasso": []}}  # Plotly's deselect
    app.run()
    assert app.session_state[S.TISSUE_SELECTION] == []
