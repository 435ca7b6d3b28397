"""Lecture 1's U-Net: an encoder of downsampling blocks, a mirrored decoder, skip connections.

Reused beyond lecture 1 (image-to-image translation, the denoiser of diffusion models). Shapes:
images ``[N, in_channels, H, W]`` in, logits ``[N, num_classes, H, W]`` out, for any ``H, W >=
2**depth`` (odd sizes are padded back in the decoder by :func:`pad_and_concat`).
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..validate import check_images, check_int


class DoubleConv(nn.Module):
    """Lecture 1. (3x3 conv, batch norm, ReLU) twice; ``padding=1`` keeps H and W."""

    def __init__(self, in_channels: int, out_channels: int, mid_channels: int | None = None) -> None:
        super().__init__()
        mid = mid_channels or out_channels
        self.block = nn.Sequential(
            nn.Conv2d(in_channels, mid, 3, padding=1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
            nn.Conv2d(mid, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class Down(nn.Module):
    """Lecture 1. 2x2 max pooling (halves H and W, rounding down) then :class:`DoubleConv`."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.block = nn.Sequential(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


def pad_and_concat(upsampled: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
    """Lecture 1. Zero-pad ``upsampled`` to the height and width of ``skip``, then concatenate.

    After a pooling that rounded an odd size down (37 -> 18), doubling gives 36, one short of the
    skip map's 37. The missing rows and columns are split between both sides (the extra one on the
    bottom/right). Returns ``torch.cat([skip, padded], dim=1)``: ``[N, C_skip + C_up, H, W]``.
    """
    if upsampled.dim() != 4 or skip.dim() != 4:
        raise ValueError(f"pad_and_concat takes two [N, C, H, W] maps, got {tuple(upsampled.shape)} "
                         f"and {tuple(skip.shape)}")
    if upsampled.shape[0] != skip.shape[0]:
        raise ValueError(f"batch sizes differ: {upsampled.shape[0]} vs {skip.shape[0]}")
    diff_y = skip.shape[2] - upsampled.shape[2]
    diff_x = skip.shape[3] - upsampled.shape[3]
    if diff_y < 0 or diff_x < 0:
        raise ValueError(f"the upsampled map {tuple(upsampled.shape[2:])} is larger than the skip map "
                         f"{tuple(skip.shape[2:])}: pad only ever grows it")
    padded = F.pad(upsampled, [diff_x // 2, diff_x - diff_x // 2, diff_y // 2, diff_y - diff_y // 2])
    return torch.cat([skip, padded], dim=1)


class Up(nn.Module):
    """Lecture 1. Upsample by 2, pad to the skip map, concatenate, :class:`DoubleConv`.

    ``bilinear=True``: fixed bilinear interpolation (no weights) keeps all ``in_channels``; the
    double conv then reduces them. ``bilinear=False``: a learned ``ConvTranspose2d`` (kernel 2,
    stride 2) that also halves the channels. ``in_channels`` counts the channels after
    concatenation. ``merge`` is the pad-and-concatenate step (swap in your own).
    """

    def __init__(self, in_channels: int, out_channels: int, bilinear: bool = True,
                 merge: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = pad_and_concat) -> None:
        super().__init__()
        if bilinear:
            self.up: nn.Module = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
            self.conv = DoubleConv(in_channels, out_channels, in_channels // 2)
        else:
            self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
            self.conv = DoubleConv(in_channels, out_channels)
        self.merge = merge

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(self.merge(self.up(x), skip))


class UNet(nn.Module):
    """Lecture 1. A U-Net: an encoder of ``depth`` :class:`Down` blocks and a mirrored decoder.

    Widths are ``base, 2*base, ..., 2**depth * base`` (the bottom one halved with bilinear
    upsampling, whose ``Up`` blocks keep channels). Any input size >= ``2**depth`` works: the
    ``Up`` blocks pad odd sizes back. Returns logits ``[N, num_classes, H, W]``.
    """

    def __init__(self, in_channels: int, num_classes: int, base: int = 16, depth: int = 3,
                 bilinear: bool = True,
                 merge: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = pad_and_concat) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("num_classes", num_classes), ("base", base),
                            ("depth", depth)):
            check_int(value, name, 1)
        self.in_channels, self.num_classes, self.depth, self.bilinear = in_channels, num_classes, depth, bilinear
        factor = 2 if bilinear else 1
        widths = [base * 2**level for level in range(depth + 1)]
        self.inc = DoubleConv(in_channels, widths[0])
        self.downs = nn.ModuleList(
            Down(widths[level], widths[level + 1] // (factor if level == depth - 1 else 1))
            for level in range(depth))
        self.ups = nn.ModuleList(
            Up(widths[level + 1], widths[level] // (factor if level > 0 else 1), bilinear, merge)
            for level in reversed(range(depth)))
        self.outc = nn.Conv2d(widths[0], num_classes, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, "the UNet's input", channels=self.in_channels)
        if min(x.shape[2:]) < 2**self.depth:
            raise ValueError(f"a UNet of depth {self.depth} needs H, W >= {2**self.depth}, got {tuple(x.shape[2:])}")
        skips = [self.inc(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        h = skips.pop()
        for up in self.ups:
            h = up(h, skips.pop())
        return self.outc(h)
