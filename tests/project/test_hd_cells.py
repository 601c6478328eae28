"""Space Ranger 4 segmented cells of a Visium HD output as a project's items (issue 13).

The synthetic output below plants every answer: a 12 x 12 grid of 8 µm bins (6 x 6 of 16 µm) on
the image, and cells whose centroids lie in known bins. Cell A is a rectangle over 3 x 3 bins
with its centroid in bin (3, 3); cell L is an L of three squares whose area centroid lies in bin
(7, 7), so a centroid computed the wrong way lands a label on the wrong cell (its vertices crowd
one edge, so their mean lies in bin (7, 8)); four small hexagons sit in bins of their own.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

from activespot import _constants as K
from activespot.cli import main
from activespot.errors import InputFileError
from activespot.io import map_cells_to_bins, read_cell_segmentations, read_visium
from activespot.project import Project

from ..conftest import DLPFC, VISIUM

HD_LAYOUT = VISIUM / "hd_layout"  # real (tiny) Space Ranger HD output; its GeoJSON lost its cell_id property
MPP = 0.25  # µm per full-resolution pixel: an 8 µm bin is 32 px
X0, Y0 = 100.0, 60.0  # where the bin grid starts on the image
SIDE = 12  # 8 µm bins per side
GENES = 5
L_SIDE = 36.0  # px side of each of the L's three squares
L_CORNER = (X0 + 7 * 32 + 1, Y0 + 7 * 32 + 1)  # the L starts 1 px into 8 µm bin (7, 7), off every bin centre
HEXAGONS = {(0, 0): (3.0, -4.0), (5, 10): (-5.0, 2.0), (11, 11): (4.0, 4.0), (6, 1): (0.0, -5.0)}  # bin: jitter px

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def bin_centre(um: int, row: int, col: int) -> tuple[float, float]:
    side = um / MPP
    return X0 + (col + 0.5) * side, Y0 + (row + 0.5) * side


def bin_code(um: int, row: int, col: int) -> str:
    return f"s_{um:03d}um_{row:05d}_{col:05d}-1"


def cell_code(cell_id: int) -> str:
    return f"cellid_{cell_id:09d}-1"


def _rectangle() -> list[list[float]]:
    """Cell A: over 8 µm bins rows 2-4, columns 2-4 (their nine centres inside), centroid at bin (3, 3)'s centre."""
    x0, y0, x1, y1 = X0 + 2 * 32 + 4, Y0 + 2 * 32 + 4, X0 + 5 * 32 - 4, Y0 + 5 * 32 - 4
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


def _l_shape() -> list[list[float]]:
    """Cell L: squares (0, 0), (1, 0), (0, 1) of side L_SIDE, area centroid (5/6, 5/6) side in: bin (7, 7).

    Nineteen extra vertices along its right edge pull the mean of its vertices to about (1.7, 0.6)
    sides in, in bin (7, 8), without changing its shape.
    """
    cx, cy = L_CORNER
    edge = [(2, t) for t in np.linspace(0.05, 0.95, 19)]
    unit = [(0, 0), (2, 0), *edge, (2, 1), (1, 1), (1, 2), (0, 2), (0, 0)]
    return [[cx + u * L_SIDE, cy + v * L_SIDE] for u, v in unit]


def _hexagon(x: float, y: float, radius: float = 12.0) -> list[list[float]]:
    angles = np.deg2rad(np.arange(0, 361, 60))
    return [[x + radius * math.cos(a), y + radius * math.sin(a)] for a in angles]


def planted_cells() -> dict[int, list[list[float]]]:
    """GeoJSON cell_id -> outer ring; ids are not consecutive, as after Space Ranger's filtering."""
    cells = {7: _rectangle(), 120: _l_shape()}
    for cell_id, ((row, col), (dx, dy)) in zip((3, 45, 2, 1000), HEXAGONS.items(), strict=True):
        x, y = bin_centre(8, row, col)
        cells[cell_id] = _hexagon(x + dx, y + dy)
    return cells


