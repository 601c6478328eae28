"""Where torch runs and at what precision: one answer for every command that runs a network.

``auto`` takes the first accelerator torch can use (CUDA, then Apple's MPS) and falls back to the
CPU, so the same project runs on a laptop and on a GPU node; a device asked for by name must exist,
or the error lists those that do — never a silent fall-back to the CPU.

Precision is autocast: on CUDA bf16 where the GPU supports it (Ampere and later), else fp16, which
halves memory traffic and runs on tensor cores; the CPU and MPS default to fp32, where autocast
buys little. ``fp32`` forces full precision anywhere; the precision used is part of the features'
cache key, the device only of their record (the same arithmetic gives the same embeddings).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._constants import PRECISIONS
from ..errors import SettingError

if TYPE_CHECKING:
    import torch

__all__ = ["PRECISIONS", "autocast_dtype", "available_devices", "resolve_device", "resolve_precision"]

_DTYPES = {"bf16": "bfloat16", "fp16": "float16"}


def available_devices() -> list[str]:
    """Names of the devices torch can use on this machine, CPU first (``cpu``, ``cuda:0``…, ``mps``)."""
    import torch

    names = ["cpu"]
    if torch.cuda.is_available():
        names += [f"cuda:{index}" for index in range(torch.cuda.device_count())]
    if _mps_available():
        names.append("mps")
    return names


def resolve_device(name: str | None = "auto") -> torch.device:
    """The torch device for a setting: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.

    Raises
    ------
    SettingError
        The name is not a device, or names one this machine does not have (the message lists
        the devices it has).
    """
    import torch

    name = (name or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        device = None
    if device is None or device.type not in {"cpu", "cuda", "mps"}:
        msg = f"Unknown device {name!r}: use auto, cpu, cuda, cuda:N or mps ({_here()})."
        raise SettingError(msg)
    if device.type == "cpu":
        return torch.device("cpu")
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = 0 if device.index is None else device.index
        if index >= count:
            what = "no CUDA GPU" if count == 0 else f"{count} CUDA device(s)"
            msg = f"Device {name!r} is not available: torch sees {what} on this machine ({_here()}); use --device auto."
            raise SettingError(msg)
        return torch.device("cuda", index)
    if not _mps_available():
        msg = f"Device 'mps' is not available: torch sees no Apple GPU on this machine ({_here()}); use --device auto."
        raise SettingError(msg)
    return torch.device("mps")


def resolve_precision(precision: str, device: torch.device) -> str:
    """``fp32``, ``bf16`` or ``fp16``: what ``precision`` (``auto`` included) means on ``device``."""
    if precision not in PRECISIONS:
        msg = f"Unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}."
        raise SettingError(msg)
    if precision != "auto":
        return precision
    if device.type != "cuda":
        return "fp32"
    import torch

    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The autocast dtype of a resolved precision; ``None`` for fp32 (no autocast)."""
    import torch

    return None if precision == "fp32" else getattr(torch, _DTYPES[precision])


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def _here() -> str:
    return "devices here: " + ", ".join(available_devices())
