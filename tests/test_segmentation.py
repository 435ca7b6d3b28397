"""Unit tests of course_lib.segmentation (lecture 1) and of the checks behind its check cells.

The U-Net moved to the toolkit (course_lib.nn.unet): its tests are in tests/test_unet.py.
"""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib import segmentation as seg
from course_lib import shapes
from course_lib.checks import CheckFailed
from course_lib.exercises import lecture01 as ex
from course_lib.nn.unet import pad_and_concat


# ------------------------------------------------------------------ conv arithmetic


@pytest.mark.parametrize("size,kernel,stride,padding,output_padding,dilation",
                         [(4, 3, 1, 0, 0, 1), (4, 3, 2, 1, 1, 1), (7, 4, 2, 1, 0, 1), (3, 5, 3, 2, 2, 1),
                          (6, 3, 1, 1, 0, 2), (5, 3, 2, 0, 1, 2), (8, 16, 8, 4, 0, 1)])
def test_transposed_conv_output_size_matches_pytorch(size, kernel, stride, padding, output_padding, dilation):
    layer = nn.ConvTranspose2d(1, 1, kernel, stride=stride, padding=padding, output_padding=output_padding,
                               dilation=dilation)
    actual = layer(torch.zeros(1, 1, size, size)).shape[-1]
    assert seg.transposed_conv_output_size(size, kernel, stride, padding, output_padding, dilation) == actual


def test_transposed_conv_inverts_the_conv_size():
    # a stride-2 conv maps two sizes to one; output_padding picks which one the transpose gives back
    for size in range(8, 14):
        down = nn.Conv2d(1, 1, 3, stride=2, padding=1)(torch.zeros(1, 1, size, size)).shape[-1]
        output_padding = (size + 1) % 2
        assert seg.transposed_conv_output_size(down, 3, 2, 1, output_padding) == size


def test_conv_arithmetic_rejects_bad_inputs():
    with pytest.raises(TypeError, match="size must be an int"):
        seg.transposed_conv_output_size(7.0, 3)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        seg.transposed_conv_output_size(7, 3, stride=0)
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


@pytest.mark.parametrize("upsample", ["bilinear", "transposed"])
@pytest.mark.parametrize("size", [48, 37])
def test_fcn_output_size(upsample, size):
    torch.manual_seed(0)
    model = seg.FCN(3, 4, width=4, upsample=upsample)
    assert model(torch.rand(2, 3, size, size)).shape == (2, 4, size, size)


def test_fcn_transposed_starts_as_bilinear_upsampling():
    torch.manual_seed(0)
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
    with pytest.raises(ValueError, match=r"FCN's input must have 3 channel\(s\)"):
        seg.FCN(3, 4, width=4)(torch.rand(1, 1, 16, 16))
    with pytest.raises(TypeError, match="floating-point"):
        seg.FCN(3, 4, width=4)(torch.zeros(1, 3, 16, 16, dtype=torch.uint8))
    with pytest.raises(ValueError, match="num_classes must be >= 1"):
        seg.FCN(3, 0)


# ------------------------------------------------------------------ loss and metrics


def test_segmentation_loss_is_cross_entropy_and_validates():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 4, 5, generator=g)
    target = torch.randint(0, 3, (2, 4, 5), generator=g)
    assert torch.allclose(seg.segmentation_loss(logits, target), F.cross_entropy(logits, target))
    weight = torch.tensor([1.0, 2.0, 0.5])
    assert torch.allclose(seg.segmentation_loss(logits, target, weight), F.cross_entropy(logits, target, weight=weight))
    with pytest.raises(TypeError, match="int64"):
        seg.segmentation_loss(logits, target.float())
    with pytest.raises(ValueError, match="must be \\[N, H, W\\]"):
        seg.segmentation_loss(logits, target[:, :3])
    with pytest.raises(ValueError, match="float tensor"):
        seg.segmentation_loss(logits[0], target)


