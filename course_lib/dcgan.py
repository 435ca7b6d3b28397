"""Lecture 5: deep convolutional GANs on MNIST.

What is specific to this lecture (the DCGAN stages and initialization are in
:mod:`course_lib.nn.blocks`, the moving average of weights and batch-norm recalibration in
:mod:`course_lib.train.ema`, interpolation and attribute directions in :mod:`course_lib.latent`,
the linear probe in :mod:`course_lib.metrics.probes`). Read top to bottom:

1. the models: :class:`DCGANGenerator` (transposed-conv or resize-conv upsampling) and
   :class:`DCGANDiscriminator` (a logit per image, :meth:`~DCGANDiscriminator.features` per block),
   with :func:`make_optimizers` (Adam, lr 2e-4, beta1 0.5);
2. checkerboard artifacts measured: :func:`period2_energy`, :func:`mean_power_spectrum`;
3. an attribute measured on digits: :func:`measure_slant`;
4. the discriminator as a feature extractor: :func:`discriminator_features`;
5. figures: :func:`show_spectra`, :func:`plot_interpolation_norms`, :func:`plot_attribute_sweep`.

Value ranges: the generator ends in ``tanh``, so generated images live in [-1, 1]; the datasets
give [0, 1] and :func:`course_lib.data.to_gan_range` maps them. Functions that take images say
which range they expect in a ``value_range`` argument.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .inference import in_batches
from .latent import prior_norm_band
from .nn.blocks import UPSAMPLING, discriminator_block, generator_block, generator_output_layer, init_weights
from .validate import check_choice, check_images, check_int, check_tensor, check_value_range
from .viz import to_unit_range

#: The DCGAN paper's optimizer settings: Adam with a learning rate of 2e-4 and beta1 = 0.5.
DCGAN_LR = 2e-4
DCGAN_BETAS = (0.5, 0.999)


# --------------------------------------------------------------------------------------------
# 1. The models
# --------------------------------------------------------------------------------------------

def _check_image_size(image_size: object) -> int:
    if image_size not in (28, 32):
        raise ValueError(f"image_size must be 28 (MNIST as it is) or 32 (MNIST padded by 2 pixels), got {image_size!r}")
    return int(image_size)  # type: ignore[arg-type]


class DCGANGenerator(nn.Module):
    """Lecture 5. The DCGAN generator: ``z [N, latent_dim] -> image [N, channels, S, S]`` in [-1, 1].

    As in the paper, ``z`` is projected to a ``4w x 4 x 4`` map (a transposed conv with a 4x4 kernel
    on the 1x1 "image" z: a linear map followed by a reshape, the only dense step, no hidden FC
    layer), then two :func:`generator_block` stages ``4w -> 2w -> w`` (8x8, 16x16) and
    :func:`generator_output_layer` to 32x32. For ``image_size=28`` the output layer drops the
    2-pixel border (always background in MNIST), so 28x28 digits come out of a 32x32 design.
    Every stage but the last has batch norm and ReLU; the output has ``tanh``.
    ``upsample="resize"`` swaps every transposed convolution for nearest upsampling + 3x3 conv.
    ``block(in_channels, out_channels)`` builds the middle stages (default :func:`generator_block`;
    the notebook passes the student's). The weights are initialized with :func:`init_weights`.
    """

    def __init__(self, latent_dim: int = 64, width: int = 32, image_size: int = 28, channels: int = 1,
                 upsample: str = "transposed", block: Callable[[int, int], nn.Module] | None = None) -> None:
        super().__init__()
        self.latent_dim = check_int(latent_dim, "latent_dim", 1)
        self.width = w = check_int(width, "width", 1)
        self.image_size = _check_image_size(image_size)
        self.channels = check_int(channels, "channels", 1)
        self.upsample = check_choice(upsample, "upsample", UPSAMPLING)
        if block is None:
            def block(a: int, b: int) -> nn.Module:
                return generator_block(a, b, upsample)
        elif upsample != "transposed":
            raise ValueError("a custom block builds transposed-conv stages; leave block=None for upsample='resize'")
        self.project = nn.Sequential(nn.ConvTranspose2d(latent_dim, 4 * w, 4, 1, 0, bias=False),
                                     nn.BatchNorm2d(4 * w), nn.ReLU())
        self.blocks = nn.Sequential(block(4 * w, 2 * w), block(2 * w, w))
        self.output = generator_output_layer(w, channels, upsample, crop=(32 - self.image_size) // 2)
        self.apply(init_weights)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = check_tensor(z, "z", floating=True)
        if z.dim() == 2:
            z = z[:, :, None, None]
        if z.dim() != 4 or z.shape[1:] != (self.latent_dim, 1, 1):
            raise ValueError(f"z must be [N, {self.latent_dim}] (or [N, {self.latent_dim}, 1, 1]), "
                             f"got shape {tuple(z.shape)}")
        return self.output(self.blocks(self.project(z)))


class DCGANDiscriminator(nn.Module):
    """Lecture 5. The DCGAN discriminator: image ``[N, channels, S, S]`` in [-1, 1] -> one logit per image ``[N]``.

    Three :func:`discriminator_block` stages, ``channels -> w -> 2w -> 4w`` (28 -> 14 -> 7 -> 3, or
    32 -> 16 -> 8 -> 4), the first without batch norm; then a convolution whose kernel covers the
    whole remaining map gives the logit (no pooling, no hidden FC layer). The sigmoid is left to
    the loss (``BCEWithLogitsLoss``), which is numerically safer than ``Sigmoid`` + ``BCELoss``.
    :meth:`features` returns every block's activations (the representation of section 7).
    ``block(in_channels, out_channels, batch_norm=...)`` builds the stages (default
    :func:`discriminator_block`; the notebook passes the student's).
    """

    def __init__(self, width: int = 32, image_size: int = 28, channels: int = 1,
                 block: Callable[..., nn.Module] | None = None) -> None:
        super().__init__()
        self.width = w = check_int(width, "width", 1)
        self.image_size = _check_image_size(image_size)
        self.channels = check_int(channels, "channels", 1)
        block = block or discriminator_block
        self.blocks = nn.ModuleList([block(channels, w, batch_norm=False),
                                     block(w, 2 * w, batch_norm=True), block(2 * w, 4 * w, batch_norm=True)])
        last = 3 if self.image_size == 28 else 4
        self.head = nn.Conv2d(4 * w, 1, last, 1, 0)
        self.apply(init_weights)

    def _check(self, x: torch.Tensor) -> torch.Tensor:
        x = check_images(x, "x")
        expected = (self.channels, self.image_size, self.image_size)
        if tuple(x.shape[1:]) != expected:
            raise ValueError(f"the discriminator takes images [N, {', '.join(map(str, expected))}], "
                             f"got {tuple(x.shape)}")
        return x

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The activations after each block: ``[N, w, 14, 14]``, ``[N, 2w, 7, 7]``, ``[N, 4w, 3, 3]`` (28x28)."""
        h = self._check(x)
        outputs = []
        for block in self.blocks:
            h = block(h)
            outputs.append(h)
        return outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)[-1]).flatten()


