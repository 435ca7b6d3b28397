"""course_lib.metrics.coverage: modes of a known mixture covered by samples, and the high-quality share."""
import pytest
import torch

from course_lib.metrics import coverage
from course_lib.toys import ring_centers, sample_ring


def test_all_modes_covered_by_samples_of_the_ring():
    centers = ring_centers(8, 2.0)
    samples = sample_ring(4000, std=0.05, generator=torch.Generator().manual_seed(0))
    cover = coverage.mode_coverage(samples, centers, std=0.05)
    assert isinstance(cover, coverage.ModeCoverage)
    assert cover.modes == 8 and cover.modes_covered == 8 and cover.high_quality_share > 0.98
    assert int(cover.counts.sum()) == round(cover.high_quality_share * 4000) and cover.n == 4000
    assert cover.min_count == 125                         # a quarter of a fair share: ceil(0.25 / 8 * 4000)
    assert cover.summary().startswith("8/8 modes covered")


def test_collapsed_and_far_away_samples():
    centers = ring_centers(8, 2.0)
    collapsed = centers[3] + 0.01 * torch.randn(500, 2, generator=torch.Generator().manual_seed(1))
    one = coverage.mode_coverage(collapsed, centers, std=0.05)
    assert one.modes_covered == 1 and int(one.counts[3]) == 500 and "1/8 modes" in one.summary()
    nowhere = coverage.mode_coverage(torch.zeros(100, 2), centers, std=0.05)
    assert nowhere.modes_covered == 0 and nowhere.high_quality_share == 0 and "0%" in nowhere.summary()
    # within max_sigmas: 0.14 from a centre is inside 3 std = 0.15, 0.16 is not
    near = centers[:2] + torch.tensor([[0.14, 0.0], [0.16, 0.0]])
    counts = coverage.mode_coverage(near, centers, std=0.05).counts
    assert counts.tolist() == [1, 0, 0, 0, 0, 0, 0, 0]
    assert coverage.mode_coverage(near, centers, std=0.05, max_sigmas=4.0).counts[:2].tolist() == [1, 1]


def test_min_share_decides_when_a_mode_counts():
    centers = ring_centers(4, 2.0)
    samples = torch.cat([centers[0].expand(95, 2), centers[1].expand(5, 2)])
    default = coverage.mode_coverage(samples, centers, std=0.05)
    assert default.min_count == 7 and default.modes_covered == 1        # ceil(0.25 / 4 * 100) = 7 > 5
    assert coverage.mode_coverage(samples, centers, std=0.05, min_share=0.05).modes_covered == 2
    assert coverage.mode_coverage(samples, centers, std=0.05, min_share=0.06).modes_covered == 1
    assert coverage.mode_coverage(samples[:1], centers, std=0.05, min_share=1e-6).min_count == 1


def test_mode_coverage_rejects_bad_inputs():
    centers = ring_centers(8, 2.0)
    samples = torch.zeros(5, 2)
    with pytest.raises(ValueError, match="same D"):
        coverage.mode_coverage(torch.zeros(5, 3), centers, 0.05)
    with pytest.raises(ValueError, match="std"):
        coverage.mode_coverage(samples, centers, 0.0)
    with pytest.raises(ValueError, match="empty"):
        coverage.mode_coverage(torch.zeros(0, 2), centers, 0.05)
    with pytest.raises(TypeError, match="floating"):
        coverage.mode_coverage(torch.zeros(5, 2, dtype=torch.int64), centers, 0.05)
    with pytest.raises(ValueError, match="min_share"):
        coverage.mode_coverage(samples, centers, 0.05, min_share=0.0)
