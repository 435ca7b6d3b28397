"""course_lib.latent: noise, sampling a generator, lerp/slerp, the prior's norm band, attribute directions."""
import math

import pytest
import torch
from torch import nn

from course_lib import latent


class _Generator(nn.Module):
    """A tiny generator with batch norm (so train and eval mode differ) and a latent_dim attribute."""

    def __init__(self, latent_dim=8):
        super().__init__()
        self.latent_dim = latent_dim
        self.net = nn.Sequential(nn.Linear(latent_dim, 16), nn.BatchNorm1d(16), nn.Tanh())

    def forward(self, z):
        return self.net(z)


# ---- noise ---------------------------------------------------------------------------------------

def test_sample_noise_needs_latent_dim_and_repeats_with_a_seed():
    with pytest.raises(TypeError):
        latent.sample_noise(3)                                   # latent_dim is required now
    z = latent.sample_noise(5, 7, seed=1)
    assert z.shape == (5, 7) and z.dtype == torch.float32 and z.device.type == "cpu"
    assert torch.equal(z, latent.sample_noise(5, 7, seed=1))
    assert not torch.equal(z, latent.sample_noise(5, 7, seed=2))
    torch.manual_seed(0)
    a = latent.sample_noise(4, 3)
    torch.manual_seed(0)
    assert torch.equal(a, latent.sample_noise(4, 3))             # unseeded: the global generator
    assert not torch.equal(latent.sample_noise(4, 3), a)
    with pytest.raises(ValueError, match="latent_dim"):
        latent.sample_noise(3, 0)
    with pytest.raises(ValueError, match="n must"):
        latent.sample_noise(0, 4)


def test_noise_batches_are_repeatable_and_differ_from_each_other():
    first = list(latent.noise_batches(6, batches=3, batch_size=10, seed=4))
    again = list(latent.noise_batches(6, batches=3, batch_size=10, seed=4))
    other = list(latent.noise_batches(6, batches=3, batch_size=10, seed=5))
    assert len(first) == 3 and all(b.shape == (10, 6) for b in first)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[0], first[1]) and not torch.equal(first[0], other[0])
    assert len(list(latent.noise_batches(2))) == 8                    # defaults: 8 batches of 256
    with pytest.raises(ValueError, match="batch_size"):
        list(latent.noise_batches(6, batch_size=1))                 # batch norm needs 2 or more
    with pytest.raises(ValueError, match="latent_dim"):
        list(latent.noise_batches(0))


# ---- sampling a generator ------------------------------------------------------------------------

def test_generate_from_runs_in_eval_mode_restores_the_mode_and_returns_cpu_tensors():
    torch.manual_seed(0)
    generator = _Generator()
    generator.train()
    z = latent.sample_noise(5, 8, seed=2)
    out = latent.generate_from(generator, z, batch_size=2)
    assert generator.training and out.shape == (5, 16) and out.device.type == "cpu" and not out.requires_grad
    generator.eval()
    with torch.no_grad():
        expected = generator(z)
    assert torch.allclose(out, expected, atol=1e-6)      # eval mode: the batch size does not matter
    assert torch.allclose(latent.generate_from(generator, z), out, atol=1e-6) and not generator.training
    with pytest.raises(ValueError, match="non-empty"):
        latent.generate_from(generator, torch.zeros(0, 8))
    with pytest.raises(ValueError, match="non-empty"):
        latent.generate_from(generator, torch.zeros(8))
    with pytest.raises(TypeError, match="floating-point"):
        latent.generate_from(generator, torch.zeros(2, 8, dtype=torch.int64))


def test_generate_samples_the_prior_repeatably():
    torch.manual_seed(0)
    generator = _Generator()
    generator.train()
    samples = latent.generate(generator, 7, seed=0, batch_size=3)
    assert samples.shape == (7, 16) and generator.training
    assert torch.allclose(samples, latent.generate(generator, 7, seed=0), atol=1e-6)
    assert not torch.allclose(samples, latent.generate(generator, 7, seed=1))
    assert torch.allclose(samples, latent.generate_from(generator, latent.sample_noise(7, 8, seed=0)), atol=1e-6)
    with pytest.raises(TypeError, match="latent_dim"):
        latent.generate(nn.Linear(2, 2), 3)


# ---- lerp / slerp --------------------------------------------------------------------------------

