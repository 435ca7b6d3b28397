"""Lecture 2: autoencoders, from prediction to generation.

What is specific to this lecture (the training recipe is :func:`course_lib.train.train_on_tensors`,
nearest neighbours and k-NN accuracy are in :mod:`course_lib.metrics`). Read top to bottom:

1. KL divergence and maximum likelihood on a small discrete example: :func:`entropy`,
   :func:`cross_entropy`, :func:`kl_divergence`, :func:`average_nll`,
   :func:`empirical_distribution`, :func:`discretized_gaussian`, and two fits by gradient descent
   that record the KL and the negative log-likelihood at every step
   (:func:`fit_categorical_by_max_likelihood`, :func:`fit_discretized_gaussian`);
2. models for 28x28 grey images: :class:`MLPEncoder` / :class:`MLPDecoder` and
   :class:`ConvEncoder` / :class:`ConvDecoder`, put together by :class:`MLPAutoencoder` and
   :class:`ConvAutoencoder` (``encode`` / ``decode`` / ``forward``);
3. training: :func:`reconstruction_loss` (per-pixel MSE), :func:`add_noise` (the denoising
   autoencoder's corruption), :func:`autoencoder_loss_fn` and :func:`train_autoencoder`;
4. evaluation: :func:`encode_all`, :func:`decode_all`, :func:`reconstruct_all`, :func:`reconstruction_mse`;
5. sampling the latent space, and why it goes wrong: :func:`sample_gaussian_like`,
   :func:`sample_uniform_box`, :func:`hole_fraction`;
6. the lecture's figures: :func:`show_distributions`, :func:`show_latent_holes`.

Images are float tensors ``[N, 1, 28, 28]`` with pixels in [0, 1]; codes are ``[N, latent_dim]``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from . import viz
from .inference import in_batches
from .metrics.neighbours import nearest_distances
from .train.recipes import train_on_tensors
from .validate import check_images, check_vectors
from .validate import check_int as _check_int
from .validate import check_number as _check_float
from .validate import check_tensor as _check_tensor

#: The image shape every model of this lecture reads and writes (MNIST, Fashion-MNIST).
IMAGE_SHAPE = (1, 28, 28)
NUM_PIXELS = 28 * 28

# --------------------------------------------------------------------------------------------
# Input validation (shared by everything below)
# --------------------------------------------------------------------------------------------


def _check_images(x: object, name: str = "images", unit_range: bool = False) -> torch.Tensor:
    """Images of this lecture: floating point ``[N, 1, 28, 28]``, finite, in [0, 1] when asked."""
    return check_images(x, name, channels=1, size=28, finite=True,
                        value_range=(0.0, 1.0) if unit_range else None)


def _check_distribution(p: object, name: str) -> torch.Tensor:
    """A probability vector ``[K]`` (or a batch ``[..., K]``): non-negative, summing to 1."""
    p = _check_tensor(p, name)
    if not p.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor of probabilities, got dtype {p.dtype}")
    if p.dim() == 0 or p.shape[-1] == 0:
        raise ValueError(f"{name} must have at least one category, got shape {tuple(p.shape)}")
    if not torch.isfinite(p).all() or (p < 0).any():
        raise ValueError(f"{name} must hold finite, non-negative probabilities")
    sums = p.sum(-1)
    if not torch.allclose(sums, torch.ones_like(sums), atol=1e-4):
        raise ValueError(f"{name} must sum to 1 over its last dimension, got sum(s) {sums.flatten()[:4].tolist()}")
    return p


def _check_samples(samples: object, num_categories: int, name: str = "samples") -> torch.Tensor:
    samples = _check_tensor(samples, name)
    if samples.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
        raise TypeError(f"{name} must be an integer tensor of category indices, got dtype {samples.dtype}")
    if samples.dim() != 1 or samples.numel() == 0:
        raise ValueError(f"{name} must be a non-empty 1-D tensor, got shape {tuple(samples.shape)}")
    if samples.min() < 0 or samples.max() >= num_categories:
        raise ValueError(f"{name} must lie in 0..{num_categories - 1}, got "
                         f"{int(samples.min())}..{int(samples.max())}")
    return samples.long()


# --------------------------------------------------------------------------------------------
# 1. KL divergence and maximum likelihood, on distributions over K categories
# --------------------------------------------------------------------------------------------


def entropy(p: torch.Tensor) -> torch.Tensor:
    """Lecture 2. Entropy ``H(p) = -sum_k p_k log p_k`` in nats (terms with ``p_k = 0`` count 0)."""
    p = _check_distribution(p, "p")
    return -torch.where(p > 0, p * torch.log(p.clamp_min(1e-300)), torch.zeros_like(p)).sum(-1)


def cross_entropy(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Lecture 2. Cross-entropy ``H(p, q) = -sum_k p_k log q_k`` in nats.

    It is ``+inf`` when ``q`` gives probability 0 to a category that ``p`` uses.
    """
    p, q = _check_distribution(p, "p"), _check_distribution(q, "q")
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape, got {tuple(p.shape)} and {tuple(q.shape)}")
    terms = torch.where(p > 0, -p * torch.log(q), torch.zeros_like(p))
    return terms.sum(-1)


