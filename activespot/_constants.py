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
FULLRES_SHAPE_KEY: Final = "source_image_shape"  # metadata entry: (height, width) of that image in pixels
SOURCE_PATH_KEY: Final = "source_path"  # metadata entry: the Space Ranger folder or h5ad the data came from
SOFTWARE_VERSION_KEY: Final = "software_version"  # metadata entry from the 10x h5 (scanpy's name)
CHEMISTRY_KEY: Final = "chemistry_description"  # metadata entry from the 10x h5 (scanpy's name)
HIRES_IMAGE: Final = "hires"  # images entry: Space Ranger's tissue_hires_image.png
LOWRES_IMAGE: Final = "lowres"  # images entry: Space Ranger's tissue_lowres_image.png
GENE_IDS: Final = "gene_ids"  # var: feature ids (Ensembl); var_names are the unique gene symbols
ARRAY_ROW: Final = "array_row"  # obs: Visium array row
ARRAY_COL: Final = "array_col"  # obs: Visium array column
IN_TISSUE: Final = "in_tissue"  # obs: 1 for spots under tissue
HAS_COUNTS: Final = "has_counts"  # obs: False for in-tissue spots the matrix has no column for
LIBRARY_ID_KEY: Final = "library_id"  # uns: the library this AnnData holds
ITEMS_UNS_KEY: Final = "activespot_items"  # uns: what the items (obs) are, when not spots or bins: ITEMS_HD_CELLS
ITEMS_HD_CELLS: Final = "hd_segmented_cells"  # uns['activespot_items']: cells of Space Ranger 4 segmented_outputs/
HD_CELL_BARCODE: Final = "cellid_{:09d}-1"  # Space Ranger 4: a segmented cell's barcode from its GeoJSON cell_id
HD_CELL_ID_PROPERTY: Final = "cell_id"  # cell_segmentations.geojson: the feature property holding the integer id

# Scale factor names as Space Ranger writes them.
SPOT_DIAMETER: Final = "spot_diameter_fullres"
VISIUM_SPOT_UM: Final = 55.0  # a Visium spot's diameter: spot_diameter_fullres pixels are this many µm
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
ROUND_LOCK_FILE: Final = ".round.lock"  # rounds/: OS file lock held while a round is computed and written

# --- SQLite schema --------------------------------------------------------------------------
SCHEMA_VERSION: Final = 1
EVENTS_TABLE: Final = "events"
ACTIONS_TABLE: Final = "actions"
CLASS_EVENTS_TABLE: Final = "class_events"
ROUNDS_TABLE: Final = "rounds"
META_TABLE: Final = "meta"

# Columns (LabelStore.events(), .actions() and .rounds() return them as DataFrame columns).
COL_ID: Final = "id"  # every table: row id, in order of writing
COL_ACTION_ID: Final = "action_id"  # events, class_events: the action the row belongs to
COL_ITEM: Final = "item"  # events: spot barcode, bin barcode or cell id
COL_LABEL: Final = "label"  # events: the class given (NULL clears the label)
COL_ANNOTATOR: Final = "annotator"  # events, actions: who
COL_CREATED_AT: Final = "created_at"  # every table: ISO 8601 UTC time of writing
COL_SOURCE: Final = "source"  # events: one of LABEL_SOURCES
COL_ROUND: Final = "round"  # events: the round shown when labelled; rounds: the round number
COL_SUGGESTED_LABEL: Final = "suggested_label"  # events: the model's suggestion on screen, if any
COL_SUGGESTION_CONFIDENCE: Final = "suggestion_confidence"  # events: its confidence
COL_KIND: Final = "kind"  # actions: source or ACTION_CLASSES; class_events: CLASS_EVENT_KINDS; rounds: info 'kind'
COL_UNDOES: Final = "undoes"  # actions: the action an undo (or a redo: an undo) reverts
COL_DETAIL: Final = "detail"  # actions: JSON (e.g. the imported file)
COL_NAME: Final = "name"  # class_events: the class
COL_TARGET: Final = "target"  # class_events: new name (rename) or the class merged into
COL_PATH: Final = "path"  # rounds: folder under rounds/
COL_N_LABELS: Final = "n_labels"  # rounds: labels in the journal when registered
COL_INFO: Final = "info"  # rounds: JSON of the round's info (its manifest's)
COL_KEY: Final = "key"  # meta
COL_VALUE: Final = "value"  # meta
ROUND_KIND_COLUMN: Final = COL_KIND  # column of LabelStore.rounds(): the round's info 'kind', read from its JSON

