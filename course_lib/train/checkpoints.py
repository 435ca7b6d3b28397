"""Checkpoints: one file format, written atomically, one policy for files that do not fit, resumable runs.

A checkpoint holds named *parts* (models, optimizers, schedulers: anything with ``state_dict``),
the ``step`` a run reached (epochs or optimizer steps, whatever the loop counts), plain
``extra`` values (a history, snapshots, a report) and, when a :class:`Run` wrote it, the state of
torch's random number generators at that moment::

    {"format": 1, "step": 12, "parts": {"model": {...}, "optimizer": {...}}, "extra": {"history": {...}},
     "rng": {"cpu": ByteTensor, "cuda": [ByteTensor, ...]}}

* Writing goes to a temporary file that is renamed over the old one, so an interrupted save
  never leaves a half-written checkpoint, and the previous one stays intact.
* A file that cannot be read, or does not fit the parts (another architecture, other part
  names, an older format), is moved aside to ``<name>.stale`` with a one-line note, and the run
  starts from scratch: nothing is loaded halfway and nothing is deleted.
* :class:`Run` is a training run with named parts: it restores them when it starts and saves
  them when the loop says so. :func:`course_lib.train.fit` and every GAN loop of the course use it.
  A resumed run also gets the random number generators back as they were at the save, so the noise
  it draws (a VAE's samples, a GAN's z) is the noise a run that never stopped would have drawn.
"""
from __future__ import annotations

import copy
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from ..config import REPO_ROOT, mode_name, setting

FORMAT = 1


class CheckpointError(OSError):
    """Lecture 1. A checkpoint could not be written; the previous checkpoint (if any) is intact."""


def checkpoint_dir() -> Path:
    """Lecture 1. ``$COURSE_CHECKPOINT_DIR`` if set, else ``<repo>/checkpoints``."""
    folder = setting("COURSE_CHECKPOINT_DIR")
    return Path(folder).expanduser() if folder else REPO_ROOT / "checkpoints"


def checkpoint_path(name: str) -> Path:
    """Lecture 1. The file for run ``name`` in the current mode: quick and full runs never share a file."""
    if not isinstance(name, str) or not name or any(c in name for c in "/\\"):
        raise ValueError(f"checkpoint name must be a plain file stem, got {name!r}")
    return checkpoint_dir() / f"{name}-{mode_name()}.pt"


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Lecture 1. Write ``state`` with ``torch.save`` atomically: to a temporary file, then rename.

    Raises :class:`CheckpointError` (and leaves the previous file as it was) when the folder
    cannot be written.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    except OSError as error:
        raise CheckpointError(f"Cannot write the checkpoint {path} ({error.strerror or error}); the previous "
                              f"checkpoint, if any, is intact. Point COURSE_CHECKPOINT_DIR at a writable "
                              f"folder.") from None
    try:
        with os.fdopen(handle, "wb") as tmp:
            torch.save(state, tmp)
            tmp.flush()
            os.fsync(tmp.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_name, 0o666 & ~umask)   # mkstemp makes the file private; a checkpoint is an ordinary file
        os.replace(tmp_name, path)
    except OSError as error:
        Path(tmp_name).unlink(missing_ok=True)
        raise CheckpointError(f"Writing the checkpoint {path} failed ({error.strerror or error}); the previous "
                              f"checkpoint, if any, is intact.") from None
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Lecture 1. Read a checkpoint file; ``FileNotFoundError`` or a ``RuntimeError`` that says what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}.")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as error:
        raise RuntimeError(f"Checkpoint {path} cannot be read ({type(error).__name__}: {error}).") from None
    if not isinstance(state, dict):
        raise RuntimeError(f"Checkpoint {path} holds a {type(state).__name__}, not a checkpoint dict.")
    return state


