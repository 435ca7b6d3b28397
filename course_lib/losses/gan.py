"""The GAN players' losses, computed from the discriminator's logits.

A discriminator returns a logit ``a`` per input and ``D(x) = sigmoid(a)``, so ``log D(x) =
logsigmoid(a)`` and ``log(1 - D(x)) = logsigmoid(-a)``. Computing the losses from logits with
``binary_cross_entropy_with_logits`` is exact for any logit, where ``log(sigmoid(a))`` in float32
gives ``-inf`` beyond ``a`` of about -100 (and ``sigmoid`` rounds to exactly 0 or 1 far earlier).

Every loss here is a scalar to *minimize*. D's losses take ``(real_logits, fake_logits)``, G's
take ``(fake_logits, saturating)``, so a loop swaps them without other changes (lecture 7 adds
the hinge and Wasserstein pairs beside these).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..validate import check_number


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_label: float = 1.0) -> torch.Tensor:
    """Lecture 4. ``BCE(D(x), real_label) + BCE(D(G(z)), 0)`` from logits, each averaged over its batch.

    With ``real_label = 1`` this is ``-(mean log D(x) + mean log(1 - D(G(z))))``, the negative of the
    value function's minibatch estimate: minimizing it is D's gradient *ascent* on ``V(D, G)``.
    ``real_label < 1`` is one-sided label smoothing (lecture 5). Any shape, ``[N]`` or ``[N, 1]``.
    """
    real_label = check_number(real_label, "real_label", 0.0, maximum=1.0)
    return (F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, real_label))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def generator_loss(fake_logits: torch.Tensor, saturating: bool = False) -> torch.Tensor:
    """Lecture 4. G's loss from D's logits on the fakes, to minimize.

    * non-saturating (default, the one used in practice): ``-mean log D(G(z)) = BCE(D(G(z)), 1)``;
    * saturating (the minimax form): ``mean log(1 - D(G(z))) = -BCE(D(G(z)), 0)``.

    Both push ``D(G(z))`` up; when D confidently rejects the fakes only the non-saturating form
    still has a large gradient.
    """
    if not isinstance(saturating, bool):
        raise TypeError(f"saturating must be True or False, got {saturating!r}")
    if saturating:
        return -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
