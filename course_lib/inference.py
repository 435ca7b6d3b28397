"""Running a model over many inputs: in eval mode, without gradients, batch by batch.

One helper, :func:`in_batches`, does what every "encode all images", "generate from these codes",
"classify these samples" needs: it switches the model to eval mode (batch norm uses its running
statistics, dropout is off), turns gradients off, feeds the inputs a batch at a time on the
model's device, collects the outputs on the CPU and restores the model's train/eval mode.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from .config import module_device
from .validate import check_int


def _gather(outputs: list[Any]) -> Any:
    first = outputs[0]
    if isinstance(first, torch.Tensor):
        return torch.cat(outputs)
    if isinstance(first, (tuple, list)):
        return type(first)(_gather([o[i] for o in outputs]) for i in range(len(first)))
    raise TypeError(f"in_batches collects tensors (or tuples of tensors); fn returned a {type(first).__name__}")


@torch.no_grad()
def in_batches(model: nn.Module, *inputs: torch.Tensor | None, fn: Callable[..., Any] | None = None,
               batch_size: int = 1000, device: torch.device | str | None = None, to_cpu: bool = True) -> Any:
    """Lecture 1. ``fn(*batch)`` for consecutive batches of ``inputs``, concatenated along the first dimension.

    ``inputs``: tensors with the same first dimension ``N`` (``None`` entries are passed through
    as ``None``, e.g. absent labels); each batch is moved to ``device`` (default: the model's).
    ``fn`` defaults to ``model`` itself; pass e.g. ``model.encode`` or a small lambda. Outputs
    may be tensors or tuples of tensors; they come back concatenated (on the CPU when
    ``to_cpu``). ``model`` runs in eval mode under ``no_grad``; afterwards every submodule has its
    own train/eval flag back.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"in_batches needs the model (an nn.Module), got {type(model).__name__}")
    tensors = [t for t in inputs if t is not None]
    if not tensors:
        raise ValueError("in_batches needs at least one input tensor")
    if not all(isinstance(t, torch.Tensor) for t in tensors):
        raise TypeError("in_batches takes tensors (or None); got " + ", ".join(type(t).__name__ for t in tensors))
    n = tensors[0].shape[0] if tensors[0].dim() else 0
    if n == 0 or any(t.dim() == 0 or t.shape[0] != n for t in tensors):
        raise ValueError(f"inputs must be non-empty and share their first dimension, got "
                         f"{[tuple(t.shape) for t in tensors]}")
    check_int(batch_size, "batch_size", 1)
    device = torch.device(device) if device is not None else module_device(model)
    call = fn if fn is not None else model
    modes = [(module, module.training) for module in model.modules()]   # a frozen sub-part stays frozen
    model.eval()
    try:
        outputs = []
        for start in range(0, n, batch_size):
            batch = [t[start:start + batch_size].to(device) if t is not None else None for t in inputs]
            out = call(*batch)
            if to_cpu:
                out = _to_cpu(out)
            outputs.append(out)
    finally:
        for module, training in modes:
            module.training = training
    return _gather(outputs)


def _to_cpu(out: Any) -> Any:
    if isinstance(out, torch.Tensor):
        return out.cpu()
    if isinstance(out, (tuple, list)):
        return type(out)(_to_cpu(o) for o in out)
    return out