def kl_divergence(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Lecture 2. ``KL(p || q) = sum_k p_k (log p_k - log q_k)`` in nats, over the last dimension.

    Terms with ``p_k = 0`` contribute 0 (the limit of ``x log x``); a category with ``p_k > 0``
    and ``q_k = 0`` makes the divergence ``+inf``. It is ``>= 0`` and ``0`` only when ``p == q``;
    it is not symmetric. Equivalently ``KL(p || q) = H(p, q) - H(p)``.
    """
    p, q = _check_distribution(p, "p"), _check_distribution(q, "q")
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape, got {tuple(p.shape)} and {tuple(q.shape)}")
    log_ratio = torch.log(p.clamp_min(1e-300)) - torch.log(q)
    return torch.where(p > 0, p * log_ratio, torch.zeros_like(p)).sum(-1)


def average_nll(samples: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Lecture 2. Average negative log-likelihood ``-(1/N) sum_i log q[x_i]`` of integer samples.

    With ``p_data`` the samples' empirical distribution this equals ``H(p_data, q)``, hence
    ``average_nll = KL(p_data || q) + H(p_data)``: minimizing one minimizes the other.
    """
    q = _check_distribution(q, "q")
    if q.dim() != 1:
        raise ValueError(f"q must be one distribution [K], got shape {tuple(q.shape)}")
    samples = _check_samples(samples, q.shape[0])
    return -torch.log(q[samples]).mean()


def empirical_distribution(samples: torch.Tensor, num_categories: int) -> torch.Tensor:
    """Lecture 2. The fraction of ``samples`` in each of ``num_categories`` categories (float64 [K])."""
    _check_int(num_categories, "num_categories", 1)
    samples = _check_samples(samples, num_categories)
    counts = torch.bincount(samples, minlength=num_categories).double()
    return counts / counts.sum()


def discretized_gaussian(mean: torch.Tensor, log_std: torch.Tensor, num_bins: int) -> torch.Tensor:
    """Lecture 2. A Gaussian bump over bins ``0..num_bins-1``: ``q_k ∝ exp(-(k - mean)^2 / (2 std^2))``.

    A two-parameter model family: it can place and widen one bump, never fit two. Differentiable
    in ``mean`` and ``log_std`` (0-d tensors).
    """
    _check_int(num_bins, "num_bins", 2)
    for name, value in (("mean", mean), ("log_std", log_std)):
        if not isinstance(value, torch.Tensor) or value.dim() != 0:
            raise TypeError(f"{name} must be a 0-d tensor, got {value!r}")
    k = torch.arange(num_bins, dtype=mean.dtype, device=mean.device)
    return torch.softmax(-0.5 * ((k - mean) / log_std.exp()) ** 2, dim=0)


@dataclass
class MaxLikelihoodFit:
    """Lecture 2. The record of a fit by gradient descent on the average NLL.

    ``nll[t]``, ``kl[t]`` and ``qs[t]`` (the model's distribution) are taken before step ``t``
    (the last entries after the final step); ``data_entropy`` is ``H(p_data)``, so
    ``nll[t] - kl[t] == data_entropy`` at every step.
    """

    nll: list[float] = field(default_factory=list)
    kl: list[float] = field(default_factory=list)
    qs: list[torch.Tensor] = field(default_factory=list)
    data_entropy: float = float("nan")
    p_data: torch.Tensor | None = None
    q: torch.Tensor | None = None

    def max_gap_error(self) -> float:
        """``max_t |nll[t] - kl[t] - H(p_data)|``: 0 up to rounding if KL minimization is max likelihood."""
        return max(abs(n - k - self.data_entropy) for n, k in zip(self.nll, self.kl))


def _fit_by_gradient_descent(samples: torch.Tensor, num_categories: int, params: list[torch.Tensor],
                             model: Callable[[], torch.Tensor], steps: int, lr: float) -> MaxLikelihoodFit:
    samples = _check_samples(samples, num_categories)
    _check_int(steps, "steps", 1)
    _check_float(lr, "lr", 0.0, strict=True)
    p_data = empirical_distribution(samples, num_categories)
    fit = MaxLikelihoodFit(data_entropy=float(entropy(p_data)), p_data=p_data)
    optimizer = torch.optim.Adam(params, lr=lr)
    for step in range(steps + 1):
        q = model()
        nll = average_nll(samples, q)           # what we minimize: it needs only the samples
        with torch.no_grad():
            fit.kl.append(float(kl_divergence(p_data, q)))  # what we claim we minimize
            fit.qs.append(q.detach().clone())
        fit.nll.append(float(nll.detach()))
        if step == steps:
            break
        optimizer.zero_grad()
        nll.backward()
        optimizer.step()
    fit.q = model().detach()
    return fit


def fit_categorical_by_max_likelihood(samples: torch.Tensor, num_categories: int, steps: int = 200,
                                      lr: float = 0.1) -> MaxLikelihoodFit:
    """Lecture 2. Fit a free categorical ``q = softmax(logits)`` to ``samples`` by minimizing the NLL.

    The family holds every distribution over the categories, so ``q`` tends to the empirical
    distribution and the KL to 0. Runs in float64 so the identity NLL = KL + H holds to ~1e-12.
    """
    _check_int(num_categories, "num_categories", 2)
    logits = torch.zeros(num_categories, dtype=torch.float64, requires_grad=True)
    return _fit_by_gradient_descent(samples, num_categories, [logits],
                                    lambda: torch.softmax(logits, dim=0), steps, lr)


def fit_discretized_gaussian(samples: torch.Tensor, num_bins: int, steps: int = 200,
                             lr: float = 0.1) -> MaxLikelihoodFit:
    """Lecture 2. Fit :func:`discretized_gaussian` (2 parameters) to ``samples`` by minimizing the NLL.

    Starts as a wide bump in the middle. On two-bump data the best bump sits between the bumps
    and spreads over both: the KL stays above 0 because the family is too small.
    """
    _check_int(num_bins, "num_bins", 2)
    mean = torch.tensor((num_bins - 1) / 2, dtype=torch.float64, requires_grad=True)
    log_std = torch.tensor(math.log(num_bins / 8), dtype=torch.float64, requires_grad=True)
    return _fit_by_gradient_descent(samples, num_bins, [mean, log_std],
                                    lambda: discretized_gaussian(mean, log_std, num_bins), steps, lr)


# --------------------------------------------------------------------------------------------
# 2. Models: encoders, decoders, autoencoders for [N, 1, 28, 28] images
# --------------------------------------------------------------------------------------------


class MLPEncoder(nn.Sequential):
    """Lecture 2. Flatten -> (Linear -> ReLU) per hidden size -> Linear to ``out_dim``.

    No activation after the last layer: codes may be any real numbers.
    ``[N, 1, 28, 28] -> [N, out_dim]``.
    """

    def __init__(self, out_dim: int, hidden: Sequence[int] = (512, 256)) -> None:
        _check_int(out_dim, "out_dim", 1)
        sizes = [NUM_PIXELS] + [_check_int(h, "hidden size", 1) for h in hidden]
        layers: list[nn.Module] = [nn.Flatten()]
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(n_in, n_out), nn.ReLU()]
        layers.append(nn.Linear(sizes[-1], out_dim))
        super().__init__(*layers)


