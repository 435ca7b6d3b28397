"""The checks behind lecture 6's check cells (evaluating generative models).

Each ``check_*(student_fn)`` calls the student's function on small fixed inputs whose answers are
known (ten confident classes give an Inception Score of exactly 10, two equal Gaussians a Fréchet
distance of 0, ...), then on random ones compared with the toolkit's reference in
:mod:`course_lib.metrics.scores`, and raises :class:`course_lib.checks.CheckFailed` naming the
usual mistake when the value matches it: a logarithm without the ``exp``, the entropies swapped,
the slides' squared matrix term instead of the square root, the mean term left out, a complex
number returned, a biased MMD with the diagonal left in, a kernel without its ``1/d``, ...
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..checks import CheckFailed, seeded
from ..metrics import scores

# ---------------------------------------------------------------- helpers


def _number(value: object, what: str) -> float:
    """``value`` as a Python float: a float, an int, or a one-element real tensor (else a ``CheckFailed``)."""
    if value is None:
        raise CheckFailed(f"{what} returned None: did you forget the return?")
    if isinstance(value, complex) or (isinstance(value, torch.Tensor) and value.is_complex()):
        raise CheckFailed(f"{what} returned a complex number ({value}): a distance is real. Where round-off makes "
                          f"a square root complex, keep the real part after checking that the imaginary part is "
                          f"round-off (tiny next to the real one), and raise an error if it is not.")
    if hasattr(value, "dtype") and "complex" in str(getattr(value, "dtype", "")):
        raise CheckFailed(f"{what} returned a complex NumPy value: a distance is real; keep the real part after "
                          f"checking that the imaginary part is only round-off.")
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise CheckFailed(f"{what} returned a tensor of shape {tuple(value.shape)}; return one number "
                              f"(a float or a 0-d tensor).")
        value = value.detach().cpu().reshape(()).item()
    if isinstance(value, (str, bytes, bool)):
        raise CheckFailed(f"{what} returned a {type(value).__name__} ({value!r}); return a number (a float).")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise CheckFailed(f"{what} returned a {type(value).__name__}; return one number (a float).") from None
    if math.isnan(number):
        raise CheckFailed(f"{what} is NaN: look for 0 * log(0) (torch.xlogy(p, p) is 0 there) or the square root "
                          f"of a negative round-off value.")
    if math.isinf(number):
        raise CheckFailed(f"{what} is infinite: look for log(0) or a division by zero.")
    return number


def _close(a: float, b: float, rel: float = 1e-6, abs_: float = 1e-9) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


def _unchanged(before: list[torch.Tensor], after: list[torch.Tensor], what: str) -> None:
    if any(not torch.equal(b, a) for b, a in zip(before, after)):
        raise CheckFailed(f"{what} changed its input in place: the caller's tensors must stay as they were "
                          f"(use out-of-place operations, or work on a .clone()).")


# ---------------------------------------------------------------- Exercise 1: Inception Score

def _probabilities(seed: int, n: int = 64, classes: int = 10, sharpness: float = 3.0) -> torch.Tensor:
    logits = sharpness * torch.randn(n, classes, generator=seeded(seed), dtype=torch.float64)
    return logits.softmax(1)


def _is_variants(p: torch.Tensor) -> dict[str, float]:
    """Values that common mistakes give, to name the mistake."""
    marginal = p.mean(0)
    h_marginal = float(-torch.xlogy(marginal, marginal).sum())
    h_conditional = float(-torch.xlogy(p, p).sum(1).mean())
    kl_rows = (torch.xlogy(p, p) - p * torch.log(marginal)).sum(1)
    reverse_kl = (marginal * (torch.log(marginal) - torch.log(p.clamp_min(1e-300)))).sum(1)
    return {
        "log": h_marginal - h_conditional,
        "swapped": math.exp(h_conditional - h_marginal),
        "bits": math.exp((h_marginal - h_conditional) / math.log(2)),
        "mean_of_exp": float(kl_rows.exp().mean()),
        "sum_over_samples": math.exp(float(kl_rows.sum())) if float(kl_rows.sum()) < 700 else math.inf,
        "reverse_kl": math.exp(float(reverse_kl.mean())),
        "entropy_of_marginal": math.exp(h_marginal),
    }


def check_inception_score(student_fn: Callable[[torch.Tensor], object]) -> None:
    """Exercise 1: ``inception_score(probs [N, C]) = exp(mean_x KL(p(y|x) || p(y)))``, with ``p(y)`` the mean row."""
    eye = torch.eye(10, dtype=torch.float64)
    ten = eye.repeat(3, 1)                       # 30 confident predictions, every class 3 times
    before = [ten.clone()]
    value = _number(student_fn(ten), "inception_score(30 one-hot predictions, all 10 classes equally often)")
    _unchanged(before, [ten], "inception_score")
    if _close(value, math.log(10), rel=1e-4):
        raise CheckFailed(f"you return {value:.4f} = ln 10: that is E_x KL(p(y|x) || p(y)), the logarithm of the "
                          f"score. The Inception Score is its exp.")
    if _close(value, 0.1, rel=1e-4):
        raise CheckFailed("you return 0.1 = 1/10: the entropies are swapped, the score is exp(H(y) - H(y|x)), the "
                          "marginal's entropy minus the mean entropy of the rows.")
    if _close(value, 10 ** (1 / math.log(2)), rel=1e-4):
        raise CheckFailed("the logarithms are in base 2 (or mixed): use natural logarithms (torch.log) with exp.")
    if not _close(value, 10.0, rel=1e-6):
        if _close(value, 1.0, rel=1e-4):
            raise CheckFailed("one-hot predictions of all ten classes, equally often, should score 10, you return 1: "
                              "is p(y) the mean over the samples (dim 0, p.mean(0)), not over the classes of each row?")
        raise CheckFailed(f"30 one-hot predictions, every class 3 times, should score exactly 10 (H(y) = ln 10, "
                          f"H(y|x) = 0); you return {value:.6g}. One-hot rows hold zeros: 0 * log 0 must count as 0 "
                          f"(torch.xlogy(p, p), or clamp p before the log).")
    same = eye[[3] * 20]
    one = _number(student_fn(same), "inception_score(20 identical one-hot predictions)")
    if not _close(one, 1.0, rel=1e-6):
        hint = (" Is p(y) the mean over the samples (p.mean(0))? Averaged over the classes of each row, it is "
                "uniform and every confident row looks varied.") if _close(one, 10.0, rel=1e-4) else ""
        raise CheckFailed(f"20 identical predictions (no variety at all) should score 1, the minimum; you return "
                          f"{one:.6g}.{hint}")
    uniform = torch.full((16, 10), 0.1, dtype=torch.float64)
    flat = _number(student_fn(uniform), "inception_score(16 rows of uniform probabilities)")
    if not _close(flat, 1.0, rel=1e-6):
        raise CheckFailed(f"rows that are all uniform (the classifier cannot tell) should score 1, since "
                          f"p(y|x) = p(y); you return {flat:.6g}.")
    p = _probabilities(0)
    before = [p.clone()]
    got = _number(student_fn(p), "inception_score(64 random probability rows)")
    _unchanged(before, [p], "inception_score")
    expected = scores.inception_score(p, from_logits=False)
    if _close(got, expected, rel=1e-6):
        p32 = _probabilities(1).float()
        got32 = _number(student_fn(p32), "inception_score(float32 probabilities)")
        if not _close(got32, scores.inception_score(p32, from_logits=False), rel=1e-4):
            raise CheckFailed("for float32 probabilities your score differs from the expected value by more than "
                              "1e-4 (relative): do not round to lower precision inside.")
        return
    for name, alt in _is_variants(p).items():
        if _close(got, alt, rel=1e-6):
            raise CheckFailed({
                "log": "you return E_x KL(p(y|x) || p(y)) without the exp: the score is its exponential.",
                "swapped": "the entropies are swapped: exp(H(y) - H(y|x)), not exp(H(y|x) - H(y)).",
                "bits": "the logarithms are in base 2: use natural logarithms (torch.log), matching exp.",
                "mean_of_exp": "you average exp(KL) over the samples; the score is exp of the average KL.",
                "sum_over_samples": "you sum the KL divergences over the samples; average them (mean over dim 0).",
                "reverse_kl": "the KL divergence is reversed: KL(p(y|x) || p(y)) = sum_y p(y|x) log(p(y|x) / p(y)).",
                "entropy_of_marginal": "you return exp(H(y)), the marginal's part only; subtract the mean "
                                       "entropy of the rows, H(y|x).",
            }[name])
    raise CheckFailed(f"on 64 random probability rows the score should be {expected:.6f}, you return {got:.6f}. "
                      f"Compute p(y) = p.mean(0), then exp(mean over rows of sum_y p log(p / p(y))).")


# ---------------------------------------------------------------- Exercise 2: Fréchet distance

def _gaussian(seed: int, d: int, n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """A mean and a covariance: of ``n`` random samples (rank ``n - 1`` when ``n <= d``), else a full-rank one."""
    g = seeded(seed)
    if n is None:
        a = torch.randn(d, d, generator=g, dtype=torch.float64)
        return torch.randn(d, generator=g, dtype=torch.float64), a @ a.T / d + 0.1 * torch.eye(d, dtype=torch.float64)
    x = torch.randn(n, d, generator=g, dtype=torch.float64) * torch.linspace(0.5, 2.0, d, dtype=torch.float64)
    return scores.gaussian_statistics(x) if n > d else (x.mean(0), torch.cov(x.T))


def _fd_variants(m1: torch.Tensor, c1: torch.Tensor, m2: torch.Tensor, c2: torch.Tensor) -> dict[str, float]:
    mean_term = float((m1 - m2).pow(2).sum())
    trace_sqrt = float(torch.linalg.svdvals(_sym_sqrt(c1) @ _sym_sqrt(c2)).sum())
    product = c1 @ c2
    traces = float(torch.trace(c1) + torch.trace(c2))
    return {
        "squared": mean_term + traces - 2 * float(torch.trace(product @ product)),
        "no_root": mean_term + traces - 2 * float(torch.trace(product)),
        "no_mean": traces - 2 * trace_sqrt,
        "mean_not_squared": math.sqrt(mean_term) + traces - 2 * trace_sqrt,
        "no_two": mean_term + traces - trace_sqrt,
        "elementwise": mean_term + traces - 2 * float(product.diagonal().clamp_min(0).sqrt().sum()),
        "sqrt_of_distance": math.sqrt(max(mean_term + traces - 2 * trace_sqrt, 0.0)),
    }


def _sym_sqrt(c: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(c)
    return vectors @ torch.diag(values.clamp_min(0).sqrt()) @ vectors.T


_FD_MISTAKES = {
    "squared": "the matrix term is squared: the formula is Tr(C1 + C2 - 2 (C1 C2)^(1/2)), a square root (the "
               "lecture slides print the power as 2 by mistake).",
    "no_root": "the matrix term has no square root: use Tr((C1 C2)^(1/2)), not Tr(C1 C2).",
    "no_mean": "the mean term is missing: add |mu1 - mu2|^2 (two Gaussians with equal covariances but different "
               "means are not at distance 0).",
    "mean_not_squared": "the mean term is |mu1 - mu2|, the norm; it must be squared: ((mu1 - mu2) ** 2).sum().",
    "no_two": "the factor 2 in front of Tr((C1 C2)^(1/2)) is missing.",
    "elementwise": "that square root is taken entry by entry (torch.sqrt of a matrix); the formula needs the "
                   "matrix square root, e.g. from scipy.linalg.sqrtm or the eigenvalues of C1 C2.",
    "sqrt_of_distance": "you return the square root of the distance; FID is the squared Fréchet distance itself.",
}


def _expect_fd(student_fn: Callable[..., object], m1, c1, m2, c2, what: str, rel: float = 1e-6) -> float:
    inputs = [m1, c1, m2, c2]
    before = [t.clone() for t in inputs]
    got = _number(student_fn(m1, c1, m2, c2), what)
    _unchanged(before, inputs, "frechet_distance")
    expected = scores.frechet_distance(m1, c1, m2, c2)
    scale = float((m1 - m2).pow(2).sum() + torch.trace(c1) + torch.trace(c2))
    if math.isclose(got, expected, rel_tol=rel, abs_tol=rel * scale):
        return got
    for name, alt in _fd_variants(m1, c1, m2, c2).items():
        if math.isclose(got, alt, rel_tol=1e-6, abs_tol=1e-9 * scale):
            raise CheckFailed(_FD_MISTAKES[name])
    if got < -rel * scale:
        raise CheckFailed(f"{what} is negative ({got:.4g}): a distance never is. Round-off can make eigenvalues of "
                          f"C1 C2 slightly negative or complex; clamp them at 0 before the square root.")
    if math.isclose(got, expected, rel_tol=1e-3, abs_tol=1e-3 * scale):
        raise CheckFailed(f"{what} is {got:.8g}, expected {expected:.8g}: close, but not to 1e-6. Compute in "
                          f"float64 (FID is a difference of large, nearly equal terms) and do not truncate.")
    raise CheckFailed(f"{what} is {got:.6g}, expected {expected:.6g}. The formula: |mu1 - mu2|^2 + Tr(C1) + Tr(C2) "
                      f"- 2 Tr((C1 C2)^(1/2)).")


def check_frechet_distance(student_fn: Callable[..., object]) -> None:
    """Exercise 2: ``|mu1 - mu2|^2 + Tr(C1 + C2 - 2 (C1 C2)^(1/2))`` as a real float, also for singular covariances."""
    m, c = _gaussian(0, 6)
    _expect_fd(student_fn, m, c, m.clone(), c.clone(), "frechet_distance of a Gaussian with itself (expected 0)")
    # diagonal covariances: the answer is |m1 - m2|^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2
    a = torch.tensor([1.0, 4.0, 9.0], dtype=torch.float64)
    b = torch.tensor([4.0, 1.0, 1.0], dtype=torch.float64)
    m1, m2 = torch.zeros(3, dtype=torch.float64), torch.tensor([1.0, 2.0, 0.0], dtype=torch.float64)
    _expect_fd(student_fn, m1, torch.diag(a), m2, torch.diag(b),
               "frechet_distance for diagonal covariances (expected |m1 - m2|^2 + sum (sqrt a - sqrt b)^2 = 5 + 6 = 11)")
    _expect_fd(student_fn, m, c, *_gaussian(1, 6), "frechet_distance of two random 6-D Gaussians")
    # covariances of 5 samples in 8 dimensions: singular, where a naive sqrtm(C1 @ C2) turns complex
    m1, c1 = _gaussian(2, 8, n=5)
    m2, c2 = _gaussian(3, 8, n=5)
    _expect_fd(student_fn, m1, c1, m2, c2,
               "frechet_distance for two singular covariances (5 samples in 8-D; sqrtm(C1 @ C2) has complex round-off)",
               rel=1e-5)
    m1, c1 = _gaussian(4, 4)
    _expect_fd(student_fn, m1.float(), c1.float(), m1.float() + 1, c1.float(),
               "frechet_distance of two float32 Gaussians that differ only in the mean (expected 4.0)", rel=1e-4)


# ---------------------------------------------------------------- Exercise 3: KID's unbiased MMD^2

def _kernel(x: torch.Tensor, y: torch.Tensor, gamma: float | None = None, degree: int = 3) -> torch.Tensor:
    gamma = 1.0 / x.shape[1] if gamma is None else gamma
    return (gamma * x @ y.T + 1) ** degree


def _mmd_variants(x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    m, n = len(x), len(y)

    def unbiased(kxx, kyy, kxy, cross=2.0):
        return (float(kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
                + float(kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1)) - cross * float(kxy.mean()))

    k = (_kernel(x, x), _kernel(y, y), _kernel(x, y))
    return {
        "biased": float(k[0].mean() + k[1].mean() - 2 * k[2].mean()),
        "no_gamma": unbiased(_kernel(x, x, 1.0), _kernel(y, y, 1.0), _kernel(x, y, 1.0)),
        "degree_2": unbiased(_kernel(x, x, degree=2), _kernel(y, y, degree=2), _kernel(x, y, degree=2)),
        "no_two": unbiased(*k, cross=1.0),
        "sizes_swapped": (float(k[0].sum() - k[0].diagonal().sum()) / (n * (n - 1))
                          + float(k[1].sum() - k[1].diagonal().sum()) / (m * (m - 1)) - 2 * float(k[2].mean())),
        "divided_by_m_squared": (float(k[0].sum() - k[0].diagonal().sum()) / m**2
                                 + float(k[1].sum() - k[1].diagonal().sum()) / n**2 - 2 * float(k[2].mean())),
    }


_MMD_MISTAKES = {
    "biased": "that is the biased estimate: the diagonal terms k(x_i, x_i) are included. Leave them out of the "
              "two within-set sums and divide by m (m - 1) and n (n - 1).",
    "no_gamma": "the kernel lacks its 1/d: k(x, y) = (x . y / d + 1)^3 with d the feature dimension.",
    "degree_2": "the kernel is squared; KID's kernel is cubic: (x . y / d + 1) ** 3.",
    "no_two": "the cross term needs the factor 2: ... - 2 mean_ij k(x_i, y_j).",
    "sizes_swapped": "the normalizations are swapped: the x-x sum is divided by m (m - 1), with m = len(x), and "
                     "the y-y sum by n (n - 1).",
    "divided_by_m_squared": "the within-set sums leave out the diagonal, so there are m (m - 1) terms, not m^2: "
                            "divide by m (m - 1) and n (n - 1).",
}


def check_mmd2_unbiased(student_fn: Callable[[torch.Tensor, torch.Tensor], object]) -> None:
    """Exercise 3: unbiased MMD^2 with ``k(x, y) = (x.y / d + 1)^3``, for sets of different sizes."""
    g = seeded(0)
    x = torch.randn(12, 5, generator=g, dtype=torch.float64)
    y = 0.5 + 1.5 * torch.randn(20, 5, generator=g, dtype=torch.float64)
    before = [x.clone(), y.clone()]
    got = _number(student_fn(x, y), "mmd2_unbiased(x [12, 5], y [20, 5])")
    _unchanged(before, [x, y], "mmd2_unbiased")
    expected = scores.kid(x, y).mean
    if not math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-9):
        for name, alt in _mmd_variants(x, y).items():
            if math.isclose(got, alt, rel_tol=1e-6, abs_tol=1e-9):
                raise CheckFailed(_MMD_MISTAKES[name])
        raise CheckFailed(f"mmd2_unbiased(x [12, 5], y [20, 5]) is {got:.6g}, expected {expected:.6g}. The estimate: "
                          f"sum_(i != j) k(x_i, x_j) / (m (m - 1)) + sum_(i != j) k(y_i, y_j) / (n (n - 1)) "
                          f"- 2 mean_ij k(x_i, y_j).")
    back = _number(student_fn(y, x), "mmd2_unbiased(y, x)")
    if not math.isclose(back, got, rel_tol=1e-6, abs_tol=1e-9):
        raise CheckFailed(f"MMD^2 is symmetric, but mmd2_unbiased(y, x) = {back:.6g} differs from "
                          f"mmd2_unbiased(x, y) = {got:.6g}: each set's sum must use its own size.")
    g = seeded(0)   # a draw whose unbiased estimate is negative (-0.24)
    a = torch.randn(30, 5, generator=g, dtype=torch.float64)
    b = torch.randn(30, 5, generator=g, dtype=torch.float64)
    same = _number(student_fn(a, b), "mmd2_unbiased of two samples of one distribution")
    if not math.isclose(same, scores.kid(a, b).mean, rel_tol=1e-6, abs_tol=1e-9):
        raise CheckFailed(f"for two samples of N(0, I) you return {same:.6g}, expected {scores.kid(a, b).mean:.6g} "
                          f"(an unbiased estimate can be slightly negative: do not clamp it at 0).")


# ---------------------------------------------------------------- references the notebook falls back to

def reference_inception_score(probs: torch.Tensor) -> float:
    """Exercise 1's reference: :func:`course_lib.metrics.scores.inception_score` of class probabilities ``[N, C]``."""
    return scores.inception_score(probs, from_logits=False)


def reference_mmd2_unbiased(x: torch.Tensor, y: torch.Tensor) -> float:
    """Exercise 3's reference: the unbiased MMD^2 of the whole sets, :func:`course_lib.metrics.scores.kid`'s mean."""
    return scores.kid(x, y).mean
