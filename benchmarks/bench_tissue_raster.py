"""Tissue page of a Visium HD section: the bins as one raster image, timed at 640k bins.

Writes a synthetic 8 µm HD output of ``--side`` × ``--side`` bins (all under tissue; columns run
right to left as on a real slide; a 6000 px hires image), creates a project on it, labels
``--labels`` bins in five planted regions, then measures in this process:

- each step of the raster on its own: fitting the grid, one colour code per bin, drawing the
  image, encoding the PNG, the pickable tiles; for every colour mode (predictions made up from
  the planted regions, since a round on 640k bins needs their features first);
- the Tissue page through ``streamlit.testing.v1.AppTest``: the first render with the sample
  already read (what an annotator opening the page waits for once the app has warmed up), the
  first render of a fresh process (the sample read included), a re-render after a new label;
- what is sent to the browser: the raster PNG and the whole deck JSON;
- with ``--browser``, the page in Debian's chromium (Playwright) against ``activespot app``'s
  server: from the Overview (the app reads the sample in the background as it opens), a click on
  Tissue until its chart's canvas is there and Streamlit is idle; then the same once more.

Usage::

    .venv/bin/python benchmarks/bench_tissue_raster.py [--side 800] [--labels 600] [--browser] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
import warnings
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from PIL import Image

MICRONS_PER_PIXEL = 0.2738
BIN_PX = 8 / MICRONS_PER_PIXEL
HIRES_SIDE = 6000
CLASSES = ("Tumour", "Stroma", "Immune", "Necrosis", "Normal")


def build(outs: Path, *, side: int, n_genes: int = 50) -> None:
    """A Space Ranger HD ``outs`` with ``side`` × ``side`` 8 µm bins and a hires H&E of ``HIRES_SIDE`` px."""
    bins = outs / "binned_outputs" / "square_008um"
    (bins / "spatial").mkdir(parents=True)
    rows, cols = np.divmod(np.arange(side * side, dtype=np.int64), side)
    barcodes = pd.Series(rows).map("s_008um_{:05d}_".format) + pd.Series(cols).map("{:05d}-1".format)
    pd.DataFrame(
        {
            "barcode": barcodes,
            "in_tissue": np.ones(rows.size, dtype=np.int32),
            "array_row": rows.astype(np.int32),
            "array_col": cols.astype(np.int32),
            "pxl_row_in_fullres": (rows + 0.5) * BIN_PX,
            "pxl_col_in_fullres": (side - cols - 0.5) * BIN_PX,
        }
    ).to_parquet(bins / "spatial" / "tissue_positions.parquet", index=False)
    hires_scalef = min(1.0, HIRES_SIDE / (side * BIN_PX))
    (bins / "spatial" / "scalefactors_json.json").write_text(
        json.dumps(
            {
                "spot_diameter_fullres": BIN_PX,
                "bin_size_um": 8.0,
                "microns_per_pixel": MICRONS_PER_PIXEL,
                "tissue_hires_scalef": hires_scalef,
                "tissue_lowres_scalef": hires_scalef / 10,
                "regist_target_img_scalef": hires_scalef,
            }
        )
    )
    for name, scalef in (("hires", hires_scalef), ("lowres", hires_scalef / 10)):
        size = int(side * BIN_PX * scalef)
        gradient = np.linspace(0, 255, size, dtype=np.uint8)
        image = np.stack(np.broadcast_arrays(gradient[:, None], gradient[None, :], np.uint8(128)), axis=2)
        Image.fromarray(np.ascontiguousarray(image)).save(bins / "spatial" / f"tissue_{name}_image.png")
    rng = np.random.default_rng(0)
    with h5py.File(bins / "filtered_feature_bc_matrix.h5", "w") as handle:
        handle.attrs["library_ids"] = np.array([b"hd_raster_benchmark"])
        matrix = handle.create_group("matrix")
        matrix["data"] = rng.integers(1, 5, rows.size).astype(np.int32)
        matrix["indices"] = rng.integers(0, n_genes, rows.size)
        matrix["indptr"] = np.arange(rows.size + 1, dtype=np.int64)
        matrix["shape"] = np.array([n_genes, rows.size], dtype=np.int32)
        matrix["barcodes"] = barcodes.to_numpy().astype("S")
        features = matrix.create_group("features")
        features["id"] = np.array([f"ENSG{i:011d}" for i in range(n_genes)], dtype="S")
        features["name"] = np.array([f"Gene{i}" for i in range(n_genes)], dtype="S")
        features["feature_type"] = np.full(n_genes, b"Gene Expression")
        features["genome"] = np.full(n_genes, b"GRCh38")


def planted_regions(rows: np.ndarray, cols: np.ndarray, side: int) -> np.ndarray:
    """The class of each bin: the nearest of five fixed centres (Voronoi regions)."""
    centres = np.array([[0.2, 0.2], [0.8, 0.3], [0.5, 0.5], [0.25, 0.8], [0.75, 0.8]]) * side
    distance = (rows[:, None] - centres[:, 0]) ** 2 + (cols[:, None] - centres[:, 1]) ** 2
    return np.asarray(CLASSES)[distance.argmin(axis=1)]


def _timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, round(time.perf_counter() - start, 3)


def _steps(project_path: str, table: pd.DataFrame, colors: dict[str, str]) -> dict[str, dict[str, float]]:
    """Seconds of each raster step, per colour mode, outside Streamlit's cache."""
    from activespot.app import _data as D
    from activespot.app import _raster as R
    from activespot.app._tissue import TILES_PER_SIDE, _tile_objects, raster_codes

    grid, fit_s = _timed(D.bin_grid.__wrapped__, project_path)
    tiles, tiles_s = _timed(R.tiles, grid, per_side=TILES_PER_SIDE)
    _, summaries_s = _timed(_tile_objects, table, tiles, has_round=True)
    steps = {
        "grid": {
            "fit_s": fit_s,
            "tiles_s": tiles_s,
            "tile_summaries_s": summaries_s,
            "rows": grid.shape[0],
            "cols": grid.shape[1],
        }
    }
    for color_by in ("label", "prediction", "uncertainty", "query"):
        (codes, palette), codes_s = _timed(raster_codes, table, color_by, colors)
        raster, draw_s = _timed(R.draw, grid, codes, palette)
        url, png_s = _timed(R.png_data_url, raster.rgba)
        steps[color_by] = {
            "codes_s": codes_s,
            "draw_s": draw_s,
            "png_s": png_s,
            "png_kb": round(len(url) * 3 / 4 / 1024, 1),
            "image": f"{raster.rgba.shape[1]}x{raster.rgba.shape[0]}",
        }
    return steps


