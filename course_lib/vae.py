"""Lecture 3: variational autoencoders and the ELBO, measured in nats.

Read top to bottom:

1. the pieces of the ELBO: :func:`reparameterize`, :func:`gaussian_kl`,
   :func:`bernoulli_log_likelihood`, :func:`gaussian_log_likelihood`, :func:`log_normal_diag`;
2. a linear-Gaussian model whose evidence and posterior are exact (:class:`LinearGaussianModel`),
   used to check ``log p(x) - ELBO = KL(q(z|x) || p(z|x))`` with numbers;
3. gradient estimators: reparameterized vs score function (:func:`gradient_estimates`);
4. the models: :class:`MLPVAE` (784-400-20), :class:`GaussianMLPVAE` (its decoder predicts a mean and a
   variance per pixel), :class:`ConvVAE`, :class:`ConditionalVAE`;
5. the objective and its evaluation: :func:`elbo`, :func:`negative_elbo`, :func:`iwae_bound`,
   :func:`evaluate_elbo`, :func:`evaluate_iwae`, :func:`gaussian_elbo` / :func:`gaussian_negative_elbo`
   for the Gaussian decoder, and :func:`train_vae` (the course's recipe,
   :func:`course_lib.train.train_on_tensors`, on any ELBO function, the student's included);
6. helpers for the figures: :func:`encode_means`, :func:`sample_prior`, :func:`latent_explorer`.

Pixel model: every likelihood here but :func:`gaussian_elbo`'s is the *grey-level Bernoulli* one,
``sum_i x_i log p_i + (1 - x_i) log(1 - p_i)`` with ``x_i`` in [0, 1] (no binarization), summed over
the 784 pixels of an image, so the numbers are nats per image.
"""
from __future__ import annotations

import contextlib
import math
from typing import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from .config import module_device
from .frontend import why_no_widgets
from .inference import in_batches
from .train.recipes import train_on_tensors
from .validate import check_images, check_int, check_number, check_tensor

LOG_2PI = math.log(2 * math.pi)


# --------------------------------------------------------------------------------------------
# 0. Input validation
# --------------------------------------------------------------------------------------------


def _tensor(x: object, name: str) -> torch.Tensor:
    return check_tensor(x, name, floating=True)


def _same_shape(a: torch.Tensor, b: torch.Tensor, names: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{names} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")


# --------------------------------------------------------------------------------------------
# 1. The pieces of the ELBO
# --------------------------------------------------------------------------------------------


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Lecture 3. Draw ``z ~ N(mu, diag(exp(logvar)))`` as ``mu + exp(logvar / 2) * eps``.

    ``eps ~ N(0, I)`` carries all the randomness, so ``z`` is a differentiable function of
    ``mu`` and ``logvar``: gradients flow into the encoder. Shapes: any, ``mu`` and ``logvar`` equal.
    """
    _tensor(mu, "mu")
    _tensor(logvar, "logvar")
    _same_shape(mu, logvar, "mu and logvar")
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device) \
        if generator is not None else torch.randn_like(mu)
    return mu + torch.exp(0.5 * logvar) * eps


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Lecture 3. ``KL(N(mu, diag(exp(logvar))) || N(0, I))`` in closed form, one value per example.

    ``0.5 * sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2)`` over the last dimension:
    ``[N, D] -> [N]`` (a 1-D input ``[D]`` gives a scalar).
    """
    _tensor(mu, "mu")
    _tensor(logvar, "logvar")
    _same_shape(mu, logvar, "mu and logvar")
    if mu.dim() == 0:
        raise ValueError("mu and logvar need at least one dimension (the latent dimension)")
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=-1)


