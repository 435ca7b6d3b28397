"""The checks behind lecture 5's check cells (DCGAN).

Each ``check_*(student_fn)`` builds what the student's function returns on small fixed inputs,
compares it with the guideline or with the reference in the toolkit, and raises
:class:`course_lib.checks.CheckFailed` with specific feedback: a pooling layer, the default
LeakyReLU slope, batch norm in the wrong place, a variance passed as a standard deviation, a
moving average with its weights swapped, a linear path sold as a spherical one, ...
"""
from __future__ import annotations

import copy
import math
from typing import Callable

import torch
from torch import nn

from .. import dcgan
from ..checks import CheckFailed, as_tensor, built_module, expect_close, expect_equal, expect_shape
from ..checks import first_index as _first
from ..checks import leaf_modules as _leaves
from ..latent import slerp as reference_slerp

_POOLING = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveMaxPool2d, nn.AdaptiveAvgPool2d, nn.LPPool2d)


def _expect_geometry(conv: nn.Module, what: str) -> None:
    got = (tuple(conv.kernel_size), tuple(conv.stride), tuple(conv.padding))
    if got != ((4, 4), (2, 2), (1, 1)):
        raise CheckFailed(f"the {what} has kernel_size={got[0][0]}, stride={got[1][0]}, padding={got[2][0]}; the "
                          f"DCGAN uses kernel_size=4, stride=2, padding=1 (so every stage exactly doubles or "
                          f"halves the map, 7 <-> 14 <-> 28).")


# ---------------------------------------------------------------- Exercise 1: generator block

def check_generator_block(student_fn: Callable[[int, int], nn.Module]) -> None:
    """Exercise 1: ``ConvTranspose2d(in, out, 4, 2, 1)`` -> ``BatchNorm2d(out)`` -> ``ReLU``, doubling H and W."""
    block = built_module(student_fn, 8, 4)
    layers = _leaves(block)
    i_conv = _first(layers, nn.ConvTranspose2d)
    if i_conv < 0:
        if _first(layers, nn.Upsample) >= 0:
            raise CheckFailed("that is a resize-convolution (Upsample + Conv2d), the remedy of section 2; the DCGAN "
                              "block upsamples with a learned nn.ConvTranspose2d.")
        raise CheckFailed("the block has no nn.ConvTranspose2d: the DCGAN generator upsamples with strided "
                          "transposed convolutions.")
    conv = layers[i_conv]
    expect_equal((conv.in_channels, conv.out_channels), (8, 4),
                 "(in_channels, out_channels) of the transposed conv for generator_block(8, 4)")
    _expect_geometry(conv, "transposed convolution")
    if _first(layers, nn.Tanh) >= 0:
        raise CheckFailed("tanh belongs only to the generator's output layer; the inner blocks use ReLU.")
    if _first(layers, nn.LeakyReLU) >= 0:
        raise CheckFailed("the generator uses plain ReLU (LeakyReLU is the discriminator's activation).")
    i_norm = _first(layers, nn.BatchNorm2d)
    if i_norm < 0:
        if _first(layers, (nn.BatchNorm1d, nn.InstanceNorm2d, nn.LayerNorm, nn.GroupNorm)) >= 0:
            raise CheckFailed("use nn.BatchNorm2d(out_channels): batch norm over the channels of a feature map.")
        raise CheckFailed("batch norm is missing: the DCGAN normalizes every generator stage except the output.")
    expect_equal(layers[i_norm].num_features, 4, "the number of features of the BatchNorm2d in generator_block(8, 4)")
    i_act = _first(layers, nn.ReLU)
    if i_act < 0:
        raise CheckFailed("the ReLU is missing: conv -> batch norm -> ReLU.")
    if not i_conv < i_norm < i_act:
        raise CheckFailed("the order is conv -> batch norm -> ReLU (normalize the conv's output, then apply "
                          "the nonlinearity).")
    if _first(layers, _POOLING + (nn.Dropout, nn.Linear)) >= 0:
        raise CheckFailed("keep the block to the three layers: transposed conv, BatchNorm2d, ReLU.")
    block.train()
    torch.manual_seed(0)
    with torch.no_grad():
        out = block(torch.randn(2, 8, 7, 7))
    expect_shape(out, (2, 4, 14, 14), "generator_block(8, 4) applied to a [2, 8, 7, 7] map")
    if float(out.min()) < 0:
        raise CheckFailed("the block's output has negative values: the ReLU must be the last layer.")
    other = built_module(student_fn, 16, 8)
    convs = [m for m in _leaves(other) if isinstance(m, nn.ConvTranspose2d)]
    if not convs or (convs[0].in_channels, convs[0].out_channels) != (16, 8):
        raise CheckFailed("generator_block(16, 8) does not build a 16 -> 8 channel block: use the arguments "
                          "in_channels and out_channels, not fixed numbers.")
    with torch.no_grad():
        expect_shape(other(torch.randn(3, 16, 4, 4)), (3, 8, 8, 8), "generator_block(16, 8) applied to a [3, 16, 4, 4] map")


