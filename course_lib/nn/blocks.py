"""Building blocks: a plain MLP, the DCGAN stages and initialization, parameter counts.

Shapes are stated per function. The DCGAN stages follow the paper's guidelines (strided
convolutions instead of pooling, batch norm except at G's output and D's input, ReLU in G,
LeakyReLU(0.2) in D, tanh at G's output, weights from N(0, 0.02)); lecture 5 explains why.
"""
from __future__ import annotations

from typing import Sequence

from torch import nn

from ..validate import check_choice, check_int

#: The standard deviation of the DCGAN weight initialization N(0, 0.02).
INIT_STD = 0.02
#: The negative slope of the DCGAN discriminator's LeakyReLU.
LEAKY_SLOPE = 0.2
UPSAMPLING = ("transposed", "resize")


def count_parameters(model: nn.Module) -> int:
    """Lecture 1. The number of trainable numbers in ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def mlp(sizes: Sequence[int], negative_slope: float = 0.2, out_activation: str | None = None,
        dropout: float = 0.0) -> nn.Sequential:
    """Lecture 4. ``Linear`` layers of the given sizes with ``LeakyReLU(negative_slope)`` between them.

    ``[N, sizes[0]] -> [N, sizes[-1]]``. ``out_activation``: ``"tanh"`` or ``None`` (identity: a
    discriminator's logits). ``dropout`` (after each hidden activation) defaults to 0.
    """
    sizes = [check_int(s, "every layer size", 1) for s in sizes]
    if len(sizes) < 2:
        raise ValueError(f"mlp needs at least an input and an output size, got {list(sizes)}")
    check_choice(out_activation, "out_activation", (None, "tanh"))
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
    return nn.Sequential(*layers)


def generator_block(in_channels: int, out_channels: int, upsample: str = "transposed") -> nn.Sequential:
    """Lecture 5. A DCGAN generator stage that doubles the size: upsample, batch norm, ReLU.

    ``[N, in_channels, H, W] -> [N, out_channels, 2H, 2W]``. ``"transposed"``:
    ``ConvTranspose2d(kernel 4, stride 2, padding 1)``; ``"resize"``: nearest-neighbour upsampling
    by 2, then ``Conv2d(kernel 3, padding 1)`` (the resize-convolution of Odena et al., 2016).
    The convolution has no bias: the batch norm after it removes any constant.
    """
    check_int(in_channels, "in_channels", 1)
    check_int(out_channels, "out_channels", 1)
    if check_choice(upsample, "upsample", UPSAMPLING) == "transposed":
        layers: list[nn.Module] = [nn.ConvTranspose2d(in_channels, out_channels, 4, 2, 1, bias=False)]
    else:
        layers = [nn.Upsample(scale_factor=2, mode="nearest"),
                  nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=False)]
    return nn.Sequential(*layers, nn.BatchNorm2d(out_channels), nn.ReLU())


def generator_output_layer(in_channels: int, out_channels: int = 1, upsample: str = "transposed",
                           crop: int = 0) -> nn.Sequential:
    """Lecture 5. A DCGAN generator's last stage: upsample by 2 to image channels, then ``tanh`` (no batch norm).

    ``[N, in_channels, H, W] -> [N, out_channels, 2H - 2 crop, 2W - 2 crop]`` in [-1, 1]. ``crop``
    drops that many pixels on every side (16 -> 32 -> 28 with ``crop=2``): ``padding = 1 + crop``
    for the transposed convolution, a negative ``ZeroPad2d`` after the resize-convolution.
    """
    check_int(in_channels, "in_channels", 1)
    check_int(out_channels, "out_channels", 1)
    check_int(crop, "crop", 0)
    if check_choice(upsample, "upsample", UPSAMPLING) == "transposed":
        layers: list[nn.Module] = [nn.ConvTranspose2d(in_channels, out_channels, 4, 2, 1 + crop)]
    else:
        layers = [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(in_channels, out_channels, 3, 1, 1)]
        if crop:
            layers.append(nn.ZeroPad2d(-crop))
    return nn.Sequential(*layers, nn.Tanh())


def discriminator_block(in_channels: int, out_channels: int, batch_norm: bool = True) -> nn.Sequential:
    """Lecture 5. A DCGAN discriminator stage that halves the size: strided conv, [batch norm], LeakyReLU(0.2).

    ``[N, in_channels, H, W] -> [N, out_channels, floor(H/2), floor(W/2)]`` with
    ``Conv2d(kernel 4, stride 2, padding 1)``; ``batch_norm=False`` for the first stage (no batch
    norm at D's input). The conv has a bias only without batch norm.
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
    Batch norm: scale ~ N(1, 0.02), shift 0. Other modules are left alone.
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
