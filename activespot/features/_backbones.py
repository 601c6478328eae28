"""Morphology backbones: a registry of timm models and the loading of their weights from local files.

Each entry says everything needed to turn an RGB patch into an embedding (timm architecture and
keyword arguments, input size, normalisation, pooling, output dimension) plus what a user must
know before using it (licence, gated access). Weights come from a file the user downloaded once
(safetensors, ``.bin``, ``.pth``/``.pt``), or from the Hugging Face Hub through timm when there is
network access; a failed download is an error, never a silent fallback to random weights, because
random-weight embeddings look like features and quietly ruin every later round.

torch and timm are imported inside functions so that ``import activespot`` stays fast.
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from .. import _constants as K
from ..errors import InputFileError, SettingError
from ._cache import cached_sha256

if TYPE_CHECKING:
    import torch

__all__ = [
    "Backbone",
    "LoadedBackbone",
    "build_model",
    "check_backbone_name",
    "get_backbone",
    "list_backbones",
    "load_backbone",
    "read_state_dict",
    "register_backbone",
    "resolve_weights",
]

logger = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
POOLING_RULES = ("model", "cls+mean_patch")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt")
# Wrappers that training scripts put around a state dict, and prefixes that DataParallel,
# Lightning or DINO-style checkpoints put before every key; removed when *every* key has them.
_STATE_DICT_WRAPPERS = ("state_dict", "model", "teacher", "model_state_dict", "module")
_KEY_PREFIXES = ("module.", "model.", "backbone.", "encoder.", "teacher.")
_HUB_ID = re.compile(r"^(hf[-_]hub:)?[\w.-]+/[\w.-]+$")
_SHOWN_KEYS = 5
# Layer classes are named as import paths in the registry and resolved only when a model is
# built, so that the registry itself can be read without importing torch or timm.
_SWIGLU = "timm.layers.SwiGLUPacked"
_SILU = "torch.nn.SiLU"
# ViT-g/14-style trunk shared by UNI2-h and H-optimus-0 (their model cards); depth and registers differ.
_GIANT_SWIGLU_VIT = {
    "img_size": 224,
    "patch_size": 14,
    "num_heads": 24,
    "init_values": 1e-5,
    "embed_dim": 1536,
    "mlp_ratio": 2.66667 * 2,
    "num_classes": 0,
    "no_embed_class": True,
    "mlp_layer": _SWIGLU,
    "act_layer": _SILU,
    "dynamic_img_size": True,
}


@dataclass(frozen=True)
class Backbone:
    """One registry entry: how to build a morphology backbone and what its embedding means.

    Parameters
    ----------
    name
        Registry name users pass as ``--backbone``.
    timm_name
        timm architecture name given to :func:`timm.create_model`.
    timm_kwargs
        Keyword arguments of the architecture; values ``"pkg.module.Class"`` in
        ``mlp_layer``/``act_layer``/``norm_layer`` are imported when the model is built.
    dim
        Length of the embedding after pooling.
    input_size
        Side in pixels of the square patch the model is fed.
    mean, std
        Per-channel normalisation of ``[0, 1]`` RGB input the weights were trained with.
    pooling
        ``"model"``: the model's own pooled output (CLS token for ViTs, average for CNNs).
        ``"cls+mean_patch"``: CLS token concatenated with the mean of the patch tokens, register
        tokens excluded (Virchow's recipe).
    licence
        Licence of the published weights.
    gated
        Whether the weights need an approved Hugging Face access request.
    hf_hub_id
        Hub repository of the published weights, used when no local file is given.
    microns_per_pixel
        Pixel size (µm) of the tissue the weights were trained on (0.5 for UNI-class models at
        20x): patches of a pyramid come from the level closest to it and not coarser; ``None``
        (ImageNet models): the patch's own pixel size.
    """

    name: str
    timm_name: str
    timm_kwargs: Mapping[str, Any]
    dim: int
    input_size: int
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    pooling: Literal["model", "cls+mean_patch"] = "model"
    licence: str = "unknown"
    gated: bool = False
    hf_hub_id: str | None = None
    microns_per_pixel: float | None = None

    def __post_init__(self) -> None:
        # Frozen all the way down: a registry entry edited in place would change the cache key
        # of features computed earlier without anyone noticing.
        object.__setattr__(self, "timm_kwargs", MappingProxyType(dict(self.timm_kwargs)))

    def describe(self) -> dict[str, Any]:
        """JSON-ready description, stored with the features and used in their cache key."""
        return {
            "name": self.name,
            "timm_name": self.timm_name,
            "timm_kwargs": dict(self.timm_kwargs),
            "dim": self.dim,
            "input_size": self.input_size,
            "mean": list(self.mean),
            "std": list(self.std),
            "pooling": self.pooling,
            "licence": self.licence,
            "gated": self.gated,
            "hf_hub_id": self.hf_hub_id,
            # only when known, so the cache keys of ImageNet backbones stay what they were
            **({"microns_per_pixel": self.microns_per_pixel} if self.microns_per_pixel else {}),
        }


@dataclass
class LoadedBackbone:
    """A backbone ready for inference: the eval-mode module, its entry and where its weights came from."""

    spec: Backbone
    model: torch.nn.Module
    weights_source: str
    weights_sha256: str | None

    def embed(self, batch: torch.Tensor) -> torch.Tensor:
        """Pool a normalised float batch (N, 3, H, W) into embeddings (N, ``spec.dim``)."""
        if self.spec.pooling == "model":
            return self.model(batch)
        import torch

        tokens = self.model.forward_features(batch)
        patches = tokens[:, self.model.num_prefix_tokens :]
        return torch.cat((tokens[:, 0], patches.mean(dim=1)), dim=-1)


_PATHOLOGY_MPP = 0.5  # 224 px at 20x (~0.5 µm/px): UNI, UNI2-h, H-optimus-0, Virchow2 (their model cards)
_UNI_KWARGS = {"img_size": 224, "patch_size": 16, "init_values": 1e-5, "num_classes": 0, "dynamic_img_size": True}
_REGISTRY: dict[str, Backbone] = {
    spec.name: spec
    for spec in (
        Backbone(
            name="resnet18",
            timm_name="resnet18",
            timm_kwargs={"num_classes": 0},
            dim=512,
            input_size=224,
            licence="apache-2.0",
            hf_hub_id="timm/resnet18.a1_in1k",
        ),
        Backbone(
            name="resnet50",
            timm_name="resnet50",
            timm_kwargs={"num_classes": 0},
            dim=2048,
            input_size=224,
            licence="apache-2.0",
            hf_hub_id="timm/resnet50.a1_in1k",
        ),
        Backbone(
            name="uni",
            timm_name="vit_large_patch16_224",
            timm_kwargs=_UNI_KWARGS,
            dim=1024,
            input_size=224,
            licence="cc-by-nc-nd-4.0",
            gated=True,
            hf_hub_id="MahmoodLab/UNI",
            microns_per_pixel=_PATHOLOGY_MPP,
        ),
        Backbone(
            name="uni2-h",
            timm_name="vit_giant_patch14_224",
            timm_kwargs={**_GIANT_SWIGLU_VIT, "depth": 24, "reg_tokens": 8},
            dim=1536,
            input_size=224,
            licence="cc-by-nc-nd-4.0",
            gated=True,
            hf_hub_id="MahmoodLab/UNI2-h",
            microns_per_pixel=_PATHOLOGY_MPP,
        ),
        Backbone(
            name="h-optimus-0",
            timm_name="vit_giant_patch14_reg4_dinov2",
            timm_kwargs={**_GIANT_SWIGLU_VIT, "depth": 40, "reg_tokens": 4},
            dim=1536,
            input_size=224,
            mean=(0.707223, 0.578729, 0.703617),
            std=(0.211883, 0.230117, 0.177517),
            licence="apache-2.0",
            gated=True,
            hf_hub_id="bioptimus/H-optimus-0",
            microns_per_pixel=_PATHOLOGY_MPP,
        ),
        Backbone(
            name="virchow2",
            timm_name="vit_huge_patch14_224",
            timm_kwargs={
                "img_size": 224,
                "init_values": 1e-5,
                "num_classes": 0,
                "mlp_ratio": 5.3375,
                "reg_tokens": 4,
                "global_pool": "",
                "dynamic_img_size": True,
                "mlp_layer": _SWIGLU,
                "act_layer": _SILU,
            },
            dim=2560,
            input_size=224,
            pooling="cls+mean_patch",
            licence="cc-by-nc-nd-4.0",
            gated=True,
            hf_hub_id="paige-ai/Virchow2",
            microns_per_pixel=_PATHOLOGY_MPP,
        ),
    )
}


def list_backbones() -> list[str]:
    """Names of every registered backbone, plus the weight-free ``descriptor``."""
    return [K.DESCRIPTOR_BACKBONE, *sorted(_REGISTRY)]


def get_backbone(name: str) -> Backbone:
    """Registry entry of the timm backbone ``name``.

    Raises
    ------
    ValueError
        ``name`` is not registered; the message lists the valid names.
    """
    check_backbone_name(name, allow_descriptor=False)
    return _REGISTRY[name]


def check_backbone_name(name: str, *, allow_descriptor: bool = True) -> None:
    """Raise a :class:`~activespot.errors.SettingError` (a ValueError) listing valid names unless ``name`` is one."""
    if name in _REGISTRY or (allow_descriptor and name == K.DESCRIPTOR_BACKBONE):
        return
    valid = list_backbones() if allow_descriptor else sorted(_REGISTRY)
    msg = f"The backbone must be one of {', '.join(valid)}; got {name!r}."
    raise SettingError(msg)


def register_backbone(spec: Backbone, *, overwrite: bool = False) -> Backbone:
    """Add a backbone to the registry, e.g. a new foundation model or a tiny one for tests.

    Raises
    ------
    ValueError
        The name is taken (and ``overwrite`` is false), is the descriptor's, or the pooling rule
        is unknown.
    """
    if spec.name == K.DESCRIPTOR_BACKBONE or (spec.name in _REGISTRY and not overwrite):
        msg = f"A backbone named {spec.name!r} is already registered; pass overwrite=True to replace it."
        raise ValueError(msg)
    if spec.pooling not in POOLING_RULES:
        msg = f"The pooling must be one of {', '.join(POOLING_RULES)}; got {spec.pooling!r}."
        raise ValueError(msg)
    _REGISTRY[spec.name] = spec
    return spec


# --- building --------------------------------------------------------------------------------------
def build_model(spec: Backbone, **overrides: Any) -> torch.nn.Module:
    """Create the architecture of ``spec`` with timm, without weights (used for loading and contract tests)."""
    import timm

    kwargs = {key: _resolve_layer(value) for key, value in {**spec.timm_kwargs, **overrides}.items()}
    return timm.create_model(spec.timm_name, **kwargs)


def _resolve_layer(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(("timm.", "torch.")) and "." in value:
        module, _, attr = value.rpartition(".")
        return getattr(importlib.import_module(module), attr)
    return value


def load_backbone(
    spec: Backbone, weights: str | Path | None = None, *, cache_dir: Path | None = None
) -> LoadedBackbone:
    """Build ``spec`` and load its weights, ready for inference.

    Parameters
    ----------
    spec
        Registry entry, from :func:`get_backbone`.
    weights
        A local weights file, or a Hugging Face Hub id (``hf-hub:org/name`` or ``org/name``);
        ``None`` uses the entry's published Hub id.
    cache_dir
        Where the sha256 of local weight files is remembered (by path, mtime and size), so that
        multi-GB files are hashed once.

    Raises
    ------
    InputFileError
        The file is missing, of an unknown format, unreadable, or its keys or shapes do not match
        the architecture (a few missing/unexpected keys are listed); or the Hub download failed.
    """
    source = resolve_weights(spec, weights)
    if isinstance(source, Path):
        model = build_model(spec, pretrained=False)
        _load_state_dict(model, read_state_dict(source), source)
        loaded = LoadedBackbone(spec, model, str(source), cached_sha256(source, cache_dir=cache_dir))
    else:
        model = _download(spec, source)
        loaded = LoadedBackbone(spec, model, f"hf-hub:{source}", None)
    model.eval()
    logger.info("backbone %s loaded from %s", spec.name, loaded.weights_source)
    return loaded


def resolve_weights(spec: Backbone, weights: str | Path | None) -> Path | str:
    """Where the weights of ``spec`` come from: an existing local file, or a bare Hugging Face Hub id.

    Raises
    ------
    InputFileError
        A path that does not exist or has an unknown suffix, or no weights and no published Hub id.
    """
    if weights is None:
        if spec.hf_hub_id is None:
            raise InputFileError(
                spec.name,
                "this backbone has no published weights to download",
                "pass a weights file with --weights",
            )
        return spec.hf_hub_id
    text = str(weights)
    path = Path(text).expanduser()
    if path.is_file():
        if path.suffix.lower() not in WEIGHT_SUFFIXES:
            raise InputFileError(
                path,
                f"unknown weights format {path.suffix!r}",
                f"use one of {', '.join(WEIGHT_SUFFIXES)}",
            )
        return path
    looks_like_file = text.startswith((".", "/", "~")) or path.suffix.lower() in WEIGHT_SUFFIXES
    if not path.exists() and not looks_like_file and _HUB_ID.match(text):
        return re.sub(r"^hf[-_]hub:", "", text)
    raise InputFileError(
        path,
        "weights file not found",
        f"pass the path of the downloaded {spec.name} weights ({', '.join(WEIGHT_SUFFIXES)}) "
        "or a Hugging Face Hub id such as hf-hub:org/name",
    )


def _download(spec: Backbone, hub_id: str) -> torch.nn.Module:
    # timm fetches the file through huggingface_hub (using a token the user configured, never
    # logging in); the architecture stays the registry's, only the weights come from the Hub.
    try:
        return build_model(spec, pretrained=True, pretrained_cfg_overlay={"hf_hub_id": hub_id})
    except Exception as err:  # network, authentication and file errors all end here
        access = f" (gated: request access at https://huggingface.co/{hub_id} first)" if spec.gated else ""
        source = f"hf-hub:{hub_id}"
        raise InputFileError(
            source,
            f"could not get the {spec.name} weights from the Hugging Face Hub ({_first_line(err)})",
            f"download the weights file on a machine with network access{access} and pass its path with --weights",
        ) from err


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return f"{err.__class__.__name__}: {text.splitlines()[0]}" if text else err.__class__.__name__


def read_state_dict(path: Path) -> dict[str, Any]:
    """Tensors of a weights file, unwrapped from training-checkpoint containers and key prefixes.

    Raises
    ------
    InputFileError
        The file cannot be read as safetensors or as a (weights-only) torch pickle.
    """
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            import torch

            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # safetensors, pickle and zip errors have no common base class
        raise InputFileError(
            path,
            f"cannot read weights ({_first_line(err)})",
            "check that the download is complete; only tensors can be loaded (weights_only=True)",
        ) from err
    return _unwrap(state, path)


def _unwrap(state: Any, path: Path) -> dict[str, Any]:
    while isinstance(state, Mapping):
        inner = next((state[k] for k in _STATE_DICT_WRAPPERS if isinstance(state.get(k), Mapping)), None)
        if inner is None:
            break
        state = inner
    if not isinstance(state, Mapping) or not state:
        raise InputFileError(path, "no state dict (name -> tensor) in the file", "pass the model weights file")
    state = dict(state)
    stripped = True
    while stripped:
        stripped = False
        for prefix in _KEY_PREFIXES:
            if all(key.startswith(prefix) for key in state):
                state = {key[len(prefix) :]: value for key, value in state.items()}
                stripped = True
    return state


def _load_state_dict(model: torch.nn.Module, state: dict[str, Any], path: Path) -> None:
    expected = model.state_dict()
    # A classification head (e.g. ImageNet fc) is not part of an embedding model.
    head = {k for k in state if k not in expected and k.split(".")[0] in ("fc", "head", "classifier")}
    if head:
        logger.info("ignoring classification head in %s: %s", path.name, ", ".join(sorted(head)))
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected) - head)
    mismatched = sorted(
        f"{k} {tuple(state[k].shape)} vs {tuple(expected[k].shape)}"
        for k in set(state) & set(expected)
        if tuple(state[k].shape) != tuple(expected[k].shape)
    )
    if missing or unexpected or mismatched:
        problems = [
            f"{label} ({len(keys)}): {', '.join(keys[:_SHOWN_KEYS])}{', …' if len(keys) > _SHOWN_KEYS else ''}"
            for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", mismatched))
            if keys
        ]
        raise InputFileError(
            path,
            f"the weights do not match the {model.__class__.__name__} architecture; " + "; ".join(problems),
            "check that --backbone names the model these weights belong to",
        )
    model.load_state_dict({k: v for k, v in state.items() if k not in head}, strict=True)
