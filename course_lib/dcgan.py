"""Deep convolutional GANs on MNIST (lecture 5).

Read top to bottom:

1. the building blocks and the initialization of the DCGAN guidelines: :func:`generator_block`,
   :func:`discriminator_block`, :func:`init_weights`;
2. the models: :class:`DCGANGenerator` (transposed-conv or resize-conv upsampling) and
   :class:`DCGANDiscriminator`, with :func:`make_optimizers` (Adam, lr 2e-4, beta1 0.5);
3. what the notebook's training loop adds to lecture 4's (:mod:`course_lib.gan` keeps the noise,
   the [-1, 1] mapping, sampling and the resumable checkpoints): :func:`ema_update`,
   :func:`ema_copy`, :func:`recalibrate_batchnorm`, :func:`lr_factor`;
4. checkerboard artifacts measured: :func:`period2_energy`, :func:`mean_power_spectrum`;
5. walking the latent space: :func:`lerp`, :func:`slerp`, :func:`interpolation_path`,
   :func:`prior_norm_band`;
6. an attribute measured on images and a latent direction for it: :func:`measure_slant`,
   :func:`extreme_latents`, :func:`attribute_direction`, :func:`attribute_sweep`;
7. the discriminator as a feature extractor: :func:`discriminator_features`,
   :func:`few_labels`, :func:`linear_probe_accuracy`, :func:`probe_comparison`;
8. figures: :func:`show_snapshots`, :func:`plot_gan_losses`, :func:`show_spectra`,
   :func:`plot_interpolation_norms`, :func:`plot_attribute_sweep`.

Value ranges: the generator ends in ``tanh``, so generated images live in [-1, 1]; the datasets
give [0, 1] and :func:`course_lib.gan.to_gan_range` maps them. Functions that take images say which range they
expect in a ``value_range`` argument.
"""
from __future__ import annotations

import copy
from typing import Callable, Iterable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import module_device
from .gan import generate_from
from .validate import check_int, check_tensor
from .viz import to_unit_range

#: The DCGAN paper's optimizer settings: Adam with a learning rate of 2e-4 and beta1 = 0.5.
DCGAN_LR = 2e-4
DCGAN_BETAS = (0.5, 0.999)
#: The standard deviation of the N(0, 0.02) weight initialization.
INIT_STD = 0.02
#: The negative slope of the discriminator's LeakyReLU.
LEAKY_SLOPE = 0.2
UPSAMPLING = ("transposed", "resize")


# --------------------------------------------------------------------------------------------
# 0. Input validation
# --------------------------------------------------------------------------------------------


def _images(x: object, name: str = "images") -> torch.Tensor:
    x = check_tensor(x, name, floating=True)
    if x.dim() != 4:
        raise ValueError(f"{name} must be a batch of images [N, C, H, W], got shape {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch (0 images)")
    return x


def _value_range(value_range: object) -> tuple[float, float]:
    if (not isinstance(value_range, (tuple, list)) or len(value_range) != 2
            or not all(isinstance(v, (int, float)) for v in value_range) or value_range[1] <= value_range[0]):
        raise ValueError(f"value_range must be (low, high) with high > low, e.g. (-1, 1); got {value_range!r}")
    return float(value_range[0]), float(value_range[1])


def _upsampling(value: object) -> str:
    if value not in UPSAMPLING:
        raise ValueError(f"upsample must be one of {UPSAMPLING}, got {value!r}")
    return str(value)


# --------------------------------------------------------------------------------------------
# 1. Building blocks and initialization (the DCGAN guidelines)
# --------------------------------------------------------------------------------------------


