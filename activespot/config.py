"""One typed configuration object, loaded from YAML.

The defaults here are the single source of truth (ActiveVisium's settings for spots, HALS's for
cells); ``configs/default.yaml`` documents them and a test keeps the two equal. A project's
``project.yaml`` stores only what differs, and the CLI and app override single fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import InputFileError

__all__ = ["Config", "FeaturesConfig", "ModelConfig", "SelectConfig", "load_config"]


class _Section(BaseModel):
    # A misspelt key in a user's YAML must be an error, not silently ignored.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class FeaturesConfig(_Section):
    """How each spot is described to the model."""

    backbone: str = Field("descriptor", description="Morphology backbone; 'descriptor' needs no weights.")
    weights: str | None = Field(None, description="Local weights file or hf-hub id for the backbone.")
    context_factor: float = Field(1.0, gt=0, description="Patch side = spot diameter x this factor.")
    batch_size: int = Field(32, ge=1)
    num_workers: int = Field(0, ge=0, description="DataLoader workers for patch cropping.")
    expression: bool = True
    n_top_genes: int = Field(1000, ge=1)
    n_pcs: int | None = Field(50, ge=1, description="PCA components of the expression block; None keeps HVGs.")
    context_rings: int = Field(1, ge=0, description="Hex-grid neighbour rings averaged into the context block.")


class ModelConfig(_Section):
    """The fused MLP and its training."""

    hidden: int = Field(128, ge=1, description="Width of each feature block's projection head.")
    fusion: int = Field(256, ge=1)
    dropout: float = Field(0.25, ge=0, lt=1)
    epochs: int = Field(50, ge=1)
    learning_rate: float = Field(1e-4, gt=0)
    batch_size: int = Field(64, ge=1)
    validation_fraction: float = Field(0.0, ge=0, lt=1)
    warm_start: bool = True
    seed: int = 0


class SelectConfig(_Section):
    """Which spots to ask about next."""

    strategy: str = "least_confidence_kmeans"
    init: int = Field(55, ge=1, description="Spots in the first query (k-means over features).")
    batch: int = Field(55, ge=1, description="Spots asked per round.")
    top_fraction: float = Field(0.05, gt=0, le=1, description="Uncertain share of the pool kept before k-means.")


class Config(_Section):
    """Everything a project can be configured with."""

    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    select: SelectConfig = Field(default_factory=SelectConfig)

    def to_dict(self, *, exclude_defaults: bool = False) -> dict[str, Any]:
        """Plain dict, e.g. for YAML; ``exclude_defaults`` keeps only the overrides."""
        return self.model_dump(mode="json", exclude_defaults=exclude_defaults)

    def updated(self, overrides: dict[str, Any]) -> Config:
        """Return a copy with nested ``overrides`` applied and validated."""
        merged = _deep_merge(self.to_dict(), overrides)
        return Config.model_validate(merged)


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def load_config(path: str | Path | None = None) -> Config:
    """Load a YAML file over the defaults; ``None`` gives the defaults.

    Raises
    ------
    InputFileError
        The file is missing, not YAML, or holds unknown keys or invalid values (each listed).
    """
    if path is None:
        return Config()
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "configuration file not found", "check the path")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise InputFileError(path, f"not valid YAML ({err.__class__.__name__})", "fix the syntax") from err
    if not isinstance(raw, dict):
        raise InputFileError(path, "expected a mapping of sections (features, model, select)")
    try:
        return Config().updated(raw)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors(include_url=False)
        )
        raise InputFileError(path, f"invalid settings: {problems}", "see configs/default.yaml") from err
