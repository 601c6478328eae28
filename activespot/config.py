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

__all__ = [
    "CellsConfig",
    "Config",
    "FeaturesConfig",
    "ModelConfig",
    "SelectConfig",
    "TransferConfig",
    "config_to_yaml",
    "load_config",
]


class _Section(BaseModel):
    # A misspelt key in a user's YAML must be an error, not silently ignored.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class FeaturesConfig(_Section):
    """How each spot is described to the model."""

    backbone: str = Field("descriptor", description="Morphology backbone; 'descriptor' needs no weights.")
    weights: str | None = Field(None, description="Local weights file or hf-hub id for the backbone.")
    context_factor: float = Field(1.0, gt=0, description="Patch side = spot diameter x this factor.")
    batch_size: int = Field(32, ge=1)
    num_workers: int | None = Field(
        None, ge=0, description="Patch-cropping processes; 0: one thread; None: one per core (≤ 12) on a GPU, else 0."
    )
    device: str = Field(
        "auto", description="Where backbones run: auto (CUDA, else MPS, else CPU), cpu, cuda, cuda:N or mps."
    )
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="Backbone arithmetic: auto is bf16 autocast on CUDA (fp16 where bf16 is not), else fp32."
    )
    mpp: float | None = Field(
        None,
        gt=0,
        description="Pixel size (µm) of the full-resolution image when neither file nor scale factors give one.",
    )
    expression: bool = True
    n_top_genes: int = Field(1000, ge=1)
    n_pcs: int | None = Field(50, ge=1, description="PCA components of the expression block; None keeps HVGs.")
    context_rings: int = Field(
        3, ge=0, description="Grid neighbour rings averaged into the context block (hexagonal; 8-neighbours for HD)."
    )
    hd_patch_um: float = Field(64.0, gt=0, description="Visium HD: side (µm) of the tiles embedded for morphology.")
    hd_stride_um: float = Field(
        32.0, gt=0, description="Visium HD: tile spacing (µm); each bin blends the four tiles around it."
    )
    hd_expression_sigma_um: float = Field(
        16.0, ge=0, description="Visium HD: Gaussian (µm) pooling bins' expression before HVGs and PCA; 0: none."
    )


class ModelConfig(_Section):
    """The fused MLP and its training (ActiveVisium's architecture, trained to convergence on CPU)."""

    blocks: list[str] | None = Field(
        None, description="Feature blocks the model reads (obsm keys); None uses every computed block."
    )
    hidden: int = Field(128, ge=1, description="Width of each feature block's projection head.")
    fusion: int = Field(256, ge=1, description="Width of the fused embedding the query strategies cluster.")
    dropout: float = Field(0.25, ge=0, lt=1)
    epochs: int = Field(50, ge=1)
    # ActiveVisium's Adam 1e-4 leaves the loss near its start after 50 epochs of a few hundred labels
    # (one or two steps an epoch); 1e-3 converges in the same 50 epochs.
    learning_rate: float = Field(1e-3, gt=0)
    batch_size: int = Field(128, ge=1, description="Labels per step; large batches keep a round under a second.")
    weight_decay: float = Field(1e-4, ge=0, description="Adam's L2 penalty.")
    validation_fraction: float = Field(
        0.1, ge=0, lt=1, description="Labels held out to choose the best epoch, once there are validation_min_labels."
    )
    validation_min_labels: int = Field(1000, ge=2, description="No validation split below this many labels.")
    warm_start: bool = Field(True, description="Start each round from the previous round's weights.")
    smoothing_steps: int = Field(
        1, ge=0, description="Times predicted probabilities are averaged with the hex-grid neighbours (0: off)."
    )
    num_threads: int | None = Field(
        None, ge=1, description="Torch CPU threads; None: torch's default, one per physical core of the machine."
    )
    device: str = Field("auto", description="Where the model trains and predicts: auto, cpu, cuda, cuda:N or mps.")
    seed: int = 0


class SelectConfig(_Section):
    """Which spots to ask about next."""

    strategy: str = Field("least_confidence_kmeans", description="A name from activespot.select.STRATEGIES.")
    init: int = Field(55, ge=1, description="Spots in the first query (k-means over features).")
    batch: int = Field(55, ge=1, description="Spots asked per round.")
    top_fraction: float = Field(0.05, gt=0, le=1, description="Uncertain share of the pool kept before k-means.")


