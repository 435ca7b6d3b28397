"""Lecture 2: the checks behind the check cells of ``02_autoencoders.ipynb``.

Each ``check_*`` takes the student's function, runs it on fixed inputs, compares with the
reference in :mod:`course_lib.autoencoders` (or with values worked out by hand) and raises
:class:`course_lib.checks.CheckFailed` with a message that says what is wrong.

=====================================  =============================================
check                                  exercise
=====================================  =============================================
:func:`check_kl_divergence`             1. KL divergence of two discrete distributions
:func:`check_reconstruction_loss`       2. the reconstruction loss (per-pixel MSE)
:func:`check_mlp_encoder`               3. the MLP encoder 784 -> 512 -> 256 -> latent
:func:`check_conv_decoder`              4. the conv decoder with transposed convolutions
:func:`check_add_noise`                 5. the denoising autoencoder's corruption
=====================================  =============================================
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .. import autoencoders as ae
from ..checks import CheckFailed, as_tensor, built_module, call_module, expect_close, expect_shape
from ..nn.blocks import count_parameters

# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _redundant_biases(module: nn.Module) -> int:
    """Bias entries of convs directly followed by batch norm (which cancels them)."""
    layers = list(module.modules())
    return sum(layer.bias.numel() for layer, after in zip(layers[:-1], layers[1:])
               if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)) and layer.bias is not None
               and isinstance(after, nn.BatchNorm2d))


def _expect_same_size(student: nn.Module, reference: nn.Module, what: str, layout: str) -> None:
    """Same parameter count as the reference (dropping the biases that batch norm cancels is fine)."""
    got, expected = count_parameters(student), count_parameters(reference)
    if got not in (expected, expected - _redundant_biases(reference)):
        raise CheckFailed(f"{what} has {got:,} parameters, the prescribed architecture has {expected:,}. "
                          f"Check the layer sizes: {layout}.")


# --------------------------------------------------------------------------------------------
# Exercise 1: KL divergence
# --------------------------------------------------------------------------------------------


def check_kl_divergence(kl_divergence: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """KL(p || q) in nats on fixed pairs, the p = 0 convention, batches, and KL(p || p) = 0."""
    p = torch.tensor([0.6, 0.3, 0.1], dtype=torch.float64)
    q = torch.tensor([0.2, 0.4, 0.4], dtype=torch.float64)
    expected = 0.6 * math.log(3) + 0.3 * math.log(0.75) + 0.1 * math.log(0.25)   # 0.4343
    got = as_tensor(kl_divergence(p, q), "kl_divergence(p, q)")
    expect_shape(got, (), "kl_divergence(p, q) for two distributions of shape [3]")
    got_f = float(got)
    reverse = float(ae.kl_divergence(q, p))
    if abs(got_f - expected / math.log(2)) < 1e-6:
        raise CheckFailed("you return the KL in bits (log base 2); use the natural log (torch.log) for nats.")
    if abs(got_f - reverse) < 1e-6 and abs(reverse - expected) > 1e-6:
        raise CheckFailed("you computed KL(q || p): the sum is weighted by the FIRST argument, "
                          "sum_k p_k (log p_k - log q_k).")
    if abs(got_f - float(ae.cross_entropy(p, q))) < 1e-6:
        raise CheckFailed("you computed the cross-entropy H(p, q) = -sum p log q; the KL also subtracts "
                          "the entropy: KL = H(p, q) - H(p).")
    expect_close(got, expected, "kl_divergence([0.6, 0.3, 0.1], [0.2, 0.4, 0.4])", atol=1e-6)

    same = as_tensor(kl_divergence(q, q), "kl_divergence(q, q)")
    expect_close(same, 0.0, "kl_divergence(q, q) (a distribution against itself)", atol=1e-6)

    p0 = torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64)
    q0 = torch.tensor([0.25, 0.25, 0.5], dtype=torch.float64)
    got0 = as_tensor(kl_divergence(p0, q0), "kl_divergence(p, q) with a zero in p")
    if not torch.isfinite(got0).all():
        raise CheckFailed("with p = [0.5, 0.5, 0] you return NaN or inf: a category with p_k = 0 must "
                          "contribute 0 (0 log 0 = 0). Mask those terms, e.g. with torch.where(p > 0, ..., 0).")
    expect_close(got0, math.log(2), "kl_divergence([0.5, 0.5, 0], [0.25, 0.25, 0.5])", atol=1e-6)

    batch_p = torch.stack([p, q, p0])
    batch_q = torch.stack([q, q, q0])
    got_batch = as_tensor(kl_divergence(batch_p, batch_q), "kl_divergence on a batch [3, 3]")
    if got_batch.dim() == 0:
        raise CheckFailed("on a batch of distributions [B, K] return one KL per row ([B]): sum over the "
                          "last dimension only (dim=-1), not over everything.")
    expect_close(got_batch, ae.kl_divergence(batch_p, batch_q), "kl_divergence on a batch of 3 pairs [3, 3]",
                 atol=1e-6)

    generator = torch.Generator().manual_seed(2)
    rp = torch.softmax(3 * torch.randn(5, 10, generator=generator, dtype=torch.float64), -1)
    rq = torch.softmax(3 * torch.randn(5, 10, generator=generator, dtype=torch.float64), -1)
    expect_close(as_tensor(kl_divergence(rp, rq), "kl_divergence on random pairs"), ae.kl_divergence(rp, rq),
                 "kl_divergence on 5 random pairs of distributions over 10 categories", atol=1e-6)


# --------------------------------------------------------------------------------------------
# Exercise 2: reconstruction loss
# --------------------------------------------------------------------------------------------


def check_reconstruction_loss(reconstruction_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """Per-pixel MSE: a 0-d tensor, averaged (not summed), squared (not absolute), differentiable."""
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(4, 1, 28, 28, generator=generator)
    x_hat = torch.rand(4, 1, 28, 28, generator=generator).requires_grad_(True)
    got = reconstruction_loss(x_hat, x)
    got = as_tensor(got, "reconstruction_loss(x_hat, x)")
    if got.dim() != 0:
        raise CheckFailed(f"reconstruction_loss should return one number (a 0-d tensor), got shape "
                          f"{tuple(got.shape)}: average over the batch and the pixels too.")
    if not got.requires_grad:
        raise CheckFailed("the loss carries no gradient: compute it with torch operations on x_hat "
                          "(no .item(), .detach() or NumPy inside).")
    expected = F.mse_loss(x_hat.detach(), x)
    value = float(got.detach())
    for factor, reason in ((784, "you sum over the 784 pixels; average over them (.mean())"),
                           (4, "you sum over the batch; average over the images too"),
                           (4 * 784, "you sum over everything; use the mean")):
        if abs(value - factor * float(expected)) < 1e-5 * factor:
            raise CheckFailed(f"the loss is {factor} times the expected value: {reason}.")
    if abs(value - float((x_hat.detach() - x).abs().mean())) < 1e-6:
        raise CheckFailed("you computed the mean ABSOLUTE error; square the differences instead.")
    if abs(value - math.sqrt(float(expected))) < 1e-6:
        raise CheckFailed("you return the root of the mean squared error (RMSE); drop the square root.")
    expect_close(got.detach(), expected, "reconstruction_loss(x_hat, x) on random 4-image batches")
    expect_close(as_tensor(reconstruction_loss(x, x), "reconstruction_loss(x, x)").detach(), 0.0,
                 "reconstruction_loss(x, x) (a perfect reconstruction)", atol=1e-8)
    ones = torch.ones(2, 1, 28, 28)
    expect_close(as_tensor(reconstruction_loss(0.5 * ones, ones), "loss").detach(), 0.25,
                 "reconstruction_loss(0.5 everywhere, 1 everywhere)")


# --------------------------------------------------------------------------------------------
# Exercise 3: MLP encoder
# --------------------------------------------------------------------------------------------


def check_mlp_encoder(mlp_encoder: Callable[[int], nn.Module]) -> None:
    """Shapes for two latent sizes, the 784-512-256-latent layer sizes, and a linear last layer."""
    torch.manual_seed(0)
    layout = "Flatten, Linear(784, 512), ReLU, Linear(512, 256), ReLU, Linear(256, latent_dim)"
    hint = "The encoder must start with nn.Flatten() so that 28x28 images become 784-long vectors."
    for latent_dim, batch in ((16, 5), (2, 3)):
        encoder = built_module(mlp_encoder, latent_dim, name="mlp_encoder")
        images = torch.rand(batch, 1, 28, 28)
        codes = call_module(encoder, images, f"mlp_encoder({latent_dim})", hint)
        expect_shape(codes, (batch, latent_dim), f"mlp_encoder({latent_dim}) applied to images [{batch}, 1, 28, 28]")
        _expect_same_size(encoder, ae.MLPEncoder(latent_dim), f"mlp_encoder({latent_dim})", layout)
    encoder = built_module(mlp_encoder, 16, name="mlp_encoder")
    codes = encoder(torch.rand(64, 1, 28, 28))
    if (codes >= 0).all():
        raise CheckFailed("the codes are never negative: there must be no ReLU (or other activation) "
                          "after the last Linear layer; codes may be any real numbers.")
    if ((codes > -1) & (codes < 1)).all() and (codes.abs() > 0.9).float().mean() > 0.5:
        raise CheckFailed("the codes look squashed into (-1, 1): remove the final tanh; the last layer is linear.")
    if not codes.requires_grad:
        raise CheckFailed("the codes carry no gradient: build the encoder from nn layers, don't detach.")


# --------------------------------------------------------------------------------------------
# Exercise 4: conv decoder
# --------------------------------------------------------------------------------------------


def check_conv_decoder(conv_decoder: Callable[[int], nn.Module]) -> None:
    """Shapes 7 -> 14 -> 28 with two stride-2 ConvTranspose2d, outputs in [0, 1], the prescribed size."""
    torch.manual_seed(0)
    layout = ("Linear(latent_dim, 64*7*7), ReLU, Unflatten to [64, 7, 7], Conv2d(64, 64, 3, padding=1), "
              "BatchNorm2d(64), ReLU, ConvTranspose2d(64, 32, 4, stride=2, padding=1), "
              "BatchNorm2d(32), ReLU, ConvTranspose2d(32, 16, 4, 2, 1), BatchNorm2d(16), ReLU, "
              "Conv2d(16, 1, 3, padding=1), Sigmoid")
    hint = ("Sizes along the way: Linear -> 3136 numbers, Unflatten -> [N, 64, 7, 7], each "
            "ConvTranspose2d(kernel_size=4, stride=2, padding=1) doubles H and W: (H - 1)*2 - 2 + 4 = 2H.")
    for latent_dim, batch in ((16, 5), (2, 3)):
        decoder = built_module(conv_decoder, latent_dim, name="conv_decoder")
        z = torch.randn(batch, latent_dim)
        images = call_module(decoder, z, f"conv_decoder({latent_dim})", hint)
        if isinstance(images, torch.Tensor) and images.dim() == 4 and images.shape[2:] != (28, 28):
            raise CheckFailed(f"conv_decoder({latent_dim}) makes images of size {tuple(images.shape[2:])}, "
                              f"expected (28, 28). {hint}")
        expect_shape(images, (batch, 1, 28, 28), f"conv_decoder({latent_dim}) applied to codes [{batch}, {latent_dim}]")
    decoder = built_module(conv_decoder, 16, name="conv_decoder")
    transposed = [m for m in decoder.modules() if isinstance(m, nn.ConvTranspose2d)]
    if len(transposed) != 2 or any(m.stride != (2, 2) for m in transposed):
        raise CheckFailed(f"the decoder should upsample with two ConvTranspose2d layers of stride 2 "
                          f"(7 -> 14 -> 28); found {len(transposed)} ConvTranspose2d layer(s) with strides "
                          f"{[m.stride for m in transposed]}.")
    _expect_same_size(decoder, ae.ConvDecoder(16), "conv_decoder(16)", layout)
    decoder.eval()
    with torch.no_grad():
        extreme = decoder(torch.randn(8, 16) * 100)
    if extreme.min() < 0 or extreme.max() > 1:
        raise CheckFailed(f"outputs must be pixels in [0, 1] for any code, got values in "
                          f"[{float(extreme.min()):.3g}, {float(extreme.max()):.3g}]: end with nn.Sigmoid().")
    decoder.train()
    out = decoder(torch.randn(4, 16))
    out.mean().backward()
    frozen = [name for name, p in decoder.named_parameters() if p.grad is None]
    if frozen:
        raise CheckFailed(f"no gradient reaches {frozen[:3]}: is every layer used in forward?")


# --------------------------------------------------------------------------------------------
# Exercise 5: noise for the denoising autoencoder
# --------------------------------------------------------------------------------------------


def check_add_noise(add_noise: Callable[[torch.Tensor, float], torch.Tensor]) -> None:
    """Per-pixel N(0, std^2) noise, clamped to [0, 1], input untouched, std = 0 changes nothing."""
    torch.manual_seed(0)
    grey = torch.full((64, 1, 28, 28), 0.5)
    kept = grey.clone()
    noisy = add_noise(grey, 0.1)
    noisy = as_tensor(noisy, "add_noise(images, 0.1)")
    expect_shape(noisy, tuple(grey.shape), "add_noise(images [64, 1, 28, 28], 0.1)")
    if not torch.equal(grey, kept):
        raise CheckFailed("add_noise changed its input in place (e.g. images += ...); return a new tensor.")
    if not noisy.is_floating_point():
        raise CheckFailed(f"the noisy images should be floats, got dtype {noisy.dtype}.")
    noise = (noisy - grey).detach().double()
    if float(noise.abs().max()) == 0:
        raise CheckFailed("add_noise(images, 0.1) returned the images unchanged: add std * noise.")
    if float(noise.flatten(1).std(1).max()) < 1e-6:
        raise CheckFailed("every pixel of an image gets the same noise value: draw one number per pixel "
                          "(torch.randn_like(images)), not one per image or one in total.")
    if abs(float(noise.mean()) - 0.05) < 0.01:
        raise CheckFailed("the noise has mean 0.05 = 0.1 x 0.5: torch.rand_like draws U(0, 1); "
                          "use torch.randn_like for N(0, 1).")
    expect_close(noise.mean(), 0.0, "the mean of the added noise", atol=0.005)
    if float(noise.std()) < 0.02:
        raise CheckFailed(f"the noise has standard deviation {float(noise.std()):.3g} instead of 0.1: did you "
                          f"multiply by std**2 (the variance)?")
    expect_close(noise.std(), 0.1, "the standard deviation of add_noise(0.5 grey, std=0.1) - images", rtol=0.05)
    tails = float((noise.abs() > 0.2).double().mean())
    if not 0.03 < tails < 0.065:
        raise CheckFailed(f"{tails:.1%} of the noise values lie beyond 2 std (a Gaussian has 4.6%): "
                          f"draw the noise from a normal distribution (torch.randn_like).")
    edges = torch.cat([torch.zeros(8, 1, 28, 28), torch.ones(8, 1, 28, 28)])
    clipped = as_tensor(add_noise(edges, 0.5), "add_noise(black and white images, 0.5)")
    if clipped.min() < 0 or clipped.max() > 1:
        raise CheckFailed(f"noisy images must stay valid images: got values in [{float(clipped.min()):.3g}, "
                          f"{float(clipped.max()):.3g}]; clamp the result to [0, 1].")
    if float((clipped[:8] > 0).double().mean()) < 0.4:
        raise CheckFailed("black pixels almost never get brighter: add the noise before clamping, "
                          "and clamp to [0, 1] (not to [0, 0]).")
    same = as_tensor(add_noise(grey, 0.0), "add_noise(images, 0.0)")
    expect_close(same.detach(), grey, "add_noise(images, std=0) (no noise at all)", atol=1e-7)
