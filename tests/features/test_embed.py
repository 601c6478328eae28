import logging

import numpy as np
import pytest
import torch

from activespot import _constants as K
from activespot.features import _cache as cache_module
from activespot.features import build_model, cached_sha256, embed_spots


def _weights(spec, path, seed):
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    save_file(build_model(spec, pretrained=False).state_dict(), str(path))
    return path


def test_descriptor_is_named_cached_and_reused(section, tmp_path, caplog):
    first, info = embed_spots(section, cache_dir=tmp_path, progress=False)
    assert first.shape == (section.n_obs, info["dim"])
    assert first.dtype == np.float32
    assert info["weights"] == "none: weight-free descriptor"
    assert info["backbone"] == "descriptor"
    assert not info["cache_hit"]
    assert info["patch"]["image"] == "hires"
    assert info["patch"]["context_factor"] == 1.0
    assert len(info["feature_names"]) == info["dim"]

    with caplog.at_level(logging.INFO, logger="activespot.features"):
        again, info2 = embed_spots(section, cache_dir=tmp_path, progress=False)
    assert info2["cache_hit"]
    assert "reusing cached morph-descriptor" in caplog.text
    np.testing.assert_array_equal(first, again)
    assert [p.name for p in tmp_path.iterdir()] == [info2["cache_file"].rsplit("/", 1)[-1]]  # no temp files

    # Another patch size is another key.
    _, wider = embed_spots(section, context_factor=2.0, cache_dir=tmp_path, progress=False)
    assert not wider["cache_hit"]


def test_backbone_embeddings_are_deterministic_and_keyed_by_weights(section, tiny_backbones, tmp_path):
    spec = tiny_backbones["tiny-virchow"]
    cache = tmp_path / "cache"
    weights = _weights(spec, tmp_path / "virchow.safetensors", seed=0)
    first, info = embed_spots(section, spec.name, weights=weights, cache_dir=cache, batch_size=16, progress=False)
    assert first.shape == (section.n_obs, spec.dim)
    assert info["weights_sha256"] == cached_sha256(weights)
    assert info["spec"]["pooling"] == "cls+mean_patch"

    uncached, _ = embed_spots(section, spec.name, weights=weights, batch_size=7, progress=False)
    np.testing.assert_allclose(uncached, first, rtol=1e-5, atol=1e-6)  # batch size does not matter
    _, hit = embed_spots(section, spec.name, weights=weights, cache_dir=cache, progress=False)
    assert hit["cache_hit"]

    other = _weights(spec, tmp_path / "virchow.safetensors", seed=1)  # same path, new content
    changed, miss = embed_spots(section, spec.name, weights=other, cache_dir=cache, progress=False)
    assert not miss["cache_hit"]
    assert not np.allclose(changed, first)


def test_dataloader_workers_give_the_same_embeddings(section, tiny_backbones, tmp_path):
    spec = tiny_backbones["tiny-resnet"]
    weights = _weights(spec, tmp_path / "resnet.safetensors", seed=0)
    in_thread, _ = embed_spots(section, spec.name, weights=weights, batch_size=16, progress=False)
    in_worker, _ = embed_spots(section, spec.name, weights=weights, batch_size=16, num_workers=1, progress=False)
    np.testing.assert_allclose(in_worker, in_thread, rtol=1e-5, atol=1e-6)


def test_weight_hashes_are_remembered_on_disk(tmp_path, monkeypatch):
    path = tmp_path / "w.bin"
    path.write_bytes(b"weights")
    digest = cached_sha256(path, cache_dir=tmp_path)
    assert (tmp_path / K.SHA256_BOOK_FILE).is_file()
    monkeypatch.setattr(cache_module, "_HASHES", {})
    monkeypatch.setattr(cache_module, "sha256_file", lambda _: pytest.fail("hashed twice"))
    assert cached_sha256(path, cache_dir=tmp_path) == digest


def test_bad_parameters_are_rejected(section):
    with pytest.raises(ValueError, match=r"backbone must be one of descriptor, .*; got 'unii'"):
        embed_spots(section, "unii")
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1; got 0"):
        embed_spots(section, batch_size=0)
