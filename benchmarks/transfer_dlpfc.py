"""Zero-shot label transfer between DLPFC 151673 and 151674 (issue 6's targets), with and without Harmony.

Sources: (1) every published layer label of the source section; (2) only the labels an
active-learning run of 605 spots collected on it (the default strategy, seed 0: init 55 + 10
rounds of 55, via activespot.simulate). Each source project transfers to the other section with
``transfer_labels`` (project defaults: descriptor morphology, 1000 joint HVGs -> 50 PCs, 3 context
rings, fused MLP, ``transfer.ensemble`` seeds averaged), and the transferred predictions are scored
against the target's published layers (Cohen's kappa, accuracy, weighted F1 over every spot with
a layer). Issue 6's target is 151673 -> 151674; ``--reverse`` adds 151674 -> 151673 as a held-out
check of the same settings, and ``--ensemble 1 5`` compares single models with the ensemble.

    python benchmarks/transfer_dlpfc.py --reverse --ensemble 1 5 --json benchmarks/results/transfer_dlpfc.json
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
from activespot.io import read_truth, read_visium
from activespot.loop import sample_blocks, simulate
from activespot.project import Project
from activespot.review import agreement, read_annotation
from activespot.transfer import transfer_labels

DATA = Path(__file__).resolve().parents[1] / "data" / "visium"
SECTIONS = {name: DATA / f"dlpfc_{name}" for name in ("151673", "151674")}
TARGET_KAPPA = 0.80  # issue 6, for 151673 -> 151674 with every 151673 label


def layers(section: str) -> pd.Series:
    """Published layer of each spot of ``section`` that has one."""
    return read_annotation(SECTIONS[section] / "ground_truth_layers.csv", column="layer")


def active_learning_barcodes(section: str, *, seed: int = 0, rounds: int = 10) -> list[str]:
    """Barcodes a simulated annotator labelled on ``section`` before the last round's model (605 + class cover)."""
    adata = read_visium(SECTIONS[section])
    truth = read_truth(SECTIONS[section] / "ground_truth_layers.csv", column="layer", barcodes=adata.obs_names)
    config = Config()
    blocks = sample_blocks(adata, config, progress=False)
    graph, _ = spatial_graph(adata, rings=1)
    result, _ = simulate(blocks, truth, graph=graph, config=config, rounds=rounds, seed=seed)
    asked = sorted({int(i) for batch in result["queried"] for i in batch})
    return list(adata.obs_names[asked])


def transfer_once(
    labels: pd.Series, *, source: str, target: str, harmony: bool, ensemble: int, workdir: Path, name: str
) -> dict:
    project = Project.create(workdir / f"source_{name}", visium=SECTIONS[source], classes=sorted(labels.unique()))
    project.save_config(project.config.updated({"transfer": {"ensemble": ensemble}}))
    project.add_labels(labels.to_dict(), annotator="benchmark", source=K.SOURCE_IMPORTED)
    start = time.perf_counter()
    summary = transfer_labels(
        project, SECTIONS[target], out=workdir / f"target_{name}", harmony=harmony, progress=False
    )
    seconds = time.perf_counter() - start
    result = agreement(layers(target), summary.predictions["label"], name_a=f"{target} truth", name_b="transferred")
    project.close()
    return {
        "source": source,
        "target": target,
        "source_labels": len(labels),
        "harmony": harmony,
        "ensemble": summary.ensemble,
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
    parser.add_argument("--reverse", action="store_true", help="Also transfer 151674 -> 151673 (held-out check).")
    parser.add_argument(
        "--ensemble",
        type=int,
        nargs="+",
        default=[Config().transfer.ensemble],
        help="Values of transfer.ensemble to run (default: the project default).",
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore", UserWarning)  # "lowres image only" for every read
    directions = [("151673", "151674"), ("151674", "151673")][: 2 if args.reverse else 1]
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for source, target in directions:
            truth = layers(source)
            al = truth.reindex(active_learning_barcodes(source, seed=args.seed)).dropna()
            print(f"active learning collected {len(al)} labels on {source}", flush=True)
            for name, labels in (("all", truth), ("al605", al)):
                for harmony in (True, False):
                    for ensemble in args.ensemble:
                        tag = f"{source}_{name}_{int(harmony)}_{ensemble}"
                        run = transfer_once(
                            labels,
                            source=source,
                            target=target,
                            harmony=harmony,
                            ensemble=ensemble,
                            workdir=Path(tmp),
                            name=tag,
                        )
                        run["labels"] = name
                        runs.append(run)
                        print(
                            f"{source}->{target} {name:6s} harmony={harmony!s:5s} ensemble={ensemble} "
                            f"kappa={run['kappa']:.3f} acc={run['accuracy']:.3f} wF1={run['weighted_f1']:.3f} "
                            f"({run['seconds']:.0f} s)",
                            flush=True,
                        )
    print("\n| direction | source labels | Harmony | ensemble | κ vs target truth | accuracy | weighted F1 | seconds |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for run in runs:
        issue_target = run["source"] == "151673" and run["labels"] == "all"
        mark = (" ✓" if run["kappa"] >= TARGET_KAPPA else " ✗") if issue_target and run["harmony"] else ""
        print(
            f"| {run['source']} → {run['target']} | {run['labels']} ({run['source_labels']}) | "
            f"{'on' if run['harmony'] else 'off'} | {run['ensemble']} | {run['kappa']:.3f}{mark} | "
            f"{run['accuracy']:.3f} | {run['weighted_f1']:.3f} | {run['seconds']:.0f} |"
        )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"seed": args.seed, "runs": runs}, indent=2), encoding="utf-8")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
