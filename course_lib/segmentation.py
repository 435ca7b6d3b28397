"""Lecture 1: semantic segmentation, from convolutionalization to the U-Net.

Read top to bottom, the module follows the lecture:

1. conv arithmetic: :func:`transposed_conv_output_size`,
   :func:`receptive_field`, plus :func:`conv_stack` / :func:`gradient_footprint` to measure a
   receptive field with autograd;
2. convolutionalization: :func:`convolutionalize` turns a ``Linear`` head into a ``Conv2d``;
   :class:`CropClassifier` and :func:`sample_crops` give a classifier of crops to apply it to, and
   :func:`window_scores_to_masks` turns its sliding predictions into masks;
3. the :class:`FCN`: a coarse, stride-8 prediction upsampled in one go (the U-Net it is compared
   with is lecture 1's contribution to the toolkit, :mod:`course_lib.nn.unet`);
4. training and evaluation: :func:`segmentation_loss`, :func:`predict_masks`, the metrics
   (:func:`pixel_accuracy`, :func:`confusion_matrix`, :func:`iou_from_confusion`,
   :func:`dice_from_confusion`) and
   :func:`evaluate_segmentation`.

Masks are int64 tensors ``[N, H, W]`` of class indices; models return logits ``[N, C, H, W]``.
IoU and Dice of a class that appears neither in the prediction nor in the target are undefined
(0/0): they are NaN here, and the means skip them (``nanmean``).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .config import module_device
from .inference import in_batches
from .nn.unet import DoubleConv
from .validate import check_images, check_tensor
from .validate import check_int as _check_int

# --------------------------------------------------------------------------------------------
# 1. Convolution arithmetic
# --------------------------------------------------------------------------------------------


def transposed_conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0,
                                output_padding: int = 0, dilation: int = 1) -> int:
    """Lecture 1. Output length of ``ConvTranspose2d`` along one axis.

    ``(size - 1)*stride - 2*padding + dilation*(kernel - 1) + output_padding + 1``. Every input
    pixel stamps a (dilated) kernel into the output, ``stride`` pixels apart; ``padding`` crops
    the border; ``output_padding`` adds rows at the end to pick one of the several input sizes
    that a strided ``Conv2d`` maps to the same output size. PyTorch requires
    ``output_padding < max(stride, dilation)``.
    """
    _check_int(size, "size", 1)
    _check_int(kernel, "kernel", 1)
    _check_int(stride, "stride", 1)
    _check_int(padding, "padding", 0)
    _check_int(output_padding, "output_padding", 0)
    _check_int(dilation, "dilation", 1)
    if output_padding >= max(stride, dilation):
        raise ValueError(f"output_padding ({output_padding}) must be smaller than stride ({stride}) "
                         f"or dilation ({dilation}), as in PyTorch")
    out = (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
    if out < 1:
        raise ValueError(f"padding {padding} crops everything: the output size would be {out}")
    return out


def receptive_field(kernels: Sequence[int], dilations: Sequence[int],
                    strides: Sequence[int] | None = None) -> int:
    """Lecture 1. Receptive field (in input pixels, along one axis) of stacked convolutions.

    Layer ``l`` widens the field by ``(kernel_l - 1) * dilation_l * jump_l``, where ``jump_l`` is
    the product of the strides of the layers before it (the distance, in input pixels, between
    neighbouring positions of layer ``l``'s input). An empty stack sees 1 pixel.
    """
    kernels, dilations = list(kernels), list(dilations)
    strides = [1] * len(kernels) if strides is None else list(strides)
    if not (len(kernels) == len(dilations) == len(strides)):
        raise ValueError(f"kernels, dilations and strides need one entry per layer; got lengths "
                         f"{len(kernels)}, {len(dilations)}, {len(strides)}")
    field, jump = 1, 1
    for layer, (k, d, s) in enumerate(zip(kernels, dilations, strides)):
        _check_int(k, f"kernels[{layer}]", 1)
        _check_int(d, f"dilations[{layer}]", 1)
        _check_int(s, f"strides[{layer}]", 1)
        field += (k - 1) * d * jump
        jump *= s
    return field


def conv_stack(dilations: Sequence[int], kernel: int = 3, channels: int = 1) -> nn.Sequential:
    """Lecture 1. A linear stack of ``kernel x kernel`` convolutions (one per dilation), all weights 1.

    Each layer pads by ``dilation*(kernel-1)//2`` so the map keeps its size. With positive weights
    and no nonlinearity no gradient can cancel, so :func:`gradient_footprint` shows exactly which
    input pixels reach an output pixel.
    """
    _check_int(kernel, "kernel", 1)
    _check_int(channels, "channels", 1)
    if kernel % 2 == 0:
        raise ValueError(f"kernel must be odd to keep the map size, got {kernel}")
    layers = []
    for index, d in enumerate(dilations):
        _check_int(d, f"dilations[{index}]", 1)
        conv = nn.Conv2d(channels, channels, kernel, padding=d * (kernel - 1) // 2, dilation=d, bias=False)
        nn.init.ones_(conv.weight)
        layers.append(conv)
    return nn.Sequential(*layers)


def gradient_footprint(net: nn.Module, size: int, in_channels: int = 1) -> tuple[torch.Tensor, int]:
    """Lecture 1. Measure a receptive field: the gradient of the centre output pixel w.r.t. the input.

    Feeds a ``[1, in_channels, size, size]`` input, backpropagates from the centre pixel of the
    first output channel, and returns ``(footprint, extent)``: ``footprint`` is ``|grad|`` summed
    over channels, ``[size, size]``; ``extent`` is the side of the bounding box of its nonzero
    pixels (the empirical receptive field). ``size`` must exceed the field, or the box is cut.
    """
    _check_int(size, "size", 1)
    _check_int(in_channels, "in_channels", 1)
    x = torch.zeros(1, in_channels, size, size, requires_grad=True, device=module_device(net))
    out = net(x)
    if out.dim() != 4:
        raise ValueError(f"net must map [N, C, H, W] to [N, C', H', W'], got output {tuple(out.shape)}")
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    footprint = x.grad[0].abs().sum(0).detach().cpu()
    rows = torch.nonzero(footprint.sum(1)).flatten()
    cols = torch.nonzero(footprint.sum(0)).flatten()
    if len(rows) == 0:
        return footprint, 0
    extent = int(max(rows.max() - rows.min(), cols.max() - cols.min())) + 1
    return footprint, extent


# --------------------------------------------------------------------------------------------
# 2. Convolutionalization
# --------------------------------------------------------------------------------------------


def convolutionalize(linear: nn.Linear, in_channels: int, height: int, width: int) -> nn.Conv2d:
    """Lecture 1. Rewrite a ``Linear`` over a flattened ``C x H x W`` map as an ``H x W`` ``Conv2d``.

    Output unit ``o`` of the linear layer is a dot product of its weight row with the flattened
    map; reshaped to ``[C, H, W]`` that row is exactly a convolution kernel. On a ``C x H x W``
    input the conv gives the same numbers (as a ``1 x 1`` map); on a larger input it slides and
    gives a whole map of predictions.
    """
    if not isinstance(linear, nn.Linear):
        raise TypeError(f"linear must be an nn.Linear, got {type(linear).__name__}")
    for name, value in (("in_channels", in_channels), ("height", height), ("width", width)):
        _check_int(value, name, 1)
    if linear.in_features != in_channels * height * width:
        raise ValueError(f"the linear layer takes {linear.in_features} features, but a "
                         f"{in_channels}x{height}x{width} map flattens to {in_channels * height * width}")
    conv = nn.Conv2d(in_channels, linear.out_features, kernel_size=(height, width),
                     bias=linear.bias is not None).to(linear.weight.device, linear.weight.dtype)
    with torch.no_grad():
        conv.weight.copy_(linear.weight.reshape(linear.out_features, in_channels, height, width))
        if linear.bias is not None:
            conv.bias.copy_(linear.bias)
    return conv


def sample_crops(images: torch.Tensor, masks: torch.Tensor, n: int, size: int = 16, on_shapes: float = 0.5,
                 seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Lecture 1. ``n`` square crops of ``images`` labelled with the class of their centre pixel.

    The data of a classifier to convolutionalize: ``images`` ``[N, C, H, W]``, ``masks`` ``[N, H, W]``.
    A crop's label is ``mask[top + size // 2, left + size // 2]``. A share ``on_shapes`` of the crops
    is centred on a pixel that is not background (the rest anywhere), so the shape classes are not
    drowned by the background. Returns crops ``[n, C, size, size]`` and labels int64 ``[n]``.
    """
    check_images(images, "images")
    _check_int(n, "n", 1)
    _check_int(size, "size", 1)
    if masks.shape != (images.shape[0], *images.shape[2:]):
        raise ValueError(f"masks must be [N, H, W] = {(images.shape[0], *images.shape[2:])}, got {tuple(masks.shape)}")
    height, width = images.shape[2:]
    if size > min(height, width):
        raise ValueError(f"crops of {size} pixels do not fit into {height}x{width} images")
    if not 0.0 <= on_shapes <= 1.0:
        raise ValueError(f"on_shapes must be a share in [0, 1], got {on_shapes}")
    g = torch.Generator().manual_seed(seed)
    half = size // 2
    valid = torch.zeros(height, width, dtype=torch.bool)         # centres whose crop fits
    valid[half:height - size + half + 1, half:width - size + half + 1] = True
    n_shapes = round(n * on_shapes)
    shape_centres = ((masks > 0) & valid).nonzero()               # [M, 3]: image, row, column
    if n_shapes and len(shape_centres) == 0:
        raise ValueError("no shape pixel lies where a crop fits: lower on_shapes or the crop size")
    picked = shape_centres[torch.randint(len(shape_centres), (n_shapes,), generator=g)] if n_shapes else \
        torch.zeros(0, 3, dtype=torch.long)
    anywhere = valid.nonzero()
    rest = anywhere[torch.randint(len(anywhere), (n - n_shapes,), generator=g)]
    which = torch.cat([picked[:, 0], torch.randint(images.shape[0], (n - n_shapes,), generator=g)])
    centres = torch.cat([picked[:, 1:], rest])
    order = torch.randperm(n, generator=g)
    which, centres = which[order], centres[order]
    rows = centres[:, 0, None] - half + torch.arange(size)        # [n, size]
    cols = centres[:, 1, None] - half + torch.arange(size)
    crops = images[which[:, None, None], :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    return crops.contiguous(), masks[which, centres[:, 0], centres[:, 1]]


class CropClassifier(nn.Module):
    """Lecture 1. A small CNN that labels a ``size x size`` crop: the classifier to convolutionalize.

    Two stages of (3x3 conv + BN + ReLU, 2x2 max pool) shrink the crop 4 times to a
    ``width x size/4 x size/4`` map (:meth:`features`, fully convolutional), which ``head``, one
    ``nn.Linear``, reads as a whole. Replace ``head`` by its convolutionalized version and the
    network slides over a whole image, giving one prediction per window, at stride 4.
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 4, size: int = 16, width: int = 32) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("num_classes", num_classes), ("width", width)):
            _check_int(value, name, 1)
        _check_int(size, "size", 4)
        if size % 4:
            raise ValueError(f"size must be a multiple of 4 (two 2x2 poolings), got {size}")
        self.size, self.map_size, self.width = size, size // 4, width

        def stage(c_in: int, c_out: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
                                 nn.MaxPool2d(2))

        self.features = nn.Sequential(stage(in_channels, width // 2), stage(width // 2, width))
        self.head = nn.Linear(width * self.map_size ** 2, num_classes)

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        if tuple(crops.shape[2:]) != (self.size, self.size):
            raise ValueError(f"the crop classifier takes {self.size}x{self.size} crops, got {tuple(crops.shape[2:])}; "
                             f"convolutionalize its head to run it on whole images")
        return self.head(self.features(crops).flatten(1))


def window_scores_to_masks(scores: torch.Tensor, image_size: tuple[int, int], window: int, stride: int
                           ) -> torch.Tensor:
    """Lecture 1. Full-size class masks ``[N, H, W]`` from a sliding classifier's scores ``[N, C, h, w]``.

    Position ``(i, j)`` of the scores is the classifier on the ``window x window`` crop whose top-left
    corner is ``(stride * i, stride * j)``; it labels the ``stride x stride`` block around that crop's
    centre pixel. The border that no block reaches takes the label of the nearest block.
    """
    check_tensor(scores, "scores", floating=True)
    if scores.dim() != 4:
        raise ValueError(f"scores must be [N, C, h, w], got shape {tuple(scores.shape)}")
    _check_int(window, "window", 1)
    _check_int(stride, "stride", 1)
    height, width = image_size
    labels = scores.argmax(dim=1)
    blocks = labels.repeat_interleave(stride, dim=1).repeat_interleave(stride, dim=2)
    offset = window // 2 - stride // 2
    bottom, right = height - offset - blocks.shape[1], width - offset - blocks.shape[2]
    if offset < 0 or bottom < 0 or right < 0:
        raise ValueError(f"{tuple(scores.shape[2:])} windows of {window} pixels at stride {stride} do not fit "
                         f"into {height}x{width} images")
    padded = F.pad(blocks[:, None].float(), (offset, right, offset, bottom), mode="replicate")
    return padded[:, 0].long()


# --------------------------------------------------------------------------------------------
# 3. The FCN
# --------------------------------------------------------------------------------------------


class FCN(nn.Module):
    """Lecture 1. A small fully convolutional network: stride-8 encoder, 1x1 class head, one upsampling.

    Three stages of (two 3x3 conv + BN + ReLU, 2x2 max pool) give a map 8 times smaller; a 1x1
    conv turns each of its positions into class scores (the convolutionalized classifier), and
    those coarse scores are brought back to the input size in one step: ``"bilinear"``
    interpolation, or ``"transposed"``, a learned ``ConvTranspose2d`` (kernel 16, stride 8)
    initialised to bilinear interpolation as in the FCN paper. No skip connections: fine detail
    lost in the encoder cannot come back (a single-stride prediction like FCN-32s, at stride 8 here).
    """

    def __init__(self, in_channels: int, num_classes: int, width: int = 32, upsample: str = "bilinear") -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("num_classes", num_classes), ("width", width)):
            _check_int(value, name, 1)
        if upsample not in ("bilinear", "transposed"):
            raise ValueError(f"upsample must be 'bilinear' or 'transposed', got {upsample!r}")
        self.in_channels, self.num_classes, self.upsample = in_channels, num_classes, upsample
        widths = [in_channels, width, 2 * width, 4 * width]
        self.encoder = nn.Sequential(*(
            nn.Sequential(DoubleConv(widths[i], widths[i + 1]), nn.MaxPool2d(2)) for i in range(3)))
        self.head = nn.Conv2d(widths[-1], num_classes, kernel_size=1)
        if upsample == "transposed":
            self.up = nn.ConvTranspose2d(num_classes, num_classes, kernel_size=16, stride=8, padding=4,
                                         bias=False)
            with torch.no_grad():
                self.up.weight.copy_(bilinear_kernel(num_classes, 16))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, "the FCN's input", channels=self.in_channels)
        if min(x.shape[2:]) < 8:
            raise ValueError(f"FCN downsamples by 8 and needs H, W >= 8, got {tuple(x.shape[2:])}")
        coarse = self.head(self.encoder(x))
        if self.upsample == "transposed":
            coarse = self.up(coarse)
            if coarse.shape[2:] == x.shape[2:]:
                return coarse
        return F.interpolate(coarse, size=x.shape[2:], mode="bilinear", align_corners=False)


def bilinear_kernel(channels: int, kernel: int) -> torch.Tensor:
    """Lecture 1. Weights ``[channels, channels, k, k]`` that make ``ConvTranspose2d`` upsample bilinearly.

    Each channel maps to itself with the tent filter ``(1 - |x - c|/f)(1 - |y - c|/f)``; with
    stride ``s``, ``kernel = 2*s`` and ``padding = s//2`` this is bilinear upsampling by ``s``.
    """
    _check_int(channels, "channels", 1)
    _check_int(kernel, "kernel", 1)
    factor = (kernel + 1) // 2
    centre = factor - 1 if kernel % 2 == 1 else factor - 0.5
    ticks = 1 - (torch.arange(kernel, dtype=torch.float32) - centre).abs() / factor
    tent = ticks[:, None] * ticks[None, :]
    weight = torch.zeros(channels, channels, kernel, kernel)
    weight[range(channels), range(channels)] = tent
    return weight


# --------------------------------------------------------------------------------------------
# 4. Loss, predictions and metrics
# --------------------------------------------------------------------------------------------


def _check_masks(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> None:
    _check_int(num_classes, "num_classes", 1)
    for name, t in (("predictions", pred), ("targets", target)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a tensor, got {type(t).__name__}")
        if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
            raise TypeError(f"{name} must hold integer class indices, got {t.dtype} "
                            f"(logits? take .argmax(dim=1) first)")
    if pred.shape != target.shape:
        raise ValueError(f"predictions {tuple(pred.shape)} and targets {tuple(target.shape)} must have the same shape")
    for name, t in (("predictions", pred), ("targets", target)):
        if t.numel() and (t.min() < 0 or t.max() >= num_classes):
            raise ValueError(f"{name} must lie in 0..{num_classes - 1}, got values "
                             f"{int(t.min())}..{int(t.max())}")


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
                      ) -> torch.Tensor:
    """Lecture 1. Per-pixel cross-entropy, averaged over all pixels.

    ``logits``: ``[N, C, H, W]`` float; ``target``: ``[N, H, W]`` int64 in ``0..C-1``;
    ``weight`` (optional): ``[C]`` class weights, as in ``F.cross_entropy``. Shapes and dtypes are
    checked here; the target's values only by ``F.cross_entropy`` (reading them back every
    training step would stall a GPU).
    """
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point() or logits.dim() != 4:
        raise ValueError(f"logits must be a float tensor [N, C, H, W], got "
                         f"{getattr(logits, 'dtype', type(logits).__name__)} {tuple(getattr(logits, 'shape', ()))}")
    if not isinstance(target, torch.Tensor) or target.dtype != torch.long:
        raise TypeError(f"target must be an int64 (long) tensor of class indices, got "
                        f"{getattr(target, 'dtype', type(target).__name__)}")
    expected = (logits.shape[0], *logits.shape[2:])
    if tuple(target.shape) != expected:
        raise ValueError(f"target must be [N, H, W] = {expected} to match logits {tuple(logits.shape)}, "
                         f"got {tuple(target.shape)}")
    return F.cross_entropy(logits, target, weight=weight)


def predict_masks(model: nn.Module, images: torch.Tensor, batch_size: int = 64,
                  device: torch.device | str | None = None) -> torch.Tensor:
    """Lecture 1. ``argmax`` class masks ``[N, H, W]`` (int64, on the CPU) of a model's logits, in eval mode, in batches."""
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        raise ValueError(f"images must be a tensor [N, C, H, W], got {tuple(getattr(images, 'shape', ()))}")
    return in_batches(model, images, fn=lambda x: model(x).argmax(dim=1), batch_size=batch_size, device=device)


def pixel_accuracy(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Lecture 1. Fraction of pixels whose predicted class equals the target class."""
    if not isinstance(pred, torch.Tensor) or not isinstance(target, torch.Tensor):
        raise TypeError("pixel_accuracy takes two tensors of class indices")
    if pred.shape != target.shape:
        raise ValueError(f"predictions {tuple(pred.shape)} and targets {tuple(target.shape)} must have the same shape")
    if pred.is_floating_point() or target.is_floating_point():
        raise TypeError("pixel_accuracy takes integer class indices (take .argmax(dim=1) of the logits first)")
    if pred.numel() == 0:
        raise ValueError("pixel_accuracy got empty tensors")
    return (pred == target).double().mean().item()


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Lecture 1. ``[num_classes, num_classes]`` int64 counts: row = true class, column = predicted class.

    The diagonal holds the true positives; row sums are the pixels of each true class, column
    sums the pixels predicted as each class.
    """
    _check_masks(pred, target, num_classes)
    index = target.reshape(-1).long() * num_classes + pred.reshape(-1).long()
    return torch.bincount(index.cpu(), minlength=num_classes**2).reshape(num_classes, num_classes)


def _check_confusion(confusion: torch.Tensor) -> torch.Tensor:
    if not isinstance(confusion, torch.Tensor):
        raise TypeError(f"confusion must be a tensor, got {type(confusion).__name__}")
    if confusion.dim() != 2 or confusion.shape[0] != confusion.shape[1]:
        raise ValueError(f"confusion must be a square [C, C] matrix, got {tuple(confusion.shape)}")
    if (confusion < 0).any():
        raise ValueError("confusion counts must be non-negative")
    return confusion.double()


def iou_from_confusion(confusion: torch.Tensor) -> torch.Tensor:
    """Lecture 1. Per-class IoU ``TP / (TP + FP + FN)`` from a confusion matrix, ``[C]`` float64.

    NaN for a class absent from both prediction and target (0/0).
    """
    c = _check_confusion(confusion)
    tp = c.diag()
    union = c.sum(0) + c.sum(1) - tp
    return torch.where(union > 0, tp / union.clamp(min=1), torch.full_like(tp, math.nan))


def dice_from_confusion(confusion: torch.Tensor) -> torch.Tensor:
    """Lecture 1. Per-class Dice ``2 TP / (2 TP + FP + FN)`` from a confusion matrix, ``[C]`` float64.

    NaN for a class absent from both prediction and target (0/0).
    """
    c = _check_confusion(confusion)
    tp = c.diag()
    total = c.sum(0) + c.sum(1)
    return torch.where(total > 0, 2 * tp / total.clamp(min=1), torch.full_like(tp, math.nan))


def evaluate_segmentation(model: nn.Module, images: torch.Tensor, masks: torch.Tensor, num_classes: int,
                          batch_size: int = 64, device: torch.device | str | None = None) -> dict:
    """Lecture 1. Run ``model`` on ``images`` and score it against ``masks``.

    Returns a dict: ``pixel_accuracy`` (float), ``iou`` and ``dice`` (``[C]`` tensors),
    ``mean_iou`` and ``mean_dice`` (floats, NaN classes skipped), ``confusion`` (``[C, C]``) and
    ``predictions`` (``[N, H, W]`` int64 on the CPU).
    """
    if not isinstance(masks, torch.Tensor) or masks.dim() != 3:
        raise ValueError(f"masks must be a tensor [N, H, W], got {tuple(getattr(masks, 'shape', ()))}")
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[0] != masks.shape[0] \
            or images.shape[2:] != masks.shape[1:]:
        raise ValueError(f"images [N, C, H, W] and masks [N, H, W] must match, got "
                         f"{tuple(getattr(images, 'shape', ()))} and {tuple(masks.shape)}")
    predictions = predict_masks(model, images, batch_size, device)
    confusion = confusion_matrix(predictions, masks.cpu(), num_classes)
    iou, dice = iou_from_confusion(confusion), dice_from_confusion(confusion)
    return {"pixel_accuracy": pixel_accuracy(predictions, masks.cpu()), "iou": iou, "dice": dice,
            "mean_iou": float(iou.nanmean()), "mean_dice": float(dice.nanmean()),
            "confusion": confusion, "predictions": predictions}
