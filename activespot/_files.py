"""Writing files so that a killed process never leaves a half-written one behind."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

__all__ = ["atomic_write_bytes", "atomic_write_text", "fsync_dir", "sha256_file", "write_hashed"]


def fsync_dir(path: Path) -> None:
    """Flush a directory entry (a rename or a new file) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, fsync it, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """UTF-8 text version of :func:`atomic_write_bytes` (newlines written as given)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def sha256_file(path: str | Path, *, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks so multi-GB weights do not fill memory."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


class _HashingWriter:
    """A binary file that hashes what passes through it, so its digest needs no second read."""

    def __init__(self, handle: IO[bytes]):
        self._handle = handle
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | memoryview) -> int:
        self.digest.update(data)
        self.size += memoryview(data).nbytes
        return self._handle.write(data)


def write_hashed(path: str | Path, write: Callable[[IO[bytes]], object]) -> tuple[int, str]:
    """Create ``path`` with ``write(handle)``, fsync it, and return its size and hex SHA-256.

    Not atomic by itself: for files inside a folder that is renamed into place once complete
    (a round), where a temporary file per member would only add work. The file is streamed,
    never held whole in memory, and hashed as it is written instead of read back.
    """
    with Path(path).open("xb") as handle:
        hashing = _HashingWriter(handle)
        write(hashing)  # type: ignore[arg-type]  # a writable binary file as far as np.save and friends go
        handle.flush()
        os.fsync(handle.fileno())
    return hashing.size, hashing.digest.hexdigest()


@contextmanager
def built_folder(path: Path) -> Iterator[Path]:
    """A staging folder beside ``path``, renamed to it when the block ends, removed if it raises.

    What is built there appears whole or not at all; ``path`` must be absent or an empty folder.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.creating-"))
    try:
        yield staging
        if path.exists():
            path.rmdir()  # empty, checked by the caller
        staging.rename(path)
        fsync_dir(path.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
