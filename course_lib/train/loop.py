"""``fit``: a small training loop with a progress bar, a history, divergence checks and resumable checkpoints.

Used wherever the loop itself is not the lesson (the GAN lectures write theirs in the notebook,
on purpose). Losses are read back from the device every ``sync_every`` steps, not every step, so
on a GPU the loop does not wait for each step to finish; a NaN or infinite loss is caught at the
next read-back and reported with the step it happened at.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
from tqdm.auto import tqdm

from ..config import module_device
from ..validate import check_int
from .checkpoints import Run


class TrainingDiverged(RuntimeError):
    """Lecture 1. The loss became NaN or infinite. The message says where and what usually helps."""


def _as_loss_and_logs(output: Any) -> tuple[torch.Tensor, dict[str, Any]]:
    if isinstance(output, tuple) and len(output) == 2 and isinstance(output[1], dict):
        loss, logs = output
    else:
        loss, logs = output, {}
    if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
        raise TypeError("loss_fn must return a scalar tensor, or (scalar tensor, dict of numbers); "
                        f"got {type(loss).__name__} with shape {getattr(loss, 'shape', None)}")
    return loss, logs


class _History:
    """Per-step values kept on the device and read back in chunks (one sync per chunk)."""

    def __init__(self, history: dict[str, list[float]], desc: str) -> None:
        self.history, self.desc = history, desc
        self.pending: list[tuple[torch.Tensor, dict[str, Any]]] = []

    def add(self, loss: torch.Tensor, logs: dict[str, Any]) -> None:
        self.pending.append((loss.detach(), {k: v.detach() if isinstance(v, torch.Tensor) else v
                                             for k, v in logs.items()}))

    def flush(self, epoch: int) -> list[float]:
        if not self.pending:
            return []
        losses = torch.stack([loss for loss, _ in self.pending]).double().cpu().tolist()
        first_step = len(self.history["loss"])
        for offset, value in enumerate(losses):
            if not math.isfinite(value):
                previous = losses[:offset] or self.history["loss"][-1:]
                last = f"{previous[-1]:.4g}" if previous else "none yet"
                raise TrainingDiverged(
                    f"'{self.desc}': the loss became {value} at step {first_step + offset} (epoch {epoch + 1}); "
                    f"the last finite loss was {last}. Usual causes: a learning rate too high, inputs not "
                    f"scaled (e.g. 0-255 instead of 0-1), log of 0 or division by 0 in the loss. "
                    f"Try a smaller learning rate or check the loss on one batch.")
        self.history["loss"].extend(losses)
        for _, logs in self.pending:
            for key, value in logs.items():
                self.history.setdefault(key, []).append(float(value))
        self.pending.clear()
        return losses


def fit(model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        loss_fn: Callable[[torch.nn.Module, Any], Any],
        batches: Iterable,
        epochs: int,
        *,
        evaluate: Callable[[torch.nn.Module], dict[str, float]] | None = None,
        checkpoint: str | Path | None = None,
        desc: str = "training",
        max_grad_norm: float | None = None,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
        sync_every: int = 25,
        ) -> dict[str, list[float]]:
    """Lecture 1. Train ``model`` for ``epochs`` passes over ``batches``; return the history.

    ``loss_fn(model, batch)`` returns a scalar loss, or ``(loss, {"name": value})`` to log more
    (values may be tensors: they are read back with the loss). ``evaluate(model)`` (optional) runs
    after every epoch in eval mode under ``no_grad`` and returns metrics, stored per epoch as
    ``"eval_<name>"``. ``scheduler`` (optional) is stepped after every optimizer step.
    ``checkpoint``: a path (see :func:`checkpoint_path`); after every epoch model, optimizer,
    scheduler and history are saved atomically, and a later call with the same path resumes after
    the last finished epoch (returning at once when all are done). A checkpoint that does not fit
    is moved aside (see :mod:`course_lib.train.checkpoints`).

    History keys: ``"loss"`` (every step), logged names (every step), ``"epoch_loss"`` (mean per
    epoch), ``"eval_*"`` (per epoch). Raises :class:`TrainingDiverged` on a NaN or infinite loss.
    """
    check_int(epochs, "epochs", 0)
    check_int(sync_every, "sync_every", 1)
    history: dict[str, list[float]] = {"loss": [], "epoch_loss": []}
    start_epoch, run = 0, None
    if checkpoint is not None:
        parts: dict[str, Any] = {"model": model, "optimizer": optimizer}
        if scheduler is not None:
            parts["scheduler"] = scheduler
        run = Run(Path(checkpoint), parts, unit="epoch", map_location=module_device(model), verbose=False)
        if run.resumed:
            history, start_epoch = dict(run.extra.get("history") or {}), run.step
            history.setdefault("loss", [])
            history.setdefault("epoch_loss", [])
            print(f"Resumed '{desc}' from {checkpoint} after epoch {start_epoch}/{epochs}.")
            if hasattr(batches, "skip_passes"):   # the same shuffles as a run that never stopped
                batches.skip_passes(start_epoch)

    pending = _History(history, desc)
    for epoch in range(start_epoch, epochs):
        model.train()
        epoch_losses: list[float] = []
        bar = tqdm(batches, desc=f"{desc} {epoch + 1}/{epochs}", leave=False)
        try:
            for batch in bar:
                loss, logs = _as_loss_and_logs(loss_fn(model, batch))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if max_grad_norm is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                pending.add(loss, logs)
                if len(pending.pending) >= sync_every:
                    epoch_losses += pending.flush(epoch)
                    bar.set_postfix(loss=f"{epoch_losses[-1]:.4g}")
            epoch_losses += pending.flush(epoch)
        except KeyboardInterrupt:
            where = f" The checkpoint {checkpoint} (epoch {epoch}) is intact; run again to resume." if checkpoint else ""
            print(f"Interrupted '{desc}' during epoch {epoch + 1}.{where}")
            raise
        finally:
            bar.close()
        history["epoch_loss"].append(sum(epoch_losses) / max(len(epoch_losses), 1))
        if evaluate is not None:
            model.eval()
            with torch.no_grad():
                for key, metric in evaluate(model).items():
                    history.setdefault(f"eval_{key}", []).append(float(metric))
        if run is not None:
            run.save(epoch + 1, history=history)
    model.eval()
    return history
