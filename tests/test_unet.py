"""Lecture 1's U-Net in the toolkit (course_lib.nn.unet): blocks, padding of odd sizes, logits out."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from course_lib.nn import count_parameters
from course_lib.nn.unet import DoubleConv, Down, UNet, Up, pad_and_concat


def test_double_conv_keeps_height_and_width_and_sets_the_channels():
    block = DoubleConv(3, 8, mid_channels=5)
    assert block(torch.rand(2, 3, 11, 7)).shape == (2, 8, 11, 7)
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(3, 5), (5, 8)]
    assert all(c.bias is None for c in convs)          # batch norm follows each conv
    assert sum(isinstance(m, nn.BatchNorm2d) for m in block.modules()) == 2
    assert [(c.in_channels, c.out_channels) for c in DoubleConv(3, 8).modules()
            if isinstance(c, nn.Conv2d)] == [(3, 8), (8, 8)]


@pytest.mark.parametrize("size,half", [(16, 8), (37, 18), (9, 4)])
def test_down_halves_rounding_down(size, half):
    assert Down(4, 6)(torch.rand(1, 4, size, size)).shape == (1, 6, half, half)


@pytest.mark.parametrize("bilinear,up_type,x_channels", [(True, nn.Upsample, 8), (False, nn.ConvTranspose2d, 16)])
def test_up_doubles_pads_to_the_skip_map_and_merges(bilinear, up_type, x_channels):
    # in_channels (16) counts the channels after concatenation: bilinear upsampling keeps the 8 of x,
    # the transposed conv halves x's 16 to 8; the skip map brings the other 8.
    block = Up(16, 4, bilinear=bilinear)
    assert isinstance(block.up, up_type)
    out = block(torch.rand(2, x_channels, 4, 4), torch.rand(2, 8, 9, 9))
    assert out.shape == (2, 4, 9, 9)


def test_pad_and_concat_splits_the_padding_and_puts_the_skip_map_first():
    upsampled = torch.ones(1, 1, 4, 6)
    skip = torch.zeros(1, 2, 7, 9)
    out = pad_and_concat(upsampled, skip)
    assert out.shape == (1, 3, 7, 9)
    assert torch.equal(out[:, :2], skip)
    rows = torch.nonzero(out[0, 2].sum(1)).flatten()
    cols = torch.nonzero(out[0, 2].sum(0)).flatten()
    assert (rows.min().item(), rows.max().item()) == (1, 4)   # 3 missing rows: 1 above, 2 below
    assert (cols.min().item(), cols.max().item()) == (1, 6)   # 3 missing columns: 1 left, 2 right
    assert float(out[0, 2].sum()) == 4 * 6                     # the upsampled values, unchanged


def test_pad_and_concat_rejects_bad_inputs():
    with pytest.raises(ValueError, match="larger than the skip map"):
        pad_and_concat(torch.ones(1, 1, 8, 8), torch.ones(1, 1, 7, 7))
    with pytest.raises(ValueError, match="batch sizes differ"):
        pad_and_concat(torch.ones(2, 1, 8, 8), torch.ones(1, 1, 8, 8))
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        pad_and_concat(torch.ones(1, 8, 8), torch.ones(1, 1, 8, 8))


@pytest.mark.parametrize("bilinear", [True, False])
@pytest.mark.parametrize("size", [37, 45])
def test_unet_keeps_any_size(bilinear, size):
    torch.manual_seed(0)
    model = UNet(3, 4, base=4, depth=3, bilinear=bilinear)
    assert model(torch.rand(2, 3, size, size)).shape == (2, 4, size, size)


def test_unet_non_square_input():
    torch.manual_seed(0)
    assert UNet(1, 2, base=4, depth=2)(torch.rand(1, 1, 13, 21)).shape == (1, 2, 13, 21)


def test_unet_returns_logits_and_every_parameter_learns():
    torch.manual_seed(0)
    model = UNet(3, 4, base=4, depth=2)
    out = model(torch.rand(2, 3, 16, 16))
    # logits: no softmax or sigmoid at the end (values outside [0, 1], not summing to 1 over classes)
    assert float(out.detach().min()) < 0 or float(out.detach().max()) > 1
    assert not torch.allclose(out.detach().sum(1), torch.ones(2, 16, 16), atol=1e-3)
    out.square().mean().backward()
    assert all(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in model.parameters())


def test_unet_upsampling_choice_changes_the_layers():
    bilinear = UNet(3, 4, base=4, bilinear=True)
    transposed = UNet(3, 4, base=4, bilinear=False)
    assert all(isinstance(up.up, nn.Upsample) for up in bilinear.ups)
    assert all(isinstance(up.up, nn.ConvTranspose2d) for up in transposed.ups)
    assert count_parameters(transposed) > count_parameters(bilinear)
    assert len(bilinear.downs) == len(bilinear.ups) == 3
    assert isinstance(bilinear.outc, nn.Conv2d) and bilinear.outc.out_channels == 4


def test_unet_uses_the_given_merge():
    calls = []

    def merge(upsampled, skip):
        calls.append((tuple(upsampled.shape), tuple(skip.shape)))
        return pad_and_concat(upsampled, skip)

    UNet(3, 2, base=4, depth=2, merge=merge)(torch.rand(1, 3, 9, 9))
    assert calls == [((1, 8, 4, 4), (1, 8, 4, 4)), ((1, 4, 8, 8), (1, 4, 9, 9))]


def test_unet_rejects_bad_inputs():
    model = UNet(3, 4, base=4, depth=3)
    with pytest.raises(ValueError, match=r"UNet's input must have 3 channel\(s\)"):
        model(torch.rand(2, 1, 32, 32))
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        model(torch.rand(3, 32, 32))
    with pytest.raises(TypeError, match="floating-point.*divide by 255"):
        model(torch.zeros(2, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(TypeError, match="torch.Tensor"):
        model([[0.0]])
    with pytest.raises(ValueError, match="needs H, W >= 8"):
        model(torch.rand(1, 3, 6, 40))


@pytest.mark.parametrize("kwargs,error", [({"base": 0}, ValueError), ({"depth": 0}, ValueError),
                                          ({"base": 2.5}, TypeError), ({"num_classes": 0}, ValueError)])
def test_unet_rejects_bad_arguments(kwargs, error):
    arguments = {"in_channels": 3, "num_classes": 4, **kwargs}
    with pytest.raises(error, match=next(iter(kwargs))):
        UNet(**arguments)
