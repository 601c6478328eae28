import logging
import shutil
import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import tifffile
from PIL import Image
from scipy import sparse

from activespot import _constants as K
from activespot.errors import InputFileError
from activespot.io._images import read_image_size, read_tissue_image, to_uint8_rgb
from activespot.io._visium import read_visium
from tests.conftest import DLPFC, HEART, MOUSE_BRAIN
from tests.io.conftest import HD_BIN_UM, HD_MICRONS_PER_PIXEL, write_10x_h5, write_png


def _library(adata):
    return adata.uns[K.SPATIAL_KEY][adata.uns[K.LIBRARY_ID_KEY]]


@pytest.fixture(scope="module")
def dlpfc():
    with pytest.warns(UserWarning, match="no tissue_hires_image.png"):
        return read_visium(DLPFC)


# --- real data -------------------------------------------------------------------------------


def test_dlpfc_151673_spots_genes_and_lowres_only(dlpfc):
    assert dlpfc.shape == (3639, 5000)
    assert sparse.issparse(dlpfc.X)
    assert dlpfc.X.format == "csr"
    assert dlpfc.var_names.is_unique
    assert K.GENE_IDS in dlpfc.var
    assert dlpfc.uns[K.LIBRARY_ID_KEY] == "dlpfc_151673"
    library = _library(dlpfc)
    assert list(library[K.IMAGES_KEY]) == [K.LOWRES_IMAGE]
    lowres = library[K.IMAGES_KEY][K.LOWRES_IMAGE]
    assert lowres.dtype == np.uint8
    assert lowres.shape == (600, 600, 3)
    scaled = dlpfc.obsm[K.SPATIAL_KEY] * library[K.SCALEFACTORS_KEY][K.LOWRES_SCALEF]
    assert (scaled >= 0).all()
    assert (scaled < 600).all()
    assert library[K.METADATA_KEY][K.SOURCE_PATH_KEY] == str(DLPFC)
    assert (dlpfc.obs[K.IN_TISSUE] == 1).all()
    assert dlpfc.obs[K.HAS_COUNTS].all()


def test_dlpfc_coordinates_are_x_column_y_row(dlpfc):
    positions = pd.read_csv(DLPFC / "spatial" / "tissue_positions_list.csv", header=None, index_col=0)
    spot = dlpfc.obs_names[7]
    assert spot.endswith("-1")
    np.testing.assert_array_equal(dlpfc.obsm[K.SPATIAL_KEY][7], positions.loc[spot, [5, 4]].to_numpy(float))
    assert dlpfc.obsm[K.SPATIAL_KEY].dtype == np.float64
    assert dlpfc.obs.loc[spot, K.ARRAY_ROW] == positions.loc[spot, 2]


def test_heart_keeps_only_spots_with_counts_and_flags_blank_hires(caplog):
    with caplog.at_level(logging.INFO), pytest.warns(UserWarning, match="blank"):
        adata = read_visium(HEART)
    assert adata.n_obs == 100
    assert adata.n_vars == 100
    assert "4135 of 4235 in-tissue spots have no counts" in caplog.text
    images = _library(adata)[K.IMAGES_KEY]
    assert images[K.HIRES_IMAGE].shape == (2000, 2000, 3)  # RGBA placeholder: loaded, alpha dropped
    assert _library(adata)[K.METADATA_KEY][K.SOFTWARE_VERSION_KEY] == "spaceranger-1.0.0"


def test_heart_without_require_counts_keeps_every_in_tissue_spot():
    with pytest.warns(UserWarning, match="blank"):
        adata = read_visium(HEART, require_counts=False)
    assert adata.n_obs == 4235
    assert adata.obs[K.HAS_COUNTS].sum() == 100
    assert adata.X[~adata.obs[K.HAS_COUNTS].to_numpy()].nnz == 0


def test_mouse_brain_spatial_only_is_morphology_only():
    with pytest.warns(UserWarning, match="no count matrix"):
        adata = read_visium(MOUSE_BRAIN, require_counts=False)  # Space Ranger 2.x positions, with a header
    assert adata.shape == (2310, 0)
    assert adata.uns[K.LIBRARY_ID_KEY] == "mouse_brain_cytassist_hires"
    hires = _library(adata)[K.IMAGES_KEY][K.HIRES_IMAGE]
    assert hires.shape == (2000, 1872, 3)
    assert hires.dtype == np.uint8
    scaled = adata.obsm[K.SPATIAL_KEY] * _library(adata)[K.SCALEFACTORS_KEY][K.HIRES_SCALEF]
    assert (scaled < [1872, 2000]).all()
    assert not adata.obs[K.HAS_COUNTS].any()


