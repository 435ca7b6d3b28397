"""course_lib.train.ema: the moving average of weights, its frozen copy, batch-norm recalibration for any model."""
import pytest
import torch
from torch import nn

from course_lib import dcgan, train
from course_lib.latent import noise_batches, sample_noise
from course_lib.train import ema


def _model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))


# ---- ema_update / ema_copy -----------------------------------------------------------------------

def test_ema_update_moves_parameters_and_copies_buffers():
    model = _model()
    averaged = train.ema_copy(model)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
        model[1].running_mean.fill_(3.0)
        model[1].running_var.fill_(2.0)
        model[1].num_batches_tracked.fill_(17)
    before = [p.clone() for p in averaged.parameters()]
    ema.ema_update(averaged, model, 0.75)
    for b, p, e in zip(before, model.parameters(), averaged.parameters()):
        assert torch.allclose(e, 0.75 * b + 0.25 * p, atol=1e-7)
        assert not torch.allclose(e, p)
    assert torch.equal(averaged[1].running_mean, torch.full((4,), 3.0))
    assert torch.equal(averaged[1].running_var, torch.full((4,), 2.0)) and int(averaged[1].num_batches_tracked) == 17
    assert averaged[1].running_mean.data_ptr() != model[1].running_mean.data_ptr()   # copied, not shared
    assert all(p.grad_fn is None and not p.requires_grad for p in averaged.parameters())
    ema.ema_update(averaged, model, 0.0)
    assert all(torch.equal(e, p) for e, p in zip(averaged.parameters(), model.parameters()))
    frozen_before = [p.clone() for p in averaged.parameters()]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    ema.ema_update(averaged, model, 1.0)
    assert all(torch.equal(e, b) for e, b in zip(averaged.parameters(), frozen_before))


def test_ema_update_default_decay_and_a_trainable_model():
    model = nn.Linear(2, 1)
    averaged = train.ema_copy(model)
    with torch.no_grad():
        model.weight.fill_(1.0)
        averaged.weight.fill_(0.0)
    ema.ema_update(averaged, model)
    assert torch.allclose(averaged.weight, torch.full((1, 2), 0.001))
    assert model.weight.requires_grad and model.weight.grad is None


def test_ema_update_rejects_mismatches():
    model = _model()
    averaged = train.ema_copy(model)
    with pytest.raises(ValueError, match="decay"):
        ema.ema_update(averaged, model, 1.5)
    with pytest.raises(ValueError, match="same architecture"):
        ema.ema_update(averaged, nn.Linear(3, 4), 0.5)
    with pytest.raises(ValueError, match="same architecture"):
        ema.ema_update(averaged, _wider(), 0.5)
    with pytest.raises(TypeError, match="nn.Modules"):
        ema.ema_update(averaged, {"weight": 1}, 0.5)


def _wider():
    return nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 2))


def test_ema_copy_is_a_frozen_deep_copy_in_eval_mode():
    model = _model()
    model.train()
    twin = ema.ema_copy(model)
    assert not twin.training and all(not m.training for m in twin.modules())
    assert all(not p.requires_grad for p in twin.parameters())
    assert model.training and all(p.requires_grad for p in model.parameters())       # the original is untouched
    assert all(torch.equal(a, b) for a, b in zip(twin.state_dict().values(), model.state_dict().values()))
    with torch.no_grad():
        model[0].weight.add_(1.0)
    assert not torch.equal(twin[0].weight, model[0].weight)
    with pytest.raises(TypeError, match="nn.Module"):
        ema.ema_copy([1, 2])


# ---- recalibrate_batchnorm -----------------------------------------------------------------------

def _batches(seed=0, n=3, size=64):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(size, 3, generator=g) * torch.tensor([1.0, 2.0, 0.5]) + torch.tensor([1.0, -2.0, 3.0])
            for _ in range(n)]


