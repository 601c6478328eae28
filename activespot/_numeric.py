"""Small numeric helpers shared by every layer (no AnnData, no I/O)."""

from __future__ import annotations

import os

import numpy as np

__all__ = ["available_cores", "column_scale", "standardise"]


def available_cores() -> int:
    """CPU cores this process may run on (its affinity where the OS tells, else the machine's), for thread pools."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def column_scale(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations of ``values``, a zero deviation read as 1 (constant columns stay 0)."""
    values = np.asarray(values, dtype=np.float64)
    scale = values.std(axis=0)
    return values.mean(axis=0), np.where(scale > 0, scale, 1.0)


def standardise(values: np.ndarray, *, dtype: type = np.float64) -> np.ndarray:
    """Every column to mean 0 and standard deviation 1 (constant columns to 0), as ``dtype``."""
    mean, scale = column_scale(values)
    return ((np.asarray(values, dtype=np.float64) - mean) / scale).astype(dtype, copy=False)
