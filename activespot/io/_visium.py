"""Space Ranger outputs and h5ad files to AnnData, in scanpy's spatial conventions.

One reader for every layout a pathologist is likely to be handed: Visium ``outs`` folders from
Space Ranger 1.x (headerless ``tissue_positions_list.csv``) and 2.x/3.x (``tissue_positions.csv``
with a header), Visium HD binned outputs (``tissue_positions.parquet``), the segmented cells of a
Space Ranger 4 HD output (``segmented_outputs/``), and h5ad files that already hold the spatial
information. Every problem with a file is an :class:`~activespot.errors.InputFileError`
naming the file and what to do. A missing image is only a warning, because spots can still be
labelled from expression, and a missing matrix can be accepted for morphology-only labelling.
"""

from __future__ import annotations

import json
import logging
import math
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from .. import _constants as K
from ..errors import InputFileError
from ._counts import read_counts, read_h5ad
from ._images import is_blank, read_image_size, read_tissue_image, to_uint8_rgb
from ._positions import PXL_COL, PXL_ROW, read_positions

__all__ = ["read_visium"]

logger = logging.getLogger(__name__)

_SPATIAL_DIR = "spatial"
_SCALEFACTORS_FILE = "scalefactors_json.json"
_IMAGE_FILES = {K.HIRES_IMAGE: "tissue_hires_image.png", K.LOWRES_IMAGE: "tissue_lowres_image.png"}
_IMAGE_SCALEF = {K.HIRES_IMAGE: K.HIRES_SCALEF, K.LOWRES_IMAGE: K.LOWRES_SCALEF}
_POSITIONS_HD = "tissue_positions.parquet"  # marks a Visium HD bin folder
_HD_BINS = "binned_outputs"
_HD_BIN_FOLDER = re.compile(r"square_(\d+)um")
DEFAULT_BIN_UM = 8  # the bin size Loupe Browser opens first
_COPY_HINT = "copy it again from the Space Ranger outs folder"
_SPATIAL_HINT = "copy the whole spatial/ folder from the Space Ranger outs folder"


@dataclass(frozen=True)
class _Outs:
    """Where the files of one sample are; Visium and Visium HD nest them differently."""

    folder: Path  # holds spatial/ and the count matrix: outs/, or an HD binned_outputs/square_XXXum/
    image_dirs: tuple[Path, ...]  # where tissue_*_image.png may be, first match wins
    hd: bool

    @property
    def spatial(self) -> Path:
        return self.folder / _SPATIAL_DIR