def _pair(d=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    z0, z1 = torch.randn(d, generator=g), torch.randn(d, generator=g)
    return z0, z1 / z1.norm() * z0.norm()                      # the same norm


def test_lerp_and_slerp_endpoints_and_norms():
    z0, z1 = _pair()
    for f in (latent.lerp, latent.slerp):
        assert torch.allclose(f(z0, z1, 0.0), z0, atol=1e-5) and torch.allclose(f(z0, z1, 1.0), z1, atol=1e-5)
    assert torch.allclose(latent.lerp(z0, z1, 0.25), 0.75 * z0 + 0.25 * z1)
    path = latent.slerp(z0, z1, torch.linspace(0, 1, 7))
    assert path.shape == (7, 64)
    assert torch.allclose(path.norm(dim=1), z0.norm().expand(7), rtol=1e-4)       # stays on the sphere
    assert float(latent.lerp(z0, z1, 0.5).norm()) < 0.8 * float(z0.norm())         # cuts through the inside
    e0, e1 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    assert torch.allclose(latent.slerp(e0, e1, 0.5), torch.tensor([1.0, 1.0]) / math.sqrt(2), atol=1e-6)
    assert torch.allclose(latent.slerp(e0, e1, 1 / 3), torch.tensor([math.cos(math.pi / 6), 0.5]), atol=1e-6)
    assert torch.allclose(latent.slerp(e0, e1, torch.tensor(0.5)), latent.slerp(e0, e1, 0.5))


def test_slerp_per_row_for_batches_and_the_parallel_fallback():
    g = torch.Generator().manual_seed(1)
    b0, b1 = torch.randn(3, 5, generator=g), torch.randn(3, 5, generator=g)
    path = latent.slerp(b0, b1, torch.linspace(0, 1, 4))
    assert path.shape == (4, 3, 5)
    for row in range(3):                                          # each row has its own angle
        assert torch.allclose(path[:, row], latent.slerp(b0[row], b1[row], torch.linspace(0, 1, 4)), atol=1e-6)
    assert latent.lerp(b0, b1, torch.linspace(0, 1, 4)).shape == (4, 3, 5)
    z0, _ = _pair()
    parallel = latent.slerp(z0, 2 * z0, 0.5)
    assert torch.isfinite(parallel).all() and torch.allclose(parallel, 1.5 * z0, atol=1e-4)


def test_lerp_and_slerp_reject_bad_inputs():
    with pytest.raises(ValueError, match="same shape"):
        latent.slerp(torch.zeros(3), torch.zeros(4), 0.5)
    with pytest.raises(ValueError, match="same shape"):
        latent.lerp(torch.tensor(1.0), torch.tensor(2.0), 0.5)
    with pytest.raises(TypeError, match="t must"):
        latent.lerp(torch.zeros(3), torch.ones(3), "half")
    with pytest.raises(TypeError, match="t must"):
        latent.lerp(torch.zeros(3), torch.ones(3), torch.zeros(2, 2))
    with pytest.raises(TypeError, match="floating-point"):
        latent.slerp(torch.zeros(3, dtype=torch.int64), torch.ones(3, dtype=torch.int64), 0.5)


def test_prior_norm_band_is_around_sqrt_d():
    low, median, high = latent.prior_norm_band(100)
    assert low < median < high and abs(median - 10) < 0.1 and high - low < 4
    norms = torch.randn(20000, 100, generator=torch.Generator().manual_seed(0)).norm(dim=1)
    inside = ((norms > low) & (norms < high)).float().mean()
    assert abs(float(inside) - 0.99) < 0.005
    with pytest.raises(ValueError, match="probability"):
        latent.prior_norm_band(10, 1.5)


# ---- attribute directions ------------------------------------------------------------------------

def test_extreme_latents_respects_mask_and_falls_back():
    z = torch.arange(12.0).view(6, 2)
    values = torch.tensor([5.0, float("nan"), 1.0, 9.0, 3.0, 7.0])
    assert torch.equal(latent.extreme_latents(z, values, k=2), z[[3, 5]])
    assert torch.equal(latent.extreme_latents(z, values, k=2, largest=False), z[[2, 4]])
    mask = torch.tensor([True, False, True, False, True, False])
    assert torch.equal(latent.extreme_latents(z, values, k=2, among=mask), z[[0, 4]])
    only_one = torch.tensor([False, False, False, True, False, False])
    assert torch.equal(latent.extreme_latents(z, values, k=2, among=only_one), z[[3, 5]])
    with pytest.raises(ValueError, match="fewer than k"):
        latent.extreme_latents(z, values, k=6)


def test_attribute_direction_finds_the_coordinate_that_drives_the_attribute():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(500, 6, generator=g)
    values = 3 * z[:, 2] + 0.1 * torch.randn(500, generator=g)
    values[0] = float("nan")
    v = latent.attribute_direction(z, values, fraction=0.2)
    assert v.shape == (6,) and int(v.abs().argmax()) == 2 and float(v[2]) > 0
    assert float(latent.attribute_direction(z, -values)[2]) < 0
    with pytest.raises(ValueError, match="fraction"):
        latent.attribute_direction(z, values, fraction=0.9)
    with pytest.raises(ValueError, match=r"values \[N\]"):
        latent.attribute_direction(z, values[:10])
    with pytest.raises(ValueError, match="too few finite"):
        latent.attribute_direction(z[:3], torch.tensor([1.0, float("nan"), float("nan")]))


def test_attribute_sweep_needs_a_measure_and_measures_each_alpha():
    torch.manual_seed(0)
    generator = _Generator(latent_dim=6)
    z = latent.sample_noise(3, 6, seed=0)
    direction = torch.zeros(6)
    direction[0] = 1.0
    with pytest.raises(TypeError):
        latent.attribute_sweep(generator, z, direction, [0.0, 1.0])          # measure is required now
    images, values = latent.attribute_sweep(generator, z, direction, [-1, 0, 2], measure=lambda x: x[:, 0])
    assert images.shape == (3, 3, 16) and values.shape == (3, 3)
    for i, alpha in enumerate([-1, 0, 2]):
        assert torch.allclose(images[i], latent.generate_from(generator, z + alpha * direction), atol=1e-6)
    assert torch.equal(values, images[:, :, 0])
    with pytest.raises(ValueError, match="direction"):
        latent.attribute_sweep(generator, z, direction[:2], [0], measure=lambda x: x[:, 0])
    with pytest.raises(ValueError, match="alphas is empty"):
        latent.attribute_sweep(generator, z, direction, [], measure=lambda x: x[:, 0])