def bernoulli_log_likelihood(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Lecture 3. Grey-level Bernoulli ``log p(x | z)`` from decoder logits, in nats per example.

    ``sum_i x_i log sigmoid(l_i) + (1 - x_i) log(1 - sigmoid(l_i))`` summed over every pixel
    (all dimensions but the first), computed stably from the logits. ``x`` in [0, 1], same shape
    as ``logits``; returns ``[N]``. (The range of ``x`` is not checked here, in the training loop's
    hot path; :func:`train_vae` checks the images once.)
    """
    _tensor(logits, "logits")
    _tensor(x, "x")
    _same_shape(logits, x, "logits and x")
    if logits.dim() < 2:
        raise ValueError(f"expected a batch [N, ...], got shape {tuple(logits.shape)}")
    per_pixel = -F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    return per_pixel.flatten(1).sum(dim=1)


def gaussian_log_likelihood(mean: torch.Tensor, x: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """Lecture 3. ``log N(x; mean, sigma^2 I)`` per example, summed over pixels, in nats.

    ``-sum_i (x_i - mean_i)^2 / (2 sigma^2) - D/2 log(2 pi sigma^2)``: an MSE loss is this with a
    fixed ``sigma``, up to a scale and a constant. Returns ``[N]``.
    """
    _tensor(mean, "mean")
    _tensor(x, "x")
    _same_shape(mean, x, "mean and x")
    if not (isinstance(sigma, (int, float)) and sigma > 0):
        raise ValueError(f"sigma must be a positive number, got {sigma!r}")
    d = x[0].numel()
    sq = (x - mean).pow(2).flatten(1).sum(dim=1)
    return -sq / (2 * sigma**2) - 0.5 * d * (LOG_2PI + 2 * math.log(sigma))


def log_normal_diag(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Lecture 3. ``log N(z; mu, diag(exp(logvar)))`` summed over the last dimension."""
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) / logvar.exp()).sum(dim=-1)


# --------------------------------------------------------------------------------------------
# 2. A linear-Gaussian model: evidence and posterior in closed form
# --------------------------------------------------------------------------------------------


