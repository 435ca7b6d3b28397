"""course_lib.train: fit (learning, history read back in chunks, divergence, resuming) and train_on_tensors.

Checkpoints, schedules, EMA and the GAN players' steps have their own files (test_checkpoints.py,
test_schedules.py, test_ema.py, test_gan_losses.py)."""
import itertools

import pytest
import torch

from course_lib import train
from course_lib.train import loop, recipes


def _problem(seed=0):
    torch.manual_seed(seed)
    x = torch.randn(256, 3)
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.3
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 256, 32)]

    def loss_fn(m, b):
        return ((m(b[0]).squeeze(1) - b[1]) ** 2).mean()

    return model, optimizer, batches, loss_fn


# ---- fit -----------------------------------------------------------------------------------------

def test_fit_learns_and_records_history():
    model, optimizer, batches, loss_fn = _problem()
    target = torch.tensor([[1.0, -2.0, 0.5]])
    history = train.fit(model, optimizer, loss_fn, batches, epochs=5,
                        evaluate=lambda m: {"weight_error": float((m.weight - target).abs().max())})
    assert len(history["loss"]) == 40 and len(history["epoch_loss"]) == 5 and len(history["eval_weight_error"]) == 5
    assert history["epoch_loss"][-1] < 0.01 * history["epoch_loss"][0]
    assert history["epoch_loss"][0] == pytest.approx(sum(history["loss"][:8]) / 8)
    assert history["eval_weight_error"][-1] < 0.05
    assert not model.training
    assert train.fit is loop.fit and train.TrainingDiverged is loop.TrainingDiverged


@pytest.mark.parametrize("sync_every", [1, 3, 25])
def test_reading_back_in_chunks_keeps_the_history_complete(sync_every):
    model, optimizer, batches, loss_fn = _problem()
    seen = []

    def logged(m, b):
        loss = loss_fn(m, b)
        seen.append(float(loss.detach()))
        return loss, {"bias": m.bias.detach()[0] * 1.0, "step_size": 0.1}     # a tensor and a number

    history = train.fit(model, optimizer, logged, batches, epochs=3, sync_every=sync_every)
    assert len(history["loss"]) == len(history["bias"]) == len(history["step_size"]) == 24 == len(seen)
    assert history["loss"] == pytest.approx(seen)
    assert all(isinstance(v, float) for v in history["bias"]) and history["step_size"] == [0.1] * 24
    assert history["bias"][0] != history["bias"][-1]


def test_the_same_run_gives_the_same_history_whatever_sync_every():
    histories = []
    for sync_every in (1, 7):
        model, optimizer, batches, loss_fn = _problem()
        histories.append(train.fit(model, optimizer, loss_fn, batches, epochs=2, sync_every=sync_every))
    assert histories[0] == histories[1]


def test_fit_detects_divergence_and_names_the_step():
    model, optimizer, batches, loss_fn = _problem()
    calls = {"n": 0}

    def breaks_at_step_13(m, b):
        calls["n"] += 1
        loss = loss_fn(m, b)
        return loss * float("nan") if calls["n"] == 14 else loss      # step 13, counted from 0 (epoch 2)

    with pytest.raises(train.TrainingDiverged) as info:
        train.fit(model, optimizer, breaks_at_step_13, batches, epochs=3, desc="exploding", sync_every=5)
    message = str(info.value)
    assert "'exploding'" in message and "nan at step 13 (epoch 2)" in message and "learning rate" in message
    assert "the last finite loss was" in message and "none yet" not in message
    # read back after steps 8-12 (5 of them), then at the end of epoch 2 (steps 13-15): caught there, not later
    assert calls["n"] == 16


def test_fit_detects_an_exploding_loss():
    model, _, batches, loss_fn = _problem()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e6)  # far too high: the loss explodes
    with pytest.raises(train.TrainingDiverged, match="inf|nan"):
        train.fit(model, optimizer, loss_fn, batches, epochs=50, desc="exploding")


def test_fit_divergence_at_the_first_step():
    model, optimizer, batches, _ = _problem()
    with pytest.raises(train.TrainingDiverged, match="inf at step 0 .*none yet"):
        train.fit(model, optimizer, lambda m, b: m(b[0]).sum() * float("inf"), batches, epochs=1)


