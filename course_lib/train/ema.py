"""A moving average of a model's weights, and batch-norm statistics recomputed for any weights.

The average ``ema = decay * ema + (1 - decay) * w`` after every optimizer step smooths out the
last steps' jitter (lecture 5 samples from it; lecture 7 reuses it for GANs, lecture 9 for
diffusion). Its weights never ran a forward pass of their own, so the batch-norm running
statistics it carries belong to other weights: :func:`recalibrate_batchnorm` recomputes them.
"""
from __future__ import annotations

import copy
from typing import Iterable

import torch
from torch import nn

from ..config import module_device
from ..validate import check_number


@torch.no_grad()
def ema_update(ema_model: nn.Module, model: nn.Module, decay: float = 0.999) -> None:
    """Lecture 5. One step of the moving average, in place: ``ema = decay * ema + (1 - decay) * w``.

    Every parameter of ``ema_model`` moves towards ``model``'s; buffers (batch norm's running
    statistics) are copied as they are. Both models must have the same architecture.
    """
    if not isinstance(ema_model, nn.Module) or not isinstance(model, nn.Module):
        raise TypeError("ema_update takes two nn.Modules (the averaged copy and the trained model)")
    check_number(decay, "decay", 0.0, maximum=1.0)
    ema_params, params = list(ema_model.parameters()), list(model.parameters())
    if len(ema_params) != len(params) or any(a.shape != b.shape for a, b in zip(ema_params, params)):
        raise ValueError("ema_model and model must have the same architecture (make it with ema_copy(model))")
    for averaged, current in zip(ema_params, params):
        averaged.lerp_(current.detach(), 1.0 - decay)
    for averaged, current in zip(ema_model.buffers(), model.buffers()):
        averaged.copy_(current)


def ema_copy(model: nn.Module) -> nn.Module:
    """Lecture 5. A frozen copy of ``model`` (no gradients, eval mode) to hold the moving average of its weights."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"ema_copy takes an nn.Module, got {type(model).__name__}")
    twin = copy.deepcopy(model)
    for p in twin.parameters():
        p.requires_grad_(False)
    return twin.eval()


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, inputs: Iterable[torch.Tensor]) -> nn.Module:
    """Lecture 5. Recompute every batch norm's running statistics of ``model`` from ``inputs``; returns it in eval mode.

    The statistics are reset, then averaged exactly (``momentum=None``) over one forward pass in
    train mode per batch of ``inputs`` (e.g. noise batches for a generator, image batches for a
    classifier); the layers' momenta are restored afterwards. A model without batch norm is
    returned unchanged (in eval mode). If ``inputs`` is empty or a forward pass fails, the old
    statistics and mode are put back before the error is raised.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"recalibrate_batchnorm takes an nn.Module, got {type(model).__name__}")
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return model.eval()
    saved = [(m.momentum, {k: v.clone() for k, v in m.state_dict().items()}) for m in norms]
    was_training = model.training
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    device = module_device(model)
    model.train()
    seen = 0
    try:
        for batch in inputs:
            model(batch.to(device))
            seen += 1
        if seen == 0:
            raise ValueError("recalibrate_batchnorm got no input batches (an empty or already used iterable?)")
    except BaseException:
        for m, (_, state) in zip(norms, saved):   # the statistics as they were, not half-computed ones
            m.load_state_dict(state)
        model.train(was_training)
        raise
    finally:
        for m, (momentum, _) in zip(norms, saved):
            m.momentum = momentum
    return model.eval()