# ---------------------------------------------------------------- Exercise 2: discriminator block

def check_discriminator_block(student_fn: Callable[..., nn.Module]) -> None:
    """Exercise 2: ``Conv2d(in, out, 4, 2, 1)`` -> [``BatchNorm2d``] -> ``LeakyReLU(0.2)``, halving H and W."""
    block = built_module(student_fn, 4, 8, batch_norm=True)
    layers = _leaves(block)
    if _first(layers, _POOLING) >= 0:
        raise CheckFailed("no pooling in a DCGAN: the discriminator downsamples with strided convolutions "
                          "(Conv2d with stride=2) and learns how to.")
    i_conv = _first(layers, nn.Conv2d)
    if i_conv < 0:
        raise CheckFailed("the block has no nn.Conv2d: the discriminator is a strided convolutional network.")
    conv = layers[i_conv]
    expect_equal((conv.in_channels, conv.out_channels), (4, 8),
                 "(in_channels, out_channels) of the conv for discriminator_block(4, 8)")
    _expect_geometry(conv, "convolution")
    if _first(layers, nn.Sigmoid) >= 0:
        raise CheckFailed("no sigmoid inside the discriminator: its last layer outputs a logit and the loss "
                          "(BCEWithLogitsLoss) applies the sigmoid.")
    i_act = _first(layers, nn.LeakyReLU)
    if i_act < 0:
        if _first(layers, nn.ReLU) >= 0:
            raise CheckFailed("use nn.LeakyReLU(0.2), not ReLU: the discriminator must pass a gradient back to the "
                              "generator for negative inputs too.")
        raise CheckFailed("the activation is missing: end the block with nn.LeakyReLU(0.2).")
    slope = layers[i_act].negative_slope
    if not math.isclose(slope, 0.2, rel_tol=1e-6):
        default = " nn.LeakyReLU() defaults to 0.01;" if math.isclose(slope, 0.01) else ""
        raise CheckFailed(f"the LeakyReLU has negative_slope={slope:g};{default} the DCGAN uses 0.2.")
    i_norm = _first(layers, nn.BatchNorm2d)
    if i_norm < 0:
        raise CheckFailed("with batch_norm=True the block needs an nn.BatchNorm2d(out_channels) between the conv "
                          "and the LeakyReLU.")
    expect_equal(layers[i_norm].num_features, 8, "the number of features of the BatchNorm2d in discriminator_block(4, 8)")
    if not i_conv < i_norm < i_act:
        raise CheckFailed("the order is conv -> batch norm -> LeakyReLU.")
    block.train()
    torch.manual_seed(0)
    with torch.no_grad():
        out = block(torch.randn(2, 4, 14, 14))
        expect_shape(out, (2, 8, 7, 7), "discriminator_block(4, 8) applied to a [2, 4, 14, 14] map")
        if float(out.min()) >= 0:
            raise CheckFailed("the output has no negative values: a LeakyReLU passes negative inputs scaled by 0.2.")
        expect_shape(block(torch.randn(2, 4, 7, 7)), (2, 8, 3, 3),
                     "discriminator_block(4, 8) applied to a 7x7 map (7 -> 3 with kernel 4, stride 2, padding 1)")
    first = built_module(student_fn, 1, 8, batch_norm=False)
    if _first(_leaves(first), (nn.BatchNorm2d, nn.BatchNorm1d)) >= 0:
        raise CheckFailed("with batch_norm=False there must be no batch norm: the first block sees the images "
                          "themselves, and the DCGAN puts no batch norm at the discriminator's input.")
    if _first(_leaves(first), nn.LeakyReLU) < 0:
        raise CheckFailed("with batch_norm=False the block still needs its LeakyReLU(0.2).")
    with torch.no_grad():
        expect_shape(first(torch.randn(2, 1, 28, 28)), (2, 8, 14, 14),
                     "discriminator_block(1, 8, batch_norm=False) applied to [2, 1, 28, 28] images")


# ---------------------------------------------------------------- Exercise 3: weight initialization

def _reset_to_pytorch_defaults(model: nn.Module) -> None:
    for module in model.modules():
        if hasattr(module, "reset_parameters") and module is not model:
            module.reset_parameters()


