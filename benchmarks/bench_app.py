"""Review-app latency in a real browser (Debian's chromium through Playwright) on the demo project.

Measures: server start until its health endpoint answers; the first page load (navigation until the
Overview is rendered and Streamlit is idle); labelling a spot from the queue (click until the next
spot is shown and Streamlit is idle), ``--clicks`` times; and the app's own count of heavy loads
(sample, image, patches, predictions) before and after those clicks, which must not change.

Then the Tissue page: its first render (navigation until deck.gl's canvas is drawn and Streamlit is
idle), a colour switch, and ``--regions`` times: a box drawn with the mouse over ~300 spots (mouse
up until the selection's count is shown) and "Label all as this class" (click until the page shows
the labelled region and Streamlit is idle).

Usage::

    .venv/bin/python benchmarks/bench_app.py [--project DEMO/project] [--clicks 20] [--json OUT]

Without ``--project`` the demo project is built first (``activespot demo --out TMP --rounds 1``).
The project is copied, never changed.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from activespot.app._server import HEADLESS_CHROMIUM_ARGS, start_app_server

REPO = Path(__file__).resolve().parents[1]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def _serve(project: Path, log: Path) -> tuple[subprocess.Popen, str, float]:
    start = time.perf_counter()
    try:
        server, url = start_app_server(project, log=log)
    except RuntimeError as err:
        sys.exit(str(err))
    return server, url, time.perf_counter() - start


def _loads(page) -> dict[str, int]:
    box = page.locator('[data-testid="stExpander"]', has_text="Diagnostics")
    if "Loads in this server process" not in box.inner_text():
        box.locator("summary").click()
        page.wait_for_selector("text=Loads in this server process")
    text = box.inner_text()
    return {name: int(n) for name, n in re.findall(r"(\w+) (\d+)×", text)}


def _summary(seconds: list[float]) -> dict[str, int]:
    ms = sorted(t * 1000 for t in seconds)
    return {"n": len(ms), "median": round(statistics.median(ms)), "p90": round(ms[int(0.9 * (len(ms) - 1))]),
            "max": round(ms[-1])}  # fmt: skip


def _tissue(page, url: str, regions: int) -> dict:
    """Tissue page timings: first render, a colour switch, and drawing then labelling ``regions`` boxes."""
    start = time.perf_counter()
    page.goto(f"{url}/tissue?annotator=bench")
    page.locator('[data-testid="stDeckGlJsonChart"] canvas').first.wait_for(timeout=120_000)
    page.wait_for_selector(IDLE, timeout=60_000)
    first_render = time.perf_counter() - start
    start = time.perf_counter()
    page.locator(".st-key-tissue_color label", has_text="Queried this round").click()
    page.wait_for_timeout(50)
    page.wait_for_selector(IDLE, timeout=60_000)
    colour_switch = time.perf_counter() - start
    page.locator(".st-key-tissue_mode button", has_text="Select a region").click()
    drag = page.locator('[data-testid="stPlotlyChart"] .nsewdrag').first
    drag.wait_for(timeout=60_000)
    page.wait_for_selector(IDLE, timeout=60_000)
    page.locator(".st-key-tissue_class").click()
    page.locator('[role="option"]').first.click()
    page.wait_for_selector(IDLE, timeout=60_000)
    drawn, labelled, sizes = [], [], []
    for k in range(regions):
        area = drag.bounding_box()
        # Boxes of 17 % × 17 % of the view hold ~300 of the demo's spots, walking across the section.
        fx, fy = 0.25 + 0.1 * (k % 4), 0.25 + 0.12 * (k // 4 % 4)
        x0, y0 = area["x"] + fx * area["width"], area["y"] + fy * area["height"]
        x1, y1 = x0 + 0.17 * area["width"], y0 + 0.17 * area["height"]
        page.mouse.move(x0, y0)
        page.mouse.down()
        for step in range(1, 6):
            page.mouse.move(x0 + (x1 - x0) * step / 5, y0 + (y1 - y0) * step / 5)
        start = time.perf_counter()
        page.mouse.up()
        page.wait_for_function(
            "() => [...document.querySelectorAll('p')].some(p => /^[1-9][0-9,]* spots selected/.test(p.innerText))"
        )
        page.wait_for_selector(IDLE)
        drawn.append(time.perf_counter() - start)
        sizes.append(int(page.locator("p", has_text="spots selected").first.inner_text().split()[0].replace(",", "")))
        start = time.perf_counter()
        page.locator(".st-key-tissue_label button").click()
        page.wait_for_function(
            "() => [...document.querySelectorAll('p')].some(p => p.innerText.startsWith('0 spots selected'))"
        )
        page.wait_for_selector(IDLE)
        labelled.append(time.perf_counter() - start)
    return {
        "first_render_s": round(first_render, 2),
        "colour_switch_ms": round(colour_switch * 1000),
        "region_sizes": sizes,
        "box_drawn_to_selection_shown_ms": _summary(drawn),
        "region_label_click_ms": _summary(labelled),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=None)
    parser.add_argument("--clicks", type=int, default=20)
    parser.add_argument("--regions", type=int, default=10)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        if args.project is None:
            subprocess.run([str(Path(sys.executable).with_name("activespot")), "demo", "--out", str(folder / "demo"),
                            "--rounds", "1"], check=True, capture_output=True)  # fmt: skip
            args.project = folder / "demo" / "project"
        project = folder / "project"
        shutil.copytree(args.project, project)
        server, url, startup = _serve(project, folder / "streamlit.log")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path="/usr/bin/chromium", args=list(HEADLESS_CHROMIUM_ARGS)
                )
                page = browser.new_page(viewport={"width": 1440, "height": 1000})
                start = time.perf_counter()
                page.goto(f"{url}/?annotator=bench")
                page.get_by_role("heading", name="Overview").wait_for(timeout=60_000)
                page.wait_for_selector(IDLE, timeout=60_000)
                first_load = time.perf_counter() - start

                start = time.perf_counter()
                page.goto(f"{url}/queue?annotator=bench")
                page.locator(".st-key-queue_focus h4").wait_for(timeout=120_000)
                page.wait_for_selector(IDLE, timeout=60_000)
                queue_load = time.perf_counter() - start
                page.wait_for_timeout(500)
                before = _loads(page)

                times = []
                for _ in range(args.clicks):
                    focus = page.locator(".st-key-queue_focus h4").inner_text()
                    start = time.perf_counter()
                    page.locator(".st-key-queue_label_0 button").first.click()
                    page.wait_for_function(
                        "([b]) => { const h = document.querySelector('.st-key-queue_focus h4');"
                        " return h && h.innerText !== b; }",
                        arg=[focus],
                    )
                    page.wait_for_selector(IDLE)
                    times.append(time.perf_counter() - start)
                after = _loads(page)
                tissue = _tissue(page, url, args.regions)
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)

    ms = sorted(t * 1000 for t in times)
    result = {
        "server_start_s": round(startup, 2),
        "first_page_load_s": round(first_load, 2),
        "queue_first_load_s": round(queue_load, 2),
        "label_click_ms": {
            "n": len(ms),
            "median": round(statistics.median(ms)),
            "p90": round(ms[int(0.9 * (len(ms) - 1))]),
            "max": round(ms[-1]),
        },
        "loads_before_clicks": before,
        "loads_after_clicks": after,
        "tissue": tissue,
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