def test_mouse_brain_with_require_counts_names_the_missing_matrix():
    with pytest.raises(InputFileError, match=r"filtered_feature_bc_matrix\.h5: count matrix not found"):
        read_visium(MOUSE_BRAIN)


@pytest.mark.parametrize(
    ("folder", "options"),
    [(DLPFC, {}), (HEART, {}), (HEART, {"require_counts": False}), (MOUSE_BRAIN, {"require_counts": False})],
    ids=["dlpfc", "heart", "heart-all-spots", "mouse-brain-no-matrix"],
)
def test_layout_only_has_the_full_read_spots_in_its_order_without_counts_or_images(folder, options):
    with warnings.catch_warnings():  # the notes on images and counts: tested elsewhere
        warnings.simplefilter("ignore", UserWarning)
        full = read_visium(folder, **options)
        layout = read_visium(folder, layout_only=True, **options)
    assert list(layout.obs_names) == list(full.obs_names)
    pd.testing.assert_frame_equal(layout.obs, full.obs)
    np.testing.assert_array_equal(layout.obsm[K.SPATIAL_KEY], full.obsm[K.SPATIAL_KEY])
    assert layout.shape == (full.n_obs, 0)
    assert _library(layout)[K.IMAGES_KEY] == {}
    assert _library(layout)[K.SCALEFACTORS_KEY] == _library(full)[K.SCALEFACTORS_KEY]
    assert layout.uns[K.LIBRARY_ID_KEY] == full.uns[K.LIBRARY_ID_KEY]


def test_layout_only_of_a_visium_hd_output_and_of_an_h5ad_matrix(synthetic_hd, synthetic_outs, tmp_path):
    full = read_visium(synthetic_hd, bin_size=HD_BIN_UM)
    layout = read_visium(synthetic_hd, bin_size=HD_BIN_UM, layout_only=True)
    assert list(layout.obs_names) == list(full.obs_names)
    np.testing.assert_array_equal(layout.obsm[K.SPATIAL_KEY], full.obsm[K.SPATIAL_KEY])
    counts = read_visium(synthetic_outs)
    counts[::-1].copy().write_h5ad(tmp_path / "counts.h5ad")  # another order: the matrix's order decides
    from_h5ad = read_visium(synthetic_outs, counts_file=tmp_path / "counts.h5ad", layout_only=True)
    assert list(from_h5ad.obs_names) == list(counts.obs_names[::-1])


# --- synthetic Space Ranger folders --------------------------------------------------------------


def test_outs_folder_found_from_its_sample_folder(synthetic_outs):
    adata = read_visium(synthetic_outs.parent)
    assert adata.uns[K.LIBRARY_ID_KEY] == "sample_a"  # the folder above Space Ranger's own 'outs'
    assert adata.n_obs == 60
    assert adata.n_vars == 12
    assert list(adata.var_names[-1:]) == ["GENE0-1"]
    assert set(_library(adata)[K.IMAGES_KEY]) == {K.HIRES_IMAGE, K.LOWRES_IMAGE}
    assert read_visium(synthetic_outs, library_id="mine").uns[K.LIBRARY_ID_KEY] == "mine"


def test_matrix_barcodes_without_position_are_dropped_with_a_warning(synthetic_outs):
    positions = synthetic_outs / "spatial" / "tissue_positions.csv"
    table = pd.read_csv(positions)
    table.iloc[[0, 1, 2]].to_csv(positions, index=False)  # only 3 of the 60 matrix barcodes keep a position
    with pytest.warns(UserWarning, match="57 of 60 barcodes have no position"):
        adata = read_visium(synthetic_outs)
    assert adata.n_obs == 3


def test_spots_outside_an_image_after_scaling_warn(synthetic_outs):
    write_png(synthetic_outs / "spatial" / "tissue_hires_image.png", 60, 60)  # a smaller, wrong image
    with pytest.warns(UserWarning, match="fall outside this 60x60 image"):
        read_visium(synthetic_outs)


