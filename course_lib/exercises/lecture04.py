"""The checks behind lecture 4's check cells (GANs: the minimax game).

Each ``check_*(student_fn)`` calls the student's function on small fixed inputs, compares it with
the reference in the toolkit (:mod:`course_lib.attacks`, :mod:`course_lib.losses.gan`,
:mod:`course_lib.train.adversarial`) or in :mod:`course_lib.gan`, and raises
:class:`course_lib.checks.CheckFailed` with specific feedback (a wrong sign, swapped labels,
probabilities where logits belong, a missing ``detach``, a missing ``zero_grad``, an answer off by
``log 4``, ...).
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import attacks, gan
from ..checks import CheckFailed, expect_close, expect_scalar_tensor, expect_shape
from ..checks import matches as _close
from ..losses.gan import discriminator_loss
from ..nn.blocks import mlp
from ..toys import GaussianMixture1D


# --------------------------------------------------------------------------------------------
# Exercise 1: the fast gradient sign method
# --------------------------------------------------------------------------------------------


def _tiny_classifier() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 10)).double()
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


def check_fgsm(student: Callable[[nn.Module, torch.Tensor, torch.Tensor, float], torch.Tensor]) -> None:
    """Exercise 1: ``clamp(x + eps * sign(grad_x CE(model(x), y)), 0, 1)``."""
    model = _tiny_classifier()
    g = torch.Generator().manual_seed(1)
    x = torch.rand(5, 1, 4, 4, generator=g, dtype=torch.float64) * 0.6 + 0.2
    x[0], x[1] = 0.99, 0.01          # near the edges of [0, 1]: an unclamped step leaves the range
    y = torch.tensor([3, 1, 4, 1, 5])
    x_before = x.clone()
    eps = 0.05
    got = student(model, x, y, eps)
    if not isinstance(got, torch.Tensor):
        raise CheckFailed(f"return the adversarial images as a tensor, got {type(got).__name__}.")
    expect_shape(got, tuple(x.shape), "fgsm(model, x, y, eps)")
    if not torch.equal(x, x_before):
        raise CheckFailed("your function changed the input images in place; work on a copy "
                          "(x.detach().clone().requires_grad_(True)).")
    got = got.detach().double()
    xr = x.clone().requires_grad_(True)
    grad = torch.autograd.grad(F.cross_entropy(model(xr), y), xr)[0]
    expected = attacks.fgsm(model, x, y, eps).double()
    if _close(got, (x - eps * grad.sign()).clamp(0, 1)):
        raise CheckFailed("you stepped *down* the loss (x - eps * sign(grad)): that makes the classifier more "
                          "sure of the true class. To fool it, go up the loss: x + eps * sign(grad).")
    if _close(got, (x + eps * grad).clamp(0, 1)) or _close(got, x + eps * grad):
        raise CheckFailed("you added eps times the raw gradient; FGSM uses its sign, so every pixel moves by "
                          "exactly eps (grad.sign()).")
    if float(got.min()) < -1e-9 or float(got.max()) > 1 + 1e-9:
        raise CheckFailed(f"pixel values must stay in [0, 1], got [{float(got.min()):.3g}, {float(got.max()):.3g}]: "
                          f"clamp the result to the valid pixel range (.clamp(0, 1)).")
    change = float((got - x).abs().max())
    if change > eps + 1e-6:
        raise CheckFailed(f"a pixel moved by {change:.3g}, more than eps = {eps}: the L-infinity budget is eps.")
    if change < 1e-9:
        raise CheckFailed("the images did not change: add eps * sign(gradient) to them.")
    expect_close(got, expected, "fgsm(model, x, y, eps)", atol=1e-6)


# --------------------------------------------------------------------------------------------
# Exercise 2: the discriminator's loss, from logits
# --------------------------------------------------------------------------------------------


def _logits(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """D's logits on 6 real and 4 fake images (D(x) = sigmoid(logit) between about 0.05 and 0.95)."""
    g = torch.Generator().manual_seed(seed)
    real = torch.rand(6, generator=g, dtype=torch.float64) * 5 - 2
    fake = torch.rand(4, generator=g, dtype=torch.float64) * 5 - 3
    return real, fake