def generator_block(in_channels: int, out_channels: int, upsample: str = "transposed") -> nn.Sequential:
    """Lecture 5. One generator stage that doubles the spatial size: upsample, batch norm, ReLU.

    ``"transposed"``: ``ConvTranspose2d(kernel 4, stride 2, padding 1)``, the DCGAN choice
    (a learned, strided upsampling: no fixed interpolation, no unpooling).
    ``"resize"``: nearest-neighbour upsampling by 2, then ``Conv2d(kernel 3, padding 1)``: the
    resize-convolution that avoids checkerboard artifacts (Odena et al., 2016).
    The convolution has no bias: the batch norm right after it subtracts any constant anyway.
    ``[N, in_channels, H, W] -> [N, out_channels, 2H, 2W]``.
    """
    check_int(in_channels, "in_channels", 1)
    check_int(out_channels, "out_channels", 1)
    if _upsampling(upsample) == "transposed":
        layers: list[nn.Module] = [nn.ConvTranspose2d(in_channels, out_channels, 4, 2, 1, bias=False)]
    else:
        layers = [nn.Upsample(scale_factor=2, mode="nearest"),
                  nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=False)]
    return nn.Sequential(*layers, nn.BatchNorm2d(out_channels), nn.ReLU())


def generator_output_layer(in_channels: int, out_channels: int = 1, upsample: str = "transposed",
                           crop: int = 0) -> nn.Sequential:
    """Lecture 5. The generator's last stage: upsample by 2 to image channels, then ``tanh``.

    No batch norm here (a guideline: normalizing the output would fix its mean and spread).
    ``tanh`` keeps pixels in [-1, 1], the range the real images are scaled to. ``crop`` drops that
    many pixels on every side (16 -> 32 -> 28 with ``crop=2``): for the transposed convolution this is
    just ``padding = 1 + crop``, for the resize-convolution a negative ``ZeroPad2d``.
    """
    check_int(in_channels, "in_channels", 1)
    check_int(out_channels, "out_channels", 1)
    check_int(crop, "crop", 0)
    if _upsampling(upsample) == "transposed":
        layers: list[nn.Module] = [nn.ConvTranspose2d(in_channels, out_channels, 4, 2, 1 + crop)]
    else:
        layers = [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(in_channels, out_channels, 3, 1, 1)]
        if crop:
            layers.append(nn.ZeroPad2d(-crop))
    return nn.Sequential(*layers, nn.Tanh())


def discriminator_block(in_channels: int, out_channels: int, batch_norm: bool = True) -> nn.Sequential:
    """Lecture 5. One discriminator stage that halves the spatial size: strided conv, [batch norm], LeakyReLU(0.2).

    ``Conv2d(kernel 4, stride 2, padding 1)`` replaces pooling: the network learns its own
    downsampling. ``batch_norm=False`` for the first block, which sees the images themselves
    (a guideline: no batch norm at the discriminator's input). ``LeakyReLU(0.2)`` keeps a gradient
    for negative inputs, so the generator gets a signal through every unit.
    ``[N, in_channels, H, W] -> [N, out_channels, floor(H/2), floor(W/2)]`` (7 -> 3 for odd sizes).
    """
    check_int(in_channels, "in_channels", 1)
    check_int(out_channels, "out_channels", 1)
    if not isinstance(batch_norm, bool):
        raise TypeError(f"batch_norm must be True or False, got {batch_norm!r}")
    layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, 4, 2, 1, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(out_channels))
    layers.append(nn.LeakyReLU(LEAKY_SLOPE))
    return nn.Sequential(*layers)


