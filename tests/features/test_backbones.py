import dataclasses
import logging

import numpy as np
import pytest
import torch

from activespot.errors import InputFileError
from activespot.features import (
    LoadedBackbone,
    build_model,
    check_backbone_name,
    get_backbone,
    list_backbones,
    load_backbone,
    register_backbone,
)
from activespot.features._backbones import _REGISTRY, POOLING_RULES


def _save(state: dict, path, *, prefix: str = "", wrap: str | None = None):
    state = {prefix + key: value.clone() for key, value in state.items()}
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, str(path))
    else:
        torch.save({wrap: state} if wrap else state, path)
    return path


@pytest.mark.parametrize("name", sorted(_REGISTRY))
def test_registry_entry_contract(name):
    spec = get_backbone(name)
    assert spec.name == name
    assert spec.pooling in POOLING_RULES
    assert len(spec.mean) == len(spec.std) == 3
    assert all(0 < v < 1 for v in (*spec.mean, *spec.std))
    assert spec.licence
    assert spec.licence != "unknown"
    assert spec.hf_hub_id
    # Built on the meta device: the giant ViTs cost no memory and no time, and the pooled
    # output proves that the entry's dim matches its architecture and pooling rule.
    with torch.device("meta"):
        model = build_model(spec, pretrained=False)
        loaded_dim = _pooled_dim(spec, model)
    assert loaded_dim == spec.dim


def _pooled_dim(spec, model):
    batch = torch.empty(2, 3, spec.input_size, spec.input_size)
    out = LoadedBackbone(spec, model, "meta", None).embed(batch)
    assert out.shape[0] == 2
    return out.shape[1]


def test_published_settings_of_foundation_models():
    assert get_backbone("h-optimus-0").mean == (0.707223, 0.578729, 0.703617)
    assert get_backbone("h-optimus-0").std == (0.211883, 0.230117, 0.177517)
    assert get_backbone("uni").timm_kwargs["init_values"] == 1e-5
    assert get_backbone("uni2-h").timm_kwargs["reg_tokens"] == 8
    assert get_backbone("virchow2").pooling == "cls+mean_patch"
    assert {get_backbone(n).dim for n in ("uni", "uni2-h", "virchow2")} == {1024, 1536, 2560}


def test_unknown_backbone_lists_the_names():
    with pytest.raises(ValueError, match="one of h-optimus-0, resnet18, resnet50, uni, uni2-h, virchow2; got 'unii'"):
        get_backbone("unii")
    with pytest.raises(ValueError, match=r"one of descriptor, h-optimus-0, .*; got 'unii'"):
        check_backbone_name("unii")
    assert list_backbones()[0] == "descriptor"


@pytest.mark.parametrize(
    ("spec_name", "suffix", "prefix", "wrap"),
    [
        ("tiny-uni", ".safetensors", "module.", None),
        ("tiny-virchow", ".pth", "", "state_dict"),
        ("tiny-resnet", ".bin", "model.", None),
    ],
)
def test_local_weights_load_like_a_users_file(tiny_backbones, tmp_path, spec_name, suffix, prefix, wrap):
    spec = tiny_backbones[spec_name]
    torch.manual_seed(0)
    reference = build_model(spec, pretrained=False).eval()
    path = _save(reference.state_dict(), tmp_path / f"weights{suffix}", prefix=prefix, wrap=wrap)

    loaded = load_backbone(spec, path)

    batch = torch.rand(2, 3, spec.input_size, spec.input_size)
    with torch.inference_mode():
        expected = LoadedBackbone(spec, reference, "reference", None).embed(batch)
        got = loaded.embed(batch)
    assert got.shape == (2, spec.dim)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)
    assert loaded.weights_sha256
    assert len(loaded.weights_sha256) == 64
    assert not loaded.model.training


