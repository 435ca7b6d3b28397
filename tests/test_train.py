"""fit: learning, divergence detection, atomic checkpoints and resuming."""
import pytest
import torch

from course_lib import train


def _problem(seed=0):
    torch.manual_seed(seed)
    x = torch.randn(256, 3)
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.3
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 256, 32)]
    loss_fn = lambda m, b: ((m(b[0]).squeeze(1) - b[1]) ** 2).mean()
    return model, optimizer, batches, loss_fn


def test_fit_learns_and_records_history():
    model, optimizer, batches, loss_fn = _problem()
    history = train.fit(model, optimizer, loss_fn, batches, epochs=5,
                        evaluate=lambda m: {"weight_error": float((m.weight - torch.tensor([[1.0, -2.0, 0.5]])).abs().max())})
    assert len(history["loss"]) == 40 and len(history["epoch_loss"]) == 5
    assert history["epoch_loss"][-1] < 0.01 * history["epoch_loss"][0]
    assert history["eval_weight_error"][-1] < 0.05
    assert not model.training


def test_fit_logs_extra_values():
    model, optimizer, batches, _ = _problem()
    loss_fn = lambda m, b: (((m(b[0]).squeeze(1) - b[1]) ** 2).mean(), {"bias": float(m.bias.detach())})
    history = train.fit(model, optimizer, loss_fn, batches, epochs=1)
    assert len(history["bias"]) == len(history["loss"]) == 8


def test_fit_detects_divergence_with_an_explanation():
    model, _, batches, loss_fn = _problem()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e6)  # far too high: the loss explodes
    with pytest.raises(train.TrainingDiverged) as info:
        train.fit(model, optimizer, loss_fn, batches, epochs=50, desc="exploding")
    message = str(info.value)
    assert "exploding" in message and "learning rate" in message and "step" in message


def test_fit_rejects_a_non_scalar_loss():
    model, optimizer, batches, _ = _problem()
    with pytest.raises(TypeError, match="scalar"):
        train.fit(model, optimizer, lambda m, b: m(b[0]), batches, epochs=1)


def test_checkpoint_resume_continues_where_it_stopped(tmp_path):
    path = tmp_path / "run.pt"
    model, optimizer, batches, loss_fn = _problem()
    train.fit(model, optimizer, loss_fn, batches, epochs=2, checkpoint=path)
    assert path.is_file()
    resumed_model, resumed_opt, _, _ = _problem(seed=1)  # fresh weights: must be replaced by the checkpoint's
    history = train.fit(resumed_model, resumed_opt, loss_fn, batches, epochs=4, checkpoint=path)
    assert len(history["epoch_loss"]) == 4 and len(history["loss"]) == 32
    # a straight 4-epoch run gives the same weights: resuming lost nothing
    straight, straight_opt, _, _ = _problem()
    train.fit(straight, straight_opt, loss_fn, batches, epochs=4)
    assert torch.allclose(straight.weight, resumed_model.weight, atol=1e-6)
    done = train.fit(resumed_model, resumed_opt, loss_fn, batches, epochs=4, checkpoint=path)
    assert len(done["epoch_loss"]) == 4  # nothing left to do


def test_interrupt_keeps_the_last_checkpoint(tmp_path):
    path = tmp_path / "run.pt"
    model, optimizer, batches, loss_fn = _problem()
    calls = {"n": 0}

    def interrupted(m, b):
        calls["n"] += 1
        if calls["n"] == 12:  # in the second epoch
            raise KeyboardInterrupt
        return loss_fn(m, b)

    with pytest.raises(KeyboardInterrupt):
        train.fit(model, optimizer, interrupted, batches, epochs=3, checkpoint=path)
    assert train.load_checkpoint(path)["epoch"] == 1
    history = train.fit(model, optimizer, loss_fn, batches, epochs=3, checkpoint=path)
    assert len(history["epoch_loss"]) == 3


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "state.pt"
    train.save_checkpoint(path, {"value": 1})
    real_save = torch.save

    def crash_mid_write(obj, handle):
        handle.write(b"partial garbage")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash_mid_write)
    with pytest.raises(OSError):
        train.save_checkpoint(path, {"value": 2})
    monkeypatch.setattr(torch, "save", real_save)
    assert train.load_checkpoint(path) == {"value": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["state.pt"]  # no temporary file left behind


def test_unreadable_checkpoint_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="Delete it"):
        train.load_checkpoint(bad)
    with pytest.raises(FileNotFoundError):
        train.load_checkpoint(tmp_path / "missing.pt")


def test_checkpoint_path_separates_modes(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_CHECKPOINT_DIR", str(tmp_path))
    full = train.checkpoint_path("ae")
    monkeypatch.setenv("COURSE_QUICK", "1")
    quick = train.checkpoint_path("ae")
    assert full != quick and full.parent == quick.parent == tmp_path
    with pytest.raises(ValueError):
        train.checkpoint_path("../escape")


def test_cosine_schedule_decays_per_step_and_resumes_from_a_checkpoint(tmp_path):
    from course_lib.train import cosine_schedule

    def run(epochs, checkpoint):
        torch.manual_seed(0)
        model = torch.nn.Linear(1, 1)
        optimizer = torch.optim.Adam(model.parameters(), lr=1.0)
        scheduler = cosine_schedule(optimizer, total_steps=10, final_fraction=0.0)
        rates = []
        batches = [torch.ones(1, 1)] * 5

        def loss_fn(m, x):
            rates.append(optimizer.param_groups[0]["lr"])
            return m(x).sum()

        train.fit(model, optimizer, loss_fn, batches, epochs, checkpoint=checkpoint, scheduler=scheduler)
        return rates, optimizer.param_groups[0]["lr"]

    rates, final = run(2, None)
    assert rates[0] == 1.0 and rates[5] == pytest.approx(0.5) and final == pytest.approx(0.0, abs=1e-12)
    assert all(a > b for a, b in zip(rates, rates[1:]))
    path = tmp_path / "run.pt"
    first, _ = run(1, path)
    resumed, final_resumed = run(2, path)     # resumes after epoch 1: the schedule continues at step 5
    assert first + resumed == pytest.approx(rates) and final_resumed == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="total_steps"):
        cosine_schedule(torch.optim.Adam(torch.nn.Linear(1, 1).parameters()), total_steps=0)
