"""Whole-slide images read by pyramid level: the level a backbone needs, the pixel size from file, spots or --mpp.

The slides are real Aperio SVS files (``data/wsi``): the TCGA frozen section is a JPEG 2000 pyramid
(4443 x 3567 → 2221 x 1783) whose metadata records no pixel size; CMU-1's records 0.499 µm/px.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData

from activespot import _constants as K
from activespot.errors import InputFileError
from activespot.features import SpotPatches, embed_spots
from activespot.features._patches import TilePatches
from activespot.io import open_image_level, pyramid_levels
from tests.conftest import REPO

WSI = REPO / "data" / "wsi"
TCGA = WSI / "tcga-cr-7395-01a-01-ts1.svs"
CMU = WSI / "CMU-1-Small-Region.svs"


def _spots_on(slide, *, spot_diameter: float, n: int = 12, scalefactors: dict | None = None) -> AnnData:
    """A row of spots across the middle of ``slide``, its full-resolution image given by path only."""
    height, width = pyramid_levels(slide)[0]
    x = np.linspace(0.2 * width, 0.8 * width, n)
    y = np.full(n, height / 2)
    adata = AnnData(obs=pd.DataFrame(index=[f"spot{i}-1" for i in range(n)]))
    adata.obsm[K.SPATIAL_KEY] = np.column_stack([x, y])
    factors = {K.SPOT_DIAMETER: spot_diameter} if scalefactors is None else scalefactors
    adata.uns[K.SPATIAL_KEY] = {
        "slide": {K.IMAGES_KEY: {}, K.SCALEFACTORS_KEY: factors, K.METADATA_KEY: {K.FULLRES_PATH_KEY: str(slide)}}
    }
    return adata


def test_every_level_of_a_pyramid_is_read_by_region_at_its_own_scale():
    assert pyramid_levels(TCGA) == [(3567, 4443), (1783, 2221)]
    assert pyramid_levels(CMU) == [(2967, 2220)]  # the thumbnail, label and macro are other series
    full, half = open_image_level(TCGA, 0), open_image_level(TCGA, 1)
    assert half.scale == pytest.approx(0.5, abs=1e-3)
    assert (half.level, half.shape) == (1, (1783, 2221))
    region = half.read(slice(800, 864), slice(1000, 1064)).astype(float)
    same = full.read(slice(1600, 1728), slice(2000, 2128)).astype(float)
    same = same.reshape(64, 2, 64, 2, 3).mean(axis=(1, 3))  # level 0 shrunk 2x
    assert region.std() > 5  # tissue, not glass
    # The same tissue (JPEG 2000 levels are encoded apart, so not the same bytes); 64 px away is not.
    shifted = full.read(slice(1600, 1728), slice(2128, 2256)).astype(float).reshape(64, 2, 64, 2, 3).mean(axis=(1, 3))
    assert np.corrcoef(region.ravel(), same.ravel())[0, 1] > 0.9
    assert np.corrcoef(region.ravel(), shifted.ravel())[0, 1] < 0.6
    with pytest.raises(InputFileError, match="has no level 2"):
        open_image_level(TCGA, 2)


def test_a_backbone_reads_the_level_nearest_its_training_resolution_and_not_coarser(tiny_backbones):
    uni = tiny_backbones["tiny-uni"]  # UNI's entry shrunk: trained at 0.5 µm/px
    assert uni.microns_per_pixel == 0.5
    # A 0.25 µm/px scan (a 55 µm spot is 220 px): level 1 is 0.5 µm/px, what UNI saw in training.
    fine = _spots_on(TCGA, spot_diameter=220)
    patches = SpotPatches(fine, size=uni.input_size, native_mpp=uni.microns_per_pixel)
    assert patches.image.level == 1
    assert patches.side == pytest.approx(110, rel=1e-3)  # the spot in level-1 pixels
    # At 0.499 µm/px level 1 would be ~1 µm/px, coarser than UNI's: level 0.
    coarse = _spots_on(TCGA, spot_diameter=55 / 0.499)
    assert SpotPatches(coarse, size=uni.input_size, native_mpp=uni.microns_per_pixel).image.level == 0
    # Without a native resolution (an ImageNet model, the descriptor) the patch's own pixel size decides:
    # a 55 µm spot at 32 px is 1.7 µm/px, so level 1 (0.5 µm/px) of the 0.25 µm/px scan.
    assert SpotPatches(fine, size=32).image.level == 1
    assert SpotPatches(fine, size=512).image.level == 0  # 0.107 µm/px wanted: full resolution


def test_the_level_is_in_the_cache_key_and_the_record(tiny_backbones, tmp_path):
    from safetensors.torch import save_file

    from activespot.features import build_model

    spec = tiny_backbones["tiny-uni"]
    weights = tmp_path / "uni.safetensors"
    save_file(build_model(spec, pretrained=False).state_dict(), str(weights))
    fine = _spots_on(TCGA, spot_diameter=220)
    embedded, info = embed_spots(fine, spec.name, weights=weights, cache_dir=tmp_path / "cache", progress=False)
    assert embedded.shape == (fine.n_obs, spec.dim)
    assert info["patch"]["image_level"] == 1
    assert info["patch"]["microns_per_pixel"] == pytest.approx(0.25)
    # The same spots on a coarser scan read level 0: another key, so never the level-1 embeddings.
    coarse = _spots_on(TCGA, spot_diameter=55 / 0.499)
    _, other = embed_spots(coarse, spec.name, weights=weights, cache_dir=tmp_path / "cache", progress=False)
    assert other["patch"]["image_level"] == 0
    assert not other["cache_hit"]


def test_a_slide_with_no_pixel_size_anywhere_says_how_to_give_one():
    # Visium HD-like bins whose scale factors lost their pixel size, on the TCGA slide (none in its metadata).
    bins = _spots_on(TCGA, spot_diameter=0, scalefactors={K.SPOT_DIAMETER: 16.0, "tissue_hires_scalef": 0.1})
    bins.uns[K.SPATIAL_KEY]["slide"][K.SCALEFACTORS_KEY] = {K.SPOT_DIAMETER: 0.0}
    with pytest.raises(InputFileError) as raised:
        TilePatches(bins, size=32, patch_um=64, stride_um=32)
    message = str(raised.value)
    assert "tcga-cr-7395-01a-01-ts1.svs" in message
    assert "records no pixel size" in message
    assert "--mpp" in message
    tiles = TilePatches(bins, size=32, patch_um=64, stride_um=32, mpp=0.25)
    assert tiles.image.level == 1  # 64 µm at 32 px wants 2 µm/px: the coarsest level, 0.5 µm/px
    assert tiles.microns_per_pixel == 0.25


def test_a_slide_the_spots_do_not_fit_is_refused_naming_it_and_nothing_is_created(tmp_path):
    from click.testing import CliRunner

    from activespot.cli import main
    from tests.conftest import DLPFC

    project = tmp_path / "project"
    result = CliRunner().invoke(main, ["init", str(project), "--visium", str(DLPFC), "--image", str(CMU)])
    assert result.exit_code == 2
    assert "CMU-1-Small-Region.svs: spot coordinates reach" in result.stderr
    assert "the image is only 2220x2967 px" in result.stderr
    assert not project.exists()


@pytest.fixture
def read_svs_through_openslide(monkeypatch):
    """Call it to read SVS files through the OpenSlide reader (the one MIRAX and Hamamatsu slides take)."""
    pytest.importorskip("openslide", reason="the openslide extra is not installed")
    from activespot.io import _images, _openslide, _regions

    def use() -> None:
        monkeypatch.setattr(_images, "TIFF_SUFFIXES", ())
        monkeypatch.setattr(_regions, "TIFF_SUFFIXES", ())
        for module in (_images, _openslide, _regions):
            monkeypatch.setattr(module, "OPENSLIDE_SUFFIXES", (".svs",))

    return use


def test_openslide_slides_read_the_same_pixels_and_pixel_size_as_tifffile(read_svs_through_openslide):
    from activespot.io import read_microns_per_pixel

    by_tifffile = open_image_level(CMU, 0)
    reference = by_tifffile.read(slice(1000, 1100), slice(500, 640))
    assert reference.std() > 5
    read_svs_through_openslide()
    assert pyramid_levels(CMU) == [(2967, 2220)]
    assert read_microns_per_pixel(CMU) == pytest.approx(0.499)
    by_openslide = open_image_level(CMU, 0)
    region = by_openslide.read(slice(1000, 1100), slice(500, 640))
    assert type(by_openslide._pixels).__name__ == "SlideLevel"
    assert type(by_tifffile._pixels).__name__ != "SlideLevel"
    assert region.dtype == np.uint8
    assert region.shape == (100, 140, 3)
    # The same JPEG tiles, decoded by libjpeg-turbo either way.
    assert np.abs(region.astype(int) - reference.astype(int)).mean() < 1.0


def test_without_the_openslide_extra_the_error_names_it(read_svs_through_openslide, monkeypatch):
    import sys

    read_svs_through_openslide()
    monkeypatch.setitem(sys.modules, "openslide", None)  # import openslide -> ImportError
    with pytest.raises(InputFileError, match=r"through OpenSlide, which is not installed.*activespot\[openslide\]"):
        pyramid_levels(CMU)
