"""Simulated-annotator benchmark on the labelled DLPFC sections (issue 4's targets).

For each section: features once (no truth involved), then the default strategy and random for
three seeds, and the full-supervision ceiling; prints a Markdown table of the mean per round and
writes every run to ``--json``. 151673 is the development section; 151674 is a held-out check
that no setting was tuned on.

    python benchmarks/simulate_dlpfc.py --json benchmarks/results/dlpfc.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from activespot.config import Config
from activespot.features import spatial_graph
from activespot.io import read_truth, read_visium
from activespot.loop import sample_blocks, simulate, supervised_ceiling

DATA = Path(__file__).resolve().parents[1] / "data" / "visium"
TARGETS = {165: 0.85, 605: 0.93}


def load_section(name: str, config: Config) -> tuple:
    """A DLPFC section's truth (aligned to its spots), feature blocks and neighbour graph."""
    folder = DATA / name
    adata = read_visium(folder)
    truth = read_truth(folder / "ground_truth_layers.csv", column="layer", barcodes=adata.obs_names)
    blocks = sample_blocks(adata, config, progress=False)
    graph, _ = spatial_graph(adata, rings=1)
    return truth, blocks, graph


def run(name: str, config: Config, seeds: list[int]) -> dict:
    truth, blocks, graph = load_section(name, config)
    runs: dict[str, list] = {}
    for strategy in (config.select.strategy, "random"):
        for seed in seeds:
            cfg = config.updated({"select": {"strategy": strategy}})
            result, _ = simulate(blocks, truth, graph=graph, config=cfg, seed=seed)
            runs.setdefault(strategy, []).append(result["rounds"])
    ceiling = [supervised_ceiling(blocks, truth, graph=graph, config=config, seed=s)["pool_weighted_f1"] for s in seeds]
    return {"section": name, "runs": runs, "full_supervision": float(np.mean(ceiling))}


def table(result: dict, strategy: str) -> str:
    main, rand = result["runs"][strategy], result["runs"]["random"]
    lines = [
        f"| labels | {strategy} wF1 | random wF1 | {strategy} macro F1 | misclassified % | "
        "wF1, labels substituted | s/round (median) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for i in range(len(main[0])):

        def mean(key, runs=main, i=i):
            return float(np.mean([r[i][key] for r in runs]))

        lines.append(
            f"| {mean('n_labeled'):.0f} | {mean('pool_weighted_f1'):.3f} | {mean('pool_weighted_f1', rand):.3f} | "
            f"{mean('pool_macro_f1'):.3f} | {mean('pool_misclassified_pct'):.1f} | "
            f"{mean('pool_weighted_f1_labels_substituted'):.3f} | "
            f"{float(np.median([r[i]['seconds'] for r in main])):.2f} |"
        )
    lines.append(f"| all ({result['section']}) | full supervision {result['full_supervision']:.3f} | | | | | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", nargs="+", default=["dlpfc_151673", "dlpfc_151674"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--context-rings", type=int, default=None, help="Override features.context_rings.")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    config = Config()
    if args.context_rings is not None:
        config = config.updated({"features": {"context_rings": args.context_rings}})
    results = []
    for name in args.sections:
        start = time.perf_counter()
        result = run(name, config, args.seeds)
        results.append(result)
        print(f"\n### {name} (context_rings={config.features.context_rings}, {time.perf_counter() - start:.0f} s)\n")
        print(table(result, config.select.strategy), flush=True)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"config": config.to_dict(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