def read_visium(
    path: str | Path,
    *,
    counts_file: str | Path = "filtered_feature_bc_matrix.h5",
    fullres_image: str | Path | None = None,
    library_id: str | None = None,
    bin_size: int | None = None,
    require_counts: bool = True,
    cells: bool = False,
    layout_only: bool = False,
) -> AnnData:
    """Read a Space Ranger ``outs`` folder (Visium or Visium HD) or a spatial h5ad into an AnnData.

    The result follows scanpy's conventions so that scanpy and squidpy plotting work on it, and
    every later step of activespot finds spots, coordinates and images in one place. Only spots
    under tissue are kept: they are the ones a pathologist labels.

    Parameters
    ----------
    path
        A Space Ranger ``outs`` folder (or the sample folder that holds it); for Visium HD the
        ``outs`` folder or one ``binned_outputs/square_XXXum`` folder; or an ``.h5ad`` file that
        already holds ``obsm['spatial']`` and ``uns['spatial']`` (validated and returned).
    counts_file
        The count matrix, relative to the folder or absolute: a 10x HDF5 (v3) matrix or an h5ad
        whose ``obs_names`` are the barcodes. Ignored when ``path`` is an h5ad.
    fullres_image
        The full-resolution H&E image given to Space Ranger (TIFF, PNG or JPEG). It is not loaded,
        only measured and checked against the spot coordinates; patches are cropped from it later.
    library_id
        Key under ``uns['spatial']``. Default: the sample folder's name (the folder above
        Space Ranger's own ``outs``/``binned_outputs`` folders), or the 10x h5's ``library_ids``
        when the folder is called just ``outs`` or ``square_XXXum``; for an h5ad, its only library.
    bin_size
        Visium HD bin size in µm, used when ``path`` is an HD ``outs`` folder (selects
        ``binned_outputs/square_{bin_size:03d}um``). ``None``: 8 µm when the output has it (as
        Loupe Browser opens), else its only bin size.
    require_counts
        If true, a missing matrix is an error and in-tissue spots without counts are left out.
        If false, a missing matrix gives spots with zero genes, and spots the matrix lacks are
        kept with empty rows and ``obs['has_counts']`` false: enough to label from morphology.
    cells
        Read the cells Space Ranger 4 segmented in a Visium HD output (``segmented_outputs/``)
        instead of its bins: counts from ``filtered_feature_cell_matrix.h5``, one item per cell
        named by its barcode (``cellid_000000001-1``), at the centroid of its polygon in
        ``cell_segmentations.geojson``. ``path`` is the HD ``outs`` folder (or ``segmented_outputs/``
        itself); ``counts_file`` and ``bin_size`` do not apply, and the matrix is required.
    layout_only
        Read the spots without their counts and images, for commands that have the features
        already (a round on a 640k-bin HD section): the same spots in the same order, with their
        positions and scale factors, but ``X`` has no genes and ``images`` is empty. Only the
        matrix's barcodes are read. An ``.h5ad`` or ``cells`` are read in full.

    Returns
    -------
    AnnData
        ``X``: raw counts, CSR, spots × genes (unique gene symbols); ``var['gene_ids']``.
        ``obs``: ``array_row``, ``array_col``, ``in_tissue`` (all 1), ``has_counts``.
        ``obsm['spatial']``: full-resolution pixel coordinates (x = column, y = row), float.
        ``uns['spatial'][library_id]``: ``images`` (``hires``/``lowres`` as uint8 RGB, those that
        exist), ``scalefactors`` (as in ``scalefactors_json.json``), ``metadata`` (``source_path``,
        ``software_version`` and ``chemistry_description`` when the h5 has them,
        ``source_image_path`` and ``source_image_shape`` when ``fullres_image`` is given).
        ``uns['library_id']``.

        With ``cells``: no ``array_row``/``array_col`` (cells are not on a grid), ``obs['area_px']``
        (polygon area in full-resolution pixels²), ``obsm['spatial']`` the polygon centroids,
        ``uns['activespot_items'] = 'hd_segmented_cells'``; the scale factors are
        ``segmented_outputs/spatial/scalefactors_json.json`` (or a bin folder's, without
        ``bin_size_um``), with ``spot_diameter_fullres`` the diameter of a disc of the median cell
        area, so that patches and the tissue view size a cell as they size a spot.

    Raises
    ------
    InputFileError
        A required file is missing or malformed (the message names it and says what to do).

    Warns
    -----
    UserWarning
        A hires or lowres image is missing or blank, no image is present at all, some matrix
        barcodes have no position, or spots fall outside an image after scaling.
    """
    _check_library_id(library_id)
    _check_bin_size(bin_size)
    if cells and bin_size is not None:
        msg = "Pass either `cells=True` (segmented cells) or a `bin_size` (bins), not both."
        raise ValueError(msg)
    path = Path(path).expanduser()
    fullres = None if fullres_image is None else Path(fullres_image).expanduser().resolve()
    notes: list[str] = []
    if cells:
        from ._hd_cells import locate_segmented, read_segmented  # it builds on this module's helpers

        adata = read_segmented(locate_segmented(path), library_id=library_id, fullres=fullres, notes=notes)
    elif path.suffix.lower() == ".h5ad":
        adata = _read_spatial_h5ad(
            path, library_id=library_id, require_counts=require_counts, fullres=fullres, notes=notes
        )
    else:
        outs = _locate_outs(path, bin_size=bin_size)
        adata = _read_outs(
            outs,
            counts_file=Path(counts_file).expanduser(),
            library_id=library_id,
            require_counts=require_counts,
            fullres=fullres,
            notes=notes,
            layout_only=layout_only,
        )
    for message in notes:
        warnings.warn(message, UserWarning, stacklevel=2)
    return adata


