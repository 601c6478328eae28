"""Embedding throughput: end-to-end patches/s vs. the bare backbone forward, and the cache.

Target: the end-to-end rate (crop, resample, normalise, forward, collect) is at least 90 % of the
bare forward rate on random tensors of the same batch size — cropping and I/O never the
bottleneck — and a second run served from the cache takes under a second.

    .venv/bin/python benchmarks/bench_embedding.py [--threads 2] [--batch-size 32] [--spots N]

resnet18 with random weights (throughput does not depend on their values), DLPFC 151673
(lowres image only, 3,639 spots), 224 px patches.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from activespot.features import build_model, embed_spots, get_backbone

DLPFC = Path(__file__).resolve().parents[1] / "data" / "visium" / "dlpfc_151673"
TARGET_RATIO = 0.90
TARGET_CACHE_S = 1.0


def bare_forward_rate(model: torch.nn.Module, *, batch_size: int, size: int, batches: int) -> float:
    """Patches/s of the model alone on random input, in the faster of the two memory layouts.

    The pipeline hands the model channels-last tensors (patches are HWC images), which oneDNN
    convolves faster than contiguous NCHW; the reference must be the best the model can do.
    """
    contiguous = torch.rand(batch_size, 3, size, size)
    channels_last = torch.rand(batch_size, size, size, 3).permute(0, 3, 1, 2)
    return max(_rate(model, batch, batches) for batch in (contiguous, channels_last))


def _rate(model: torch.nn.Module, batch: torch.Tensor, batches: int) -> float:
    with torch.inference_mode():
        for _ in range(2):  # warm-up: the first batches allocate and pick kernels
            model(batch)
        start = time.perf_counter()
        for _ in range(batches):
            model(batch)
    return batches * len(batch) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--spots", type=int, default=None, help="use only the first N spots (quick look)")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers (0: prefetch thread)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message=".*no tissue_hires_image.*")
    logging.basicConfig(level=logging.WARNING)

    from activespot.io import read_visium

    adata = read_visium(DLPFC)
    if args.spots:
        adata = adata[: args.spots].copy()
    spec = get_backbone("resnet18")
    with tempfile.TemporaryDirectory() as tmp:
        from safetensors.torch import save_file

        torch.manual_seed(0)
        model = build_model(spec, pretrained=False).eval()
        weights = Path(tmp) / "resnet18-random.safetensors"
        save_file(model.state_dict(), str(weights))
        cache = Path(tmp) / "cache"
        n_batches = max(3, min(20, adata.n_obs // args.batch_size))

        bare_before = bare_forward_rate(model, batch_size=args.batch_size, size=spec.input_size, batches=n_batches)
        start = time.perf_counter()
        first, info = embed_spots(
            adata,
            "resnet18",
            weights=weights,
            batch_size=args.batch_size,
            num_workers=args.workers,
            cache_dir=cache,
            progress=False,
        )
        wall = time.perf_counter() - start
        bare_after = bare_forward_rate(model, batch_size=args.batch_size, size=spec.input_size, batches=n_batches)
        start = time.perf_counter()
        again, cached = embed_spots(adata, "resnet18", weights=weights, cache_dir=cache, progress=False)
        cache_s = time.perf_counter() - start

    if not cached["cache_hit"] or not np.array_equal(first, again):
        msg = "the second run did not come from the cache"
        raise SystemExit(msg)
    # The machine is shared: compare with the faster of the two bare measurements around the run
    # (the conservative choice for the ratio).
    bare = max(bare_before, bare_after)
    loop_rate = adata.n_obs / info["seconds"]
    ratio = loop_rate / bare
    rows = [
        ("spots", f"{adata.n_obs}"),
        ("threads / batch / workers", f"{args.threads} / {args.batch_size} / {args.workers}"),
        ("bare forward (patches/s)", f"{bare:.1f}  ({bare_before:.1f} before, {bare_after:.1f} after)"),
        ("end to end: load + crop + forward (patches/s)", f"{loop_rate:.1f}"),
        ("embed_spots wall, incl. hashing (patches/s)", f"{adata.n_obs / wall:.1f}"),
        ("ratio (target >= 90 %)", f"{ratio:.1%}  {'OK' if ratio >= TARGET_RATIO else 'BELOW TARGET'}"),
        ("second run from cache (s)", f"{cache_s:.3f}  {'OK' if cache_s < TARGET_CACHE_S else 'ABOVE TARGET'}"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
