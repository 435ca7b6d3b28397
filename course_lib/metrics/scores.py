"""Lecture 6's scores of a generator: the Inception Score, FID (and its extrapolation FID_inf) and KID.

Each takes feature vectors or logits (:func:`course_lib.metrics.embedding.embed` computes both) and
works in float64 on the CPU. The inputs are checked once, here: 2-D, at least two samples, finite,
the same feature dimension for both sets; fewer samples than dimensions gives a
:class:`SingularCovarianceWarning`, because FID's covariance estimate is then singular.

FID takes the trace of a matrix square root, ``Tr (C1 C2)^(1/2)``. It is computed as the sum of the
singular values of ``sqrt(C1) sqrt(C2)`` (symmetric square roots from ``eigh``), so there are no
complex numbers to discard (``scipy.linalg.sqrtm`` and the reference libraries' ``eigvals(C1 @ C2)``
drop an imaginary part); an eigenvalue of ``C1`` or ``C2`` negative beyond round-off means the input
is not a covariance, and raises.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import torch

from ..validate import check_int, check_number, check_tensor

#: Eigenvalues (and a final FID) down to -PSD_TOLERANCE x the largest one count as round-off and become 0;
#: loose enough for covariances computed in float32, tight enough to catch a matrix that is no covariance.
PSD_TOLERANCE = 1e-6
#: Entries of a kernel block computed at once: about 32 MB of float64.
_BLOCK_ELEMENTS = 1 << 22


class SingularCovarianceWarning(UserWarning):
    """Lecture 6. Fewer samples than feature dimensions: the covariance estimate is singular, FID mostly noise."""


class MeanStd(NamedTuple):
    """Lecture 6. A score over several subsets or splits: their ``mean`` and their (population) standard deviation."""

    mean: float
    std: float


def _check_features(x: object, name: str) -> torch.Tensor:
    """``x`` as float64 on the CPU, after checking it is ``[N, D]`` with ``N >= 2``, ``D >= 1`` and finite."""
    x = check_tensor(x, name, floating=True)
    if x.dim() != 2:
        raise ValueError(f"{name} must be a 2-D tensor of feature vectors [N, D], got shape {tuple(x.shape)}")
    if x.shape[0] < 2 or x.shape[1] < 1:
        raise ValueError(f"{name} needs at least 2 samples (rows) of at least 1 feature, got shape {tuple(x.shape)}")
    x = x.detach().to("cpu", torch.float64)
    bad = int((~torch.isfinite(x)).any(1).sum())
    if bad:
        raise ValueError(f"{name} has NaN or infinite values in {bad} of its {len(x)} rows: check the images "
                         f"(a diverged generator?) and the feature extractor")
    return x


def _check_pair(a: object, b: object, names: tuple[str, str] = ("features_a", "features_b")
                ) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = _check_features(a, names[0]), _check_features(b, names[1])
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{names[0]} has {a.shape[1]} feature dimensions but {names[1]} has {b.shape[1]}: "
                         f"both sets must come from the same feature extractor")
    return a, b


def _statistics(x: torch.Tensor, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    n, d = x.shape
    if n <= d:
        warnings.warn(f"{name}: {n} samples of {d} features give a singular covariance (rank <= N-1 = {n - 1} < {d}); "
                      f"FID is then dominated by the noise of the estimate. Use more samples than feature "
                      f"dimensions (several times more for a stable FID).", SingularCovarianceWarning, stacklevel=3)
    mean = x.mean(0)
    centred = x - mean   # centring first: sum(x x^T) - N m m^T loses digits when the mean is large
    return mean, centred.T @ centred / (n - 1)


def gaussian_statistics(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Lecture 6. Mean ``[D]`` and unbiased covariance ``[D, D]`` (divided by N - 1), float64, of ``features [N, D]``.

    Warns (:class:`SingularCovarianceWarning`) when ``N <= D``.
    """
    return _statistics(_check_features(features, "features"), "features")