def test_fit_rejects_bad_losses_and_arguments():
    model, optimizer, batches, loss_fn = _problem()
    with pytest.raises(TypeError, match="scalar"):
        train.fit(model, optimizer, lambda m, b: m(b[0]), batches, epochs=1)
    with pytest.raises(TypeError, match="scalar"):
        train.fit(model, optimizer, lambda m, b: 1.0, batches, epochs=1)
    with pytest.raises(ValueError, match="sync_every"):
        train.fit(model, optimizer, loss_fn, batches, epochs=1, sync_every=0)
    with pytest.raises(ValueError, match="epochs"):
        train.fit(model, optimizer, loss_fn, batches, epochs=-1)


def test_checkpoint_resume_continues_after_the_last_epoch(tmp_path, capsys):
    path = tmp_path / "run.pt"
    model, optimizer, batches, loss_fn = _problem()
    first = train.fit(model, optimizer, loss_fn, batches, epochs=2, checkpoint=path)
    state = train.load_checkpoint(path)
    assert state["format"] == 1 and state["step"] == 2 and set(state["parts"]) == {"model", "optimizer"}
    assert state["extra"]["history"] == first
    resumed_model, resumed_opt, _, _ = _problem(seed=1)  # fresh weights: must be replaced by the checkpoint's
    calls = []
    history = train.fit(resumed_model, resumed_opt, lambda m, b: calls.append(1) or loss_fn(m, b), batches,
                        epochs=4, checkpoint=path, desc="regression")
    assert "Resumed 'regression'" in capsys.readouterr().out and len(calls) == 16     # epochs 3 and 4 only
    assert len(history["epoch_loss"]) == 4 and len(history["loss"]) == 32 and history["loss"][:16] == first["loss"]
    # a straight 4-epoch run gives the same weights: resuming lost nothing
    straight, straight_opt, _, _ = _problem()
    straight_history = train.fit(straight, straight_opt, loss_fn, batches, epochs=4)
    assert torch.allclose(straight.weight, resumed_model.weight, atol=1e-6)
    assert history["loss"] == pytest.approx(straight_history["loss"], rel=1e-5)
    calls.clear()
    done = train.fit(resumed_model, resumed_opt, lambda m, b: calls.append(1) or loss_fn(m, b), batches,
                     epochs=4, checkpoint=path)
    assert calls == [] and done == history and not resumed_model.training            # nothing left to do


def test_a_checkpoint_of_another_model_is_moved_aside(tmp_path, capsys):
    path = tmp_path / "run.pt"
    model, optimizer, batches, loss_fn = _problem()
    train.fit(model, optimizer, loss_fn, batches, epochs=1, checkpoint=path)
    wider = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 1))
    history = train.fit(wider, torch.optim.SGD(wider.parameters(), lr=0.05), loss_fn, batches, epochs=1,
                        checkpoint=path)
    assert len(history["loss"]) == 8 and (tmp_path / "run.pt.stale").is_file()
    assert "another architecture" in capsys.readouterr().out
    assert train.load_checkpoint(path)["step"] == 1


def test_interrupt_keeps_the_last_checkpoint(tmp_path, capsys):
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
    assert "(epoch 1) is intact" in capsys.readouterr().out
    assert train.load_checkpoint(path)["step"] == 1
    history = train.fit(model, optimizer, loss_fn, batches, epochs=3, checkpoint=path)
    assert len(history["epoch_loss"]) == 3 and len(history["loss"]) == 24


def test_a_schedule_continues_where_a_resumed_run_stopped(tmp_path):
    def run(epochs, checkpoint):
        torch.manual_seed(0)
        model = torch.nn.Linear(1, 1)
        optimizer = torch.optim.Adam(model.parameters(), lr=1.0)
        scheduler = train.lr_schedule(optimizer, total_steps=10, shape="cosine")
        rates = []
        batches = [torch.ones(1, 1)] * 5

        def loss_fn(m, x):
            rates.append(optimizer.param_groups[0]["lr"])
            return m(x).sum()

        train.fit(model, optimizer, loss_fn, batches, epochs, checkpoint=checkpoint, scheduler=scheduler)
        return rates, optimizer.param_groups[0]["lr"]

    rates, final = run(2, None)
    assert rates[0] == 1.0 and rates[5] == pytest.approx(0.5) and final == pytest.approx(0.0, abs=1e-12)
    assert all(a > b for a, b in itertools.pairwise(rates))
    path = tmp_path / "run.pt"
    first, _ = run(1, path)
    assert "scheduler" in train.load_checkpoint(path)["parts"]
    resumed, final_resumed = run(2, path)     # resumes after epoch 1: the schedule continues at step 5
    assert first + resumed == pytest.approx(rates) and final_resumed == pytest.approx(0.0, abs=1e-12)


