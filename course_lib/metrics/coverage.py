"""Mode coverage: how many modes of a known mixture the samples reach, and how many samples are good.

Used on the 2-D ring of Gaussians (lecture 4, and the GAN improvements of lecture 7), where the
true modes are known, so mode collapse can be counted instead of eyeballed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..validate import check_number, check_tensor


@dataclass(frozen=True)
class ModeCoverage:
    """Lecture 4. How well samples cover the modes of a mixture.

    ``counts[m]``: high-quality samples (within ``max_sigmas`` standard deviations of a centre)
    nearest to mode ``m``; a mode is *covered* when it has at least ``min_count`` of them.
    """

    counts: torch.Tensor
    n: int
    min_count: int
    max_sigmas: float

    @property
    def modes(self) -> int:
        """The number of modes of the mixture."""
        return len(self.counts)

    @property
    def modes_covered(self) -> int:
        """Modes with at least ``min_count`` high-quality samples."""
        return int((self.counts >= self.min_count).sum())

    @property
    def high_quality_share(self) -> float:
        """Share of all samples within ``max_sigmas`` standard deviations of some mode."""
        return float(self.counts.sum()) / self.n

    def summary(self) -> str:
        """One line for printing."""
        return (f"{self.modes_covered}/{self.modes} modes covered, {self.high_quality_share:.0%} of samples "
                f"within {self.max_sigmas:g} std of a mode")


def mode_coverage(samples: torch.Tensor, centers: torch.Tensor, std: float, max_sigmas: float = 3.0,
                  min_share: float | None = None) -> ModeCoverage:
    """Lecture 4. Count the modes ``centers [M, D]`` that ``samples [N, D]`` cover, and the high-quality share.

    A sample is *high quality* when it lies within ``max_sigmas * std`` of its nearest centre. A
    mode is *covered* when it gets at least ``min_share * N`` high-quality samples; the default
    ``min_share`` is a quarter of a fair share, ``0.25 / M``.
    """
    check_tensor(samples, "samples", floating=True)
    check_tensor(centers, "centers", floating=True)
    if samples.dim() != 2 or centers.dim() != 2 or samples.shape[1] != centers.shape[1]:
        raise ValueError(f"samples [N, D] and centers [M, D] must have the same D, got {tuple(samples.shape)} "
                         f"and {tuple(centers.shape)}")
    if len(samples) == 0:
        raise ValueError("samples is empty")
    std = check_number(std, "std", strict=True)
    min_share = 0.25 / len(centers) if min_share is None else check_number(min_share, "min_share", strict=True)
    distance, nearest = torch.cdist(samples.detach().float().cpu(), centers.float().cpu()).min(dim=1)
    good = distance <= max_sigmas * std
    counts = torch.bincount(nearest[good], minlength=len(centers))
    return ModeCoverage(counts, len(samples), max(1, math.ceil(min_share * len(samples))), float(max_sigmas))