def test_segmentation_loss_leaves_the_target_range_to_cross_entropy():
    # Values are not read back in the hot path; an out-of-range class still fails, inside F.cross_entropy.
    logits, target = torch.zeros(1, 3, 2, 2), torch.full((1, 2, 2), 3)
    with pytest.raises((IndexError, RuntimeError), match="out of bounds"):
        seg.segmentation_loss(logits, target)


class _BatchNormModel(nn.Module):
    """Class scores that depend on the batch-norm mode (train: batch statistics, eval: running ones)."""

    def __init__(self):
        super().__init__()
        self.norm = nn.BatchNorm2d(3)
        with torch.no_grad():
            self.norm.running_mean.fill_(0.5)

    def forward(self, x):
        return self.norm(x)


def test_predict_masks_uses_eval_mode_batches_and_restores_the_mode():
    g = torch.Generator().manual_seed(0)
    images = torch.rand(7, 3, 5, 5, generator=g)
    model = _BatchNormModel().train()
    masks = seg.predict_masks(model, images, batch_size=3)
    assert model.training, "predict_masks must give the model its train mode back"
    assert masks.dtype == torch.int64 and masks.shape == (7, 5, 5) and masks.device.type == "cpu"
    with torch.no_grad():
        expected = model.eval()(images).argmax(dim=1)
        in_train_mode = model.train()(images).argmax(dim=1)
    assert torch.equal(masks, expected)
    assert not torch.equal(masks, in_train_mode)       # the test can tell the two modes apart
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        seg.predict_masks(model, images[0])