def write_cell_h5(path: Path, barcodes: list[str]) -> None:
    """A 10x HDF5 matrix: cell i of ``barcodes`` holds i + 1 counts of gene i % GENES."""
    with h5py.File(path, "w") as handle:
        handle.attrs["library_ids"] = np.array([b"hd_cells"])
        matrix = handle.create_group("matrix")
        matrix["data"] = np.arange(1, len(barcodes) + 1, dtype=np.int32)
        matrix["indices"] = (np.arange(len(barcodes)) % GENES).astype(np.int64)
        matrix["indptr"] = np.arange(len(barcodes) + 1, dtype=np.int64)
        matrix["shape"] = np.array([GENES, len(barcodes)], dtype=np.int32)
        matrix["barcodes"] = np.array(barcodes, dtype="S")
        features = matrix.create_group("features")
        features["id"] = np.array([f"ENSG{i:011d}" for i in range(GENES)], dtype="S")
        features["name"] = np.array([f"Gene{i}" for i in range(GENES)], dtype="S")
        features["feature_type"] = np.full(GENES, b"Gene Expression")
        features["genome"] = np.full(GENES, b"GRCh38")


def write_geojson(path: Path, cells: dict[int, list[list[float]]]) -> None:
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": {"cell_id": cell_id},
        }
        for cell_id, ring in cells.items()
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))


def write_bins(outs: Path, um: int) -> None:
    spatial = outs / "binned_outputs" / f"square_{um:03d}um" / "spatial"
    spatial.mkdir(parents=True)
    side = SIDE * 8 // um
    rows, cols = np.divmod(np.arange(side * side), side)
    centres = np.array([bin_centre(um, r, c) for r, c in zip(rows, cols, strict=True)])
    pd.DataFrame(
        {
            "barcode": [bin_code(um, r, c) for r, c in zip(rows, cols, strict=True)],
            "in_tissue": np.ones(len(rows), dtype=np.int32),
            "array_row": rows.astype(np.int32),
            "array_col": cols.astype(np.int32),
            "pxl_row_in_fullres": centres[:, 1],
            "pxl_col_in_fullres": centres[:, 0],
        }
    ).to_parquet(spatial / "tissue_positions.parquet", index=False)
    factors = {"spot_diameter_fullres": um / MPP, "bin_size_um": float(um), "microns_per_pixel": MPP}
    (spatial / "scalefactors_json.json").write_text(json.dumps({**factors, "tissue_hires_scalef": 0.5}))


def build_outs(root: Path) -> Path:
    """A Space Ranger 4 HD outs folder: 8 and 16 µm bins, and segmented_outputs/ with the planted cells."""
    outs = root / "hd_cells_sample" / "outs"
    for um in (8, 16):
        write_bins(outs, um)
    segmented = outs / "segmented_outputs"
    (segmented / "spatial").mkdir(parents=True)
    cells = planted_cells()
    write_geojson(segmented / "cell_segmentations.geojson", cells)
    write_cell_h5(segmented / "filtered_feature_cell_matrix.h5", [cell_code(i) for i in sorted(cells)])  # other order
    factors = {"microns_per_pixel": MPP, "tissue_hires_scalef": 0.5, "tissue_lowres_scalef": 0.05}
    (segmented / "spatial" / "scalefactors_json.json").write_text(json.dumps(factors))
    hires = np.random.default_rng(0).integers(80, 250, (300, 300, 3), dtype=np.uint8)  # not blank: patches are cut
    Image.fromarray(hires).save(segmented / "spatial" / "tissue_hires_image.png")
    return outs


@pytest.fixture
def outs(tmp_path) -> Path:
    return build_outs(tmp_path / "data")


def write_csv(path: Path, labels: dict[str, str]) -> Path:
    path.write_text("Barcode,Layer\n" + "".join(f"{code},{label}\n" for code, label in labels.items()))
    return path


