"""Malformed Visium inputs: each must raise one InputFileError, on one line, naming the file.

Every case starts from a copy of real data (or the small synthetic folders of conftest) and
breaks one thing, the way files get broken in practice: an interrupted copy, a hand edit in
Excel, the wrong file picked in a dialog.
"""

import json
import shutil

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest
import tifffile
from scipy import sparse

from activespot.errors import InputFileError
from activespot.io._visium import read_visium
from tests.conftest import DLPFC, HEART
from tests.io.conftest import build_outs, build_visium_hd, copy_folder

H5 = "filtered_feature_bc_matrix.h5"
POSITIONS_1X = "tissue_positions_list.csv"
SCALEFACTORS = "scalefactors_json.json"


def _dlpfc(tmp_path):
    return copy_folder(DLPFC, tmp_path / "dlpfc_151673")


def _edit_positions(folder, edit):
    """Load the headerless 1.x positions as text, apply ``edit`` to the table, write it back."""
    path = folder / "spatial" / POSITIONS_1X
    table = pd.read_csv(path, header=None, dtype=str)
    edit(table, table.index[table[1] == "1"][0])  # the first in-tissue row
    table.to_csv(path, header=False, index=False)
    return folder


def _positions_case(edit):
    return lambda tmp_path: (_edit_positions(_dlpfc(tmp_path), edit), {}, POSITIONS_1X)


def _set(column, value):
    def edit(table, row):
        table.loc[row, column] = value

    return edit


def _ragged(lines):
    lines[2] += b",7"  # one extra field on line 3
    return lines


def _scalefactors_case(content):
    def build(tmp_path):
        folder = _dlpfc(tmp_path)
        (folder / "spatial" / SCALEFACTORS).write_text(content)
        return folder, {}, SCALEFACTORS

    return build


def _dlpfc_scalefactors(**changes):
    values = json.loads((DLPFC / "spatial" / SCALEFACTORS).read_text())
    values.update(changes)
    return json.dumps({key: value for key, value in values.items() if value is not None})


def _replace(relative, content):
    """A DLPFC copy with one file replaced by ``content`` (bytes, or a callable of the original bytes)."""

    def build(tmp_path):
        folder = _dlpfc(tmp_path)
        target = folder / relative
        target.write_bytes(content(target.read_bytes()) if callable(content) else content)
        return folder, {}, target.name

    return build


def _remove(relative, expected):
    def build(tmp_path):
        folder = _dlpfc(tmp_path)
        target = folder / relative
        shutil.rmtree(target) if target.is_dir() else target.unlink()
        return folder, {}, expected

    return build


def _h5_case(edit):
    def build(tmp_path):
        folder = _dlpfc(tmp_path)
        with h5py.File(folder / H5, "r+") as handle:
            edit(handle)
        return folder, {}, H5

    return build


def _wrong_layout_h5(tmp_path):
    folder = _dlpfc(tmp_path)
    with h5py.File(folder / H5, "w") as handle:
        handle["counts"] = np.arange(4)
    return folder, {}, H5


def _probe_level_h5(tmp_path):
    folder = copy_folder(HEART, tmp_path / "heart")
    shutil.copyfile(HEART.parent / "2.1.0" / "raw_probe_bc_matrix.h5", folder / H5)
    return folder, {}, H5


def _h5ad(tmp_path, *, spatial=True, uns=True):
    adata = ad.AnnData(sparse.csr_matrix(np.ones((3, 2), np.float32)), obs=pd.DataFrame(index=["A-1", "B-1", "C-1"]))
    if spatial:
        adata.obsm["spatial"] = np.ones((3, 2))
    if uns:
        adata.uns["spatial"] = {"lib": {"images": {}, "scalefactors": {"spot_diameter_fullres": 10.0}}}
    path = tmp_path / "sample.h5ad"
    adata.write_h5ad(path)
    return path, {}, "sample.h5ad"


def _fullres(tmp_path, shape):
    folder = build_outs(tmp_path / "outs")
    path = tmp_path / "slide.tif"
    if shape == "text":
        path.write_text("not a TIFF")
    elif shape is not None:
        tifffile.imwrite(path, np.zeros(shape, np.uint8), photometric="rgb")
    return folder, {"fullres_image": path}, "slide.tif"


def _header_lacks_a_column(tmp_path):
    folder = build_outs(tmp_path / "outs")
    (folder / "spatial" / "tissue_positions.csv").write_text("barcode,in_tissue\nA-1,1\n")
    return folder, {}, "tissue_positions.csv"


def _text_as_h5ad(tmp_path):
    path = tmp_path / "notes.h5ad"
    path.write_text("hello")
    return path, {}, path.name


def _hd(tmp_path, edit):
    outs = build_visium_hd(tmp_path / "hd" / "outs", side=6)
    spatial = outs / "binned_outputs" / "square_008um" / "spatial"
    return outs, {}, edit(spatial)


def _hd_drop_column(spatial):
    path = spatial / "tissue_positions.parquet"
    pd.read_parquet(path).drop(columns="pxl_row_in_fullres").to_parquet(path)
    return path.name


