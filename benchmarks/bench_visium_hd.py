"""Visium HD end to end, as a user runs it, on a synthetic 640k-bin section with a planted answer.

Builds the section with ``synthetic_hd.py`` (Voronoi regions of six classes; 8 µm bins and their
16 µm merge; truth CSVs), then runs the commands a user would:

    activespot init P --visium outs           (8 µm bins, the default)
    activespot features P
    3 x: activespot suggest P  ->  answer the query from the truth  ->  activespot import P  ->  activespot round P
    activespot export P --what predictions --bin-size 8 / --bin-size 16

Every command runs in its own process and is measured with ``/usr/bin/time -v`` (wall seconds,
peak RSS); a round's compute seconds are read from what ``activespot round`` prints. The weighted
F1 of the exported predictions against the planted regions is reported at each size.

Usage::

    .venv/bin/python benchmarks/bench_visium_hd.py [--side 800] [--seed 0] [--rounds 3] [--json OUT]

Targets (issue 13): features <= 180 s; each round <= 10 s wall and <= 5 s compute; every command
<= 4 GiB; weighted F1 >= 0.90 at 8 µm after 165 labels and >= 0.85 for the 16 µm export.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from synthetic_hd import CLASSES, build_hd_outs  # noqa: E402 (a sibling script, not a package)

ACTIVESPOT = Path(sys.executable).with_name("activespot")


def run(*args: str) -> tuple[str, dict[str, float]]:
    """Run one activespot command under ``/usr/bin/time -v``: its output, wall seconds and peak RSS."""
    done = subprocess.run(["/usr/bin/time", "-v", str(ACTIVESPOT), *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"activespot {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", done.stderr)
    hours, minutes, seconds = (float(part) if part else 0.0 for part in wall.groups())
    peak_kib = float(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)[1])
    wall_s = round(hours * 3600 + minutes * 60 + seconds, 2)
    return done.stdout, {"wall_s": wall_s, "peak_gib": round(peak_kib / 2**20, 2)}


def weighted_f1(predictions: Path, truth: Path) -> float:
    from sklearn.metrics import f1_score

    predicted = pd.read_csv(predictions, index_col=0).iloc[:, 0]
    expected = pd.read_csv(truth, index_col=0)["Region"]
    common = expected.index.intersection(predicted.index)
    return round(float(f1_score(expected[common], predicted[common], average="weighted")), 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=800, help="8 µm bins per side (800 -> 640,000 bins)")
    parser.add_argument("--seed", type=int, default=0, help="another seed builds an independent section")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    report: dict = {"bins": args.side**2, "seed": args.seed, "commands": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = build_hd_outs(tmp / "section", side=args.side, seed=args.seed)
        project = tmp / "project"
        truth = pd.read_csv(paths["truth_008um"], index_col=0)["Region"]
        classes = ",".join(CLASSES)
        _, report["commands"]["init"] = run("init", str(project), "--visium", str(paths["outs"]), "--classes", classes)
        _, report["commands"]["features"] = run("features", str(project))
        report["rounds"] = []
        for number in range(1, args.rounds + 1):
            printed, suggest = run("suggest", str(project))
            query = Path(printed.strip().splitlines()[-1].split()[-1])
            asked = pd.read_csv(query, index_col=0).index
            answer = tmp / f"answer_{number}.csv"
            truth.reindex(asked).rename("Region").rename_axis("Barcode").to_csv(answer)
            _, imported = run("import", str(project), str(answer))
            printed, trained = run("round", str(project))
            trained_on = re.search(r"trained on (\d+) labels in ([\d.]+) s", printed)
            report["rounds"].append(
                {
                    "number": number,
                    "labels": int(trained_on[1]),
                    "suggest": suggest,
                    "import": imported,
                    "round": {**trained, "compute_s": float(trained_on[2])},
                }
            )
        for size in (8, 16):
            out = tmp / f"predictions_{size:03d}um.csv"
            _, report["commands"][f"export_{size}um"] = run(
                "export", str(project), "--loupe", str(out), "--what", "predictions", "--bin-size", str(size)
            )
            report[f"weighted_f1_{size}um"] = weighted_f1(out, paths[f"truth_{size:03d}um"])
    text = json.dumps(report, indent=1)
    print(text)
    if args.json is not None:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
