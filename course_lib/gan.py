"""Generative adversarial networks: the minimax game (lecture 4).

Read top to bottom:

1. optimizing the *input* instead of the weights: :func:`fgsm`, :func:`pgd_attack`,
   :func:`attack_report`, :func:`total_variation`, :func:`fooling_images`;
2. the two players of the lecture: :class:`MLPGenerator` (100-128-512-1024-784, tanh) and
   :class:`MLPDiscriminator` (784-1024-512-128-1, sigmoid), plus :func:`mlp` for small toy players,
   and what every GAN of the course uses around them: :func:`sample_noise`, :func:`to_gan_range`,
   :func:`generate` and :func:`generate_from`;
3. the losses and one step of each player: :func:`discriminator_loss`, :func:`generator_loss`
   (saturating and non-saturating), :func:`discriminator_step`, :func:`generator_step`;
4. the theory with numbers: :func:`optimal_discriminator`, :class:`GaussianMixture1D`,
   :func:`jensen_shannon`, :func:`virtual_criterion` (``C(G) = max_D V(D, G)``) and
   :func:`virtual_criterion_on_grid`,
   :func:`train_discriminator_1d`, :func:`generator_loss_gradient`;
5. mode collapse on a ring of 2-D Gaussians: :func:`ring_centers`, :func:`sample_ring`,
   :func:`mode_coverage`, and :func:`train_toy_gan`, the same game on points instead of images;
6. checkpoints of a GAN run (:func:`save_training`, :func:`restore_training`) and the figures.

Conventions: the discriminator outputs the *probability* that its input is real (a sigmoid at
the end, as in the lecture), shape ``[N, 1]``; the losses are binary cross-entropies on those
probabilities. Generated images are in [-1, 1] (tanh); datasets load in [0, 1], so
:func:`to_gan_range` maps them. All logarithms are natural (nats).
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import module_device
from .validate import check_int, check_number, check_tensor

#: Size of the noise vector z of the lecture's generator.
LATENT_DIM = 100
#: MNIST / Fashion-MNIST images.
IMAGE_SHAPE = (1, 28, 28)


# --------------------------------------------------------------------------------------------
# 0. Input validation
# --------------------------------------------------------------------------------------------


def _probabilities(p: object, name: str) -> torch.Tensor:
    p = check_tensor(p, name, floating=True)
    if p.numel() == 0:
        raise ValueError(f"{name} is empty")
    values = p.detach()
    if not torch.isfinite(values).all() or float(values.min()) < 0 or float(values.max()) > 1:
        raise ValueError(f"{name} must hold probabilities in [0, 1] (the discriminator ends in a sigmoid); "
                         f"got values in [{float(values.min()):.3g}, {float(values.max()):.3g}]. "
                         f"Logits? Apply torch.sigmoid.")
    return p


def _images(x: object, name: str = "images", value_range: tuple[float, float] = (0.0, 1.0)) -> torch.Tensor:
    x = check_tensor(x, name, floating=True)
    if x.dim() != 4:
        raise ValueError(f"{name} must be a batch of images [N, C, H, W], got shape {tuple(x.shape)}")
    low, high = value_range
    if x.numel() and (float(x.min()) < low - 1e-6 or float(x.max()) > high + 1e-6):
        raise ValueError(f"{name} must lie in [{low:g}, {high:g}], got values in "
                         f"[{float(x.min()):.3g}, {float(x.max()):.3g}]")
    return x


def _labels(labels: object, n: int, name: str = "labels") -> torch.Tensor:
    if not isinstance(labels, torch.Tensor) or labels.dtype != torch.int64:
        raise TypeError(f"{name} must be an int64 tensor of class indices, got "
                        f"{getattr(labels, 'dtype', type(labels).__name__)}")
    if labels.shape != (n,):
        raise ValueError(f"{name} must have shape [{n}] (one class per image), got {tuple(labels.shape)}")
    return labels


# --------------------------------------------------------------------------------------------
# 1. Optimizing the input: adversarial examples and fooling images
# --------------------------------------------------------------------------------------------


def _input_gradient(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``d CE(model(x), labels) / d x`` (the weights get no gradient: only ``x`` is asked for)."""
    x = images.detach().clone().requires_grad_(True)
    loss = F.cross_entropy(model(x), labels)
    (grad,) = torch.autograd.grad(loss, x)
    return grad


def fgsm(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float) -> torch.Tensor:
    """Lecture 4. The fast gradient sign method: one step of size ``eps`` up the classifier's loss.

    ``x_adv = clamp(x + eps * sign(d CE(model(x), y) / d x), 0, 1)``: every pixel moves by at most
    ``eps`` in the direction that makes the true class ``y`` less likely. ``images`` ``[N, C, H, W]``
    in [0, 1], ``labels`` int64 ``[N]``; returns a detached tensor like ``images``.
    """
    _images(images)
    _labels(labels, images.shape[0])
    eps = check_number(eps, "eps")
    grad = _input_gradient(model, images, labels)
    return (images.detach() + eps * grad.sign()).clamp(0.0, 1.0)