def test_no_image_at_all_warns_that_morphology_is_unavailable(synthetic_outs):
    for name in ("tissue_hires_image.png", "tissue_lowres_image.png"):
        (synthetic_outs / "spatial" / name).unlink()
    with pytest.warns(UserWarning, match="morphology features will not be available"):
        adata = read_visium(synthetic_outs)
    assert _library(adata)[K.IMAGES_KEY] == {}


def test_counts_file_may_be_an_h5ad(synthetic_outs, tmp_path):
    counts = ad.AnnData(
        X=sparse.csr_matrix(np.arange(60 * 3, dtype=np.float32).reshape(60, 3)),
        obs=pd.DataFrame(index=pd.read_csv(synthetic_outs / "spatial" / "tissue_positions.csv").barcode[:60]),
        var=pd.DataFrame(index=["A", "B", "C"]),
    )
    counts.write_h5ad(tmp_path / "counts.h5ad")
    adata = read_visium(synthetic_outs, counts_file=tmp_path / "counts.h5ad")
    assert adata.shape == (60, 3)
    np.testing.assert_array_equal(adata.X.toarray(), counts.X.toarray())


@pytest.mark.parametrize("suffix", [".tif", ".png", ".jpg"])
def test_fullres_image_is_measured_not_loaded(synthetic_outs, tmp_path, suffix):
    path = tmp_path / f"slide{suffix}"
    pixels = np.zeros((300, 360, 3), dtype=np.uint8)
    if suffix == ".tif":
        tifffile.imwrite(path, pixels, photometric="rgb")
    else:
        Image.fromarray(pixels).save(path)
    adata = read_visium(synthetic_outs, fullres_image=path)
    metadata = _library(adata)[K.METADATA_KEY]
    assert metadata[K.FULLRES_PATH_KEY] == str(path.resolve())
    assert tuple(metadata[K.FULLRES_SHAPE_KEY]) == (300, 360)


def test_fullres_size_read_from_a_pyramidal_tiff_without_decoding(tmp_path):
    path = tmp_path / "pyramid.ome.tif"
    with tifffile.TiffWriter(path) as tif:
        tif.write(np.zeros((3, 512, 256), np.uint8), subifds=1, photometric="rgb", planarconfig="separate")
        tif.write(np.zeros((3, 256, 128), np.uint8), subfiletype=1, photometric="rgb", planarconfig="separate")
    assert read_image_size(path) == (512, 256)


def test_visium_hd_outs_and_bin_folder(synthetic_hd):
    adata = read_visium(synthetic_hd, bin_size=HD_BIN_UM)
    assert adata.n_obs == 300
    assert adata.n_vars == 15
    assert adata.obs_names[0].startswith("s_008um_")
    assert adata.obs_names[0].endswith("-1")
    assert adata.uns[K.LIBRARY_ID_KEY] == "hd_sample"
    library = _library(adata)
    assert library[K.SCALEFACTORS_KEY][K.MICRONS_PER_PIXEL] == HD_MICRONS_PER_PIXEL
    assert library[K.SCALEFACTORS_KEY][K.BIN_SIZE_UM] == HD_BIN_UM
    assert set(library[K.IMAGES_KEY]) == {K.HIRES_IMAGE, K.LOWRES_IMAGE}  # lowres only in outs/spatial
    direct = read_visium(synthetic_hd / "binned_outputs" / "square_008um")
    assert direct.uns[K.LIBRARY_ID_KEY] == "hd_sample"
    np.testing.assert_array_equal(direct.obsm[K.SPATIAL_KEY], adata.obsm[K.SPATIAL_KEY])
    row, col = (int(part) for part in adata.obs_names[5].removesuffix("-1").split("_")[2:])
    bin_px = HD_BIN_UM / HD_MICRONS_PER_PIXEL
    np.testing.assert_allclose(adata.obsm[K.SPATIAL_KEY][5], [(col + 0.5) * bin_px, (row + 0.5) * bin_px])


