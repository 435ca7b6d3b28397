"""Input checks at the library's boundaries (course_lib.validate): each rule, its error type and message."""
from __future__ import annotations

import math
import re

import pytest
import torch

from course_lib import validate as v


def _images(*shape, low=0.0, high=1.0, dtype=torch.float32):
    x = torch.rand(*shape, generator=torch.Generator().manual_seed(0), dtype=dtype)
    return low + (high - low) * x


# ---- numbers and choices ------------------------------------------------------------------------------

def test_check_int():
    assert v.check_int(3, "n", 1) == 3 and v.check_int(0, "n", 0) == 0
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        v.check_int(0, "n", 1)
    for bad in (2.0, True, "3", None):
        with pytest.raises(TypeError, match="n must be an int"):
            v.check_int(bad, "n", 0)


def test_check_number():
    assert v.check_number(2, "lr") == 2.0 and isinstance(v.check_number(2, "lr"), float)
    assert v.check_number(0.0, "std") == 0.0                                  # >= minimum by default
    with pytest.raises(ValueError, match="lr must be > 0"):
        v.check_number(0.0, "lr", strict=True)
    with pytest.raises(ValueError, match="std must be >= 0"):
        v.check_number(-0.1, "std")
    assert v.check_number(-3, "x", minimum=-5) == -3.0
    assert v.check_number(1.0, "p", maximum=1.0) == 1.0
    with pytest.raises(ValueError, match="p must be <= 1"):
        v.check_number(1.5, "p", maximum=1.0)
    for bad in (math.nan, math.inf, True, "1", None):
        with pytest.raises(TypeError, match="finite number"):
            v.check_number(bad, "x")


def test_check_choice():
    assert v.check_choice("cosine", "shape", ("cosine", "linear")) == "cosine"
    assert v.check_choice(None, "out", (None, "tanh")) is None
    with pytest.raises(ValueError, match=r"shape must be one of \('cosine', 'linear'\), got 'step'"):
        v.check_choice("step", "shape", ["cosine", "linear"])


def test_check_tensor():
    t = torch.zeros(2, dtype=torch.int64)
    assert v.check_tensor(t, "t") is t
    with pytest.raises(TypeError, match="t must be a torch.Tensor, got list"):
        v.check_tensor([0.0], "t")
    with pytest.raises(TypeError, match="floating-point tensor, got dtype torch.int64"):
        v.check_tensor(t, "t", floating=True)


@pytest.mark.parametrize("good,expected", [((0, 1), (0.0, 1.0)), ([-1, 1], (-1.0, 1.0)), ((0.0, 255), (0.0, 255.0))])
def test_check_value_range_accepts_low_high(good, expected):
    assert v.check_value_range(good) == expected
    assert all(isinstance(bound, float) for bound in v.check_value_range(good))


@pytest.mark.parametrize("bad", [(1, 0), (0, 0), (0,), (0, 1, 2), "01", None, (0, "1"), (False, True),
                                 (math.nan, 1.0)])
def test_check_value_range_refuses_anything_else(bad):
    with pytest.raises(ValueError, match=r"pixels must be \(low, high\) with high > low"):
        v.check_value_range(bad, "pixels")


# ---- check_images: one rule at a time --------------------------------------------------------------------

def test_check_images_returns_its_input():
    x = _images(2, 1, 4, 4)
    assert v.check_images(x) is x


@pytest.mark.parametrize("dtype,hint", [(torch.uint8, "divide by 255 first"), (torch.int64, None), (torch.bool, None)])
def test_check_images_dtype(dtype, hint):
    with pytest.raises(TypeError, match=f"samples must be a floating-point tensor, got dtype {dtype}") as info:
        v.check_images(torch.zeros(2, 1, 4, 4, dtype=dtype), "samples")
    assert (hint in str(info.value)) if hint else "255" not in str(info.value)
    for floating in (torch.float16, torch.float64):
        v.check_images(torch.zeros(1, 1, 2, 2, dtype=floating))
    with pytest.raises(TypeError, match="torch.Tensor"):
        v.check_images([[0.0]])


@pytest.mark.parametrize("shape", [(4, 4), (1, 4, 4), (1, 1, 1, 4, 4)])
def test_check_images_dims(shape):
    with pytest.raises(ValueError, match=re.escape(f"batch of images [N, C, H, W], got shape {tuple(shape)}")):
        v.check_images(torch.zeros(shape))


def test_check_images_empty():
    empty = torch.zeros(0, 1, 4, 4)
    with pytest.raises(ValueError, match="images is an empty batch"):
        v.check_images(empty)
    assert v.check_images(empty, allow_empty=True) is empty
    # nothing to read back in an empty batch: range and finiteness have nothing to check
    assert v.check_images(empty, allow_empty=True, value_range=(0, 1), finite=True) is empty


