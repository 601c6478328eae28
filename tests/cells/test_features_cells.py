"""The weight-free cell descriptor on a real CoNSeP tile: columns, the radial stain profile, image edges."""

from __future__ import annotations

import numpy as np
import pandas as pd
from PIL import Image

from activespot.cells import cell_feature_names, cell_features
from activespot.io import read_cells


def _described(image, nuclei, **kwargs):
    adata = read_cells(image, nuclei, **kwargs)
    cell_features(adata, patch_px=40, progress=False)
    return pd.DataFrame(adata.obsm["X_cell"], index=adata.obs_names, columns=cell_feature_names())


def test_columns_are_named_and_finite(tile):
    features = _described(tile["image"], tile["mask"])
    assert features.shape == (len(tile["table"]), len(cell_feature_names()))
    assert np.isfinite(features.to_numpy()).all()


def test_radial_profile_needs_no_outline_and_finds_lymphocytes(tile, tmp_path):
    """The radial profile reads the stain around the centroid, so bare centroids give the mask's values.

    The small dark round nuclei of the lamina propria (blue) are darker at the centre than the rest.
    """
    rings = [name for name in cell_feature_names() if "_radial" in name]
    cells = read_cells(tile["image"], tile["mask"])
    from_mask = _described(tile["image"], tile["mask"])[rings]
    points = pd.DataFrame(cells.obsm["spatial"], columns=["x", "y"]).assign(id=cells.obs_names)
    points[["id", "x", "y"]].to_csv(tmp_path / "points.csv", index=False)  # the same centroids, no outlines
    from_points = _described(tile["image"], tmp_path / "points.csv")[rings]
    np.testing.assert_allclose(from_points.to_numpy(), from_mask.loc[from_points.index].to_numpy(), atol=1e-5)

    truth = tile["table"].set_index(tile["table"]["instance_id"].astype(str))["class_color"]
    centre = from_mask["h_radial0"].groupby(truth.reindex(from_mask.index)).mean()
    assert centre["blue"] > centre["red"] * 1.2
    blue = from_mask[truth.reindex(from_mask.index) == "blue"]
    assert (blue["h_radial0"] > blue["h_radial7"]).mean() > 0.9  # a dark nucleus in paler surroundings


def test_pixels_past_the_image_edge_do_not_count(tile, tmp_path):
    """A nucleus cut close to a tile's edge gets the same inner rings as in the whole image, and no extra glass."""
    image = np.asarray(Image.open(tile["image"]).convert("RGB"))
    table = tile["table"]
    near_left = table[table["centroid_x"].between(100, 200)].iloc[0]  # moved 8 px from the left edge by the cut
    cut = int(near_left["centroid_x"]) - 8
    Image.fromarray(image[:, cut:]).save(tmp_path / "cut.png")
    moved = table[table["centroid_x"] >= cut + 1][["instance_id", "centroid_x", "centroid_y"]].copy()
    moved["centroid_x"] -= cut
    moved.to_csv(tmp_path / "cut.csv", index=False)
    whole = _described(tile["image"], tile["mask"]).loc[str(int(near_left["instance_id"]))]
    edge = _described(tmp_path / "cut.png", tmp_path / "cut.csv").loc[str(int(near_left["instance_id"]))]
    inner = ["h_radial0", "h_radial1", "e_radial0"]
    np.testing.assert_allclose(edge[inner], whole[inner], rtol=1e-5)
    assert edge["pale_within_1.0"] <= whole["pale_within_1.0"] + 0.15


def test_progress_in_a_log_is_a_few_plain_lines(tile, capsys, monkeypatch):
    """Written to a file rather than a terminal, the descriptor's bar gives whole lines, not a redraw per cell."""
    from activespot import _progress

    monkeypatch.setattr(_progress, "LOG_DELAY_S", 0.0)  # the tile takes less than the usual silent start
    adata = read_cells(tile["image"], tile["mask"])
    cell_features(adata, patch_px=40, progress=True)
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = [line for line in err.splitlines() if "cell descriptor" in line]
    assert 1 <= len(lines) <= 3
    assert f"{adata.n_obs}/{adata.n_obs}" in lines[-1]


def test_backbone_weights_key_the_cache(tile, tiny_backbones, tmp_path):
    """Bug 4: two checkpoints of one architecture give two feature sets, never the other's cached one."""
    import torch

    from activespot import _constants as K
    from activespot.features import build_model, cached_sha256

    spec = tiny_backbones["tiny-resnet"]
    checkpoints = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        checkpoints.append(tmp_path / f"random_{seed}.pt")
        torch.save(build_model(spec, pretrained=False).state_dict(), checkpoints[-1])
    cache = tmp_path / "cache"
    features, provenance = [], []
    for weights in (*checkpoints, checkpoints[0]):
        adata = read_cells(tile["image"], tile["mask"])
        cell_features(adata, patch_px=40, backbone="tiny-resnet", weights=weights, cache_dir=cache, progress=False)
        features.append(adata.obsm["X_cell"])
        provenance.append(adata.uns[K.CELLS_UNS_KEY]["features"])
    assert not np.allclose(features[0], features[1])
    np.testing.assert_array_equal(features[2], features[0])  # the first file again: its own cached embedding
    assert [p["weights_sha256"] for p in provenance] == [cached_sha256(c) for c in (*checkpoints, checkpoints[0])]
    assert provenance[2]["cache_file"] == provenance[0]["cache_file"] != provenance[1]["cache_file"]
    fresh = read_cells(tile["image"], tile["mask"])
    cell_features(fresh, patch_px=40, backbone="tiny-resnet", weights=checkpoints[1], progress=False)
    np.testing.assert_allclose(fresh.obsm["X_cell"], features[1], rtol=1e-5)
