"""Unit tests of course_lib.segmentation (lecture 1) and of the tests behind its check cells."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib import segmentation as seg
from course_lib.checks import CheckFailed
from course_lib.exercises import lecture01 as ex

# ------------------------------------------------------------------ conv arithmetic


@pytest.mark.parametrize("size,kernel,stride,padding,dilation",
                         [(7, 3, 1, 0, 1), (8, 3, 2, 1, 1), (9, 4, 2, 1, 1), (10, 3, 1, 2, 2), (5, 5, 3, 2, 1)])
def test_conv_output_size_matches_pytorch(size, kernel, stride, padding, dilation):
    layer = nn.Conv2d(1, 1, kernel, stride=stride, padding=padding, dilation=dilation)
    actual = layer(torch.zeros(1, 1, size, size)).shape[-1]
    assert seg.conv_output_size(size, kernel, stride, padding, dilation) == actual


@pytest.mark.parametrize("size,kernel,stride,padding,output_padding,dilation",
                         [(4, 3, 1, 0, 0, 1), (4, 3, 2, 1, 1, 1), (7, 4, 2, 1, 0, 1), (3, 5, 3, 2, 2, 1),
                          (6, 3, 1, 1, 0, 2), (5, 3, 2, 0, 1, 2), (8, 16, 8, 4, 0, 1)])
def test_transposed_conv_output_size_matches_pytorch(size, kernel, stride, padding, output_padding, dilation):
    layer = nn.ConvTranspose2d(1, 1, kernel, stride=stride, padding=padding, output_padding=output_padding,
                               dilation=dilation)
    actual = layer(torch.zeros(1, 1, size, size)).shape[-1]
    assert seg.transposed_conv_output_size(size, kernel, stride, padding, output_padding, dilation) == actual


def test_transposed_conv_inverts_the_conv_size():
    for size in range(8, 14):
        down = seg.conv_output_size(size, 3, stride=2, padding=1)
        output_padding = (size + 1) % 2
        assert seg.transposed_conv_output_size(down, 3, 2, 1, output_padding) == size


def test_conv_arithmetic_rejects_bad_inputs():
    with pytest.raises(TypeError, match="size must be an int"):
        seg.conv_output_size(7.0, 3)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        seg.conv_output_size(7, 3, stride=0)
    with pytest.raises(ValueError, match="no output position fits"):
        seg.conv_output_size(2, 5)
    with pytest.raises(ValueError, match="output_padding"):
        seg.transposed_conv_output_size(4, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="crops everything"):
        seg.transposed_conv_output_size(1, 1, padding=1)
    with pytest.raises(TypeError, match="kernel must be an int"):
        seg.transposed_conv_output_size(4, True)


def test_receptive_field_values():
    assert seg.receptive_field([], []) == 1
    assert seg.receptive_field([3] * 4, [1] * 4) == 9
    assert seg.receptive_field([3] * 4, [1, 2, 4, 8]) == 31
    assert seg.receptive_field([3, 3], [1, 1], [2, 1]) == 7
    assert seg.receptive_field([7, 3, 3], [1, 1, 1], [2, 2, 2]) == 19


def test_receptive_field_rejects_bad_inputs():
    with pytest.raises(ValueError, match="one entry per layer"):
        seg.receptive_field([3, 3], [1])
    with pytest.raises(ValueError, match=r"dilations\[1\] must be >= 1"):
        seg.receptive_field([3, 3], [1, 0])
    with pytest.raises(TypeError, match=r"kernels\[0\] must be an int"):
        seg.receptive_field([3.5], [1])


@pytest.mark.parametrize("dilations", [[1, 1, 1], [1, 2, 4], [2, 2], [1, 2, 4, 8]])
def test_gradient_footprint_matches_the_formula(dilations):
    net = seg.conv_stack(dilations)
    field = seg.receptive_field([3] * len(dilations), dilations)
    footprint, extent = seg.gradient_footprint(net, size=field + 10)
    assert extent == field
    assert footprint.shape == (field + 10, field + 10)
    # exponential dilations leave no holes; the dilation-2 stack only reaches every other pixel
    centre, half = (field + 10) // 2, field // 2
    window = footprint[centre - half:centre + half + 1, centre - half:centre + half + 1]
    assert window.shape == (field, field)
    holes = int((window == 0).sum())
    assert (holes > 0) == (dilations == [2, 2])


def test_conv_stack_keeps_size_and_rejects_even_kernels():
    assert seg.conv_stack([1, 2, 4])(torch.zeros(1, 1, 20, 20)).shape == (1, 1, 20, 20)
    with pytest.raises(ValueError, match="odd"):
        seg.conv_stack([1], kernel=4)


# ------------------------------------------------------------------ convolutionalization


def test_convolutionalize_same_outputs_and_dense_map():
    torch.manual_seed(0)
    linear = nn.Linear(6 * 3 * 4, 5)
    conv = seg.convolutionalize(linear, 6, 3, 4)
    x = torch.randn(2, 6, 3, 4)
    assert torch.allclose(conv(x).flatten(1), linear(x.flatten(1)), atol=1e-6)
    big = torch.randn(1, 6, 7, 9)
    dense = conv(big)
    assert dense.shape == (1, 5, 5, 6)
    # position (i, j) of the dense map is the linear layer applied to the window at (i, j)
    assert torch.allclose(dense[0, :, 2, 3], linear(big[:, :, 2:5, 3:7].flatten(1))[0], atol=1e-6)


def test_convolutionalize_without_bias_and_bad_inputs():
    conv = seg.convolutionalize(nn.Linear(8, 2, bias=False), 2, 2, 2)
    assert conv.bias is None
    with pytest.raises(ValueError, match="flattens to 12"):
        seg.convolutionalize(nn.Linear(8, 2), 3, 2, 2)
    with pytest.raises(TypeError, match="nn.Linear"):
        seg.convolutionalize(nn.Conv2d(1, 1, 1), 1, 1, 1)


# ------------------------------------------------------------------ models


@pytest.mark.parametrize("bilinear", [True, False])
@pytest.mark.parametrize("size", [32, 37, 45])
def test_unet_keeps_any_size(bilinear, size):
    model = seg.UNet(3, 4, base=4, depth=3, bilinear=bilinear)
    assert model(torch.rand(2, 3, size, size)).shape == (2, 4, size, size)


def test_unet_upsampling_choice_changes_the_layers():
    bilinear = seg.UNet(3, 4, base=4, bilinear=True)
    transposed = seg.UNet(3, 4, base=4, bilinear=False)
    assert isinstance(bilinear.ups[0].up, nn.Upsample)
    assert isinstance(transposed.ups[0].up, nn.ConvTranspose2d)
    assert seg.count_parameters(transposed) > seg.count_parameters(bilinear)


def test_unet_uses_the_given_merge():
    calls = []

    def merge(upsampled, skip):
        calls.append((tuple(upsampled.shape), tuple(skip.shape)))
        return seg.pad_and_concat(upsampled, skip)

    seg.UNet(3, 2, base=4, depth=2, merge=merge)(torch.rand(1, 3, 9, 9))
    assert calls == [((1, 8, 4, 4), (1, 8, 4, 4)), ((1, 4, 8, 8), (1, 4, 9, 9))]


def test_unet_rejects_bad_inputs():
    model = seg.UNet(3, 4, base=4, depth=3)
    with pytest.raises(ValueError, match=r"expects images \[N, 3, H, W\]"):
        model(torch.rand(2, 1, 32, 32))
    with pytest.raises(TypeError, match="float images"):
        model(torch.zeros(2, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match="needs H, W >= 8"):
        model(torch.rand(1, 3, 6, 6))
    with pytest.raises(ValueError, match="base must be >= 1"):
        seg.UNet(3, 4, base=0)


@pytest.mark.parametrize("upsample", ["bilinear", "transposed"])
@pytest.mark.parametrize("size", [48, 37])
def test_fcn_output_size(upsample, size):
    model = seg.FCN(3, 4, width=4, upsample=upsample)
    assert model(torch.rand(2, 3, size, size)).shape == (2, 4, size, size)


def test_fcn_transposed_starts_as_bilinear_upsampling():
    model = seg.FCN(3, 2, width=4, upsample="transposed")
    coarse = torch.rand(1, 2, 6, 6)
    learned = model.up(coarse)
    fixed = F.interpolate(coarse, scale_factor=8, mode="bilinear", align_corners=False)
    assert torch.allclose(learned[..., 8:-8, 8:-8], fixed[..., 8:-8, 8:-8], atol=1e-5)


def test_fcn_rejects_bad_inputs():
    with pytest.raises(ValueError, match="upsample must be"):
        seg.FCN(3, 4, upsample="nearest")
    with pytest.raises(ValueError, match="needs H, W >= 8"):
        seg.FCN(3, 4, width=4)(torch.rand(1, 3, 4, 4))


def test_pad_and_concat_splits_the_padding():
    upsampled = torch.ones(1, 1, 4, 6)
    skip = torch.zeros(1, 2, 7, 9)
    out = seg.pad_and_concat(upsampled, skip)
    assert out.shape == (1, 3, 7, 9)
    rows = torch.nonzero(out[0, 2].sum(1)).flatten()
    cols = torch.nonzero(out[0, 2].sum(0)).flatten()
    assert (rows.min().item(), rows.max().item()) == (1, 4)   # 3 missing rows: 1 above, 2 below
    assert (cols.min().item(), cols.max().item()) == (1, 6)
    with pytest.raises(ValueError, match="larger than the skip map"):
        seg.pad_and_concat(torch.ones(1, 1, 8, 8), torch.ones(1, 1, 7, 7))
    with pytest.raises(ValueError, match="batch sizes differ"):
        seg.pad_and_concat(torch.ones(2, 1, 8, 8), torch.ones(1, 1, 8, 8))


# ------------------------------------------------------------------ loss and metrics


def test_segmentation_loss_is_cross_entropy_and_validates():
    logits = torch.randn(2, 3, 4, 5)
    target = torch.randint(0, 3, (2, 4, 5))
    assert torch.allclose(seg.segmentation_loss(logits, target), F.cross_entropy(logits, target))
    with pytest.raises(TypeError, match="int64"):
        seg.segmentation_loss(logits, target.float())
    with pytest.raises(ValueError, match="must be \\[N, H, W\\]"):
        seg.segmentation_loss(logits, target[:, :3])
    with pytest.raises(ValueError, match="0..2"):
        seg.segmentation_loss(logits, target + 1)
    with pytest.raises(ValueError, match="float tensor"):
        seg.segmentation_loss(logits[0], target)


def test_confusion_and_scores_on_a_small_example():
    target = torch.tensor([[0, 0, 1, 1], [2, 2, 2, 0]])
    pred = torch.tensor([[0, 1, 1, 1], [2, 2, 0, 0]])
    confusion = seg.confusion_matrix(pred, target, 4)
    assert confusion.tolist() == [[2, 1, 0, 0], [0, 2, 0, 0], [1, 0, 2, 0], [0, 0, 0, 0]]
    assert seg.pixel_accuracy(pred, target) == pytest.approx(6 / 8)
    iou = seg.iou_per_class(pred, target, 4)
    dice = seg.dice_per_class(pred, target, 4)
    assert iou[:3].tolist() == pytest.approx([2 / 4, 2 / 3, 2 / 3])
    assert dice[:3].tolist() == pytest.approx([4 / 6, 4 / 5, 4 / 5])
    assert math.isnan(iou[3]) and math.isnan(dice[3])   # class 3 absent everywhere: 0/0


def test_metrics_reject_bad_inputs():
    good = torch.zeros(2, 3, dtype=torch.long)
    with pytest.raises(TypeError, match="integer class indices"):
        seg.confusion_matrix(good.float(), good, 2)
    with pytest.raises(ValueError, match="same shape"):
        seg.confusion_matrix(good, good[:1], 2)
    with pytest.raises(ValueError, match="must lie in 0..1"):
        seg.confusion_matrix(good + 2, good, 2)
    with pytest.raises(TypeError, match="integer class indices"):
        seg.pixel_accuracy(good.float(), good)
    with pytest.raises(ValueError, match="square"):
        seg.iou_from_confusion(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="non-negative"):
        seg.dice_from_confusion(-torch.ones(2, 2))


def test_evaluate_segmentation_with_a_perfect_model():
    class Oracle(nn.Module):
        """Predicts class 1 where the first channel is > 0.5, else class 0."""

        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.tensor(10.0))

        def forward(self, x):
            score = self.scale * (x[:, :1] - 0.5)
            return torch.cat([-score, score], dim=1)

    images = torch.rand(5, 3, 8, 8)
    masks = (images[:, 0] > 0.5).long()
    model = Oracle().train()
    result = seg.evaluate_segmentation(model, images, masks, 2, batch_size=2)
    assert result["pixel_accuracy"] == 1.0
    assert result["mean_iou"] == pytest.approx(1.0) and result["mean_dice"] == pytest.approx(1.0)
    assert result["predictions"].shape == (5, 8, 8)
    assert model.training, "evaluate_segmentation must restore the model's train mode"
    with pytest.raises(ValueError, match="must match"):
        seg.evaluate_segmentation(model, images[:4], masks, 2)


def test_plot_metric_bars_validates():
    fig = seg.plot_metric_bars({"a": [0.5, 0.7], "b": [0.6, 0.9]}, ["x", "y"])
    assert len(fig.axes[0].patches) == 4
    with pytest.raises(ValueError, match="2 values for 3 labels"):
        seg.plot_metric_bars({"a": [0.5, 0.7]}, ["x", "y", "z"])


# ------------------------------------------------------------------ the exercise tests


def _wrong_convolutionalize(linear, channels, height, width):
    conv = nn.Conv2d(channels, linear.out_features, (height, width), bias=linear.bias is not None)
    with torch.no_grad():   # wrong layout: channels last
        conv.weight.copy_(linear.weight.reshape(-1, height, width, channels).permute(0, 3, 1, 2))
        if linear.bias is not None:
            conv.bias.copy_(linear.bias)
    return conv


def _wrong_transposed_size(size, kernel, stride=1, padding=0, output_padding=0, dilation=1):
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + 1   # forgets output_padding


def _wrong_receptive_field(kernels, dilations, strides=None):
    return 1 + sum((k - 1) * d for k, d in zip(kernels, dilations))          # ignores strides


def _wrong_pad_and_concat(upsampled, skip):
    dy, dx = skip.shape[2] - upsampled.shape[2], skip.shape[3] - upsampled.shape[3]
    return torch.cat([skip, F.pad(upsampled, [0, dx, 0, dy])], dim=1)        # all padding at the end


def _recall(confusion):
    c = confusion.double()
    return c.diag() / c.sum(1)


EXERCISES = [
    (ex.test_convolutionalize, seg.convolutionalize, _wrong_convolutionalize, "flatten"),
    (ex.test_transposed_conv_output_size, seg.transposed_conv_output_size, _wrong_transposed_size,
     "output_padding is missing"),
    (ex.test_receptive_field, seg.receptive_field, _wrong_receptive_field, "strides are ignored"),
    (ex.test_pad_and_concat, seg.pad_and_concat, _wrong_pad_and_concat, "diff // 2"),
    (ex.test_iou_from_confusion, seg.iou_from_confusion, _recall, "recall"),
    (ex.test_dice_from_confusion, seg.dice_from_confusion, seg.iou_from_confusion, "You computed the IoU"),
]


@pytest.mark.parametrize("test,reference,wrong,message", EXERCISES, ids=[e[0].__name__ for e in EXERCISES])
def test_exercise_accepts_reference_and_rejects_wrong(test, reference, wrong, message):
    test(reference)
    with pytest.raises(CheckFailed, match=message):
        test(wrong)


@pytest.mark.parametrize("test", [e[0] for e in EXERCISES], ids=[e[0].__name__ for e in EXERCISES])
def test_exercise_passes_a_stub_through_as_not_done(test):
    def stub(*args, **kwargs):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        test(stub)


def test_score_exercises_demand_nan_for_absent_classes():
    def zero_for_absent(confusion):
        return torch.nan_to_num(seg.iou_from_confusion(confusion), nan=0.0)

    with pytest.raises(CheckFailed, match="return NaN"):
        ex.test_iou_from_confusion(zero_for_absent)


def test_pad_exercise_names_the_concat_order():
    def skip_last(upsampled, skip):
        return seg.pad_and_concat(upsampled, skip).roll(-skip.shape[1], dims=1)

    with pytest.raises(CheckFailed, match="skip map comes last"):
        ex.test_pad_and_concat(skip_last)


def test_with_cosine_lr_follows_the_optimizer_steps():
    model = nn.Linear(2, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1.0)
    seen = []

    def loss_fn(m, batch):
        seen.append(optimizer.param_groups[0]["lr"])
        return m(batch).pow(2).mean()

    scheduled = seg.with_cosine_lr(loss_fn, optimizer, peak_lr=0.1, total_steps=4, final_fraction=0.0)
    for _ in range(5):
        loss = scheduled(model, torch.ones(3, 2))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert seen == pytest.approx([0.1, 0.1 * (1 + math.cos(math.pi / 4)) / 2, 0.05,
                                  0.1 * (1 + math.cos(3 * math.pi / 4)) / 2, 0.0])
    with pytest.raises(ValueError, match="peak_lr"):
        seg.with_cosine_lr(loss_fn, optimizer, peak_lr=0, total_steps=4)