class MLPDecoder(nn.Sequential):
    """Lecture 2. The mirror of :class:`MLPEncoder`, ending in a sigmoid (pixels in [0, 1]).

    ``[N, latent_dim] -> [N, 1, 28, 28]``.
    """

    def __init__(self, latent_dim: int, hidden: Sequence[int] = (512, 256)) -> None:
        _check_int(latent_dim, "latent_dim", 1)
        sizes = [latent_dim] + [_check_int(h, "hidden size", 1) for h in reversed(list(hidden))]
        layers: list[nn.Module] = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(n_in, n_out), nn.ReLU()]
        layers += [nn.Linear(sizes[-1], NUM_PIXELS), nn.Sigmoid(), nn.Unflatten(1, IMAGE_SHAPE)]
        super().__init__(*layers)


def _conv_block(n_in: int, n_out: int, *, stride: int = 1, transposed: bool = False,
                batch_norm: bool = True) -> list[nn.Module]:
    """3x3 conv (stride 1 or 2) or 4x4 transposed conv (stride 2, doubles H and W), [BN], ReLU.

    The convs keep PyTorch's default bias even before batch norm (which makes it redundant):
    the layers then read exactly as written in the notebook.
    """
    if transposed:
        conv: nn.Module = nn.ConvTranspose2d(n_in, n_out, kernel_size=4, stride=2, padding=1)
    else:
        conv = nn.Conv2d(n_in, n_out, kernel_size=3, stride=stride, padding=1)
    return [conv] + ([nn.BatchNorm2d(n_out)] if batch_norm else []) + [nn.ReLU()]