def move_aside(path: str | Path, reason: str) -> Path:
    """Lecture 1. Rename a checkpoint that cannot be used to ``<name>.stale`` (or ``.stale.1``, ... if that
    exists) and say so in one line; returns the new path."""
    path = Path(path)
    stale = path.with_name(path.name + ".stale")
    number = 1
    while stale.exists():   # never overwrite an earlier stale file
        stale = path.with_name(f"{path.name}.stale.{number}")
        number += 1
    try:
        path.replace(stale)
    except OSError as error:   # a read-only folder: leave the file, ignore it
        print(f"The checkpoint {path} {reason}; it cannot be moved aside ({error.strerror or error}), "
              f"so it is ignored and training starts from scratch.")
        return path
    print(f"The checkpoint {path.name} {reason}; moved to {stale.name}, training from scratch.")
    return stale


def save_parts(path: str | Path, step: int, parts: Mapping[str, Any], **extra: Any) -> None:
    """Lecture 1. Save every part's ``state_dict()``, the ``step`` reached and ``extra`` plain values, atomically."""
    _save(path, step, parts, extra)


def _save(path: str | Path, step: int, parts: Mapping[str, Any], extra: Mapping[str, Any],
          rng: Mapping[str, Any] | None = None) -> None:
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"step must be a non-negative int, got {step!r}")
    missing = [name for name, part in parts.items() if not hasattr(part, "state_dict")]
    if missing:
        raise TypeError(f"these parts have no state_dict(): {missing}")
    state = {"format": FORMAT, "step": step, "parts": {name: part.state_dict() for name, part in parts.items()},
             "extra": dict(extra)}
    if rng is not None:
        state["rng"] = dict(rng)
    save_checkpoint(path, state)


def random_state() -> dict[str, Any]:
    """Lecture 4. The state of torch's global random number generators, what ``torch.randn`` and friends draw
    from: the CPU's, every GPU's once CUDA is in use, and Apple's MPS generator where there is one."""
    state: dict[str, Any] = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if torch.backends.mps.is_available():
        state["mps"] = torch.mps.get_rng_state()
    return state


def set_random_state(state: Mapping[str, Any]) -> None:
    """Lecture 4. Put torch's global random number generators back in a state of :func:`random_state`. A GPU's
    state is set only where this machine has the same kind and number of them (elsewhere it is left as it is)."""
    torch.set_rng_state(state["cpu"].cpu())
    cuda, mps = state.get("cuda"), state.get("mps")
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda])
    if mps is not None and torch.backends.mps.is_available():
        torch.mps.set_rng_state(mps.cpu())


def _misfit(saved: Mapping[str, Any], parts: Mapping[str, Any]) -> str | None:
    """Why the saved state dicts do not fit ``parts`` (checked before anything is loaded), or None."""
    if set(saved) != set(parts):
        return f"holds the parts {sorted(saved)}, this run has {sorted(parts)}"
    for name, part in parts.items():
        if isinstance(part, nn.Module):
            have, want = saved[name], part.state_dict()
            if not isinstance(have, Mapping) or have.keys() != want.keys():
                return f"has another architecture for {name!r}"
            wrong = [k for k in want if getattr(have[k], "shape", None) != want[k].shape]
            if wrong:
                return f"has other shapes for {name!r} ({wrong[0]}: {tuple(have[wrong[0]].shape)} " \
                       f"instead of {tuple(want[wrong[0]].shape)})"
    return None


def load_parts(path: str | Path, parts: Mapping[str, Any], map_location: str | torch.device = "cpu",
               keep_misfits: bool = False) -> tuple[int, dict[str, Any]] | None:
    """Lecture 1. Load a checkpoint of :func:`save_parts` into ``parts``; return ``(step, extra)``.

    ``None`` when there is no file, or when the file was moved aside (unreadable, another
    format, parts that do not fit). Nothing is changed then: every part is checked before any
    is loaded, and if a load still fails halfway, all parts get their previous state back.
    ``keep_misfits=True`` leaves a file that does not fit where it is (e.g. weights shipped
    inside the package) and only says so.
    """
    loaded = _load(path, parts, map_location, keep_misfits)
    return None if loaded is None else loaded[:2]


