"""The fused MLP: one projection head per feature block, a fusion layer, a linear classifier.

ActiveVisium's architecture. Each block (morphology embedding, expression PCs, spatial context,
…) is projected to the same width so that no block dominates by its size alone; the projections
are concatenated, layer-normalised and fused; the fused vector is the *embedding* that the query
strategies cluster, and a linear layer on it gives the class scores.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["FusedMLP"]


class FusedMLP(nn.Module):
    """Projection heads → LayerNorm → fusion (Linear, LeakyReLU, Dropout) → classifier.

    Parameters
    ----------
    block_dims
        Width of each input block, in the order the blocks are passed to :meth:`forward`.
    n_classes
        Number of output classes (``>= 2``).
    hidden
        Width of every projection head.
    fusion
        Width of the fused embedding.
    dropout
        Dropout after the fusion layer, active only in training mode.
    """

    def __init__(self, block_dims: list[int], n_classes: int, *, hidden: int, fusion: int, dropout: float):
        super().__init__()
        self.heads = nn.ModuleList(nn.Sequential(nn.Linear(d, hidden), nn.LeakyReLU()) for d in block_dims)
        self.fuse = nn.Sequential(
            nn.LayerNorm(hidden * len(block_dims)),
            nn.Linear(hidden * len(block_dims), fusion),
            nn.LeakyReLU(),
        )
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(fusion, n_classes)

    def embed(self, blocks: list[torch.Tensor]) -> torch.Tensor:
        """Fused penultimate embedding, before dropout."""
        return self.fuse(torch.cat([head(x) for head, x in zip(self.heads, blocks, strict=True)], dim=1))

    def forward(self, blocks: list[torch.Tensor]) -> torch.Tensor:
        """Class logits."""
        return self.classifier(self.dropout(self.embed(blocks)))
