"""Morphology embeddings of every spot: stream patches through a backbone (or the descriptor), cached.

Patches are cropped while the previous batch is in the model — by DataLoader workers, or by a
background thread when there are none (cropping is mostly PIL and numpy, which release the GIL)
— so on a CPU the backbone, not I/O, sets the pace.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from anndata import AnnData

from .. import _constants as K
from .._numeric import available_cores
from .._progress import progress_bar
from ..errors import SettingError
from ..io import SpotImage
from ._backbones import Backbone, check_backbone_name, get_backbone, load_backbone, resolve_weights
from ._cache import cached_block, cached_sha256
from ._descriptor import DESCRIPTOR_INPUT_SIZE, describe_patches, descriptor_feature_names
from ._device import autocast_dtype, resolve_device, resolve_precision
from ._patches import SpotPatches, TilePatches

__all__ = ["embed_patches", "embed_spots", "embed_tiles", "image_fingerprint"]

logger = logging.getLogger(__name__)

DESCRIPTOR_SOURCE = "none: weight-free descriptor"
_PREFETCH_BATCHES = 2
_MAX_GPU_LOADERS = 12  # cropping processes per GPU: JPEG-tiled slides decode at ~300-1000 patches/s a core


def embed_spots(
    adata: AnnData,
    backbone: str = K.DESCRIPTOR_BACKBONE,
    *,
    weights: str | Path | None = None,
    context_factor: float = 1.0,
    batch_size: int = 32,
    num_workers: int | None = None,
    device: str = "auto",
    precision: str = "auto",
    mpp: float | None = None,
    library_id: str | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Embed the patch of every spot with a registered backbone or the weight-free descriptor.

    Parameters
    ----------
    adata
        Spots with coordinates and a tissue image (see :class:`SpotPatches`).
    backbone
        A name from :func:`list_backbones`; ``"descriptor"`` needs no weights.
    weights
        Local weights file or Hugging Face Hub id (see :func:`load_backbone`); ignored by the descriptor.
    context_factor
        Patch side as a multiple of the spot diameter.
    batch_size
        Patches per forward pass (halved, with a message, when the GPU runs out of memory).
    num_workers
        DataLoader worker processes cropping patches; 0 crops in a background thread; ``None``:
        one per core (at most 12) on a GPU, which outruns one cropping thread, else 0.
    device, precision
        Where the backbone runs and its autocast precision (see :func:`resolve_device`).
    mpp
        Pixel size (µm) of a full-resolution image whose file and scale factors give none; it
        picks the pyramid level patches are read from (see :func:`select_image`).
    library_id
        Which ``uns['spatial']`` library, when there are several.
    cache_dir
        Folder of the embedding cache; ``None`` disables caching.
    progress
        Show a progress bar.

    Returns
    -------
    embeddings
        float32 array (n_spots, dim).
    info
        What the embeddings are: backbone, weights source and sha256, dim, patch parameters,
        ``cache_hit`` (True when read from the cache) and ``cache_file``.

    Raises
    ------
    ValueError
        Unknown backbone (the valid names are listed), bad parameters, or no usable image.
    InputFileError
        The weights are missing, unreadable or do not fit the backbone.
    """
    check_backbone_name(backbone)
    spec = None if backbone == K.DESCRIPTOR_BACKBONE else get_backbone(backbone)
    size = DESCRIPTOR_INPUT_SIZE if spec is None else spec.input_size
    native = None if spec is None else spec.microns_per_pixel
    patches = SpotPatches(
        adata, size=size, context_factor=context_factor, library_id=library_id, native_mpp=native, mpp=mpp
    )
    cache_dir = None if cache_dir is None else Path(cache_dir)
    return embed_patches(
        patches,
        backbone,
        weights=weights,
        ids=np.asarray(adata.obs_names, dtype=str),
        key=(patches.centres, image_fingerprint(patches.image, cache_dir=cache_dir)),
        patch=patches.params(),
        cache_dir=cache_dir,
        batch_size=batch_size,
        num_workers=num_workers,
        device=device,
        precision=precision,
        progress=progress,
        desc="spot patches",
    )