def _load(path: str | Path, parts: Mapping[str, Any], map_location: str | torch.device,
          keep_misfits: bool) -> tuple[int, dict[str, Any], Mapping[str, Any] | None] | None:
    """:func:`load_parts`, also returning the random number generators' state saved with the parts (or None)."""
    path = Path(path)
    if not path.is_file():
        return None

    def discard(reason: str) -> None:
        if keep_misfits:
            print(f"The file {path} {reason}; it is not used.")
        else:
            move_aside(path, reason)

    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as error:   # truncated, not a torch file, unpickling fails
        discard(f"cannot be read ({type(error).__name__})")
        return None
    if not isinstance(state, Mapping):
        discard("is not a checkpoint of this course")
        return None
    if state.get("format") != FORMAT or not isinstance(state.get("parts"), Mapping):
        discard("was written in another format")
        return None
    reason = _misfit(state["parts"], parts)
    if reason is not None:
        discard(reason)
        return None
    before = {name: copy.deepcopy(part.state_dict()) for name, part in parts.items()}
    try:
        for name, part in parts.items():
            part.load_state_dict(state["parts"][name])
        step, extra = int(state["step"]), dict(state.get("extra") or {})
    except (KeyError, RuntimeError, ValueError, TypeError) as error:
        for name, part in parts.items():
            part.load_state_dict(before[name])
        discard(f"does not fit this run ({type(error).__name__})")
        return None
    rng = state.get("rng")
    return step, extra, rng if isinstance(rng, Mapping) and "cpu" in rng else None


class Run:
    """Lecture 4. A training run with named parts that survives interruptions.

    ``Run(name, {"G": G, "D": D, "opt_g": opt_g, ...})`` restores the parts from the run's
    checkpoint (see :func:`checkpoint_path`) when one fits, and says so in one line; then
    ``run.step`` is the step (or epoch, as ``unit`` says) reached and ``run.extra`` the plain values
    saved with it (``{}`` and ``0`` for a fresh run). The loop calls ``run.save(step, history=...)``
    as often as it likes; every save is atomic. ``name`` may also be a path. A save that cannot be
    written (a read-only or full folder) says so in one line, once, keeps the previous checkpoint and
    lets training go on; ``run.step`` stays the step of the last checkpoint on disk.

    Every save also records the state of torch's random number generators (:func:`random_state`), and a
    resumed run sets them back to it, so a loop that draws its noise from them (``torch.randn``) and
    resumes its batches where it stopped (:meth:`course_lib.data.Batches.skip_batches`) ends exactly as
    a run that never stopped. Create the Run just before the loop: draws in between would shift the noise.
    """

    def __init__(self, name: str | Path, parts: Mapping[str, Any], *, unit: str = "step",
                 map_location: str | torch.device = "cpu", verbose: bool = True) -> None:
        if not parts:
            raise ValueError("a Run needs at least one part (a model, an optimizer, ...)")
        missing = [key for key, part in parts.items() if not hasattr(part, "state_dict")]
        if missing:
            raise TypeError(f"these parts have no state_dict()/load_state_dict(): {missing}")
        self.path = Path(name) if isinstance(name, Path) or "/" in str(name) else checkpoint_path(str(name))
        self.parts = dict(parts)
        self.unit = unit
        restored = _load(self.path, self.parts, map_location, keep_misfits=False)
        self.step, self.extra, rng = restored if restored is not None else (0, {}, None)
        self.resumed = restored is not None
        if rng is not None:
            set_random_state(rng)
        self.save_failed = False
        if self.resumed and verbose:
            print(f"Resumed from {self.path} after {self.step} {unit}{'s' if self.step != 1 else ''}.")

    def save(self, step: int, **extra: Any) -> None:
        """Save every part, ``step`` and ``extra`` (replacing what an earlier save stored).

        When the file cannot be written, prints one line (the first time only) and returns: losing the
        checkpoint is better than losing the training that is still running.
        """
        try:
            _save(self.path, step, self.parts, extra, rng=random_state())
        except CheckpointError as error:
            if not self.save_failed:
                kept = f"the one after {self.step} {self.unit}{'s' if self.step != 1 else ''}" if self.step else "none"
                print(f"{error} Training goes on without saving (checkpoint kept: {kept}).")
            self.save_failed = True
            return
        self.save_failed = False
        self.step, self.extra = step, dict(extra)
