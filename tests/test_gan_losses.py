"""course_lib.losses.gan (the GAN losses on logits) and course_lib.train.adversarial (one step of each player)."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib import train
from course_lib.losses import gan as losses
from course_lib.nn.blocks import mlp
from course_lib.train import adversarial


def _logits(seed=0):
    g = torch.Generator().manual_seed(seed)
    real = torch.randn(6, generator=g, dtype=torch.float64) * 2
    fake = torch.randn(4, generator=g, dtype=torch.float64) * 2 - 1
    return real, fake


# ---- losses on logits --------------------------------------------------------------------------

def test_discriminator_loss_on_logits_equals_the_probability_formula():
    real, fake = _logits()
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    expected = -(torch.log(d_real).mean() + torch.log(1 - d_fake).mean())   # -V(D, G), batches of 6 and 4
    got = losses.discriminator_loss(real, fake)
    assert got.dim() == 0 and torch.allclose(got, expected, atol=1e-12)
    # any shape: [N, 1] as a network's last Linear gives it
    assert torch.allclose(losses.discriminator_loss(real[:, None], fake[:, None]), expected, atol=1e-12)
    # D(x) = 1/2 everywhere: -V = log 4
    zeros = torch.zeros(5)
    assert float(losses.discriminator_loss(zeros, zeros)) == pytest.approx(math.log(4))


def test_generator_losses_on_logits_equal_the_probability_formulas():
    _, fake = _logits(1)
    d_fake = torch.sigmoid(fake)
    non_saturating = losses.generator_loss(fake)
    saturating = losses.generator_loss(fake, saturating=True)
    assert torch.allclose(non_saturating, -torch.log(d_fake).mean(), atol=1e-12)
    assert torch.allclose(saturating, torch.log(1 - d_fake).mean(), atol=1e-12)
    assert torch.allclose(losses.generator_loss(fake, False), non_saturating)
    assert float(saturating) < 0 < float(non_saturating)
    with pytest.raises(TypeError, match="True or False"):
        losses.generator_loss(fake, saturating="yes")
    with pytest.raises(TypeError, match="True or False"):
        losses.generator_loss(fake, 1)


def test_losses_are_exact_and_finite_at_extreme_logits():
    # float32, as a network gives them: sigmoid(-200) rounds to 0, so log(sigmoid) would be -inf
    sure_and_wrong = losses.discriminator_loss(torch.tensor([-200.0]), torch.tensor([200.0]))
    assert float(sure_and_wrong) == pytest.approx(400.0, abs=1e-4)
    sure_and_right = losses.discriminator_loss(torch.tensor([200.0]), torch.tensor([-200.0]))
    assert torch.isfinite(sure_and_right) and float(sure_and_right) == pytest.approx(0.0, abs=1e-6)
    assert float(losses.generator_loss(torch.tensor([-200.0]))) == pytest.approx(200.0, abs=1e-4)
    assert float(losses.generator_loss(torch.tensor([200.0]))) == pytest.approx(0.0, abs=1e-6)
    assert float(losses.generator_loss(torch.tensor([-200.0]), saturating=True)) == pytest.approx(0.0, abs=1e-6)
    assert float(losses.generator_loss(torch.tensor([200.0]), saturating=True)) == pytest.approx(-200.0, abs=1e-4)
    # and so are the gradients: -1 (non-saturating) where D rejects the fake, ~0 (saturating)
    logit = torch.tensor([-200.0], requires_grad=True)
    (grad,) = torch.autograd.grad(losses.generator_loss(logit), logit)
    assert float(grad) == pytest.approx(-1.0)
    (grad,) = torch.autograd.grad(losses.generator_loss(logit, saturating=True), logit)
    assert torch.isfinite(grad).all() and abs(float(grad)) < 1e-30


def test_real_label_smoothing():
    real, fake = _logits(2)
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    smoothed = -(0.9 * torch.log(d_real) + 0.1 * torch.log(1 - d_real)).mean() - torch.log(1 - d_fake).mean()
    assert torch.allclose(losses.discriminator_loss(real, fake, real_label=0.9), smoothed, atol=1e-12)
    assert torch.allclose(losses.discriminator_loss(real, fake, real_label=1.0), losses.discriminator_loss(real, fake))
    assert not torch.allclose(losses.discriminator_loss(real, fake, 0.9), losses.discriminator_loss(real, fake))
    # the fakes' label is never smoothed: with real_label = 0 both halves want D = 0
    both_zero = F.binary_cross_entropy_with_logits(torch.cat([real, fake]), torch.zeros(10, dtype=real.dtype),
                                                   reduction="none")
    assert torch.allclose(losses.discriminator_loss(real, fake, real_label=0.0),
                          both_zero[:6].mean() + both_zero[6:].mean(), atol=1e-12)
    with pytest.raises(ValueError, match="real_label"):
        losses.discriminator_loss(real, fake, real_label=1.5)
    with pytest.raises(ValueError, match="real_label"):
        losses.discriminator_loss(real, fake, real_label=-0.1)


# ---- frozen, gradient_norm, discriminator_scores ----------------------------------------------------

def test_frozen_restores_flags_even_after_an_error():
    net = mlp([2, 2])
    net[0].bias.requires_grad_(False)
    with pytest.raises(RuntimeError, match="boom"), adversarial.frozen(net):
        assert not any(p.requires_grad for p in net.parameters())
        raise RuntimeError("boom")
    assert net[0].weight.requires_grad and not net[0].bias.requires_grad


def test_gradient_norm_and_discriminator_scores():
    net = nn.Linear(2, 1)
    assert adversarial.gradient_norm(net) == 0.0
    net.weight.grad = torch.tensor([[3.0, 0.0]])
    assert adversarial.gradient_norm(net) == pytest.approx(3.0)        # the bias has no gradient yet
    net.bias.grad = torch.tensor([4.0])
    assert adversarial.gradient_norm(net) == pytest.approx(5.0)
    torch.manual_seed(0)
    generator, discriminator = mlp([3, 4]), mlp([4, 1])
    real, z = torch.randn(8, 4), torch.randn(8, 3)
    scores = adversarial.discriminator_scores(discriminator, generator, real, z)
    with torch.no_grad():
        assert scores["d_real"] == pytest.approx(float(torch.sigmoid(discriminator(real)).mean()))
        assert scores["d_fake"] == pytest.approx(float(torch.sigmoid(discriminator(generator(z))).mean()))
    assert set(scores) == {"d_real", "d_fake"}


# ---- discriminator_step --------------------------------------------------------------------------

def _players(seed=0):
    torch.manual_seed(seed)
    generator = mlp([3, 16, 4], out_activation="tanh")
    discriminator = mlp([4, 16, 1])
    g = torch.Generator().manual_seed(seed + 1)
    real = torch.rand(32, 4, generator=g) * 0.5 + 0.5
    z = torch.randn(32, 3, generator=g)
    return generator, discriminator, real, z


def _d_grads(discriminator, loss):
    return torch.autograd.grad(loss, list(discriminator.parameters()))


def test_discriminator_step_detaches_zero_grads_and_returns_the_loss_before_the_step():
    generator, discriminator, real, z = _players()
    optimizer = torch.optim.SGD(discriminator.parameters(), lr=0.1)
    for p in discriminator.parameters():                      # stale gradients of an earlier step
        p.grad = torch.full_like(p, 7.0)
    before = [p.detach().clone() for p in discriminator.parameters()]
    g_before = [p.detach().clone() for p in generator.parameters()]
    loss = losses.discriminator_loss(discriminator(real), discriminator(generator(z).detach()))
    expected_grads = _d_grads(discriminator, loss)

    returned = train.discriminator_step(discriminator, generator, real, z, optimizer)

    assert isinstance(returned, float) and returned == pytest.approx(float(loss.detach()), rel=1e-6)
    assert all(p.grad is None for p in generator.parameters())                   # fakes detached
    assert all(torch.equal(p.detach(), q) for p, q in zip(generator.parameters(), g_before))
    for p, grad, old in zip(discriminator.parameters(), expected_grads, before):
        assert torch.allclose(p.grad, grad, atol=1e-6)                           # the 7s are gone
        assert torch.allclose(p.detach(), old - 0.1 * grad, atol=1e-6)           # one SGD step on it


def test_discriminator_steps_lower_the_loss():
    generator, discriminator, real, z = _players()
    optimizer = torch.optim.Adam(discriminator.parameters(), lr=1e-2)
    values = [train.discriminator_step(discriminator, generator, real, z, optimizer) for _ in range(30)]
    assert values[-1] < 0.5 * values[0]


def test_discriminator_step_adds_the_penalty_to_the_loss_and_its_gradient():
    generator, discriminator, real, z = _players()
    seen = {}

    def penalty(d, real_seen, fake_seen):
        seen["args"] = (d, real_seen, fake_seen)
        return 0.5 * d(real_seen).pow(2).mean() + d(fake_seen).abs().mean()

    plain_g, plain_d, _, _ = _players()                      # the same players, no penalty
    plain_loss = train.discriminator_step(plain_d, plain_g, real, z, torch.optim.SGD(plain_d.parameters(), lr=0.0))
    fake = generator(z).detach()
    expected_penalty = penalty(discriminator, real, fake)
    penalty_grads = _d_grads(discriminator, expected_penalty)
    with_penalty = train.discriminator_step(discriminator, generator, real, z,
                                            torch.optim.SGD(discriminator.parameters(), lr=0.0), penalty=penalty)
    assert with_penalty == pytest.approx(plain_loss + float(expected_penalty.detach()), rel=1e-6)
    for p, q, pen in zip(discriminator.parameters(), plain_d.parameters(), penalty_grads):
        assert torch.allclose(p.grad - q.grad, pen, atol=1e-6)
    d, real_seen, fake_seen = seen["args"]
    assert d is discriminator and torch.equal(real_seen, real) and torch.allclose(fake_seen, fake)
    assert not fake_seen.requires_grad


def test_discriminator_step_augments_both_batches_and_records_d_of_x():
    generator, discriminator, real, z = _players()
    calls = []

    def augment(x):
        calls.append(x)
        return x.flip(1) + 0.25

    with torch.no_grad():
        fake = generator(z)
        real_logits, fake_logits = discriminator(augment(real)), discriminator(augment(fake))
    calls.clear()
    expected = float(losses.discriminator_loss(real_logits, fake_logits))
    record = {"d_real": [0.123]}
    returned = train.discriminator_step(discriminator, generator, real, z,
                                        torch.optim.SGD(discriminator.parameters(), lr=0.1),
                                        augment=augment, record=record)
    assert len(calls) == 2 and torch.equal(calls[0], real) and torch.allclose(calls[1], fake)
    assert returned == pytest.approx(expected, rel=1e-6)
    # the probabilities D gave before its step, on what it saw
    assert record["d_real"][0] == 0.123 and len(record["d_real"]) == 2 and len(record["d_fake"]) == 1
    assert record["d_real"][1] == pytest.approx(float(torch.sigmoid(real_logits).mean()), rel=1e-6)
    assert record["d_fake"][0] == pytest.approx(float(torch.sigmoid(fake_logits).mean()), rel=1e-6)


def test_discriminator_step_uses_the_given_loss():
    generator, discriminator, real, z = _players()

    def hinge(real_logits, fake_logits):
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()

    with torch.no_grad():
        expected = float(hinge(discriminator(real), discriminator(generator(z))))
    returned = train.discriminator_step(discriminator, generator, real, z,
                                        torch.optim.SGD(discriminator.parameters(), lr=0.1), hinge)
    assert returned == pytest.approx(expected, rel=1e-6)


# ---- generator_step ------------------------------------------------------------------------------

@pytest.mark.parametrize("saturating", [False, True])
def test_generator_step_freezes_d_restores_its_flags_and_moves_d_of_fakes_up(saturating):
    generator, discriminator, _, z = _players()
    discriminator[0].bias.requires_grad_(False)               # flags are restored as they were
    d_before = [p.detach().clone() for p in discriminator.parameters()]
    optimizer = torch.optim.Adam(generator.parameters(), lr=1e-2)
    with torch.no_grad():
        first_logits = discriminator(generator(z))
        before = float(torch.sigmoid(first_logits).mean())
    values = [train.generator_step(discriminator, generator, z, optimizer, saturating) for _ in range(30)]
    assert isinstance(values[0], float)
    assert values[0] == pytest.approx(float(losses.generator_loss(first_logits, saturating)), rel=1e-6)
    with torch.no_grad():
        assert float(torch.sigmoid(discriminator(generator(z))).mean()) > before
    assert all(p.grad is None for p in discriminator.parameters())
    assert all(torch.equal(p.detach(), q) for p, q in zip(discriminator.parameters(), d_before))
    assert [p.requires_grad for p in discriminator.parameters()] == [True, False, True, True]
    assert train.gradient_norm(generator) > 0 and train.gradient_norm(discriminator) == 0.0


def test_generator_step_passes_the_flag_and_augments():
    generator, discriminator, _, z = _players()
    got = {}

    def loss_fn(fake_logits, saturating):
        got["saturating"] = saturating
        got["logits"] = fake_logits.detach()
        return losses.generator_loss(fake_logits, saturating)

    with torch.no_grad():
        expected_logits = discriminator(generator(z) * 0.5)
    train.generator_step(discriminator, generator, z, torch.optim.SGD(generator.parameters(), lr=0.1), True,
                         loss_fn, augment=lambda x: x * 0.5)
    assert got["saturating"] is True and torch.allclose(got["logits"], expected_logits, atol=1e-6)


def test_the_package_reexports_the_steps():
    assert train.discriminator_step is adversarial.discriminator_step
    assert train.generator_step is adversarial.generator_step
    assert train.frozen is adversarial.frozen and train.gradient_norm is adversarial.gradient_norm
    assert adversarial.discriminator_step.__defaults__[0] is losses.discriminator_loss