# --- checks of arguments --------------------------------------------------------------------


def _check_library_id(library_id: object) -> None:
    # '/' would nest groups when the AnnData is written to h5ad.
    if library_id is not None and (not isinstance(library_id, str) or not library_id or "/" in library_id):
        msg = f"The `library_id` must be a non-empty string without '/', or None; got {library_id!r}."
        raise ValueError(msg)


def _check_bin_size(bin_size: object) -> None:
    if bin_size is None:
        return
    if isinstance(bin_size, bool) or not isinstance(bin_size, int) or bin_size <= 0:
        msg = f"The `bin_size` must be a positive whole number of µm (2, 8 or 16 in Space Ranger); got {bin_size!r}."
        raise ValueError(msg)


def _warn(notes: list[str], message: str) -> None:
    """Log it now (kept even if an error follows) and keep it for :func:`read_visium` to warn at the caller's line."""
    logger.info(message)
    notes.append(message)


# --- folder layout --------------------------------------------------------------------------


def _locate_outs(path: Path, *, bin_size: int | None) -> _Outs:
    """Find spatial/ and the matrix under ``path``, whichever of the accepted folders it is."""
    hint = "pass a Space Ranger outs folder (it holds spatial/ and filtered_feature_bc_matrix.h5) or an .h5ad file"
    if not path.exists():
        raise InputFileError(path, "folder not found", hint)
    if not path.is_dir():
        raise InputFileError(path, "not a folder or an .h5ad file", hint)
    path = path.resolve()
    if (path / _HD_BINS).is_dir():
        # Visium HD outs (Space Ranger 3.0+): one folder per bin size under binned_outputs/.
        found = sorted(int(m[1]) for p in (path / _HD_BINS).iterdir() if (m := _HD_BIN_FOLDER.fullmatch(p.name)))
        if bin_size is None:
            bin_size = DEFAULT_BIN_UM if DEFAULT_BIN_UM in found or len(found) != 1 else found[0]
        bin_dir = path / _HD_BINS / f"square_{bin_size:03d}um"
        if not bin_dir.is_dir():
            sizes = ", ".join(f"{size} µm" for size in found) or "none"
            raise InputFileError(
                bin_dir,
                f"no {bin_size} µm bins in this Visium HD output (it has: {sizes})",
                "choose one of its bin sizes (activespot init --bin-size N; bin_size=N in Python)",
            )
        return _Outs(bin_dir, (bin_dir / _SPATIAL_DIR, path / _SPATIAL_DIR), hd=True)
    if not (path / _SPATIAL_DIR).is_dir() and (path / "outs").is_dir():
        return _locate_outs(path / "outs", bin_size=bin_size)
    if not (path / _SPATIAL_DIR).is_dir():
        raise InputFileError(path, "no spatial/ folder, so this is not a Space Ranger outs folder", hint)
    if (path / _SPATIAL_DIR / _POSITIONS_HD).is_file():  # one HD bin folder, given directly
        outs = path.parent.parent if path.parent.name == _HD_BINS else path
        return _Outs(path, (path / _SPATIAL_DIR, outs / _SPATIAL_DIR), hd=True)
    return _Outs(path, (path / _SPATIAL_DIR,), hd=False)


def _default_library_id(folder: Path, h5_library_id: str | None) -> str:
    """The sample's folder name, skipping Space Ranger's own folder names above the data."""
    if _HD_BIN_FOLDER.fullmatch(folder.name) and folder.parent.name == _HD_BINS:
        folder = folder.parent.parent
    if folder.name == "outs" and folder.parent.name:
        return folder.parent.name
    if folder.name == "outs" or _HD_BIN_FOLDER.fullmatch(folder.name):
        return h5_library_id or folder.name
    return folder.name


# --- one outs folder ------------------------------------------------------------------------