def _expect_logits_not_probabilities(call: Callable[[], object], what: str) -> object:
    """Run ``call``; a complaint about values outside [0, 1] means probabilities were expected."""
    try:
        return call()
    except (RuntimeError, ValueError) as error:
        if "between 0 and 1" in str(error):
            raise CheckFailed(f"{what} got D's logits (any real number) but treats them as probabilities: "
                              f"F.binary_cross_entropy takes probabilities; use F.binary_cross_entropy_with_logits "
                              f"(or F.logsigmoid) on the logits.") from None
        raise


def check_discriminator_loss(student: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """Exercise 2: ``BCE(D(x), 1) + BCE(D(G(z)), 0)`` from D's logits, each a mean over its batch."""
    real, fake = _logits()
    real.requires_grad_(True)
    fake.requires_grad_(True)
    got = expect_scalar_tensor(_expect_logits_not_probabilities(lambda: student(real, fake), "discriminator_loss"),
                               "discriminator_loss(real_logits, fake_logits)")
    log_r, log_1r = F.logsigmoid(real).mean(), F.logsigmoid(-real).mean()      # log D(x), log(1 - D(x))
    log_f, log_1f = F.logsigmoid(fake).mean(), F.logsigmoid(-fake).mean()
    expected = -(log_r + log_1f)
    if _close(got, -expected):
        raise CheckFailed("wrong sign: you return V = mean log D(x) + mean log(1 - D(G(z))), the quantity D "
                          "*maximizes*. The optimizer minimizes, so the loss is -V (the two BCE terms).")
    if _close(got, -(log_1r + log_f)):
        raise CheckFailed("the labels are swapped: real images have label 1 (BCE(D(x), 1) = -log D(x)) and "
                          "fakes label 0 (BCE(D(G(z)), 0) = -log(1 - D(G(z)))).")
    if _close(got, -log_r):
        raise CheckFailed("only the real half is there: add BCE(D(G(z)), 0) for the fakes.")
    if _close(got, -log_1f):
        raise CheckFailed("only the fake half is there: add BCE(D(x), 1) for the real images.")
    if _close(got, expected / 2):
        raise CheckFailed("you averaged the two BCE terms; the lecture's loss adds them: BCE(real) + BCE(fake).")
    if _close(got, -(F.logsigmoid(real).sum() + F.logsigmoid(-fake).sum())):
        raise CheckFailed("you summed over the batch; average each term over its batch (as nn.BCEWithLogitsLoss does).")
    if _close(got, -(torch.cat([F.logsigmoid(real), F.logsigmoid(-fake)]).mean())):
        raise CheckFailed("you averaged over real and fake samples together; with batches of different sizes "
                          "that weights them unequally. Average each term over its own batch, then add.")
    expect_close(got, expected, "discriminator_loss(real_logits, fake_logits)", atol=1e-6)
    if not got.requires_grad:
        raise CheckFailed("the loss carries no gradient: compute it with torch operations (no .item(), no numpy).")
    # Logits far from 0: a float32 sigmoid rounds to exactly 0 or 1 there, and log(0) = -inf.
    wrong_way = student(torch.tensor([-200.0]), torch.tensor([200.0]))
    value = float(torch.as_tensor(wrong_way).detach())
    if not math.isfinite(value):
        raise CheckFailed("the loss is inf for a D that is very sure and wrong (logits -200 for a real image, +200 "
                          "for a fake): torch.log(torch.sigmoid(a)) underflows to log(0). Compute from the logits "
                          "with F.binary_cross_entropy_with_logits (or F.logsigmoid), which is exact for any logit.")
    if abs(value - 400.0) > 1e-3:
        raise CheckFailed(f"for logits -200 (real) and +200 (fake) the loss is 200 + 200 = 400, you return {value:.4g}: "
                          f"sigmoid followed by F.binary_cross_entropy clamps each log at -100. Compute from the "
                          f"logits with F.binary_cross_entropy_with_logits.")
    column = student(real.detach()[:, None], fake.detach()[:, None])
    expect_close(column, expected.detach(), "discriminator_loss on logits of shape [N, 1] instead of [N]", atol=1e-6)


# --------------------------------------------------------------------------------------------
# Exercise 3: the generator's loss, saturating and non-saturating
# --------------------------------------------------------------------------------------------


def check_generator_loss(student: Callable[[torch.Tensor, bool], torch.Tensor]) -> None:
    """Exercise 3: non-saturating ``-mean log D(G(z))``, saturating ``mean log(1 - D(G(z)))``, from logits."""
    _, fake = _logits(1)
    fake.requires_grad_(True)
    log_d, log_1d = F.logsigmoid(fake), F.logsigmoid(-fake)
    non_sat_expected = -log_d.mean()
    sat_expected = log_1d.mean()
    non_sat = expect_scalar_tensor(
        _expect_logits_not_probabilities(lambda: student(fake, False), "generator_loss"),
        "generator_loss(fake_logits, saturating=False)")
    sat = expect_scalar_tensor(student(fake, True), "generator_loss(fake_logits, saturating=True)")
    if _close(non_sat, sat_expected) and _close(sat, non_sat_expected):
        raise CheckFailed("the two forms are swapped: saturating=True is mean log(1 - D(G(z))) (the minimax "
                          "value's own term), saturating=False is -mean log D(G(z)).")
    if _close(non_sat, sat) and not _close(non_sat_expected, sat_expected):
        raise CheckFailed("both calls return the same value: your function ignores the `saturating` flag.")
    # non-saturating
    if _close(non_sat, -non_sat_expected):
        raise CheckFailed("non-saturating form: wrong sign. G wants D(G(z)) near 1, i.e. to *maximize* log D(G(z)); "
                          "the loss to minimize is -mean log D(G(z)) = BCE(D(G(z)), 1).")
    if _close(non_sat, -log_1d.mean()):
        raise CheckFailed("non-saturating form: you used label 0 (BCE(D(G(z)), 0)); that is D's goal for fakes. "
                          "G wants its fakes called real: BCE(D(G(z)), 1).")
    if _close(non_sat, sat_expected):
        raise CheckFailed("saturating=False returned the saturating form mean log(1 - D(G(z))); the non-saturating "
                          "one is -mean log D(G(z)).")
    if _close(non_sat, -log_d.sum()):
        raise CheckFailed("non-saturating form: you summed over the batch; take the mean.")
    expect_close(non_sat, non_sat_expected, "generator_loss(fake_logits, saturating=False)", atol=1e-6)
    # saturating
    if _close(sat, -sat_expected):
        raise CheckFailed("saturating form: wrong sign. It is the value function's term mean log(1 - D(G(z))), "
                          "which G *minimizes* (you returned BCE(D(G(z)), 0), the quantity D minimizes).")
    if _close(sat, log_d.mean()):
        raise CheckFailed("saturating form: use log(1 - D(G(z))), not log D(G(z)).")
    if _close(sat, log_1d.sum()):
        raise CheckFailed("saturating form: you summed over the batch; take the mean.")
    expect_close(sat, sat_expected, "generator_loss(fake_logits, saturating=True)", atol=1e-6)
    for value, name in ((non_sat, "non-saturating"), (sat, "saturating")):
        if not value.requires_grad:
            raise CheckFailed(f"the {name} loss carries no gradient: compute it with torch operations.")
    far = float(torch.as_tensor(student(torch.tensor([-200.0]), False)).detach())
    if not math.isfinite(far) or abs(far - 200.0) > 1e-3:
        raise CheckFailed(f"for a fake that D rejects with logit -200 the non-saturating loss is 200, you return "
                          f"{far:.4g}: compute it from the logit (F.binary_cross_entropy_with_logits), not through "
                          f"torch.sigmoid, which rounds to 0 there.")
    # The behaviour that matters: the gradient at D's logit when D rejects the fake (D(G(z)) = 0.001).
    logit = torch.logit(torch.tensor([1e-3], dtype=torch.float64)).requires_grad_(True)
    grads = {}
    for flag in (False, True):
        (grads[flag],) = torch.autograd.grad(student(logit, flag), logit)
    if abs(float(grads[False]) + 0.999) > 1e-3 or abs(float(grads[True]) + 0.001) > 1e-4:
        raise CheckFailed(f"at D(G(z)) = 0.001 the gradients at D's logit should be about -0.999 (non-saturating) "
                          f"and -0.001 (saturating); got {float(grads[False]):.4g} and {float(grads[True]):.4g}.")


# --------------------------------------------------------------------------------------------
# Exercise 4: one step of the discriminator, with detach
# --------------------------------------------------------------------------------------------


def _players(seed: int = 0) -> tuple[nn.Module, nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    generator = mlp([3, 8, 5], out_activation="tanh").double()
    discriminator = mlp([5, 8, 1]).double()
    g = torch.Generator().manual_seed(seed + 1)
    real = torch.rand(6, 5, generator=g, dtype=torch.float64) * 2 - 1
    z = torch.randn(6, 3, generator=g, dtype=torch.float64)
    return generator, discriminator, real, z


def _reference_update(loss_fn: Callable[[nn.Module, nn.Module, torch.Tensor, torch.Tensor], torch.Tensor],
                      lr: float, seed: int = 0) -> list[torch.Tensor]:
    """How D's parameters change under one SGD step on ``loss_fn`` (fresh copies of the players)."""
    generator, discriminator, real, z = _players(seed)
    before = [p.detach().clone() for p in discriminator.parameters()]
    loss = loss_fn(discriminator, generator, real, z)
    grads = torch.autograd.grad(loss, list(discriminator.parameters()))
    return [-lr * gr for gr, _ in zip(grads, before)]


def _same_update(a: list[torch.Tensor], b: list[torch.Tensor], scale: float = 1.0) -> bool:
    return all(torch.allclose(x, scale * y, atol=1e-9, rtol=1e-6) for x, y in zip(a, b))


def check_discriminator_step(student: Callable[..., float]) -> None:
    """Exercise 4: fakes detached, zero_grad, D's loss, backward, step; return ``loss.item()``."""
    lr = 0.1
    generator, discriminator, real, z = _players()
    optimizer = torch.optim.SGD(discriminator.parameters(), lr=lr)
    for p in discriminator.parameters():        # stale gradients from an earlier step
        p.grad = torch.full_like(p, 0.5)
    d_before = [p.detach().clone() for p in discriminator.parameters()]
    g_before = [p.detach().clone() for p in generator.parameters()]
    with torch.no_grad():
        loss_before = float(discriminator_loss(discriminator(real), discriminator(generator(z))))

    returned = student(discriminator, generator, real, z, optimizer)

    if any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in generator.parameters()):
        raise CheckFailed("the generator received gradients from the discriminator's loss: detach the fakes "
                          "(fake = generator(z).detach()) so that backward() stops at D's input. D's step must "
                          "not touch G (its gradients would pile up in G's .grad, and the backward pass through "
                          "G is wasted work).")
    if any(not torch.equal(p.detach(), q) for p, q in zip(generator.parameters(), g_before)):
        raise CheckFailed("the generator's weights changed in the discriminator's step: only D's optimizer steps here.")
    update = [p.detach() - q for p, q in zip(discriminator.parameters(), d_before)]
    if all(float(u.abs().max()) == 0 for u in update):
        raise CheckFailed("D's weights did not change: call d_optimizer.step() after loss.backward().")

    def correct(d, g, x, zz):
        return discriminator_loss(d(x), d(g(zz).detach()))

    def swapped(d, g, x, zz):
        return discriminator_loss(d(g(zz).detach()), d(x))

    expected = _reference_update(correct, lr)
    stale = [torch.full_like(u, -lr * 0.5) for u in update]
    if _same_update(update, [e + s for e, s in zip(expected, stale)]):
        raise CheckFailed("old gradients were added to the new ones: call d_optimizer.zero_grad() before "
                          "loss.backward() (PyTorch accumulates gradients in .grad).")
    if _same_update(update, expected, -1.0):
        raise CheckFailed("D moved *up* its loss: minimize the discriminator loss (check the sign of the loss).")
    if _same_update(update, _reference_update(swapped, lr)):
        raise CheckFailed("the labels are swapped: pass D(real) as the real outputs and D(fake) as the fake ones.")
    if _same_update(update, _reference_update(lambda d, g, x, zz: F.binary_cross_entropy_with_logits(
            d(x), torch.ones(len(x), 1, dtype=x.dtype)), lr)):
        raise CheckFailed("D only learned from the real images: add the fakes' term (label 0).")
    if _same_update(update, _reference_update(lambda d, g, x, zz: F.binary_cross_entropy_with_logits(
            d(g(zz)), torch.zeros(len(zz), 1, dtype=zz.dtype)), lr)):
        raise CheckFailed("D only learned from the fakes: add the real images' term (label 1).")
    if not _same_update(update, expected):
        raise CheckFailed("D's update differs from one step on discriminator_loss(D(real), D(G(z).detach())). "
                          "Use the real batch and the fakes from the given z, once each.")
    if isinstance(returned, torch.Tensor):
        raise CheckFailed("return loss.item() (a Python float), not the tensor: a history of tensors keeps every "
                          "step's graph alive and memory grows with each step.")
    if not isinstance(returned, (float, int)) or not math.isclose(float(returned), loss_before, rel_tol=1e-6):
        raise CheckFailed(f"return the loss of this step as a float (loss.item()); expected {loss_before:.6g}, "
                          f"got {returned!r}.")


# --------------------------------------------------------------------------------------------
# Exercise 5: the optimal discriminator
# --------------------------------------------------------------------------------------------


def check_optimal_discriminator(student: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> None:
    """Exercise 5: ``D*(x) = p_data(x) / (p_data(x) + p_g(x))`` elementwise."""
    p_data = np.array([0.40, 0.10, 0.05, 0.30, 0.001, 0.2])
    p_g = np.array([0.10, 0.10, 0.45, 0.00, 0.300, 0.6])
    expected = p_data / (p_data + p_g)
    got = student(p_data, p_g)
    try:
        got_arr = np.asarray(got.detach().cpu() if isinstance(got, torch.Tensor) else got, dtype=float)
    except (TypeError, ValueError):
        raise CheckFailed(f"return an array of the same shape as the inputs, got {type(got).__name__}.") from None
    if got_arr.shape != expected.shape:
        raise CheckFailed(f"D* has shape {got_arr.shape}, expected {expected.shape}: one value per point, elementwise.")
    if np.allclose(got_arr, 1 - expected, atol=1e-9):
        raise CheckFailed("you returned p_g / (p_data + p_g), the probability that x is *fake*; D outputs the "
                          "probability that x is real.")
    with np.errstate(divide="ignore", invalid="ignore"):
        if np.allclose(got_arr[p_g > 0], (p_data / p_g)[p_g > 0], atol=1e-9):
            raise CheckFailed("p_data / p_g is a ratio of densities, not a probability: divide by the sum "
                              "p_data + p_g.")
    if np.allclose(got_arr, 0.5, atol=1e-9):
        raise CheckFailed("D* = 1/2 only where p_data = p_g; in general it depends on both densities.")
    if not np.all(np.isfinite(got_arr)):
        raise CheckFailed("D* contains NaN or inf for these (positive-sum) densities.")
    expect_close(torch.from_numpy(got_arr), torch.from_numpy(expected), "optimal_discriminator(p_data, p_g)",
                 atol=1e-9)
    # and on tensors (the same arithmetic works for both)
    t = student(torch.from_numpy(p_data), torch.from_numpy(p_g))
    expect_close(t, torch.from_numpy(expected), "optimal_discriminator on torch tensors", atol=1e-9)


# --------------------------------------------------------------------------------------------
# Exercise 6: C(G) on a grid
# --------------------------------------------------------------------------------------------


def check_virtual_criterion_on_grid(student: Callable[[np.ndarray, np.ndarray, float], float]) -> None:
    """Exercise 6: ``C(G) = sum_x [p_data log D* + p_g log(1 - D*)] dx`` on a uniform grid."""
    p = GaussianMixture1D((-1.0, 1.0), (0.6, 0.5), (0.5, 0.5))
    q = GaussianMixture1D((0.5,), (1.0,))
    x = np.linspace(-9, 9, 9001)
    dx = float(x[1] - x[0])
    pd, pg = p.pdf(x), q.pdf(x)
    got = student(pd, pg, dx)
    try:
        value = float(got)
    except (TypeError, ValueError):
        raise CheckFailed(f"return one number (a float), got {type(got).__name__}.") from None
    if not math.isfinite(value):
        raise CheckFailed("C(G) came out NaN or inf: where a density is 0 its term must contribute 0 (0 * log 0 = 0); "
                          "keep the points where the density is 0 out of the log, e.g. with np.where.")
    expected = gan.virtual_criterion(p, q)
    if abs(gan.virtual_criterion_on_grid(pd, pg, dx) - expected) > 1e-6:   # the grid is fine enough
        raise AssertionError("lecture04: the test grid is too coarse for C(G)")
    jsd = gan.jensen_shannon(p, q)
    if abs(value - (expected + math.log(4))) < 1e-3:
        raise CheckFailed("off by log 4: you computed 2 JSD (with log(2 D*) and log(2 (1 - D*))). C(G) is "
                          "E_p_data[log D*] + E_p_g[log(1 - D*)] = 2 JSD - log 4.")
    if abs(value - jsd) < 1e-3 or abs(value - (jsd - math.log(4))) < 1e-3:
        raise CheckFailed("that is JSD (or JSD - log 4): C(G) has *twice* the JSD, 2 JSD - log 4.")
    if abs(value + expected) < 1e-3:
        raise CheckFailed("wrong sign: C(G) = V(D*, G) is a sum of logs of probabilities, so it is negative "
                          "(between -log 4 and 0).")
    if abs(value - expected / dx) < 1e-2 * abs(expected / dx):
        raise CheckFailed("you forgot the grid spacing dx: an integral is a sum of f(x) * dx.")
    with np.errstate(divide="ignore", invalid="ignore"):
        both_d = float(np.nansum((pd + pg) * np.log(pd / (pd + pg))) * dx)
    if abs(value - both_d) < 1e-3:
        raise CheckFailed("the p_g term needs log(1 - D*), not log D*.")
    if abs(value - expected) > 1e-3:
        raise CheckFailed(f"C(G) = {value:.6f}, expected {expected:.6f} (scipy's integral). Check the two terms: "
                          f"p_data * log D* and p_g * log(1 - D*), summed and multiplied by dx.")
    same = float(student(pd, pd.copy(), dx))
    if abs(same + math.log(4)) > 1e-3:
        raise CheckFailed(f"for p_g = p_data, C(G) must be -log 4 = {-math.log(4):.6f}; got {same:.6f}.")
    zero_tails = float(student(np.where(x < 0, pd, 0.0), np.where(x > 0, pg, 0.0), dx))
    if not math.isfinite(zero_tails):
        raise CheckFailed("C(G) is NaN where one density is exactly 0: 0 * log 0 must count as 0 (use np.where "
                          "or scipy.special.xlogy).")


# --------------------------------------------------------------------------------------------
# Exercise 7: one iteration of Algorithm 1 with k discriminator steps
# --------------------------------------------------------------------------------------------


class _RecordingSGD(torch.optim.SGD):
    """SGD that writes its tag into ``events`` at every step (to check the order of the players' steps)."""

    def __init__(self, params, tag: str, events: list[str]) -> None:
        super().__init__(params, lr=0.05)
        self.tag, self.events = tag, events

    def step(self, closure=None):  # type: ignore[override]
        self.events.append(self.tag)
        return super().step(closure)


def _round_setup(seed: int) -> tuple[nn.Module, nn.Module, Callable[[], torch.Tensor], Callable[[], torch.Tensor],
                                     list[str], torch.optim.Optimizer, torch.optim.Optimizer]:
    generator, discriminator, _, _ = _players(seed)
    events: list[str] = []
    g = torch.Generator().manual_seed(seed + 10)
    reals = [torch.rand(6, 5, generator=g, dtype=torch.float64) * 2 - 1 for _ in range(12)]
    noises = [torch.randn(6, 3, generator=g, dtype=torch.float64) for _ in range(12)]
    counters = {"real": 0, "noise": 0}

    def sample_real() -> torch.Tensor:
        events.append("real")
        counters["real"] += 1
        return reals[(counters["real"] - 1) % len(reals)].clone()

    def sample_noise() -> torch.Tensor:
        events.append("noise")
        counters["noise"] += 1
        return noises[(counters["noise"] - 1) % len(noises)].clone()

    g_opt = _RecordingSGD(generator.parameters(), "G step", events)
    d_opt = _RecordingSGD(discriminator.parameters(), "D step", events)
    return generator, discriminator, sample_real, sample_noise, events, g_opt, d_opt


def _times(n: int) -> str:
    return {0: "never", 1: "once", 2: "twice"}.get(n, f"{n} times")


def check_gan_round(student: Callable[..., object]) -> None:
    """Exercise 7: ``k`` D steps (fresh real batch and noise each), then one G step on fresh noise."""
    for k in (1, 3):
        generator, discriminator, sample_real, sample_noise, events, g_opt, d_opt = _round_setup(k)
        returned = student(generator, discriminator, sample_real, sample_noise, g_opt, d_opt, k)
        steps = [e for e in events if e.endswith("step")]
        n_d, n_g = steps.count("D step"), steps.count("G step")
        if n_d != k:
            raise CheckFailed(f"with k = {k} the discriminator took {n_d} steps: take exactly k of them "
                              f"(for _ in range(k)), then one generator step.")
        if n_g != 1:
            raise CheckFailed(f"with k = {k} the generator took {n_g} steps: one per round, after the k "
                              f"discriminator steps.")
        if steps[-1] != "G step":
            raise CheckFailed("the generator stepped before the discriminator's k steps were done: Algorithm 1 "
                              "first trains D k times, then G once.")
        n_real, n_noise = events.count("real"), events.count("noise")
        if n_real != k:
            raise CheckFailed(f"sample_real() was called {_times(n_real)} for k = {k}: each discriminator step takes "
                              f"a fresh real batch (call it inside the loop), and the generator's step needs none.")
        if n_noise != k + 1:
            raise CheckFailed(f"sample_noise() was called {_times(n_noise)} for k = {k}: fresh noise for each of the "
                              f"k discriminator steps and once more for the generator's step ({k + 1} in all).")
        ref_g, ref_d, ref_real, ref_noise, _, ref_g_opt, ref_d_opt = _round_setup(k)
        expected = gan.gan_round(ref_g, ref_d, ref_real, ref_noise, ref_g_opt, ref_d_opt, k)
        for name, mine, theirs in (("discriminator", discriminator, ref_d), ("generator", generator, ref_g)):
            if not all(torch.allclose(p.detach(), q.detach(), atol=1e-9, rtol=1e-6)
                       for p, q in zip(mine.parameters(), theirs.parameters())):
                raise CheckFailed(f"the {name}'s weights after the round differ from k steps of "
                                  f"discriminator_step(D, G, real, z, d_optimizer) followed by "
                                  f"cl.train.generator_step(D, G, z, g_optimizer, loss_fn=generator_loss). "
                                  f"Use the batches in the order they are drawn, one real batch and one noise "
                                  f"batch per D step.")
        if not isinstance(returned, tuple) or len(returned) != 2:
            raise CheckFailed(f"return a pair (mean of the k discriminator losses, the generator loss), got "
                              f"{type(returned).__name__}.")
        if any(isinstance(v, torch.Tensor) for v in returned):
            raise CheckFailed("return Python floats (loss.item()), not tensors: a history of tensors keeps every "
                              "step's graph alive.")
        d_loss, g_loss = (float(v) for v in returned)
        if k > 1 and math.isclose(d_loss, k * expected[0], rel_tol=1e-6):
            raise CheckFailed("the first number is the sum of the k discriminator losses: return their mean.")
        if not math.isclose(d_loss, expected[0], rel_tol=1e-6):
            raise CheckFailed(f"the first number should be the mean of the k discriminator losses, "
                              f"{expected[0]:.6g}; got {d_loss:.6g}" + (" (the last step's loss only?)." if k > 1 else "."))
        if not math.isclose(g_loss, expected[1], rel_tol=1e-6):
            raise CheckFailed(f"the second number should be the generator's loss, {expected[1]:.6g}; got {g_loss:.6g}.")
