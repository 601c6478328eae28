"""Adam through torch's functional form, without the import that ``torch.optim.Adam`` pays.

``torch.optim.Optimizer`` imports ``torch._dynamo`` on first use (about 2 s on two cores, in
every process that trains: a fifth of a Visium HD round's wall time). ``torch.optim.adam.adam``
is the function ``torch.optim.Adam.step`` itself calls, so the arithmetic is torch's; this class
only keeps the moments and step counts that the optimizer class would keep.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch.optim.adam import adam

__all__ = ["Adam"]


class Adam:
    """Adam (with L2 ``weight_decay``, as ``torch.optim.Adam``) over a fixed set of parameters.

    ``zero_grad`` and ``step`` behave as the optimizer class's; parameters without a gradient
    are skipped, and their moments start when they first have one.
    """

    def __init__(
        self,
        params: Iterable[torch.nn.Parameter],
        *,
        lr: float,
        weight_decay: float = 0.0,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ):
        self.params = [p for p in params if p.requires_grad]
        self.lr, self.weight_decay, self.betas, self.eps = lr, weight_decay, betas, eps
        self._exp_avgs = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self._exp_avg_sqs = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self._steps = [torch.tensor(0.0) for _ in self.params]

    def zero_grad(self) -> None:
        for param in self.params:
            param.grad = None

    @torch.no_grad()
    def step(self) -> None:
        have = [i for i, param in enumerate(self.params) if param.grad is not None]
        adam(
            [self.params[i] for i in have],
            [self.params[i].grad for i in have],
            [self._exp_avgs[i] for i in have],
            [self._exp_avg_sqs[i] for i in have],
            [],
            [self._steps[i] for i in have],
            amsgrad=False,
            beta1=self.betas[0],
            beta2=self.betas[1],
            lr=self.lr,
            weight_decay=self.weight_decay,
            eps=self.eps,
            maximize=False,
        )