def _read_outs(
    outs: _Outs,
    *,
    counts_file: Path,
    library_id: str | None,
    require_counts: bool,
    fullres: Path | None,
    notes: list[str],
    layout_only: bool = False,
) -> AnnData:
    """Read and cross-check positions, scale factors, images and counts; cheap files first."""
    positions_path, positions = read_positions(outs.spatial)
    image_paths = _find_images(outs.image_dirs)
    scalefactors = _read_scalefactors(outs.spatial / _SCALEFACTORS_FILE, images=image_paths, hd=outs.hd)
    images = (
        {}
        if layout_only
        else _read_images(image_paths, where=outs.spatial, has_fullres=fullres is not None, notes=notes)
    )

    counts_path = counts_file if counts_file.is_absolute() else outs.folder / counts_file
    counts, h5_meta = None, {}
    if counts_path.is_file():
        counts, h5_meta = read_counts(counts_path, barcodes_only=layout_only)
    elif require_counts:
        raise InputFileError(
            counts_path,
            "count matrix not found",
            "pass the Space Ranger outs folder that holds it (counts_file= names another file); to label from the H&E "
            "alone, create the project with 'activespot init --morphology-only' (require_counts=False in Python)",
        )
    else:
        _warn(notes, f"{counts_path}: no count matrix, so the spots have no genes (morphology-only labelling)")
    adata = _join(
        positions,
        counts,
        positions_path=positions_path,
        counts_path=counts_path,
        require_counts=require_counts,
        notes=notes,
    )

    library_id = library_id or _default_library_id(outs.folder, h5_meta.pop("library_ids", None))
    metadata = {K.SOURCE_PATH_KEY: str(outs.folder), **h5_meta}
    adata.uns[K.SPATIAL_KEY] = {
        library_id: {K.IMAGES_KEY: images, K.SCALEFACTORS_KEY: scalefactors, K.METADATA_KEY: metadata}
    }
    adata.uns[K.LIBRARY_ID_KEY] = library_id
    _check_image_extent(adata.obsm[K.SPATIAL_KEY], images, image_paths, scalefactors, notes)
    if fullres is not None:
        _attach_fullres(adata, fullres, library_id)
    logger.info(
        "Read %d in-tissue spots x %d genes from %s (library %r, images: %s); wrote obs %s, obsm[%r], uns[%r], uns[%r]",
        adata.n_obs,
        adata.n_vars,
        outs.folder,
        library_id,
        ", ".join(images) or "none",
        list(adata.obs.columns),
        K.SPATIAL_KEY,
        K.SPATIAL_KEY,
        K.LIBRARY_ID_KEY,
    )
    return adata


# --- scale factors --------------------------------------------------------------------------


def _read_scalefactors(path: Path, *, images: Iterable[str], hd: bool) -> dict[str, float]:
    """Read ``scalefactors_json.json``; only the factors of images that exist are required."""
    if not path.is_file():
        raise InputFileError(path, "scale factors file not found", _SPATIAL_HINT)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InputFileError(path, f"not valid JSON ({err.msg})", _COPY_HINT, line=err.lineno) from err
    except UnicodeDecodeError as err:
        raise InputFileError(path, "not valid JSON (undecodable bytes)", _COPY_HINT) from err
    return _check_scalefactors(raw, path, images=images, hd=hd, where="")


def _check_scalefactors(raw: object, path: Path, *, images: Iterable[str], hd: bool, where: str) -> dict[str, float]:
    """Require the factors later steps use, each a positive finite number; ``where`` locates them in an h5ad."""
    hint = "use the scalefactors_json.json Space Ranger wrote for this sample"
    if not isinstance(raw, Mapping):
        raise InputFileError(path, f"{where}expected a JSON object of scale factors, got {type(raw).__name__}", hint)
    required = {K.SPOT_DIAMETER: "every spot's size in pixels"}
    required.update({_IMAGE_SCALEF[name]: f"{_IMAGE_FILES[name]} is present" for name in images})
    if hd:
        required.update({K.MICRONS_PER_PIXEL: "Visium HD", K.BIN_SIZE_UM: "Visium HD"})
    missing = [f"{key} (needed: {why})" for key, why in required.items() if key not in raw]
    if missing:
        raise InputFileError(path, f"{where}missing scale factor(s): {'; '.join(missing)}", hint)
    scalefactors = {}
    for key, value in raw.items():
        number = _positive_number(value)
        if number is None:
            raise InputFileError(path, f"{where}{key} must be a positive finite number, got {value!r}", hint)
        scalefactors[str(key)] = number
    return scalefactors