def test_h5ad_round_trip(synthetic_outs, tmp_path):
    tif = tmp_path / "slide.tif"
    tifffile.imwrite(tif, np.zeros((300, 360, 3), np.uint8), photometric="rgb")
    adata = read_visium(synthetic_outs, fullres_image=tif)
    adata.write_h5ad(tmp_path / "sample.h5ad")
    back = read_visium(tmp_path / "sample.h5ad")
    assert back.uns[K.LIBRARY_ID_KEY] == adata.uns[K.LIBRARY_ID_KEY]
    np.testing.assert_array_equal(back.X.toarray(), adata.X.toarray())
    np.testing.assert_array_equal(back.obsm[K.SPATIAL_KEY], adata.obsm[K.SPATIAL_KEY])
    pd.testing.assert_frame_equal(back.obs, adata.obs)
    for name, image in _library(adata)[K.IMAGES_KEY].items():
        np.testing.assert_array_equal(_library(back)[K.IMAGES_KEY][name], image)
    assert _library(back)[K.SCALEFACTORS_KEY] == _library(adata)[K.SCALEFACTORS_KEY]
    assert _library(back)[K.METADATA_KEY][K.FULLRES_PATH_KEY] == str(tif.resolve())


def test_h5ad_from_scanpy_gets_uint8_images(synthetic_outs, tmp_path):
    adata = read_visium(synthetic_outs)
    images = _library(adata)[K.IMAGES_KEY]
    images[K.HIRES_IMAGE] = images[K.HIRES_IMAGE].astype(np.float32) / 255  # what scanpy stores
    adata.write_h5ad(tmp_path / "scanpy.h5ad")
    back = read_visium(tmp_path / "scanpy.h5ad")
    hires = _library(back)[K.IMAGES_KEY][K.HIRES_IMAGE]
    assert hires.dtype == np.uint8
    np.testing.assert_array_equal(hires, _library(read_visium(synthetic_outs))[K.IMAGES_KEY][K.HIRES_IMAGE])


def test_h5ad_fullres_that_moved_warns(synthetic_outs, tmp_path):
    tif = tmp_path / "slide.tif"
    tifffile.imwrite(tif, np.zeros((300, 360, 3), np.uint8), photometric="rgb")
    read_visium(synthetic_outs, fullres_image=tif).write_h5ad(tmp_path / "sample.h5ad")
    shutil.move(tif, tmp_path / "moved.tif")
    with pytest.warns(UserWarning, match="is not there any more"):
        read_visium(tmp_path / "sample.h5ad")


# --- image conversion --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (np.full((4, 5), 65535, np.uint16), 255),  # 16-bit grey
        (np.full((4, 5), 257 * 100, np.int32), 100),  # PIL's 'I' mode
        (np.full((4, 5, 3), 0.5, np.float32), 128),  # float in [0, 1]
        (np.full((4, 5, 4), 7, np.uint8), 7),  # RGBA
        (np.full((4, 5, 2), 9, np.uint8), 9),  # grey + alpha
        (np.ones((4, 5), bool), 255),
    ],
)
def test_any_image_becomes_uint8_rgb(array, expected, tmp_path):
    image = to_uint8_rgb(array, tmp_path / "x.png")
    assert image.dtype == np.uint8
    assert image.shape == (4, 5, 3)
    assert (image == expected).all()


def test_16_bit_png_is_read_as_uint8(tmp_path):
    path = tmp_path / "grey16.png"
    Image.fromarray(np.linspace(0, 65535, 64 * 64).astype(np.uint16).reshape(64, 64)).save(path)
    image = read_tissue_image(path)
    assert image.dtype == np.uint8
    assert image.shape == (64, 64, 3)
    assert image.max() == 255
    assert image.min() == 0


@pytest.mark.parametrize(("argument", "value"), [("library_id", "a/b"), ("library_id", ""), ("bin_size", 0)])
def test_bad_arguments(synthetic_outs, argument, value):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        read_visium(synthetic_outs, **{argument: value})


def test_hd_bin_size_not_present_lists_the_available(synthetic_hd):
    with pytest.raises(InputFileError, match=r"square_016um.*it has: 8 µm.*--bin-size"):
        read_visium(synthetic_hd, bin_size=16)


def test_write_10x_h5_helper_matches_scanpy(tmp_path):
    import scanpy as sc

    counts = sparse.csr_matrix(np.array([[1, 0, 2], [0, 3, 0]]))
    path = write_10x_h5(tmp_path / "m.h5", counts, ["A-1", "B-1"], ["x", "y", "z"])
    np.testing.assert_array_equal(sc.read_10x_h5(path).X.toarray(), counts.toarray())