def test_check_images_channels():
    v.check_images(torch.zeros(2, 3, 4, 4), channels=3)
    v.check_images(torch.zeros(2, 1, 4, 4), channels=(1, 3))
    with pytest.raises(ValueError, match=r"must have 1 channel\(s\), got shape \(2, 3, 4, 4\)"):
        v.check_images(torch.zeros(2, 3, 4, 4), channels=1)
    with pytest.raises(ValueError, match=r"must have 1 or 3 channel\(s\)"):
        v.check_images(torch.zeros(2, 2, 4, 4), channels=[1, 3])


def test_check_images_size():
    v.check_images(torch.zeros(1, 1, 28, 28), size=28)
    v.check_images(torch.zeros(1, 1, 28, 32), size=(28, 32))
    with pytest.raises(ValueError, match="must be 28x28 images, got shape"):
        v.check_images(torch.zeros(1, 1, 32, 32), size=28)
    with pytest.raises(ValueError, match="must be 28x32 images"):
        v.check_images(torch.zeros(1, 1, 32, 28), size=(28, 32))


def test_check_images_value_range_with_tolerance():
    unit = torch.linspace(0, 1, 50).view(2, 1, 5, 5)           # exactly 0 ... exactly 1
    v.check_images(unit, value_range=(0, 1))
    v.check_images(unit + 0.0009, value_range=(0, 1))          # rounding (1e-3 of the range) is allowed
    v.check_images(unit * 2 - 1 - 0.0019, value_range=(-1, 1))  # the tolerance scales with the range: 2e-3
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\], got values in \[.*\]. Images of a tanh generator"):
        v.check_images(unit + 0.002, value_range=(0, 1))
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
        v.check_images(unit * 2 - 1, value_range=(0, 1))         # a tanh generator's images
    with pytest.raises(ValueError, match=r"lie in \[-1, 1\]"):
        v.check_images(unit * 2 - 1.003, value_range=(-1, 1))
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
        v.check_images(unit * 255, value_range=(0, 1))
    with pytest.raises(ValueError, match=r"\(low, high\)"):
        v.check_images(unit, value_range=(1, 0))
    v.check_images(unit * 255)                                  # no range asked for: none checked


def test_check_images_finite():
    nan = _images(2, 1, 3, 3)
    nan[1, 0, 1, 1] = math.nan
    inf = _images(2, 1, 3, 3)
    inf[0, 0, 0, 0] = math.inf
    assert v.check_images(nan) is nan                           # values are read only when asked
    for bad in (nan, inf):
        with pytest.raises(ValueError, match="contain NaN or infinite values"):
            v.check_images(bad, finite=True)
        with pytest.raises(ValueError, match="NaN or infinite"):
            v.check_images(bad, value_range=(0, 1))             # a range check implies finiteness


def test_check_images_rules_run_in_order():
    # a wrong dtype is reported before a wrong shape, a wrong shape before the channels, ...
    with pytest.raises(TypeError):
        v.check_images(torch.zeros(3, 3, dtype=torch.uint8), channels=1)
    with pytest.raises(ValueError, match="channel"):
        v.check_images(torch.full((1, 3, 5, 5), math.nan), channels=1, size=28, finite=True)
    with pytest.raises(ValueError, match="28x28"):
        v.check_images(torch.full((1, 1, 5, 5), math.nan), channels=1, size=28, finite=True)


# ---- labels and vectors ------------------------------------------------------------------------------------

def test_check_labels():
    labels = torch.tensor([0, 3, 9])
    assert v.check_labels(labels) is labels
    assert v.check_labels(labels, 3, num_classes=10) is labels
    assert v.check_labels(torch.zeros(0, dtype=torch.int64), 0, num_classes=10).shape == (0,)
    for bad in (labels.int(), labels.float(), [0, 1]):
        with pytest.raises(TypeError, match="y must be an int64 tensor of class indices"):
            v.check_labels(bad, name="y")
    with pytest.raises(ValueError, match=r"must have shape \[4\] \(one class per example\), got \(3,\)"):
        v.check_labels(labels, 4)
    with pytest.raises(ValueError, match=r"shape \[N\]"):
        v.check_labels(labels[None])
    with pytest.raises(ValueError, match=r"must lie in 0..8, got 0..9"):
        v.check_labels(labels, num_classes=9)
    with pytest.raises(ValueError, match=r"must lie in 0..9, got -1..3"):
        v.check_labels(torch.tensor([-1, 3]), num_classes=10)


def test_check_vectors():
    z = torch.zeros(4, 3)
    assert v.check_vectors(z) is z and v.check_vectors(z, dim=3) is z
    with pytest.raises(ValueError, match=r"codes must have shape \[N, 2\] with N > 0, got \(4, 3\)"):
        v.check_vectors(z, "codes", dim=2)
    for bad in (torch.zeros(3), torch.zeros(0, 3), torch.zeros(2, 3, 1)):
        with pytest.raises(ValueError, match=r"\[N, D\] with N > 0"):
            v.check_vectors(bad)
    with pytest.raises(TypeError, match="floating-point"):
        v.check_vectors(torch.zeros(2, 3, dtype=torch.int64))
