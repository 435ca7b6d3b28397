"""One step of each player of a GAN, for any losses: the pieces every GAN loop of the course is made of.

Conventions (lecture 4 on): a discriminator returns one *logit* per input (``D(x) = sigmoid(logit)``
is the probability that ``x`` is real); losses take logits (:mod:`course_lib.losses.gan`). A loop
alternates :func:`discriminator_step` and :func:`generator_step`; what changes between GAN
variants is passed in, never written into the loop:

* ``loss_fn``: the pair of losses (BCE of lecture 4, label smoothing of lecture 5, and the hinge
  and Wasserstein losses of lecture 7);
* ``penalty(discriminator, real, fake)``: a term added to D's loss (lecture 7's gradient penalty
  and R1);
* ``augment(x)``: what D sees instead of ``x`` (lecture 5's instance noise).
"""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator

import torch
from torch import nn

from ..losses.gan import discriminator_loss, generator_loss

Tensor = torch.Tensor


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Lecture 4. Within the block, ``module``'s parameters get no gradients (their flags are restored after).

    The generator's step uses it: the gradient flows *through* D to G, but D's own weight
    gradients would be wasted work.
    """
    flags = [p.requires_grad for p in module.parameters()]
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags):
            p.requires_grad_(flag)


def _seen(x: Tensor, augment: Callable[[Tensor], Tensor] | None) -> Tensor:
    return augment(x) if augment is not None else x


def discriminator_step(discriminator: nn.Module, generator: nn.Module, real: Tensor, z: Tensor,
                       d_optimizer: torch.optim.Optimizer,
                       loss_fn: Callable[[Tensor, Tensor], Tensor] = discriminator_loss, *,
                       penalty: Callable[[nn.Module, Tensor, Tensor], Tensor] | None = None,
                       augment: Callable[[Tensor], Tensor] | None = None,
                       record: dict[str, list[float]] | None = None, fake: Tensor | None = None) -> float:
    """Lecture 4. One update of D on the real batch and the fakes ``G(z)``; returns D's loss before it.

    The fakes are *detached*: D's loss must move D's weights only. ``loss_fn(real_logits,
    fake_logits)`` is D's loss; ``penalty`` (optional) adds a term computed from D and both
    batches; ``augment`` (optional) transforms both batches before D sees them. With ``record``,
    the mean probabilities ``sigmoid`` of D's logits on the real and the fake batch are appended to
    ``record["d_real"]`` and ``record["d_fake"]``. ``fake``: ``G(z)`` when the loop has computed it
    already (to reuse it in :func:`generator_step`); then ``z`` is not used.
    """
    fake = (generator(z) if fake is None else fake).detach()
    real_seen, fake_seen = _seen(real, augment), _seen(fake, augment)
    real_logits, fake_logits = discriminator(real_seen), discriminator(fake_seen)
    loss = loss_fn(real_logits, fake_logits)
    if penalty is not None:
        loss = loss + penalty(discriminator, real_seen, fake_seen)
    d_optimizer.zero_grad(set_to_none=True)
    loss.backward()
    d_optimizer.step()
    if record is not None:
        record.setdefault("d_real", []).append(float(torch.sigmoid(real_logits.detach()).mean()))
        record.setdefault("d_fake", []).append(float(torch.sigmoid(fake_logits.detach()).mean()))
    return loss.item()


def generator_step(discriminator: nn.Module, generator: nn.Module, z: Tensor, g_optimizer: torch.optim.Optimizer,
                   saturating: bool = False, loss_fn: Callable[..., Tensor] = generator_loss, *,
                   augment: Callable[[Tensor], Tensor] | None = None, fake: Tensor | None = None) -> float:
    """Lecture 4. One update of G through the (frozen) discriminator; returns G's loss before it.

    ``loss_fn(fake_logits, saturating)`` is G's loss (default: the non-saturating BCE). ``fake``:
    ``G(z)`` computed by the loop, with its graph (one forward pass of G then serves both steps);
    then ``z`` is not used. After the call G's ``.grad`` still holds the gradient just used (for
    :func:`gradient_norm`).
    """
    with frozen(discriminator):
        fake = generator(z) if fake is None else fake
        loss = loss_fn(discriminator(_seen(fake, augment)), saturating)
        g_optimizer.zero_grad(set_to_none=True)
        loss.backward()
    g_optimizer.step()
    return loss.item()


def gradient_norm(module: nn.Module) -> float:
    """Lecture 4. The L2 norm of all of ``module``'s current parameter gradients (0 if there are none)."""
    squares = [p.grad.detach().pow(2).sum() for p in module.parameters() if p.grad is not None]
    return float(torch.stack(squares).sum().sqrt()) if squares else 0.0


@torch.no_grad()
def discriminator_scores(discriminator: nn.Module, generator: nn.Module, real: Tensor, z: Tensor) -> dict[str, float]:
    """Lecture 4. Mean ``D(x) = sigmoid(logit)`` on ``real`` and mean ``D(G(z))``: both near 1/2 at the game's equilibrium."""
    return {"d_real": float(torch.sigmoid(discriminator(real)).mean()),
            "d_fake": float(torch.sigmoid(discriminator(generator(z))).mean())}
