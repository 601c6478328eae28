"""Nuclei tables in µm (QuPath's measurement export of a calibrated image) are converted to pixels."""

from __future__ import annotations

import numpy as np
import pytest

from activespot import _constants as K
from activespot.errors import InputFileError
from activespot.io import read_cells

MPP = 0.2465  # CoNSeP is scanned at 40x


def _qupath_export(tile, path, *, mpp=MPP, mu="µ"):
    """The tile's nuclei as QuPath writes them: tab-separated, centroids and area in µm."""
    header = ["Image", "Object ID", "Name", "Class", "Parent", "ROI", f"Centroid X {mu}m", f"Centroid Y {mu}m",
              f"Nucleus: Area {mu}m^2", "Nucleus: Circularity"]  # fmt: skip
    rows = ["\t".join(header)]
    for row in tile["table"].itertuples():
        values = [row.centroid_x * mpp, row.centroid_y * mpp, row.area_px * mpp**2]
        fields = ["tile.png", f"{row.instance_id:08d}-qp", "", row.class_color, "Annotation", "Polygon"]
        rows.append("\t".join([*fields, *(f"{v:.4f}" for v in values), "0.81"]))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("mu", ["µ", "\u03bc"])  # the micro sign, and the Greek mu some exports write
def test_centroids_in_microns_are_converted_with_the_pixel_size(tile, tmp_path, mu):
    export = _qupath_export(tile, tmp_path / "measurements.tsv", mu=mu)
    adata = read_cells(tile["image"], export, nuclei_format="csv", microns_per_pixel=MPP)
    table = tile["table"]
    np.testing.assert_allclose(adata.obsm[K.SPATIAL_KEY], table[["centroid_x", "centroid_y"]], atol=1e-3)
    np.testing.assert_allclose(adata.obs[K.CELL_AREA], table["area_px"], rtol=1e-3)
    assert list(adata.obs[K.CELL_SOURCE_CLASS]) == list(table["class_color"])
    assert adata.uns[K.CELLS_UNS_KEY][K.CELLS_MICRONS_PER_PIXEL] == MPP


def test_centroids_in_microns_without_a_pixel_size_are_refused(tile, tmp_path):
    export = _qupath_export(tile, tmp_path / "measurements.tsv")
    with pytest.raises(InputFileError) as info:
        read_cells(tile["image"], export, nuclei_format="csv")
    message = str(info.value)
    assert "measurements.tsv" in message
    assert "µm" in message
    assert "--microns-per-pixel" in message
    assert "\n" not in message


def test_the_pixel_size_of_a_whole_slide_image_is_read_from_its_metadata():
    from activespot.io import read_microns_per_pixel
    from tests.conftest import REPO

    wsi = REPO / "data" / "wsi"
    slides = wsi / "CMU-1-Small-Region.svs", wsi / "tcga-cr-7395-01a-01-ts1.svs"
    assert read_microns_per_pixel(slides[0]) == pytest.approx(0.499)
    assert read_microns_per_pixel(slides[1]) is None  # the TCGA frozen section records none