def _positive_number(value: Any) -> float | None:
    if isinstance(value, bool | np.bool_ | str | bytes) or np.ndim(value) != 0:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


# --- images ---------------------------------------------------------------------------------


def _find_images(image_dirs: Iterable[Path]) -> dict[str, Path]:
    found = {}
    for name, file_name in _IMAGE_FILES.items():
        for folder in image_dirs:
            if (folder / file_name).is_file():
                found[name] = folder / file_name
                break
    return found


def _read_images(
    paths: Mapping[str, Path], *, where: Path, has_fullres: bool, notes: list[str]
) -> dict[str, np.ndarray]:
    _warn_missing_images(paths.keys(), where=where, has_fullres=has_fullres, notes=notes)
    images = {}
    for name, path in paths.items():
        image = read_tissue_image(path)
        if is_blank(image):
            _warn(
                notes,
                f"{path}: the image is blank (one colour, probably a placeholder), so morphology "
                "features from it will be meaningless",
            )
        images[name] = image
    return images


def _warn_missing_images(present: Iterable[str], *, where: Path, has_fullres: bool, notes: list[str]) -> None:
    present = list(present)
    missing = [_IMAGE_FILES[name] for name in _IMAGE_FILES if name not in present]
    if not present and not has_fullres:
        _warn(
            notes,
            f"{where}: no {' or '.join(missing)}, so morphology features will not be available "
            "(pass fullres_image= to use the full-resolution H&E)",
        )
    elif missing:
        using = ", ".join(present) or "the full-resolution image"
        _warn(notes, f"{where}: no {' or '.join(missing)}; using {using} only")


def _check_image_extent(
    coords: np.ndarray,
    images: Mapping[str, np.ndarray],
    paths: Mapping[str, Path],
    scalefactors: Mapping[str, float],
    notes: list[str],
) -> None:
    """Warn when spots land outside an image at its scale factor: a mismatched image or JSON."""
    for name, image in images.items():
        height, width = image.shape[:2]
        scaled = coords * scalefactors[_IMAGE_SCALEF[name]]
        outside = int(((scaled[:, 0] >= width) | (scaled[:, 1] >= height)).sum())
        if outside:
            _warn(
                notes,
                f"{paths[name]}: {outside} of {len(coords)} in-tissue spots fall outside this "
                f"{width}x{height} image at {_IMAGE_SCALEF[name]}={scalefactors[_IMAGE_SCALEF[name]]}; "
                "the image or scalefactors_json.json may belong to another sample",
            )


def _attach_fullres(adata: AnnData, path: Path, library_id: str) -> None:
    """Record the full-resolution image after checking that every spot lies inside it."""
    height, width = read_image_size(path)
    coords = adata.obsm[K.SPATIAL_KEY]
    if len(coords):
        x_max, y_max = coords.max(axis=0)
        if x_max >= width or y_max >= height:
            raise InputFileError(
                path,
                f"spot coordinates reach x={x_max:.0f}, y={y_max:.0f} px but the image is only {width}x{height} px",
                "this is probably the wrong image, or a downsampled or rotated copy: pass the full-resolution "
                "image that was given to Space Ranger",
            )
    metadata = adata.uns[K.SPATIAL_KEY][library_id].setdefault(K.METADATA_KEY, {})
    metadata[K.FULLRES_PATH_KEY] = str(path)
    metadata[K.FULLRES_SHAPE_KEY] = np.array([height, width], dtype=np.int64)
    logger.info("Full-resolution image %s (%d x %d px) recorded for library %r", path, width, height, library_id)


