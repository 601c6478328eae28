"""Foundation-model embedding at production speed, on whatever accelerator this machine has.

One script of about five minutes that prints JSON (issue 14):

- **bare**: ViT-L/16 (UNI's shape, random init) forward patches/s on random 224 px batches, at fp32
  and under bf16 autocast (fp16 where the GPU has no bf16);
- **end to end**: ``embed_spots`` from a synthetic 20k x 20k px pyramidal BigTIFF at 0.25 µm/px
  (JPEG tiles of real H&E from ``data/cells``, five levels, pixel size in its resolution tags):
  spots on a Visium-like hex grid, patches read from the level UNI was trained at (level 1,
  0.5 µm/px), cropped by loader workers, normalised and embedded on the device at the default
  precision, collected as float32. The rate is the difference of a short and a long run, so it
  leaves out what a section pays once (loading the weights, starting the loader workers);
- **study**: ``study features`` of two sections on that slide, in this process and on a
  LocalCluster of 1 and 2 workers, seconds per study including the cluster's start (UNI on a GPU;
  the descriptor on a CPU, where a ViT-L would take hours).

Target on a GPU: end to end >= 90 % of the bare rate at the same precision. On a CPU the script
runs as well (fewer patches, in a fixed time budget) and says so in ``device``.

    .venv/bin/python benchmarks/bench_gpu.py [--json OUT] [--batch-size 64] [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from scipy import sparse

from activespot import _constants as K
from activespot.features import (
    autocast_dtype,
    build_model,
    embed_spots,
    get_backbone,
    resolve_device,
    resolve_precision,
)

REPO = Path(__file__).resolve().parents[1]
HE_TILE = REPO / "data" / "cells" / "consep_train6" / "example_images" / "train_6.png"
SLIDE_SIDE = 20_000
SLIDE_MPP = 0.25  # µm per level-0 pixel: a 40x scan
TIFF_TILE = 256
SPOT_PITCH_UM = 50.0  # denser than Visium's 100 µm, so a GPU has enough patches to reach steady state


def write_synthetic_slide(path: Path, *, side: int = SLIDE_SIDE, mpp: float = SLIDE_MPP) -> Path:
    """A pyramidal JPEG-tiled BigTIFF made of one real H&E tile, repeated mirror-wise at every level."""
    import tifffile
    from PIL import Image

    base = np.asarray(Image.open(HE_TILE).convert("RGB"))
    base = np.concatenate([base, base[::-1]], axis=0)
    base = np.concatenate([base, base[:, ::-1]], axis=1)  # mirrored: seamless when repeated
    n_levels = 1 + max(0, math.floor(math.log2(side / 1024)))
    options = {
        "tile": (TIFF_TILE, TIFF_TILE),
        "photometric": "rgb",
        "compression": "jpeg",
        "compressionargs": {"level": 85},
        "resolutionunit": "CENTIMETER",
        "metadata": None,
    }

    def tiles(level: int):
        factor = 2**level
        shrunk = np.asarray(Image.fromarray(base).reduce(factor)) if factor > 1 else base
        height = width = math.ceil(side / factor)
        for y in range(0, height, TIFF_TILE):
            rows = np.arange(y, y + TIFF_TILE) % shrunk.shape[0]
            band = shrunk[rows]
            for x in range(0, width, TIFF_TILE):
                yield band[:, np.arange(x, x + TIFF_TILE) % shrunk.shape[1]]

    with tifffile.TiffWriter(path, bigtiff=True) as tif:
        for level in range(n_levels):
            size = math.ceil(side / 2**level)
            resolution = (1e4 / (mpp * 2**level),) * 2  # pixels per cm
            tif.write(
                tiles(level),
                shape=(size, size, 3),
                dtype=np.uint8,
                resolution=resolution,
                subifds=n_levels - 1 if level == 0 else None,
                subfiletype=1 if level else 0,
                **options,
            )
    return path


def spots_on_slide(slide: Path, *, pitch_um: float = SPOT_PITCH_UM, limit: int | None = None) -> AnnData:
    """Visium-like spots (55 µm, hex grid) over the slide, with the slide as the full-resolution image."""
    pitch = pitch_um / SLIDE_MPP
    margin = 2 * pitch
    rows = np.arange(margin, SLIDE_SIDE - margin, pitch * math.sqrt(3) / 2)
    xy = [
        (x + (pitch / 2 if i % 2 else 0), y)
        for i, y in enumerate(rows)
        for x in np.arange(margin, SLIDE_SIDE - margin, pitch)
    ]
    xy = np.asarray(xy if limit is None else xy[:limit])
    adata = AnnData(obs=pd.DataFrame(index=[f"spot{i:06d}-1" for i in range(len(xy))]))
    adata.obsm[K.SPATIAL_KEY] = xy
    adata.uns[K.SPATIAL_KEY] = {
        "slide": {
            K.IMAGES_KEY: {},
            K.SCALEFACTORS_KEY: {K.SPOT_DIAMETER: K.VISIUM_SPOT_UM / SLIDE_MPP},
            K.METADATA_KEY: {K.FULLRES_PATH_KEY: str(slide)},
        }
    }
    return adata


def study_seconds(
    scratch: Path, slide: Path, backbone: tuple[str, Path | None], *, device: str, spots: int, sections: int = 2
) -> dict:
    """Seconds of ``study features`` over ``sections`` sections on the slide: here, and on 1 and 2 local workers.

    Each scheduler gets a fresh study, so every run embeds every section (nothing comes from a cache).
    """
    from activespot.study import Study, update_study_features

    outs = []
    for index in range(sections):
        located = spots_on_slide(slide, limit=spots * (index + 1))[spots * index :]  # disjoint spots
        counts = np.random.default_rng(index).poisson(1.0, size=(located.n_obs, 50)).astype(np.float32)
        adata = AnnData(
            X=sparse.csr_matrix(counts),
            obs=located.obs,
            var=pd.DataFrame(index=[f"gene{g}" for g in range(50)]),
            obsm=dict(located.obsm),
            uns=located.uns,
        )
        adata.write_h5ad(scratch / f"section{index}.h5ad")
        outs.append(f"section{index},section{index}.h5ad,{slide}")
    manifest = scratch / "sections.csv"
    manifest.write_text("sample,visium,image\n" + "\n".join(outs) + "\n")
    name, weights = backbone
    settings = {"backbone": name, "expression": False, "context_rings": 0}
    if weights is not None:
        settings["weights"] = str(weights)
    seconds = {"backbone": name, "sections": sections, "spots_per_section": spots}
    for scheduler in ("local", "local:1", "local:2"):
        study = Study.create(scratch / f"study-{scheduler.replace(':', '')}", manifest=manifest)
        start = time.perf_counter()
        update_study_features(study, features=settings, device=device, scheduler=scheduler, progress=False)
        seconds[f"{scheduler}_s"] = round(time.perf_counter() - start, 1)
        print(json.dumps(seconds), file=sys.stderr)
    return seconds


def bare_rate(model: torch.nn.Module, device: torch.device, precision: str, *, batch: int, seconds: float) -> float:
    """Patches/s of the model alone on random device-resident batches, after two warm-up batches."""
    dtype = autocast_dtype(precision)
    # The layout the pipeline hands the model: HWC patches permuted to NCHW (channels-last in memory).
    pixels = torch.rand(batch, 224, 224, 3, device=device).permute(0, 3, 1, 2)
    done, start = 0, None
    with torch.inference_mode(), torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
        for step in range(10_000):
            model(pixels)
            if step == 1:
                _sync(device)
                start = time.perf_counter()
            elif step > 1:
                done += batch
                if step % 4 == 0:
                    _sync(device)
                    if time.perf_counter() - start > seconds:
                        break
        _sync(device)
    return done / (time.perf_counter() - start)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=None, help="Also write the result here.")
    parser.add_argument("--batch-size", type=int, default=None, help="Default: 128 on a GPU, 4 on a CPU.")
    parser.add_argument("--seconds", type=float, default=20.0, help="Time budget of each measurement.")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    device = resolve_device(args.device)
    gpu = device.type == "cuda"
    batch = args.batch_size or (128 if gpu else 4)
    result: dict = {
        "device": torch.cuda.get_device_name(device) if gpu else f"{device} ({torch.get_num_threads()} threads)",
        "torch": torch.__version__,
        "batch_size": batch,
    }
    spec = get_backbone("uni")  # ViT-L/16, 224 px, trained at 0.5 µm/px
    with tempfile.TemporaryDirectory(prefix="activespot-bench-gpu-") as scratch:
        scratch = Path(scratch)
        torch.manual_seed(0)
        model = build_model(spec, pretrained=False).eval()
        weights = scratch / "vit_l16_random.safetensors"
        from safetensors.torch import save_file

        save_file(model.state_dict(), str(weights))
        model.to(device)
        low = resolve_precision("auto", device) if gpu else "bf16"
        result["bare_patches_per_s"] = {
            precision: round(bare_rate(model, device, precision, batch=batch, seconds=args.seconds), 1)
            for precision in ("fp32", low)
        }
        del model
        print(json.dumps(result), file=sys.stderr)

        start = time.perf_counter()
        slide = write_synthetic_slide(scratch / "slide.tif")
        result["slide"] = {
            "side_px": SLIDE_SIDE,
            "microns_per_pixel": SLIDE_MPP,
            "bytes": slide.stat().st_size,
            "write_s": round(time.perf_counter() - start, 1),
        }
        precision = resolve_precision("auto", device)
        expected = result["bare_patches_per_s"].get(precision, result["bare_patches_per_s"]["fp32"])
        # Two runs of different lengths: their difference is the steady state, without the weights'
        # loading or the loader workers' start, which a section pays once.
        short, long = (2_000, None) if gpu else (batch, 3 * batch)
        runs = []
        for limit in (short, long):
            adata = spots_on_slide(slide, limit=limit)
            _, info = embed_spots(
                adata, spec.name, weights=weights, device=str(device), batch_size=batch, progress=False
            )
            runs.append((adata.n_obs, info["seconds"]))
        (n_short, t_short), (n_long, t_long) = runs
        rate = (n_long - n_short) / max(t_long - t_short, 1e-9)
        result["end_to_end"] = {
            "patches": [n_short, n_long],
            "seconds": [t_short, t_long],
            "precision": info["precision"],
            "image_level": info["patch"]["image_level"],
            "patch_side_px_at_level": round(info["patch"]["side_px"], 1),
            "patches_per_s": round(rate, 1),
            "share_of_bare": round(rate / expected, 3),
            "target_share": 0.90,
        }
        print(json.dumps(result), file=sys.stderr)
        backbone = (spec.name, weights) if gpu else ("descriptor", None)  # a ViT-L on 2 CPU cores: hours
        result["study"] = study_seconds(scratch, slide, backbone, device=str(device), spots=2_000 if gpu else 600)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
