"""Lecture 6's k-NN manifolds: precision/recall (Kynkäänniemi et al. 2019) and density/coverage (Naeem et al. 2020).

FID mixes quality and variety into one number; these metrics split them. Each sample gets a
ball reaching to its k-th nearest neighbour in its own set, and the union of the balls stands
for the manifold of that set. Precision: share of generated samples inside the real manifold
(quality); recall: share of real samples inside the generated one (variety). Density counts how
many real balls hold each generated sample (robust to real outliers), coverage is the share of
real balls that hold at least one generated sample.

The radius follows torch-fidelity's ``prc`` exactly: the (k + 1)-th smallest distance from a point
to its own set, the point itself being the 0th neighbour at distance 0 (so duplicates count as
neighbours), and a ball includes its boundary (``<=``). Distances are ``torch.cdist`` in float64,
in blocks of rows: 10,000 x 10,000 samples take about 150 MB. Exact duplicates are at a distance of
round-off size (about 1e-8, from the matrix-product form of ``cdist``), so a tie between a duplicate and a
radius that is itself a duplicate's distance may be settled either way by the rounding of one block shape
or another (torch-fidelity's batched variant has the same property); without such ties the block size
never changes a result.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from ..validate import check_int
from .scores import _BLOCK_ELEMENTS, _check_pair   # the same input checks and block size as the scores


def _by_blocks(queries: torch.Tensor, references: torch.Tensor, reduce: Callable[[torch.Tensor], torch.Tensor],
               dtype: torch.dtype) -> torch.Tensor:
    """``reduce(distances)`` row by row (``[len(queries)]``), from ``torch.cdist`` of blocks of query rows."""
    rows = max(1, _BLOCK_ELEMENTS // len(references))
    # One output, filled in place: a list of small per-block results pins the freed blocks in the
    # allocator, and 10,000 x 10,000 then takes 700 MB instead of 100 MB.
    out = torch.empty(len(queries), dtype=dtype)
    for start in range(0, len(queries), rows):
        out[start:start + rows] = reduce(torch.cdist(queries[start:start + rows], references))
    return out


def _radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance of every row of ``x`` to its k-th nearest other row: the (k + 1)-th smallest, self included."""
    return _by_blocks(x, x, lambda d: d.kthvalue(k + 1, dim=1).values, torch.float64)


def _in_any_ball(queries: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    return _by_blocks(queries, centres, lambda d: (d <= radii).any(1), torch.bool)


def _check_k(k: object, *sets: torch.Tensor) -> int:
    check_int(k, "k", 1)
    smallest = min(len(s) for s in sets)
    if k >= smallest:
        raise ValueError(f"k = {k} needs more than k samples in each set, got {smallest}")
    return k


def precision_recall(real: torch.Tensor, fake: torch.Tensor, *, k: int = 3) -> tuple[float, float]:
    """Lecture 6. Improved precision and recall (Kynkäänniemi et al. 2019) of features ``fake [M, D]`` against ``real [N, D]``.

    ``(precision, recall)`` in [0, 1]: the share of fake samples within the k-NN balls of the real
    ones, and of real samples within those of the fake ones (``k = 3`` as in the paper). Even two
    samples of one distribution score below 1, as the balls do not reach into the tails.
    """
    real, fake = _check_pair(real, fake, ("real", "fake"))
    _check_k(k, real, fake)
    precision = _in_any_ball(fake, real, _radii(real, k)).double().mean()
    recall = _in_any_ball(real, fake, _radii(fake, k)).double().mean()
    return float(precision), float(recall)


def density_coverage(real: torch.Tensor, fake: torch.Tensor, *, k: int = 5) -> tuple[float, float]:
    """Lecture 6. Density and coverage (Naeem et al. 2020) of features ``fake [M, D]`` against ``real [N, D]``.

    Only the real samples get k-NN balls (``k = 5`` as in the paper). Density: the number of real
    balls holding a fake sample, averaged over fake samples and divided by ``k`` (about 1 when the
    two sets come from one distribution, above 1 when fakes crowd where the real data is dense).
    Coverage: share of real balls that hold at least one fake sample, in [0, 1]. The balls include
    their boundary, as in :func:`precision_recall` (the authors' code excludes it: the same values
    unless distances tie exactly).
    """
    real, fake = _check_pair(real, fake, ("real", "fake"))
    _check_k(k, real)
    radii = _radii(real, k)
    inside = _by_blocks(fake, real, lambda d: (d <= radii).sum(1), torch.int64)
    nearest_fake = _by_blocks(real, fake, lambda d: d.min(1).values, torch.float64)
    return float(inside.double().mean() / k), float((nearest_fake <= radii).double().mean())
