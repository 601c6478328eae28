"""Every AnnData key, file name and SQLite table/column name activespot reads or writes.

Kept in one place so that readers, features, the store and the app agree, and so that a
renamed key is renamed everywhere (squidpy's ``_constants`` pattern).
"""

from __future__ import annotations

from typing import Final

# --- AnnData keys (scanpy / squidpy conventions) -------------------------------------------
SPATIAL_KEY: Final = "spatial"  # obsm: full-resolution pixel coordinates (x, y); uns: per-library images
IMAGES_KEY: Final = "images"  # uns['spatial'][library]['images'] -> {'hires': array, 'lowres': array}
SCALEFACTORS_KEY: Final = "scalefactors"  # uns['spatial'][library]['scalefactors']
METADATA_KEY: Final = "metadata"  # uns['spatial'][library]['metadata'] (source paths, versions)
FULLRES_PATH_KEY: Final = "source_image_path"  # metadata entry: full-resolution image path (not loaded)
ARRAY_ROW: Final = "array_row"  # obs: Visium array row
ARRAY_COL: Final = "array_col"  # obs: Visium array column
IN_TISSUE: Final = "in_tissue"  # obs: 1 for spots under tissue
HAS_COUNTS: Final = "has_counts"  # obs: False for in-tissue spots the matrix has no column for
LIBRARY_ID_KEY: Final = "library_id"  # uns: the library this AnnData holds

# Scale factor names as Space Ranger writes them.
SPOT_DIAMETER: Final = "spot_diameter_fullres"
HIRES_SCALEF: Final = "tissue_hires_scalef"
LOWRES_SCALEF: Final = "tissue_lowres_scalef"
MICRONS_PER_PIXEL: Final = "microns_per_pixel"  # Visium HD scalefactors
BIN_SIZE_UM: Final = "bin_size_um"  # Visium HD scalefactors

# --- Loupe Browser CSV ----------------------------------------------------------------------
LOUPE_BARCODE: Final = "Barcode"
LOUPE_QUERY_CATEGORY: Final = "ActiveSpot Query"
LOUPE_PREDICTION_CATEGORY: Final = "ActiveSpot Prediction"
LOUPE_LABEL_CATEGORY: Final = "ActiveSpot Label"

# --- Project folder -------------------------------------------------------------------------
PROJECT_FILE: Final = "project.yaml"
DATABASE_FILE: Final = "labels.sqlite"
FEATURES_DIR: Final = "features"
ROUNDS_DIR: Final = "rounds"
EXPORTS_DIR: Final = "exports"
ROUND_MANIFEST: Final = "manifest.json"

# --- SQLite schema --------------------------------------------------------------------------
SCHEMA_VERSION: Final = 1
EVENTS_TABLE: Final = "events"
ACTIONS_TABLE: Final = "actions"
CLASS_EVENTS_TABLE: Final = "class_events"
ROUNDS_TABLE: Final = "rounds"
META_TABLE: Final = "meta"

# Label event sources (the `source` column of EVENTS_TABLE).
SOURCE_MANUAL: Final = "manual"
SOURCE_ACCEPTED: Final = "accepted"
SOURCE_CORRECTED: Final = "corrected"
SOURCE_IMPORTED: Final = "imported"
SOURCE_UNDO: Final = "undo"
LABEL_SOURCES: Final = (SOURCE_MANUAL, SOURCE_ACCEPTED, SOURCE_CORRECTED, SOURCE_IMPORTED, SOURCE_UNDO)

# Round artefacts (files inside rounds/round_NNNN/, listed in its manifest).
ROUND_PREDICTIONS: Final = "predictions"  # table: barcode -> label, confidence, one column per class
ROUND_QUERY: Final = "query"  # table: barcodes asked next, in order
ROUND_MODEL: Final = "model"  # file: model checkpoint bytes

# obs columns written by exports.
OBS_LABEL: Final = "activespot_label"
OBS_PREDICTION: Final = "activespot_prediction"
OBS_CONFIDENCE: Final = "activespot_confidence"