class ConvEncoder(nn.Sequential):
    """Lecture 2. Two stride-2 convs (28 -> 14 -> 7), one 3x3 conv at 7x7, then Linear to ``out_dim``.

    ``channels=(c1, c2)``: ``1 -> c1`` (14x14), ``c1 -> c2`` (7x7), ``c2 -> c2`` (7x7), each with
    batch norm (optional) and ReLU. ``[N, 1, 28, 28] -> [N, out_dim]``.
    """

    def __init__(self, out_dim: int, channels: tuple[int, int] = (32, 64), batch_norm: bool = True) -> None:
        _check_int(out_dim, "out_dim", 1)
        if len(channels) != 2:
            raise ValueError(f"channels must be two numbers (c1, c2), got {channels!r}")
        c1, c2 = (_check_int(c, "channels", 1) for c in channels)
        super().__init__(
            *_conv_block(1, c1, stride=2, batch_norm=batch_norm),     # 28 -> 14
            *_conv_block(c1, c2, stride=2, batch_norm=batch_norm),    # 14 -> 7
            *_conv_block(c2, c2, batch_norm=batch_norm),              # 7 -> 7
            nn.Flatten(),
            nn.Linear(c2 * 7 * 7, out_dim),
        )


class ConvDecoder(nn.Sequential):
    """Lecture 2. Linear to ``c1 x 7 x 7``, a 3x3 conv, two 4x4 stride-2 transposed convs, a 3x3 conv, sigmoid.

    ``channels=(c1, c2, c3)``: ``latent -> c1 x 7 x 7`` (Linear, ReLU), ``c1 -> c1`` (3x3 conv),
    ``c1 -> c2`` (14x14), ``c2 -> c3`` (28x28), each with batch norm (optional) and ReLU, then a
    3x3 conv ``c3 -> 1`` and a sigmoid. ``[N, latent_dim] -> [N, 1, 28, 28]`` in [0, 1].
    """

    def __init__(self, latent_dim: int, channels: tuple[int, int, int] = (64, 32, 16),
                 batch_norm: bool = True) -> None:
        _check_int(latent_dim, "latent_dim", 1)
        if len(channels) != 3:
            raise ValueError(f"channels must be three numbers (c1, c2, c3), got {channels!r}")
        c1, c2, c3 = (_check_int(c, "channels", 1) for c in channels)
        super().__init__(
            nn.Linear(latent_dim, c1 * 7 * 7), nn.ReLU(),
            nn.Unflatten(1, (c1, 7, 7)),
            *_conv_block(c1, c1, batch_norm=batch_norm),                      # 7 -> 7
            *_conv_block(c1, c2, transposed=True, batch_norm=batch_norm),     # 7 -> 14
            *_conv_block(c2, c3, transposed=True, batch_norm=batch_norm),     # 14 -> 28
            nn.Conv2d(c3, 1, kernel_size=3, padding=1),
            nn.Sigmoid(),
        )


