"""Count matrices: 10x HDF5 (checked before scanpy reads it) or h5ad, to spots x genes CSR.

scanpy's reader fails with a bare KeyError on a file of the wrong kind; the checks here say which
kind of file it is (molecule info, probe-level, truncated, empty) and which file to pass instead.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from .. import _constants as K
from ..errors import InputFileError

__all__ = ["read_counts", "read_h5ad"]

logger = logging.getLogger(__name__)

_H5_DATASETS = (
    "data",
    "indices",
    "indptr",
    "shape",
    "barcodes",
    "features/id",
    "features/name",
    "features/feature_type",
)  # what scanpy.read_10x_h5 needs from a v3 matrix
_COPY_HINT = "copy it again from the Space Ranger outs folder"


def read_counts(path: Path, *, barcodes_only: bool = False) -> tuple[AnnData, dict[str, str]]:
    """Read a 10x h5 or an h5ad: barcodes as obs_names, unique gene symbols, CSR counts.

    Also returns what the 10x h5 says about its origin (library, software, chemistry). With
    ``barcodes_only`` the matrix has no genes: only its barcodes are read (a 640k-bin HD matrix
    in a fraction of a second instead of seconds), for commands that need the spots but not counts.
    """
    if barcodes_only:
        return _read_barcodes(path)
    if path.suffix.lower() == ".h5ad":
        counts, meta = read_h5ad(path), {}
        if counts.X is None:
            raise InputFileError(path, "the h5ad holds no count matrix (X is empty)", "put raw counts in X")
    else:
        meta = _check_10x_h5(path)
        import scanpy as sc  # slow to import; only needed here

        try:
            counts = sc.read_10x_h5(path)
        except (OSError, KeyError, ValueError) as err:  # data damaged past the header checks
            raise InputFileError(path, f"the matrix could not be read ({err})", _COPY_HINT) from err
    if not counts.obs_names.is_unique:
        duplicate = counts.obs_names[counts.obs_names.duplicated()][0]
        raise InputFileError(path, f"barcode {duplicate!r} occurs more than once", _COPY_HINT)
    if not counts.var_names.is_unique:
        n_duplicates = int(counts.var_names.duplicated().sum())
        counts.var_names_make_unique()
        logger.info("%s: %d repeated gene symbols were made unique (suffix -1, -2, ...)", path, n_duplicates)
    if not sparse.issparse(counts.X) or counts.X.format != "csr":
        counts.X = sparse.csr_matrix(counts.X)
    if counts.X.nnz and counts.X.data.min() < 0:
        raise InputFileError(
            path,
            "the matrix has negative values, so it does not hold raw counts",
            "pass the raw UMI counts (e.g. filtered_feature_bc_matrix.h5)",
        )
    return counts, meta


def _read_barcodes(path: Path) -> tuple[AnnData, dict[str, str]]:
    if path.suffix.lower() == ".h5ad":
        on_disk, meta = read_h5ad(path, backed=True), {}
        barcodes = on_disk.obs_names.copy()
        on_disk.file.close()
    else:
        meta = _check_10x_h5(path)
        with h5py.File(path, "r") as handle:
            barcodes = pd.Index(handle["matrix/barcodes"][:].astype(str))
    if not barcodes.is_unique:
        raise InputFileError(path, f"barcode {barcodes[barcodes.duplicated()][0]!r} occurs more than once", _COPY_HINT)
    empty = sparse.csr_matrix((len(barcodes), 0), dtype=np.float32)
    return AnnData(X=empty, obs=pd.DataFrame(index=barcodes)), meta


def _check_10x_h5(path: Path) -> dict[str, str]:
    """Check the layout of a 10x HDF5 v3 matrix before scanpy reads it, for errors that say what is wrong."""
    hint = "pass filtered_feature_bc_matrix.h5 from the Space Ranger outs folder"
    if path.stat().st_size == 0:
        raise InputFileError(path, "the file is empty (0 bytes)", f"the copy was interrupted: {_COPY_HINT}")
    try:
        handle = h5py.File(path, "r")
    except OSError as err:
        raise InputFileError(path, f"not a readable HDF5 file ({_h5_failure(err)})", _COPY_HINT) from err
    with handle:
        if "matrix" not in handle:
            found = ", ".join(sorted(handle.keys())) or "nothing"
            kind = (
                "a molecule_info.h5"
                if "barcode_idx" in handle
                else f"not a 10x feature-barcode matrix (top level holds: {found})"
            )
            raise InputFileError(path, f"no 'matrix' group: this is {kind}", hint)
        matrix = handle["matrix"]
        if any(name in matrix for name in ("filtered_barcodes", "features/probe_region", "features/gene_id")):
            raise InputFileError(path, "this is a probe-level matrix (one row per probe, not per gene)", hint)
        missing = [name for name in _H5_DATASETS if name not in matrix]
        if missing:
            raise InputFileError(path, f"the 'matrix' group lacks {', '.join(missing)}", hint)
        _check_h5_shapes(matrix, path)
        return {
            key: _attr_text(handle.attrs[attr])
            for key, attr in (
                ("library_ids", "library_ids"),
                (K.SOFTWARE_VERSION_KEY, "software_version"),
                (K.CHEMISTRY_KEY, "chemistry_description"),
            )
            if attr in handle.attrs
        }


def _check_h5_shapes(matrix: h5py.Group, path: Path) -> None:
    shape = matrix["shape"][()]
    if np.shape(shape) != (2,):
        raise InputFileError(path, f"matrix/shape should be (genes, barcodes), got {shape!r}", _COPY_HINT)
    n_genes, n_barcodes = (int(n) for n in shape)
    lengths = {
        "matrix/barcodes": (len(matrix["barcodes"]), n_barcodes),
        "matrix/features/id": (len(matrix["features/id"]), n_genes),
        "matrix/features/name": (len(matrix["features/name"]), n_genes),
        "matrix/indptr": (len(matrix["indptr"]), n_barcodes + 1),
        "matrix/indices": (len(matrix["indices"]), len(matrix["data"])),
    }
    if n_barcodes >= 0 and len(matrix["indptr"]):
        lengths["matrix/data"] = (len(matrix["data"]), int(matrix["indptr"][-1]))
    for name, (found, expected) in lengths.items():
        if found != expected:
            raise InputFileError(path, f"{name} has {found} entries but matrix/shape says {expected}", _COPY_HINT)


def _attr_text(value: Any) -> str:
    items = np.atleast_1d(value).tolist()
    return ", ".join(item.decode() if isinstance(item, bytes) else str(item) for item in items)


def read_h5ad(path: Path, *, backed: bool = False) -> AnnData:
    """Read an h5ad; ``backed`` leaves X on disk (for its obs alone)."""
    import anndata as ad

    if not path.is_file():
        raise InputFileError(path, "file not found", "check the path")
    try:
        return ad.read_h5ad(path, backed="r" if backed else None)
    except (OSError, KeyError, ValueError, TypeError) as err:
        raise InputFileError(path, f"not a readable h5ad file ({_h5_failure(err)})", "save it again") from err


def _h5_failure(err: Exception) -> str:
    """Name the usual cause of an HDF5 read failure in words a user can act on."""
    if "truncated" in str(err):
        return "truncated"
    if "signature not found" in str(err):
        return "not HDF5"
    return f"{err.__class__.__name__}: {err}"