def init_cells(outs: Path, project: Path, *extra: str):
    return CliRunner().invoke(
        main, ["init", str(project), "--visium", str(outs), "--cells", "--classes", "Tumour,Stroma,Immune", *extra]
    )


# --- reading -----------------------------------------------------------------------------------


def test_cells_are_read_at_their_centroids_with_their_own_counts(outs):
    adata = read_visium(outs, cells=True)
    cells = planted_cells()
    assert list(adata.obs_names) == [cell_code(i) for i in sorted(cells)]  # the matrix's order and barcodes
    assert K.ARRAY_ROW not in adata.obs
    assert K.ARRAY_COL not in adata.obs
    assert adata.uns[K.ITEMS_UNS_KEY] == K.ITEMS_HD_CELLS
    centroids = pd.DataFrame(adata.obsm[K.SPATIAL_KEY], index=adata.obs_names, columns=["x", "y"])
    np.testing.assert_allclose(centroids.loc[cell_code(7)], bin_centre(8, 3, 3))
    l_centroid = np.array(L_CORNER) + 5 / 6 * L_SIDE  # the area centroid, not the vertex mean
    np.testing.assert_allclose(centroids.loc[cell_code(120)], l_centroid)
    for cell_id, ((row, col), (dx, dy)) in zip((3, 45, 2, 1000), HEXAGONS.items(), strict=True):
        x, y = bin_centre(8, row, col)
        np.testing.assert_allclose(centroids.loc[cell_code(cell_id)], (x + dx, y + dy), atol=1e-9)
    np.testing.assert_allclose(adata.obs.loc[cell_code(120), K.CELL_AREA], 3 * L_SIDE**2)
    # The matrix's i-th cell holds i + 1 counts of gene i % GENES, joined by barcode to its polygon.
    dense = adata.X.toarray()
    for i in range(adata.n_obs):
        assert dense[i, i % GENES] == i + 1
        assert dense[i].sum() == i + 1
    factors = adata.uns[K.SPATIAL_KEY][adata.uns[K.LIBRARY_ID_KEY]][K.SCALEFACTORS_KEY]
    assert K.BIN_SIZE_UM not in factors
    assert factors[K.MICRONS_PER_PIXEL] == MPP
    median_area = np.median(adata.obs[K.CELL_AREA])
    assert factors[K.SPOT_DIAMETER] == pytest.approx(2 * math.sqrt(median_area / math.pi))
    assert adata.uns[K.LIBRARY_ID_KEY] == "hd_cells_sample"
    assert set(adata.uns[K.SPATIAL_KEY]["hd_cells_sample"][K.IMAGES_KEY]) == {K.HIRES_IMAGE}


def test_the_segmented_folder_itself_and_the_bins_scale_factors_serve_too(outs):
    (outs / "segmented_outputs" / "spatial" / "scalefactors_json.json").unlink()
    adata = read_visium(outs / "segmented_outputs", cells=True)
    factors = adata.uns[K.SPATIAL_KEY][adata.uns[K.LIBRARY_ID_KEY]][K.SCALEFACTORS_KEY]
    assert K.BIN_SIZE_UM not in factors  # the 8 µm bins' file, less what makes it a bin's
    assert factors[K.SPOT_DIAMETER] != 32.0  # a cell's diameter, not the bin's
    assert factors[K.MICRONS_PER_PIXEL] == MPP