# --- positions x counts ---------------------------------------------------------------------


def _join(
    positions: pd.DataFrame,
    counts: AnnData | None,
    *,
    positions_path: Path,
    counts_path: Path,
    require_counts: bool,
    notes: list[str],
) -> AnnData:
    """Match matrix barcodes to in-tissue positions; matrix order first, then spots without counts."""
    spots = positions[positions[K.IN_TISSUE].to_numpy() == 1]
    if counts is None:
        X = sparse.csr_matrix((len(spots), 0), dtype=np.float32)
        var = pd.DataFrame({K.GENE_IDS: pd.Series(dtype=str)})
        return _assemble(X, spots, var, has_counts=np.zeros(len(spots), dtype=bool))

    row_of = positions.index.get_indexer(counts.obs_names)
    placed = row_of >= 0
    if not placed.any():
        raise InputFileError(
            positions_path,
            f"none of the {counts.n_obs} barcodes of {counts_path} is in this positions file "
            f"(e.g. {counts.obs_names[0]!r} vs {positions.index[0]!r})",
            "the matrix and the positions come from different samples: use the spatial/ folder of the same run",
        )
    if not placed.all():
        _warn(
            notes,
            f"{counts_path}: {int((~placed).sum())} of {counts.n_obs} barcodes have no position in "
            f"{positions_path.name} and were left out",
        )
    in_tissue = placed & (positions[K.IN_TISSUE].to_numpy()[np.where(placed, row_of, 0)] == 1)
    if not in_tissue.any():
        raise InputFileError(
            counts_path,
            f"none of its barcodes is an in-tissue spot of {positions_path}",
            "pass the filtered matrix (filtered_feature_bc_matrix.h5) of this sample",
        )
    if (placed & ~in_tissue).any():
        logger.info("%s: %d barcodes outside the tissue were left out", counts_path, int((placed & ~in_tissue).sum()))
    rows = np.flatnonzero(in_tissue)
    X = counts.X if len(rows) == counts.n_obs else counts.X[rows]
    obs = positions.iloc[row_of[rows]]
    has_counts = np.ones(len(rows), dtype=bool)
    without = spots[~spots.index.isin(counts.obs_names)]
    if len(without) and require_counts:
        logger.warning(
            "%s: %d of %d in-tissue spots have no counts in %s and were left out "
            "(require_counts=False keeps them for morphology-only labelling)",
            positions_path,
            len(without),
            len(spots),
            counts_path.name,
        )
    elif len(without):
        logger.info(
            "%s: %d in-tissue spots without counts kept with empty rows (has_counts False)",
            positions_path,
            len(without),
        )
        X = sparse.vstack([X, sparse.csr_matrix((len(without), X.shape[1]), dtype=X.dtype)], format="csr")
        obs = pd.concat([obs, without])
        has_counts = np.concatenate([has_counts, np.zeros(len(without), dtype=bool)])
    return _assemble(X, obs, counts.var.copy(), has_counts=has_counts)


def _assemble(X: sparse.csr_matrix, positions: pd.DataFrame, var: pd.DataFrame, *, has_counts: np.ndarray) -> AnnData:
    obs = positions[[K.ARRAY_ROW, K.ARRAY_COL, K.IN_TISSUE]].copy()
    obs[K.HAS_COUNTS] = has_counts
    coords = np.column_stack([positions[PXL_COL].to_numpy(), positions[PXL_ROW].to_numpy()]).astype(np.float64)
    var.index = var.index.astype(str)
    return AnnData(X=X, obs=obs, var=var, obsm={K.SPATIAL_KEY: coords})


# --- an h5ad that already holds everything --------------------------------------------------


