"""The course's recipe for training a model on a fixed set of images: autoencoders (lecture 2) and VAEs (lecture 3).

Adam at a constant learning rate for the first three quarters of the steps, then a linear decay
to 0; shuffled minibatches from :class:`course_lib.data.Batches` (tensors already on the device,
no per-image Python work); :func:`course_lib.train.fit` for the progress bar, the NaN check and
resumable checkpoints. On the MNIST stand-in this beats the usual loop (DataLoader + ToTensor,
constant-rate Adam) at equal epochs and runs more than twice as fast; ``bash course.sh bench
--only recipe`` measures both.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from ..data import Batches
from ..validate import check_int, check_number
from .checkpoints import checkpoint_path
from .loop import fit
from .schedules import lr_schedule

#: The schedule of the recipe: constant for this share of the steps, then linear to 0.
HOLD = 0.75


def train_on_tensors(model: nn.Module, loss_fn: Callable[[nn.Module, Any], Any], *tensors: torch.Tensor, epochs: int,
                     lr: float, batch_size: int = 128, device: torch.device | str = "cpu",
                     checkpoint: str | None = None, evaluate: Callable[[nn.Module], dict[str, float]] | None = None,
                     desc: str = "training") -> dict[str, list[float]]:
    """Lecture 2. Train ``model`` on minibatches of ``tensors`` with the recipe above; return ``fit``'s history.

    ``loss_fn(model, batch)`` gets a tensor (one tensor given) or a tuple (several, e.g. images and
    labels) on ``device``. ``checkpoint`` is a run name (see :func:`checkpoint_path`): a finished
    run is loaded instead of retrained, an interrupted one resumes after its last epoch.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    check_int(epochs, "epochs", 0)
    check_int(batch_size, "batch_size", 1)
    lr = check_number(lr, "lr", 0.0, strict=True)
    model.to(device)
    batches = Batches(*tensors, batch_size=batch_size, device=device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = lr_schedule(optimizer, max(epochs * len(batches), 1), shape="linear", hold=HOLD)
    return fit(model, optimizer, loss_fn, batches, epochs, evaluate=evaluate,
               checkpoint=checkpoint_path(checkpoint) if checkpoint else None, desc=desc, scheduler=scheduler)
