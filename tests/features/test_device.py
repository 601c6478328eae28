"""Where torch runs: device names resolved against what the machine has, autocast precision, out-of-memory batches."""

import numpy as np
import pytest
import torch

from activespot import _constants as K
from activespot.errors import SettingError
from activespot.features import (
    _embed,
    available_devices,
    build_model,
    embed_spots,
    resolve_device,
    resolve_precision,
)


def _machine(monkeypatch, *, gpus: int, mps: bool = False, bf16: bool = True):
    """Pretend torch sees ``gpus`` CUDA devices (and MPS) without touching a real GPU."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpus > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *_, **__: bf16)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)


def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch):
    _machine(monkeypatch, gpus=2, mps=True)
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert resolve_device("cuda") == torch.device("cuda", 0)
    assert resolve_device("CUDA:1") == torch.device("cuda", 1)
    assert available_devices() == ["cpu", "cuda:0", "cuda:1", "mps"]
    _machine(monkeypatch, gpus=0, mps=True)
    assert resolve_device(None) == torch.device("mps")
    _machine(monkeypatch, gpus=0)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")


def test_a_device_the_machine_lacks_is_an_error_listing_those_it_has(monkeypatch):
    _machine(monkeypatch, gpus=0)
    with pytest.raises(SettingError, match=r"'cuda' is not available: torch sees no CUDA GPU.*devices here: cpu"):
        resolve_device("cuda")
    with pytest.raises(SettingError, match="no Apple GPU"):
        resolve_device("mps")
    _machine(monkeypatch, gpus=2)
    with pytest.raises(SettingError, match=r"'cuda:2'.*2 CUDA device\(s\).*cpu, cuda:0, cuda:1"):
        resolve_device("cuda:2")
    with pytest.raises(SettingError, match="Unknown device 'gpu'"):
        resolve_device("gpu")


def test_auto_precision_is_bf16_on_cuda_where_supported_else_fp16_and_fp32_elsewhere(monkeypatch):
    _machine(monkeypatch, gpus=1, bf16=True)
    assert resolve_precision("auto", torch.device("cuda", 0)) == "bf16"
    _machine(monkeypatch, gpus=1, bf16=False)
    assert resolve_precision("auto", torch.device("cuda", 0)) == "fp16"
    assert resolve_precision("auto", torch.device("cpu")) == "fp32"
    assert resolve_precision("bf16", torch.device("cpu")) == "bf16"
    with pytest.raises(SettingError, match="Unknown precision 'half'"):
        resolve_precision("half", torch.device("cpu"))


@pytest.mark.parametrize("name", ["tiny-uni", "tiny-resnet"])
def test_cpu_bf16_autocast_agrees_with_fp32_and_is_cached_apart(section, tiny_backbones, tmp_path, name):
    from safetensors.torch import save_file

    spec = tiny_backbones[name]
    torch.manual_seed(0)
    weights = tmp_path / f"{name}.safetensors"
    save_file(build_model(spec, pretrained=False).state_dict(), str(weights))
    exact, info = embed_spots(section, name, weights=weights, device="cpu", cache_dir=tmp_path / "c", progress=False)
    half, half_info = embed_spots(
        section, name, weights=weights, device="cpu", precision="bf16", cache_dir=tmp_path / "c", progress=False
    )
    assert (info["precision"], info["device"]) == ("fp32", "cpu")
    assert half_info["precision"] == "bf16"
    assert not half_info["cache_hit"]  # another precision, another cache entry
    assert not np.array_equal(half, exact)  # autocast did run in bf16
    # bf16 keeps 8 bits of mantissa: relative error ~2^-8 per operation, a few % after a network.
    scale = np.abs(exact).max()
    np.testing.assert_allclose(half, exact, atol=0.05 * scale)
    cosine = (half * exact).sum(1) / (np.linalg.norm(half, axis=1) * np.linalg.norm(exact, axis=1))
    assert cosine.min() > 0.995


def test_a_device_that_does_not_exist_fails_before_any_embedding(section, tiny_backbones, monkeypatch):
    _machine(monkeypatch, gpus=0)
    with pytest.raises(SettingError, match="'cuda:0' is not available"):
        embed_spots(section, "tiny-resnet", weights="unused.safetensors", device="cuda:0", progress=False)


def test_out_of_memory_halves_the_batch_and_keeps_every_embedding(caplog):
    seen = []

    def embed(batch):
        seen.append(len(batch))
        if len(batch) > 5:
            raise torch.OutOfMemoryError("CUDA out of memory (pretend)")
        return batch.reshape(len(batch), -1)[:, :2].float().numpy()

    fitting = _embed._FittingBatches(embed, 16)
    batch = torch.arange(40 * 3).reshape(40, 3)
    with caplog.at_level("WARNING"):
        out = np.concatenate([fitting(batch[:24]), fitting(batch[24:])])
    np.testing.assert_array_equal(out, batch[:, :2].numpy())
    assert fitting.size == 4
    assert seen[:3] == [16, 8, 4]  # halved until it fits, then kept
    assert set(seen[3:]) <= {4}
    assert "continuing with batches of 4 patches" in caplog.text

    def never(batch):
        raise torch.OutOfMemoryError("CUDA out of memory (pretend)")

    with pytest.raises(SettingError, match="does not fit in the device's memory even one patch"):
        _embed._FittingBatches(never, 2)(batch[:2])


def test_the_descriptor_records_no_precision(section):
    _, info = embed_spots(section, K.DESCRIPTOR_BACKBONE, progress=False)
    assert "precision" not in info
