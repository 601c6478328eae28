"""Readers and writers: Space Ranger outputs (spots, HD bins, segmented cells), h5ad, Loupe CSVs, images, cells."""

from ._cell_labels import read_cell_labels_csv, write_cell_labels_csv, write_cell_labels_geojson
from ._cells import cells_from_nuclei, read_cells
from ._hd_bins import (
    LOUPE_BIN_SIZES,
    check_one_bin_size,
    hd_bin_size,
    map_bin_labels,
    map_bins_to_cells,
    map_cells_to_bins,
)
from ._hd_cells import CellPolygons, read_cell_segmentations
from ._images import is_blank, read_image_size, read_microns_per_pixel, read_tissue_image, to_uint8_rgb
from ._loupe import query_table, read_loupe_csv, write_loupe_csv
from ._nuclei import (
    NUCLEI_COLUMNS,
    NUCLEI_READERS,
    guess_nuclei_format,
    nuclei_table,
    read_hovernet_json,
    read_instance_mask,
    read_instance_mask_pixels,
    read_nuclei_csv,
    read_point_labels,
    read_qupath_geojson,
)
from ._regions import SpotImage, open_cell_image, open_image_level, pyramid_levels
from ._truth import read_truth
from ._visium import read_visium

__all__ = [
    "LOUPE_BIN_SIZES",
    "NUCLEI_COLUMNS",
    "NUCLEI_READERS",
    "CellPolygons",
    "SpotImage",
    "cells_from_nuclei",
    "check_one_bin_size",
    "guess_nuclei_format",
    "hd_bin_size",
    "is_blank",
    "map_bin_labels",
    "map_bins_to_cells",
    "map_cells_to_bins",
    "nuclei_table",
    "open_cell_image",
    "open_image_level",
    "pyramid_levels",
    "query_table",
    "read_cell_labels_csv",
    "read_cell_segmentations",
    "read_cells",
    "read_hovernet_json",
    "read_image_size",
    "read_instance_mask",
    "read_instance_mask_pixels",
    "read_loupe_csv",
    "read_microns_per_pixel",
    "read_nuclei_csv",
    "read_point_labels",
    "read_qupath_geojson",
    "read_tissue_image",
    "read_truth",
    "read_visium",
    "to_uint8_rgb",
    "write_cell_labels_csv",
    "write_cell_labels_geojson",
    "write_loupe_csv",
]