def _psd_eigh(matrix: torch.Tensor, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (round-off negatives set to 0) and eigenvectors of a symmetric matrix that must be PSD."""
    values, vectors = torch.linalg.eigh(matrix)
    largest = float(values.abs().max())
    if float(values.min()) < -PSD_TOLERANCE * largest:
        raise ValueError(f"{name} is not positive semi-definite: eigenvalues down to {float(values.min()):.3g} "
                         f"(largest {float(values.max()):.3g}), so FID would be complex. Pass covariances of features "
                         f"as gaussian_statistics computes them (float64, from the same feature extractor); check "
                         f"that none was computed in low precision from few samples or edited by hand.")
    return values.clamp_min(0), vectors


def _check_gaussian(mean: object, cov: object, which: str) -> tuple[torch.Tensor, torch.Tensor]:
    mean = check_tensor(mean, f"mean{which}", floating=True).detach().to("cpu", torch.float64)
    cov = check_tensor(cov, f"cov{which}", floating=True).detach().to("cpu", torch.float64)
    d = mean.shape[0] if mean.dim() == 1 else -1
    if d < 1 or tuple(cov.shape) != (d, d):
        raise ValueError(f"mean{which} must be [D] and cov{which} [D, D], got {tuple(mean.shape)} and {tuple(cov.shape)}")
    if not (torch.isfinite(mean).all() and torch.isfinite(cov).all()):
        raise ValueError(f"mean{which} and cov{which} must be finite")
    if float((cov - cov.T).abs().max()) > PSD_TOLERANCE * float(cov.abs().max()):
        raise ValueError(f"cov{which} is not symmetric, so it is no covariance matrix")
    return mean, (cov + cov.T) / 2


def frechet_distance(mean1: torch.Tensor, cov1: torch.Tensor, mean2: torch.Tensor, cov2: torch.Tensor) -> float:
    """Lecture 6. Fréchet distance of two Gaussians: ``|m1 - m2|^2 + Tr(C1 + C2 - 2 (C1 C2)^(1/2))`` (float64, >= 0).

    Means ``[D]``, covariances ``[D, D]`` (symmetric positive semi-definite). Eigenvalues that are
    negative only by round-off (down to ``PSD_TOLERANCE`` x the largest) count as 0; more negative
    ones raise ``ValueError``, as would a distance that came out negative beyond round-off.
    """
    m1, c1 = _check_gaussian(mean1, cov1, "1")
    m2, c2 = _check_gaussian(mean2, cov2, "2")
    if m1.shape != m2.shape:
        raise ValueError(f"the two Gaussians have {m1.shape[0]} and {m2.shape[0]} dimensions")
    values1, vectors1 = _psd_eigh(c1, "cov1")
    values2, vectors2 = _psd_eigh(c2, "cov2")
    # Tr (C1 C2)^(1/2) is the sum of the singular values of sqrt(C1) sqrt(C2) (their squares are the
    # eigenvalues of C1 C2). Singular values are >= 0 and accurate to round-off of the largest, whereas the
    # square roots of eigenvalues of C1 C2 turn round-off noise of 1e-16 into 1e-8 (a negative FID(x, x)).
    root1 = vectors1 @ torch.diag(values1.sqrt()) @ vectors1.T
    root2 = vectors2 @ torch.diag(values2.sqrt()) @ vectors2.T
    trace_sqrt = float(torch.linalg.svdvals(root1 @ root2).sum())
    diff = m1 - m2
    scale = float(diff @ diff + values1.sum() + values2.sum())   # traces of the clipped (PSD) matrices
    return _nonnegative(scale - 2 * trace_sqrt, scale)


def _nonnegative(distance: float, scale: float) -> float:
    """``distance``, or 0 when it is negative by round-off (relative to ``scale``, the size of its terms)."""
    if distance >= 0:
        return distance
    if -distance > PSD_TOLERANCE * scale:
        raise ValueError(f"the Fréchet distance came out negative ({distance:.3g}, terms of size {scale:.3g}): "
                         f"the covariances are inconsistent; compute both with gaussian_statistics")
    return 0.0


def fid(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """Lecture 6. Fréchet Inception Distance (Heusel et al. 2017) between two sets of features ``[N, D]`` and ``[M, D]``.

    The Fréchet distance of the Gaussians fitted to each set (:func:`gaussian_statistics`): 0 for
    identical statistics, symmetric, biased upwards at small N (see :func:`fid_infinity`).
    """
    a, b = _check_pair(features_a, features_b)
    return frechet_distance(*_statistics(a, "features_a"), *_statistics(b, "features_b"))


def _kernel_sum(x: torch.Tensor, y: torch.Tensor, gamma: float, coef: float, degree: int,
                skip_diagonal: bool = False) -> float:
    """Sum of ``(gamma x.y + coef)^degree`` over all pairs of rows (without ``i == j`` when ``skip_diagonal``), in blocks."""
    rows = max(1, _BLOCK_ELEMENTS // len(y))
    total = 0.0
    for start in range(0, len(x), rows):
        k = (x[start:start + rows] @ y.T).mul_(gamma).add_(coef).pow_(degree)   # in place: one block in memory
        total += float(k.sum())
        if skip_diagonal:
            total -= float(k.diagonal(offset=start).sum())   # the pairs (i, i) of this block of rows
    return total


def _mmd2(x: torch.Tensor, y: torch.Tensor, gamma: float, coef: float, degree: int) -> float:
    m, n = len(x), len(y)
    return (_kernel_sum(x, x, gamma, coef, degree, True) / (m * (m - 1))
            + _kernel_sum(y, y, gamma, coef, degree, True) / (n * (n - 1))
            - 2 * _kernel_sum(x, y, gamma, coef, degree) / (m * n))


def kid(features_a: torch.Tensor, features_b: torch.Tensor, *, subsets: int = 1, subset_size: int | None = None,
        degree: int = 3, gamma: float | None = None, coef: float = 1.0, seed: int = 0) -> MeanStd:
    """Lecture 6. Kernel Inception Distance (Bińkowski et al. 2018): the unbiased MMD^2 of two feature sets, ``(mean, std)``.

    Kernel ``k(x, y) = (gamma x.y + coef)^degree`` with ``gamma = 1 / D`` by default. Unbiased, so
    it can be slightly negative for two samples of one distribution. With ``subsets=1`` and no
    ``subset_size`` it uses the whole sets (deterministic, ``std = 0``); otherwise it averages
    ``subsets`` random subsets of ``subset_size`` rows of each set (default ``min(1000, N, M)``),
    drawn with ``seed``; ``std`` is their population standard deviation (as torch-fidelity's).
    """
    a, b = _check_pair(features_a, features_b)
    check_int(subsets, "subsets", 1)
    check_int(degree, "degree", 1)
    check_int(seed, "seed", 0)
    coef = check_number(coef, "coef", 0.0)
    gamma = 1.0 / a.shape[1] if gamma is None else check_number(gamma, "gamma", 0.0, strict=True)
    if subsets == 1 and subset_size is None:
        return MeanStd(_mmd2(a, b, gamma, coef, degree), 0.0)
    size = min(1000, len(a), len(b)) if subset_size is None else check_int(subset_size, "subset_size", 2)
    if size > min(len(a), len(b)):
        raise ValueError(f"subset_size = {size} is more than the sets have ({len(a)} and {len(b)} rows)")
    generator = torch.Generator().manual_seed(seed)
    values = torch.tensor([_mmd2(a[torch.randperm(len(a), generator=generator)[:size]],
                                 b[torch.randperm(len(b), generator=generator)[:size]], gamma, coef, degree)
                           for _ in range(subsets)], dtype=torch.float64)
    return MeanStd(float(values.mean()), float(values.std(unbiased=False)))


def _inception_score(p: torch.Tensor) -> float:
    marginal = p.mean(0)
    conditional_entropy = -torch.xlogy(p, p).sum(1).mean()   # xlogy: 0 log 0 = 0
    return math.exp(float(-torch.xlogy(marginal, marginal).sum() - conditional_entropy))


def inception_score(logits_or_probs: torch.Tensor, *, from_logits: bool = True, splits: int = 1) -> float | MeanStd:
    """Lecture 6. Inception Score (Salimans et al. 2016): ``exp(E_x KL(p(y|x) || p(y))) = exp(H(y) - H(y|x))``.

    ``logits_or_probs [N, C]``: a classifier's logits (``from_logits=True``) or class probabilities
    (rows summing to 1). Between 1 (every sample gets the same prediction) and ``C`` (confident
    predictions, all classes equally often). Float64. With ``splits > 1`` the rows are cut into
    that many consecutive parts (shuffle first if they are sorted) and the result is
    ``MeanStd(mean, std)`` over the parts; with ``splits=1`` a float.
    """
    x = _check_features(logits_or_probs, "logits_or_probs")
    check_int(splits, "splits", 1)
    if splits > len(x):
        raise ValueError(f"splits = {splits} is more than the {len(x)} samples")
    if from_logits:
        p = x.softmax(1)
    else:
        if float(x.min()) < -1e-6 or float((x.sum(1) - 1).abs().max()) > 1e-4:
            raise ValueError("logits_or_probs must hold probabilities (>= 0, rows summing to 1) when "
                             "from_logits=False; for a classifier's raw outputs pass from_logits=True")
        p = x.clamp_min(0)
        p = p / p.sum(1, keepdim=True)
    n = len(p)
    scores = [_inception_score(p[i * n // splits:(i + 1) * n // splits]) for i in range(splits)]
    if splits == 1:
        return scores[0]
    values = torch.tensor(scores, dtype=torch.float64)
    return MeanStd(float(values.mean()), float(values.std(unbiased=False)))


def fid_infinity(fid_at: Mapping[int, float] | tuple[Sequence[int], Sequence[float]]) -> tuple[float, float]:
    """Lecture 6. FID extrapolated to infinitely many samples (Chong & Forsyth 2020): ``(fid_inf, slope)``.

    ``fid_at``: FIDs measured at several sample sizes, ``{N: FID_N}`` or ``(sizes, values)`` (e.g. from
    :func:`fid_by_sample_size`). FID's bias is close to ``slope / N``, so a least-squares line
    ``FID_N = fid_inf + slope / N`` through the points gives the bias-free value at ``1 / N = 0``.
    """
    if isinstance(fid_at, Mapping):
        sizes, values = list(fid_at.keys()), list(fid_at.values())
    elif isinstance(fid_at, (tuple, list)) and len(fid_at) == 2:
        sizes, values = list(fid_at[0]), list(fid_at[1])
    else:
        raise TypeError("fid_at must be {N: FID_N} or (sizes, values)")
    if len(sizes) != len(values):
        raise ValueError(f"fid_at has {len(sizes)} sizes but {len(values)} values")
    for n in sizes:
        check_int(n, "a sample size in fid_at", 1)
    values = [check_number(v, "an FID in fid_at", minimum=-math.inf) for v in values]
    if len(set(sizes)) < 2:
        raise ValueError(f"fitting FID_N = fid_inf + slope / N needs at least 2 different sample sizes, got {sizes}")
    x = 1.0 / torch.tensor(sizes, dtype=torch.float64)
    y = torch.tensor(values, dtype=torch.float64)
    slope = float(((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum())
    return float(y.mean() - slope * x.mean()), slope


def fid_by_sample_size(features_a: torch.Tensor, features_b: torch.Tensor, sizes: Sequence[int], *,
                       repeats: int = 1, seed: int | None = 0) -> dict[int, float]:
    """Lecture 6. FID of ``N`` rows of each set, for each ``N`` in ``sizes``: ``{N: FID_N}`` (the input of :func:`fid_infinity`).

    The rows are drawn at random without replacement (``seed``), and the FID is averaged over
    ``repeats`` draws; ``seed=None`` takes the first ``N`` rows of each set instead (one draw).
    Every ``N`` must be between 2 and the size of the smaller set.
    """
    a, b = _check_pair(features_a, features_b)
    check_int(repeats, "repeats", 1)
    if seed is None and repeats != 1:
        raise ValueError("seed=None takes the first N rows, which is the same draw every time: use repeats=1")
    if not isinstance(sizes, (list, tuple, range)) or not sizes:
        raise TypeError(f"sizes must be a non-empty list of sample sizes, got {sizes!r}")
    for n in sizes:
        check_int(n, "a sample size", 2)
        if n > min(len(a), len(b)):
            raise ValueError(f"sample size {n} is more than the sets have ({len(a)} and {len(b)} rows)")
    generator = torch.Generator().manual_seed(check_int(seed, "seed", 0)) if seed is not None else None
    results = {}
    for n in sizes:
        draws = []
        for _ in range(repeats):
            if generator is None:
                draws.append(fid(a[:n], b[:n]))
            else:
                draws.append(fid(a[torch.randperm(len(a), generator=generator)[:n]],
                                 b[torch.randperm(len(b), generator=generator)[:n]]))
        results[n] = sum(draws) / repeats
    return results
