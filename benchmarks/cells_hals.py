"""HALS cell-annotation benchmark: workload reduction and effectiveness AUC ratio, mean of 5 seeds.

``python benchmarks/cells_hals.py [--seeds 5] [--json benchmarks/results/cells_hals.json]``

- consep_train6 (development image): 510 nuclei from the instance mask, true classes from
  ``derived/train_6_nuclei.csv`` (``class_color``: red = epithelial, blue = lamina propria).
- brca_m2c_train5 (held out, never used to choose a setting): each of the five images with its
  ``<Y> <X> <class>`` point labels (centroids only, so nucleus outlines come from the stain).

Everything runs with the defaults of :class:`activespot.config.CellsConfig`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from activespot.cells import cell_features, simulate_cells
from activespot.config import CellsConfig
from activespot.io import read_cells

DATA = Path(__file__).resolve().parents[1] / "data" / "cells"
KEYS = ("workload_reduction", "suggestions_shown", "corrected", "effectiveness_auc", "control_auc", "auc_ratio")


def consep():
    folder = DATA / "consep_train6"
    adata = read_cells(folder / "example_images/train_6.png", folder / "example_images/indexed/train_6_mask.png")
    truth = pd.read_csv(folder / "derived/train_6_nuclei.csv", index_col="instance_id")["class_color"]
    adata.obs["truth"] = truth.reindex(adata.obs_names.astype(int)).to_numpy()
    yield "consep_train6", adata


def brca():
    folder = DATA / "brca_m2c_train5"
    for image in sorted((folder / "images").glob("*.png")):
        labels = folder / "labels" / f"{image.stem}_gt_class_coords.txt"
        adata = read_cells(image, labels, nuclei_format="points")
        adata.obs["truth"] = adata.obs["source_class"]
        yield f"brca/{image.stem[:23]}", adata


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--only", choices=["consep", "brca"], default=None)
    args = parser.parse_args()
    config = CellsConfig()
    results = []
    sources = {"consep": consep, "brca": brca}
    for name, source in sources.items():
        if args.only and args.only != name:
            continue
        for dataset, adata in source():
            cell_features(adata, patch_px=config.patch_px, progress=False)
            for seed in range(args.seeds):
                start = time.perf_counter()
                result = simulate_cells(adata, "truth", config=config, seed=seed, progress=False)
                result.update(dataset=dataset, seconds=time.perf_counter() - start)
                results.append(result)
                print(dataset, seed, {k: round(result[k], 4) for k in KEYS}, f"{result['seconds']:.0f}s", flush=True)
    table = pd.DataFrame(results)
    summary = table.groupby("dataset")[list(KEYS)].mean()
    brca_rows = table[table["dataset"].str.startswith("brca")]
    if len(brca_rows):
        # Pooled over the five images: workload from the summed counts, AUCs averaged.
        pooled = brca_rows[list(KEYS)].mean()
        pooled["workload_reduction"] = 1 - brca_rows["corrected"].sum() / brca_rows["suggestions_shown"].sum()
        summary.loc["brca (5 images pooled)"] = pooled
    print(summary.to_string(float_format=lambda v: f"{v:.4f}"))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"config": config.model_dump(), "runs": results, "summary": summary.reset_index().to_dict("records")}
        args.json.write_text(json.dumps(payload, indent=2, default=_plain), encoding="utf-8")


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(type(value).__name__)


if __name__ == "__main__":
    main()
