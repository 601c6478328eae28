"""Small numeric helpers shared by every layer (no AnnData, no I/O)."""

from __future__ import annotations

import os

import numpy as np

__all__ = ["available_cores", "column_scale", "standardise"]

_SCALE_ROWS = 65_536  # rows per block when accumulating column moments


def available_cores() -> int:
    """CPU cores this process may run on (its affinity where the OS tells, else the machine's), for thread pools."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def column_scale(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations of ``values``, a zero deviation read as 1 (constant columns stay 0).

    Accumulated in float64 a block of rows at a time, so a float32 array of 640k Visium HD bins
    is never copied whole.
    """
    values = np.asarray(values)
    n = max(values.shape[0], 1)
    mean = values.mean(axis=0, dtype=np.float64) if values.shape[0] else np.zeros(values.shape[1:])
    squares = np.zeros(values.shape[1:], dtype=np.float64)
    for start in range(0, values.shape[0], _SCALE_ROWS):
        deviation = values[start : start + _SCALE_ROWS] - mean
        squares += np.multiply(deviation, deviation).sum(axis=0)
    scale = np.sqrt(squares / n)
    return mean, np.where(scale > 0, scale, 1.0)


def standardise(values: np.ndarray, *, dtype: type = np.float64) -> np.ndarray:
    """Every column to mean 0 and standard deviation 1 (constant columns to 0), as ``dtype``."""
    mean, scale = column_scale(values)
    values = np.asarray(values, dtype=dtype)  # computed in ``dtype``: no float64 copy of a float32 request
    return ((values - mean.astype(dtype)) / scale.astype(dtype)).astype(dtype, copy=False)
