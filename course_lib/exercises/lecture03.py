"""The checks behind lecture 3's check cells (VAE and the ELBO).

Each ``check_*(student_fn)`` calls the student's function on small fixed inputs, compares it with
the reference in :mod:`course_lib.vae` and raises :class:`course_lib.checks.CheckFailed` with
specific feedback (a wrong sign, a missing 1/2, log-variance read as a standard deviation, a mean
over pixels instead of a sum, ...).
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from .. import vae
from ..checks import CheckFailed, expect_close, expect_shape


def _inputs(seed: int = 0, n: int = 5, d: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(n, d, generator=g, dtype=torch.float64)
    logvar = torch.randn(n, d, generator=g, dtype=torch.float64) * 0.8
    return mu, logvar


def check_reparameterize(student: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """Exercise 1: ``z = mu + exp(logvar / 2) * eps`` with fresh noise, differentiable in mu and logvar."""
    mu, logvar = _inputs(1, n=4, d=3)
    mu.requires_grad_(True)
    logvar.requires_grad_(True)
    torch.manual_seed(0)
    z = student(mu, logvar)
    expect_shape(z, (4, 3), "reparameterize(mu, logvar)")
    if not isinstance(z, torch.Tensor) or z.grad_fn is None:
        raise CheckFailed("z carries no gradient: build it from mu and logvar with tensor operations "
                          "(no .detach(), no torch.normal(mu, std), no .item()).")
    torch.manual_seed(0)
    eps = torch.randn_like(mu)
    expected = mu + torch.exp(0.5 * logvar) * eps
    # The same noise is drawn when the student uses randn_like / randn of the same shape.
    if torch.allclose(z.detach(), expected.detach(), atol=1e-6):
        pass
    else:
        if torch.allclose(z.detach(), (mu + torch.exp(logvar) * eps).detach(), atol=1e-6):
            raise CheckFailed("you scaled the noise by exp(logvar) = the variance; the standard deviation is "
                              "exp(logvar / 2).")
        if torch.allclose(z.detach(), (mu + logvar * eps).detach(), atol=1e-6):
            raise CheckFailed("you used logvar itself as the standard deviation; it is the log of the variance: "
                              "std = exp(logvar / 2).")
        if torch.allclose(z.detach(), (mu + torch.sqrt(logvar.abs()) * eps).detach(), atol=1e-6):
            raise CheckFailed("sqrt(logvar) is not the standard deviation: std = exp(logvar / 2).")
    # Whatever noise was used, the statistics and the gradients must be right.
    big_mu = torch.full((20000, 2), 1.5, dtype=torch.float64, requires_grad=True)
    big_logvar = torch.tensor([[math.log(0.25), math.log(4.0)]], dtype=torch.float64).expand(20000, 2).clone()
    big_logvar.requires_grad_(True)
    torch.manual_seed(1)
    samples = student(big_mu, big_logvar)
    expect_shape(samples, (20000, 2), "reparameterize on a [20000, 2] batch")
    std = samples.detach().std(dim=0)
    mean = samples.detach().mean(dim=0)
    if (samples.detach() == big_mu.detach()).all():
        raise CheckFailed("z equals mu: you forgot the noise term exp(logvar / 2) * eps.")
    expect_close(mean, torch.tensor([1.5, 1.5], dtype=torch.float64), "the mean of many samples", atol=0.06)
    if torch.allclose(std, torch.tensor([0.25, 4.0], dtype=torch.float64), rtol=0.05):
        raise CheckFailed("the spread of z is the variance, not the standard deviation: use exp(logvar / 2).")
    expect_close(std, torch.tensor([0.5, 2.0], dtype=torch.float64),
                 "the standard deviation of many samples (should be exp(logvar / 2))", atol=0.0, rtol=0.05)
    samples.sum().backward()
    if big_mu.grad is None or big_logvar.grad is None:
        raise CheckFailed("no gradient reached mu or logvar: the sample must be computed from them.")
    expect_close(big_mu.grad.mean(), torch.tensor(1.0, dtype=torch.float64), "d z / d mu (averaged)", atol=1e-6)
    torch.manual_seed(2)
    a = student(mu.detach(), logvar.detach())
    b = student(mu.detach(), logvar.detach())
    if torch.allclose(a, b):
        raise CheckFailed("two calls give the same z: draw new noise on every call (torch.randn_like(mu)).")


def check_gaussian_kl(student: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """Exercise 2: closed-form ``KL(N(mu, exp(logvar)) || N(0, I))`` per example, shape [N]."""
    mu, logvar = _inputs(2, n=6, d=4)
    got = student(mu, logvar)
    expect_shape(got, (6,), "gaussian_kl(mu, logvar) for 6 examples with 4 latent dimensions "
                            "(sum over the latent dimension, one value per example)")
    if isinstance(got, torch.Tensor) and got.dtype != torch.float64:
        got = got.double()
    expected = vae.gaussian_kl(mu, logvar)
    zero = student(torch.zeros(3, 4, dtype=torch.float64), torch.zeros(3, 4, dtype=torch.float64))
    expect_close(zero, torch.zeros(3, dtype=torch.float64),
                 "the KL of N(0, I) from itself (must be 0; check the '- 1' term)", atol=1e-8)
    with_std = 0.5 * (mu.pow(2) + torch.exp(0.5 * logvar) - 1 - logvar).sum(-1)
    if torch.allclose(got, with_std, atol=1e-6):
        raise CheckFailed("you used exp(logvar / 2) (the standard deviation) where the variance exp(logvar) belongs.")
    as_var = 0.5 * (mu.pow(2) + logvar - 1 - torch.log(logvar.abs())).sum(-1)
    if torch.allclose(got, as_var, atol=1e-6):
        raise CheckFailed("you treated logvar as the variance itself; the variance is exp(logvar).")
    if torch.allclose(got, expected.mean() * torch.ones_like(expected), atol=1e-6) or \
            torch.allclose(got, 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).mean(-1), atol=1e-6):
        raise CheckFailed("you averaged over the latent dimensions; the KL of a diagonal Gaussian is the sum over them.")
    expect_close(got, expected, "gaussian_kl(mu, logvar)", atol=1e-6, rtol=1e-5)
    if (got < -1e-9).any():
        raise CheckFailed("a KL divergence is never negative.")


def check_negative_elbo(student: Callable[..., torch.Tensor]) -> None:
    """Exercise 3: ``-(log p(x|z) - beta KL)`` averaged over the batch: sum over pixels, mean over images."""
    torch.manual_seed(0)
    model = vae.MLPVAE(latent_dim=4, hidden=32).double()
    g = torch.Generator().manual_seed(3)
    x = torch.rand(6, 1, 28, 28, generator=g, dtype=torch.float64)

    def terms(m: nn.Module, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        torch.manual_seed(5)
        with torch.no_grad():
            logits, mu, logvar = m(x, y)
        return vae.bernoulli_log_likelihood(logits, x), vae.gaussian_kl(mu, logvar)

    torch.manual_seed(5)
    got = student(model, x)
    if not isinstance(got, torch.Tensor):
        raise CheckFailed(f"return a scalar tensor (so that .backward() works), got {type(got).__name__}.")
    expect_shape(got, (), "the loss (average over the batch)")
    rec, kl = terms(model)
    expected = -(rec - kl).mean()
    g_val = float(got.detach())
    if math.isclose(g_val, float((rec - kl).mean()), rel_tol=1e-6):
        raise CheckFailed("the loss is +ELBO; the optimizer minimizes, so return the negative ELBO.")
    if math.isclose(g_val, float(-(rec + kl).mean()), rel_tol=1e-6):
        raise CheckFailed("the KL enters with the wrong sign: -ELBO = reconstruction loss + KL.")
    if math.isclose(g_val, float(-rec.mean()), rel_tol=1e-6):
        raise CheckFailed("the KL term is missing: without it this is a plain (stochastic) autoencoder.")
    per_pixel_rec = -rec.mean() / 784
    if math.isclose(g_val, float(per_pixel_rec + kl.mean()), rel_tol=1e-6):
        raise CheckFailed("the reconstruction term is averaged over pixels (as F.binary_cross_entropy does by "
                          "default) but the KL is summed: the KL is then 784 times too strong. Sum over pixels "
                          "(reduction='sum' per image).")
    if math.isclose(g_val, float(-(rec - kl).sum()), rel_tol=1e-6):
        raise CheckFailed("the loss is summed over the batch; average over the images so it is nats per image.")
    if not got.requires_grad:
        raise CheckFailed("the loss has no gradient: compute it with torch operations from the model's outputs.")
    expect_close(got, expected, "the negative ELBO (nats per image)", atol=1e-6, rtol=1e-6)
    for beta in (0.0, 4.0):
        torch.manual_seed(5)
        weighted = student(model, x, beta=beta)
        if isinstance(weighted, torch.Tensor) and math.isclose(float(weighted.detach()), g_val, rel_tol=1e-9):
            raise CheckFailed(f"with beta={beta:g} you return the same loss as with beta=1: multiply the KL by beta.")
        expect_close(weighted, -(rec - beta * kl).mean(), f"the loss with beta={beta:g} (KL weighted by beta)",
                     atol=1e-6, rtol=1e-6)
    torch.manual_seed(0)
    conditional = vae.ConditionalVAE(latent_dim=3, hidden=16).double()
    labels = torch.tensor([0, 1, 2, 3, 4, 5])
    rec_c, kl_c = terms(conditional, labels)
    torch.manual_seed(5)
    try:
        got_c = student(conditional, x, labels)
    except ValueError as error:
        raise CheckFailed(f"for a conditional VAE, pass the labels on: model(x, y) ({error}).") from None
    expect_close(got_c, -(rec_c - kl_c).mean(), "the negative ELBO of a conditional VAE, model(x, y)",
                 atol=1e-6, rtol=1e-6)


def check_iwae_bound(student: Callable[[nn.Module, torch.Tensor, int], torch.Tensor]) -> None:
    """Exercise 4: the importance-weighted bound per example, ``[N]``, stable with logsumexp."""
    torch.manual_seed(0)
    model = vae.MLPVAE(latent_dim=3, hidden=16).double()
    g = torch.Generator().manual_seed(4)
    x = torch.rand(5, 1, 28, 28, generator=g, dtype=torch.float64)
    torch.manual_seed(7)
    got = student(model, x, 1)
    expect_shape(got, (5,), "iwae_bound(model, x, k=1) for 5 images (one value per image)")
    if not torch.isfinite(torch.as_tensor(got)).all():
        raise CheckFailed("the bound is NaN or inf: average the weights in log space with torch.logsumexp, "
                          "never exp(log_w) (it underflows to 0 for log-weights near -500).")
    torch.manual_seed(7)
    expected_k1 = vae.iwae_bound(model, x, 1)
    # k = 1 is one sample of log p(x, z) - log q(z | x); with 200 repeats its mean is the ELBO.
    torch.manual_seed(8)
    elbos = torch.stack([vae.elbo(model, x)[0].detach() for _ in range(200)]).mean(0)
    torch.manual_seed(9)
    k1 = torch.stack([torch.as_tensor(student(model, x, 1)).detach() for _ in range(200)]).mean(0)
    spread = torch.stack([vae.elbo(model, x)[0].detach() for _ in range(50)]).std(0).max()
    if (k1 - elbos).abs().max() > 6 * float(spread) / math.sqrt(200) + 0.5:
        if ((k1 - elbos) - math.log(1)).abs().max() > 0 and torch.allclose(k1 - elbos, -(k1 - elbos), atol=1):
            pass
        raise CheckFailed(f"with k = 1 the bound should average to the ELBO ({float(elbos.mean()):.1f} nats "
                          f"per image here), got {float(k1.mean()):.1f}. Check log p(z), log q(z|x) and that "
                          f"log p(x|z) is summed over pixels.")
    del expected_k1
    torch.manual_seed(10)
    k50 = torch.stack([torch.as_tensor(student(model, x, 50)).detach() for _ in range(5)]).mean(0)
    torch.manual_seed(10)
    ref50 = torch.stack([vae.iwae_bound(model, x, 50) for _ in range(5)]).mean(0)
    if (k50 - ref50 - math.log(50)).abs().max() < 0.5:
        raise CheckFailed("the bound is log(k) too high: logsumexp adds the k weights, so subtract log(k) "
                          "to average them.")
    if (k50 - ref50 + math.log(50)).abs().max() < 0.5 and math.log(50) > 1:
        raise CheckFailed("the bound is log(k) too low: subtract log(k) once, not twice.")
    if (k50 - elbos).mean() < -0.5:
        raise CheckFailed("with k = 50 the bound came out lower than the ELBO; it should be at least as high. "
                          "Are you averaging log-weights (a mean of logs) instead of taking logsumexp - log k?")
    expect_close(k50, ref50, "iwae_bound(model, x, k=50), averaged over 5 calls", atol=0.6, rtol=0.0)
    # stability: a model whose log-weights are around -1e4 must still give a finite number
    far = vae.MLPVAE(latent_dim=3, hidden=16).double()
    with torch.no_grad():
        far.decoder[-1].bias.fill_(40.0)
    very_negative = torch.as_tensor(student(far, torch.zeros(2, 1, 28, 28, dtype=torch.float64), 10))
    if not torch.isfinite(very_negative).all():
        raise CheckFailed("the bound is -inf for images the model finds very unlikely (log-weights near -3e4): "
                          "use torch.logsumexp over the k samples instead of log(mean(exp(...))).")
