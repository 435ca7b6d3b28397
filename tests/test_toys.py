"""course_lib.toys: 1-D Gaussian mixtures with exact densities, the ring of 2-D Gaussians."""
import math

import numpy as np
import pytest
import torch

from course_lib import toys


def test_gaussian_mixture_density_and_samples():
    p = toys.GaussianMixture1D((-1.0, 2.0), (0.5, 1.0), (1.0, 3.0))
    assert p.weights == pytest.approx((0.25, 0.75)) and p.means == (-1.0, 2.0)
    x = np.linspace(*p.support(), 20001)
    assert np.trapezoid(p.pdf(x), x) == pytest.approx(1.0, abs=1e-6)
    assert np.isfinite(p.logpdf(np.array([-1e3, 1e3]))).all()           # tails in log space
    assert p.logpdf_scalar(0.7) == pytest.approx(float(p.logpdf(0.7)), abs=1e-12)
    by_hand = sum(w / (s * math.sqrt(2 * math.pi)) * math.exp(-0.5 * ((0.7 - m) / s) ** 2)
                  for m, s, w in zip((-1.0, 2.0), (0.5, 1.0), (0.25, 0.75)))
    assert float(p.pdf(0.7)) == pytest.approx(by_hand, rel=1e-12)
    s = p.sample(200_000, torch.Generator().manual_seed(0))
    assert s.shape == (200_000, 1) and s.dtype == torch.float32
    assert float(s.mean()) == pytest.approx(0.25 * -1 + 0.75 * 2, abs=0.02)
    assert torch.equal(p.sample(10, torch.Generator().manual_seed(3)), p.sample(10, torch.Generator().manual_seed(3)))
    assert p.support(width=1.0) == (-1.5, 3.0)


def test_gaussian_mixture_defaults_zero_weights_and_errors():
    equal = toys.GaussianMixture1D((0.0, 4.0), (1.0, 1.0))
    assert equal.weights == (0.5, 0.5)
    half = toys.GaussianMixture1D((0.0, 4.0), (1.0, 1.0), (1.0, 0.0))       # a component of weight 0
    assert float(half.pdf(4.0)) == pytest.approx(float(toys.GaussianMixture1D((0.0,), (1.0,)).pdf(4.0)))
    assert math.isfinite(half.logpdf_scalar(4.0))
    with pytest.raises(ValueError, match="as many"):
        toys.GaussianMixture1D((0.0, 1.0), (1.0,))
    with pytest.raises(ValueError, match="as many"):
        toys.GaussianMixture1D((), ())
    with pytest.raises(ValueError, match="positive"):
        toys.GaussianMixture1D((0.0,), (0.0,))
    with pytest.raises(ValueError, match="weights"):
        toys.GaussianMixture1D((0.0,), (1.0,), (-1.0,))
    with pytest.raises(ValueError, match="n must"):
        equal.sample(0)


def test_ring_centers_and_samples():
    centers = toys.ring_centers(8, 2.0)
    assert centers.shape == (8, 2) and torch.allclose(centers.norm(dim=1), torch.full((8,), 2.0))
    assert torch.allclose(centers[0], torch.tensor([2.0, 0.0])) and torch.allclose(centers[2], torch.tensor([0.0, 2.0]),
                                                                                  atol=1e-6)
    samples = toys.sample_ring(4000, std=0.05, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (4000, 2)
    distance, nearest = torch.cdist(samples, centers).min(dim=1)
    assert float(distance.max()) < 0.05 * 6 and torch.bincount(nearest, minlength=8).min() > 400
    assert float((samples - centers[nearest]).std()) == pytest.approx(0.05, rel=0.05)
    again = toys.sample_ring(4000, std=0.05, generator=torch.Generator().manual_seed(0))
    assert torch.equal(samples, again)
    assert toys.sample_ring(10, modes=3, radius=5.0, std=0.01).norm(dim=1).sub(5.0).abs().max() < 0.1
    with pytest.raises(ValueError, match="modes"):
        toys.ring_centers(0)
    with pytest.raises(ValueError, match="radius"):
        toys.ring_centers(4, radius=0.0)
    with pytest.raises(ValueError, match="std"):
        toys.sample_ring(10, std=0.0)
