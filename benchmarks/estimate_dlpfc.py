"""Calibration of the accuracy estimated without truth (issue 15), on the labelled DLPFC sections.

For each section and seed: the simulated annotator's loop (defaults: init 55, 10 rounds of 55),
and at each round the estimate a project would be shown (:func:`activespot.loop.estimate_accuracy`:
5-fold out-of-fold models, weighted to the pool by confidence, 95 % bootstrap interval) next to
the true accuracy over every spot with truth. Prints a Markdown table per section and the mean
absolute error and interval coverage of the weighted estimate and of the plain out-of-fold
accuracy on the labels (Wilson interval); writes every run to ``--json``.

    python benchmarks/estimate_dlpfc.py --json benchmarks/results/estimate_dlpfc.json
    python benchmarks/estimate_dlpfc.py --timing   # a round's seconds with and without the estimate

``--timing`` times, on 151673 with random labels, one round (training from scratch, prediction,
smoothing, selection) and the estimate at the default epochs and at 20, the fastest of three
repeats each (the minimum is what a quiet machine gives on a shared one).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from activespot.config import Config
from activespot.loop import estimate_accuracy, fit_predict_select, make_classifier, simulate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from simulate_dlpfc import load_section  # a sibling script, not a package


def run(name: str, config: Config, seeds: list[int], epochs: int | None = None, folds: int = 5) -> dict:
    truth, blocks, graph = load_section(name, config)
    runs = [
        simulate(blocks, truth, graph=graph, config=config, seed=seed, estimate_folds=folds, estimate_epochs=epochs)[0][
            "rounds"
        ]
        for seed in seeds
    ]
    return {"section": name, "seeds": seeds, "runs": runs}


def _covered(record: dict, prefix: str) -> bool:
    return record[f"{prefix}_low"] <= record["pool_accuracy"] <= record[f"{prefix}_high"]


def summary(records: list[dict]) -> dict:
    """Mean absolute error and coverage of both estimates, and the seconds they add to a round."""
    truth = np.array([r["pool_accuracy"] for r in records])
    out = {}
    for prefix in ("estimated_accuracy", "oof_accuracy"):
        error = np.array([r[prefix] for r in records]) - truth
        out[prefix] = {
            "mae": round(float(np.abs(error).mean()), 4),
            "bias": round(float(error.mean()), 4),
            "coverage": round(float(np.mean([_covered(r, prefix) for r in records])), 3),
        }
    out["round_seconds_median"] = round(float(np.median([r["seconds"] for r in records])), 3)
    out["estimate_seconds_median"] = round(float(np.median([r["estimate_seconds"] for r in records])), 3)
    return out


def table(result: dict) -> str:
    lines = [
        "| labels | true pool accuracy | estimated [95 % interval] | covered | out-of-fold on labels [Wilson] | "
        "covered | unchanged % | s/round | s/estimate |",
        "|---:|---:|---:|:-:|---:|:-:|---:|---:|---:|",
    ]
    for seed, records in zip(result["seeds"], result["runs"], strict=True):
        for r in records:
            unchanged = "–" if r["unchanged_pct"] is None else f"{r['unchanged_pct']:.1f}"
            lines.append(
                f"| {r['n_labeled']} (seed {seed}) | {r['pool_accuracy']:.3f} | {r['estimated_accuracy']:.3f} "
                f"[{r['estimated_accuracy_low']:.3f}, {r['estimated_accuracy_high']:.3f}] | "
                f"{'✓' if _covered(r, 'estimated_accuracy') else '✗'} | {r['oof_accuracy']:.3f} "
                f"[{r['oof_accuracy_low']:.3f}, {r['oof_accuracy_high']:.3f}] | "
                f"{'✓' if _covered(r, 'oof_accuracy') else '✗'} | {unchanged} | {r['seconds']:.2f} | "
                f"{r['estimate_seconds']:.2f} |"
            )
    return "\n".join(lines)


def timing(config: Config, sizes: tuple[int, ...] = (55, 330, 605), repeats: int = 3) -> list[dict]:
    """Seconds of one round and of its estimate (fastest of ``repeats``) at each number of labels."""
    truth, blocks, graph = load_section("dlpfc_151673", config)
    rows = []
    for n in sizes:
        labels = np.full(truth.size, None, dtype=object)
        asked = np.random.default_rng(n).choice(np.flatnonzero(pd.notna(truth)), n, replace=False)
        labels[asked] = truth[asked]
        times: dict[str, list[float]] = {"round": [], "estimate": [], "estimate_20_epochs": []}
        for _ in range(repeats):
            model = make_classifier(config.model).set_params(warm_start=False)
            result = fit_predict_select(model, blocks, labels, graph=graph, config=config, n=55, rng=0)
            times["round"].append(result.seconds)
            for key, epochs in (("estimate", None), ("estimate_20_epochs", 20)):
                found = estimate_accuracy(
                    blocks, labels, result.probabilities, classes=result.model.classes_, graph=graph,
                    config=config.model, epochs=epochs,
                )  # fmt: skip
                times[key].append(found.seconds)
        rows.append({"n_labels": n, **{key: round(min(values), 3) for key, values in times.items()}})
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", nargs="+", default=["dlpfc_151673", "dlpfc_151674"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--epochs", type=int, default=None, help="Epochs of the out-of-fold models.")
    parser.add_argument("--folds", type=int, default=5, help="Folds of the estimate.")
    parser.add_argument("--timing", action="store_true", help="Time a round with and without the estimate.")
    args = parser.parse_args()
    config = Config()
    if args.timing:
        timing(config.updated({"model": {"num_threads": 2}}))
        return
    results = []
    for name in args.sections:
        start = time.perf_counter()
        result = run(name, config, args.seeds, args.epochs, args.folds)
        result["summary"] = summary([r for records in result["runs"] for r in records])
        results.append(result)
        print(f"\n### {name} ({time.perf_counter() - start:.0f} s)\n")
        print(table(result))
        print(f"\n{json.dumps(result['summary'])}", flush=True)
    everything = [r for result in results for records in result["runs"] for r in records]
    print(f"\nall sections: {json.dumps(summary(everything))}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"config": config.to_dict(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