def make_optimizers(generator: nn.Module, discriminator: nn.Module, lr: float = DCGAN_LR,
                    betas: tuple[float, float] = DCGAN_BETAS) -> tuple[torch.optim.Adam, torch.optim.Adam]:
    """Lecture 5. Two separate Adam optimizers with the DCGAN settings (lr 2e-4, beta1 0.5).

    beta1 = 0.5 instead of Adam's default 0.9 makes the momentum forget faster: the target the
    generator chases (the discriminator) moves all the time, and old gradients point the wrong way.
    """
    if not isinstance(generator, nn.Module) or not isinstance(discriminator, nn.Module):
        raise TypeError("make_optimizers takes the generator and the discriminator (nn.Modules)")
    if not (isinstance(lr, (int, float)) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
        raise ValueError(f"betas must be two numbers in [0, 1), got {betas!r}")
    return (torch.optim.Adam(generator.parameters(), lr=lr, betas=tuple(betas)),
            torch.optim.Adam(discriminator.parameters(), lr=lr, betas=tuple(betas)))


# --------------------------------------------------------------------------------------------
# 2. Checkerboard artifacts, measured
# --------------------------------------------------------------------------------------------


def _centred_power(images: torch.Tensor) -> torch.Tensor:
    x = check_images(images).double()
    if x.shape[-1] % 2 or x.shape[-2] % 2:
        raise ValueError(f"period-2 measures need even image sizes, got {tuple(x.shape[-2:])}")
    x = x - x.mean(dim=(-2, -1), keepdim=True)
    return torch.fft.fft2(x).abs().pow(2).sum(dim=1)   # [N, H, W], summed over channels


def period2_energy(images: torch.Tensor) -> torch.Tensor:
    """Lecture 5. Share of each image's (mean-removed) power in the period-2 frequencies, ``[N]``.

    The 2-D discrete Fourier transform of an ``H x W`` image has frequencies ``(u, v)``; the
    ones with ``u = H/2`` or ``v = W/2`` are the patterns that flip sign from one pixel to the next
    (period 2), i.e. stripes and checkerboards on the pixel grid. This returns their power divided
    by the total power without the mean. White noise puts ``(H + W - 1) / (H W - 1)`` there (7% at
    28x28); a smooth image almost nothing; a stride-2 transposed convolution's checkerboard a lot.
    """
    power = _centred_power(images)
    h, w = power.shape[-2:]
    mask = torch.zeros(h, w, dtype=torch.bool)
    mask[h // 2, :] = True
    mask[:, w // 2] = True
    total = power.flatten(1).sum(1).clamp_min(1e-30)
    return (power[:, mask].sum(1) / total).float()


def mean_power_spectrum(images: torch.Tensor) -> torch.Tensor:
    """Lecture 5. ``log10`` of the average power spectrum of a batch, centred (``fftshift``): ``[H, W]``.

    The zero frequency is in the middle; the period-2 frequencies are the first row and column
    (after the shift), where a checkerboard shows up as bright lines and corners.
    """
    power = _centred_power(images).mean(0)
    return torch.log10(torch.fft.fftshift(power) + 1e-12).float()


# --------------------------------------------------------------------------------------------
# 3. An attribute measured on digits
# --------------------------------------------------------------------------------------------


def measure_slant(images: torch.Tensor, value_range: tuple[float, float] = (-1.0, 1.0)) -> torch.Tensor:
    """Lecture 5. The slant of each digit in degrees from its image moments, ``[N]`` (positive leans right).

    Pixel brightness (mapped to [0, 1]) is treated as mass. With the centroid ``(x_c, y_c)``, the
    second central moments are ``mu11 = sum m (x - x_c)(y - y_c)`` and ``mu02 = sum m (y - y_c)^2``.
    ``mu11 / mu02`` is the least-squares slope of ``x`` against ``y``: how far the ink moves
    sideways per row. Rows are counted downwards in an image, so a digit whose top leans right has a
    negative slope; the slant is ``atan(-mu11 / mu02)`` in degrees (0 for upright, about +-45 for
    strongly italic). A blank image has no slant: NaN.
    """
    x = to_unit_range(check_images(images), check_value_range(value_range)).sum(dim=1).double()   # [N, H, W]
    n, h, w = x.shape
    ys = torch.arange(h, dtype=torch.float64).view(1, h, 1)
    xs = torch.arange(w, dtype=torch.float64).view(1, 1, w)
    mass = x.sum(dim=(1, 2))
    safe = mass.clamp_min(1e-12)
    yc = (x * ys).sum(dim=(1, 2)) / safe
    xc = (x * xs).sum(dim=(1, 2)) / safe
    dy = ys - yc.view(n, 1, 1)
    dx = xs - xc.view(n, 1, 1)
    mu11 = (x * dx * dy).sum(dim=(1, 2))
    mu02 = (x * dy * dy).sum(dim=(1, 2))
    slant = torch.rad2deg(torch.atan(-mu11 / mu02.clamp_min(1e-12)))
    return torch.where(mass > 1e-6, slant, torch.full_like(slant, float("nan"))).float()


# --------------------------------------------------------------------------------------------
# 4. The discriminator as a feature extractor
# --------------------------------------------------------------------------------------------


def discriminator_features(discriminator: DCGANDiscriminator, images: torch.Tensor,
                           value_range: tuple[float, float] = (0.0, 1.0), grid: int = 4,
                           batch_size: int = 500) -> torch.Tensor:
    """Lecture 5. A frozen discriminator's features of ``images``: ``[N, F]``.

    As in the DCGAN paper's CIFAR-10 experiment: every block's activations are max-pooled to a
    ``grid x grid`` map (or kept as they are when smaller), flattened and concatenated. The
    discriminator runs in eval mode (batch norm with its running statistics) and is not changed.
    ``images`` in ``value_range`` (datasets give [0, 1]); they are mapped to [-1, 1] first.
    """
    if not isinstance(discriminator, DCGANDiscriminator):
        raise TypeError(f"discriminator_features takes a DCGANDiscriminator, got {type(discriminator).__name__}")
    check_images(images)
    check_int(grid, "grid", 1)
    lo, hi = check_value_range(value_range)

    def pooled(x: torch.Tensor) -> torch.Tensor:
        maps = discriminator.features((x.float() - lo) / (hi - lo) * 2 - 1)
        return torch.cat([F.adaptive_max_pool2d(h, min(grid, h.shape[-1])).flatten(1) for h in maps], dim=1)

    return in_batches(discriminator, images, fn=pooled, batch_size=batch_size)


# --------------------------------------------------------------------------------------------
# 5. Figures
# --------------------------------------------------------------------------------------------


def show_spectra(batches: Mapping[str, torch.Tensor], n_images: int = 6, size: float = 1.3) -> plt.Figure:
    """Lecture 5. For each named batch: a few images and the log mean power spectrum, with its period-2 share."""
    if not batches:
        raise ValueError("show_spectra needs at least one named batch of images")
    rows = len(batches)
    fig, axes = plt.subplots(rows, n_images + 1, figsize=(size * (n_images + 1) + 1.5, size * rows * 1.1),
                             squeeze=False)
    for r, (name, images) in enumerate(batches.items()):
        images = check_images(images, name)
        shown = to_unit_range(images[:n_images], (float(images.min()), float(images.max()) + 1e-8))
        for c in range(n_images):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(shown):
                ax.imshow(shown[c, 0].numpy(), cmap="gray", interpolation="nearest")
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
        ax = axes[r, -1]
        ax.imshow(mean_power_spectrum(images).numpy(), cmap="magma", interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"period-2 share {float(period2_energy(images).mean()):.1%}", fontsize=8)
    axes[0, -1].set_xlabel("log power spectrum\n(centre = 0 frequency)", fontsize=7)
    fig.tight_layout()
    return fig


def plot_interpolation_norms(paths: Mapping[str, torch.Tensor], latent_dim: int, ax: plt.Axes | None = None) -> plt.Figure:
    """Lecture 5. The norm ``||z||`` along interpolation paths ``[steps, D]``, against the prior's 99% band."""
    low, median, high = prior_norm_band(latent_dim)
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.2))
    for name, path in paths.items():
        t = np.linspace(0, 1, len(path))
        ax.plot(t, path.norm(dim=-1).numpy(), marker="o", label=name)
    ax.axhspan(low, high, color="gray", alpha=0.2, label=f"99% of ||z||, z ~ N(0, I_{latent_dim})")
    ax.axhline(median, color="gray", lw=1)
    ax.set_xlabel("t")
    ax.set_ylabel("||z||")
    ax.legend(fontsize=8)
    return ax.figure


def plot_attribute_sweep(alphas: Sequence[float], values: torch.Tensor, ylabel: str = "slant (degrees)",
                         ax: plt.Axes | None = None) -> plt.Figure:
    """Lecture 5. The measured attribute against ``alpha`` (``values [A, N]``): mean, spread and each ``z``."""
    values = torch.as_tensor(values, dtype=torch.float64)
    alphas = np.asarray(list(alphas), dtype=float)
    if values.dim() != 2 or values.shape[0] != len(alphas):
        raise ValueError(f"values must be [len(alphas), N] = [{len(alphas)}, N], got {tuple(values.shape)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.2))
    v = values.numpy()
    ax.plot(alphas, v, color="tab:blue", alpha=0.15, lw=1)
    mean, std = np.nanmean(v, axis=1), np.nanstd(v, axis=1)
    ax.fill_between(alphas, mean - std, mean + std, color="tab:blue", alpha=0.2)
    ax.plot(alphas, mean, color="tab:blue", lw=2, marker="o", label="mean over z (band: +-1 std)")
    ax.set_xlabel("alpha in G(z + alpha v)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax.figure
