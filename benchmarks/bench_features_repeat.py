"""Repeat-run check: ``activespot features`` again with nothing changed must take ≤ 2 s.

On DLPFC 151673 (3,639 spots, bundled) this times three runs of the installed command, each a
new process as a user would start it:

1. cold: every block computed (descriptor, HVGs + PCA, 3-ring context);
2. the sample's count file touched (same bytes, new modification time): the run reads the
   sample again, and every block comes back from its cache (keyed by content and settings);
3. nothing changed: the stored features are recognised as current from file sizes, times and
   settings, without reading the sample.

Usage::

    .venv/bin/python benchmarks/bench_features_repeat.py [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "visium" / "dlpfc_151673"
ACTIVESPOT = Path(sys.executable).with_name("activespot")


def _timed(*args: str) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([str(ACTIVESPOT), *args], capture_output=True, text=True, check=True)
    return time.perf_counter() - start, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the timings here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sample = shutil.copytree(SAMPLE, Path(tmp) / "outs")
        project = Path(tmp) / "project"
        init = [str(ACTIVESPOT), "init", str(project), "--visium", str(sample)]
        subprocess.run(init, check=True, capture_output=True)
        results = {}
        results["cold_s"], _ = _timed("features", str(project))
        counts = sample / "filtered_feature_bc_matrix.h5"
        os.utime(counts, ns=(counts.stat().st_atime_ns, counts.stat().st_mtime_ns + 10**9))
        results["blocks_from_cache_s"], touched = _timed("features", str(project))
        results["up_to_date_s"], repeat = _timed("features", str(project))
        assert touched.count("(from cache)") == 3, touched
        assert "Up to date" in repeat, repeat
    results = {key: round(value, 2) for key, value in results.items()}
    print(json.dumps(results, indent=1))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