def _mvn_logpdf(x: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    d = x.shape[-1]
    chol = torch.linalg.cholesky(cov)
    diff = (x - mean).unsqueeze(-1)
    sol = torch.linalg.solve_triangular(chol, diff, upper=False).squeeze(-1)
    logdet = 2 * torch.log(torch.diagonal(chol)).sum()
    return -0.5 * (d * LOG_2PI + logdet + sol.pow(2).sum(-1))


def kl_mvn(mean_q: torch.Tensor, cov_q: torch.Tensor, mean_p: torch.Tensor,
           cov_p: torch.Tensor) -> torch.Tensor:
    """Lecture 3. ``KL(N(mean_q, cov_q) || N(mean_p, cov_p))`` for full covariance matrices."""
    d = mean_q.shape[-1]
    inv_p = torch.linalg.inv(cov_p)
    diff = mean_p - mean_q
    return 0.5 * (torch.trace(inv_p @ cov_q) + diff @ inv_p @ diff - d
                  + torch.logdet(cov_p) - torch.logdet(cov_q))


class LinearGaussianModel:
    """Lecture 3. ``z ~ N(0, I_d)``, ``x | z ~ N(W z + b, sigma^2 I_D)``: everything is exact.

    * evidence: ``p(x) = N(x; b, W W^T + sigma^2 I)``;
    * posterior: ``p(z | x) = N(S W^T (x - b) / sigma^2, S)`` with ``S = (I + W^T W / sigma^2)^-1``;
    * the ELBO of any Gaussian ``q(z) = N(m, C)`` in closed form (no sampling), and by Monte Carlo.

    Works in float64 so the identity ``log p(x) - ELBO(q) = KL(q || p(z|x))`` holds to ~1e-10.
    """

    def __init__(self, latent_dim: int = 2, data_dim: int = 5, sigma: float = 0.5, seed: int = 0) -> None:
        check_int(latent_dim, "latent_dim", 1)
        check_int(data_dim, "data_dim", 1)
        if not (isinstance(sigma, (int, float)) and sigma > 0):
            raise ValueError(f"sigma must be a positive number, got {sigma!r}")
        g = torch.Generator().manual_seed(seed)
        self.d, self.D, self.sigma = latent_dim, data_dim, float(sigma)
        self.W = torch.randn(data_dim, latent_dim, generator=g, dtype=torch.float64)
        self.b = torch.randn(data_dim, generator=g, dtype=torch.float64)

    def _x(self, x: torch.Tensor) -> torch.Tensor:
        x = _tensor(x, "x").double()
        if x.shape != (self.D,):
            raise ValueError(f"x must have shape ({self.D},), got {tuple(x.shape)}")
        return x

    def sample(self, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One draw ``(z, x)`` from the joint ``p(z) p(x | z)``."""
        z = torch.randn(self.d, generator=generator, dtype=torch.float64)
        x = self.W @ z + self.b + self.sigma * torch.randn(self.D, generator=generator, dtype=torch.float64)
        return z, x

    def log_evidence(self, x: torch.Tensor) -> torch.Tensor:
        """Exact ``log p(x)`` (a Gaussian marginal: the integral over z done by hand)."""
        x = self._x(x)
        cov = self.W @ self.W.T + self.sigma**2 * torch.eye(self.D, dtype=torch.float64)
        return _mvn_logpdf(x, self.b, cov)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact posterior ``p(z | x)`` as ``(mean [d], covariance [d, d])``."""
        x = self._x(x)
        s = torch.linalg.inv(torch.eye(self.d, dtype=torch.float64) + self.W.T @ self.W / self.sigma**2)
        return s @ self.W.T @ (x - self.b) / self.sigma**2, s

    def elbo(self, x: torch.Tensor, q_mean: torch.Tensor, q_cov: torch.Tensor) -> torch.Tensor:
        """Closed-form ``E_q[log p(x | z)] - KL(q || p(z))`` for ``q = N(q_mean, q_cov)``."""
        x = self._x(x)
        q_mean, q_cov = q_mean.double(), q_cov.double()
        if q_mean.shape != (self.d,) or q_cov.shape != (self.d, self.d):
            raise ValueError(f"q_mean must be ({self.d},) and q_cov ({self.d}, {self.d}); got "
                             f"{tuple(q_mean.shape)} and {tuple(q_cov.shape)}")
        resid = x - self.W @ q_mean - self.b
        expected_ll = (-0.5 * self.D * (LOG_2PI + 2 * math.log(self.sigma))
                       - (resid @ resid + torch.trace(self.W @ q_cov @ self.W.T)) / (2 * self.sigma**2))
        zeros, eye = torch.zeros(self.d, dtype=torch.float64), torch.eye(self.d, dtype=torch.float64)
        return expected_ll - kl_mvn(q_mean, q_cov, zeros, eye)

    def elbo_monte_carlo(self, x: torch.Tensor, q_mean: torch.Tensor, q_cov: torch.Tensor,
                         samples: int = 100_000, seed: int = 0) -> torch.Tensor:
        """The same ELBO estimated as ``mean_s [log p(x, z_s) - log q(z_s)]``, ``z_s ~ q``."""
        x = self._x(x)
        check_int(samples, "samples", 1)
        g = torch.Generator().manual_seed(seed)
        chol = torch.linalg.cholesky(q_cov.double())
        z = q_mean.double() + torch.randn(samples, self.d, generator=g, dtype=torch.float64) @ chol.T
        mean_x = z @ self.W.T + self.b
        log_lik = (-0.5 * self.D * (LOG_2PI + 2 * math.log(self.sigma))
                   - (x - mean_x).pow(2).sum(-1) / (2 * self.sigma**2))
        log_prior = -0.5 * (self.d * LOG_2PI + z.pow(2).sum(-1))
        log_q = _mvn_logpdf(z, q_mean.double(), q_cov.double())
        return (log_lik + log_prior - log_q).mean()


# --------------------------------------------------------------------------------------------
# 3. Two gradient estimators for d/dmu E_{z ~ N(mu, sigma^2)}[f(z)]
# --------------------------------------------------------------------------------------------


def gradient_estimates(f: Callable[[torch.Tensor], torch.Tensor], mu: float, sigma: float,
                       samples: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Lecture 3. Per-sample estimates of ``d/dmu E_{z~N(mu, sigma^2)}[f(z)]``, two ways.

    * ``"score"`` (REINFORCE): ``f(z) * d/dmu log N(z; mu, sigma^2) = f(z) (z - mu) / sigma^2``;
      needs only values of ``f``.
    * ``"reparam"``: ``z = mu + sigma * eps``, then autograd gives ``f'(z)``.

    Both are unbiased; returns ``{"score": [samples], "reparam": [samples]}``.
    """
    check_int(samples, "samples", 1)
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    g = torch.Generator().manual_seed(seed)
    eps = torch.randn(samples, generator=g, dtype=torch.float64)
    z = float(mu) + sigma * eps
    z_leaf = z.clone().requires_grad_(True)
    values = f(z_leaf)
    (per_sample,) = torch.autograd.grad(values.sum(), z_leaf)   # f'(z): dz/dmu = 1
    score = values.detach() * (z - mu) / sigma**2
    return {"score": score, "reparam": per_sample.detach()}


# --------------------------------------------------------------------------------------------
# 4. The models
# --------------------------------------------------------------------------------------------


class VAE(nn.Module):
    """Lecture 3. The interface all the course's VAEs share.

    ``encode(x) -> (mu, logvar)`` (the Gaussian ``q(z|x)``), ``decode_logits(z) -> logits``
    (the Bernoulli ``p(x|z)``), ``decode(z) -> pixel means in [0, 1]``, ``forward(x) ->
    (logits, mu, logvar)`` with one reparameterized sample. Conditional models take ``y`` too.
    """

    latent_dim: int
    conditional = False

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Pixel means ``sigmoid(logits)`` in [0, 1], shape ``[N, 1, 28, 28]``."""
        return torch.sigmoid(self.decode_logits(z, y))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x, y)
        return self.decode_logits(reparameterize(mu, logvar), y), mu, logvar


class MLPVAE(VAE):
    """Lecture 3. The classic MLP VAE: 784 -> 400 -> (mu, logvar) in R^20 -> 400 -> 784 logits."""

    def __init__(self, latent_dim: int = 20, hidden: int = 400) -> None:
        super().__init__()
        self.latent_dim = check_int(latent_dim, "latent_dim", 1)
        check_int(hidden, "hidden", 1)
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU())
        self.to_mu = nn.Linear(hidden, latent_dim)
        self.to_logvar = nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, 784))

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)
        return self.to_mu(h), self.to_logvar(h)

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z).view(-1, 1, 28, 28)