ACTION_CLASSES: Final = "classes"  # actions 'kind' of a class addition, rename or merge
ACTION_REDO: Final = "redo"  # actions 'kind' of a redo: it reverts an undo (its events have source SOURCE_UNDO)
CLASS_ADD: Final = "add"
CLASS_RENAME: Final = "rename"
CLASS_MERGE: Final = "merge"
CLASS_EVENT_KINDS: Final = (CLASS_ADD, CLASS_RENAME, CLASS_MERGE)

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

# --- Features (activespot.features) ---------------------------------------------------------
MORPH_KEY: Final = "X_morph"  # obsm: morphology block (backbone embedding or weight-free descriptor)
EXPR_KEY: Final = "X_expr"  # obsm: expression block (log-normalised HVGs, or their PCA)
CONTEXT_KEY: Final = "X_context"  # obsm: neighbour mean of the other blocks on the tissue graph
FEATURE_BLOCKS: Final = (MORPH_KEY, EXPR_KEY, CONTEXT_KEY)  # every block, in the order models read them
FEATURES_UNS_KEY: Final = "activespot_features"  # uns: {block key: provenance and parameters}
PROJECT_UNS_KEY: Final = "activespot"  # uns of an exported AnnData: {"project": folder, "version": activespot version}
DESCRIPTOR_BACKBONE: Final = "descriptor"  # backbone name of the weight-free H&E descriptor
FEATURES_FILE: Final = "features.npz"  # project features/ folder: stored blocks, obs names, provenance
FEATURES_PROVENANCE_MEMBER: Final = "provenance"  # features.npz: JSON of uns['activespot_features']
FEATURES_INPUTS_KEY: Final = "inputs"  # uns['activespot_features']: fingerprint of the files and settings read
FEATURES_SHAPES_KEY: Final = "shapes"  # uns['activespot_features']: {block key: [n_spots, dim]}
SHA256_BOOK_FILE: Final = "sha256_book.json"  # cache folder: sha256 of big files (weights, images) by path, mtime, size

# --- Active-learning loop (activespot.loop, activespot.simulate) -----------------------------
ROUND_PROBABILITIES: Final = "probabilities"  # round array: (n_spots, K) smoothed class probabilities
ROUND_EMBEDDINGS: Final = "embeddings"  # round array: (n_spots, fusion) penultimate embeddings
# Stored at half precision (ample for the diversity and Coreset distances they feed): a 640k-bin HD
# round's embeddings are 330 MB instead of 655 MB. Round.load_array widens them to float32.
ROUND_EMBEDDINGS_DTYPE: Final = "float16"
ROUND_INFO_KIND: Final = "kind"  # round info entry: what made the round (one of the ROUND_KIND_* / CELL_ROUND_KIND)
ROUND_KIND_INITIAL: Final = "initial_query"  # round info 'kind': k-means query before any model
ROUND_KIND_TRAINED: Final = "trained"  # round info 'kind': model trained, predictions and next query
ROUND_INFO_ESTIMATE: Final = "estimate"  # round info entry: estimated accuracy without truth (AccuracyEstimate.to_dict)
ROUND_INFO_UNCHANGED: Final = "unchanged"  # round info entry: share of predictions as in the model round before
ROUND_INFO_ACCEPTED: Final = "accepted"  # round info entry: suggestions shown / accepted since the round before
QUERY_EXPORT: Final = "query_round_{round:04d}.csv"  # exports/: Loupe CSV of the spots to annotate next
PREDICTION_EXPORT: Final = "predictions_round_{round:04d}.csv"  # exports/: Loupe CSV of every prediction