def test_centroids_match_shapely_on_random_polygons():
    shapely = pytest.importorskip("shapely")
    from activespot.io import CellPolygons

    rng = np.random.default_rng(0)
    rings = []
    for _ in range(50):  # star-shaped (simple) polygons of 5-40 vertices far from the origin
        n = int(rng.integers(5, 40))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radii = rng.uniform(3, 20, n)
        centre = rng.uniform(1e4, 3e4, 2)
        rings.append(np.column_stack([np.cos(angles) * radii, np.sin(angles) * radii]) + centre)
    offsets = np.concatenate([[0], np.cumsum([len(r) for r in rings])])
    polygons = CellPolygons(pd.Index([cell_code(i) for i in range(50)]), np.vstack(rings), offsets, Path("x"))
    expected = np.array([shapely.Polygon(r).centroid.coords[0] for r in rings])
    np.testing.assert_allclose(polygons.centroids(), expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(polygons.areas(), [shapely.Polygon(r).area for r in rings], rtol=1e-9)


def test_the_real_hd_layout_geojson_is_refused_for_its_missing_cell_id():
    path = HD_LAYOUT / "segmented_outputs" / "cell_segmentations.geojson"
    with pytest.raises(InputFileError, match=r"feature 1 \(id '12059192-.*'\) has no properties.cell_id") as err:
        read_cell_segmentations(path)
    assert err.value.path == path
    assert "cellid_000000001-1" in str(err.value)


def test_the_real_hd_layout_polygon_reads_once_given_its_cell_id(tmp_path):
    raw = json.loads((HD_LAYOUT / "segmented_outputs" / "cell_segmentations.geojson").read_text())
    raw["features"][0]["properties"] = {"cell_id": 12}
    (tmp_path / "cells.geojson").write_text(json.dumps(raw))
    polygons = read_cell_segmentations(tmp_path / "cells.geojson")
    assert list(polygons.barcodes) == ["cellid_000000012-1"]
    x_min, y_min, x_max, y_max = polygons.bounds()[0]
    (cx, cy), area = polygons.centroids()[0], polygons.areas()[0]
    assert x_min < cx < x_max
    assert y_min < cy < y_max
    assert area == pytest.approx(5665.66465)  # shoelace over the real ring (shapely agrees)
    assert (cx, cy) == pytest.approx((3483.7655, 22.7439), abs=1e-3)


# --- a cell project ----------------------------------------------------------------------------


def test_init_cells_records_cells_and_reads_them_back(outs, tmp_path):
    result = init_cells(outs, tmp_path / "p")
    assert result.exit_code == 0, result.output
    assert "(6 segmented cells, 5 genes)" in result.output
    project = Project.open(tmp_path / "p")
    assert project.sample.cells is True
    assert project.sample.bin_size is None
    assert set(project.barcodes) == {cell_code(i) for i in planted_cells()}
    assert "cells: true" in (tmp_path / "p" / K.PROJECT_FILE).read_text()


def test_labels_of_8um_bins_land_on_the_cell_under_each_centroid_and_export_back(outs, tmp_path):
    assert init_cells(outs, tmp_path / "p").exit_code == 0
    labelled_bins = {
        bin_code(8, 3, 3): "Tumour",  # cell A's centroid
        bin_code(8, 4, 4): "Immune",  # under cell A, but not its centroid: reaches no cell
        bin_code(8, 7, 7): "Stroma",  # cell L's area centroid
        bin_code(8, 7, 8): "Immune",  # cell L's vertex mean: no cell
        bin_code(8, 0, 0): "Tumour",
        bin_code(8, 5, 10): "Stroma",
    }
    csv = write_csv(tmp_path / "bins8.csv", labelled_bins)
    runner = CliRunner()
    result = runner.invoke(main, ["import", str(tmp_path / "p"), str(csv)])
    assert result.exit_code == 0, result.output
    assert "labels 8 µm bins; mapped to this project's segmented cells" in result.output
    assert "2 labelled bins hold no cell centroid" in result.output
    labels = Project.open(tmp_path / "p").labels()
    assert labels.to_dict() == {
        cell_code(7): "Tumour",
        cell_code(120): "Stroma",
        cell_code(3): "Tumour",
        cell_code(45): "Stroma",
    }  # cells in bins (11, 11) and (6, 1) stay unlabelled

    out = tmp_path / "export8.csv"
    result = runner.invoke(main, ["export", str(tmp_path / "p"), "--loupe", str(out), "--bin-size", "8"])
    assert result.exit_code == 0, result.output
    exported = pd.read_csv(out, index_col=0).iloc[:, 0].to_dict()
    expected = {bin_code(8, r, c): "Tumour" for r in (2, 3, 4) for c in (2, 3, 4)}  # every bin centre in A
    expected |= {bin_code(8, r, c): "Stroma" for r, c in ((7, 7), (7, 8), (8, 7))}  # the L's three squares
    expected |= {bin_code(8, 0, 0): "Tumour", bin_code(8, 5, 10): "Stroma"}
    assert exported == expected

    result = runner.invoke(main, ["export", str(tmp_path / "p"), "--loupe", str(out), "--bin-size", "16"])
    assert result.exit_code == 0, result.output
    exported16 = pd.read_csv(out, index_col=0).iloc[:, 0].to_dict()
    assert exported16[bin_code(16, 1, 1)] == "Tumour"  # the one 16 µm centre inside A
    # The hexagons and the L hold no 16 µm bin centre: each labels the bin under its centroid.
    assert exported16 == {
        bin_code(16, 1, 1): "Tumour",
        bin_code(16, 3, 3): "Stroma",
        bin_code(16, 0, 0): "Tumour",
        bin_code(16, 2, 5): "Stroma",
    }

    result = runner.invoke(main, ["export", str(tmp_path / "p"), "--loupe", str(out)])
    assert set(pd.read_csv(out)["Barcode"]) == set(labels.index)  # without --bin-size: the cells themselves


def test_labels_of_16um_bins_use_the_area_centroid(outs, tmp_path):
    assert init_cells(outs, tmp_path / "p").exit_code == 0
    csv = write_csv(
        tmp_path / "bins16.csv",
        {bin_code(16, 1, 1): "Immune", bin_code(16, 3, 3): "Stroma", bin_code(16, 3, 4): "Tumour"},
    )
    result = CliRunner().invoke(main, ["import", str(tmp_path / "p"), str(csv)])
    assert result.exit_code == 0, result.output
    assert "labels 16 µm bins" in result.output
    labels = Project.open(tmp_path / "p").labels()
    assert labels[cell_code(7)] == "Immune"
    assert labels[cell_code(120)] == "Stroma"  # its vertex mean would have put it in (3, 4): Tumour
    assert len(labels) == 2


def test_a_csv_of_cell_barcodes_imports_as_is(outs, tmp_path):
    assert init_cells(outs, tmp_path / "p").exit_code == 0
    csv = write_csv(tmp_path / "cells.csv", {cell_code(2): "Immune", cell_code(1000): "Tumour"})
    result = CliRunner().invoke(main, ["import", str(tmp_path / "p"), str(csv)])
    assert result.exit_code == 0, result.output
    assert "mapped" not in result.output
    assert Project.open(tmp_path / "p").labels().to_dict() == {cell_code(2): "Immune", cell_code(1000): "Tumour"}


def test_cells_to_bins_on_a_rotated_grid(tmp_path):
    """A grid turned on the image: a bin is the rotated square around its centre, not an axis-aligned box."""
    from activespot.io._hd_bins import _bins_to_cells

    angle = np.deg2rad(30)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    axes = rotation * 32.0  # columns: one row step, one column step, in pixels
    centres = np.array([[500.0, 500.0]])
    inside = centres[0] + axes @ np.array([0.45, 0.45])  # inside the turned square (near its corner)
    outside = centres[0] + np.array([15.0, 15.0])  # inside the axis-aligned box, outside the turned square
    from anndata import AnnData

    cells = AnnData(obs=pd.DataFrame(index=["c1", "c2"]), obsm={K.SPATIAL_KEY: np.vstack([inside, outside])})
    assert np.abs(outside - centres[0]).max() <= 16  # the naive box test would take it
    labels = pd.Series({bin_code(8, 0, 0): "Tumour"})
    mapped, empty = _bins_to_cells(labels, centres, axes, cells)
    assert mapped.to_dict() == {"c1": "Tumour"}
    assert empty == 0


# --- bad input: one line, exit 2, nothing written -----------------------------------------------


def _refused(result, project: Path, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: "), result.output
    for fragment in fragments:
        assert fragment in result.output
    assert not project.exists()


def test_cells_without_segmented_outputs(outs, tmp_path):
    shutil.rmtree(outs / "segmented_outputs")
    result = init_cells(outs, tmp_path / "p")
    _refused(result, tmp_path / "p", "segmented_outputs", "no cell segmentation", "leave out --cells")


@pytest.mark.parametrize("missing", ["filtered_feature_cell_matrix.h5", "cell_segmentations.geojson"])
def test_cells_without_the_matrix_or_the_segmentation(outs, tmp_path, missing):
    (outs / "segmented_outputs" / missing).unlink()
    _refused(init_cells(outs, tmp_path / "p"), tmp_path / "p", missing, "not found")


def test_cells_on_the_real_hd_layout_names_the_missing_matrix(tmp_path):
    result = init_cells(HD_LAYOUT, tmp_path / "p")
    _refused(result, tmp_path / "p", "filtered_feature_cell_matrix.h5", "not found")


def test_cells_with_a_bin_size(outs, tmp_path):
    _refused(init_cells(outs, tmp_path / "p", "--bin-size", "8"), tmp_path / "p", "--cells", "--bin-size")


def test_cells_on_a_plain_visium_output(tmp_path):
    result = CliRunner().invoke(main, ["init", str(tmp_path / "p"), "--visium", str(DLPFC), "--cells"])
    _refused(result, tmp_path / "p", "55 µm spots has no segmented cells", "leave out --cells")


def test_polygons_the_matrix_lacks(outs, tmp_path):
    cells = planted_cells()
    cells[5] = _hexagon(*bin_centre(8, 9, 9))
    cells[6] = _hexagon(*bin_centre(8, 9, 10))
    write_geojson(outs / "segmented_outputs" / "cell_segmentations.geojson", cells)
    result = init_cells(outs, tmp_path / "p")
    _refused(
        result,
        tmp_path / "p",
        "cell_segmentations.geojson: 2 of its 8 cells are not in filtered_feature_cell_matrix.h5",
        "cellid_000000005-1",
        "copy segmented_outputs/ whole",
    )


def test_cells_of_the_matrix_without_a_polygon(outs, tmp_path):
    cells = planted_cells()
    del cells[45]
    write_geojson(outs / "segmented_outputs" / "cell_segmentations.geojson", cells)
    result = init_cells(outs, tmp_path / "p")
    _refused(
        result,
        tmp_path / "p",
        "filtered_feature_cell_matrix.h5: 1 of its 6 cells are not in cell_segmentations.geojson",
        "cellid_000000045-1",
    )


def test_a_feature_without_cell_id(outs, tmp_path):
    path = outs / "segmented_outputs" / "cell_segmentations.geojson"
    raw = json.loads(path.read_text())
    del raw["features"][2]["properties"]["cell_id"]
    path.write_text(json.dumps(raw))
    _refused(init_cells(outs, tmp_path / "p"), tmp_path / "p", "feature 3 has no properties.cell_id")


def test_a_loupe_csv_mixing_bin_sizes_is_refused_and_imports_nothing(outs, tmp_path):
    assert init_cells(outs, tmp_path / "p").exit_code == 0
    csv = write_csv(tmp_path / "mixed.csv", {bin_code(8, 3, 3): "Tumour", bin_code(16, 3, 3): "Stroma"})
    result = CliRunner().invoke(main, ["import", str(tmp_path / "p"), str(csv)])
    assert result.exit_code == 2, result.output
    assert "mixed.csv: the barcodes mix Visium HD bin sizes: 8 µm (s_008um_00003_00003-1), 16 µm" in result.output
    assert Project.open(tmp_path / "p").labels().empty


def test_a_loupe_csv_mixing_bin_sizes_in_a_bin_project(tmp_path):
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(tmp_path / "hd"), "--visium", str(HD_LAYOUT)]).exit_code == 0
    code = Project.open(tmp_path / "hd").barcodes[0]
    csv = write_csv(tmp_path / "mixed.csv", {code: "A", "s_008um_00000_00000-1": "B"})
    result = runner.invoke(main, ["import", str(tmp_path / "hd"), str(csv)])
    assert result.exit_code == 2, result.output
    assert "mix Visium HD bin sizes: 2 µm" in result.output
    assert Project.open(tmp_path / "hd").labels().empty