def init_weights(module: nn.Module) -> None:
    """Lecture 5. The DCGAN initialization, for ``model.apply(init_weights)``.

    Convolutions, transposed convolutions and linear layers: weights ~ N(0, 0.02), biases 0.
    Batch norm: scale (gamma) ~ N(1, 0.02), shift (beta) 0: close to the identity, so the
    normalized activations start with unit spread. Other modules are left alone.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"init_weights takes an nn.Module (use model.apply(init_weights)), got {type(module).__name__}")
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, INIT_STD)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        if module.weight is not None:
            nn.init.normal_(module.weight, 1.0, INIT_STD)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


# --------------------------------------------------------------------------------------------
# 2. The models
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
        self.upsample = _upsampling(upsample)
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
        x = _images(x, "x")
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
# 3. What the training loop uses
# --------------------------------------------------------------------------------------------


@torch.no_grad()
def ema_update(ema_model: nn.Module, model: nn.Module, decay: float = 0.999) -> None:
    """Lecture 5. One step of an exponential moving average of weights: ``ema = decay * ema + (1 - decay) * w``.

    Updates ``ema_model`` in place. Buffers (batch norm's running statistics) are copied as they are;
    call :func:`recalibrate_batchnorm` before sampling from the averaged weights.
    """
    if not isinstance(ema_model, nn.Module) or not isinstance(model, nn.Module):
        raise TypeError("ema_update takes two nn.Modules (the averaged copy and the trained model)")
    if not (isinstance(decay, (int, float)) and 0 <= decay <= 1):
        raise ValueError(f"decay must be in [0, 1], got {decay!r}")
    ema_params, params = dict(ema_model.named_parameters()), dict(model.named_parameters())
    if ema_params.keys() != params.keys() or any(ema_params[k].shape != params[k].shape for k in params):
        raise ValueError("ema_model and model must have the same architecture (make it with copy.deepcopy(model))")
    for name, p in params.items():
        ema_params[name].lerp_(p.detach(), 1.0 - decay)
    ema_buffers = dict(ema_model.named_buffers())
    for name, buffer in model.named_buffers():
        ema_buffers[name].copy_(buffer)


def ema_copy(model: nn.Module) -> nn.Module:
    """Lecture 5. A frozen copy of ``model`` to hold the moving average of its weights."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"ema_copy takes an nn.Module, got {type(model).__name__}")
    twin = copy.deepcopy(model)
    for p in twin.parameters():
        p.requires_grad_(False)
    return twin.eval()


@torch.no_grad()
def recalibrate_batchnorm(generator: DCGANGenerator, batches: int = 8, batch_size: int = 256,
                          seed: int = 12345) -> DCGANGenerator:
    """Lecture 5. Recompute the batch-norm statistics of ``generator`` for its current weights; returns it in eval mode.

    Averaged (EMA) weights never ran a forward pass of their own, so the running statistics they
    carry belong to other weights. This resets them and averages the batch statistics of
    ``batches`` batches of fresh ``z`` (exact averages: ``momentum=None``).
    """
    if not isinstance(generator, DCGANGenerator):
        raise TypeError(f"recalibrate_batchnorm takes a DCGANGenerator, got {type(generator).__name__}")
    check_int(batches, "batches", 1)
    check_int(batch_size, "batch_size", 2)
    norms = [m for m in generator.modules() if isinstance(m, nn.BatchNorm2d)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    generator.train()
    device = module_device(generator)
    g = torch.Generator().manual_seed(seed)
    for _ in range(batches):
        generator(torch.randn(batch_size, generator.latent_dim, generator=g).to(device))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    return generator.eval()


def lr_factor(step: int, total_steps: int, decay_from: float = 0.5) -> float:
    """Lecture 5. The learning-rate multiplier of the notebook's schedule at ``step``.

    Constant 1 for the first ``decay_from`` share of the run, then a linear decay to 0 at
    ``total_steps``: late steps make small moves, so the game settles instead of circling.
    Use it with ``torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, total))``.
    """
    check_int(total_steps, "total_steps", 1)
    if not (isinstance(step, int) and step >= 0):
        raise ValueError(f"step must be a non-negative int, got {step!r}")
    if not 0 <= decay_from <= 1:
        raise ValueError(f"decay_from must be in [0, 1], got {decay_from!r}")
    start = decay_from * total_steps
    if step <= start:
        return 1.0
    return max(0.0, (total_steps - step) / max(total_steps - start, 1e-12))


# --------------------------------------------------------------------------------------------
# 4. Checkerboard artifacts, measured
# --------------------------------------------------------------------------------------------


def _centred_power(images: torch.Tensor) -> torch.Tensor:
    x = _images(images).double()
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
# 5. Walking the latent space
# --------------------------------------------------------------------------------------------


def _pair(z0: torch.Tensor, z1: torch.Tensor) -> None:
    check_tensor(z0, "z0", floating=True)
    check_tensor(z1, "z1", floating=True)
    if z0.shape != z1.shape or z0.dim() == 0:
        raise ValueError(f"z0 and z1 must be vectors [D] or batches [N, D] of the same shape, "
                         f"got {tuple(z0.shape)} and {tuple(z1.shape)}")


def _t_values(t: float | torch.Tensor, like: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """``t`` as a tensor broadcastable against ``[T, *like.shape]``, and whether it was a 1-D path."""
    if isinstance(t, (int, float)) and not isinstance(t, bool):
        return torch.tensor(float(t), dtype=like.dtype, device=like.device), False
    if isinstance(t, torch.Tensor) and t.dim() <= 1:
        t = t.to(dtype=like.dtype, device=like.device)
        if t.dim() == 0:
            return t, False
        return t.reshape(-1, *([1] * like.dim())), True
    raise TypeError(f"t must be a number or a 0-D/1-D tensor of fractions, got {type(t).__name__}")


def lerp(z0: torch.Tensor, z1: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """Lecture 5. Linear interpolation ``(1 - t) z0 + t z1``.

    ``z0, z1``: ``[D]`` or ``[N, D]``; ``t`` a number (result shaped like ``z0``) or a 1-D tensor of
    ``T`` fractions (result ``[T, *z0.shape]``).
    """
    _pair(z0, z1)
    tt, _ = _t_values(t, z0)
    return (1 - tt) * z0 + tt * z1


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: float | torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Lecture 5. Spherical linear interpolation along the great circle from ``z0`` to ``z1``.

    With ``omega`` the angle between the two vectors,
    ``slerp = sin((1 - t) omega) / sin(omega) * z0 + sin(t omega) / sin(omega) * z1``: for two vectors
    of the same norm every point keeps that norm (a linear path cuts through the inside of the
    sphere). Nearly parallel vectors (``sin(omega) < eps``) fall back to :func:`lerp`. Shapes as in
    :func:`lerp`; the angle is taken per row for batches ``[N, D]``.
    """
    _pair(z0, z1)
    tt, _ = _t_values(t, z0)
    n0 = z0 / z0.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    n1 = z1 / z1.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    omega = torch.arccos((n0 * n1).sum(-1, keepdim=True).clamp(-1.0, 1.0))
    sin_omega = torch.sin(omega)
    parallel = sin_omega.abs() < eps
    safe = torch.where(parallel, torch.ones_like(sin_omega), sin_omega)
    spherical = (torch.sin((1 - tt) * omega) / safe) * z0 + (torch.sin(tt * omega) / safe) * z1
    return torch.where(parallel, (1 - tt) * z0 + tt * z1, spherical)


def interpolation_path(z0: torch.Tensor, z1: torch.Tensor, steps: int = 9, method: str = "slerp") -> torch.Tensor:
    """Lecture 5. ``steps`` evenly spaced points from ``z0`` to ``z1`` (both ``[D]``): ``[steps, D]``."""
    check_int(steps, "steps", 2)
    if method not in ("lerp", "slerp"):
        raise ValueError(f"method must be 'lerp' or 'slerp', got {method!r}")
    if z0.dim() != 1:
        raise ValueError(f"interpolation_path takes two single vectors [D], got shape {tuple(z0.shape)}")
    t = torch.linspace(0, 1, steps)
    return (lerp if method == "lerp" else slerp)(z0, z1, t)


def prior_norm_band(latent_dim: int, probability: float = 0.99) -> tuple[float, float, float]:
    """Lecture 5. Where the norm of ``z ~ N(0, I_D)`` lies: ``(low, median, high)`` of the chi distribution.

    ``low``/``high`` bound the central ``probability`` of the mass. In high dimension the band is
    narrow around ``sqrt(D)``: almost every prior sample sits on a thin shell.
    """
    from scipy.stats import chi

    check_int(latent_dim, "latent_dim", 1)
    if not 0 < probability < 1:
        raise ValueError(f"probability must be in (0, 1), got {probability!r}")
    tail = (1 - probability) / 2
    return (float(chi.ppf(tail, latent_dim)), float(chi.median(latent_dim)), float(chi.ppf(1 - tail, latent_dim)))


# --------------------------------------------------------------------------------------------
# 6. An attribute measured on images, and its direction in the latent space
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
    x = to_unit_range(_images(images), _value_range(value_range)).sum(dim=1).double()     # [N, H, W]
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


def attribute_direction(z: torch.Tensor, values: torch.Tensor, fraction: float = 0.2) -> torch.Tensor:
    """Lecture 5. Latent arithmetic for an attribute: mean ``z`` of the highest minus mean ``z`` of the lowest.

    ``z [N, D]`` are latent vectors, ``values [N]`` the attribute measured on their images (NaN
    ignored). Averaging ``fraction * N`` vectors per side keeps what they share (the attribute) and
    cancels what they do not (class, thickness, ...), as the DCGAN paper averaged three exemplars
    per concept. ``z + alpha * v`` then moves an image along the attribute. Returns ``v [D]``.
    """
    z = check_tensor(z, "z", floating=True)
    values = check_tensor(values, "values", floating=True)
    if z.dim() != 2 or values.shape != (z.shape[0],):
        raise ValueError(f"z must be [N, D] and values [N]; got {tuple(z.shape)} and {tuple(values.shape)}")
    if not 0 < fraction <= 0.5:
        raise ValueError(f"fraction must be in (0, 0.5], got {fraction!r}")
    keep = torch.isfinite(values)
    z, values = z[keep], values[keep]
    k = int(fraction * len(values))
    if k < 1:
        raise ValueError(f"too few finite values ({len(values)}) for fraction {fraction}: need at least one per side")
    order = values.argsort()
    return z[order[-k:]].mean(0) - z[order[:k]].mean(0)


def extreme_latents(z: torch.Tensor, values: torch.Tensor, k: int = 3, largest: bool = True,
                    among: torch.Tensor | None = None) -> torch.Tensor:
    """Lecture 5. The ``k`` latent vectors whose measured ``values`` are largest (or smallest): ``[k, D]``.

    ``among`` (a boolean mask ``[N]``, e.g. "confidently classified as a 7") restricts the choice;
    when it leaves fewer than ``k`` candidates, all vectors are candidates. NaN values never count.
    These are the "exemplars of a concept" the DCGAN paper averaged for its latent arithmetic.
    """
    z = check_tensor(z, "z", floating=True)
    values = check_tensor(values, "values", floating=True)
    check_int(k, "k", 1)
    if z.dim() != 2 or values.shape != (z.shape[0],):
        raise ValueError(f"z must be [N, D] and values [N]; got {tuple(z.shape)} and {tuple(values.shape)}")
    finite = torch.isfinite(values)
    candidates = finite & among if among is not None else finite
    if int(candidates.sum()) < k:
        candidates = finite
    if int(candidates.sum()) < k:
        raise ValueError(f"only {int(finite.sum())} finite values, fewer than k={k}")
    index = candidates.nonzero().flatten()
    order = values[index].argsort(descending=largest)
    return z[index[order[:k]]]


@torch.no_grad()
def attribute_sweep(generator: nn.Module, z: torch.Tensor, direction: torch.Tensor, alphas: Sequence[float],
                    measure: Callable[[torch.Tensor], torch.Tensor] = measure_slant
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Lecture 5. Generate ``G(z + alpha v)`` for each ``alpha`` and measure the attribute.

    ``z [N, D]``, ``direction [D]``. Returns ``(images [A, N, C, H, W], values [A, N])`` for the
    ``A`` values of ``alphas``.
    """
    z = check_tensor(z, "z", floating=True)
    direction = check_tensor(direction, "direction", floating=True)
    if z.dim() != 2 or direction.shape != (z.shape[1],):
        raise ValueError(f"z must be [N, D] and direction [D]; got {tuple(z.shape)} and {tuple(direction.shape)}")
    alphas = [float(a) for a in alphas]
    if not alphas:
        raise ValueError("alphas is empty")
    images = torch.stack([generate_from(generator, z + a * direction) for a in alphas])
    values = torch.stack([measure(batch) for batch in images])
    return images, values


# --------------------------------------------------------------------------------------------
# 7. The discriminator as a feature extractor, and a linear probe
# --------------------------------------------------------------------------------------------


@torch.no_grad()
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
    images = _images(images)
    check_int(grid, "grid", 1)
    check_int(batch_size, "batch_size", 1)
    lo, hi = _value_range(value_range)
    was_training = discriminator.training
    discriminator.eval()
    device = module_device(discriminator)
    out = []
    try:
        for i in range(0, len(images), batch_size):
            x = ((images[i:i + batch_size].float() - lo) / (hi - lo) * 2 - 1).to(device)
            parts = [F.adaptive_max_pool2d(h, min(grid, h.shape[-1])).flatten(1)
                     for h in discriminator.features(x)]
            out.append(torch.cat(parts, dim=1).cpu())
    finally:
        discriminator.train(was_training)
    return torch.cat(out)


def few_labels(labels: torch.Tensor, per_class: int, seed: int = 0) -> torch.Tensor:
    """Lecture 5. Indices of ``per_class`` randomly chosen examples of every class (a few-label training set)."""
    if not isinstance(labels, torch.Tensor) or labels.dim() != 1 or labels.dtype not in (torch.int64, torch.int32):
        raise TypeError("labels must be a 1-D integer tensor")
    check_int(per_class, "per_class", 1)
    g = torch.Generator().manual_seed(seed)
    chosen = []
    for c in labels.unique().tolist():
        where = (labels == c).nonzero().flatten()
        if len(where) < per_class:
            raise ValueError(f"class {c} has only {len(where)} examples, fewer than per_class={per_class}")
        chosen.append(where[torch.randperm(len(where), generator=g)[:per_class]])
    return torch.cat(chosen)


def linear_probe_accuracy(train_features: torch.Tensor, train_labels: torch.Tensor, test_features: torch.Tensor,
                          test_labels: torch.Tensor, weight_decay: float = 1e-2, mean: torch.Tensor | None = None,
                          std: torch.Tensor | None = None, max_iter: int = 100) -> float:
    """Lecture 5. Test accuracy of a multinomial logistic regression on frozen features.

    Features are standardized with ``mean``/``std`` (default: those of ``train_features``; pass
    the statistics of all unlabeled training images to use them), then a linear softmax classifier
    is fitted with L-BFGS to the cross-entropy plus ``weight_decay / 2 * ||W||^2``. The features are
    never changed: the probe measures what a linear read-out can get from them.
    """
    for name, t in (("train_features", train_features), ("test_features", test_features)):
        check_tensor(t, name, floating=True)
        if t.dim() != 2:
            raise ValueError(f"{name} must be [N, F], got shape {tuple(t.shape)}")
    if train_features.shape[1] != test_features.shape[1]:
        raise ValueError(f"train and test features differ in size: {train_features.shape[1]} vs {test_features.shape[1]}")
    if train_labels.shape != (len(train_features),) or test_labels.shape != (len(test_features),):
        raise ValueError("labels must be 1-D with one label per feature row")
    if not (isinstance(weight_decay, (int, float)) and weight_decay >= 0):
        raise ValueError(f"weight_decay must be a non-negative number, got {weight_decay!r}")
    mean = train_features.mean(0) if mean is None else mean
    std = train_features.std(0) if std is None else std
    std = std.clamp_min(1e-6)
    xtr = ((train_features - mean) / std).double()
    xte = ((test_features - mean) / std).double()
    classes = int(max(train_labels.max(), test_labels.max())) + 1
    weight = torch.zeros(xtr.shape[1], classes, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], lr=1, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(xtr @ weight + bias, train_labels) + 0.5 * weight_decay * weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        return float(((xte @ weight + bias).argmax(1) == test_labels).double().mean())


def probe_comparison(features: Mapping[str, tuple[torch.Tensor, torch.Tensor]], train_labels: torch.Tensor,
                     test_labels: torch.Tensor, per_class: Sequence[int] = (10, 100), seeds: Sequence[int] = (0, 1, 2),
                     weight_decay: float = 1e-2) -> dict[str, dict[int, float]]:
    """Lecture 5. The same linear probe on several feature sets: mean test accuracy per labels-per-class.

    ``features`` maps a name to ``(train_features [N, F], test_features [M, F])``, computed for all
    training images (their mean and standard deviation standardize the features, no labels needed).
    For each ``k`` in ``per_class`` and each seed, :func:`few_labels` picks ``k`` labelled images per
    class, the probe is fitted on them alone and scored on the whole test set; the mean over seeds
    is returned as ``{name: {k: accuracy}}``.
    """
    if not features:
        raise ValueError("probe_comparison needs at least one feature set")
    results: dict[str, dict[int, float]] = {}
    for name, (train_f, test_f) in features.items():
        mean, std = train_f.mean(0), train_f.std(0)
        results[name] = {}
        for k in per_class:
            accs = [linear_probe_accuracy(train_f[idx], train_labels[idx], test_f, test_labels,
                                          weight_decay=weight_decay, mean=mean, std=std)
                    for idx in (few_labels(train_labels, k, seed) for seed in seeds)]
            results[name][int(k)] = float(np.mean(accs))
    return results


# --------------------------------------------------------------------------------------------
# 8. Figures
# --------------------------------------------------------------------------------------------


def show_snapshots(snapshots: Sequence[tuple[int, torch.Tensor]], per_row: int = 12, size: float = 0.7) -> plt.Figure:
    """Lecture 5. Samples from a fixed ``z`` over training: one row per ``(step, images)`` snapshot."""
    from .viz import show_strip

    if not snapshots:
        raise ValueError("no snapshots to show (the training loop stores them every few hundred steps)")
    check_int(per_row, "per_row", 1)
    return show_strip({f"step {step}": _images(images)[:per_row] for step, images in snapshots},
                      value_range=(-1.0, 1.0), size=size)


def plot_gan_losses(history: Mapping[str, Sequence[float]], smooth: int = 25) -> plt.Figure:
    """Lecture 5. Two panels: the two losses, and the discriminator's mean outputs ``D(x)``, ``D(G(z))``.

    ``history`` holds per-step lists ``"loss_d"``, ``"loss_g"``, ``"d_real"``, ``"d_fake"``.
    """
    missing = [k for k in ("loss_d", "loss_g", "d_real", "d_fake") if k not in history or not len(history[k])]
    if missing:
        raise ValueError(f"history lacks {missing}")
    from .viz import plot_curves

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
    smooth = max(1, min(smooth, len(history["loss_d"])))
    plot_curves({"discriminator loss": history["loss_d"], "generator loss": history["loss_g"]},
                title="losses", smooth=smooth, ax=axes[0])
    plot_curves({"D(x), real": history["d_real"], "D(G(z)), fake": history["d_fake"]},
                title="discriminator's mean output (probability 'real')", smooth=smooth, ax=axes[1])
    axes[1].set_ylim(0, 1)
    fig.tight_layout()
    return fig


def show_spectra(batches: Mapping[str, torch.Tensor], n_images: int = 6, size: float = 1.3) -> plt.Figure:
    """Lecture 5. For each named batch: a few images and the log mean power spectrum, with its period-2 share."""
    if not batches:
        raise ValueError("show_spectra needs at least one named batch of images")
    rows = len(batches)
    fig, axes = plt.subplots(rows, n_images + 1, figsize=(size * (n_images + 1) + 1.5, size * rows * 1.1),
                             squeeze=False)
    for r, (name, images) in enumerate(batches.items()):
        images = _images(images, name)
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


def ink_share(images: Iterable[torch.Tensor] | torch.Tensor, value_range: tuple[float, float] = (-1.0, 1.0)) -> torch.Tensor:
    """Lecture 5. Mean brightness of each image in [0, 1] (how much ink), ``[N]``: a check that a slant edit keeps the stroke."""
    return to_unit_range(_images(images), _value_range(value_range)).mean(dim=(1, 2, 3))
