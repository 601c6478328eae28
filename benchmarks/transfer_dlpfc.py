"""Zero-shot label transfer DLPFC 151673 -> 151674 (issue 6's targets), with and without Harmony.

Sources: (1) every published layer label of 151673; (2) only the labels an active-learning run of
605 spots collected on 151673 (the default strategy, seed 0: init 55 + 10 rounds of 55, via
activespot.simulate). Each source project transfers to 151674 with ``transfer_labels`` (project
defaults: descriptor morphology, 1000 joint HVGs -> 50 PCs, 3 context rings, fused MLP), and
the transferred predictions are scored against 151674's published layers (Cohen's kappa,
accuracy, weighted F1 over every spot with a layer).

    python benchmarks/transfer_dlpfc.py --json benchmarks/results/transfer_dlpfc.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

from activespot import _constants as K
from activespot.config import Config
from activespot.features import spatial_graph
from activespot.io import read_visium
from activespot.loop import sample_blocks
from activespot.project import Project
from activespot.simulate import read_truth, simulate
from activespot.transfer import agreement, read_annotation, transfer_labels

DATA = Path(__file__).resolve().parents[1] / "data" / "visium"
SOURCE, TARGET = DATA / "dlpfc_151673", DATA / "dlpfc_151674"
TARGET_KAPPA = 0.80


def active_learning_barcodes(seed: int = 0, rounds: int = 10) -> list[str]:
    """Barcodes a simulated annotator labelled on 151673 before the last round's model (605 + class cover)."""
    adata = read_visium(SOURCE)
    truth = read_truth(SOURCE / "ground_truth_layers.csv", column="layer", barcodes=adata.obs_names)
    config = Config()
    blocks = sample_blocks(adata, config, progress=False)
    graph, _ = spatial_graph(adata, rings=1)
    result, _ = simulate(blocks, truth, graph=graph, config=config, rounds=rounds, seed=seed)
    asked = sorted({int(i) for batch in result["queried"] for i in batch})
    return list(adata.obs_names[asked])


def transfer_once(labels: pd.Series, *, harmony: bool, workdir: Path, name: str) -> dict:
    source = Project.create(workdir / f"source_{name}", visium=SOURCE, classes=sorted(labels.unique()))
    source.add_labels(labels.to_dict(), annotator="benchmark", source=K.SOURCE_IMPORTED)
    start = time.perf_counter()
    summary = transfer_labels(source, TARGET, out=workdir / f"target_{name}", harmony=harmony, progress=False)
    seconds = time.perf_counter() - start
    truth = read_annotation(TARGET / "ground_truth_layers.csv", column="layer")
    result = agreement(truth, summary.predictions["label"], name_a="151674 truth", name_b="transferred")
    source.close()
    return {
        "source_labels": len(labels),
        "harmony": harmony,
        "kappa": result.kappa,
        "accuracy": result.accuracy,
        "weighted_f1": result.weighted_f1,
        "n_scored": result.n_common,
        "common_genes": summary.common_genes,
        "genes_per_sample": summary.genes_per_sample,
        "seconds": round(seconds, 1),
        "confusion": result.to_dict()["confusion"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0, help="Seed of the active-learning run.")
    args = parser.parse_args()
    warnings.simplefilter("ignore", UserWarning)  # "lowres image only" for every read
    truth = read_annotation(SOURCE / "ground_truth_layers.csv", column="layer")
    al = truth.reindex(active_learning_barcodes(seed=args.seed)).dropna()
    print(f"active learning collected {len(al)} labels on 151673")
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, labels in (("all", truth), ("al605", al)):
            for harmony in (True, False):
                run = transfer_once(labels, harmony=harmony, workdir=Path(tmp), name=f"{name}_{int(harmony)}")
                run["labels"] = name
                runs.append(run)
                print(
                    f"{name:6s} harmony={harmony!s:5s} kappa={run['kappa']:.3f} acc={run['accuracy']:.3f} "
                    f"wF1={run['weighted_f1']:.3f} ({run['seconds']:.0f} s)",
                    flush=True,
                )
    print("\n| source labels (151673) | Harmony | κ vs 151674 truth | accuracy | weighted F1 | seconds |")
    print("|---|---|---:|---:|---:|---:|")
    for run in runs:
        mark = " ✓" if run["labels"] == "all" and run["kappa"] >= TARGET_KAPPA else ""
        print(
            f"| {run['labels']} ({run['source_labels']}) | {'on' if run['harmony'] else 'off'} | "
            f"{run['kappa']:.3f}{mark} | {run['accuracy']:.3f} | {run['weighted_f1']:.3f} | {run['seconds']:.0f} |"
        )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"seed": args.seed, "runs": runs}, indent=2), encoding="utf-8")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
