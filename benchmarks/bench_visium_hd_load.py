"""Scale check: read a synthetic Visium HD 8 µm output with ~600k bins through ``read_visium``.

A real 8 µm HD sample has 500-700k bins under tissue, so the reader must stay vectorised (no
per-bin Python loop) and must not copy the matrix more than it has to. This writes an HD
``outs`` folder (Parquet positions, a 10x h5 with ``--per-bin`` genes per bin, scale factors,
a hires and a lowres PNG), then reads it in a child process so that its peak memory is the
reader's alone.

Usage::

    .venv/bin/python benchmarks/bench_visium_hd_load.py [--side 800] [--genes 18000] [--per-bin 20]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from PIL import Image

BIN_UM = 8
MICRONS_PER_PIXEL = 0.2738  # a typical HD full-resolution image
HIRES_SIDE = 6000  # Space Ranger's hires image for HD is up to 6000 px

READ = """
import sys, time, warnings
from activespot.io._visium import read_visium
start = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    adata = read_visium(sys.argv[1], bin_size={bin_um})
print(f"read {{adata.n_obs:,}} bins x {{adata.n_vars:,}} genes, {{adata.X.nnz:,}} counts in "
      f"{{time.perf_counter() - start:.1f}} s")
"""


def build(outs: Path, *, side: int, n_genes: int, per_bin: int, seed: int = 0) -> None:
    """Write a square ``side`` x ``side`` grid of bins, the central 85 % of rows under tissue."""
    rng = np.random.default_rng(seed)
    bins = outs / "binned_outputs" / f"square_{BIN_UM:03d}um"
    (bins / "spatial").mkdir(parents=True)
    rows, cols = np.divmod(np.arange(side * side, dtype=np.int64), side)
    bin_px = BIN_UM / MICRONS_PER_PIXEL
    margin = int(side * 0.075)
    in_tissue = ((rows >= margin) & (rows < side - margin)).astype(np.int32)
    barcodes = pd.Series(rows).map("s_008um_{:05d}_".format) + pd.Series(cols).map("{:05d}-1".format)
    pd.DataFrame(
        {
            "barcode": barcodes,
            "in_tissue": in_tissue,
            "array_row": rows,
            "array_col": cols,
            "pxl_row_in_fullres": (rows + 0.5) * bin_px,
            "pxl_col_in_fullres": (cols + 0.5) * bin_px,
        }
    ).to_parquet(bins / "spatial" / "tissue_positions.parquet", index=False)

    full_px = side * bin_px
    hires_scalef = min(1.0, HIRES_SIDE / full_px)
    (bins / "spatial" / "scalefactors_json.json").write_text(
        json.dumps(
            {
                "spot_diameter_fullres": bin_px,
                "bin_size_um": float(BIN_UM),
                "microns_per_pixel": MICRONS_PER_PIXEL,
                "tissue_hires_scalef": hires_scalef,
                "tissue_lowres_scalef": hires_scalef / 10,
                "regist_target_img_scalef": hires_scalef,
            }
        )
    )
    for name, scalef in (("hires", hires_scalef), ("lowres", hires_scalef / 10)):
        size = int(full_px * scalef)
        gradient = np.linspace(0, 255, size, dtype=np.uint8)
        image = np.stack(np.broadcast_arrays(gradient[:, None], gradient[None, :], np.uint8(128)), axis=2)
        Image.fromarray(np.ascontiguousarray(image)).save(bins / "spatial" / f"tissue_{name}_image.png")

    kept = np.flatnonzero(in_tissue)
    indices = np.sort(rng.integers(0, n_genes, (len(kept), per_bin)), axis=1).ravel()
    with h5py.File(bins / "filtered_feature_bc_matrix.h5", "w") as handle:
        handle.attrs["library_ids"] = np.array([b"hd_benchmark"])
        matrix = handle.create_group("matrix")
        matrix["data"] = rng.integers(1, 5, indices.size).astype(np.int32)
        matrix["indices"] = indices
        matrix["indptr"] = np.arange(len(kept) + 1, dtype=np.int64) * per_bin
        matrix["shape"] = np.array([n_genes, len(kept)], dtype=np.int32)
        matrix["barcodes"] = barcodes.to_numpy()[kept].astype("S")
        features = matrix.create_group("features")
        features["id"] = np.array([f"ENSG{i:011d}" for i in range(n_genes)], dtype="S")
        features["name"] = np.array([f"Gene{i}" for i in range(n_genes)], dtype="S")
        features["feature_type"] = np.full(n_genes, b"Gene Expression")
        features["genome"] = np.full(n_genes, b"GRCh38")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", type=int, default=800, help="bins per side (800 -> 640,000 bins)")
    parser.add_argument("--genes", type=int, default=18000)
    parser.add_argument("--per-bin", type=int, default=20, help="non-zero genes per bin")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        outs = Path(tmp) / "hd_benchmark" / "outs"
        start = time.perf_counter()
        build(outs, side=args.side, n_genes=args.genes, per_bin=args.per_bin)
        print(f"built {args.side**2:,} bins in {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", READ.format(bin_um=BIN_UM), str(outs)], check=True)
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux reports KiB
        print(f"reader process: {time.perf_counter() - start:.1f} s wall (with imports), peak RSS {peak_mib:,.0f} MiB")


if __name__ == "__main__":
    main()
