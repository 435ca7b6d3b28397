"""Optimizing the input instead of the weights: adversarial examples, fooling images, total variation.

A trained classifier is a differentiable function of its input, so gradient steps on the
*pixels* can push its prediction anywhere: a few signed steps flip a digit's class (FGSM, PGD),
and steps from noise make images it calls any class with near certainty. The same machinery
amplifies what a layer responds to (DeepDream) and reconstructs an image from its features
(inversion), all in lecture 4. Images are ``[N, C, H, W]`` in [0, 1], labels int64 ``[N]``.
"""
from __future__ import annotations

from typing import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import module_device
from .inference import in_batches
from .validate import check_images, check_int, check_labels, check_number, check_tensor


def _input_gradient(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``d CE(model(x), labels) / d x`` (the weights get no gradient: only ``x`` is asked for)."""
    x = images.detach().clone().requires_grad_(True)
    loss = F.cross_entropy(model(x), labels)
    (grad,) = torch.autograd.grad(loss, x)
    return grad


def fgsm(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float) -> torch.Tensor:
    """Lecture 4. The fast gradient sign method: one step of size ``eps`` up the classifier's loss.

    ``x_adv = clamp(x + eps * sign(d CE(model(x), y) / d x), 0, 1)``: every pixel moves by at most
    ``eps`` in the direction that makes the true class ``y`` less likely. ``images`` ``[N, C, H, W]``
    in [0, 1], ``labels`` int64 ``[N]``; returns a detached tensor like ``images``.
    """
    check_images(images, value_range=(0.0, 1.0))
    check_labels(labels, images.shape[0])
    eps = check_number(eps, "eps")
    grad = _input_gradient(model, images, labels)
    return (images.detach() + eps * grad.sign()).clamp(0.0, 1.0)


def pgd_attack(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float, steps: int = 20,
               step_size: float | None = None, targeted: bool = False) -> torch.Tensor:
    """Lecture 4. Projected gradient descent: repeated small signed steps, kept within ``eps`` of ``x``.

    Each step moves by ``step_size`` (default ``2.5 * eps / steps``) along the gradient's sign, then
    projects back into the box ``|x_adv - x| <= eps`` (per pixel) and into [0, 1]. Untargeted
    (default): ``labels`` are the true classes and the loss goes *up*. ``targeted=True``: ``labels``
    are the classes we want and their loss goes *down*. Returns a detached tensor like ``images``.
    """
    check_images(images, value_range=(0.0, 1.0))
    check_labels(labels, images.shape[0])
    eps = check_number(eps, "eps")
    check_int(steps, "steps", 1)
    step_size = 2.5 * eps / steps if step_size is None else check_number(step_size, "step_size", strict=True)
    clean = images.detach()
    x = clean.clone()
    direction = -1.0 if targeted else 1.0
    for _ in range(steps):
        x = x + direction * step_size * _input_gradient(model, x, labels).sign()
        x = torch.maximum(torch.minimum(x, clean + eps), clean - eps).clamp(0.0, 1.0)
    return x


def predict(model: nn.Module, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Lecture 4. ``(predicted class, its softmax probability)`` of a classifier, both ``[N]`` on the CPU."""
    top, classes = in_batches(model, images, fn=lambda x: model(x).softmax(dim=1)).max(dim=1)
    return classes, top


def attack_report(model: nn.Module, clean: torch.Tensor, adversarial: torch.Tensor,
                  labels: torch.Tensor) -> dict[str, float]:
    """Lecture 4. How an attack did: accuracies before/after, share of correct predictions flipped, size of the change.

    ``flip_rate`` counts only images the model classified correctly before the attack.
    ``max_change`` is the largest per-pixel change (the L-infinity norm); ``mean_change`` the mean
    absolute change per pixel.
    """
    check_images(clean, "clean", value_range=(0.0, 1.0))
    check_images(adversarial, "adversarial", value_range=(0.0, 1.0))
    if clean.shape != adversarial.shape:
        raise ValueError(f"clean and adversarial must have the same shape, got {tuple(clean.shape)} "
                         f"and {tuple(adversarial.shape)}")
    check_labels(labels, clean.shape[0])
    before, _ = predict(model, clean)
    after, _ = predict(model, adversarial)
    labels = labels.cpu()
    correct = before == labels
    flipped = (after != labels) & correct
    change = (adversarial - clean).abs()
    return {"clean_accuracy": float(correct.float().mean()),
            "adversarial_accuracy": float((after == labels).float().mean()),
            "flip_rate": float(flipped.sum()) / max(int(correct.sum()), 1),
            "max_change": float(change.max()),
            "mean_change": float(change.mean())}


def total_variation(images: torch.Tensor, beta: float = 2.0) -> torch.Tensor:
    """Lecture 4. The total-variation regularizer of each image, ``[N]``.

    ``sum_{i,j} ((x[i, j+1] - x[i, j])^2 + (x[i+1, j] - x[i, j])^2)^(beta / 2)`` over the pixels that
    have both a right and a lower neighbour, summed over channels. Small for images made of flat
    patches, large for noise. ``beta = 2`` (the default) is the sum of squared differences.
    """
    check_tensor(images, "images", floating=True)
    if images.dim() != 4 or images.shape[-1] < 2 or images.shape[-2] < 2:
        raise ValueError(f"images must be [N, C, H, W] with H, W >= 2, got shape {tuple(images.shape)}")
    beta = check_number(beta, "beta", strict=True)
    right = images[..., :-1, 1:] - images[..., :-1, :-1]
    down = images[..., 1:, :-1] - images[..., :-1, :-1]
    squared = right.pow(2) + down.pow(2)
    per_pixel = squared if beta == 2.0 else (squared + 1e-8).pow(beta / 2)
    return per_pixel.flatten(1).sum(dim=1)


def fooling_images(model: nn.Module, targets: torch.Tensor, steps: int = 200, lr: float = 0.05,
                   tv_weight: float = 0.0, tv_beta: float = 2.0, seed: int = 0,
                   image_shape: tuple[int, ...] = (1, 28, 28)) -> torch.Tensor:
    """Lecture 4. Images optimized from uniform noise until ``model`` calls them ``targets``.

    Minimizes ``CE(model(x), target) + tv_weight * total_variation(x, tv_beta)`` over the pixels ``x``
    with Adam, clipping ``x`` to [0, 1] after every step. Without the TV term the result still looks
    like noise to us yet is classified with high confidence (Nguyen et al., 2015); the TV term makes it
    smoother (``tv_beta = 2``) or flatter (``tv_beta = 1``). ``targets``: int64 ``[N]``, one wanted class
    per image. Returns ``[N, *image_shape]``.
    """
    check_int(steps, "steps", 1)
    lr = check_number(lr, "lr", strict=True)
    tv_weight = check_number(tv_weight, "tv_weight")
    tv_beta = check_number(tv_beta, "tv_beta", strict=True)
    check_labels(targets, name="targets")
    device = module_device(model)
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(len(targets), *image_shape, generator=g).to(device).requires_grad_(True)
    targets = targets.to(device)
    optimizer = torch.optim.Adam([x], lr=lr)
    for _ in range(steps):
        loss = F.cross_entropy(model(x), targets) + tv_weight * total_variation(x, tv_beta).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            x.clamp_(0.0, 1.0)
    return x.detach()


def _resize(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return images if tuple(images.shape[-2:]) == size else F.interpolate(images, size=size, mode="bilinear",
                                                                          align_corners=False)


def activation_strength(layer: nn.Module, images: torch.Tensor, channel: int | None = None) -> torch.Tensor:
    """Lecture 4. How strongly ``layer`` responds to each image: what DeepDream climbs, ``[N]``.

    ``layer`` maps images ``[N, C, H, W]`` to activations ``[N, K, ...]`` (for example the first
    blocks of a CNN). With ``channel=None`` the response is half the mean squared activation over
    all units ("amplify whatever the layer sees"); with a channel index, the mean of that channel.
    """
    check_tensor(images, "images", floating=True)
    activations = layer(images)
    if channel is None:
        return 0.5 * activations.pow(2).flatten(1).mean(dim=1)
    if activations.dim() < 2 or not 0 <= channel < activations.shape[1]:
        raise ValueError(f"channel must index the layer's {activations.shape[1]} channels, got {channel}")
    return activations[:, channel].flatten(1).mean(dim=1)


def deep_dream(layer: nn.Module, images: torch.Tensor, *, steps: int = 20, step_size: float = 0.02,
               octaves: Sequence[float] = (0.5, 0.71, 1.0), jitter: int = 2, channel: int | None = None,
               seed: int = 0) -> torch.Tensor:
    """Lecture 4. DeepDream (Mordvintsev, Olah and Tyka, 2015): change an image to excite ``layer`` more.

    Gradient *ascent* on :func:`activation_strength` over the pixels, starting from ``images``
    ``[N, C, H, W]`` in [0, 1]. Each step shifts the image by a random offset of up to ``jitter``
    pixels (rolled, then rolled back), so the pattern cannot lock onto the pixel grid, and moves by
    ``step_size`` along the gradient divided by its mean absolute value (per image). ``octaves``
    are the scales, from coarse to fine, at which ``steps`` steps are taken each: the image is
    first dreamed at a small size, and the detail added there is carried up to the next scale.
    ``layer`` must accept every octave's size. Returns a detached tensor like ``images``, clamped
    to [0, 1].
    """
    check_images(images, value_range=(0.0, 1.0))
    check_int(steps, "steps", 1)
    step_size = check_number(step_size, "step_size", strict=True)
    check_int(jitter, "jitter", 0)
    if not octaves or any(not 0 < float(o) <= 1 for o in octaves) or list(octaves) != sorted(octaves):
        raise ValueError(f"octaves must be increasing scales in (0, 1], got {list(octaves)}")
    g = torch.Generator().manual_seed(seed)
    original = images.detach()
    height, width = original.shape[-2:]
    sizes = [(max(round(height * o), 1), max(round(width * o), 1)) for o in octaves]
    detail = torch.zeros_like(_resize(original, sizes[0]))
    x = original
    for size in sizes:
        base = _resize(original, size)
        x = (base + _resize(detail, size)).clamp(0.0, 1.0)
        for _ in range(steps):
            dy, dx = (torch.randint(-jitter, jitter + 1, (2,), generator=g).tolist() if jitter else (0, 0))
            shifted = torch.roll(x, shifts=(dy, dx), dims=(-2, -1)).requires_grad_(True)
            (grad,) = torch.autograd.grad(activation_strength(layer, shifted, channel).sum(), shifted)
            grad = torch.roll(grad, shifts=(-dy, -dx), dims=(-2, -1))
            scale = grad.abs().flatten(1).mean(dim=1).clamp_min(1e-12).view(-1, *[1] * (grad.dim() - 1))
            x = (x + step_size * grad / scale).clamp(0.0, 1.0).detach()
        detail = x - base
    return x


def invert_features(feature_fn: Callable[[torch.Tensor], torch.Tensor], target: torch.Tensor, *, steps: int = 300, lr: float = 0.05,
                    tv_weight: float = 0.0, tv_beta: float = 1.0, seed: int = 0,
                    image_shape: tuple[int, ...] = (1, 28, 28)) -> tuple[torch.Tensor, list[float]]:
    """Lecture 4. Inverting a representation (Mahendran and Vedaldi, 2015): an image whose features match ``target``.

    Minimizes ``||phi(x) - target||^2 / ||target||^2 + tv_weight * total_variation(x, tv_beta)``
    per image over the pixels ``x`` (Adam, from uniform noise, clamped to [0, 1] after every step),
    where ``phi = feature_fn`` maps images ``[N, *image_shape]`` to features ``[N, ...]`` and
    ``target`` holds the features ``[N, ...]`` of the images to reconstruct. Returns the images and
    the relative feature distance ``||phi(x) - target|| / ||target||`` (mean over images) before
    the first and after every step.
    """
    check_tensor(target, "target", floating=True)
    check_int(steps, "steps", 1)
    lr = check_number(lr, "lr", strict=True)
    tv_weight = check_number(tv_weight, "tv_weight")
    tv_beta = check_number(tv_beta, "tv_beta", strict=True)
    target = target.detach()
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(target.shape[0], *image_shape, generator=g).to(target.device).requires_grad_(True)
    target_norm = target.flatten(1).pow(2).sum(dim=1).clamp_min(1e-12)
    optimizer = torch.optim.Adam([x], lr=lr)
    distances: list[torch.Tensor] = []    # kept on the device: read back once at the end, not every step
    for step in range(steps + 1):
        features = feature_fn(x)
        if step == 0 and features.shape != target.shape:
            raise ValueError(f"feature_fn gives features of shape {tuple(features.shape)}, target has "
                             f"{tuple(target.shape)}")
        relative = (features - target).flatten(1).pow(2).sum(dim=1) / target_norm
        distances.append(relative.detach().sqrt().mean())
        if step == steps:
            break
        loss = relative.mean()
        if tv_weight:
            loss = loss + tv_weight * total_variation(x, tv_beta).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            x.clamp_(0.0, 1.0)
    return x.detach(), torch.stack(distances).tolist()


def plot_attack(clean: torch.Tensor, adversarial: torch.Tensor, model: nn.Module, n: int = 6,
                class_names: Sequence[str] | None = None, title: str | None = None) -> plt.Figure:
    """Lecture 4. Columns of (clean image, perturbation, adversarial image) with predictions and confidences."""
    check_images(clean, "clean")
    check_images(adversarial, "adversarial")
    n = min(check_int(n, "n", 1), len(clean))
    names = class_names or [str(c) for c in range(10)]
    before, p_before = predict(model, clean[:n])
    after, p_after = predict(model, adversarial[:n])
    clean_np = clean[:n, 0].detach().cpu().numpy()
    adversarial_np = adversarial[:n, 0].detach().cpu().numpy()
    delta = adversarial_np - clean_np
    scale = float(np.abs(delta).max()) or 1.0
    fig, axes = plt.subplots(3, n, figsize=(1.6 * n, 5.2), squeeze=False)
    for j in range(n):
        axes[0, j].imshow(clean_np[j], cmap="gray", vmin=0, vmax=1)
        axes[0, j].set_title(f"{names[int(before[j])]} ({float(p_before[j]):.0%})", fontsize=9)
        axes[1, j].imshow(delta[j], cmap="seismic", vmin=-scale, vmax=scale)
        axes[2, j].imshow(adversarial_np[j], cmap="gray", vmin=0, vmax=1)
        axes[2, j].set_title(f"{names[int(after[j])]} ({float(p_after[j]):.0%})", fontsize=9,
                             color="crimson" if int(after[j]) != int(before[j]) else "black")
        for row in range(3):
            axes[row, j].set_xticks([])
            axes[row, j].set_yticks([])
    axes[0, 0].set_ylabel("clean")
    axes[1, 0].set_ylabel(f"change\n(±{scale:.2g})")
    axes[2, 0].set_ylabel("adversarial")
    fig.suptitle(title or "prediction (confidence) before and after the attack", fontsize=10)
    fig.tight_layout()
    return fig
