"""A synthetic Visium HD ``outs`` folder with a planted answer, for scale and accuracy benchmarks.

Real HD sections with manual labels are not available offline, and a speed benchmark that does not
also check its result can be fast and wrong. This builds a square section of ``side`` × ``side``
8 µm bins (800 → 640,000 bins) divided into Voronoi regions, each region of one tissue class:

- **expression**: every bin draws a few dozen UMIs from a shared background profile plus its
  class's marker genes, so one bin alone is a weak witness and a neighbourhood is a strong one,
  as in real 8 µm bins;
- **morphology**: the hires H&E is tinted and textured per class (nuclei density and size, eosin
  tone), with two classes looking alike, so morphology alone cannot solve the task either;
- **16 µm bins**: Space Ranger's 2 × 2 merge of the same grid (counts summed, centres averaged);
- **truth**: ``truth_008um.csv`` and ``truth_016um.csv`` (``Barcode,Region``; a 16 µm bin takes
  the majority class of its four 8 µm bins, ties left out) next to ``outs``.

Space Ranger's file layout (Parquet positions, 10x HDF5, scale factors, hires/lowres PNG) is the
one :func:`activespot.io.read_visium` reads.

Usage as a module: ``build_hd_outs(folder, side=800, seed=0)``; from the shell::

    .venv/bin/python benchmarks/synthetic_hd.py OUT_FOLDER [--side 800] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from PIL import Image
from scipy import ndimage, sparse

MICRONS_PER_PIXEL = 0.2738  # a typical HD full-resolution image
HIRES_SIDE = 6000  # Space Ranger's hires image for HD is at most 6000 px
CLASSES = ("Tumour", "Stroma", "Immune", "Necrosis", "Normal", "Fat")
_MARKERS_PER_CLASS = 25


def build_hd_outs(
    folder: str | Path,
    *,
    side: int = 800,
    n_genes: int = 5000,
    n_regions: int = 30,
    umis_per_bin: float = 40.0,
    marker_share: float = 0.06,
    seed: int = 0,
) -> dict[str, Path]:
    """Write ``folder/outs`` (8 and 16 µm bins) and the truth CSVs; return their paths.

    Parameters
    ----------
    folder
        Created if missing; ``outs/`` and the truth CSVs are written inside.
    side
        Bins per side of the 8 µm grid (even, so that 16 µm bins tile it).
    n_genes
        Genes of the panel.
    n_regions
        Voronoi regions; classes are assigned to them in turn, so every class is present.
    umis_per_bin
        Mean UMIs of an 8 µm bin (log-normal spread).
    marker_share
        Share of a bin's UMIs drawn from its class's marker genes.
    seed
        Everything random follows it; another seed is an independent section.
    """
    if side % 2:
        msg = f"side must be even (16 µm bins are 2 x 2 of 8 µm); got {side}"
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    outs = folder / "outs"
    truth = _regions(side, n_regions, rng)
    counts = _counts(truth.ravel(), n_genes, umis_per_bin, marker_share, rng)
    image = _hires_image(truth, rng)
    rows, cols = np.divmod(np.arange(side * side, dtype=np.int64), side)
    _write_bins(outs, 8, rows, cols, counts, image, seed=seed)
    merge = sparse.csr_matrix(
        (np.ones(side * side, dtype=np.float32), ((rows // 2) * (side // 2) + cols // 2, np.arange(side * side))),
        shape=((side // 2) ** 2, side * side),
    )
    coarse_rows, coarse_cols = np.divmod(np.arange((side // 2) ** 2, dtype=np.int64), side // 2)
    _write_bins(outs, 16, coarse_rows, coarse_cols, (merge @ counts).tocsr(), image, seed=seed)
    paths = {"outs": outs}
    for size, labels in ((8, truth.ravel()), (16, _majority(truth))):
        r, c = np.divmod(np.arange(labels.size, dtype=np.int64), side * 8 // size)
        keep = labels >= 0
        table = pd.DataFrame(
            {"Barcode": _barcodes(size, r[keep], c[keep]), "Region": np.asarray(CLASSES)[labels[keep]]}
        )
        paths[f"truth_{size:03d}um"] = folder / f"truth_{size:03d}um.csv"
        table.to_csv(paths[f"truth_{size:03d}um"], index=False)
    return paths


def _regions(side: int, n_regions: int, rng: np.random.Generator) -> np.ndarray:
    """Class of every 8 µm bin (side, side): Voronoi cells of random seeds, classes in turn."""
    seeds = rng.uniform(0, side, (n_regions, 2))
    region_class = np.arange(n_regions) % len(CLASSES)
    grid = np.stack(np.meshgrid(np.arange(side), np.arange(side), indexing="ij"), axis=-1).reshape(-1, 2) + 0.5
    nearest = np.empty(side * side, dtype=np.int64)
    for start in range(0, side * side, 65536):  # chunks keep the distance matrix small
        part = grid[start : start + 65536]
        nearest[start : start + 65536] = ((part[:, None, :] - seeds[None]) ** 2).sum(-1).argmin(1)
    return region_class[nearest].reshape(side, side)


def _counts(
    classes: np.ndarray, n_genes: int, umis_per_bin: float, marker_share: float, rng: np.random.Generator
) -> sparse.csr_matrix:
    """UMI counts (bins × genes): background draws plus class markers, summed per (bin, gene)."""
    background = 1.0 / np.arange(1, n_genes + 1) ** 0.9  # Zipf-like, as real panels are
    background = rng.permutation(background / background.sum())
    markers = rng.choice(n_genes, (len(CLASSES), _MARKERS_PER_CLASS), replace=False)
    totals = np.maximum(1, rng.lognormal(np.log(umis_per_bin), 0.5, classes.size).round().astype(np.int64))
    from_markers = rng.binomial(totals, marker_share)
    bins = [np.repeat(np.arange(classes.size), totals - from_markers)]
    genes = [rng.choice(n_genes, int((totals - from_markers).sum()), p=background)]
    marker_bins = np.repeat(np.arange(classes.size), from_markers)
    bins.append(marker_bins)
    genes.append(markers[classes[marker_bins], rng.integers(0, _MARKERS_PER_CLASS, marker_bins.size)])
    bins, genes = np.concatenate(bins), np.concatenate(genes)
    matrix = sparse.csr_matrix((np.ones(bins.size, dtype=np.int32), (bins, genes)), shape=(classes.size, n_genes))
    matrix.sum_duplicates()
    return matrix


# Per class: eosin tone (RGB), nuclei per 1000 px², nucleus radius (px). Tumour and Immune look alike.
_LOOKS = {
    "Tumour": ((222, 150, 190), 9.0, 3.0),
    "Stroma": ((235, 170, 200), 2.0, 2.0),
    "Immune": ((220, 148, 188), 9.5, 2.8),
    "Necrosis": ((238, 196, 214), 1.0, 1.5),
    "Normal": ((228, 160, 196), 5.0, 2.5),
    "Fat": ((246, 236, 240), 0.3, 2.0),
}
_HAEMATOXYLIN = np.array([70, 50, 130], dtype=np.float32)


def _hires_image(truth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A hires-sized H&E-like RGB image whose tone and nuclei follow the planted classes."""
    side = truth.shape[0]
    full_px = side * 8 / MICRONS_PER_PIXEL
    pixels = round(full_px * min(1.0, HIRES_SIDE / full_px))
    index = (np.arange(pixels) * side // pixels).astype(np.int64)
    classes = truth[index[:, None], index[None, :]]
    looks = [_LOOKS[name] for name in CLASSES]
    tone = np.array([look[0] for look in looks], dtype=np.float32)[classes]
    density = np.array([look[1] for look in looks], dtype=np.float32)[classes] / 1000
    radius = np.array([look[2] for look in looks], dtype=np.float32)[classes]
    centres = rng.random(classes.shape, dtype=np.float32) < density
    nuclei = np.zeros(classes.shape, dtype=np.float32)
    for r in np.unique(radius):  # one disc size per class: dilate that class's centres with its disc
        y, x = np.ogrid[-int(np.ceil(r)) : int(np.ceil(r)) + 1, -int(np.ceil(r)) : int(np.ceil(r)) + 1]
        disc = x * x + y * y <= r * r
        nuclei = np.maximum(nuclei, ndimage.binary_dilation(centres & (radius == r), structure=disc))
    nuclei = ndimage.gaussian_filter(nuclei, 0.7)[..., None]
    image = tone * (1 - nuclei) + _HAEMATOXYLIN * nuclei
    image += rng.normal(0, 6, image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


def _barcodes(size: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    return (pd.Series(rows).map(f"s_{size:03d}um_{{:05d}}_".format) + pd.Series(cols).map("{:05d}-1".format)).to_numpy()


def _write_bins(
    outs: Path,
    size: int,
    rows: np.ndarray,
    cols: np.ndarray,
    counts: sparse.csr_matrix,
    image: np.ndarray,
    *,
    seed: int,
) -> None:
    bins = outs / "binned_outputs" / f"square_{size:03d}um"
    (bins / "spatial").mkdir(parents=True, exist_ok=True)
    bin_px = size / MICRONS_PER_PIXEL
    barcodes = _barcodes(size, rows, cols)
    pd.DataFrame(
        {
            "barcode": barcodes,
            "in_tissue": np.ones(rows.size, dtype=np.int32),
            "array_row": rows.astype(np.int32),
            "array_col": cols.astype(np.int32),
            "pxl_row_in_fullres": (rows + 0.5) * bin_px,
            "pxl_col_in_fullres": (cols + 0.5) * bin_px,
        }
    ).to_parquet(bins / "spatial" / "tissue_positions.parquet", index=False)
    full_px = (rows.max() + 1) * bin_px
    hires_scalef = image.shape[0] / full_px
    (bins / "spatial" / "scalefactors_json.json").write_text(
        json.dumps(
            {
                "spot_diameter_fullres": bin_px,
                "bin_size_um": float(size),
                "microns_per_pixel": MICRONS_PER_PIXEL,
                "tissue_hires_scalef": hires_scalef,
                "tissue_lowres_scalef": hires_scalef / 10,
                "regist_target_img_scalef": hires_scalef,
            }
        )
    )
    Image.fromarray(image).save(bins / "spatial" / "tissue_hires_image.png", compress_level=1)
    lowres = Image.fromarray(image).resize((image.shape[1] // 10, image.shape[0] // 10), Image.Resampling.BOX)
    lowres.save(bins / "spatial" / "tissue_lowres_image.png")
    n_genes = counts.shape[1]
    by_bin = counts.T.tocsc()  # the 10x h5 stores genes × bins in CSC: a bin's genes are one slice
    with h5py.File(bins / "filtered_feature_bc_matrix.h5", "w") as handle:
        handle.attrs["library_ids"] = np.array([f"synthetic_hd_{seed}".encode()])
        matrix = handle.create_group("matrix")
        matrix["data"] = by_bin.data.astype(np.int32)
        matrix["indices"] = by_bin.indices.astype(np.int64)
        matrix["indptr"] = by_bin.indptr.astype(np.int64)
        matrix["shape"] = np.array([n_genes, rows.size], dtype=np.int32)
        matrix["barcodes"] = barcodes.astype("S")
        features = matrix.create_group("features")
        features["id"] = np.array([f"ENSG{i:011d}" for i in range(n_genes)], dtype="S")
        features["name"] = np.array([f"Gene{i}" for i in range(n_genes)], dtype="S")
        features["feature_type"] = np.full(n_genes, b"Gene Expression")
        features["genome"] = np.full(n_genes, b"GRCh38")


def _majority(truth: np.ndarray) -> np.ndarray:
    """Class of each 16 µm bin: the majority of its four 8 µm bins, -1 on a tie."""
    side = truth.shape[0] // 2
    quads = truth.reshape(side, 2, side, 2).transpose(0, 2, 1, 3).reshape(-1, 4)
    votes = np.stack([(quads == k).sum(axis=1) for k in range(len(CLASSES))], axis=1)
    best = votes.max(axis=1)
    winner = votes.argmax(axis=1)
    return np.where((votes == best[:, None]).sum(axis=1) == 1, winner, -1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--side", type=int, default=800, help="8 µm bins per side (800 -> 640,000 bins)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.perf_counter()
    paths = build_hd_outs(args.folder, side=args.side, seed=args.seed)
    print(json.dumps({"seconds": round(time.perf_counter() - start, 1), **{k: str(v) for k, v in paths.items()}}))


if __name__ == "__main__":
    main()
