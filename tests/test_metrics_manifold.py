"""course_lib.metrics.manifold: precision/recall against torch-fidelity's prc on identical features (its k-NN radius
convention included), density/coverage against a direct computation, properties and input checks."""
from __future__ import annotations

import pytest
import torch

from course_lib.metrics import manifold


def _sets(n: int = 400, m: int = 300, d: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Real: a standard Gaussian; fake: shifted and narrower, so precision and recall are both between 0 and 1."""
    g = torch.Generator().manual_seed(seed)
    real = torch.randn(n, d, generator=g, dtype=torch.float64)
    fake = 0.7 * torch.randn(m, d, generator=g, dtype=torch.float64) + 0.5
    return real, fake


@pytest.mark.parametrize("k", [1, 3, 5])
def test_precision_recall_agree_with_torch_fidelity(k):
    from torch_fidelity.metric_prc import (
        calculate_precision_recall_full,
        calculate_precision_recall_part,
    )

    real, fake = _sets()
    ours = manifold.precision_recall(real, fake, k=k)
    assert 0.0 < ours[0] < 1.0 and 0.0 < ours[1] < 1.0
    # torch-fidelity's convention: features_1 is the generated set, features_2 the real one
    for reference in (calculate_precision_recall_full(fake, real, neighborhood=k),
                      calculate_precision_recall_part(fake, real, neighborhood=k, batch_size=128)):
        assert abs(ours[0] - reference[0]) < 1e-6 and abs(ours[1] - reference[1]) < 1e-6


def test_the_radius_convention_is_torch_fidelitys_even_with_duplicates(monkeypatch):
    from torch_fidelity.metric_prc import calculate_precision_recall_full

    real, fake = _sets(n=100, m=120)
    real = torch.cat([real, real[:50]])     # duplicated points are each other's neighbours at distance 0
    fake = torch.cat([fake, real[:10]])     # and a few fakes sit exactly on real points
    for k in (1, 2, 4):
        reference = calculate_precision_recall_full(fake, real, neighborhood=k)
        ours = manifold.precision_recall(real, fake, k=k)
        assert abs(ours[0] - reference[0]) < 1e-6 and abs(ours[1] - reference[1]) < 1e-6
    # Without exact duplicates the block size never changes the answer. (With them, a duplicate's distance
    # is round-off, about 1e-8, compared with a radius that is round-off too; blocks of another shape round
    # differently and may settle such a tie the other way, as torch-fidelity's own batched variant can.)
    real, fake = _sets(n=100, m=120)
    for k in (1, 2, 4):
        ours = manifold.precision_recall(real, fake, k=k)
        monkeypatch.setattr(manifold, "_BLOCK_ELEMENTS", 1000)   # blocks of a few rows: the same answer
        assert manifold.precision_recall(real, fake, k=k) == ours
        monkeypatch.undo()


def _density_coverage_directly(real: torch.Tensor, fake: torch.Tensor, k: int) -> tuple[float, float]:
    radii = torch.cdist(real, real).sort(1).values[:, k]    # column 0 is the point itself
    inside = torch.cdist(fake, real) <= radii                # [M, N]
    return float(inside.double().sum() / (k * len(fake))), float(inside.any(0).double().mean())


def test_density_and_coverage(monkeypatch):
    real, fake = _sets()
    for k in (2, 5):
        expected = _density_coverage_directly(real, fake, k)
        assert manifold.density_coverage(real, fake, k=k) == pytest.approx(expected, abs=1e-12)
        monkeypatch.setattr(manifold, "_BLOCK_ELEMENTS", 1000)
        assert manifold.density_coverage(real, fake, k=k) == pytest.approx(expected, abs=1e-12)
        monkeypatch.undo()
    density, coverage = manifold.density_coverage(real, real)
    assert coverage == 1.0 and 1.0 <= density < 1.5         # identical sets: every ball holds its own centre
    assert manifold.density_coverage(real, fake + 100.0) == (0.0, 0.0)


def test_one_distribution_scores_below_one_and_identical_sets_score_one():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(2, 300, 8, generator=g, dtype=torch.float64)
    precision, recall = manifold.precision_recall(a, b, k=3)
    assert 0.5 < precision < 1.0 and 0.5 < recall < 1.0      # the k-NN balls miss the tails of the other sample
    assert manifold.precision_recall(a, a) == (1.0, 1.0)
    precision_k10, recall_k10 = manifold.precision_recall(a, b, k=10)
    assert precision_k10 > precision and recall_k10 > recall  # larger balls, larger manifolds


def test_manifold_inputs_are_checked():
    real, fake = _sets(n=20, m=10)
    with pytest.raises(ValueError, match="k = 10 needs more than k samples in each set, got 10"):
        manifold.precision_recall(real, fake, k=10)
    assert manifold.density_coverage(real, fake, k=10)[1] >= 0   # only the real set needs k + 1 points
    with pytest.raises(ValueError, match="real has 8 feature dimensions but fake has 3"):
        manifold.density_coverage(real, fake[:, :3])
    with pytest.raises(TypeError, match="k must be an int"):
        manifold.precision_recall(real, fake, k=2.0)
    with pytest.raises(ValueError, match="fake has NaN or infinite values in 1 of its 10 rows"):
        manifold.precision_recall(real, torch.cat([fake[:9], torch.full((1, 8), float("nan"))]))