def _read_spatial_h5ad(
    path: Path, *, library_id: str | None, require_counts: bool, fullres: Path | None, notes: list[str]
) -> AnnData:
    """Check that an h5ad carries coordinates, scale factors and usable images; normalise the images."""
    hint = "read the Space Ranger outs folder instead, or an h5ad saved from activespot.io.read_visium"
    adata = read_h5ad(path)
    if K.SPATIAL_KEY not in adata.obsm:
        raise InputFileError(path, f"no obsm[{K.SPATIAL_KEY!r}] (spot coordinates in full-resolution pixels)", hint)
    try:
        coords = np.asarray(adata.obsm[K.SPATIAL_KEY], dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InputFileError(path, f"obsm[{K.SPATIAL_KEY!r}] is not numeric", hint) from err
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise InputFileError(path, f"obsm[{K.SPATIAL_KEY!r}] should be (spots, 2), got {coords.shape}", hint)
    if not (np.isfinite(coords) & (coords >= 0)).all():
        raise InputFileError(path, f"obsm[{K.SPATIAL_KEY!r}] holds missing or negative coordinates", hint)
    adata.obsm[K.SPATIAL_KEY] = coords
    if not adata.obs_names.is_unique:
        raise InputFileError(path, "obs_names (barcodes) are not unique", hint)
    if require_counts and adata.n_vars == 0:
        raise InputFileError(
            path,
            "holds no genes",
            "to label from the H&E alone, create the project with 'activespot init --morphology-only' "
            "(require_counts=False in Python)",
        )

    library_id = _pick_library(adata.uns.get(K.SPATIAL_KEY), library_id, path, hint)
    entry = adata.uns[K.SPATIAL_KEY][library_id]
    where = f"uns[{K.SPATIAL_KEY!r}][{library_id!r}]"
    images = dict(entry.get(K.IMAGES_KEY) or {})
    entry[K.SCALEFACTORS_KEY] = _check_scalefactors(
        entry.get(K.SCALEFACTORS_KEY, {}),
        path,
        images=[name for name in images if name in _IMAGE_FILES],
        hd=K.BIN_SIZE_UM in (entry.get(K.SCALEFACTORS_KEY) or {}),
        where=f"{where}[{K.SCALEFACTORS_KEY!r}]: ",
    )
    entry[K.IMAGES_KEY] = {name: to_uint8_rgb(np.asarray(image), path) for name, image in images.items()}
    metadata = entry.setdefault(K.METADATA_KEY, {})
    _warn_missing_images(
        entry[K.IMAGES_KEY].keys(),
        where=path,
        has_fullres=fullres is not None or K.FULLRES_PATH_KEY in metadata,
        notes=notes,
    )
    if fullres is None and K.FULLRES_PATH_KEY in metadata and not Path(metadata[K.FULLRES_PATH_KEY]).is_file():
        _warn(
            notes,
            f"{path}: the full-resolution image it records, {metadata[K.FULLRES_PATH_KEY]}, is not there "
            "any more; pass fullres_image= with its new location",
        )
    adata.uns[K.LIBRARY_ID_KEY] = library_id
    if fullres is not None:
        _attach_fullres(adata, fullres, library_id)
    logger.info("Read %d spots x %d genes from %s (library %r)", adata.n_obs, adata.n_vars, path, library_id)
    return adata


def _pick_library(spatial: object, library_id: str | None, path: Path, hint: str) -> str:
    if not isinstance(spatial, Mapping) or not spatial:
        raise InputFileError(path, f"no uns[{K.SPATIAL_KEY!r}] (images and scale factors per library)", hint)
    libraries = sorted(spatial)
    if library_id is not None and library_id not in spatial:
        raise InputFileError(
            path,
            f"no library {library_id!r} in uns[{K.SPATIAL_KEY!r}] (found: {', '.join(libraries)})",
            "pass library_id= one of those",
        )
    if library_id is None and len(libraries) > 1:
        raise InputFileError(path, f"holds several libraries ({', '.join(libraries)})", "pass library_id= one of them")
    chosen = library_id or libraries[0]
    if not isinstance(spatial[chosen], Mapping):
        raise InputFileError(path, f"uns[{K.SPATIAL_KEY!r}][{chosen!r}] should hold images and scalefactors", hint)
    return chosen