class GaussianMLPVAE(MLPVAE):
    """Lecture 3. The MLP VAE with a Gaussian decoder that predicts a mean *and* a variance per pixel.

    ``p(x | z) = N(x; sigmoid(m(z)), diag(exp(s(z))))``: the decoder's last layer gives 2 x 784
    numbers, the mean's logits (:meth:`decode_logits`, so :meth:`decode` is the mean in [0, 1]) and
    the log-variance (:meth:`decode_logvar`), kept above ``log(min_std**2)`` by a softplus: pixels
    that never vary (MNIST's black border) would otherwise drive their variance to 0 and the
    density to infinity.
    """

    def __init__(self, latent_dim: int = 20, hidden: int = 400, min_std: float = 0.01) -> None:
        super().__init__(latent_dim, hidden)
        self.log_min_var = 2 * math.log(check_number(min_std, "min_std", strict=True))
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, 2 * 784))

    def _decode_both(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The mean's logits and the floored log-variance, each ``[N, 1, 28, 28]``, from one decoder pass."""
        logits, raw = self.decoder(z).reshape(-1, 2, 1, 28, 28).unbind(dim=1)
        return logits, self.log_min_var + F.softplus(raw - self.log_min_var)

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self._decode_both(z)[0]

    def decode_logvar(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Per-pixel log-variance ``[N, 1, 28, 28]``, at least ``log(min_std**2)``."""
        return self._decode_both(z)[1]

    def decode_params(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mean in [0, 1], log-variance)``, each ``[N, 1, 28, 28]``, from one pass of the decoder."""
        logits, logvar = self._decode_both(z)
        return torch.sigmoid(logits), logvar


class ConvVAE(VAE):
    """Lecture 3. A convolutional VAE for 28x28 images.

    Encoder: conv 32 (stride 2, 14x14) -> conv 64 (stride 2, 7x7) -> linear ``hidden`` -> (mu, logvar).
    Decoder: linear -> 64x7x7 -> transposed conv to 32x14x14 -> transposed conv to 1x28x28 logits.
    """

    def __init__(self, latent_dim: int = 32, hidden: int = 256, channels: int = 32) -> None:
        super().__init__()
        self.latent_dim = check_int(latent_dim, "latent_dim", 1)
        c = check_int(channels, "channels", 1)
        check_int(hidden, "hidden", 1)
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c, 4, 2, 1), nn.ELU(),
            nn.Conv2d(c, 2 * c, 4, 2, 1), nn.ELU(),
            nn.Flatten(), nn.Linear(2 * c * 49, hidden), nn.ELU())
        self.to_mu = nn.Linear(hidden, latent_dim)
        self.to_logvar = nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden), nn.ELU(),
            nn.Linear(hidden, 2 * c * 49), nn.ELU(), nn.Unflatten(1, (2 * c, 7, 7)),
            nn.ConvTranspose2d(2 * c, c, 4, 2, 1), nn.ELU(),
            nn.ConvTranspose2d(c, 1, 4, 2, 1))

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)
        return self.to_mu(h), self.to_logvar(h)

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z)


