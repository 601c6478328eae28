"""Fixtures for the feature tests: a tiny synthetic Visium section and tiny offline backbones."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData
from scipy import sparse

from activespot import _constants as K
from activespot.features import _backbones, get_backbone, register_backbone

SPOT_DIAMETER = 20.0  # full-resolution pixels
HIRES_SCALE = 0.5
SPOT_PITCH = 40.0  # full-resolution pixels between neighbouring spot centres


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    # The machine's two cores are shared; tiny models gain nothing from threads.
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def make_section(rows: int = 6, cols: int = 8, *, n_genes: int = 30, seed: int = 0) -> AnnData:
    """A hexagonal grid of spots over a hires image where each spot is a coloured disk.

    Spot i is drawn as a disk of the spot diameter in a colour that depends on its row, on a white
    background, so crops can be checked pixel by pixel.
    """
    rng = np.random.default_rng(seed)
    array_row, array_col = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    array_row = array_row.ravel()
    array_col = array_col.ravel() * 2 + array_row % 2  # Visium's hex layout: odd rows shifted
    x = 60 + array_col * SPOT_PITCH / 2
    y = 60 + array_row * SPOT_PITCH * np.sqrt(3) / 2
    height, width = int((y.max() + 60) * HIRES_SCALE), int((x.max() + 60) * HIRES_SCALE)
    image = np.full((height, width, 3), 255, dtype=np.uint8)
    yy, xx = np.mgrid[0:height, 0:width]
    for i, (cx, cy) in enumerate(zip(x, y, strict=True)):
        disk = (xx + 0.5 - (cx * HIRES_SCALE + 0.5)) ** 2 + (yy + 0.5 - (cy * HIRES_SCALE + 0.5)) ** 2
        image[disk <= (SPOT_DIAMETER * HIRES_SCALE / 2) ** 2] = spot_colour(array_row[i])
    counts = rng.poisson(rng.gamma(2.0, 2.0, size=n_genes), size=(rows * cols, n_genes)).astype(np.float32)
    obs = pd.DataFrame(
        {K.ARRAY_ROW: array_row, K.ARRAY_COL: array_col},
        index=[f"spot{i:03d}-1" for i in range(rows * cols)],
    )
    adata = AnnData(X=sparse.csr_matrix(counts), obs=obs, var=pd.DataFrame(index=[f"gene{g}" for g in range(n_genes)]))
    adata.obsm[K.SPATIAL_KEY] = np.column_stack([x, y])
    adata.uns[K.SPATIAL_KEY] = {
        "tiny": {
            K.IMAGES_KEY: {"hires": image},
            K.SCALEFACTORS_KEY: {K.SPOT_DIAMETER: SPOT_DIAMETER, K.HIRES_SCALEF: HIRES_SCALE},
            K.METADATA_KEY: {},
        }
    }
    adata.uns[K.LIBRARY_ID_KEY] = "tiny"
    return adata


def spot_colour(row: int) -> tuple[int, int, int]:
    """Haematoxylin-ish purple on even rows, eosin-ish pink on odd rows."""
    return (90, 40, 160) if row % 2 == 0 else (240, 130, 180)


@pytest.fixture
def section() -> AnnData:
    """A fresh synthetic section (48 spots, 30 genes, hires image)."""
    return make_section()


@pytest.fixture
def tiny_backbones(monkeypatch):
    """Tiny offline versions of real registry entries, registered under their own names.

    They are derived from the real entries (same timm options: LayerScale, registers, SwiGLU,
    pooling), shrunk to one block, so loading them exercises the path a UNI or Virchow file takes.
    """
    monkeypatch.setattr(_backbones, "_REGISTRY", dict(_backbones._REGISTRY))
    small_vit = {"img_size": 32, "patch_size": 16, "embed_dim": 32, "depth": 1, "num_heads": 2}
    uni = get_backbone("uni")
    virchow = get_backbone("virchow2")
    specs = {
        "tiny-uni": dataclasses.replace(
            uni, name="tiny-uni", timm_kwargs={**uni.timm_kwargs, **small_vit}, dim=32, input_size=32
        ),
        "tiny-virchow": dataclasses.replace(
            virchow,
            name="tiny-virchow",
            timm_kwargs={**virchow.timm_kwargs, **small_vit},
            dim=64,
            input_size=32,
        ),
        "tiny-resnet": dataclasses.replace(get_backbone("resnet18"), name="tiny-resnet", input_size=32),
    }
    for spec in specs.values():
        register_backbone(spec)
    return specs