def _in_browser(project: Path, log: Path) -> dict[str, float]:
    """Seconds from a click on Tissue in the sidebar to the page drawn: the first time, and once more."""
    from playwright.sync_api import sync_playwright

    from activespot.app._server import HEADLESS_CHROMIUM_ARGS, start_app_server

    idle = '[data-testid="stApp"][data-test-script-state="notRunning"]'
    server, url = start_app_server(project, log=log)
    timings = {}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=list(HEADLESS_CHROMIUM_ARGS))
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.goto(f"{url}/?annotator=bench")
            page.get_by_role("heading", name="Overview").wait_for(timeout=120_000)
            page.wait_for_selector(idle, timeout=120_000)
            for name in ("browser_first_s", "browser_again_s"):
                start = time.perf_counter()
                page.locator('[data-testid="stSidebarNav"] a', has_text="Tissue").first.click()
                page.get_by_role("heading", name="Tissue").wait_for(timeout=120_000)
                page.locator('[data-testid="stDeckGlJsonChart"] canvas').first.wait_for(timeout=120_000)
                page.wait_for_selector(idle, timeout=120_000)
                timings[name] = round(time.perf_counter() - start, 3)
                page.locator('[data-testid="stSidebarNav"] a', has_text="Overview").first.click()
                page.get_by_role("heading", name="Overview").wait_for(timeout=120_000)
                page.wait_for_selector(idle, timeout=120_000)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", type=int, default=800, help="bins per side (800 -> 640,000 bins)")
    parser.add_argument("--labels", type=int, default=600, help="bins labelled before the page is opened")
    parser.add_argument("--browser", action="store_true", help="also time the page in chromium (Playwright)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    from streamlit.testing.v1 import AppTest

    from activespot.app import _data as D
    from activespot.app import _state as S
    from activespot.app import app_script
    from activespot.app._data import page_file
    from activespot.app._tissue import spot_table
    from activespot.project import Project

    result: dict[str, object] = {"bins": args.side**2}
    with tempfile.TemporaryDirectory() as tmp:
        outs = Path(tmp) / "outs"
        _, result["build_s"] = _timed(build, outs, side=args.side)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            project, result["init_s"] = _timed(Project.create, Path(tmp) / "hd", visium=outs, classes=CLASSES)
        barcodes = project.barcodes
        rows = barcodes.str.slice(8, 13).astype(int).to_numpy()
        cols = barcodes.str.slice(14, 19).astype(int).to_numpy()
        truth = planted_regions(rows, cols, args.side)
        chosen = np.random.default_rng(0).choice(len(barcodes), args.labels, replace=False)
        project.add_labels(dict(zip(barcodes[chosen], truth[chosen], strict=True)), annotator="benchmark")
        path = str(project.path)

        # A fresh server process: the page's first render reads the sample too.
        app = AppTest.from_file(str(app_script()), default_timeout=600)
        app.session_state[S.PROJECT_PATH] = path
        app.session_state[S.ANNOTATOR] = "benchmark"
        start = time.perf_counter()
        app.run()
        app.switch_page(page_file("tissue")).run()
        result["page_cold_s"] = round(time.perf_counter() - start, 3)
        assert not app.exception, app.exception

        # The same first render once the sample and the H&E are in the cache (the app warms them up
        # in the background as soon as it opens): only the bins' grid, raster and tiles are new.
        D.bin_grid.clear()
        D.bin_tiles.clear()
        D._bin_raster.clear()
        app = AppTest.from_file(str(app_script()), default_timeout=600)
        app.session_state[S.PROJECT_PATH] = path
        app.session_state[S.ANNOTATOR] = "benchmark"
        app.run()
        start = time.perf_counter()
        app.switch_page(page_file("tissue")).run()
        result["page_first_render_s"] = round(time.perf_counter() - start, 3)
        (chart,) = app.get("deck_gl_json_chart")
        result["deck_json_mb"] = round(len(chart.proto.json) / 1e6, 2)
        layers = {layer["id"]: layer for layer in json.loads(chart.proto.json)["layers"]}
        result["raster_png_kb"] = round(len(layers["bins"]["image"]) * 3 / 4 / 1024, 1)
        result["he_png_kb"] = round(len(layers.get("he-image", {}).get("image", "")) * 3 / 4 / 1024, 1)
        result["tile_objects"] = len(layers["tiles"]["data"])
        result["named_bin_objects"] = len(layers.get("named-bins", {}).get("data", []))

        Project.open(path).add_labels({barcodes[0]: CLASSES[0]}, annotator="benchmark")
        start = time.perf_counter()
        app.run()
        result["page_after_a_label_s"] = round(time.perf_counter() - start, 3)
        assert not app.exception, app.exception

        table = spot_table(D.open_project(path))
        table["prediction"] = truth
        table["confidence"] = np.random.default_rng(1).uniform(0.3, 1.0, len(table))
        result["steps"] = _steps(path, table, D.class_colors(project))
        if args.browser:
            result.update(_in_browser(Path(path), Path(tmp) / "streamlit.log"))
    result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # Linux: KiB
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
