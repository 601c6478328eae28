import pickle

import numpy as np
import pytest
from PIL import Image

from activespot import _constants as K
from activespot.features import SpotPatches, select_image, write_patch_overlay

from .conftest import HIRES_SCALE, SPOT_DIAMETER, make_section, spot_colour


def test_patch_is_the_spot_at_its_physical_size(section):
    patches = SpotPatches(section, size=32, context_factor=1.0)
    assert patches.image.name == "hires"
    assert patches.side == pytest.approx(SPOT_DIAMETER * HIRES_SCALE)
    for i in (0, 9, len(patches) - 1):
        patch = patches[i].astype(int)
        colour = spot_colour(section.obs[K.ARRAY_ROW].iloc[i])
        assert patch.shape == (32, 32, 3)
        # The disk fills the patch edge to edge (right size) symmetrically (centred) ...
        assert np.abs(patch[16, 16] - colour).max() <= 2
        for near_edge in (patch[16, 3], patch[16, -4], patch[3, 16], patch[-4, 16]):
            assert np.abs(near_edge - colour).max() <= 2
        # ... and the corners, outside the inscribed disk, are background.
        assert patch[0, 0].min() > 200
    # Spot 0 sits on whole pixels, so its rasterised disk is exactly symmetric: so must its patch be.
    first = patches[0].astype(int)
    assert np.abs(first - first[::-1, ::-1]).max() <= 1


def test_context_factor_widens_the_footprint(section):
    patch = SpotPatches(section, size=64, context_factor=2.0)[0].astype(int)
    colour = spot_colour(0)
    assert np.abs(patch[32, 32] - colour).max() <= 2
    assert patch[32, 4].min() > 200  # a quarter of the way out is already background
    assert np.abs(patch[32, 20] - colour).max() <= 2


def test_spots_beyond_the_image_edge_are_padded_white(section):
    section.obsm[K.SPATIAL_KEY] = section.obsm[K.SPATIAL_KEY] - [60, 60]  # first spot on the corner
    patch = SpotPatches(section, size=16)[0]
    assert patch.shape == (16, 16, 3)
    assert patch[0, 0].min() == 255


def test_best_image_is_chosen_and_blank_ones_skipped(section):
    library = section.uns[K.SPATIAL_KEY]["tiny"]
    hires = library[K.IMAGES_KEY]["hires"]
    library[K.IMAGES_KEY]["lowres"] = hires[::2, ::2]
    library[K.SCALEFACTORS_KEY][K.LOWRES_SCALEF] = HIRES_SCALE / 2
    assert select_image(section).name == "hires"
    library[K.IMAGES_KEY]["hires"] = np.zeros_like(hires)  # Space Ranger's black placeholder
    chosen = select_image(section)
    assert (chosen.name, chosen.scale) == ("lowres", HIRES_SCALE / 2)


def test_full_resolution_tiff_is_read_lazily_and_matches(section, tmp_path):
    import tifffile

    # A full-resolution image that is the hires image upsampled 2x: crops at the same physical
    # size must show the same spot.
    hires = section.uns[K.SPATIAL_KEY]["tiny"][K.IMAGES_KEY]["hires"]
    fullres = np.repeat(np.repeat(hires, 2, axis=0), 2, axis=1)
    path = tmp_path / "he.tif"
    tifffile.imwrite(path, fullres, tile=(64, 64))
    section.uns[K.SPATIAL_KEY]["tiny"][K.METADATA_KEY][K.FULLRES_PATH_KEY] = str(path)

    from_tiff = SpotPatches(section, size=32)
    assert (from_tiff.image.name, from_tiff.image.scale, from_tiff.side) == ("fullres", 1.0, SPOT_DIAMETER)
    clone = pickle.loads(pickle.dumps(from_tiff))  # what a DataLoader worker receives
    assert clone.image._pixels is None
    del section.uns[K.SPATIAL_KEY]["tiny"][K.METADATA_KEY][K.FULLRES_PATH_KEY]
    from_hires = SpotPatches(section, size=32)
    for i in (0, 7, 20):
        diff = np.abs(clone[i].astype(int) - from_hires[i].astype(int))
        assert np.median(diff) <= 2


def test_missing_pieces_are_explained():
    adata = make_section()
    del adata.uns[K.SPATIAL_KEY]["tiny"][K.IMAGES_KEY]["hires"]
    with pytest.raises(ValueError, match="no usable tissue image"):
        select_image(adata)
    adata = make_section()
    with pytest.raises(ValueError, match="library_id must be one of tiny; got 'other'"):
        SpotPatches(adata, size=8, library_id="other")
    with pytest.raises(ValueError, match="context_factor must be positive"):
        SpotPatches(adata, size=8, context_factor=0)


@pytest.mark.filterwarnings("ignore:.*no count matrix:UserWarning")
def test_overlay_on_real_hires_image(tmp_path):
    from activespot.io import read_visium

    from ..conftest import MOUSE_BRAIN

    adata = read_visium(MOUSE_BRAIN, require_counts=False)
    out = write_patch_overlay(adata, tmp_path / "overlay.png", context_factor=1.5, max_side=1000)
    with Image.open(out) as image:
        assert max(image.size) <= 1000
        pixels = np.asarray(image.convert("RGB")).astype(int)
    # Spot outlines are drawn in the spot colour on the tissue.
    assert (np.abs(pixels - [0, 200, 255]).sum(axis=2) == 0).sum() > 1000
