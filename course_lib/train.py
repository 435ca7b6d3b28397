"""A small training loop with a progress bar, a history, divergence checks and resumable checkpoints.

Introduced in lecture 1 and used wherever the loop itself is not the lesson (GAN lectures write
their own loops on purpose). Read it top to bottom: it is one function and three helpers.
"""
from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
from tqdm.auto import tqdm

from .config import REPO_ROOT, mode_name

CHECKPOINT_DIR_ENV = "COURSE_CHECKPOINT_DIR"


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite. The message says where and what usually helps."""


def checkpoint_dir() -> Path:
    """``$COURSE_CHECKPOINT_DIR`` if set, else ``<repo>/checkpoints``."""
    env = os.environ.get(CHECKPOINT_DIR_ENV)
    return Path(env).expanduser() if env else REPO_ROOT / "checkpoints"


def checkpoint_path(name: str) -> Path:
    """The file for run ``name`` in the current mode: quick and full runs never share a file."""
    if not name or any(c in name for c in "/\\"):
        raise ValueError(f"checkpoint name must be a plain file stem, got {name!r}")
    return checkpoint_dir() / f"{name}-{mode_name()}.pt"


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` with ``torch.save`` atomically: to a temporary file, then rename.

    An interrupted save leaves the previous checkpoint intact, never a half-written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as tmp:
            torch.save(state, tmp)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`, with a clear error if it is unusable."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}.")
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except Exception as error:
        raise RuntimeError(f"Checkpoint {path} cannot be read ({type(error).__name__}: {error}). "
                           f"Delete it to train from scratch.") from None


def cosine_schedule(optimizer: torch.optim.Optimizer, total_steps: int,
                    final_fraction: float = 0.05) -> torch.optim.lr_scheduler.LambdaLR:
    """A half-cosine decay of every group's learning rate to ``final_fraction`` of it over ``total_steps``.

    Pass the result to :func:`fit` as ``scheduler=``: it is stepped once per optimizer step and
    saved in the checkpoint, so a resumed run continues the schedule where it stopped. (Lecture 2.)
    """
    if not isinstance(total_steps, int) or total_steps < 1:
        raise ValueError(f"total_steps must be a positive int, got {total_steps!r}")
    if not 0.0 <= final_fraction <= 1.0:
        raise ValueError(f"final_fraction must be in [0, 1], got {final_fraction!r}")

    def scale(step: int) -> float:
        progress = min(step / total_steps, 1.0)
        return final_fraction + (1 - final_fraction) * 0.5 * (1 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, scale)


def discard_incompatible_checkpoint(path: str | Path, model: torch.nn.Module) -> None:
    """Move aside a checkpoint whose weights do not fit ``model`` (e.g. one written before an edit
    of the architecture), so that training starts afresh instead of failing to load. (Lecture 2.)"""
    path = Path(path)
    if not path.is_file():
        return
    try:
        saved = load_checkpoint(path)["model"]
    except (RuntimeError, KeyError, TypeError):
        saved = None
    current = model.state_dict()
    if saved is not None and saved.keys() == current.keys() and all(
            saved[k].shape == current[k].shape for k in current):
        return
    stale = path.with_name(path.name + ".stale")
    path.replace(stale)
    print(f"The checkpoint {path.name} does not fit this model; moved to {stale.name}, training from scratch.")


def _as_loss_and_logs(output: Any) -> tuple[torch.Tensor, dict[str, float]]:
    if isinstance(output, tuple) and len(output) == 2 and isinstance(output[1], dict):
        loss, logs = output
    else:
        loss, logs = output, {}
    if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
        raise TypeError("loss_fn must return a scalar tensor, or (scalar tensor, dict of floats); "
                        f"got {type(loss).__name__} with shape {getattr(loss, 'shape', None)}")
    return loss, logs


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
        ) -> dict[str, list[float]]:
    """Train ``model`` for ``epochs`` passes over ``batches``; return the history.

    ``loss_fn(model, batch)`` returns a scalar loss, or ``(loss, {"name": value})`` to log more.
    ``evaluate(model)`` (optional) runs after every epoch in eval mode under ``no_grad`` and
    returns metrics, stored per epoch in the history as ``"eval_<name>"``.
    ``scheduler`` (optional) is stepped after every optimizer step (per step, not per epoch).
    ``checkpoint``: a path (see :func:`checkpoint_path`). After every epoch, model, optimizer and
    history are saved atomically; a later call with the same path resumes after the last finished
    epoch (and returns at once when all epochs are done). Interrupting keeps the last checkpoint.

    History keys: ``"loss"`` (every step), logged names (every step), ``"epoch_loss"`` (mean per
    epoch), ``"eval_*"`` (per epoch).
    """
    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative int, got {epochs!r}")
    history: dict[str, list[float]] = {"loss": [], "epoch_loss": []}
    start_epoch = 0
    if checkpoint is not None and Path(checkpoint).is_file():
        state = load_checkpoint(checkpoint, map_location=next(model.parameters()).device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state.get("scheduler") is not None:
            scheduler.load_state_dict(state["scheduler"])
        history, start_epoch = state["history"], state["epoch"]
        print(f"Resumed '{desc}' from {checkpoint} after epoch {start_epoch}/{epochs}.")

    step = len(history["loss"])
    for epoch in range(start_epoch, epochs):
        model.train()
        epoch_losses = []
        bar = tqdm(batches, desc=f"{desc} {epoch + 1}/{epochs}", leave=False)
        try:
            for batch in bar:
                loss, logs = _as_loss_and_logs(loss_fn(model, batch))
                value = loss.item()
                if not math.isfinite(value):
                    last = f"{history['loss'][-1]:.4g}" if history["loss"] else "none yet"
                    raise TrainingDiverged(
                        f"'{desc}': the loss became {value} at step {step} (epoch {epoch + 1}); the last "
                        f"finite loss was {last}. Usual causes: a learning rate too high, inputs not "
                        f"scaled (e.g. 0-255 instead of 0-1), log of 0 or division by 0 in the loss. "
                        f"Try a smaller learning rate or check the loss on one batch.")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if max_grad_norm is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                history["loss"].append(value)
                for key, logged in logs.items():
                    history.setdefault(key, []).append(float(logged))
                epoch_losses.append(value)
                step += 1
                if step % 10 == 0:
                    bar.set_postfix(loss=f"{value:.4g}")
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
        if checkpoint is not None:
            save_checkpoint(checkpoint, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                         "scheduler": scheduler.state_dict() if scheduler is not None else None,
                                         "history": history, "epoch": epoch + 1})
    model.eval()
    return history
