"""Nuclei readers: every format gives the same cells; bad files give one-line errors naming the file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from activespot import _constants as K
from activespot.errors import InputFileError
from activespot.features import detect_cells, detect_nuclei
from activespot.io import (
    guess_nuclei_format,
    open_cell_image,
    read_cell_labels_csv,
    read_cells,
    write_cell_labels_csv,
    write_cell_labels_geojson,
)
from tests.conftest import IMAGE


def _centroids(adata):
    return np.asarray(adata.obsm[K.SPATIAL_KEY])


def test_csv_reads_centroids_boxes_and_classes(tile):
    adata = read_cells(tile["image"], tile["csv"])
    table = tile["table"]
    assert adata.n_obs == len(table)
    np.testing.assert_allclose(_centroids(adata), table[["centroid_x", "centroid_y"]].to_numpy())
    assert set(adata.obs[K.CELL_SOURCE_CLASS]) == {"red", "blue"}
    assert np.isfinite(adata.obsm[K.CELL_BBOX_KEY]).all()
    assert adata.uns[K.CELLS_UNS_KEY]["nuclei_format"] == "csv"
    assert not adata.uns[K.CELLS_UNS_KEY]["built_in_detector"]


def test_points_are_y_first(tile, tmp_path):
    table = tile["table"]
    path = tmp_path / "cells_gt_class_coords.txt"
    path.write_text("".join(f"{y} {x} {c}\n" for x, y, c in table[["centroid_x", "centroid_y", "class_color"]].values))
    assert guess_nuclei_format(path) == "points"
    adata = read_cells(tile["image"], path)
    np.testing.assert_allclose(_centroids(adata), table[["centroid_x", "centroid_y"]].to_numpy())


def test_qupath_geojson_and_hovernet_json(tile, tmp_path):
    table = tile["table"].head(20)
    features, nuc = [], {}
    for row in table.itertuples():
        x0, y0, x1, y1 = row.bbox_xmin, row.bbox_ymin, row.bbox_xmax, row.bbox_ymax
        ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {"objectType": "detection", "classification": {"name": row.class_color}},
            }
        )
        nuc[str(row.instance_id)] = {
            "centroid": [row.centroid_x, row.centroid_y],
            "bbox": [[y0, x0], [y1, x1]],
            "contour": ring[:-1],
            "type": 1 if row.class_color == "red" else 2,
        }
    geojson = tmp_path / "cells.geojson"
    geojson.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    hovernet = tmp_path / "tile.json"
    hovernet.write_text(json.dumps({"mag": 40, "nuc": nuc}))
    from_geojson = read_cells(tile["image"], geojson)
    from_hovernet = read_cells(tile["image"], hovernet)
    assert guess_nuclei_format(hovernet) == "hovernet"
    assert from_geojson.n_obs == from_hovernet.n_obs == 20
    assert list(from_geojson.obs[K.CELL_SOURCE_CLASS]) == list(table["class_color"])
    np.testing.assert_allclose(_centroids(from_hovernet), table[["centroid_x", "centroid_y"]].to_numpy())
    # A box polygon's centroid is the box centre.
    centres = (table[["bbox_xmin", "bbox_ymin"]].to_numpy() + table[["bbox_xmax", "bbox_ymax"]].to_numpy()) / 2
    np.testing.assert_allclose(_centroids(from_geojson), centres)


def test_instance_mask(tile):
    adata = read_cells(tile["image"], tile["mask"])
    assert adata.uns[K.CELLS_UNS_KEY]["nuclei_format"] == "mask"
    assert adata.n_obs == len(tile["table"])
    assert (adata.obs[K.CELL_AREA] > 10).all()


def test_built_in_detector_on_the_real_tile(caplog):
    adata = detect_cells(IMAGE, progress=False)  # 1000 x 1000 px, 510 annotated nuclei
    assert 350 <= adata.n_obs <= 1000
    info = adata.uns[K.CELLS_UNS_KEY]
    assert info["built_in_detector"]
    assert info["nuclei_format"] == K.NUCLEI_DETECTOR
    assert "built-in" in caplog.text


def test_detector_works_tile_by_tile(tile):
    image = open_cell_image(tile["image"])
    whole = detect_nuclei(image, progress=False)
    tiled = detect_nuclei(image, tile=128, progress=False)
    assert abs(len(tiled) - len(whole)) <= 0.15 * len(whole)


def test_labels_round_trip_csv_and_geojson(tile, tmp_path):
    adata = read_cells(tile["image"], tile["csv"])
    labels = dict(zip(adata.obs_names[:5], ["a", "b", "a", "b", "a"], strict=True))
    csv_path = write_cell_labels_csv(adata, labels, tmp_path / "labels.csv")
    assert read_cell_labels_csv(csv_path, known=adata.obs_names).to_dict() == labels
    geojson = json.loads(write_cell_labels_geojson(adata, labels, tmp_path / "labels.geojson").read_text())
    assert [f["properties"]["classification"]["name"] for f in geojson["features"]] == list(labels.values())
    assert all(f["properties"]["objectType"] == "detection" for f in geojson["features"])


@pytest.mark.parametrize(
    ("name", "content", "fmt", "expected"),
    [
        ("missing.csv", None, None, "not found"),
        ("no_xy.csv", "a,b\n1,2\n", None, "no centroid columns"),
        ("bad_x.csv", "x,y\n1,2\nten,3\n", None, "line 3"),
        ("broken.geojson", "{not json", None, "not valid JSON"),
        ("empty.json", '{"nuc": 5}', "hovernet", "no 'nuc' mapping"),
        ("outside.csv", "x,y\n10,10\n5000,20\n", None, "outside"),
        ("points.txt", "1 2 3 4\n", "points", "line 1"),
    ],
)
def test_bad_inputs_give_one_line_errors_naming_the_file(tile, tmp_path, name, content, fmt, expected):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(InputFileError) as info:
        read_cells(tile["image"], path, nuclei_format=fmt)
    message = str(info.value)
    assert name in message
    assert expected in message
    assert "\n" not in message


def test_colour_mask_and_unknown_format_are_refused(tile, tmp_path):
    from PIL import Image

    colour = tmp_path / "classes.png"
    Image.new("RGB", (300, 300), (228, 26, 28)).save(colour)
    with pytest.raises(InputFileError, match="instance mask"):
        read_cells(tile["image"], colour)
    with pytest.raises(InputFileError, match="valid formats are"):
        read_cells(tile["image"], tile["csv"], nuclei_format="xml")
    with pytest.raises(InputFileError, match="image not found"):
        read_cells(tile["image"].with_name("nope.png"), tile["csv"])
