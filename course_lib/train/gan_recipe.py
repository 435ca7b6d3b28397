"""Lectures 4 and 5's GAN training loop as one function, for the lectures that train GANs as a means.

Lectures 4 and 5 write the loop out in the notebook, because there it is the lesson. Lecture 6
(and lecture 7 after it) needs their generators without repeating the lesson: :func:`train_gan`
is that loop with the same choices as arguments (two Adam optimizers, k = 1, the non-saturating
loss, a learning rate held then decayed linearly, and optionally lecture 5's label smoothing,
instance noise and moving average of the generator's weights), checkpointed as a :class:`Run`.
"""
from __future__ import annotations

import torch
from torch import nn
from tqdm.auto import tqdm

from ..data import Batches
from ..latent import noise_batches
from ..losses.gan import discriminator_loss, generator_loss
from ..validate import check_int, check_number
from .adversarial import discriminator_step, generator_step
from .checkpoints import Run
from .ema import ema_copy, ema_update, recalibrate_batchnorm
from .schedules import lr_schedule


def adam(parameters, lr: float, betas: tuple[float, float] = (0.5, 0.999)) -> torch.optim.Adam:
    """Lecture 6. Adam, fused into one kernel for all parameters where this torch supports it (same updates, faster)."""
    parameters = list(parameters)   # a generator would be used up by a failed first attempt
    try:
        return torch.optim.Adam(parameters, lr=lr, betas=betas, fused=True)
    except (RuntimeError, TypeError):   # an older torch: no fused Adam, or not on this device
        return torch.optim.Adam(parameters, lr=lr, betas=betas)


def train_gan(generator: nn.Module, discriminator: nn.Module, images: torch.Tensor, *, steps: int, name: str,
              latent_dim: int, batch_size: int = 64, lr: float = 2e-4, hold: float = 0.6, real_label: float = 1.0,
              instance_noise: float = 0.0, ema_decay: float | None = None, device: torch.device | str = "cpu",
              desc: str = "GAN", checkpoint_every: int = 250) -> tuple[nn.Module, dict]:
    """Lecture 6. Train ``generator`` against ``discriminator`` on ``images`` (in [-1, 1]) for ``steps`` steps.

    Each step: one D step on a real batch and ``G(z)`` (detached), one G step on the same fakes
    (non-saturating loss). Adam (``lr``, betas 0.5/0.999) for each player; the learning rate is
    constant for the share ``hold`` of the steps, then falls linearly to 0. ``real_label < 1``
    smooths D's target for real images; ``instance_noise`` is the starting std of Gaussian noise on
    D's inputs, fading to 0; ``ema_decay`` keeps a moving average of G (then returned, with its
    batch-norm statistics recalibrated). Checkpointed every ``checkpoint_every`` steps as ``name`` (a
    finished run is loaded; an interrupted one resumes on the batches and noise it would have drawn, so it
    ends as a run that never stopped). Returns ``(generator to sample from, history)``.
    """
    check_int(steps, "steps", 1)
    check_int(batch_size, "batch_size", 1)
    check_int(checkpoint_every, "checkpoint_every", 1)
    lr = check_number(lr, "lr", 0.0, strict=True)
    real_label = check_number(real_label, "real_label", 0.0, maximum=1.0)
    instance_noise = check_number(instance_noise, "instance_noise", 0.0)
    opt_g, opt_d = adam(generator.parameters(), lr), adam(discriminator.parameters(), lr)
    schedules = [lr_schedule(opt, steps, shape="linear", hold=hold) for opt in (opt_g, opt_d)]
    average = ema_copy(generator) if ema_decay is not None else None
    parts = {"G": generator, "D": discriminator, "opt_g": opt_g, "opt_d": opt_d,
             "sched_g": schedules[0], "sched_d": schedules[1], **({"G_ema": average} if average is not None else {})}
    run = Run(name, parts, map_location=device)
    history = run.extra.get("history", {"d_loss": [], "g_loss": []})

    def d_loss_fn(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return discriminator_loss(real_logits, fake_logits, real_label=real_label)

    real_batches = Batches(images, batch_size=batch_size, drop_last=True, device=device, seed=0, endless=True)
    real_batches.skip_batches(run.step)   # a resumed run goes on with the batches it would have drawn next
    batches = iter(real_batches)
    generator.train()
    discriminator.train()
    for step in tqdm(range(run.step, steps), initial=run.step, total=steps, desc=desc):
        sigma = instance_noise * (1 - step / steps)
        augment = (lambda x, s=sigma: x + s * torch.randn_like(x)) if sigma > 0 else None
        fake = generator(torch.randn(batch_size, latent_dim, device=device))
        history["d_loss"].append(discriminator_step(discriminator, generator, next(batches), None, opt_d, d_loss_fn,
                                                    augment=augment, fake=fake))
        history["g_loss"].append(generator_step(discriminator, generator, None, opt_g, loss_fn=generator_loss,
                                                augment=augment, fake=fake))
        for schedule in schedules:
            schedule.step()
        if average is not None:
            ema_update(average, generator, min(ema_decay, (1 + step) / (10 + step)))
        if (step + 1) % checkpoint_every == 0 or step + 1 == steps:
            run.save(step + 1, history=history)
    generator.eval()
    discriminator.eval()
    if average is None:
        return generator, history
    return recalibrate_batchnorm(average, noise_batches(latent_dim, device=device)).eval(), history
