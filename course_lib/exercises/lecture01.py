"""Lecture 1: the checks behind the check cells of ``01_segmentation.ipynb``.

Each ``check_*`` takes the student's function, runs it on several fixed inputs, compares with the
reference in :mod:`course_lib.segmentation` (or with PyTorch itself) and raises
:class:`~course_lib.checks.CheckFailed` with a message that says what is wrong.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .. import segmentation as seg
from ..checks import CheckFailed, expect_close, expect_equal, expect_shape, seeded
from ..nn.unet import pad_and_concat


# ---------------------------------------------------------------- Exercise 1: convolutionalize

def check_convolutionalize(student_fn: Callable[[nn.Linear, int, int, int], nn.Conv2d]) -> None:
    """The conv must reproduce the linear layer on a C x H x W map and slide on larger maps."""
    for seed, (channels, height, width, outputs, bias) in enumerate(
            [(8, 4, 4, 5, True), (3, 2, 5, 4, True), (6, 3, 3, 2, False)]):
        torch.manual_seed(100 + seed)
        linear = nn.Linear(channels * height * width, outputs, bias=bias)
        case = f"Linear({channels}*{height}*{width} -> {outputs}{'' if bias else ', bias=False'})"
        conv = student_fn(linear, channels, height, width)
        if not isinstance(conv, nn.Conv2d):
            raise CheckFailed(f"for {case} you returned a {type(conv).__name__}, expected an nn.Conv2d.")
        expect_equal(tuple(conv.kernel_size), (height, width), f"the kernel size for {case}")
        expect_equal((conv.in_channels, conv.out_channels), (channels, outputs),
                     f"(in_channels, out_channels) for {case}")
        expect_equal(conv.bias is not None, bias, f"'the conv has a bias' for {case}")
        x = torch.rand(2, channels, height, width, generator=seeded(seed))
        with torch.no_grad():
            dense = conv(x)
            expect_shape(dense, (2, outputs, 1, 1), f"conv(x) on a [2, {channels}, {height}, {width}] map")
            wanted = linear(x.flatten(1))
        if not torch.allclose(dense.flatten(1), wanted, atol=1e-5):
            raise CheckFailed(
                f"for {case}, conv(x) differs from linear(x.flatten(1)) (largest error "
                f"{float((dense.flatten(1) - wanted).abs().max()):.3g}). Reshape the weight to "
                f"[out_features, C, H, W]: that is the order in which flatten lays out the map. "
                f"Copy the bias too.")
        big = torch.rand(1, channels, height + 3, width + 2, generator=seeded(10 + seed))
        reference = seg.convolutionalize(linear, channels, height, width)
        with torch.no_grad():
            expect_close(conv(big), reference(big), f"conv on a larger {channels}x{height + 3}x{width + 2} map")


# ---------------------------------------------------------------- Exercise 2: transposed conv size

_TRANSPOSED_CASES = [  # size, kernel, stride, padding, output_padding, dilation
    (4, 3, 1, 0, 0, 1), (4, 3, 2, 0, 0, 1), (4, 3, 2, 1, 0, 1), (4, 3, 2, 1, 1, 1),
    (7, 4, 2, 1, 0, 1), (5, 2, 2, 0, 0, 1), (3, 5, 3, 2, 2, 1), (6, 3, 1, 1, 0, 2), (5, 3, 2, 0, 1, 2),
]


def _pytorch_transposed_size(size: int, kernel: int, stride: int, padding: int, output_padding: int,
                             dilation: int) -> int:
    layer = nn.ConvTranspose2d(1, 1, kernel, stride=stride, padding=padding, output_padding=output_padding,
                               dilation=dilation, bias=False)
    with torch.no_grad():
        return int(layer(torch.zeros(1, 1, size, size)).shape[-1])


def check_transposed_conv_output_size(student_fn: Callable[..., int]) -> None:
    """The formula must agree with what ``nn.ConvTranspose2d`` really outputs, case by case."""
    for size, k, s, p, op, d in _TRANSPOSED_CASES:
        got = student_fn(size, k, stride=s, padding=p, output_padding=op, dilation=d)
        want = _pytorch_transposed_size(size, k, s, p, op, d)
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if isinstance(got, float) and got.is_integer():
            got = int(got)
        if got == want:
            continue
        case = f"size={size}, kernel={k}, stride={s}, padding={p}, output_padding={op}, dilation={d}"
        hints = [  # (what a common slip gives, what to say): the first match is named
            ((size - 1) * s - 2 * p + d * (k - 1) + 1, "output_padding is missing (it adds rows at the end)"),
            ((size - 1) * s - 2 * p + d * (k - 1) + op, "the final + 1 is missing"),
            ((size - 1) * s - p + d * (k - 1) + op + 1, "padding crops both sides: subtract 2 * padding"),
            (size * s - 2 * p + d * (k - 1) + op + 1,
             "the input pixels are (size - 1) * stride apart, not size * stride"),
            ((size - 1) * s - 2 * p + k + op, "dilation spreads the kernel over dilation * (kernel - 1) + 1 pixels"),
        ]
        if size + 2 * p >= d * (k - 1) + 1:
            hints.append(((size + 2 * p - d * (k - 1) - 1) // s + 1,
                          "that is the output size of the ordinary (forward) Conv2d, not of its transpose"))
        hint = next((text for value, text in hints if value == got and value != want),
                    "compare with the formula in the text above")
        raise CheckFailed(f"for {case} you return {got!r}, but nn.ConvTranspose2d outputs {want}: {hint}.")


# ---------------------------------------------------------------- Exercise 3: receptive field

_FIELD_CASES = [  # kernels, dilations, strides (None: all 1)
    ([], [], None), ([3], [1], None), ([3, 3, 3, 3], [1, 1, 1, 1], None), ([3, 3, 3, 3], [1, 2, 4, 8], None),
    ([5, 3], [2, 3], None), ([3, 3], [1, 1], [2, 1]), ([7, 3, 3], [1, 1, 1], [2, 2, 2]),
    ([3, 3, 3], [1, 2, 4], [1, 2, 1]),
]


def check_receptive_field(student_fn: Callable[..., int]) -> None:
    """Compare with :func:`course_lib.segmentation.receptive_field` on plain, dilated and strided stacks."""
    for kernels, dilations, strides in _FIELD_CASES:
        got = student_fn(kernels, dilations) if strides is None else student_fn(kernels, dilations, strides)
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        want = seg.receptive_field(kernels, dilations, strides)
        if got == want:
            continue
        case = f"kernels={kernels}, dilations={dilations}" + (f", strides={strides}" if strides else "")
        no_stride = seg.receptive_field(kernels, dilations)
        no_dilation = seg.receptive_field(kernels, [1] * len(kernels), strides)
        if got == want - 1 or got == want + 1:
            hint = "off by one: an empty stack sees 1 pixel, and each layer adds (kernel - 1) * dilation * jump"
        elif strides is not None and got == no_stride:
            hint = ("the strides are ignored: after a stride-s layer, neighbouring positions are s times "
                    "further apart in the input, so later layers add s times more")
        elif got == no_dilation:
            hint = "the dilations are ignored: a dilated kernel spans dilation * (kernel - 1) + 1 pixels"
        else:
            hint = "compare with the recurrence in the text above"
        raise CheckFailed(f"for {case} you return {got!r}, expected {want}: {hint}.")


# ---------------------------------------------------------------- Exercise 4: pad and concatenate

_PAD_CASES = [((2, 3, 36, 36), (2, 5, 37, 37)), ((1, 4, 8, 8), (1, 2, 9, 9)), ((1, 2, 4, 6), (1, 3, 7, 9)),
              ((2, 2, 5, 5), (2, 2, 5, 5))]


def check_pad_and_concat(student_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """Padding split around the map (extra pixel at the bottom/right), skip map first."""
    for index, (up_shape, skip_shape) in enumerate(_PAD_CASES):
        upsampled = torch.rand(up_shape, generator=seeded(index)) + 1.0   # all > 0: padding shows as 0
        skip = -torch.rand(skip_shape, generator=seeded(50 + index)) - 1.0  # all < 0
        got = student_fn(upsampled.clone(), skip.clone())
        want = pad_and_concat(upsampled, skip)
        case = f"upsampled {up_shape} and skip {skip_shape}"
        if not isinstance(got, torch.Tensor):
            raise CheckFailed(f"for {case} you return a {type(got).__name__}, expected a tensor.")
        expect_shape(got, tuple(want.shape), f"the result for {case}")
        if torch.equal(got, want):
            continue
        c_skip = skip_shape[1]
        if torch.equal(got[:, -c_skip:], skip):
            raise CheckFailed(f"for {case} the skip map comes last: concatenate [skip, upsampled] "
                              f"(skip first), as the U-Net code does.")
        if not torch.equal(got[:, :c_skip], skip):
            raise CheckFailed(f"for {case} the first {c_skip} channels should be the skip map, unchanged.")
        padded = got[:, c_skip:]
        rows = torch.nonzero((padded != 0).any(dim=(0, 1, 3))).flatten()
        cols = torch.nonzero((padded != 0).any(dim=(0, 1, 2))).flatten()
        top, left = int(rows.min()) if len(rows) else -1, int(cols.min()) if len(cols) else -1
        want_top = (skip_shape[2] - up_shape[2]) // 2
        want_left = (skip_shape[3] - up_shape[3]) // 2
        raise CheckFailed(f"for {case} the upsampled map starts at row {top}, column {left}; expected row "
                          f"{want_top}, column {want_left}: put diff // 2 zeros before (top/left) and the rest "
                          f"after (bottom/right). F.pad's list is [left, right, top, bottom].")


# ---------------------------------------------------------------- Exercise 5: IoU and Dice

_CONFUSIONS = [
    torch.tensor([[50, 2, 3], [4, 20, 1], [0, 5, 15]]),
    torch.tensor([[30, 0, 0, 0], [0, 12, 0, 0], [0, 0, 0, 0], [0, 0, 0, 7]]),   # class 2 absent: NaN
    torch.tensor([[900, 10, 20, 5], [30, 80, 6, 0], [12, 4, 60, 8], [2, 0, 9, 40]]),
]


def _expect_scores(actual: torch.Tensor, expected: torch.Tensor, what: str) -> None:
    """Like expect_close, with NaN allowed where the expected value is NaN (0/0: class absent)."""
    if not isinstance(actual, torch.Tensor):
        raise CheckFailed(f"{what} should be a tensor, got a {type(actual).__name__}.")
    expect_shape(actual, tuple(expected.shape), what)
    actual = actual.detach().double()
    absent = torch.isnan(expected)
    if absent.any() and not torch.isnan(actual[absent]).all():
        classes = torch.nonzero(absent).flatten().tolist()
        raise CheckFailed(f"{what}: class {classes} appears neither in the target nor in the prediction, so "
                          f"its score is 0/0; return NaN there (the mean then skips it), got "
                          f"{actual[absent].tolist()}.")
    if torch.isnan(actual[~absent]).any():
        raise CheckFailed(f"{what} has NaN for a class that is present: divide only where the denominator is > 0.")
    expect_close(actual[~absent], expected[~absent], what)


def _ratio_hint(actual: torch.Tensor, confusion: torch.Tensor) -> str:
    c = confusion.double()
    tp = c.diag()
    candidates = {"TP / (pixels of the true class), the recall": tp / c.sum(1),
                  "TP / (pixels predicted as the class), the precision": tp / c.sum(0),
                  "the IoU TP / (TP + FP + FN)": seg.iou_from_confusion(confusion),
                  "the Dice score 2 TP / (2 TP + FP + FN)": seg.dice_from_confusion(confusion)}
    a = actual.detach().double()
    for name, values in candidates.items():
        ok = ~torch.isnan(values)
        if a.shape == values.shape and not torch.isnan(a[ok]).any() and torch.allclose(a[ok], values[ok], atol=1e-6):
            return f" You computed {name}."
    return ""


def _check_scores(student_fn: Callable[[torch.Tensor], torch.Tensor], reference: Callable, name: str) -> None:
    for confusion in _CONFUSIONS:
        got = student_fn(confusion.clone())
        want = reference(confusion)
        what = f"{name} for the {confusion.shape[0]}-class confusion matrix {confusion.tolist()}"
        try:
            _expect_scores(got, want, what)
        except CheckFailed as failure:
            if isinstance(got, torch.Tensor) and tuple(got.shape) == tuple(want.shape):
                hint = _ratio_hint(got, confusion)
                if hint:
                    raise CheckFailed(f"{failure}{hint}") from None
            raise


def check_iou_from_confusion(student_fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """Per-class IoU = TP / (TP + FP + FN), NaN for absent classes."""
    _check_scores(student_fn, seg.iou_from_confusion, "IoU")


def check_dice_from_confusion(student_fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """Per-class Dice = 2 TP / (2 TP + FP + FN), NaN for absent classes."""
    _check_scores(student_fn, seg.dice_from_confusion, "Dice")


__all__ = ["check_convolutionalize", "check_transposed_conv_output_size", "check_receptive_field",
           "check_pad_and_concat", "check_iou_from_confusion", "check_dice_from_confusion"]