class TransferConfig(_Section):
    """Zero-shot label transfer to a new section (activespot transfer)."""

    # One fit's κ on a new section varies with the seed alone (SD 0.01-0.02 on DLPFC): the source's labels pin the
    # decision boundaries near the source's spots, and the target's spots, shifted by the batch, fall where
    # differently seeded fits disagree. Averaging a few fits removes that variance; a transfer runs once,
    # so the extra fits cost seconds, whereas the loop's rounds keep one model to stay interactive.
    ensemble: int = Field(
        5, ge=1, description="Fused MLPs (seeds model.seed, model.seed+1, ...) whose probabilities are averaged."
    )


class CellsConfig(_Section):
    """Cell-level annotation of H&E images (HALS: live suggestions, Coreset regions)."""

    patch_px: int = Field(40, ge=8, description="Side of each cell's patch in pixels (HALS: 40).")
    patch_um: float | None = Field(
        None, gt=0, description="Side of each cell's patch in µm; replaces patch_px when the pixel size is known."
    )
    microns_per_pixel: float | None = Field(None, gt=0, description="Pixel size of the image, when known.")
    backbone: str = Field("descriptor", description="Cell patch backbone; 'descriptor' is the weight-free default.")
    weights: str | None = Field(None, description="Local weights file or hf-hub id for the backbone.")
    hidden: int = Field(32, ge=1, description="Width of each hidden layer of the cell classifier (HALS: 32).")
    n_layers: int = Field(2, ge=1, description="Hidden layers of the cell classifier (HALS: 2).")
    alpha: float = Field(1.0, ge=0, description="L2 penalty of the cell classifier (few labels overfit 2 x 32 units).")
    max_iter: int = Field(200, ge=1, description="L-BFGS iterations per (re)training.")
    num_threads: int | None = Field(
        None, ge=1, description="BLAS threads of the cell classifier; None: 1 for small problems, else every core."
    )
    retrain_every: int = Field(5, ge=1, description="Retrain on all labels each time this many new labels arrive.")
    label_context: bool = Field(
        True, description="Weigh the classes of labelled cells within one patch side into each suggestion."
    )
    min_labels_per_class: int = Field(
        10, ge=1, description="Suggestions are shown once every class has this many labels."
    )
    coreset_size: int = Field(20, ge=1, description="Cells Coreset (k-center greedy) picks before a region is chosen.")
    region_px: int = Field(256, ge=16, description="Side of the region to annotate next, in pixels (HALS: 256).")
    validation_fraction: float = Field(
        0.3, gt=0, lt=1, description="Simulation: cells held out to measure effectiveness (never annotated)."
    )
    effectiveness_labels: list[int] = Field(
        [10, 200, 10], description="Simulation: first, last and step of N, the labels the effectiveness model sees."
    )
    effectiveness_repeats: int = Field(10, ge=1, description="Simulation: retrains averaged for each N.")
    seed: int = 0


class Config(_Section):
    """Everything a project can be configured with."""

    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    select: SelectConfig = Field(default_factory=SelectConfig)
    transfer: TransferConfig = Field(default_factory=TransferConfig)
    cells: CellsConfig = Field(default_factory=CellsConfig)

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
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors(include_url=False))
        raise InputFileError(path, f"invalid settings: {problems}", "see configs/default.yaml") from err


def config_to_yaml(config: Config | None = None) -> str:
    """Render ``config`` (default: the defaults) as YAML with each setting's description as a comment.

    ``configs/default.yaml`` is this function's output for the defaults.
    """
    config = config or Config()
    lines = [
        "# activespot settings. A project stores only what differs from these defaults;",
        "# `activespot config PROJECT` prints a project's effective settings.",
    ]
    for section_name in Config.model_fields:
        section = getattr(config, section_name)
        doc = (type(section).__doc__ or "").strip().splitlines()[0]
        lines += ["", f"{section_name}:  # {doc}"]
        for name, field in type(section).model_fields.items():
            value = yaml.safe_dump(getattr(section, name), default_flow_style=True).strip()
            value = value.removesuffix("\n...").removesuffix("...").strip()
            comment = f"  # {field.description}" if field.description else ""
            lines.append(f"  {name}: {value}{comment}")
    return "\n".join(lines) + "\n"