def check_init_weights(student_fn: Callable[[nn.Module], None]) -> None:
    """Exercise 3: conv and transposed-conv weights ~ N(0, 0.02), biases 0; batch norm scale ~ N(1, 0.02), shift 0."""
    torch.manual_seed(0)
    models = [dcgan.DCGANGenerator(latent_dim=32, width=16), dcgan.DCGANDiscriminator(width=16)]
    for model in models:
        _reset_to_pytorch_defaults(model)
        torch.manual_seed(1)
        model.apply(student_fn)
    kinds = {"nn.Conv2d": nn.Conv2d, "nn.ConvTranspose2d": nn.ConvTranspose2d}
    for name, kind in kinds.items():
        weights = torch.cat([m.weight.detach().flatten() for model in models for m in model.modules()
                             if type(m) is kind])
        std, mean = float(weights.std()), float(weights.mean())
        if math.isclose(std, 0.02, rel_tol=0.08) and abs(mean) < 0.002:
            continue
        if math.isclose(std, math.sqrt(0.02), rel_tol=0.08):
            raise CheckFailed(f"the {name} weights have standard deviation {std:.3f} = sqrt(0.02): 0.02 is already "
                              f"the standard deviation (nn.init.normal_(m.weight, 0.0, 0.02)).")
        if abs(mean) >= 0.002 and math.isclose(std, 0.02, rel_tol=0.08):
            raise CheckFailed(f"the {name} weights have mean {mean:.3f}; they should be centred at 0.")
        if abs(mean - 1) < 0.01:
            raise CheckFailed(f"the {name} weights are centred at 1; N(1, 0.02) is for the batch norm scale only, "
                              f"conv weights are N(0, 0.02).")
        raise CheckFailed(f"the {name} weights have standard deviation {std:.4f}, expected 0.02. Is your function "
                          f"applied to {name} layers? (isinstance(m, {name}), or check both conv types)")
    conv_biases = [m.bias.detach() for model in models for m in model.modules()
                   if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and m.bias is not None]
    if conv_biases and float(torch.cat([b.flatten() for b in conv_biases]).abs().max()) > 0:
        raise CheckFailed("the convolutions' biases are not 0: set them with nn.init.zeros_(m.bias) when a layer "
                          "has one (m.bias is not None).")
    norms = [m for model in models for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    gamma = torch.cat([m.weight.detach() for m in norms])
    beta = torch.cat([m.bias.detach() for m in norms])
    if bool((gamma == 1).all()):
        raise CheckFailed("the batch norm scales are all exactly 1 (PyTorch's default): initialize them from "
                          "N(1, 0.02) as the DCGAN code does, and their shifts to 0.")
    if abs(float(gamma.mean())) < 0.1:
        raise CheckFailed(f"the batch norm scales have mean {float(gamma.mean()):.3f}: with N(0, 0.02) every "
                          f"normalized activation is multiplied by about 0 and the signal dies. Use N(1, 0.02).")
    if abs(float(gamma.mean()) - 1) > 0.01 or not 0.013 < float(gamma.std()) < 0.028:
        raise CheckFailed(f"the batch norm scales have mean {float(gamma.mean()):.3f} and standard deviation "
                          f"{float(gamma.std()):.4f}; expected N(1, 0.02).")
    if float(beta.abs().max()) > 0:
        raise CheckFailed("the batch norm shifts (m.bias) should start at 0.")


# ---------------------------------------------------------------- Exercise 4: moving average of weights

def check_ema_update(student_fn: Callable[[nn.Module, nn.Module, float], None]) -> None:
    """Exercise 4: in place, under no_grad, ``ema = decay * ema + (1 - decay) * w`` for every parameter."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    ema = copy.deepcopy(model)
    for p in ema.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        for i, p in enumerate(ema.parameters()):
            p.fill_(1.0 + i)
        for i, p in enumerate(model.parameters()):
            p.fill_(-2.0 - i)
    old = [p.detach().clone() for p in ema.parameters()]
    new = [p.detach().clone() for p in model.parameters()]
    returned = student_fn(ema, model, 0.9)
    after = [p.detach().clone() for p in ema.parameters()]
    if isinstance(returned, nn.Module) and returned is not ema:
        raise CheckFailed("update ema_model in place (its parameters' .data, under torch.no_grad()) rather than "
                          "building a new model: the notebook keeps using the same ema_model object.")
    if all(torch.equal(a, o) for a, o in zip(after, old)):
        raise CheckFailed("ema_model did not change: assigning to a loop variable does not write into the model. "
                          "Update the tensors in place, e.g. p_ema.mul_(decay).add_(p, alpha=1 - decay) or "
                          "p_ema.lerp_(p, 1 - decay).")
    if any(not torch.equal(p.detach(), n) for p, n in zip(model.parameters(), new)):
        raise CheckFailed("your function changed the trained model's weights; only ema_model may change.")
    expected = [0.9 * o + 0.1 * n for o, n in zip(old, new)]
    if all(torch.allclose(a, 0.1 * o + 0.9 * n) for a, o, n in zip(after, old, new)):
        raise CheckFailed("the weights are swapped: the average keeps decay (0.9) of its old value and takes "
                          "1 - decay (0.1) of the new weights.")
    if all(torch.allclose(a, n) for a, n in zip(after, new)):
        raise CheckFailed("ema_model now equals the model: that is a copy, not a moving average.")
    for a, e in zip(after, expected):
        expect_close(a, e, "the averaged parameters after one update with decay 0.9", atol=1e-6)
    if any(p.grad_fn is not None for p in ema.parameters()):
        raise CheckFailed("the averaged parameters are part of an autograd graph: do the update under "
                          "torch.no_grad().")
    student_fn(ema, model, 0.0)
    for a, n in zip(ema.parameters(), new):
        expect_close(a.detach(), n, "the averaged parameters after an update with decay 0 (a plain copy)", atol=1e-6)


# ---------------------------------------------------------------- Exercise 5: slerp

def _vectors(seed: int, *shape: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64), torch.randn(*shape, generator=g, dtype=torch.float64)


def _as_tensor(value: object, what: str) -> torch.Tensor:
    return as_tensor(value, what).detach().double()


def check_slerp(student_fn: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]) -> None:
    """Exercise 5: spherical interpolation, per row for batches, with a linear fallback for parallel vectors."""
    z0, z1 = _vectors(0, 16)
    start = _as_tensor(student_fn(z0, z1, 0.0), "slerp(z0, z1, 0.0)")
    expect_shape(start, (16,), "slerp(z0, z1, 0.0) for two vectors of 16 numbers")
    if not torch.isfinite(start).all():
        raise CheckFailed("slerp(z0, z1, 0.0) contains NaN: normalize the vectors before taking the arccos "
                          "(cos omega = z0.z1 / (|z0| |z1|)), and clamp it to [-1, 1].")
    if torch.allclose(start, z1, atol=1e-6):
        raise CheckFailed("at t = 0 you return z1: the weights are swapped, sin((1 - t) omega) goes with z0.")
    expect_close(start, z0, "slerp(z0, z1, 0.0) (must be z0)", atol=1e-6)
    expect_close(_as_tensor(student_fn(z0, z1, 1.0), "slerp(z0, z1, 1.0)"), z1, "slerp(z0, z1, 1.0) (must be z1)",
                 atol=1e-6)
    same = z1 / z1.norm() * z0.norm()          # same norm as z0, another direction
    half = _as_tensor(student_fn(z0, same, 0.5), "slerp(z0, z1, 0.5)")
    if torch.allclose(half, 0.5 * (z0 + same), atol=1e-6):
        raise CheckFailed(f"that is the linear interpolation: for two vectors of norm {float(z0.norm()):.2f} its "
                          f"midpoint has norm {float((0.5 * (z0 + same)).norm()):.2f}. Follow the great circle "
                          f"with the sin weights.")
    if not math.isclose(float(half.norm()), float(z0.norm()), rel_tol=1e-5):
        raise CheckFailed(f"for two vectors of the same norm {float(z0.norm()):.3f} the midpoint should keep it, "
                          f"yours has norm {float(half.norm()):.3f}.")
    for t in (0.25, 0.5, 0.8):
        expect_close(_as_tensor(student_fn(z0, z1, t), f"slerp(z0, z1, {t})"), reference_slerp(z0, z1, t),
                     f"slerp(z0, z1, {t}) for two vectors of different norms", atol=1e-6)
    b0, b1 = _vectors(1, 5, 8)
    batch = _as_tensor(student_fn(b0, b1, 0.3), "slerp on batches [5, 8]")
    expect_shape(batch, (5, 8), "slerp on two batches of shape [5, 8]")
    if not torch.allclose(batch, reference_slerp(b0, b1, 0.3), atol=1e-6):
        raise CheckFailed("on batches [N, D] each row needs its own angle: sum the products over the last dimension "
                          "(dim=-1, keepdim=True), not over the whole tensor.")
    parallel = _as_tensor(student_fn(z0, 2.0 * z0, 0.5), "slerp(z, 2 z, 0.5)")
    if not torch.isfinite(parallel).all():
        raise CheckFailed("for parallel vectors (omega = 0) you divide by sin(omega) = 0: when sin(omega) is tiny, "
                          "fall back to linear interpolation.")
    expect_close(parallel, 1.5 * z0, "slerp(z, 2 z, 0.5) (parallel vectors: the linear midpoint 1.5 z)", atol=1e-5)