def test_confusion_and_scores_on_a_small_example():
    target = torch.tensor([[0, 0, 1, 1], [2, 2, 2, 0]])
    pred = torch.tensor([[0, 1, 1, 1], [2, 2, 0, 0]])
    confusion = seg.confusion_matrix(pred, target, 4)
    assert confusion.tolist() == [[2, 1, 0, 0], [0, 2, 0, 0], [1, 0, 2, 0], [0, 0, 0, 0]]
    assert seg.pixel_accuracy(pred, target) == pytest.approx(6 / 8)
    iou = seg.iou_from_confusion(confusion)
    dice = seg.dice_from_confusion(confusion)
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

    images = torch.rand(5, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    masks = (images[:, 0] > 0.5).long()
    model = Oracle().train()
    result = seg.evaluate_segmentation(model, images, masks, 2, batch_size=2)
    assert result["pixel_accuracy"] == 1.0
    assert result["mean_iou"] == pytest.approx(1.0) and result["mean_dice"] == pytest.approx(1.0)
    assert result["predictions"].shape == (5, 8, 8)
    assert model.training, "evaluate_segmentation must restore the model's train mode"
    with pytest.raises(ValueError, match="must match"):
        seg.evaluate_segmentation(model, images[:4], masks, 2)


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


def _precision(confusion):
    c = confusion.double()
    return c.diag() / c.sum(0)


def _forward_conv_size(size, kernel, stride=1, padding=0, output_padding=0, dilation=1):
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1   # the ordinary conv's formula


def _no_final_one(size, kernel, stride=1, padding=0, output_padding=0, dilation=1):
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding


def _padding_once(size, kernel, stride=1, padding=0, output_padding=0, dilation=1):
    return (size - 1) * stride - padding + dilation * (kernel - 1) + output_padding + 1


def _receptive_field_off_by_one(kernels, dilations, strides=None):
    return seg.receptive_field(kernels, dilations, strides) - 1


def _receptive_field_without_dilation(kernels, dilations, strides=None):
    return seg.receptive_field(kernels, [1] * len(kernels), strides)


def _padding_at_the_start(upsampled, skip):
    dy, dx = skip.shape[2] - upsampled.shape[2], skip.shape[3] - upsampled.shape[3]
    return torch.cat([skip, F.pad(upsampled, [dx, 0, dy, 0])], dim=1)


def _convolutionalize_returns_the_linear(linear, channels, height, width):
    return linear


def _convolutionalize_wrong_kernel(linear, channels, height, width):
    return nn.Conv2d(channels, linear.out_features, 1)


def _convolutionalize_without_bias(linear, channels, height, width):
    conv = seg.convolutionalize(linear, channels, height, width)
    if conv.bias is not None:
        with torch.no_grad():
            conv.bias.zero_()
    return conv


EXERCISES = [  # (check, reference, typical mistake, what the message must say)
    (ex.check_convolutionalize, seg.convolutionalize, _wrong_convolutionalize, "flatten lays out the map"),
    (ex.check_convolutionalize, seg.convolutionalize, _convolutionalize_returns_the_linear, "expected an nn.Conv2d"),
    (ex.check_convolutionalize, seg.convolutionalize, _convolutionalize_wrong_kernel, "the kernel size"),
    (ex.check_convolutionalize, seg.convolutionalize, _convolutionalize_without_bias, "Copy the bias"),
    (ex.check_transposed_conv_output_size, seg.transposed_conv_output_size, _wrong_transposed_size,
     "output_padding is missing"),
    (ex.check_transposed_conv_output_size, seg.transposed_conv_output_size, _no_final_one, "final \\+ 1 is missing"),
    (ex.check_transposed_conv_output_size, seg.transposed_conv_output_size, _padding_once, "2 \\* padding"),
    (ex.check_transposed_conv_output_size, seg.transposed_conv_output_size, _forward_conv_size,
     "ordinary \\(forward\\) Conv2d"),
    (ex.check_receptive_field, seg.receptive_field, _wrong_receptive_field, "strides are ignored"),
    (ex.check_receptive_field, seg.receptive_field, _receptive_field_off_by_one, "off by one"),
    (ex.check_receptive_field, seg.receptive_field, _receptive_field_without_dilation, "dilations are ignored"),
    (ex.check_pad_and_concat, pad_and_concat, _wrong_pad_and_concat, "diff // 2"),
    (ex.check_pad_and_concat, pad_and_concat, _padding_at_the_start, "expected row 0, column 0"),
    (ex.check_iou_from_confusion, seg.iou_from_confusion, _recall, "the recall"),
    (ex.check_iou_from_confusion, seg.iou_from_confusion, _precision, "the precision"),
    (ex.check_iou_from_confusion, seg.iou_from_confusion, seg.dice_from_confusion, "You computed the Dice"),
    (ex.check_dice_from_confusion, seg.dice_from_confusion, seg.iou_from_confusion, "You computed the IoU"),
]
CHECKS = list(dict.fromkeys(e[0] for e in EXERCISES))


@pytest.mark.parametrize("check,reference,wrong,message", EXERCISES,
                         ids=[f"{e[0].__name__}-{e[2].__name__}" for e in EXERCISES])
def test_exercise_accepts_reference_and_rejects_wrong(check, reference, wrong, message):
    check(reference)
    with pytest.raises(CheckFailed, match=message):
        check(wrong)


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__ for c in CHECKS])
def test_exercise_passes_a_stub_through_as_not_done(check):
    def stub(*args, **kwargs):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        check(stub)


def test_every_lecture_1_check_is_tested():
    assert {c.__name__ for c in CHECKS} == set(ex.__all__)
    assert not [name for name in vars(ex) if name.startswith("test_")], "exercise checks are named check_*"


def test_score_exercises_demand_nan_for_absent_classes():
    def zero_for_absent(confusion):
        return torch.nan_to_num(seg.iou_from_confusion(confusion), nan=0.0)

    def nan_for_class_0(confusion):
        dice = seg.dice_from_confusion(confusion)
        dice[0] = math.nan                               # class 0 is present in every test matrix
        return dice

    with pytest.raises(CheckFailed, match="return NaN"):
        ex.check_iou_from_confusion(zero_for_absent)
    with pytest.raises(CheckFailed, match="NaN for a class that is present"):
        ex.check_dice_from_confusion(nan_for_class_0)
    with pytest.raises(CheckFailed, match="should be a tensor"):
        ex.check_iou_from_confusion(lambda confusion: seg.iou_from_confusion(confusion).tolist())