class Autoencoder(nn.Module):
    """Lecture 2. ``decode(encode(x))``: an encoder to ``latent_dim`` numbers and a decoder back.

    ``encode`` and ``decode`` check shapes (not values: they run every training step), so a wrong
    input fails with a clear message rather than deep inside a layer. ``forward(x)`` returns the
    reconstruction.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, latent_dim: int) -> None:
        super().__init__()
        if not isinstance(encoder, nn.Module) or not isinstance(decoder, nn.Module):
            raise TypeError(f"encoder and decoder must be nn.Modules, got {type(encoder).__name__} "
                            f"and {type(decoder).__name__}")
        self.latent_dim = _check_int(latent_dim, "latent_dim", 1)
        self.encoder, self.decoder = encoder, decoder

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``[N, 1, 28, 28]`` -> codes ``[N, latent_dim]``."""
        if x.dim() != 4 or tuple(x.shape[1:]) != IMAGE_SHAPE:   # shapes only: this runs every step
            raise ValueError(f"encode takes images [N, 1, 28, 28], got {tuple(x.shape)}")
        z = self.encoder(x)
        if tuple(z.shape) != (x.shape[0], self.latent_dim):
            raise ValueError(f"the encoder returned shape {tuple(z.shape)}, expected "
                             f"{(x.shape[0], self.latent_dim)}")
        return z

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Codes ``[N, latent_dim]`` -> images ``[N, 1, 28, 28]``."""
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"decode takes codes [N, {self.latent_dim}], got {tuple(z.shape)}")
        x_hat = self.decoder(z)
        if tuple(x_hat.shape) != (z.shape[0],) + IMAGE_SHAPE:
            raise ValueError(f"the decoder returned shape {tuple(x_hat.shape)}, expected "
                             f"{(z.shape[0],) + IMAGE_SHAPE}")
        return x_hat

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction ``decode(encode(x))``."""
        return self.decode(self.encode(x))


class MLPAutoencoder(Autoencoder):
    """Lecture 2. :class:`MLPEncoder` + :class:`MLPDecoder` (784 -> 512 -> 256 -> latent and back).

    Pass ``encoder=`` or ``decoder=`` to plug in your own part (e.g. an exercise's solution).
    """

    def __init__(self, latent_dim: int, hidden: Sequence[int] = (512, 256), encoder: nn.Module | None = None,
                 decoder: nn.Module | None = None) -> None:
        super().__init__(encoder if encoder is not None else MLPEncoder(latent_dim, hidden),
                         decoder if decoder is not None else MLPDecoder(latent_dim, hidden), latent_dim)


