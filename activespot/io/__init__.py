"""Readers and writers: Space Ranger outputs and h5ad files to AnnData, Loupe Browser CSVs, cells of H&E images."""

from ._cells import (
    detect_nuclei,
    guess_nuclei_format,
    open_cell_image,
    read_cell_labels_csv,
    read_cells,
    read_hovernet_json,
    read_instance_mask,
    read_nuclei_csv,
    read_point_labels,
    read_qupath_geojson,
    write_cell_labels_csv,
    write_cell_labels_geojson,
)
from ._loupe import read_loupe_csv, write_loupe_csv
from ._truth import read_truth
from ._visium import read_visium

__all__ = [
    "detect_nuclei",
    "guess_nuclei_format",
    "open_cell_image",
    "read_cell_labels_csv",
    "read_cells",
    "read_hovernet_json",
    "read_instance_mask",
    "read_loupe_csv",
    "read_nuclei_csv",
    "read_point_labels",
    "read_qupath_geojson",
    "read_truth",
    "read_visium",
    "write_cell_labels_csv",
    "write_cell_labels_geojson",
    "write_loupe_csv",
]