def test_pad_exercise_names_the_concat_order():
    def skip_last(upsampled, skip):
        return pad_and_concat(upsampled, skip).roll(-skip.shape[1], dims=1)

    with pytest.raises(CheckFailed, match="skip map comes last"):
        ex.check_pad_and_concat(skip_last)
    with pytest.raises(CheckFailed, match="shape"):
        ex.check_pad_and_concat(lambda upsampled, skip: skip)


def test_size_exercises_accept_integer_valued_floats_and_tensors():
    ex.check_transposed_conv_output_size(lambda *a, **k: float(seg.transposed_conv_output_size(*a, **k)))
    ex.check_receptive_field(lambda *a: torch.tensor(seg.receptive_field(*a)))


def test_sample_crops_labels_are_the_centre_pixels_and_the_shape_share_holds():
    images, masks = shapes.make_shapes(20, 32, seed=3)
    crops, labels = seg.sample_crops(images, masks, 400, size=8, on_shapes=0.5, seed=1)
    assert crops.shape == (400, 3, 8, 8) and labels.shape == (400,) and labels.dtype == torch.long
    assert float((labels > 0).float().mean()) >= 0.5
    # every crop is a window of one image whose centre pixel has the crop's label
    flat = images.unfold(2, 8, 1).unfold(3, 8, 1)             # [N, 3, 25, 25, 8, 8]
    for k in range(0, 400, 37):
        hits = (flat == crops[k][:, None, None]).flatten(-2).all(-1).all(1).nonzero()
        assert len(hits) >= 1
        n, top, left = hits[0].tolist()
        assert int(masks[n, top + 4, left + 4]) == int(labels[k])
    background_only = seg.sample_crops(images, masks, 50, size=8, on_shapes=0.0, seed=1)[1]
    assert background_only.shape == (50,)
    with pytest.raises(ValueError, match="fit"):
        seg.sample_crops(images, masks, 5, size=40)
    with pytest.raises(ValueError, match="masks"):
        seg.sample_crops(images, masks[:, :16], 5, size=8)


def test_crop_classifier_convolutionalized_slides_over_a_whole_image():
    torch.manual_seed(0)
    net = seg.CropClassifier(3, 4, size=16, width=8).eval()
    image = torch.rand(1, 3, 48, 48)
    dense = seg.convolutionalize(net.head, 8, 4, 4)(net.features(image))
    assert dense.shape == (1, 4, 9, 9)
    # away from the border effects of zero padding, window (i, j) ~ the classifier on that crop
    crop = image[:, :, 16:32, 20:36]
    assert torch.allclose(net.head(net.features(image)[:, :, 4:8, 5:9].flatten(1)), dense[:, :, 4, 5].reshape(1, 4),
                          atol=1e-5)
    assert net(crop).shape == (1, 4)
    with pytest.raises(ValueError, match="convolutionalize"):
        net(image)


def test_window_scores_to_masks_puts_each_label_around_its_window_centre():
    scores = torch.zeros(1, 3, 2, 2)
    scores[0, 1, 0, 0] = scores[0, 2, 1, 1] = 1.0             # window (0,0) -> class 1, (1,1) -> class 2
    masks = seg.window_scores_to_masks(scores, (12, 12), window=8, stride=4)
    assert masks.shape == (1, 12, 12) and masks.dtype == torch.long
    assert int(masks[0, 4, 4]) == 1 and int(masks[0, 0, 0]) == 1      # centre of window (0,0) and the border
    assert int(masks[0, 8, 8]) == 2 and int(masks[0, 11, 11]) == 2
    assert int(masks[0, 4, 8]) == 0
    with pytest.raises(ValueError, match="fit"):
        seg.window_scores_to_masks(torch.zeros(1, 3, 5, 5), (12, 12), window=8, stride=4)