class ConditionalVAE(VAE):
    """Lecture 3. An MLP VAE conditioned on the class: ``q(z | x, y)`` and ``p(x | z, y)``.

    The label enters both networks as a one-hot vector concatenated to the input. To generate a
    requested digit, draw ``z ~ N(0, I)`` and decode it with that label.
    """

    conditional = True

    def __init__(self, latent_dim: int = 16, hidden: int = 400, num_classes: int = 10) -> None:
        super().__init__()
        self.latent_dim = check_int(latent_dim, "latent_dim", 1)
        self.num_classes = check_int(num_classes, "num_classes", 2)
        check_int(hidden, "hidden", 1)
        self.encoder = nn.Sequential(nn.Linear(784 + num_classes, hidden), nn.ReLU())
        self.to_mu = nn.Linear(hidden, latent_dim)
        self.to_logvar = nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(nn.Linear(latent_dim + num_classes, hidden), nn.ReLU(),
                                     nn.Linear(hidden, 784))

    def _one_hot(self, y: torch.Tensor | None, n: int) -> torch.Tensor:
        if y is None:
            raise ValueError("a ConditionalVAE needs the labels y (int64 [N])")
        if y.dtype != torch.int64 or y.shape != (n,):
            raise ValueError(f"y must be int64 of shape [{n}], got {y.dtype} {tuple(y.shape)}")
        if n and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
            raise ValueError(f"labels must lie in 0..{self.num_classes - 1}")
        return F.one_hot(y, self.num_classes).float()

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(torch.cat([x.flatten(1), self._one_hot(y, x.shape[0])], dim=1))
        return self.to_mu(h), self.to_logvar(h)

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = torch.cat([z, self._one_hot(y, z.shape[0])], dim=1)
        return self.decoder(h).view(-1, 1, 28, 28)


# --------------------------------------------------------------------------------------------
# 5. The objective, the importance-weighted bound, training and evaluation
# --------------------------------------------------------------------------------------------