def embed_tiles(
    adata: AnnData,
    backbone: str = K.DESCRIPTOR_BACKBONE,
    *,
    weights: str | Path | None = None,
    patch_um: float = 64.0,
    stride_um: float = 32.0,
    batch_size: int = 32,
    num_workers: int | None = None,
    device: str = "auto",
    precision: str = "auto",
    mpp: float | None = None,
    library_id: str | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Embed Visium HD bins through a grid of tiles: each bin blends the four tiles around it.

    A section of 640k 8 µm bins costs ~40k backbone passes with 64 µm tiles every 32 µm instead
    of one pass per bin (see :class:`TilePatches`). The tiles' embeddings are cached like spots'
    (by tile centres, image, backbone, weights and patch settings); the blend is recomputed.

    Parameters
    ----------
    adata
        Bins with coordinates, a tissue image and a pixel size in the scale factors.
    backbone, weights, batch_size, num_workers, device, precision, mpp, library_id, cache_dir, progress
        As for :func:`embed_spots`.
    patch_um, stride_um
        Tile side and spacing in µm.

    Returns
    -------
    embeddings
        float32 array (n_bins, dim).
    info
        As for :func:`embed_spots`, with the tile grid in ``patch`` and the number of tiles.
    """
    check_backbone_name(backbone)
    spec = None if backbone == K.DESCRIPTOR_BACKBONE else get_backbone(backbone)
    size = DESCRIPTOR_INPUT_SIZE if spec is None else spec.input_size
    native = None if spec is None else spec.microns_per_pixel
    tiles = TilePatches(
        adata, size=size, patch_um=patch_um, stride_um=stride_um, library_id=library_id, native_mpp=native, mpp=mpp
    )
    cache_dir = None if cache_dir is None else Path(cache_dir)
    embedded, info = embed_patches(
        tiles,
        backbone,
        weights=weights,
        ids=tiles.tile_names,
        key=(tiles.centres, image_fingerprint(tiles.image, cache_dir=cache_dir)),
        patch=tiles.params(),
        cache_dir=cache_dir,
        batch_size=batch_size,
        num_workers=num_workers,
        device=device,
        precision=precision,
        progress=progress,
        desc="tile patches",
    )
    return np.asarray(tiles.blend @ embedded, dtype=np.float32), info


def embed_patches(
    patches: Any,
    backbone: str,
    *,
    weights: str | Path | None = None,
    ids: np.ndarray,
    key: tuple[Any, ...],
    patch: dict[str, Any],
    cache_dir: str | Path | None = None,
    batch_size: int = 32,
    num_workers: int | None = None,
    device: str = "auto",
    precision: str = "auto",
    progress: bool = True,
    desc: str = "patches",
) -> tuple[np.ndarray, dict[str, Any]]:
    """Embed patches with a backbone (or the descriptor), cached under a key of everything they depend on.

    Spots (:func:`embed_spots`) and cells (:func:`activespot.cells.cell_features`) both go through
    here, so their embeddings carry the same provenance and share one cache.

    Parameters
    ----------
    patches
        Map-style dataset: ``len(patches)`` items, each a uint8 RGB array (side, side, 3) at the
        backbone's input size.
    backbone
        A name from :func:`list_backbones`, or ``"descriptor"``.
    weights
        Local weights file or Hugging Face Hub id (see :func:`load_backbone`).
    ids
        One name per patch (spot barcodes, cell ids); a cache file for other ids is not used.
    key
        What the patches are cut from and where (JSON-ready values or arrays: centres, an image
        fingerprint from :func:`image_fingerprint`); the backbone, its weights' sha256 and
        ``patch`` are added to it.
    patch
        The patch parameters, stored in the info.
    cache_dir
        Folder of the embedding cache; ``None`` disables caching.
    batch_size, num_workers, device, precision
        As for :func:`embed_spots`.
    progress, desc
        Show a progress bar, and its label.

    Returns
    -------
    embeddings
        float32 array (n, dim).
    info
        Backbone, weights source and sha256, dim, ``patch``, ``precision`` (a backbone's),
        ``cache_hit`` and ``cache_file``; when computed, also ``device``, ``batch_size`` and
        ``seconds``.
    """
    check_backbone_name(backbone)
    _check_counts(batch_size=batch_size, num_workers=0 if num_workers is None else num_workers)
    cache_dir = None if cache_dir is None else Path(cache_dir)
    spec = None if backbone == K.DESCRIPTOR_BACKBONE else get_backbone(backbone)
    target = None if spec is None else resolve_device(device)  # a missing GPU fails before any work
    info = _describe(spec, weights, patch, cache_dir)
    if target is not None:
        info["precision"] = resolve_precision(precision, target)

    def embed() -> tuple[np.ndarray, dict[str, Any]]:
        start = time.perf_counter()
        if spec is None:
            values = _describe_in_threads(patches, batch_size=batch_size, progress=progress, desc=desc)
            return values, {**info, "seconds": round(time.perf_counter() - start, 3)}
        model = _torch_embedder(load_backbone(spec, weights, cache_dir=cache_dir), target, info["precision"])
        workers = _loader_workers(num_workers, target)
        logger.info("embedding %d patches with %s on %s (%s, %d loader workers)",
                    len(patches), spec.name, target, info["precision"], workers)  # fmt: skip
        values, used = _run(patches, model, dim=info["dim"], batch_size=batch_size, num_workers=workers,
                            pin_memory=target.type == "cuda", progress=progress, desc=desc)  # fmt: skip
        seconds = round(time.perf_counter() - start, 3)
        return values, {**info, "device": str(target), "batch_size": used, "seconds": seconds}

    key_parts = () if cache_dir is None else (info, ids, *key)
    return cached_block(embed, cache_dir=cache_dir, stem=f"morph-{backbone}", key_parts=key_parts, obs_names=ids)


def _check_counts(**values: int) -> None:
    minimum = {"batch_size": 1, "num_workers": 0}
    for name, value in values.items():
        if not isinstance(value, int) or value < minimum[name]:
            msg = f"The {name} must be an integer >= {minimum[name]}; got {value!r}."
            raise ValueError(msg)


def _describe(spec: Backbone | None, weights: str | Path | None, patch: dict, cache_dir: Path | None) -> dict:
    if spec is None:
        names = descriptor_feature_names()
        return {
            "backbone": K.DESCRIPTOR_BACKBONE,
            "weights": DESCRIPTOR_SOURCE,
            "weights_sha256": None,
            "dim": len(names),
            "feature_names": names,
            "patch": patch,
        }
    source = resolve_weights(spec, weights)
    return {
        "backbone": spec.name,
        "weights": str(source) if isinstance(source, Path) else f"hf-hub:{source}",
        "weights_sha256": cached_sha256(source, cache_dir=cache_dir) if isinstance(source, Path) else None,
        "dim": spec.dim,
        "spec": spec.describe(),
        "patch": patch,
    }


def image_fingerprint(image: SpotImage, *, cache_dir: Path | None = None) -> str | np.ndarray:
    """What identifies an image in a cache key: its file's sha256 (remembered in ``cache_dir``), else its pixels."""
    if image.source is not None:
        return cached_sha256(image.source, cache_dir=cache_dir)
    return image.thumbnail(max(image.shape))[0]


def _describe_in_threads(patches: Any, *, batch_size: int, progress: bool, desc: str) -> np.ndarray:
    """The descriptor of every patch, batches cropped and described by one thread per core.

    Cropping (PIL) and the batch descriptor (numpy) release the GIL for most of their time, so
    threads use every core without copying the image into worker processes.
    """
    from concurrent.futures import ThreadPoolExecutor

    def crop_and_describe(start: int) -> np.ndarray:
        stop = min(start + batch_size, len(patches))
        return describe_patches(np.stack([patches[i] for i in range(start, stop)]))

    starts = range(0, len(patches), batch_size)
    out = np.empty((len(patches), len(descriptor_feature_names())), dtype=np.float32)
    with (
        ThreadPoolExecutor(max_workers=available_cores(), thread_name_prefix="activespot-descriptor") as pool,
        progress_bar(total=len(patches), desc=desc, unit="patch", disable=not progress) as bar,
    ):
        for start, described in zip(starts, pool.map(crop_and_describe, starts), strict=True):
            out[start : start + len(described)] = described
            bar.update(len(described))
    return out


def _loader_workers(requested: int | None, device: Any) -> int:
    if requested is not None:
        return requested
    return min(available_cores(), _MAX_GPU_LOADERS) if device.type == "cuda" else 0


def _torch_embedder(loaded: Any, device: Any, precision: str) -> Callable[[Any], np.ndarray]:
    """A function from a uint8 (n, side, side, 3) batch to float32 embeddings, run on ``device``.

    The batch crosses to the device as uint8 (a quarter of float32's bytes, asynchronously from
    pinned memory) and is normalised there, under autocast when ``precision`` is not fp32.
    """
    import torch

    loaded.model.to(device)
    mean = torch.tensor(loaded.spec.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(loaded.spec.std, device=device).view(1, 3, 1, 1)
    dtype = autocast_dtype(precision)

    def embed(batch: torch.Tensor) -> np.ndarray:
        with torch.inference_mode(), torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            pixels = batch.to(device, non_blocking=True).permute(0, 3, 1, 2).float().div_(255.0)
            return loaded.embed(pixels.sub_(mean).div_(std)).float().cpu().numpy()

    return embed


def _run(
    patches: Any,
    embed: Callable[[Any], np.ndarray],
    *,
    dim: int,
    batch_size: int,
    num_workers: int,
    pin_memory: bool = False,
    progress: bool,
    desc: str,
) -> tuple[np.ndarray, int]:
    """Every patch's embedding, and the batch size that fitted in the device's memory."""
    from torch.utils.data import DataLoader

    loader = DataLoader(
        patches,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        pin_memory=pin_memory,
        prefetch_factor=_PREFETCH_BATCHES if num_workers > 0 else None,
    )
    batches = loader if num_workers > 0 else _prefetch(loader, _PREFETCH_BATCHES)
    out = np.empty((len(patches), dim), dtype=np.float32)
    fitting = _FittingBatches(embed, batch_size)
    done = 0
    with progress_bar(total=len(patches), desc=desc, unit="patch", disable=not progress) as bar:
        for batch in batches:
            n = len(batch)
            out[done : done + n] = fitting(batch)
            done += n
            bar.update(n)
    return out, fitting.size


class _FittingBatches:
    """Embed a batch in pieces of the largest size that has fitted in the device's memory.

    A batch that runs out of memory is retried in halves, and later batches are cut to the size
    that worked, so one number that was too large for this GPU (a ViT-g at 256 patches) costs a
    message, not the run.
    """

    def __init__(self, embed: Callable[[Any], np.ndarray], size: int):
        self.embed, self.size = embed, size

    def __call__(self, batch: Any) -> np.ndarray:
        import torch

        pieces, start = [], 0
        while start < len(batch):
            piece = batch[start : start + self.size]
            try:
                pieces.append(self.embed(piece))
            except torch.OutOfMemoryError:
                if self.size == 1:
                    msg = (
                        "The backbone does not fit in the device's memory even one patch at a time; "
                        "use a smaller backbone, bf16 precision or another device."
                    )
                    raise SettingError(msg) from None
                self.size = max(1, self.size // 2)
                logger.warning("out of device memory: continuing with batches of %d patches", self.size)
                _empty_device_cache()
                continue
            start += len(piece)
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)


def _empty_device_cache() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _prefetch(items: Iterable[Any], depth: int) -> Iterator[Any]:
    """Iterate ``items`` in a background thread, ``depth`` ahead of the consumer."""
    buffer: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def put(entry: tuple[Any, BaseException | None]) -> bool:
        # Wait for room, but give up once the consumer has gone (it stopped early or failed).
        while not stop.is_set():
            try:
                buffer.put(entry, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
        except Exception as err:  # handed to the consumer, which re-raises it in its own thread
            put((end, err))
            return
        put((end, None))

    thread = threading.Thread(target=produce, name="activespot-patch-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, error = buffer.get()
            if error is not None:
                raise error
            if item is end:
                return
            yield item
    finally:
        stop.set()
