"""Writable copies of the real Visium folders and small synthetic Space Ranger outputs.

The synthetic folders stand in for what the bundled data lacks: small pixel coordinates (so a
full-resolution TIFF can be written in milliseconds) and Visium HD binned outputs.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import sparse

from tests.conftest import HEART, MOUSE_BRAIN

HD_BIN_UM = 8
HD_MICRONS_PER_PIXEL = 0.5  # so an 8 µm bin is 16 full-resolution pixels


def copy_folder(source: Path, target: Path) -> Path:
    """Copy a data folder and make it writable (the shared originals are read-only)."""
    shutil.copytree(source, target)
    for path in target.rglob("*"):
        path.chmod(0o644 if path.is_file() else 0o755)
    return target


def write_10x_h5(path: Path, counts: sparse.spmatrix, barcodes, gene_names, *, gene_ids=None, attrs=None) -> Path:
    """Write a 10x HDF5 v3 feature-barcode matrix; ``counts`` is spots x genes as Space Ranger counts them."""
    matrix = sparse.csc_matrix(counts.T)  # the file stores genes x barcodes, column-compressed by barcode
    gene_ids = gene_ids if gene_ids is not None else [f"ENSG{i:011d}" for i in range(len(gene_names))]
    with h5py.File(path, "w") as handle:
        for key, value in (attrs or {"library_ids": np.array([b"synthetic"])}).items():
            handle.attrs[key] = value
        group = handle.create_group("matrix")
        group["data"] = matrix.data.astype(np.int32)
        group["indices"] = matrix.indices.astype(np.int64)
        group["indptr"] = matrix.indptr.astype(np.int64)
        group["shape"] = np.array(matrix.shape, dtype=np.int32)
        group["barcodes"] = np.array(barcodes, dtype="S")
        features = group.create_group("features")
        features["id"] = np.array(gene_ids, dtype="S")
        features["name"] = np.array(gene_names, dtype="S")
        features["feature_type"] = np.array([b"Gene Expression"] * len(gene_names))
        features["genome"] = np.array([b"GRCh38"] * len(gene_names))
    return path


def write_png(path: Path, height: int, width: int, *, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
    return path


def _counts(n_spots: int, n_genes: int, seed: int) -> sparse.csr_matrix:
    rng = np.random.default_rng(seed)
    return sparse.random(
        n_spots, n_genes, density=0.3, format="csr", random_state=rng, data_rvs=lambda k: rng.integers(1, 20, k)
    ).astype(np.int32)


def build_outs(folder: Path, *, seed: int = 0) -> Path:
    """A Space Ranger 2.x outs folder: 10 x 8 spots on a 360 x 300 px slide, 60 under tissue.

    Spot (row r, col c) sits at x = 40 + 30c, y = 40 + 30r full-resolution pixels; the hires
    image is half size. The matrix holds the 60 in-tissue spots and 12 genes, two named alike.
    """
    spatial = folder / "spatial"
    spatial.mkdir(parents=True)
    rows, cols = np.divmod(np.arange(80), 10)
    table = pd.DataFrame(
        {
            "barcode": [f"AAAC{i:012d}-1" for i in range(80)],
            "in_tissue": (rows < 6).astype(int),
            "array_row": rows,
            "array_col": cols,
            "pxl_row_in_fullres": 40 + 30 * rows,
            "pxl_col_in_fullres": 40 + 30 * cols,
        }
    )
    table.to_csv(spatial / "tissue_positions.csv", index=False)
    scalefactors = {
        "spot_diameter_fullres": 25.0,
        "tissue_hires_scalef": 0.5,
        "tissue_lowres_scalef": 0.1,
        "fiducial_diameter_fullres": 37.5,
    }
    (spatial / "scalefactors_json.json").write_text(json.dumps(scalefactors))
    write_png(spatial / "tissue_hires_image.png", 150, 180, seed=seed)
    write_png(spatial / "tissue_lowres_image.png", 30, 36, seed=seed + 1)
    genes = [f"GENE{i}" for i in range(11)] + ["GENE0"]
    in_tissue = table[table.in_tissue == 1]
    write_10x_h5(
        folder / "filtered_feature_bc_matrix.h5", _counts(len(in_tissue), len(genes), seed), in_tissue.barcode, genes
    )
    return folder


def build_visium_hd(outs: Path, *, side: int = 20, seed: int = 0) -> Path:
    """A Visium HD outs folder with one bin size (8 µm): ``side`` x ``side`` bins, the top three quarters in tissue."""
    bins = outs / "binned_outputs" / f"square_{HD_BIN_UM:03d}um"
    spatial = bins / "spatial"
    spatial.mkdir(parents=True)
    (outs / "spatial").mkdir()
    rows, cols = np.divmod(np.arange(side * side), side)
    bin_px = HD_BIN_UM / HD_MICRONS_PER_PIXEL
    table = pd.DataFrame(
        {
            "barcode": [f"s_{HD_BIN_UM:03d}um_{r:05d}_{c:05d}-1" for r, c in zip(rows, cols, strict=True)],
            "in_tissue": (rows < side * 3 // 4).astype(np.int32),
            "array_row": rows,
            "array_col": cols,
            "pxl_row_in_fullres": (rows + 0.5) * bin_px,
            "pxl_col_in_fullres": (cols + 0.5) * bin_px,
        }
    )
    table.to_parquet(spatial / "tissue_positions.parquet", index=False)
    scalefactors = {
        "spot_diameter_fullres": bin_px,
        "bin_size_um": float(HD_BIN_UM),
        "microns_per_pixel": HD_MICRONS_PER_PIXEL,
        "tissue_hires_scalef": 0.25,
        "tissue_lowres_scalef": 0.05,
        "regist_target_img_scalef": 0.5,
    }
    (spatial / "scalefactors_json.json").write_text(json.dumps(scalefactors))
    full = int(side * bin_px)
    write_png(spatial / "tissue_hires_image.png", full // 4, full // 4, seed=seed)
    write_png(outs / "spatial" / "tissue_lowres_image.png", full // 20, full // 20, seed=seed + 1)
    in_tissue = table[table.in_tissue == 1]
    write_10x_h5(
        bins / "filtered_feature_bc_matrix.h5",
        _counts(len(in_tissue), 15, seed),
        in_tissue.barcode,
        [f"Gene{i}" for i in range(15)],
    )
    return outs


@pytest.fixture
def synthetic_outs(tmp_path: Path) -> Path:
    return build_outs(tmp_path / "sample_a" / "outs")


@pytest.fixture
def synthetic_hd(tmp_path: Path) -> Path:
    return build_visium_hd(tmp_path / "hd_sample" / "outs")


@pytest.fixture
def heart_copy(tmp_path: Path) -> Path:
    return copy_folder(HEART, tmp_path / "heart")


@pytest.fixture
def mouse_brain_copy(tmp_path: Path) -> Path:
    return copy_folder(MOUSE_BRAIN, tmp_path / "mouse_brain")
