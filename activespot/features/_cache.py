"""The feature cache: content fingerprints, and embeddings stored under a key of everything they depend on.

Embedding a section with a ViT-L takes minutes on a CPU; the result depends only on the spots,
the image, the backbone, its weights and the patch parameters, so those (and nothing else) make
the key. Fingerprints of big files — multi-GB weights, whole-slide images — are sha256 of their
bytes, computed once per file version and remembered by path, mtime and size. Cache files are
written to a temporary file and renamed, so an interrupted run never leaves one half-written.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .. import _constants as K
from .._files import atomic_write_bytes, atomic_write_text, sha256_file

__all__ = ["cache_key", "cached_block", "cached_sha256", "read_cached", "write_cached"]

logger = logging.getLogger(__name__)

# Bumped whenever cropping or pooling changes what an embedding means.
CACHE_VERSION = 1
_HASHES: dict[tuple[str, int, int], str] = {}


def cached_sha256(path: str | Path, *, cache_dir: Path | None = None) -> str:
    """sha256 of a big file, remembered by (resolved path, mtime, size) in memory and in ``cache_dir``.

    Hashing a 4 GB checkpoint takes tens of seconds; the fingerprint keys the feature cache, so it
    is computed once per file version and then read from ``cache_dir/sha256_book.json``.
    """
    path = Path(path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key in _HASHES:
        return _HASHES[key]
    book_path = None if cache_dir is None else Path(cache_dir) / K.SHA256_BOOK_FILE
    book = _read_book(book_path)
    entry = "|".join(str(part) for part in key)
    digest = book.get(entry)
    if digest is None:
        logger.info("hashing %s (once per file version)", path)
        digest = sha256_file(path)
        if book_path is not None:
            atomic_write_text(book_path, json.dumps({**book, entry: digest}, indent=1, sort_keys=True))
    _HASHES[key] = digest
    return digest


def _read_book(path: Path | None) -> dict[str, str]:
    if path is None or not path.is_file():
        return {}
    try:
        book = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        logger.warning("ignoring the unreadable hash cache %s; it will be rewritten", path)
        return {}
    return book if isinstance(book, dict) else {}


def cache_key(*parts: Any) -> str:
    """sha256 of JSON-ready ``parts`` and numpy arrays (hashed by dtype, shape and bytes)."""
    digest = hashlib.sha256(f"activespot-features-v{CACHE_VERSION}".encode())
    for part in parts:
        if isinstance(part, np.ndarray):
            digest.update(f"{part.dtype}{part.shape}".encode())
            digest.update(np.ascontiguousarray(part).tobytes())
        else:
            digest.update(json.dumps(part, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def read_cached(path: Path, obs_names: np.ndarray) -> tuple[np.ndarray, dict[str, Any]] | None:
    """Embeddings and info stored at ``path``, or ``None`` when absent, unreadable or for other spots."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            values, names, info = stored["values"], stored["obs_names"], json.loads(str(stored["info"]))
    except (OSError, ValueError, KeyError) as err:
        logger.warning("ignoring the unreadable feature cache %s (%s); recomputing", path, err)
        return None
    if not np.array_equal(names, obs_names):
        logger.warning("the feature cache %s holds other spots; recomputing", path)
        return None
    return values, info


def write_cached(path: Path, values: np.ndarray, *, obs_names: np.ndarray, info: dict[str, Any]) -> Path:
    """Store embeddings, the spots they belong to and their info atomically at ``path``."""
    buffer = io.BytesIO()
    np.savez(buffer, values=values, obs_names=obs_names.astype(str), info=np.array(json.dumps(info, default=str)))
    return atomic_write_bytes(path, buffer.getvalue())


def cached_block(
    compute: Callable[[], tuple[np.ndarray, dict[str, Any]]],
    *,
    cache_dir: Path | None,
    stem: str,
    key_parts: tuple[Any, ...],
    obs_names: np.ndarray,
) -> tuple[np.ndarray, dict[str, Any]]:
    """``compute()``'s block and info, read from ``cache_dir`` when an earlier run had the same key.

    The file is ``{stem}-{key}.npz``; the returned info says ``cache_hit`` and ``cache_file``.
    ``cache_dir=None`` always computes.
    """
    if cache_dir is None:
        values, info = compute()
        return values, {**info, "cache_hit": False, "cache_file": None}
    path = Path(cache_dir) / f"{stem}-{cache_key(*key_parts)[:24]}.npz"
    cached = read_cached(path, obs_names)
    if cached is not None:
        logger.info("reusing cached %s from %s", stem, path)
        return cached[0], {**cached[1], "cache_hit": True, "cache_file": str(path)}
    values, info = compute()
    write_cached(path, values, obs_names=obs_names, info=info)
    logger.info("cached %s in %s", stem, path)
    return values, {**info, "cache_hit": False, "cache_file": str(path)}
