"""course_lib.train.checkpoints: one format, atomic writes, the .stale policy, no partial loads, Run."""
import pytest
import torch
from torch import nn

from course_lib import train
from course_lib.config import REPO_ROOT
from course_lib.train import checkpoints


def _parts(seed=0, hidden=4):
    """A model, an Adam optimizer that has taken one step (so it has state) and a schedule."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, hidden), nn.ReLU(), nn.Linear(hidden, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    scheduler = train.lr_schedule(optimizer, 10, shape="linear")
    model(torch.randn(5, 3)).sum().backward()
    optimizer.step()
    scheduler.step()
    return {"model": model, "optimizer": optimizer, "scheduler": scheduler}


def _states(parts):
    return {name: _clone(part.state_dict()) for name, part in parts.items()}


def _clone(value):
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_clone(v) for v in value)
    return value


def _same(a, b):
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


# ---- save_parts / load_parts --------------------------------------------------------------------

def test_save_parts_and_load_parts_round_trip(tmp_path):
    path = tmp_path / "run.pt"
    saved = _parts(seed=0)
    checkpoints.save_parts(path, 7, saved, history={"loss": [1.0, 0.5]}, note="hello")
    state = train.load_checkpoint(path)
    assert state["format"] == 1 and state["step"] == 7 and set(state["parts"]) == {"model", "optimizer", "scheduler"}
    assert state["extra"] == {"history": {"loss": [1.0, 0.5]}, "note": "hello"}
    fresh = _parts(seed=1)
    assert not _same(_states(fresh)["model"], _states(saved)["model"])
    assert checkpoints.load_parts(path, fresh) == (7, {"history": {"loss": [1.0, 0.5]}, "note": "hello"})
    assert _same(_states(fresh), _states(saved))
    assert [p.name for p in tmp_path.iterdir()] == ["run.pt"]
    assert checkpoints.load_parts(tmp_path / "missing.pt", fresh) is None


def test_save_parts_validates(tmp_path):
    parts = _parts()
    with pytest.raises(ValueError, match="step"):
        checkpoints.save_parts(tmp_path / "a.pt", -1, parts)
    with pytest.raises(ValueError, match="step"):
        checkpoints.save_parts(tmp_path / "a.pt", True, parts)
    with pytest.raises(TypeError, match="state_dict"):
        checkpoints.save_parts(tmp_path / "a.pt", 1, {"x": 3})
    assert not any(tmp_path.iterdir())


# ---- atomic writes -------------------------------------------------------------------------------

@pytest.mark.parametrize("error", [OSError("disk full"), RuntimeError("pickling failed")])
def test_a_failed_write_leaves_the_previous_checkpoint(tmp_path, monkeypatch, error):
    path = tmp_path / "state.pt"
    train.save_checkpoint(path, {"value": 1})
    real_save = torch.save

    def crash_mid_write(obj, handle):
        handle.write(b"partial garbage")
        raise error

    monkeypatch.setattr(torch, "save", crash_mid_write)
    expected = train.CheckpointError if isinstance(error, OSError) else RuntimeError
    with pytest.raises(expected) as info:
        train.save_checkpoint(path, {"value": 2})
    if expected is train.CheckpointError:
        assert isinstance(info.value, OSError) and "intact" in str(info.value) and "disk full" in str(info.value)
    monkeypatch.setattr(torch, "save", real_save)
    assert train.load_checkpoint(path) == {"value": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["state.pt"]     # no temporary file left behind


def test_an_unwritable_folder_is_a_checkpoint_error(tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a regular file where the folder should be")
    with pytest.raises(train.CheckpointError, match="COURSE_CHECKPOINT_DIR") as info:
        train.save_checkpoint(blocker / "run.pt", {"value": 1})
    assert isinstance(info.value, OSError) and "Cannot write the checkpoint" in str(info.value)
    with pytest.raises(train.CheckpointError):
        checkpoints.save_parts(blocker / "sub" / "run.pt", 0, _parts())
    assert blocker.read_text() == "a regular file where the folder should be"


def test_load_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No checkpoint"):
        train.load_checkpoint(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="cannot be read"):
        train.load_checkpoint(bad)
    listed = tmp_path / "list.pt"
    torch.save([1, 2], listed)
    with pytest.raises(RuntimeError, match="holds a list"):
        train.load_checkpoint(listed)
    assert bad.is_file() and listed.is_file()       # load_checkpoint itself never moves files


# ---- the .stale policy ---------------------------------------------------------------------------

def _truncated(path):
    checkpoints.save_parts(path, 3, _parts(seed=5))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _garbage(path):
    path.write_bytes(b"\x00garbage, not a torch file" * 10)


def _old_format(path):
    parts = _parts(seed=5)          # what the old fit() wrote
    torch.save({"model": parts["model"].state_dict(), "optimizer": parts["optimizer"].state_dict(), "epoch": 3},
               path)


def _not_a_dict(path):
    torch.save([1, 2, 3], path)


def _other_part_names(path):
    parts = _parts(seed=5)
    checkpoints.save_parts(path, 3, {"G": parts["model"], "optimizer": parts["optimizer"],
                                     "scheduler": parts["scheduler"]})


def _other_shapes(path):
    checkpoints.save_parts(path, 3, _parts(seed=5, hidden=8))


def _other_architecture(path):
    parts = _parts(seed=5)
    parts["model"] = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1), nn.ReLU(), nn.Linear(1, 1))
    checkpoints.save_parts(path, 3, parts)


@pytest.mark.parametrize("write, reason", [
    (_truncated, "cannot be read"),
    (_garbage, "cannot be read"),
    (_old_format, "another format"),
    (_not_a_dict, "not a checkpoint of this course"),
    (_other_part_names, "holds the parts ['G', 'optimizer', 'scheduler']"),
    (_other_shapes, "other shapes for 'model' (0.weight: (8, 3) instead of (4, 3))"),
    (_other_architecture, "another architecture for 'model'"),
])
def test_a_checkpoint_that_does_not_fit_is_moved_aside_and_nothing_is_loaded(tmp_path, capsys, write, reason):
    path = tmp_path / "run.pt"
    write(path)
    content = path.read_bytes()
    parts = _parts(seed=0)
    before = _states(parts)
    assert checkpoints.load_parts(path, parts) is None
    assert _same(_states(parts), before)
    stale = tmp_path / "run.pt.stale"
    assert not path.exists() and stale.read_bytes() == content     # moved, not deleted or changed
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0] and "run.pt.stale" in lines[0] and "from scratch" in lines[0]


def test_a_second_misfit_does_not_delete_the_first_stale_file(tmp_path, capsys):
    """The policy says nothing is deleted: an earlier .stale file must survive a later move aside."""
    path = tmp_path / "run.pt"
    _other_shapes(path)
    first = path.read_bytes()
    assert checkpoints.load_parts(path, _parts()) is None
    _garbage(path)
    second = path.read_bytes()
    assert checkpoints.load_parts(path, _parts()) is None
    kept = sorted(p.read_bytes() for p in tmp_path.iterdir())
    assert kept == sorted([first, second]), "the first .stale checkpoint was overwritten by the second"


def test_a_load_that_fails_halfway_leaves_every_part_as_before(tmp_path, capsys):
    path = tmp_path / "run.pt"
    saved = _parts(seed=5)
    checkpoints.save_parts(path, 3, {"model": saved["model"], "optimizer": saved["optimizer"]})
    # Same model shapes (so the check before loading passes), but this optimizer holds only some of the
    # parameters: its state does not fit, and that shows only when it is loaded, after the model.
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    optimizer = torch.optim.Adam(model[0].parameters(), lr=0.1)
    parts = {"model": model, "optimizer": optimizer}
    before = _states(parts)
    loaded = []
    real_load = model.load_state_dict
    model.load_state_dict = lambda state, *a, **k: loaded.append(_clone(state)) or real_load(state, *a, **k)
    assert checkpoints.load_parts(path, parts) is None
    # the model was loaded (the saved weights), then given its own back when the optimizer failed
    assert len(loaded) == 2 and _same(loaded[0], _states(saved)["model"]) and _same(loaded[1], before["model"])
    assert _same(_states(parts), before)
    assert not _same(_states(parts)["model"], _states(saved)["model"])
    assert (tmp_path / "run.pt.stale").is_file() and not path.exists()
    assert "does not fit this run" in capsys.readouterr().out


def test_a_checkpoint_without_a_step_is_rolled_back(tmp_path, capsys):
    path = tmp_path / "run.pt"
    saved = _parts(seed=5)
    torch.save({"format": 1, "parts": {n: p.state_dict() for n, p in saved.items()}, "extra": {}}, path)
    parts = _parts(seed=0)
    before = _states(parts)
    assert checkpoints.load_parts(path, parts) is None
    assert _same(_states(parts), before)
    assert (tmp_path / "run.pt.stale").is_file() and "does not fit" in capsys.readouterr().out


# ---- checkpoint_path -----------------------------------------------------------------------------

def test_checkpoint_path_separates_modes_and_rejects_paths(monkeypatch, tmp_path):
    assert train.checkpoint_dir() == REPO_ROOT / "checkpoints"
    monkeypatch.setenv("COURSE_CHECKPOINT_DIR", str(tmp_path))
    full = train.checkpoint_path("ae")
    monkeypatch.setenv("COURSE_QUICK", "1")
    quick = train.checkpoint_path("ae")
    monkeypatch.setenv("COURSE_QUICK", "0")
    assert train.checkpoint_path("ae") == full
    assert full == tmp_path / "ae-full.pt" and quick == tmp_path / "ae-quick.pt"
    for bad in ("../escape", "a/b", "a\\b", "", None, 3):
        with pytest.raises(ValueError, match="plain file stem"):
            train.checkpoint_path(bad)


# ---- Run -----------------------------------------------------------------------------------------

def test_a_fresh_run_starts_at_step_0_and_a_second_one_resumes(tmp_path, capsys):
    path = tmp_path / "gan.pt"
    first = _parts(seed=0)
    run = train.Run(path, first)
    assert (run.step, run.extra, run.resumed, run.path) == (0, {}, False, path)
    assert capsys.readouterr().out == "" and not path.exists()
    run.save(5, history={"d_loss": [0.7, 0.6]})
    assert run.step == 5 and run.extra == {"history": {"d_loss": [0.7, 0.6]}}
    second = _parts(seed=1)
    resumed = train.Run(path, second)
    assert (resumed.step, resumed.extra, resumed.resumed) == (5, {"history": {"d_loss": [0.7, 0.6]}}, True)
    assert _same(_states(second), _states(first))
    assert capsys.readouterr().out == f"Resumed from {path} after 5 steps.\n"
    run.save(6)                                  # a later save replaces what the earlier one stored
    assert train.Run(path, _parts(seed=2), verbose=False).extra == {}
    assert capsys.readouterr().out == ""


def test_a_resumed_run_draws_the_random_numbers_a_run_that_never_stopped_would_draw(tmp_path):
    path = tmp_path / "run.pt"
    torch.manual_seed(0)
    run = train.Run(path, _parts())
    torch.randn(3)                               # the loop's draws up to the save
    run.save(2)
    never_stopped = torch.randn(4)               # what the next steps draw
    torch.manual_seed(123)                       # a fresh kernel: another state altogether
    train.Run(path, _parts())
    assert torch.equal(torch.randn(4), never_stopped)
    # a checkpoint without a random state (written by save_parts) resumes and leaves the generator alone
    checkpoints.save_parts(path, 3, _parts())
    parts = _parts()                             # (it seeds and draws itself)
    torch.manual_seed(7)
    expected = torch.randn(4)
    torch.manual_seed(7)
    assert train.Run(path, parts, verbose=False).step == 3
    assert torch.equal(torch.randn(4), expected)
    assert checkpoints.load_parts(path, _parts()) == (3, {})   # load_parts still gives (step, extra)


@pytest.mark.parametrize("step, unit, words", [(1, "epoch", "after 1 epoch."), (2, "epoch", "after 2 epochs."),
                                               (1, "step", "after 1 step."), (12, "step", "after 12 steps.")])
def test_run_message_pluralises_the_unit(tmp_path, capsys, step, unit, words):
    path = tmp_path / "run.pt"
    train.Run(path, _parts()).save(step)
    train.Run(path, _parts(), unit=unit)
    assert capsys.readouterr().out.strip().endswith(words)


def test_run_by_name_uses_the_checkpoint_folder_and_mode(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CHECKPOINT_DIR", str(tmp_path))
    run = train.Run("l4_gan", _parts())
    assert run.path == tmp_path / "l4_gan-full.pt"
    run.save(1)
    monkeypatch.setenv("COURSE_QUICK", "1")
    quick = train.Run("l4_gan", _parts())
    assert quick.path == tmp_path / "l4_gan-quick.pt" and not quick.resumed      # modes never share a file
    with pytest.raises(ValueError, match="plain file stem"):
        train.Run("a\\b", _parts())


def test_run_with_a_misfit_starts_from_scratch(tmp_path, capsys):
    path = tmp_path / "run.pt"
    train.Run(path, _parts(hidden=8)).save(4)
    run = train.Run(path, _parts(hidden=4))
    assert (run.step, run.extra, run.resumed) == (0, {}, False)
    assert "other shapes" in capsys.readouterr().out and (tmp_path / "run.pt.stale").is_file()
    run.save(1)
    assert train.Run(path, _parts(hidden=4)).step == 1


def test_run_validates_its_parts(tmp_path):
    with pytest.raises(ValueError, match="at least one part"):
        train.Run(tmp_path / "run.pt", {})
    with pytest.raises(TypeError, match="state_dict"):
        train.Run(tmp_path / "run.pt", {"model": nn.Linear(1, 1), "count": 3})


# ---- a folder that becomes read-only ------------------------------------------------------------

def _make_read_only(folder):
    """Make ``folder`` refuse new files for real (chmod, or for root `chattr +i`); returns the undo."""
    import os
    import subprocess
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return lambda: folder.chmod(0o755)
    done = subprocess.run(["chattr", "+i", str(folder)], check=False, capture_output=True).returncode == 0
    if not done:
        pytest.skip("running as root and `chattr +i` is not available: cannot make a folder read-only")
    return lambda: subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_a_folder_that_turns_read_only_keeps_the_last_checkpoint_and_training_goes_on(tmp_path, capsys):
    folder = tmp_path / "runs"
    folder.mkdir()
    path = folder / "tiny.pt"
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    data = [(torch.randn(8, 3), torch.randn(8, 1)) for _ in range(4)]
    undo = []

    def evaluate(_model):
        if len(undo) == 0 and path.is_file():   # epoch 1 is saved: from epoch 2 on, nothing can be written
            undo.append(_make_read_only(folder))
        return {}

    def loss_fn(m, batch):
        return nn.functional.mse_loss(m(batch[0]), batch[1])

    try:
        history = train.fit(model, optimizer, loss_fn, data, 3, evaluate=evaluate, checkpoint=path, desc="tiny")
        out = capsys.readouterr().out
    finally:
        for restore in undo:
            restore()
    assert undo, "the folder was never made read-only"
    assert len(history["epoch_loss"]) == 3, "training must go on when a checkpoint cannot be written"
    messages = [line for line in out.splitlines() if "Cannot write the checkpoint" in line]
    assert len(messages) == 1, out                          # one line, not one per epoch
    assert "Training goes on without saving (checkpoint kept: the one after 1 epoch)" in messages[0]
    assert train.load_checkpoint(path)["step"] == 1        # the previous checkpoint is intact
    assert [p.name for p in folder.iterdir()] == ["tiny.pt"]
    resumed = train.fit(model, optimizer, loss_fn, data, 3, checkpoint=path, desc="tiny")
    assert "after epoch 1/3" in capsys.readouterr().out and len(resumed["epoch_loss"]) == 3