# --- Cells (activespot.io, activespot.cells: HALS-style cell annotation) -------------
SAMPLE_KIND_VISIUM: Final = "visium"  # project sample kind: a Visium section (spots)
SAMPLE_KIND_CELLS: Final = "cells"  # project sample kind: an H&E image with nuclei (cells)
CELL_ID: Final = "cell_id"  # obs index name: one id per nucleus ("cell_00001", or the file's own id)
CELL_BBOX_KEY: Final = "bbox"  # obsm: (x_min, y_min, x_max, y_max) half-open pixel box of each nucleus, NaN if unknown
CELL_AREA: Final = "area_px"  # obs: nucleus area in pixels (NaN when only a centroid is known)
CELL_SOURCE_CLASS: Final = "source_class"  # obs: class given by the nuclei file (QuPath, HoVer-Net type, CSV column)
CELLS_UNS_KEY: Final = "activespot_cells"  # uns: provenance (image, nuclei file, format, detector parameters)
CELL_FEATURES_KEY: Final = "X_cell"  # obsm: per-cell descriptor (morphometry + colour + local context)
NUCLEI_FORMATS: Final = ("csv", "points", "geojson", "hovernet", "mask", "detector")  # nuclei sources read
NUCLEI_DETECTOR: Final = "detector"  # nuclei format: found by the built-in scikit-image detector
CELLS_CSV_EXPORT: Final = "cell_labels.csv"  # exports/: cell_id, x, y, label
CELLS_GEOJSON_EXPORT: Final = "cell_labels.geojson"  # exports/: QuPath-compatible detections with classification
CELL_ROUND_KIND: Final = "cells"  # round info 'kind': a cell classifier, its suggestions and the next region
ROUND_SUGGESTIONS: Final = "suggestions"  # round table: cell_id -> label, confidence (like predictions)
ROUND_REGION: Final = "region"  # round info entry: next region (x0, y0, x1, y1) and its cells
# Entries of uns['activespot_cells'] (written by activespot.io.cells_from_nuclei and activespot.cells.cell_features)
CELLS_IMAGE: Final = "image"  # absolute path of the H&E image
CELLS_IMAGE_SHAPE: Final = "image_shape"  # [height, width] of the image in pixels
CELLS_NUCLEI: Final = "nuclei"  # absolute path of the nuclei file (None: the built-in detector)
CELLS_NUCLEI_FORMAT: Final = "nuclei_format"  # one of NUCLEI_FORMATS
CELLS_FROM_DETECTOR: Final = "built_in_detector"  # whether the built-in detector found the nuclei
CELLS_MICRONS_PER_PIXEL: Final = "microns_per_pixel"  # pixel size: from the settings, else the image's metadata
CELLS_FEATURES_INFO: Final = "features"  # how obsm['X_cell'] was made: backbone, weights + sha256, patch, columns
CELL_TRUTH: Final = "truth"  # obs (simulation): the true class a simulated annotator answers with
# Columns of a cell round's suggestions table
SUGGESTION_LABEL: Final = "label"  # the suggested class
SUGGESTION_CONFIDENCE: Final = "confidence"  # its probability (classifier x labelled-neighbour evidence)
SUGGESTION_SHOWN: Final = "shown"  # whether the annotator sees it (every class has min_labels_per_class labels)

# --- Review app (app.py, activespot.app; session-state keys live in activespot/app/_state.py) ---
APP_SCRIPT: Final = "_main.py"  # the Streamlit entry point, in activespot/app/ (app.py in a checkout runs it too)
APP_HOST: Final = "127.0.0.1"  # `activespot app` binds here unless told otherwise (never all interfaces)
APP_PORT: Final = 8501  # default port of `activespot app`
APP_UPLOAD_LIMIT_MB: Final = 50  # largest Loupe/truth CSV the app accepts (a whole-slide CSV is a few MB)
APP_QUERY_ANNOTATOR: Final = "annotator"  # URL query parameter that keeps the annotator's name across reloads