def test_bins_unknown_to_the_output_are_refused(outs, tmp_path):
    assert init_cells(outs, tmp_path / "p").exit_code == 0
    csv = write_csv(tmp_path / "far.csv", {bin_code(8, 3, 3): "Tumour", bin_code(8, 400, 400): "Stroma"})
    result = CliRunner().invoke(main, ["import", str(tmp_path / "p"), str(csv)])
    assert result.exit_code == 2, result.output
    assert "1 of 2 labelled bins are not in-tissue bins here, e.g. s_008um_00400_00400-1" in result.output
    assert Project.open(tmp_path / "p").labels().empty


def test_export_to_a_bin_size_the_output_lacks(outs, tmp_path):
    assert init_cells(outs, tmp_path / "p").exit_code == 0
    with pytest.raises(InputFileError, match=r"no 2 µm bins in this Visium HD output \(it has: square_008um"):
        map_cells_to_bins(pd.Series({cell_code(7): "Tumour"}), outs, bin_size=2)
    out = tmp_path / "x.csv"
    result = CliRunner().invoke(main, ["export", str(tmp_path / "p"), "--loupe", str(out), "--bin-size", "2"])
    assert result.exit_code == 2
    assert not out.exists()


def test_small_cells_label_the_bin_under_their_centroid_unless_a_cell_holds_its_centre():
    from activespot.io import CellPolygons
    from activespot.io._hd_bins import _bins_under_small_cells, _cells_over_points

    points = np.array([[16.0, 16.0], [48.0, 16.0], [80.0, 16.0]])  # three 32 px bins in a row
    axes = np.diag([32.0, 32.0])
    rings = {
        "big": [[2, 2], [30, 2], [30, 30], [2, 30]],  # holds bin 0's centre
        "tiny_in_0": _hexagon(6, 6, 2),  # in bin 0, off its centre: bin 0 is big's
        "tiny_in_1": _hexagon(40, 10, 2),  # bin 1 has no cell over its centre: it is tiny_in_1's
        "later_in_1": _hexagon(56, 24, 2),  # also in bin 1, later in the file: loses
    }
    order = ["tiny_in_1", "big", "later_in_1", "tiny_in_0"]  # GeoJSON order
    vertices = np.vstack([np.asarray(rings[name], dtype=float) for name in order])
    offsets = np.concatenate([[0], np.cumsum([len(rings[name]) for name in order])])
    polygons = CellPolygons(pd.Index(order), vertices, offsets, Path("cells.geojson"))
    labelled = np.array([3, 2, 1, 0])  # the labels' order differs from the file's
    owner = _cells_over_points(polygons, labelled, points)
    assert owner.tolist() == [2, -1, -1]  # only big holds a bin centre
    _bins_under_small_cells(owner, polygons.centroids()[labelled], labelled, points, axes)
    assert [order[labelled[k]] if k >= 0 else None for k in owner] == ["big", "tiny_in_1", None]


def test_cells_refused_with_morphology_only_and_on_an_h5ad(outs, tmp_path):
    _refused(init_cells(outs, tmp_path / "p", "--morphology-only"), tmp_path / "p", "--cells", "--morphology-only")
    h5ad = tmp_path / "sample.h5ad"
    h5ad.write_bytes(b"")
    _refused(init_cells(h5ad, tmp_path / "p"), tmp_path / "p", "sample.h5ad", "segmented_outputs")