def test_classification_head_in_file_is_ignored(tiny_backbones, tmp_path, caplog):
    """An ImageNet checkpoint's ``fc`` layer is dropped; the trunk's weights are used exactly."""
    spec = tiny_backbones["tiny-resnet"]
    torch.manual_seed(1)
    reference = build_model(spec, pretrained=False).eval()
    state = reference.state_dict() | {"fc.weight": torch.zeros(10, spec.dim), "fc.bias": torch.zeros(10)}
    with caplog.at_level(logging.INFO, logger="activespot.features"):
        loaded = load_backbone(spec, _save(state, tmp_path / "imagenet.pth"))
    assert "ignoring classification head in imagenet.pth: fc.bias, fc.weight" in caplog.text
    assert not any(name.startswith("fc.") for name in loaded.model.state_dict())
    batch = torch.rand(2, 3, spec.input_size, spec.input_size)
    with torch.inference_mode():
        expected = LoadedBackbone(spec, reference, "reference", None).embed(batch)
        got = loaded.embed(batch)
    assert got.shape == (2, spec.dim)  # an embedding, not 10 class scores
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


def test_mismatched_keys_are_listed(tiny_backbones, tmp_path):
    uni = tiny_backbones["tiny-uni"]
    other = build_model(tiny_backbones["tiny-resnet"], pretrained=False).state_dict()
    path = _save(other, tmp_path / "resnet.safetensors")
    with pytest.raises(InputFileError, match=r"missing \(\d+\): .*unexpected \(\d+\): ") as err:
        load_backbone(uni, path)
    assert "resnet.safetensors" in str(err.value)
    assert "--backbone" in str(err.value)


def test_wrong_shapes_are_listed(tiny_backbones, tmp_path):
    spec = tiny_backbones["tiny-uni"]
    wider = dataclasses.replace(spec, timm_kwargs={**spec.timm_kwargs, "embed_dim": 64})
    path = _save(build_model(wider, pretrained=False).state_dict(), tmp_path / "wide.pt")
    with pytest.raises(InputFileError, match=r"wrong shape \(20\): blocks\.0\.attn\.proj\.bias \(64,\) vs \(32,\)"):
        load_backbone(spec, path)


def test_missing_file_and_unknown_format(tiny_backbones, tmp_path):
    spec = tiny_backbones["tiny-uni"]
    with pytest.raises(InputFileError, match="weights file not found"):
        load_backbone(spec, tmp_path / "uni.bin")
    with pytest.raises(InputFileError, match="weights file not found"):
        load_backbone(spec, "weights/uni.bin")  # a relative path is never taken for a Hub id
    (tmp_path / "uni.onnx").write_bytes(b"x")
    with pytest.raises(InputFileError, match=r"unknown weights format '\.onnx'.*\.safetensors"):
        load_backbone(spec, tmp_path / "uni.onnx")
    (tmp_path / "broken.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(InputFileError, match="cannot read weights"):
        load_backbone(spec, tmp_path / "broken.pth")


def test_hub_failure_is_an_error_not_random_weights(tiny_backbones, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # no network in tests
    with pytest.raises(InputFileError, match=r"hf-hub:MahmoodLab/UNI.*gated.*--weights"):
        load_backbone(tiny_backbones["tiny-uni"])  # no file: the entry's Hub id
    with pytest.raises(InputFileError, match="hf-hub:someone/model"):
        load_backbone(tiny_backbones["tiny-resnet"], "hf-hub:someone/model")


def test_register_refuses_duplicates_and_bad_pooling(tiny_backbones):
    with pytest.raises(ValueError, match="already registered"):
        register_backbone(tiny_backbones["tiny-uni"])
    with pytest.raises(ValueError, match="already registered"):
        register_backbone(dataclasses.replace(tiny_backbones["tiny-uni"], name="descriptor"))
    with pytest.raises(ValueError, match="pooling must be one of model, cls\\+mean_patch"):
        register_backbone(dataclasses.replace(tiny_backbones["tiny-uni"], name="x", pooling="mean"))