def pgd_attack(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float, steps: int = 20,
               step_size: float | None = None, targeted: bool = False) -> torch.Tensor:
    """Lecture 4. Projected gradient descent: repeated small signed steps, kept within ``eps`` of ``x``.

    Each step moves by ``step_size`` (default ``2.5 * eps / steps``) along the gradient's sign, then
    projects back into the box ``|x_adv - x| <= eps`` (per pixel) and into [0, 1]. Untargeted
    (default): ``labels`` are the true classes and the loss goes *up*. ``targeted=True``: ``labels``
    are the classes we want and their loss goes *down*. Returns a detached tensor like ``images``.
    """
    _images(images)
    _labels(labels, images.shape[0])
    eps = check_number(eps, "eps")
    check_int(steps, "steps", 1)
    step_size = 2.5 * eps / steps if step_size is None else check_number(step_size, "step_size", strict=True)
    clean = images.detach()
    x = clean.clone()
    direction = -1.0 if targeted else 1.0
    for _ in range(steps):
        x = x + direction * step_size * _input_gradient(model, x, labels).sign()
        x = torch.maximum(torch.minimum(x, clean + eps), clean - eps).clamp(0.0, 1.0)
    return x


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Lecture 4. ``(predicted class, its softmax probability)``, both ``[N]``."""
    top, classes = model(images).softmax(dim=1).max(dim=1)
    return classes, top


def attack_report(model: nn.Module, clean: torch.Tensor, adversarial: torch.Tensor,
                  labels: torch.Tensor) -> dict[str, float]:
    """Lecture 4. How an attack did: accuracies before/after, share of correct predictions flipped, size of the change.

    ``flip_rate`` counts only images the model classified correctly before the attack.
    ``max_change`` is the largest per-pixel change (the L-infinity norm); ``mean_change`` the mean
    absolute change per pixel.
    """
    _images(clean, "clean")
    _images(adversarial, "adversarial")
    if clean.shape != adversarial.shape:
        raise ValueError(f"clean and adversarial must have the same shape, got {tuple(clean.shape)} "
                         f"and {tuple(adversarial.shape)}")
    _labels(labels, clean.shape[0])
    before, _ = predict(model, clean)
    after, _ = predict(model, adversarial)
    correct = before == labels
    flipped = (after != labels) & correct
    change = (adversarial - clean).abs()
    return {"clean_accuracy": float(correct.float().mean()),
            "adversarial_accuracy": float((after == labels).float().mean()),
            "flip_rate": float(flipped.sum()) / max(int(correct.sum()), 1),
            "max_change": float(change.max()),
            "mean_change": float(change.mean())}


def total_variation(images: torch.Tensor, beta: float = 2.0) -> torch.Tensor:
    """Lecture 4. The total-variation regularizer of each image, ``[N]``.

    ``sum_{i,j} ((x[i, j+1] - x[i, j])^2 + (x[i+1, j] - x[i, j])^2)^(beta / 2)`` over the pixels that
    have both a right and a lower neighbour, summed over channels. Small for images made of flat
    patches, large for noise. ``beta = 2`` (the default) is the sum of squared differences.
    """
    check_tensor(images, "images", floating=True)
    if images.dim() != 4 or images.shape[-1] < 2 or images.shape[-2] < 2:
        raise ValueError(f"images must be [N, C, H, W] with H, W >= 2, got shape {tuple(images.shape)}")
    beta = check_number(beta, "beta", strict=True)
    right = images[..., :-1, 1:] - images[..., :-1, :-1]
    down = images[..., 1:, :-1] - images[..., :-1, :-1]
    squared = right.pow(2) + down.pow(2)
    per_pixel = squared if beta == 2.0 else (squared + 1e-8).pow(beta / 2)
    return per_pixel.flatten(1).sum(dim=1)


def fooling_images(model: nn.Module, targets: torch.Tensor, steps: int = 200, lr: float = 0.05,
                   tv_weight: float = 0.0, seed: int = 0,
                   image_shape: tuple[int, ...] = IMAGE_SHAPE) -> torch.Tensor:
    """Lecture 4. Images optimized from uniform noise until ``model`` calls them ``targets``.

    Minimizes ``CE(model(x), target) + tv_weight * total_variation(x)`` over the pixels ``x`` with
    Adam, clipping ``x`` to [0, 1] after every step. Without the TV term the result still looks like
    noise to us yet is classified with high confidence (Nguyen et al., 2015); the TV term makes it
    smoother. ``targets``: int64 ``[N]``, one wanted class per image. Returns ``[N, *image_shape]``.
    """
    check_int(steps, "steps", 1)
    lr = check_number(lr, "lr", strict=True)
    tv_weight = check_number(tv_weight, "tv_weight")
    if not isinstance(targets, torch.Tensor) or targets.dtype != torch.int64 or targets.dim() != 1:
        raise TypeError(f"targets must be an int64 tensor [N] of class indices, got "
                        f"{getattr(targets, 'dtype', type(targets).__name__)} {tuple(getattr(targets, 'shape', ()))}")
    device = module_device(model)
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(len(targets), *image_shape, generator=g).to(device).requires_grad_(True)
    targets = targets.to(device)
    optimizer = torch.optim.Adam([x], lr=lr)
    for _ in range(steps):
        loss = F.cross_entropy(model(x), targets) + tv_weight * total_variation(x).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            x.clamp_(0.0, 1.0)
    return x.detach()


# --------------------------------------------------------------------------------------------
# 2. The players
# --------------------------------------------------------------------------------------------


def mlp(sizes: Sequence[int], negative_slope: float = 0.2, out_activation: str | None = None,
        dropout: float = 0.0) -> nn.Sequential:
    """Lecture 4. ``Linear`` layers of the given sizes with LeakyReLU between them.

    ``out_activation``: ``"tanh"``, ``"sigmoid"`` or ``None`` (identity). ``dropout`` (after each
    hidden activation) defaults to 0. Used for the lecture's players and the small toy ones.
    """
    sizes = [check_int(s, "every layer size", 1) for s in sizes]
    if len(sizes) < 2:
        raise ValueError(f"mlp needs at least an input and an output size, got {list(sizes)}")
    if out_activation not in (None, "tanh", "sigmoid"):
        raise ValueError(f"out_activation must be 'tanh', 'sigmoid' or None, got {out_activation!r}")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.LeakyReLU(negative_slope))
            if dropout:
                layers.append(nn.Dropout(dropout))
    if out_activation == "tanh":
        layers.append(nn.Tanh())
    elif out_activation == "sigmoid":
        layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    """Lecture 4. The lecture's generator: z in R^100 -> 128 -> 512 -> 1024 -> 784 pixels, tanh.

    ``forward(z [N, latent_dim]) -> images [N, 1, 28, 28]`` in [-1, 1]. Hidden layers use
    LeakyReLU(0.2) (the slides use ReLU; the leaky version trains a little more reliably).
    """

    def __init__(self, latent_dim: int = LATENT_DIM, hidden: Sequence[int] = (128, 512, 1024),
                 image_shape: tuple[int, ...] = IMAGE_SHAPE) -> None:
        super().__init__()
        self.latent_dim = check_int(latent_dim, "latent_dim", 1)
        self.image_shape = tuple(image_shape)
        self.net = mlp([latent_dim, *hidden, math.prod(self.image_shape)], out_activation="tanh")

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        check_tensor(z, "z", floating=True)
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"the generator takes noise [N, {self.latent_dim}], got shape {tuple(z.shape)}")
        return self.net(z).view(len(z), *self.image_shape)


class MLPDiscriminator(nn.Module):
    """Lecture 4. The lecture's discriminator: 784 pixels -> 1024 -> 512 -> 128 -> 1, sigmoid.

    ``forward(x [N, 1, 28, 28] or [N, 784]) -> [N, 1]``, the probability that ``x`` is real.
    Hidden layers use LeakyReLU(0.2); ``dropout`` (default 0) is an option for small datasets.
    """

    def __init__(self, image_shape: tuple[int, ...] = IMAGE_SHAPE, hidden: Sequence[int] = (1024, 512, 128),
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.in_features = math.prod(image_shape)
        self.net = mlp([self.in_features, *hidden, 1], out_activation="sigmoid", dropout=dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", floating=True)
        flat = x.reshape(len(x), -1)
        if flat.shape[1] != self.in_features:
            raise ValueError(f"the discriminator takes images of {self.in_features} pixels, got shape {tuple(x.shape)}")
        return self.net(flat)


def sample_noise(n: int, latent_dim: int = LATENT_DIM, device: torch.device | str = "cpu",
                 seed: int | None = None) -> torch.Tensor:
    """Lecture 4. ``n`` noise vectors ``z ~ N(0, I)``, ``[n, latent_dim]``; a ``seed`` makes them repeatable."""
    check_int(n, "n", 1)
    check_int(latent_dim, "latent_dim", 1)
    if seed is None:
        return torch.randn(n, latent_dim, device=device)
    return torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed)).to(device)


def to_gan_range(images: torch.Tensor) -> torch.Tensor:
    """Lecture 4. Pixels in [0, 1] (as datasets load) to [-1, 1] (the range of the generator's tanh)."""
    _images(images)
    return images * 2.0 - 1.0


def from_gan_range(images: torch.Tensor) -> torch.Tensor:
    """Lecture 4. Pixels in [-1, 1] back to [0, 1] (what the course classifier takes)."""
    _images(images, value_range=(-1.0, 1.0))
    return (images + 1.0) / 2.0


@torch.no_grad()
def generate_from(generator: nn.Module, z: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Lecture 4. ``generator(z)`` for given codes ``z``: in eval mode, in batches, without gradients.

    Returns the images on the CPU, in the generator's output range ([-1, 1] for tanh). The
    generator's train/eval mode is restored afterwards (it matters for batch norm, lecture 5).
    """
    if not isinstance(generator, nn.Module):
        raise TypeError(f"generator must be an nn.Module, got {type(generator).__name__}")
    z = check_tensor(z, "z", floating=True)
    if z.dim() not in (2, 4) or z.shape[0] == 0:
        raise ValueError(f"z must be a non-empty batch [N, latent_dim], got shape {tuple(z.shape)}")
    check_int(batch_size, "batch_size", 1)
    was_training = generator.training
    generator.eval()
    device = module_device(generator)
    try:
        return torch.cat([generator(z[i:i + batch_size].to(device)).float().cpu()
                          for i in range(0, len(z), batch_size)])
    finally:
        generator.train(was_training)


def generate(generator: nn.Module, n: int, seed: int | None = 0, batch_size: int = 1000) -> torch.Tensor:
    """Lecture 4. ``n`` samples ``G(z)``, ``z ~ N(0, I)`` (a fixed ``seed`` repeats them), on the CPU.

    The generator needs a ``latent_dim`` attribute (every generator of the course has one).
    """
    check_int(n, "n", 1)
    latent_dim = getattr(generator, "latent_dim", None)
    if not isinstance(latent_dim, int):
        raise TypeError(f"generate needs a generator with an int latent_dim attribute, got {type(generator).__name__}")
    return generate_from(generator, sample_noise(n, latent_dim, seed=seed), batch_size=batch_size)


# --------------------------------------------------------------------------------------------
# 3. The losses and one step of each player
# --------------------------------------------------------------------------------------------
#
# The value function  V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))].  D ascends it, G descends it.


def discriminator_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Lecture 4. ``BCE(D(x), 1) + BCE(D(G(z)), 0)``, each averaged over its batch: a scalar.

    This is ``-(mean log D(x) + mean log(1 - D(G(z))))``, the negative of the value function's
    estimate on the minibatch, so minimizing it is Algorithm 1's gradient *ascent* for D.
    ``F.binary_cross_entropy`` clamps each log at -100, so D outputs of exactly 0 or 1 stay finite.
    """
    _probabilities(d_real, "d_real")
    _probabilities(d_fake, "d_fake")
    return (F.binary_cross_entropy(d_real, torch.ones_like(d_real))
            + F.binary_cross_entropy(d_fake, torch.zeros_like(d_fake)))


def generator_loss(d_fake: torch.Tensor, saturating: bool = False) -> torch.Tensor:
    """Lecture 4. The generator's loss from ``D(G(z))``: a scalar to minimize.

    * non-saturating (default, the one used in practice): ``BCE(D(G(z)), 1) = -mean log D(G(z))``;
    * saturating (the minimax form of the value function): ``mean log(1 - D(G(z)))``.

    Both push ``D(G(z))`` up. When D confidently rejects the fakes (``D(G(z))`` near 0) the saturating
    form's gradient vanishes, the non-saturating one's does not (see :func:`generator_loss_gradient`).
    """
    _probabilities(d_fake, "d_fake")
    if not isinstance(saturating, bool):
        raise TypeError(f"saturating must be True or False, got {saturating!r}")
    if saturating:
        return -F.binary_cross_entropy(d_fake, torch.zeros_like(d_fake))
    return F.binary_cross_entropy(d_fake, torch.ones_like(d_fake))


def discriminator_step(discriminator: nn.Module, generator: nn.Module, real: torch.Tensor, z: torch.Tensor,
                       d_optimizer: torch.optim.Optimizer,
                       loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = discriminator_loss) -> float:
    """Lecture 4. One update of D on a real minibatch and the fakes ``G(z)``; returns the loss before it.

    The fakes are *detached*: D's loss must move D's weights only. Without ``detach`` the backward
    pass would also run through G, computing gradients nobody uses (and leaving them in G's
    ``.grad``, where they add to G's next gradient unless zeroed).
    """
    fake = generator(z).detach()
    loss = loss_fn(discriminator(real), discriminator(fake))
    d_optimizer.zero_grad(set_to_none=True)
    loss.backward()
    d_optimizer.step()
    return loss.item()


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Lecture 4. Within the block, ``module``'s parameters get no gradients (they are restored after).

    Used in the generator's step: the gradient must flow *through* D to G, but D's own weight
    gradients would be wasted work.
    """
    flags = [p.requires_grad for p in module.parameters()]
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags):
            p.requires_grad_(flag)


def generator_step(discriminator: nn.Module, generator: nn.Module, z: torch.Tensor,
                   g_optimizer: torch.optim.Optimizer, saturating: bool = False,
                   loss_fn: Callable[..., torch.Tensor] = generator_loss) -> float:
    """Lecture 4. One update of G through the (frozen) discriminator; returns the loss before it.

    ``loss_fn(d_fake, saturating)`` is :func:`generator_loss` unless given (e.g. a student's version).
    After the call G's ``.grad`` still holds the gradient just used (for measuring its size).
    """
    with frozen(discriminator):
        loss = loss_fn(discriminator(generator(z)), saturating)
        g_optimizer.zero_grad(set_to_none=True)
        loss.backward()
    g_optimizer.step()
    return loss.item()


def decay_factor(epoch: int, epochs: int, start: float = 0.6) -> float:
    """Lecture 4. Learning-rate factor for ``epoch`` (0-based) of ``epochs``: 1, then linearly down.

    1 for the first ``start`` fraction of the run, then falling linearly to ``1 / (decay epochs)``
    in the last epoch. It depends only on the epoch number, so a resumed run gets the same
    schedule. A GAN's samples keep wandering while the learning rate is large; letting it go
    down at the end settles the players and gives steadier final samples.
    """
    check_int(epochs, "epochs", 1)
    check_int(epoch, "epoch", 0)
    if not 0.0 <= start < 1.0:
        raise ValueError(f"start must be in [0, 1), got {start!r}")
    first_decay = math.floor(start * epochs)
    if epoch < first_decay:
        return 1.0
    return max(epochs - epoch, 1) / (epochs - first_decay)


def gradient_norm(module: nn.Module) -> float:
    """Lecture 4. The L2 norm of all of ``module``'s current parameter gradients (0 if there are none)."""
    squares = [p.grad.detach().pow(2).sum() for p in module.parameters() if p.grad is not None]
    return float(torch.stack(squares).sum().sqrt()) if squares else 0.0


@torch.no_grad()
def discriminator_scores(discriminator: nn.Module, generator: nn.Module, real: torch.Tensor,
                         z: torch.Tensor) -> dict[str, float]:
    """Lecture 4. Mean ``D(x)`` on ``real`` and mean ``D(G(z))``: both near 1/2 at the game's equilibrium."""
    return {"d_real": float(discriminator(real).mean()), "d_fake": float(discriminator(generator(z)).mean())}


# --------------------------------------------------------------------------------------------
# 4. The theory with numbers: D*, C(G) and the Jensen-Shannon divergence
# --------------------------------------------------------------------------------------------


def optimal_discriminator(p_data: np.ndarray | torch.Tensor,
                          p_g: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Lecture 4. ``D*(x) = p_data(x) / (p_data(x) + p_g(x))``, the best D for a fixed G.

    Densities evaluated at the same points (arrays or tensors of one shape). Where both are 0 the
    formula is 0/0; this returns 1/2 there (nothing to tell apart).
    """
    if isinstance(p_data, torch.Tensor) != isinstance(p_g, torch.Tensor):
        raise TypeError("p_data and p_g must both be tensors or both be arrays")
    lib = torch if isinstance(p_data, torch.Tensor) else np
    p_data, p_g = (p_data, p_g) if lib is torch else (np.asarray(p_data, float), np.asarray(p_g, float))
    if p_data.shape != p_g.shape:
        raise ValueError(f"p_data and p_g must have the same shape, got {tuple(p_data.shape)} and {tuple(p_g.shape)}")
    if (p_data < 0).any() or (p_g < 0).any():
        raise ValueError("densities cannot be negative")
    total = p_data + p_g
    safe = lib.where(total > 0, total, lib.ones_like(total))
    return lib.where(total > 0, p_data / safe, 0.5 * lib.ones_like(total))


@dataclass(frozen=True)
class GaussianMixture1D:
    """Lecture 4. A mixture of 1-D Gaussians: exact density (``pdf``, ``logpdf``) and samples.

    >>> p = GaussianMixture1D(means=(-1.0, 1.5), stds=(0.5, 0.7), weights=(0.4, 0.6))
    """

    means: tuple[float, ...]
    stds: tuple[float, ...]
    weights: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        means, stds = tuple(float(m) for m in self.means), tuple(float(s) for s in self.stds)
        weights = tuple(float(w) for w in self.weights) if self.weights is not None else (1.0,) * len(means)
        if not means or len(stds) != len(means) or len(weights) != len(means):
            raise ValueError(f"need as many means, stds and weights (at least one); got {len(means)}, "
                             f"{len(stds)} and {len(weights)}")
        if min(stds) <= 0:
            raise ValueError(f"standard deviations must be positive, got {stds}")
        if min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(f"weights must be non-negative with a positive sum, got {weights}")
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "stds", stds)
        object.__setattr__(self, "weights", tuple(w / sum(weights) for w in weights))

    def logpdf(self, x: np.ndarray | float) -> np.ndarray:
        """``log p(x)`` (stable in the tails: a log-sum-exp over the components)."""
        x = np.asarray(x, dtype=float)[..., None]
        mu, sd, w = (np.asarray(v) for v in (self.means, self.stds, self.weights))
        with np.errstate(divide="ignore"):           # a component of weight 0 contributes log 0 = -inf
            comp = np.log(w) - 0.5 * ((x - mu) / sd) ** 2 - np.log(sd) - 0.5 * math.log(2 * math.pi)
        top = comp.max(axis=-1, keepdims=True)
        return (top + np.log(np.exp(comp - top).sum(axis=-1, keepdims=True)))[..., 0]

    def logpdf_scalar(self, x: float) -> float:
        """``log p(x)`` for one number, in plain Python (what ``scipy.integrate.quad`` calls, fast)."""
        comp = [math.log(w) - 0.5 * ((x - m) / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)
                for m, s, w in zip(self.means, self.stds, self.weights) if w > 0]
        top = max(comp)
        return top + math.log(sum(math.exp(c - top) for c in comp))

    def pdf(self, x: np.ndarray | float) -> np.ndarray:
        """The density ``p(x)``."""
        return np.exp(self.logpdf(x))

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` draws as a float32 tensor ``[n, 1]`` (the shape a 1-D network takes)."""
        check_int(n, "n", 1)
        which = torch.multinomial(torch.tensor(self.weights), n, replacement=True, generator=generator)
        noise = torch.randn(n, generator=generator)
        x = torch.tensor(self.means)[which] + torch.tensor(self.stds)[which] * noise
        return x.float()[:, None]

    def support(self, width: float = 12.0) -> tuple[float, float]:
        """An interval that holds all but a negligible part of the mass (``width`` standard deviations)."""
        return (min(m - width * s for m, s in zip(self.means, self.stds)),
                max(m + width * s for m, s in zip(self.means, self.stds)))


def _integrate(f: Callable[[float], float], lo: float, hi: float, points: Sequence[float],
               tolerance: float = 1e-10) -> float:
    from scipy import integrate

    inside = sorted(p for p in points if lo < p < hi)
    value, _ = integrate.quad(f, lo, hi, points=inside or None, limit=500, epsabs=tolerance, epsrel=tolerance)
    return float(value)


def _interval(p: GaussianMixture1D, q: GaussianMixture1D) -> tuple[float, float, list[float]]:
    lo = min(p.support()[0], q.support()[0])
    hi = max(p.support()[1], q.support()[1])
    return lo, hi, [*p.means, *q.means]


def _check_mixtures(p: object, q: object) -> None:
    if not isinstance(p, GaussianMixture1D) or not isinstance(q, GaussianMixture1D):
        raise TypeError(f"expected two GaussianMixture1D densities, got {type(p).__name__} and {type(q).__name__}")


def jensen_shannon(p: GaussianMixture1D, q: GaussianMixture1D) -> float:
    """Lecture 4. ``JSD(p || q) = KL(p || m)/2 + KL(q || m)/2`` with ``m = (p + q)/2``, in nats.

    Integrated numerically with ``scipy.integrate.quad`` (in log space, so the tails are safe).
    Between 0 (equal densities) and ``log 2`` (disjoint supports).
    """
    _check_mixtures(p, q)

    def integrand(x: float) -> float:
        lp, lq = p.logpdf_scalar(x), q.logpdf_scalar(x)
        lm = float(np.logaddexp(lp, lq)) - math.log(2)
        return 0.5 * (math.exp(lp) * (lp - lm) + math.exp(lq) * (lq - lm))

    return _integrate(integrand, *_interval(p, q))


def value_function(d: Callable[[np.ndarray], np.ndarray], p_data: GaussianMixture1D,
                   p_g: GaussianMixture1D) -> float:
    """Lecture 4. ``V(D, G) = E_{p_data}[log D(x)] + E_{p_g}[log(1 - D(x))]`` by numerical integration.

    ``d`` maps points to probabilities in (0, 1) (values are clipped to [1e-12, 1 - 1e-12]).
    """
    _check_mixtures(p_data, p_g)

    def integrand(x: float) -> float:
        dx = float(np.clip(d(np.array([x]))[0], 1e-12, 1 - 1e-12))
        return math.exp(p_data.logpdf_scalar(x)) * math.log(dx) + math.exp(p_g.logpdf_scalar(x)) * math.log(1 - dx)

    # A network is only piecewise smooth (LeakyReLU kinks): 1e-7 is far finer than any use here.
    return _integrate(integrand, *_interval(p_data, p_g), tolerance=1e-7)


def virtual_criterion(p_data: GaussianMixture1D, p_g: GaussianMixture1D) -> float:
    """Lecture 4. ``C(G) = max_D V(D, G) = V(D*, G)``, integrated numerically (nats).

    With ``D* = p_data / (p_data + p_g)``: ``C(G) = E_{p_data}[log D*] + E_{p_g}[log(1 - D*)]``,
    which Goodfellow et al. show equals ``2 JSD(p_data || p_g) - log 4``; its minimum ``-log 4``
    is reached exactly when ``p_g = p_data``.
    """
    _check_mixtures(p_data, p_g)

    def integrand(x: float) -> float:
        lp, lq = p_data.logpdf_scalar(x), p_g.logpdf_scalar(x)
        ls = float(np.logaddexp(lp, lq))
        return math.exp(lp) * (lp - ls) + math.exp(lq) * (lq - ls)

    return _integrate(integrand, *_interval(p_data, p_g))


def virtual_criterion_on_grid(p_data: np.ndarray, p_g: np.ndarray, dx: float) -> float:
    """Lecture 4. ``C(G) ~ sum_x [p_data log D* + p_g log(1 - D*)] dx`` from densities on a uniform grid.

    Points where a density is 0 contribute 0 (``0 log 0 = 0``). The grid must cover (nearly) all of
    both densities' mass; then this agrees with :func:`virtual_criterion` to many digits.
    """
    p_data, p_g = np.asarray(p_data, dtype=float), np.asarray(p_g, dtype=float)
    if p_data.shape != p_g.shape or p_data.ndim != 1:
        raise ValueError(f"p_data and p_g must be 1-D arrays of one shape, got {p_data.shape} and {p_g.shape}")
    if (p_data < 0).any() or (p_g < 0).any():
        raise ValueError("densities cannot be negative")
    dx = check_number(dx, "dx", strict=True)
    total = p_data + p_g
    terms = np.zeros_like(total)
    for p in (p_data, p_g):
        positive = p > 0
        terms[positive] += p[positive] * np.log(p[positive] / total[positive])
    return float(terms.sum() * dx)


@dataclass
class Discriminator1D:
    """Lecture 4. A small trained 1-D discriminator: call it on a NumPy array of points."""

    network: nn.Module
    history: list[float]

    @torch.no_grad()
    def __call__(self, x: np.ndarray) -> np.ndarray:
        device = module_device(self.network)
        points = torch.as_tensor(np.asarray(x, dtype=np.float32)).reshape(-1, 1).to(device)
        return self.network(points).cpu().double().numpy().reshape(np.shape(x))


def train_discriminator_1d(p_data: GaussianMixture1D, p_g: GaussianMixture1D, *, steps: int = 3000,
                           batch_size: int = 512, lr: float = 3e-3, hidden: int = 64, seed: int = 0,
                           loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = discriminator_loss,
                           device: torch.device | str = "cpu", progress: bool = True) -> Discriminator1D:
    """Lecture 4. Train a small D (1 -> hidden -> hidden -> 1, sigmoid) on fresh samples of two densities.

    Each step draws ``batch_size`` points from ``p_data`` (label real) and from ``p_g`` (label fake)
    and takes an Adam step on ``loss_fn`` (the discriminator loss); the learning rate decays along a
    cosine so the last steps average out the sampling noise. G is fixed: this is the inner ``max_D``.
    """
    from tqdm.auto import tqdm

    _check_mixtures(p_data, p_g)
    check_int(steps, "steps", 1)
    check_int(batch_size, "batch_size", 1)
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    network = mlp([1, hidden, hidden, 1], out_activation="sigmoid").to(device)
    optimizer = torch.optim.Adam(network.parameters(), lr=check_number(lr, "lr", strict=True))
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps, eta_min=lr * 0.01)
    history: list[float] = []
    for _ in tqdm(range(steps), desc="1-D discriminator", leave=False, disable=not progress, mininterval=0.5):
        real = p_data.sample(batch_size, g).to(device)
        fake = p_g.sample(batch_size, g).to(device)
        loss = loss_fn(network(real), network(fake))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        history.append(loss.item())
    return Discriminator1D(network.eval(), history)


def compare_with_optimal(d: Callable[[np.ndarray], np.ndarray], p_data: GaussianMixture1D,
                         p_g: GaussianMixture1D, grid: np.ndarray, min_density: float = 0.05,
                         d_star: Callable[[np.ndarray, np.ndarray], np.ndarray] = optimal_discriminator
                         ) -> dict[str, object]:
    """Lecture 4. A trained D against ``D*`` on ``grid``, where ``p_data + p_g >= min_density``.

    Returns ``{"max_abs_error", "mean_abs_error", "mask", "d", "d_star"}``: the largest and mean
    absolute difference (in probability units) over the masked points, plus the curves.
    """
    _check_mixtures(p_data, p_g)
    grid = np.asarray(grid, dtype=float)
    if grid.ndim != 1 or len(grid) < 2:
        raise ValueError(f"grid must be a 1-D array of at least 2 points, got shape {grid.shape}")
    pd, pg = p_data.pdf(grid), p_g.pdf(grid)
    mask = (pd + pg) >= min_density
    if not mask.any():
        raise ValueError(f"no grid point has p_data + p_g >= {min_density}: lower min_density or widen the grid")
    trained, best = d(grid), np.asarray(d_star(pd, pg), dtype=float)
    error = np.abs(trained - best)[mask]
    return {"max_abs_error": float(error.max()), "mean_abs_error": float(error.mean()),
            "mask": mask, "d": trained, "d_star": best}


def generator_loss_gradient(d_fake: np.ndarray | Sequence[float], saturating: bool,
                            loss_fn: Callable[..., torch.Tensor] = generator_loss) -> np.ndarray:
    """Lecture 4. ``|d loss / d a|`` where ``D(G(z)) = sigmoid(a)``, for each given value of ``D(G(z))``.

    ``a`` is the discriminator's logit, the last number before the sigmoid: every gradient G gets
    passes through it. Analytically the saturating loss gives ``D(G(z))`` (vanishing as D gets
    confident) and the non-saturating one ``1 - D(G(z))``. Computed by autograd, one point at a time.
    """
    values = np.asarray(d_fake, dtype=float).reshape(-1)
    if values.size == 0 or (values <= 0).any() or (values >= 1).any():
        raise ValueError("d_fake values must lie strictly between 0 and 1")
    logits = torch.logit(torch.tensor(values, dtype=torch.float64)).requires_grad_(True)
    out = np.empty_like(values)
    for i in range(len(values)):
        (grad,) = torch.autograd.grad(loss_fn(torch.sigmoid(logits[i:i + 1]), saturating), logits)
        out[i] = abs(float(grad[i]))
    return out


# --------------------------------------------------------------------------------------------
# 5. Mode collapse: a ring of 2-D Gaussians and the GAN game on points
# --------------------------------------------------------------------------------------------


def ring_centers(modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    """Lecture 4. ``modes`` points evenly spaced on a circle of ``radius``, ``[modes, 2]``."""
    check_int(modes, "modes", 1)
    radius = check_number(radius, "radius", strict=True)
    angles = torch.arange(modes, dtype=torch.float32) * (2 * math.pi / modes)
    return radius * torch.stack([angles.cos(), angles.sin()], dim=1)


def sample_ring(n: int, modes: int = 8, radius: float = 2.0, std: float = 0.05,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Lecture 4. ``n`` points from an equal mixture of ``modes`` Gaussians (``std``) on a ring, ``[n, 2]``."""
    check_int(n, "n", 1)
    std = check_number(std, "std", strict=True)
    centers = ring_centers(modes, radius)
    which = torch.randint(0, modes, (n,), generator=generator)
    return centers[which] + std * torch.randn(n, 2, generator=generator)


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
        return len(self.counts)

    @property
    def modes_covered(self) -> int:
        return int((self.counts >= self.min_count).sum())

    @property
    def high_quality_share(self) -> float:
        return float(self.counts.sum()) / self.n

    def summary(self) -> str:
        return (f"{self.modes_covered}/{self.modes} modes covered, {self.high_quality_share:.0%} of samples "
                f"within {self.max_sigmas:g} std of a mode")


def mode_coverage(samples: torch.Tensor, centers: torch.Tensor, std: float, max_sigmas: float = 3.0,
                  min_share: float | None = None) -> ModeCoverage:
    """Lecture 4. Count modes covered and the share of high-quality samples.

    A sample is *high quality* when it lies within ``max_sigmas * std`` of its nearest centre. A
    mode is *covered* when it gets at least ``min_share * n`` high-quality samples; the default
    ``min_share`` is a quarter of a fair share, ``0.25 / modes``.
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


@dataclass
class ToyRun:
    """Lecture 4. The record of :func:`train_toy_gan`: per-step history and sample snapshots."""

    history: dict[str, list[float]]
    snapshots: list[tuple[int, torch.Tensor]]


def train_toy_gan(sample_data: Callable[[int, torch.Generator], torch.Tensor], generator: nn.Module,
                  discriminator: nn.Module, *, latent_dim: int, steps: int,
                  g_optimizer: torch.optim.Optimizer, d_optimizer: torch.optim.Optimizer,
                  batch_size: int = 256, k: int = 1, saturating: bool = False, d_warmup: int = 0,
                  snapshot_every: int = 0, snapshot_size: int = 1000, seed: int = 0,
                  d_loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = discriminator_loss,
                  g_loss_fn: Callable[..., torch.Tensor] = generator_loss,
                  desc: str = "toy GAN", progress: bool = True) -> ToyRun:
    """Lecture 4. Algorithm 1 on low-dimensional points: ``k`` D steps, then one G step, ``steps`` times.

    ``sample_data(n, torch_generator) -> [n, dim]`` draws real points; ``generator`` maps noise
    ``[n, latent_dim]`` to points, ``discriminator`` points to probabilities ``[n, 1]``.
    ``d_warmup``: D-only steps before the game (a D that starts out confident, as early in real
    training). History per step: ``d_loss``, ``g_loss``, ``d_fake`` (mean ``D(G(z))`` in the G step)
    and ``g_grad_norm``. Every ``snapshot_every`` steps (and at the end) ``snapshot_size`` samples of
    G are kept, drawn from a fixed noise batch.
    """
    from tqdm.auto import tqdm

    check_int(latent_dim, "latent_dim", 1)
    check_int(steps, "steps", 0)
    check_int(batch_size, "batch_size", 1)
    check_int(k, "k", 1)
    check_int(d_warmup, "d_warmup", 0)
    check_int(snapshot_every, "snapshot_every", 0)
    device = module_device(generator)
    g = torch.Generator().manual_seed(seed)

    def noise(n: int) -> torch.Tensor:
        return torch.randn(n, latent_dim, generator=g).to(device)

    def d_step() -> float:
        return discriminator_step(discriminator, generator, sample_data(batch_size, g).to(device),
                                  noise(batch_size), d_optimizer, d_loss_fn)

    z_fixed = noise(snapshot_size)
    history: dict[str, list[float]] = {"d_loss": [], "g_loss": [], "d_fake": [], "g_grad_norm": []}
    snapshots: list[tuple[int, torch.Tensor]] = []

    def snapshot(step: int) -> None:
        with torch.no_grad():
            snapshots.append((step, generator(z_fixed).cpu()))

    for _ in range(d_warmup):
        d_step()
    if snapshot_every:
        snapshot(0)
    for step in tqdm(range(1, steps + 1), desc=desc, leave=False, disable=not progress, mininterval=0.5):
        for _ in range(k):
            history["d_loss"].append(d_step())
        z = noise(batch_size)
        with torch.no_grad():
            history["d_fake"].append(float(discriminator(generator(z)).mean()))
        history["g_loss"].append(generator_step(discriminator, generator, z, g_optimizer, saturating, g_loss_fn))
        history["g_grad_norm"].append(gradient_norm(generator))
        if snapshot_every and (step % snapshot_every == 0 or step == steps):
            snapshot(step)
    return ToyRun(history, snapshots)


# --------------------------------------------------------------------------------------------
# 6. Checkpoints of a GAN run, and figures
# --------------------------------------------------------------------------------------------


def save_training(path: str | Path, step: int, parts: Mapping[str, object], **extra: object) -> None:
    """Lecture 4. Save a GAN run atomically: every part's ``state_dict()``, the ``step`` reached, and ``extra``.

    ``parts`` maps names to models, optimizers and schedulers (anything with ``state_dict``);
    ``extra`` holds plain values (history, snapshots). ``step`` counts whatever the loop counts
    (epochs in lecture 4, steps in lecture 5). Written with :func:`course_lib.train.save_checkpoint`
    (temporary file, then rename), so an interrupted save never destroys the previous checkpoint.
    """
    from .train import save_checkpoint

    if not (isinstance(step, int) and step >= 0):
        raise ValueError(f"step must be a non-negative int, got {step!r}")
    missing = [name for name, part in parts.items() if not hasattr(part, "state_dict")]
    if missing:
        raise TypeError(f"these parts have no state_dict(): {missing}")
    save_checkpoint(path, {"step": step, "parts": {name: part.state_dict() for name, part in parts.items()},
                           "extra": dict(extra)})


def restore_training(path: str | Path, parts: Mapping[str, object], map_location: torch.device | str = "cpu",
                     unit: str = "step") -> tuple[int, dict[str, object]]:
    """Lecture 4. Load a run saved by :func:`save_training` into ``parts``; return ``(step, extra)``.

    No file: ``(0, {})``, train from scratch. A file that does not fit these parts (another
    architecture, another latent size) is moved aside to ``*.stale`` with a one-line note, and
    training starts over. A resumed run says so in one line, counting in ``unit`` ("step", "epoch").
    """
    from .train import load_checkpoint

    path = Path(path)
    if not path.is_file():
        return 0, {}
    state = load_checkpoint(path, map_location=map_location)
    try:
        if set(state["parts"]) != set(parts):
            raise KeyError(f"saved parts {sorted(state['parts'])}, expected {sorted(parts)}")
        for name, part in parts.items():
            part.load_state_dict(state["parts"][name])  # type: ignore[attr-defined]
        step, extra = int(state["step"]), dict(state["extra"])
    except (KeyError, RuntimeError, ValueError, TypeError) as error:
        stale = path.with_name(path.name + ".stale")
        path.replace(stale)
        print(f"The checkpoint {path.name} does not fit this run ({type(error).__name__}); moved to {stale.name}, "
              f"training from scratch.")
        return 0, {}
    print(f"Resumed from {path} after {step} {unit}{'s' if step != 1 else ''}.")
    return step, extra


def sample_grid(images: torch.Tensor, nrow: int = 8, value_range: tuple[float, float] = (-1.0, 1.0)) -> np.ndarray:
    """Lecture 4. A batch of images tiled into one ``[H, W, 3]`` array in [0, 1], e.g. for ``torch_snippets.show``."""
    from .viz import image_grid

    check_int(nrow, "nrow", 1)
    return image_grid(images.detach().cpu(), nrow=nrow, value_range=value_range)


def plot_image_snapshots(snapshots: Sequence[tuple[int, torch.Tensor]], n: int = 32, nrow: int = 8,
                         value_range: tuple[float, float] = (-1.0, 1.0), ncols: int = 3) -> plt.Figure:
    """Lecture 4. One panel per snapshot ``(epoch, images)``, the first ``n`` images of each, ``ncols`` panels a row."""
    from .viz import image_grid

    if not snapshots:
        raise ValueError("no snapshots to draw")
    check_int(n, "n", 1)
    ncols = min(check_int(ncols, "ncols", 1), len(snapshots))
    nrows = math.ceil(len(snapshots) / ncols)
    grid_rows = math.ceil(min(n, len(snapshots[0][1])) / nrow)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, (3.4 * grid_rows / nrow + 0.4) * nrows + 0.4),
                             squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, (epoch, images) in zip(axes.flat, snapshots):
        ax.imshow(image_grid(images[:n].detach().cpu(), nrow=nrow, value_range=value_range))
        ax.set_title(f"epoch {epoch}", fontsize=9)
    fig.suptitle("samples of the same noise vectors during training", fontsize=10)
    fig.tight_layout()
    return fig


def plot_attack(clean: torch.Tensor, adversarial: torch.Tensor, model: nn.Module, n: int = 6,
                class_names: Sequence[str] | None = None, title: str | None = None) -> plt.Figure:
    """Lecture 4. Columns of (clean image, perturbation, adversarial image) with predictions and confidences."""
    _images(clean, "clean")
    _images(adversarial, "adversarial")
    n = min(check_int(n, "n", 1), len(clean))
    names = class_names or [str(c) for c in range(10)]
    before, p_before = predict(model, clean[:n])
    after, p_after = predict(model, adversarial[:n])
    clean_np = clean[:n, 0].detach().cpu().numpy()
    adversarial_np = adversarial[:n, 0].detach().cpu().numpy()
    delta = adversarial_np - clean_np
    scale = float(np.abs(delta).max()) or 1.0
    fig, axes = plt.subplots(3, n, figsize=(1.6 * n, 5.2), squeeze=False)
    for j in range(n):
        axes[0, j].imshow(clean_np[j], cmap="gray", vmin=0, vmax=1)
        axes[0, j].set_title(f"{names[int(before[j])]} ({float(p_before[j]):.0%})", fontsize=9)
        axes[1, j].imshow(delta[j], cmap="seismic", vmin=-scale, vmax=scale)
        axes[2, j].imshow(adversarial_np[j], cmap="gray", vmin=0, vmax=1)
        axes[2, j].set_title(f"{names[int(after[j])]} ({float(p_after[j]):.0%})", fontsize=9,
                             color="crimson" if int(after[j]) != int(before[j]) else "black")
        for row in range(3):
            axes[row, j].set_xticks([])
            axes[row, j].set_yticks([])
    axes[0, 0].set_ylabel("clean")
    axes[1, 0].set_ylabel(f"change\n(±{scale:.2g})")
    axes[2, 0].set_ylabel("adversarial")
    fig.suptitle(title or "prediction (confidence) before and after the attack", fontsize=10)
    fig.tight_layout()
    return fig


def plot_optimal_discriminator(grid: np.ndarray, p_data: GaussianMixture1D, p_g: GaussianMixture1D,
                               d_trained: np.ndarray, d_star: np.ndarray, mask: np.ndarray | None = None
                               ) -> plt.Figure:
    """Lecture 4. Left: the two densities. Right: the trained D against the formula ``D*``."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
    axes[0].plot(grid, p_data.pdf(grid), label="$p_{data}$")
    axes[0].plot(grid, p_g.pdf(grid), label="$p_g$")
    axes[0].set_title("the two densities")
    axes[0].legend()
    axes[1].plot(grid, d_star, "k", lw=2, label="$D^* = p_{data}/(p_{data}+p_g)$")
    axes[1].plot(grid, d_trained, "--", color="tab:orange", lw=2, label="trained D")
    if mask is not None:
        axes[1].fill_between(grid, 0, 1, where=~np.asarray(mask), color="grey", alpha=0.15,
                             label="$p_{data}+p_g$ tiny (not compared)")
    axes[1].set_ylim(-0.02, 1.02)
    axes[1].set_title("the discriminator")
    axes[1].legend(fontsize=8)
    for ax in axes:
        ax.set_xlabel("x")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_generator_gradients(d_fake: np.ndarray, saturating: np.ndarray, non_saturating: np.ndarray
                             ) -> plt.Figure:
    """Lecture 4. Gradient size at the discriminator's logit against ``D(G(z))`` for the two generator losses."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.loglog(d_fake, saturating, label="saturating: $\\log(1 - D(G(z)))$")
    ax.loglog(d_fake, non_saturating, label="non-saturating: $-\\log D(G(z))$")
    ax.axvspan(d_fake.min(), 0.05, color="grey", alpha=0.15, label="D confidently rejects the fakes")
    ax.set_xlabel("$D(G(z))$")
    ax.set_ylabel("|d loss / d logit|")
    ax.set_title("the gradient G receives")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_ring_snapshots(snapshots: Sequence[tuple[int, torch.Tensor]], centers: torch.Tensor, std: float,
                        real: torch.Tensor | None = None, ncols: int = 6, size: float = 2.3) -> plt.Figure:
    """Lecture 4. Scatter plots of G's samples at several steps, with the modes' 3-std circles."""
    if not snapshots:
        raise ValueError("no snapshots to draw")
    panels = ([("data", real)] if real is not None else []) + [(f"step {s}", x) for s, x in snapshots]
    ncols = min(check_int(ncols, "ncols", 1), len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.2), squeeze=False)
    limit = float(centers.norm(dim=1).max()) * 1.6
    for ax, (name, points) in zip(axes.flat, panels):
        points = points.detach().cpu().float()
        xy = points.numpy()
        ax.scatter(xy[:, 0], xy[:, 1], s=2, alpha=0.4, color="tab:green" if name == "data" else "tab:blue")
        for c in centers:
            ax.add_patch(plt.Circle((float(c[0]), float(c[1])), 3 * std, fill=False, color="crimson", lw=0.8))
        subtitle = "" if name == "data" else "\n" + mode_coverage(points, centers, std).summary().split(",")[0]
        ax.set_title(name + subtitle, fontsize=8)
        ax.set_xlim(-limit, limit)
        ax.set_ylim(-limit, limit)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in list(axes.flat)[len(panels):]:
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def plot_coverage(steps: Sequence[int], curves: dict[str, Sequence[float]], modes: int) -> plt.Figure:
    """Lecture 4. Modes covered (left) and high-quality share (right) over training, one line per run.

    ``curves``: ``{"<run> modes": [...], "<run> quality": [...]}``; keys ending in ``modes`` go left.
    """
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    for name, values in curves.items():
        ax = axes[0] if name.endswith("modes") else axes[1]
        ax.plot(list(steps), list(values), marker="o", ms=3, label=name)
    axes[0].set_ylim(-0.3, modes + 0.3)
    axes[0].set_ylabel(f"modes covered (of {modes})")
    axes[1].set_ylim(-0.02, 1.02)
    axes[1].set_ylabel("share within 3 std of a mode")
    for ax in axes:
        ax.set_xlabel("generator step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
