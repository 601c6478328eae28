"""Readers and writers: Space Ranger outputs and h5ad files to AnnData, Loupe Browser CSVs."""

from ._loupe import read_loupe_csv, write_loupe_csv
from ._visium import read_visium

__all__ = ["read_loupe_csv", "read_visium", "write_loupe_csv"]