class ConvAutoencoder(Autoencoder):
    """Lecture 2. :class:`ConvEncoder` + :class:`ConvDecoder`; sigmoid output in [0, 1].

    ``channels=(c1, c2)`` sets the encoder (1 -> c1 -> c2) and the decoder mirrors it
    (c2 -> c2 -> c1 -> c1 // 2 -> 1). Pass ``encoder=`` or ``decoder=`` to plug in your own part.
    """

    def __init__(self, latent_dim: int, channels: tuple[int, int] = (32, 64), batch_norm: bool = True,
                 encoder: nn.Module | None = None, decoder: nn.Module | None = None) -> None:
        if len(channels) != 2:
            raise ValueError(f"channels must be two numbers (c1, c2), got {channels!r}")
        c1, c2 = channels
        super().__init__(
            encoder if encoder is not None else ConvEncoder(latent_dim, (c1, c2), batch_norm),
            decoder if decoder is not None else ConvDecoder(latent_dim, (c2, c1, max(c1 // 2, 1)), batch_norm),
            latent_dim)


# --------------------------------------------------------------------------------------------
# 3. Training: the loss, the denoising corruption, and a short training recipe
# --------------------------------------------------------------------------------------------


def reconstruction_loss(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Lecture 2. Mean squared error over all pixels and images (pixels in [0, 1]); a 0-d tensor.

    ``mean((x_hat - x)^2)``: a per-pixel average, so its value does not depend on the batch size
    or the image size. (Summing over pixels instead multiplies it by 784.)
    """
    _check_images(x, "x (the target)", unit_range=True)
    _check_tensor(x_hat, "x_hat")
    if x_hat.shape != x.shape:
        raise ValueError(f"x_hat {tuple(x_hat.shape)} and x {tuple(x.shape)} must have the same shape")
    return F.mse_loss(x_hat, x)


def add_noise(images: torch.Tensor, std: float = 0.5, generator: torch.Generator | None = None) -> torch.Tensor:
    """Lecture 2. Gaussian corruption for a denoising autoencoder: ``clamp(x + std * eps, 0, 1)``.

    ``eps ~ N(0, 1)`` is drawn per pixel (with ``generator`` if given, for repeatable noise); the
    result stays a valid image in [0, 1]. ``images`` is not modified.
    """
    _check_images(images, "images", unit_range=True)
    std = _check_float(std, "std", 0.0)
    noise = torch.randn(images.shape, generator=generator, dtype=images.dtype,
                        device="cpu" if generator is not None else images.device).to(images.device)
    return (images + std * noise).clamp(0.0, 1.0)


def autoencoder_loss_fn(loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = reconstruction_loss,
                        corrupt: Callable[[torch.Tensor], torch.Tensor] | None = None
                        ) -> Callable[[nn.Module, torch.Tensor], torch.Tensor]:
    """Lecture 2. The ``loss_fn(model, batch)`` for :func:`course_lib.train.fit`.

    It returns ``loss(model(x_in), x)`` with ``x_in = corrupt(x)`` for a denoising autoencoder
    and ``x_in = x`` otherwise: the target is always the clean batch.
    """
    if not callable(loss) or (corrupt is not None and not callable(corrupt)):
        raise TypeError("loss and corrupt must be callables")

    def loss_fn(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        x_in = corrupt(x) if corrupt is not None else x
        return loss(model(x_in), x)

    return loss_fn


def train_autoencoder(model: Autoencoder, images: torch.Tensor, *, epochs: int, lr: float = 3e-3,
                      batch_size: int = 128, device: torch.device | str = "cpu",
                      loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = reconstruction_loss,
                      corrupt: Callable[[torch.Tensor], torch.Tensor] | None = None,
                      evaluate: Callable[[nn.Module], dict[str, float]] | None = None,
                      checkpoint: str | None = None, desc: str = "autoencoder") -> dict[str, list[float]]:
    """Lecture 2. Train ``model`` to reconstruct ``images`` ``[N, 1, 28, 28]`` in [0, 1]; return the history.

    The course's recipe (:func:`course_lib.train.train_on_tensors`: Adam, constant then linearly
    decaying learning rate, resumable). ``loss(x_hat, x)`` is the reconstruction loss;
    ``corrupt`` makes it a denoising autoencoder. ``checkpoint`` is a run name: a finished run
    is loaded instead of retrained.
    """
    _check_images(images, "images", unit_range=True)
    return train_on_tensors(model, autoencoder_loss_fn(loss, corrupt), images, epochs=epochs, lr=lr,
                            batch_size=batch_size, device=device, checkpoint=checkpoint, evaluate=evaluate,
                            desc=desc)


def encode_all(model: Autoencoder, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Lecture 2. Codes ``[N, latent_dim]`` (on the CPU) of all ``images``, in eval mode, no gradients."""
    _check_images(images)
    return in_batches(model, images, fn=model.encode, batch_size=batch_size)


def decode_all(model: Autoencoder, codes: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Lecture 2. Images ``[N, 1, 28, 28]`` (on the CPU) decoded from ``codes [N, latent_dim]``, in eval mode."""
    check_vectors(codes, "codes", model.latent_dim)
    return in_batches(model, codes, fn=model.decode, batch_size=batch_size)


def reconstruct_all(model: nn.Module, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Lecture 2. ``model(images)`` (on the CPU) in eval mode, batch by batch."""
    _check_images(images)
    return in_batches(model, images, batch_size=batch_size)


def reconstruction_mse(model: nn.Module, images: torch.Tensor, batch_size: int = 500,
                       inputs: torch.Tensor | None = None) -> float:
    """Lecture 2. Mean squared error per pixel between ``images`` and the model's reconstructions.

    ``inputs`` (same shape; e.g. noisy images for a denoising AE) is what the model sees; the
    default is ``images`` itself. Pixels in [0, 1], so 0.01 is an RMS error of 0.1 per pixel.
    """
    _check_images(images, "images", unit_range=True)
    if inputs is not None and _check_images(inputs, "inputs").shape != images.shape:
        raise ValueError(f"inputs {tuple(inputs.shape)} and images {tuple(images.shape)} must have the same shape")
    x_hat = reconstruct_all(model, images if inputs is None else inputs, batch_size)
    return float(F.mse_loss(x_hat, images.cpu()))


# --------------------------------------------------------------------------------------------
# 5. Sampling the latent space, and why an autoencoder is not a generative model
# --------------------------------------------------------------------------------------------


def sample_gaussian_like(codes: torch.Tensor, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Lecture 2. ``n`` points from the Gaussian with the mean and covariance of ``codes`` (float32 [n, D]).

    The most an autoencoder offers for sampling: it has no prior of its own, so we fit one after
    training. Any region the Gaussian covers but the codes leave empty decodes to a non-digit.
    """
    codes = check_vectors(codes).double().cpu()
    _check_int(n, "n", 1)
    if len(codes) <= codes.shape[1]:
        raise ValueError(f"need more codes ({len(codes)}) than dimensions ({codes.shape[1]}) to fit a covariance")
    mean = codes.mean(0)
    cov = torch.cov(codes.T).reshape(codes.shape[1], codes.shape[1])
    cov += 1e-6 * torch.eye(codes.shape[1], dtype=cov.dtype) * cov.diagonal().mean()
    eps = torch.randn(n, codes.shape[1], generator=generator, dtype=torch.float64)
    return (mean + eps @ torch.linalg.cholesky(cov).T).float()


def sample_uniform_box(codes: torch.Tensor, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Lecture 2. ``n`` points uniform in the axis-aligned box the ``codes`` span (float32 [n, D])."""
    codes = check_vectors(codes).float().cpu()
    _check_int(n, "n", 1)
    low, high = codes.min(0).values, codes.max(0).values
    return low + (high - low) * torch.rand(n, codes.shape[1], generator=generator)


def hole_fraction(points: torch.Tensor, train_codes: torch.Tensor, test_codes: torch.Tensor,
                  quantile: float = 0.99) -> tuple[float, float]:
    """Lecture 2. Share of ``points`` that fall in a *hole* of the code distribution.

    A point is in a hole when its distance to the nearest training code exceeds the ``quantile``
    of the same distance for real test codes (so only ``1 - quantile`` of real data would count
    as 'in a hole'). Returns ``(fraction, radius)``.
    """
    _check_float(quantile, "quantile", 0.0)
    if not quantile < 1:
        raise ValueError(f"quantile must be in [0, 1), got {quantile}")
    radius = float(torch.quantile(nearest_distances(test_codes, train_codes), quantile))
    return float((nearest_distances(points, train_codes) > radius).float().mean()), radius


# --------------------------------------------------------------------------------------------
# 6. Figures of this lecture
# --------------------------------------------------------------------------------------------


def show_distributions(distributions: Mapping[str, torch.Tensor], title: str | None = None,
                       ax: plt.Axes | None = None) -> plt.Figure:
    """Lecture 2. Side-by-side bars of several distributions ``[K]`` over the same K categories."""
    if not distributions:
        raise ValueError("show_distributions needs at least one named distribution")
    checked = {name: _check_distribution(p, name).detach().double().cpu() for name, p in distributions.items()}
    sizes = {p.shape for p in checked.values()}
    if len(sizes) != 1 or len(next(iter(sizes))) != 1:
        raise ValueError(f"all distributions must be 1-D over the same categories, got shapes {sorted(sizes)}")
    k = next(iter(sizes))[0]
    fig = viz.grouped_bars({name: p.tolist() for name, p in checked.items()}, [str(i) for i in range(k)],
                           title=title, ylabel="probability", xlabel="category $k$", value_labels=False, ax=ax)
    fig.tight_layout()
    return fig


def show_latent_holes(train_codes: torch.Tensor, points: torch.Tensor, radius: float,
                      title: str | None = None, ax: plt.Axes | None = None) -> plt.Figure:
    """Lecture 2. 2-D codes in grey and sampled points: red where no code lies within ``radius``."""
    train_codes = check_vectors(train_codes, "train_codes", 2).detach().cpu()
    points = check_vectors(points, "points", 2).detach().cpu()
    _check_float(radius, "radius", 0.0)
    in_hole = nearest_distances(points, train_codes) > radius
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 5))
    ax.scatter(train_codes[:, 0], train_codes[:, 1], s=2, c="0.6", alpha=0.5, label="training codes")
    ax.scatter(points[~in_hole, 0], points[~in_hole, 1], s=6, c="tab:blue", label="sample near a code")
    ax.scatter(points[in_hole, 0], points[in_hole, 1], s=6, c="tab:red",
               label=f"sample in a hole ({float(in_hole.float().mean()):.0%})")
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.legend(fontsize=8, loc="upper right", markerscale=2)
    if title:
        ax.set_title(title)
    return ax.figure