# --- Cross-sample transfer, agreement and review (activespot.transfer) -----------------------
ROUND_KIND_TRANSFERRED: Final = "transferred"  # round info 'kind': model trained on another sample's labels
MODEL_ROUND_KINDS: Final = (ROUND_KIND_TRAINED, ROUND_KIND_TRANSFERRED)  # round kinds holding a model + predictions
BATCH_KEY: Final = "activespot_sample"  # harmonypy meta column: which sample a spot comes from
TRANSFER_SOURCE_FILE: Final = "transfer_source.npz"  # features/: the source's joint blocks and labels, kept for rounds
TRANSFER_UNS_KEY: Final = "activespot_transfer"  # uns (exported AnnData): the transfer's parameters, as JSON text
TRANSFER_H5AD: Final = "transferred_round_{round:04d}.h5ad"  # exports/: target AnnData with transferred predictions
LOUPE_REVIEW_CATEGORY: Final = "ActiveSpot Review"  # Loupe category of the consistency review
REVIEW_EXPORT: Final = "review_after_round_{round:04d}.csv"  # exports/: labels the model disputes
FEATURES_JOINT_KEY: Final = "joint"  # uns['activespot_features'] of a transfer's target: the joint blocks' provenance

# --- Studies of many sections (activespot.study) -----------------------------------------------
STUDY_FILE: Final = "study.yaml"  # study folder: the sections (sample, project folder, manifest paths)
STUDY_SECTIONS_DIR: Final = "sections"  # study folder: one ordinary project per section, named by its sample
MANIFEST_SAMPLE: Final = "sample"  # manifest column: the section's name (its project folder's name)
MANIFEST_VISIUM: Final = "visium"  # manifest column: Space Ranger outs folder or .h5ad
MANIFEST_IMAGE: Final = "image"  # manifest column (optional): full-resolution H&E
MANIFEST_LABELS: Final = "labels"  # manifest column (optional): a Loupe CSV imported as the section's labels
MANIFEST_TRUTH: Final = "truth"  # manifest column (optional): true labels (Loupe or ground-truth CSV) for kappa
MANIFEST_REQUIRED: Final = (MANIFEST_SAMPLE, MANIFEST_VISIUM)
MANIFEST_COLUMNS: Final = (*MANIFEST_REQUIRED, MANIFEST_IMAGE, MANIFEST_LABELS, MANIFEST_TRUTH)

# --- Journal: the exclusion class, skips, claims, stale writes (activespot.project._store) -----------
# New tables only (CREATE TABLE IF NOT EXISTS): a project made before them opens and gains them, and
# SCHEMA_VERSION stays 1, since an older activespot reading such a project only ignores them.
EXCLUSION_TABLE: Final = "exclusion_events"  # which class means "leave this spot out": the newest row wins
SKIPS_TABLE: Final = "skips"  # a spot an annotator skipped in a round's queue (it goes to the end of theirs)
CLAIMS_TABLE: Final = "claims"  # spots the Queue page shows an annotator, kept from the others' queues a while
CLAIM: Final = "claim"  # claims 'kind': the annotator has the spot on screen
CLAIM_RELEASE: Final = "release"  # claims 'kind': the annotator let it go (skipped it)
CLAIM_KINDS: Final = (CLAIM, CLAIM_RELEASE)
CLAIM_TIMEOUT_S: Final = 600  # a claim lapses after this many seconds without being renewed (10 min)
CLAIM_RENEW_S: Final = 300  # the Queue page renews its claims once they are older than this
DEFAULT_EXCLUSION_CLASS: Final = "Not tissue"  # the class `classes exclude` and the Classes page add by default
OBS_EXCLUDED: Final = "activespot_excluded"  # obs of the annotated AnnData: labelled (or else predicted) excluded

# --- Devices ------------------------------------------------------------------------------------
PRECISIONS: Final = ("auto", "fp32", "bf16", "fp16")  # features.precision: autocast of backbones