def _check_model_input(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> None:
    if not isinstance(model, VAE):
        raise TypeError(f"model must be a course_lib.vae.VAE, got {type(model).__name__}")
    check_images(x, "x")
    if model.conditional and y is None:
        raise ValueError("this model is conditional: pass the labels y")


def elbo(model: VAE, x: torch.Tensor, y: torch.Tensor | None = None, beta: float = 1.0
         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Lecture 3. One-sample ELBO per example: ``(objective [N], log p(x|z) [N], KL [N])``, in nats.

    ``objective = log p(x | z) - beta * KL(q(z|x) || N(0, I))`` with ``z`` reparameterized. With
    ``beta = 1`` it is the ELBO; it equals ``ELBO - (beta - 1) KL``, so for ``beta >= 1`` it is a
    looser lower bound on ``log p(x)``, and only ``beta < 1`` can exceed ``log p(x)``.
    """
    _check_model_input(model, x, y)
    logits, mu, logvar = model(x, y)
    rec = bernoulli_log_likelihood(logits, x)
    kl = gaussian_kl(mu, logvar)
    return rec - beta * kl, rec, kl


def negative_elbo(model: VAE, x: torch.Tensor, y: torch.Tensor | None = None, beta: float = 1.0) -> torch.Tensor:
    """Lecture 3. The training loss: ``-(log p(x|z) - beta KL)`` averaged over the batch, nats per image (0-d).

    ``x [N, 1, 28, 28]`` in [0, 1]; ``y`` the labels of a conditional model (else ``None``).
    Summing over pixels and averaging over images keeps the reconstruction and the KL in the
    ratio the bound prescribes, whatever the batch size.
    """
    return -elbo(model, x, y, beta)[0].mean()


def gaussian_elbo(model: GaussianMLPVAE, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Lecture 3. One-sample ELBO of the Gaussian decoder: ``(ELBO [N], log p(x|z) [N], KL [N])``, in nats.

    ``log p(x|z) = -1/2 sum_i [(x_i - mean_i)^2 / var_i + log var_i + log 2 pi]``: a *density* over
    continuous pixel values, so it can exceed 0 (a narrow density is larger than 1 near its mean) and
    is not on the scale of the Bernoulli decoder's numbers.
    """
    if not isinstance(model, GaussianMLPVAE):
        raise TypeError(f"model must be a GaussianMLPVAE, got {type(model).__name__}")
    check_tensor(x, "x", floating=True)
    mu, logvar = model.encode(x)
    mean, dec_logvar = model.decode_params(reparameterize(mu, logvar))
    _same_shape(mean, x, "the decoder's mean and x")
    rec = -0.5 * ((x - mean).pow(2) * torch.exp(-dec_logvar) + dec_logvar + LOG_2PI).flatten(1).sum(dim=1)
    kl = gaussian_kl(mu, logvar)
    return rec - kl, rec, kl


def gaussian_negative_elbo(model: GaussianMLPVAE, x: torch.Tensor, y: torch.Tensor | None = None,
                           beta: float = 1.0) -> torch.Tensor:
    """Lecture 3. The Gaussian decoder's training loss ``-(log p(x|z) - beta KL)``, mean over the batch (0-d)."""
    _, rec, kl = gaussian_elbo(model, x)
    return (beta * kl - rec).mean()


def vae_loss_fn(loss: Callable[..., torch.Tensor] = negative_elbo, beta: float = 1.0
                ) -> Callable[[VAE, object], torch.Tensor]:
    """Lecture 3. A ``loss_fn(model, batch)`` for :func:`course_lib.train.fit` from ``loss(model, x, y, beta)``.

    ``batch`` is an image tensor or ``(images, labels)``; labels are passed on to conditional models.
    """
    check_number(beta, "beta")

    def loss_fn(model: VAE, batch: object) -> torch.Tensor:
        x, y = (batch[0], batch[1]) if isinstance(batch, (tuple, list)) else (batch, None)
        return loss(model, x, y if model.conditional else None, beta)

    return loss_fn


def iwae_bound(model: VAE, x: torch.Tensor, k: int, y: torch.Tensor | None = None,
               chunk: int = 4096) -> torch.Tensor:
    """Lecture 3. The importance-weighted bound ``log (1/k) sum_i p(x, z_i) / q(z_i | x)`` per example.

    ``z_i ~ q(z | x)``; the average is taken in log space with ``logsumexp`` (stable for weights
    like exp(-100)). ``k = 1`` is an unbiased estimate of the ELBO; the bound tightens towards
    ``log p(x)`` as ``k`` grows. The ``N * k`` decoder passes are made ``chunk`` at a time.
    Returns ``[N]`` nats; no gradients.
    """
    _check_model_input(model, x, y)
    check_int(k, "k", 1)
    check_int(chunk, "chunk", 1)
    with torch.no_grad():
        mu, logvar = model.encode(x, y)
        n, d = mu.shape
        log_w = torch.empty(n, k, dtype=mu.dtype, device=x.device)
        per_chunk = max(1, chunk // max(n, 1))  # samples of every example drawn per decoder pass
        for start in range(0, k, per_chunk):
            m = min(per_chunk, k - start)
            eps = torch.randn(m, n, d, dtype=mu.dtype, device=x.device)
            z = mu + torch.exp(0.5 * logvar) * eps                       # [m, n, d]
            z_flat = z.reshape(m * n, d)
            y_rep = y.repeat(m) if y is not None else None
            logits = model.decode_logits(z_flat, y_rep)
            x_rep = x.unsqueeze(0).expand(m, *x.shape).reshape(m * n, *x.shape[1:])
            log_px_z = bernoulli_log_likelihood(logits, x_rep).view(m, n)
            log_pz = log_normal_diag(z, torch.zeros_like(z), torch.zeros_like(z))
            log_qz = log_normal_diag(z, mu, logvar)
            log_w[:, start:start + m] = (log_px_z + log_pz - log_qz).T
        return torch.logsumexp(log_w, dim=1) - math.log(k)


@contextlib.contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Within the block torch's generators (the CPU's and ``device``'s) are seeded; restored after."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def evaluate_elbo(model: VAE, images: torch.Tensor, labels: torch.Tensor | None = None,
                  batch_size: int = 1000, seed: int = 0) -> dict[str, float]:
    """Lecture 3. Averages in nats per image over ``images``: ``neg_elbo``, ``rec`` (``-log p(x|z)``) and ``kl``.

    One reparameterized sample per image, with a fixed ``seed`` so repeated calls agree; eval mode.
    """
    check_images(images, "images")
    labels = labels if model.conditional else None
    with _seeded(seed, module_device(model)):
        values = in_batches(model, images, labels, batch_size=batch_size,
                            fn=lambda x, y: torch.stack(elbo(model, x, y), dim=1))
    neg_elbo, rec, kl = (-values[:, 0]).mean(), (-values[:, 1]).mean(), values[:, 2].mean()
    return {"neg_elbo": float(neg_elbo), "rec": float(rec), "kl": float(kl)}


def evaluate_iwae(model: VAE, images: torch.Tensor, k: int, labels: torch.Tensor | None = None,
                  batch_size: int = 100, seed: int = 0) -> float:
    """Lecture 3. Mean negative importance-weighted bound ``-L_k`` in nats per image (fixed ``seed``, eval mode)."""
    check_images(images, "images")
    check_int(k, "k", 1)
    labels = labels if model.conditional else None
    with _seeded(seed, module_device(model)):
        bounds = in_batches(model, images, labels, batch_size=batch_size, fn=lambda x, y: iwae_bound(model, x, k, y))
    return float(-bounds.mean())


def train_vae(model: VAE, images: torch.Tensor, labels: torch.Tensor | None = None, *, epochs: int,
              lr: float = 3e-3, batch_size: int = 128, beta: float = 1.0, loss: Callable[..., torch.Tensor] = negative_elbo,
              device: torch.device | str = "cpu", checkpoint: str | None = None,
              evaluate: Callable[[nn.Module], dict[str, float]] | None = None,
              desc: str = "VAE") -> dict[str, list[float]]:
    """Lecture 3. Train ``model`` on ``loss(model, x, y, beta)`` (default :func:`negative_elbo`); return the history.

    The course's recipe (:func:`course_lib.train.train_on_tensors`: Adam, constant then linearly
    decaying learning rate, resumable); ``images [N, 1, 28, 28]`` in [0, 1], ``labels [N]`` for a
    conditional model. ``checkpoint`` is a run name: a finished run is loaded instead of retrained.
    """
    if not isinstance(model, VAE):
        raise TypeError(f"model must be a course_lib.vae.VAE, got {type(model).__name__}")
    check_images(images, "images", channels=1, size=28, value_range=(0.0, 1.0))
    if model.conditional and labels is None:
        raise ValueError("a conditional VAE trains on (images, labels): pass labels")
    tensors = (images, labels) if labels is not None else (images,)
    return train_on_tensors(model, vae_loss_fn(loss, beta), *tensors, epochs=epochs, lr=lr, batch_size=batch_size,
                            device=device, checkpoint=checkpoint, evaluate=evaluate, desc=desc)


def encode_means(model: VAE, images: torch.Tensor, labels: torch.Tensor | None = None,
                 batch_size: int = 1000) -> torch.Tensor:
    """Lecture 3. The posterior means ``mu(x)`` of ``images``, on the CPU, ``[N, latent_dim]`` (eval mode)."""
    check_images(images, "images")
    labels = labels if model.conditional else None
    return in_batches(model, images, labels, batch_size=batch_size, fn=lambda x, y: model.encode(x, y)[0])


def sample_prior(model: VAE, n: int, labels: torch.Tensor | None = None, seed: int = 0) -> torch.Tensor:
    """Lecture 3. ``n`` images ``[n, 1, 28, 28]`` decoded from ``z ~ N(0, I)`` (pixel means), on the CPU.

    ``labels [n]``: the classes a conditional model is asked for.
    """
    check_int(n, "n", 1)
    z = torch.randn(n, model.latent_dim, generator=torch.Generator().manual_seed(seed))
    return in_batches(model, z, labels, fn=model.decode)


def latent_explorer(decode: Callable[[torch.Tensor], torch.Tensor], latent_dim: int, *,
                    dims: int = 4, low: float = -3.0, high: float = 3.0, steps: int = 7,
                    base: torch.Tensor | None = None, interactive: bool | None = None,
                    device: torch.device | str = "cpu"):
    """Lecture 3. Sliders on ``dims`` latent coordinates that drive ``decode`` (ipywidgets).

    ``decode(z [N, latent_dim]) -> images``. The other coordinates stay at ``base`` (default 0,
    the prior's mean). With ``interactive=None`` the widget is used when a widget frontend is
    likely (JupyterLab, Colab); otherwise (CI, nbconvert, no ipywidgets) it draws the static
    fallback: one row per slider, that coordinate swept over ``steps`` values in [low, high].
    Returns the widget, or the static figure (already closed): either shows when it is a cell's value.
    """
    import matplotlib.pyplot as plt

    check_int(latent_dim, "latent_dim", 1)
    dims = min(check_int(dims, "dims", 1), latent_dim)
    check_int(steps, "steps", 2)
    if not high > low:
        raise ValueError(f"need high > low, got low={low}, high={high}")
    base = torch.zeros(latent_dim) if base is None else base.detach().float().cpu().reshape(-1)
    if base.shape != (latent_dim,):
        raise ValueError(f"base must have {latent_dim} values, got shape {tuple(base.shape)}")
    reason = why_no_widgets() if interactive is None else (None if interactive else "asked for")

    def images_for(z: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return decode(z.to(device)).detach().float().cpu()

    if reason is None:
        import ipywidgets as widgets

        sliders = {f"z{j}": widgets.FloatSlider(value=float(base[j]), min=low, max=high, step=0.1,
                                                description=f"z[{j}]", continuous_update=False)
                   for j in range(dims)}

        def draw(**values: float) -> None:
            z = base.clone()
            for j in range(dims):
                z[j] = values[f"z{j}"]
            image = images_for(z[None])[0, 0]
            fig, ax = plt.subplots(figsize=(2.4, 2.4))
            ax.imshow(image.numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_axis_off()
            plt.show()

        return widgets.interactive(draw, **sliders)

    print(f"Latent explorer: static view ({reason}); in JupyterLab or Colab the same call gives sliders.")
    ticks = torch.linspace(low, high, steps)
    z = base.repeat(dims * steps, 1)
    for j in range(dims):
        z[j * steps:(j + 1) * steps, j] = ticks
    images = images_for(z)
    fig, axes = plt.subplots(dims, steps, figsize=(1.1 * steps + 0.8, 1.1 * dims), squeeze=False)
    for j in range(dims):
        for s in range(steps):
            ax = axes[j, s]
            ax.imshow(images[j * steps + s, 0].numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if j == dims - 1:
                ax.set_xlabel(f"{float(ticks[s]):.1f}", fontsize=8)
        axes[j, 0].set_ylabel(f"z[{j}]", rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle("slider settings: one latent coordinate varied per row, the others at base")
    fig.tight_layout()
    # Closed, so that the notebook shows it once, as the call's value (as it shows the widget), and not
    # a second time when the inline backend draws the figures still open at the end of the cell.
    plt.close(fig)
    return fig
