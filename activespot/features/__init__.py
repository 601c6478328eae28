"""Spot features: morphology patches at physical size, backbone embeddings, expression and spatial context.

:func:`compute_features` fills ``obsm['X_morph']``, ``obsm['X_expr']`` and ``obsm['X_context']``
(see :mod:`activespot._constants`) and records their provenance in ``uns['activespot_features']``;
:func:`feature_blocks` hands them to a model as ``{key: array}``.
"""

from ._backbones import (
    Backbone,
    LoadedBackbone,
    build_model,
    check_backbone_name,
    get_backbone,
    list_backbones,
    load_backbone,
    read_state_dict,
    register_backbone,
)
from ._cache import cached_block, cached_sha256
from ._compute import (
    check_features_input,
    compute_features,
    feature_blocks,
    morphology_features,
    read_features,
    write_features,
)
from ._context import context_features, spatial_graph
from ._descriptor import describe_patches, descriptor_feature_names
from ._device import PRECISIONS, autocast_dtype, available_devices, resolve_device, resolve_precision
from ._embed import embed_patches, embed_spots, image_fingerprint
from ._expression import expression_features, joint_expression_features
from ._nuclei import detect_cells, detect_nuclei, haematoxylin_threshold
from ._patches import SpotPatches, select_image, write_patch_overlay

__all__ = [
    "PRECISIONS",
    "Backbone",
    "LoadedBackbone",
    "SpotPatches",
    "autocast_dtype",
    "available_devices",
    "build_model",
    "cached_block",
    "cached_sha256",
    "check_backbone_name",
    "check_features_input",
    "compute_features",
    "context_features",
    "describe_patches",
    "descriptor_feature_names",
    "detect_cells",
    "detect_nuclei",
    "embed_patches",
    "embed_spots",
    "expression_features",
    "feature_blocks",
    "get_backbone",
    "haematoxylin_threshold",
    "image_fingerprint",
    "joint_expression_features",
    "list_backbones",
    "load_backbone",
    "morphology_features",
    "read_features",
    "read_state_dict",
    "register_backbone",
    "resolve_device",
    "resolve_precision",
    "select_image",
    "spatial_graph",
    "write_features",
    "write_patch_overlay",
]
