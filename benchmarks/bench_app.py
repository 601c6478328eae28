"""Review-app latency in a real browser (Debian's chromium through Playwright) on the demo project.

Measures: server start until its health endpoint answers; the first page load (navigation until the
Overview is rendered and Streamlit is idle); labelling a spot from the queue (click until the next
spot is shown and Streamlit is idle), ``--clicks`` times; and the app's own count of heavy loads
(sample, image, patches, predictions) before and after those clicks, which must not change.

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=None)
    parser.add_argument("--clicks", type=int, default=20)
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
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