def test_recalibrate_batchnorm_computes_the_exact_statistics_of_the_inputs():
    model = nn.Sequential(nn.BatchNorm1d(3, momentum=0.3), nn.Linear(3, 4), nn.BatchNorm1d(4))
    with torch.no_grad():
        model[0].running_mean.fill_(100.0)                 # stale statistics of other weights, after a long run
        model[2].running_var.fill_(100.0)
        model[0].num_batches_tracked.fill_(50)
        model[2].num_batches_tracked.fill_(50)
    batches = _batches()
    returned = train.recalibrate_batchnorm(model, batches)
    assert returned is model and not model.training
    assert model[0].momentum == 0.3 and model[2].momentum == 0.1                  # momenta restored
    x = torch.cat(batches)
    assert torch.allclose(model[0].running_mean, x.mean(0), atol=1e-5)           # equal batches: the overall mean
    per_batch_var = torch.stack([b.var(0, unbiased=True) for b in batches]).mean(0)
    assert torch.allclose(model[0].running_var, per_batch_var, atol=1e-5)
    assert int(model[0].num_batches_tracked) == 3
    with torch.no_grad():
        # what the second norm saw: the Linear of the first norm's output, normalized per batch (train mode)
        hidden = [model[1](nn.functional.batch_norm(b, None, None, model[0].weight, model[0].bias, training=True))
                  for b in batches]
    assert torch.allclose(model[2].running_mean, torch.cat(hidden).mean(0), atol=1e-5)
    assert torch.allclose(model[2].running_var, torch.stack([h.var(0) for h in hidden]).mean(0), atol=1e-5)


def test_recalibrate_batchnorm_one_batch_equals_its_mean_and_variance():
    model = nn.Sequential(nn.BatchNorm1d(3))
    model.train()
    (batch,) = _batches(n=1, size=100)
    train.recalibrate_batchnorm(model, iter([batch]))          # any iterable, e.g. a generator
    assert torch.allclose(model[0].running_mean, batch.mean(0), atol=1e-6)
    assert torch.allclose(model[0].running_var, batch.var(0), atol=1e-5)
    assert not model.training


def test_recalibrate_batchnorm_without_batch_norm_changes_nothing():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2), nn.Dropout(0.5))
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    consumed = []

    def batches():
        consumed.append(True)
        yield torch.randn(4, 3)

    assert train.recalibrate_batchnorm(model, batches()) is model
    assert not model.training and not consumed
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_recalibrate_batchnorm_rejects_empty_inputs_and_non_modules():
    model = nn.Sequential(nn.BatchNorm1d(3, momentum=0.2))
    with pytest.raises(ValueError, match="no input batches"):
        train.recalibrate_batchnorm(model, [])
    assert model[0].momentum == 0.2
    with pytest.raises(TypeError, match="nn.Module"):
        train.recalibrate_batchnorm("generator", [torch.zeros(2, 3)])


def test_a_failed_recalibration_leaves_the_statistics_as_they_were():
    """An exhausted generator (e.g. noise_batches reused) must not wipe the statistics it cannot replace."""
    model = nn.Sequential(nn.BatchNorm1d(3))
    train.recalibrate_batchnorm(model, _batches())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    used_up = iter(_batches())
    list(used_up)
    with pytest.raises(ValueError, match="no input batches"):
        train.recalibrate_batchnorm(model, used_up)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items()), \
        "the running statistics were reset although no batch came to replace them"
    assert not model.training


def test_recalibrating_a_dcgan_ema_generator_matches_its_batch_statistics():
    torch.manual_seed(0)
    generator = dcgan.DCGANGenerator(latent_dim=8, width=4)
    averaged = train.ema_copy(generator)
    with torch.no_grad():
        for p in averaged.parameters():
            p.mul_(1.5)
    train.recalibrate_batchnorm(averaged, noise_batches(8, batches=4, batch_size=256))
    z = sample_noise(256, 8, seed=3)
    with torch.no_grad():
        eval_out = averaged(z)
        averaged.train()
        train_out = averaged(z)
        averaged.eval()
    assert float((eval_out - train_out).abs().mean()) < 0.02