def _hd_drop_scalefactor(spatial):
    path = spatial / SCALEFACTORS
    path.write_text(json.dumps({k: v for k, v in json.loads(path.read_text()).items() if k != "microns_per_pixel"}))
    return path.name


CASES = {
    "missing folder": lambda tmp_path: (tmp_path / "no_such_sample", {}, "no_such_sample"),
    "a file, not a folder": lambda tmp_path: (_replace(H5, b"x")(tmp_path)[0] / H5, {}, H5),
    "no spatial/ folder": _remove("spatial", "dlpfc_151673"),
    "no positions file": _remove(f"spatial/{POSITIONS_1X}", "tissue_positions"),
    "empty positions file": _replace(f"spatial/{POSITIONS_1X}", b""),
    "positions match no barcode": _positions_case(lambda t, _: t.__setitem__(0, "X" + t[0])),
    "NaN coordinate": _positions_case(_set(4, "")),
    "negative coordinate": _positions_case(_set(5, "-40")),
    "text in coordinates": _positions_case(_set(4, "abc")),
    "in_tissue not 0/1": _positions_case(_set(1, "2")),
    "array_row not a whole number": _positions_case(_set(2, "1.5")),
    "wrong column count": _positions_case(lambda t, _: t.drop(columns=3, inplace=True)),
    "ragged row": _replace(f"spatial/{POSITIONS_1X}", lambda data: b"\n".join(_ragged(data.split(b"\n")))),
    "no in-tissue spots": _positions_case(lambda t, _: t.__setitem__(1, "0")),
    "duplicate barcodes": _positions_case(lambda t, row: t.__setitem__(0, t[0].where(t.index != row + 1, t[0][row]))),
    "header lacks a column": _header_lacks_a_column,
    "scalefactors missing spot diameter": _scalefactors_case(_dlpfc_scalefactors(spot_diameter_fullres=None)),
    "scalefactors missing lowres factor": _scalefactors_case(_dlpfc_scalefactors(tissue_lowres_scalef=None)),
    "scalefactors not JSON": _scalefactors_case("{spot_diameter_fullres: 96"),
    "scalefactors a list": _scalefactors_case("[1, 2]"),
    "scalefactor zero": _scalefactors_case(_dlpfc_scalefactors(tissue_lowres_scalef=0)),
    "scalefactor negative": _scalefactors_case(_dlpfc_scalefactors(spot_diameter_fullres=-96)),
    "scalefactor text": _scalefactors_case(_dlpfc_scalefactors(spot_diameter_fullres="96px")),
    "no scalefactors file": _remove(f"spatial/{SCALEFACTORS}", SCALEFACTORS),
    "truncated PNG": _replace("spatial/tissue_lowres_image.png", lambda data: data[: len(data) // 3]),
    "text saved as PNG": _replace("spatial/tissue_lowres_image.png", b"not an image at all"),
    "h5 with the wrong layout": _wrong_layout_h5,
    "probe-level h5": _probe_level_h5,
    "0-byte h5": _replace(H5, b""),
    "truncated h5": _replace(H5, lambda data: data[: len(data) // 2]),
    "garbage h5": _replace(H5, bytes(range(256)) * 40),
    "h5 without indptr": _h5_case(lambda handle: handle["matrix"].pop("indptr")),
    "h5 barcodes disagree with shape": _h5_case(
        lambda handle: handle["matrix/shape"].write_direct(np.array([5000, 10]))
    ),
    "h5ad without obsm['spatial']": lambda tmp_path: _h5ad(tmp_path, spatial=False),
    "h5ad without uns['spatial']": lambda tmp_path: _h5ad(tmp_path, uns=False),
    "h5ad that is not HDF5": _text_as_h5ad,
    "full-res image missing": lambda tmp_path: _fullres(tmp_path, None),
    "full-res image too small": lambda tmp_path: _fullres(tmp_path, (150, 180, 3)),
    "full-res image is text": lambda tmp_path: _fullres(tmp_path, "text"),
    "HD positions lack a column": lambda tmp_path: _hd(tmp_path, _hd_drop_column),
    "HD scalefactors lack microns_per_pixel": lambda tmp_path: _hd(tmp_path, _hd_drop_scalefactor),
}


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_input_is_one_line_naming_the_file(case, tmp_path):
    path, kwargs, file_name = CASES[case](tmp_path)
    with pytest.raises(InputFileError) as caught:
        read_visium(path, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    assert file_name in message, message
    assert " — " in message, f"no hint on what to do: {message}"


def test_line_numbers_point_at_the_bad_row(tmp_path):
    folder = _edit_positions(_dlpfc(tmp_path), _set(4, "abc"))
    table = pd.read_csv(folder / "spatial" / POSITIONS_1X, header=None, dtype=str)
    with pytest.raises(InputFileError) as caught:
        read_visium(folder)
    assert caught.value.line == table.index[table[4] == "abc"][0] + 1
    assert "'abc'" in str(caught.value)