def test_max_grad_norm_clips_each_step():
    model, optimizer, batches, loss_fn = _problem()
    norms = []
    real_step = optimizer.step

    def step(*args, **kwargs):
        norms.append(float(torch.cat([p.grad.flatten() for p in model.parameters()]).norm()))
        return real_step(*args, **kwargs)

    optimizer.step = step
    train.fit(model, optimizer, loss_fn, batches, epochs=1, max_grad_norm=0.5)
    assert len(norms) == 8 and max(norms) <= 0.5 + 1e-5 and norms[0] == pytest.approx(0.5, rel=1e-4)


# ---- train_on_tensors ----------------------------------------------------------------------------

def _autoencoder_problem(seed=0):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(96, 6, generator=g)
    model = torch.nn.Sequential(torch.nn.Linear(6, 3), torch.nn.Linear(3, 6))
    return model, images, lambda m, x: ((m(x) - x) ** 2).mean()


def test_train_on_tensors_trains_with_the_recipe():
    model, images, loss_fn = _autoencoder_problem()
    rates = []
    optimizers = []
    real_adam = torch.optim.Adam

    def recording_adam(*args, **kwargs):
        optimizers.append(real_adam(*args, **kwargs))
        return optimizers[-1]

    def loss_and_rate(m, x):
        rates.append(optimizers[0].param_groups[0]["lr"])
        return loss_fn(m, x)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.optim, "Adam", recording_adam)
        history = train.train_on_tensors(model, loss_and_rate, images, epochs=4, lr=0.01, batch_size=32)
    assert len(history["loss"]) == 12 and len(history["epoch_loss"]) == 4 and not model.training
    assert history["epoch_loss"][-1] < history["epoch_loss"][0]
    # constant for the first 3/4 of the steps, then linear to 0
    assert rates == pytest.approx([0.01] * 10 + [0.01 * 2 / 3, 0.01 / 3]) and recipes.HOLD == 0.75


def test_train_on_tensors_passes_tuples_for_several_tensors_and_evaluates():
    model, images, _ = _autoencoder_problem()
    labels = torch.arange(96) % 3
    shapes = []

    def loss_fn(m, batch):
        x, y = batch
        shapes.append((tuple(x.shape), tuple(y.shape)))
        return ((m(x) - x) ** 2).mean()

    history = train.train_on_tensors(model, loss_fn, images, labels, epochs=1, lr=0.01, batch_size=40,
                                     evaluate=lambda m: {"mse": float(((m(images) - images) ** 2).mean())})
    assert shapes == [((40, 6), (40,)), ((40, 6), (40,)), ((16, 6), (16,))]
    assert len(history["eval_mse"]) == 1


def test_train_on_tensors_resumes_from_its_checkpoint(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_CHECKPOINT_DIR", str(tmp_path))
    model, images, loss_fn = _autoencoder_problem()
    first = train.train_on_tensors(model, loss_fn, images, epochs=3, lr=0.01, batch_size=32, checkpoint="ae")
    assert (tmp_path / "ae-full.pt").is_file()
    assert train.load_checkpoint(tmp_path / "ae-full.pt")["step"] == 3
    again, _, _ = _autoencoder_problem(seed=5)
    calls = []
    loaded = train.train_on_tensors(again, lambda m, x: calls.append(1) or loss_fn(m, x), images, epochs=3,
                                    lr=0.01, batch_size=32, checkpoint="ae")
    assert calls == [] and loaded == first and "Resumed" in capsys.readouterr().out   # finished: loaded, not retrained
    assert all(torch.equal(a, b) for a, b in zip(again.parameters(), model.parameters()))
    longer = train.train_on_tensors(again, lambda m, x: calls.append(1) or loss_fn(m, x), images, epochs=5,
                                    lr=0.01, batch_size=32, checkpoint="ae")
    assert len(calls) == 6 and len(longer["epoch_loss"]) == 5                     # epochs 4 and 5 only


def test_train_on_tensors_validates():
    model, images, loss_fn = _autoencoder_problem()
    with pytest.raises(TypeError, match="nn.Module"):
        train.train_on_tensors(lambda x: x, loss_fn, images, epochs=1, lr=0.01)
    with pytest.raises(ValueError, match="lr"):
        train.train_on_tensors(model, loss_fn, images, epochs=1, lr=0.0)
    with pytest.raises(ValueError, match="batch_size"):
        train.train_on_tensors(model, loss_fn, images, epochs=1, lr=0.01, batch_size=0)
    with pytest.raises(ValueError, match="plain file stem"):
        train.train_on_tensors(model, loss_fn, images, epochs=1, lr=0.01, checkpoint="runs/ae")
