"""Unit tests of course_lib.gan (lecture 4) and of the checks behind its check cells (exercises.lecture04).

The toolkit pieces lecture 4 uses have their own files: test_attacks.py, test_toys.py, test_coverage.py,
test_latent.py, test_gan_losses.py (losses on logits, the players' steps), test_blocks.py (mlp)."""
import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib import attacks, gan, train
from course_lib.checks import CheckFailed
from course_lib.exercises import lecture04 as ex
from course_lib.losses.gan import discriminator_loss, generator_loss
from course_lib.nn.blocks import mlp
from course_lib.toys import GaussianMixture1D, ring_centers, sample_ring

# ---- 1. the players ---------------------------------------------------------------------------

def test_lecture_players_have_the_lecture_shapes_and_d_returns_logits():
    torch.manual_seed(0)
    generator, discriminator = gan.MLPGenerator(), gan.MLPDiscriminator()
    assert generator.latent_dim == gan.LATENT_DIM == 100 and gan.IMAGE_SHAPE == (1, 28, 28)
    linear_g = [m for m in generator.modules() if isinstance(m, nn.Linear)]
    linear_d = [m for m in discriminator.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear_g] == [(100, 128), (128, 512), (512, 1024), (1024, 784)]
    assert [(m.in_features, m.out_features) for m in linear_d] == [(784, 1024), (1024, 512), (512, 128), (128, 1)]
    images = generator(torch.randn(5, 100)).detach()
    assert images.shape == (5, 1, 28, 28) and float(images.abs().max()) <= 1
    assert discriminator(images).shape == (5,) and discriminator(images.view(5, 784)).shape == (5,)
    # a logit, not a probability: nothing squashes the last Linear's output
    assert not any(isinstance(m, nn.Sigmoid) for m in discriminator.modules())
    with torch.no_grad():
        linear_d[-1].weight.zero_()
        linear_d[-1].bias.fill_(5.0)
    assert torch.equal(discriminator(images).detach(), torch.full((5,), 5.0))
    with pytest.raises(ValueError, match=r"\[N, 100\]"):
        generator(torch.randn(5, 10))
    with pytest.raises(ValueError, match="784"):
        discriminator(torch.randn(5, 1, 14, 14))
    with pytest.raises(TypeError, match="floating-point"):
        discriminator(torch.zeros(5, 784, dtype=torch.int64))
    assert any(isinstance(m, nn.Dropout) for m in gan.MLPDiscriminator(dropout=0.3).modules())
    small = gan.MLPGenerator(latent_dim=4, hidden=(8,), image_shape=(1, 2, 3))
    assert small(torch.randn(2, 4)).shape == (2, 1, 2, 3)


# ---- 2. theory with numbers ---------------------------------------------------------------------

def test_optimal_discriminator_formula_arrays_and_tensors():
    p, q = np.array([0.2, 0.0, 0.5, 0.0]), np.array([0.2, 0.3, 0.0, 0.0])
    assert np.allclose(gan.optimal_discriminator(p, q), [0.5, 0.0, 1.0, 0.5])
    t = gan.optimal_discriminator(torch.tensor(p), torch.tensor(q))
    assert isinstance(t, torch.Tensor) and torch.allclose(t, torch.tensor([0.5, 0.0, 1.0, 0.5], dtype=t.dtype))
    with pytest.raises(ValueError, match="same shape"):
        gan.optimal_discriminator(p, q[:2])
    with pytest.raises(ValueError, match="negative"):
        gan.optimal_discriminator(-p, q)
    with pytest.raises(TypeError, match="both"):
        gan.optimal_discriminator(torch.tensor(p), q)


def test_jsd_bounds_and_the_identity_c_of_g():
    p = GaussianMixture1D((-1.5, 1.0), (0.5, 0.8), (0.4, 0.6))
    q = GaussianMixture1D((0.0,), (1.5,))
    far = GaussianMixture1D((60.0,), (0.5,))
    assert gan.jensen_shannon(p, p) == pytest.approx(0.0, abs=1e-9)
    assert 0 < gan.jensen_shannon(p, q) < math.log(2)
    assert gan.jensen_shannon(p, far) == pytest.approx(math.log(2), abs=1e-6)
    assert gan.jensen_shannon(p, q) == pytest.approx(gan.jensen_shannon(q, p), abs=1e-9)
    c = gan.virtual_criterion(p, q)
    assert abs(c - (2 * gan.jensen_shannon(p, q) - math.log(4))) < 1e-8
    x = np.linspace(-15, 15, 30001)
    assert gan.virtual_criterion_on_grid(p.pdf(x), q.pdf(x), x[1] - x[0]) == pytest.approx(c, abs=1e-7)
    disjoint = gan.virtual_criterion_on_grid(np.array([1.0, 0.0]), np.array([0.0, 1.0]), 1.0)
    assert disjoint == 0.0                                    # D* is 1 and 0: both logs are 0
    with pytest.raises(ValueError, match="one shape"):
        gan.virtual_criterion_on_grid(x, x[:5], 0.1)
    with pytest.raises(ValueError, match="dx"):
        gan.virtual_criterion_on_grid(np.abs(x), np.abs(x), 0.0)
    assert gan.virtual_criterion(p, p) == pytest.approx(-math.log(4), abs=1e-9)
    # V(D*, G) is C(G); any other D does worse
    def d_star(x):
        return gan.optimal_discriminator(p.pdf(x), q.pdf(x))
    assert gan.value_function(d_star, p, q) == pytest.approx(c, abs=1e-6)
    assert gan.value_function(lambda x: np.full(np.shape(x), 0.5), p, q) == pytest.approx(-math.log(4), abs=1e-6)
    with pytest.raises(TypeError, match="GaussianMixture1D"):
        gan.jensen_shannon(p, "q")


def test_discriminator_1d_returns_probabilities_shaped_like_its_input():
    network = nn.Linear(1, 1)
    with torch.no_grad():
        network.weight.fill_(2.0)
        network.bias.fill_(-1.0)
    network.train()
    d = gan.Discriminator1D(network, [0.5])
    x = np.array([[-1.0, 0.0, 0.5], [1.0, 2.0, 300.0]])
    got = d(x)
    assert isinstance(got, np.ndarray) and got.shape == (2, 3) and got.dtype == np.float64
    assert np.allclose(got, 1 / (1 + np.exp(-(2 * x - 1))), atol=1e-7)
    assert got[1, 2] == 1.0 and network.training                 # the network's mode is restored
    assert d(0.5).shape == () and float(d(0.5)) == pytest.approx(0.5)


def test_trained_1d_discriminator_approaches_d_star():
    p = GaussianMixture1D((-1.0,), (0.6,))
    q = GaussianMixture1D((1.0,), (0.8,))
    d = gan.train_discriminator_1d(p, q, steps=400, batch_size=256, progress=False)
    assert len(d.history) == 400 and d.history[-1] < d.history[0] and not d.network.training
    assert isinstance(list(d.network.modules())[-1], nn.Linear)      # the network ends in a logit
    grid = np.linspace(-3, 3, 121)
    result = gan.compare_with_optimal(d, p, q, grid, min_density=0.05)
    assert result["max_abs_error"] < 0.1 and result["mask"].any()
    assert result["mean_abs_error"] <= result["max_abs_error"]
    assert np.allclose(result["d_star"], gan.optimal_discriminator(p.pdf(grid), q.pdf(grid)))
    assert d(np.array([0.0])).shape == (1,)
    with pytest.raises(ValueError, match="no grid point"):
        gan.compare_with_optimal(d, p, q, np.linspace(50, 60, 5))
    with pytest.raises(ValueError, match="1-D array"):
        gan.compare_with_optimal(d, p, q, np.zeros((2, 2)))


def test_train_discriminator_1d_uses_the_given_loss_on_logits():
    p, q = GaussianMixture1D((-1.0,), (0.6,)), GaussianMixture1D((1.0,), (0.8,))
    calls = []

    def loss_fn(real_logits, fake_logits):
        calls.append((real_logits.shape, fake_logits.shape))
        return discriminator_loss(real_logits, fake_logits, real_label=0.9)

    d = gan.train_discriminator_1d(p, q, steps=3, batch_size=16, loss_fn=loss_fn, progress=False)
    assert calls == [(torch.Size([16, 1]), torch.Size([16, 1]))] * 3 and len(d.history) == 3
    with pytest.raises(TypeError, match="GaussianMixture1D"):
        gan.train_discriminator_1d(p, "q", steps=1)
    with pytest.raises(ValueError, match="steps"):
        gan.train_discriminator_1d(p, q, steps=0)


def test_generator_loss_gradient_matches_the_analytic_form():
    values = np.array([1e-4, 0.01, 0.5, 0.9])
    assert np.allclose(gan.generator_loss_gradient(values, saturating=True), values, rtol=1e-6)
    assert np.allclose(gan.generator_loss_gradient(values, saturating=False), 1 - values, rtol=1e-6)
    tripled = gan.generator_loss_gradient(values, False, loss_fn=lambda a, s: 3 * generator_loss(a, s))
    assert np.allclose(tripled, 3 * (1 - values), rtol=1e-6)
    # one point at a time: the gradient of a mean over one point is not divided by the batch size
    assert gan.generator_loss_gradient([0.25], True)[0] == pytest.approx(0.25)
    with pytest.raises(ValueError, match="strictly between"):
        gan.generator_loss_gradient([0.0, 0.5], True)
    with pytest.raises(ValueError, match="strictly between"):
        gan.generator_loss_gradient([], True)


# ---- 3. the ring of Gaussians and the toy GAN --------------------------------------------------

def test_train_toy_gan_records_history_and_snapshots():
    torch.manual_seed(0)
    generator, discriminator = mlp([2, 16, 2]), mlp([2, 16, 1])          # D returns logits
    run = gan.train_toy_gan(lambda n, g: sample_ring(n, generator=g), generator, discriminator, latent_dim=2,
                            steps=25, k=2, batch_size=32, d_warmup=3, snapshot_every=10, snapshot_size=50,
                            g_optimizer=torch.optim.Adam(generator.parameters(), 1e-3),
                            d_optimizer=torch.optim.Adam(discriminator.parameters(), 1e-3), progress=False)
    assert isinstance(run, gan.ToyRun)
    assert set(run.history) == {"d_loss", "g_loss", "d_fake", "g_grad_norm"}
    assert len(run.history["d_loss"]) == 50 and len(run.history["g_loss"]) == 25          # warm-up not recorded
    assert len(run.history["d_fake"]) == len(run.history["g_grad_norm"]) == 25
    assert all(0 < v < 1 for v in run.history["d_fake"]) and all(v > 0 for v in run.history["g_grad_norm"])
    assert all(math.isfinite(v) for v in run.history["d_loss"] + run.history["g_loss"])
    assert [s for s, _ in run.snapshots] == [0, 10, 20, 25] and run.snapshots[0][1].shape == (50, 2)
    assert not torch.equal(run.snapshots[0][1], run.snapshots[-1][1])
    with pytest.raises(ValueError, match="k"):
        gan.train_toy_gan(lambda n, g: torch.zeros(n, 2), generator, discriminator, latent_dim=2, steps=1, k=0,
                          g_optimizer=None, d_optimizer=None)


def test_train_toy_gan_records_probabilities_and_the_losses_of_each_step():
    torch.manual_seed(0)
    generator, discriminator = mlp([2, 8, 2]), mlp([2, 8, 1])
    with torch.no_grad():                     # D says "logit -2" to everything, and lr 0 keeps it so
        discriminator[-1].weight.zero_()
        discriminator[-1].bias.fill_(-2.0)
    run = gan.train_toy_gan(lambda n, g: sample_ring(n, generator=g), generator, discriminator, latent_dim=2,
                            steps=4, batch_size=16, g_optimizer=torch.optim.SGD(generator.parameters(), lr=0.1),
                            d_optimizer=torch.optim.SGD(discriminator.parameters(), lr=0.0), progress=False)
    d = 1 / (1 + math.exp(2.0))                                               # sigmoid(-2)
    assert run.history["d_fake"] == pytest.approx([d] * 4)
    assert run.history["d_loss"] == pytest.approx([-math.log(d) - math.log(1 - d)] * 4)
    assert run.history["g_loss"] == pytest.approx([-math.log(d)] * 4)       # non-saturating by default
    assert run.history["g_grad_norm"] == [0.0] * 4 and run.snapshots == []   # D's zero weights pass no gradient


def test_saturating_loss_stalls_with_sgd_where_non_saturating_learns():
    data = GaussianMixture1D((3.0,), (0.5,))
    means = {}
    for saturating in (True, False):
        torch.manual_seed(0)
        generator, discriminator = mlp([1, 32, 32, 1]), mlp([1, 32, 32, 1])
        run = gan.train_toy_gan(data.sample, generator, discriminator, latent_dim=1, steps=300, batch_size=128,
                                saturating=saturating, d_warmup=200, snapshot_every=300,
                                g_optimizer=torch.optim.SGD(generator.parameters(), lr=0.013),
                                d_optimizer=torch.optim.Adam(discriminator.parameters(), lr=1e-3), progress=False)
        means[saturating] = float(run.snapshots[-1][1].mean())
        first_grad = run.history["g_grad_norm"][0]
        assert first_grad < 0.1 if saturating else first_grad > 1.0
    assert abs(means[True] - 3.0) > 2.5 and abs(means[False] - 3.0) < 1.0


# ---- 4. figures ---------------------------------------------------------------------------------

def test_figures_return_figures():
    p, q = GaussianMixture1D((0.0,), (1.0,)), GaussianMixture1D((1.0,), (1.0,))
    x = np.linspace(-3, 3, 50)
    d_star = gan.optimal_discriminator(p.pdf(x), q.pdf(x))
    assert isinstance(gan.plot_optimal_discriminator(x, p, q, d_star, d_star, d_star > 0.2), plt.Figure)
    v = np.logspace(-4, -0.1, 20)
    assert isinstance(gan.plot_generator_gradients(v, v, 1 - v), plt.Figure)
    centers = ring_centers()
    fig = gan.plot_ring_snapshots([(0, torch.zeros(10, 2)), (5, centers)], centers, 0.05, real=centers)
    assert isinstance(fig, plt.Figure) and fig.axes[2].get_title().startswith("step 5\n8/8 modes covered")
    with pytest.raises(ValueError, match="snapshots"):
        gan.plot_ring_snapshots([], centers, 0.05)
    fig = gan.plot_coverage([0, 1], {"a modes": [0, 3], "a quality": [0.0, 0.5]}, 8)
    assert isinstance(fig, plt.Figure) and len(fig.axes[0].lines) == len(fig.axes[1].lines) == 1


# ---- the exercise checks accept the reference and reject typical mistakes -------------------------

def _input_grad(model, x, y):
    x = x.detach().clone().requires_grad_(True)
    return torch.autograd.grad(F.cross_entropy(model(x), y), x)[0]


def test_check_fgsm():
    ex.check_fgsm(attacks.fgsm)
    ex.check_fgsm(lambda m, x, y, e: (x + e * _input_grad(m, x, y).sign()).clamp(0, 1))

    def in_place(m, x, y, e):
        x += e * _input_grad(m, x, y).sign()
        return x.clamp_(0, 1)

    cases = {
        r"the loss \(x - eps": lambda m, x, y, e: (x - e * _input_grad(m, x, y).sign()).clamp(0, 1),
        "raw gradient": lambda m, x, y, e: (x + e * _input_grad(m, x, y)).clamp(0, 1),
        r"clamp the result": lambda m, x, y, e: x + e * _input_grad(m, x, y).sign(),
        "more than eps": lambda m, x, y, e: (x + 2 * e * _input_grad(m, x, y).sign()).clamp(0, 1),
        "did not change": lambda m, x, y, e: x.clone(),
        "as a tensor": lambda m, x, y, e: x.numpy(),
        "in place": in_place,
    }
    for match, wrong in cases.items():
        with pytest.raises(CheckFailed, match=match):
            ex.check_fgsm(wrong)


def _bce(logits, label, reduction="mean"):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, label), reduction=reduction)


def test_check_discriminator_loss_accepts_the_reference_and_equivalent_forms():
    ex.check_discriminator_loss(discriminator_loss)
    ex.check_discriminator_loss(lambda r, f: _bce(r, 1.0) + _bce(f, 0.0))
    ex.check_discriminator_loss(lambda r, f: -(F.logsigmoid(r).mean() + F.logsigmoid(-f).mean()))


def test_check_discriminator_loss_rejects_typical_mistakes():
    cases = {
        "wrong sign": lambda r, f: -discriminator_loss(r, f),
        "labels are swapped": lambda r, f: _bce(r, 0.0) + _bce(f, 1.0),
        "only the real half": lambda r, f: _bce(r, 1.0),
        "only the fake half": lambda r, f: _bce(f, 0.0),
        "averaged the two BCE terms": lambda r, f: (_bce(r, 1.0) + _bce(f, 0.0)) / 2,
        "summed over the batch": lambda r, f: _bce(r, 1.0, "sum") + _bce(f, 0.0, "sum"),
        "averaged over real and fake samples together": lambda r, f: F.binary_cross_entropy_with_logits(
            torch.cat([r, f]), torch.cat([torch.ones_like(r), torch.zeros_like(f)])),
        # probabilities where logits belong: F.binary_cross_entropy refuses values outside [0, 1]
        "treats them as probabilities": lambda r, f: F.binary_cross_entropy(r, torch.ones_like(r))
        + F.binary_cross_entropy(f, torch.zeros_like(f)),
        # exact in float64 here, but sigmoid rounds to 0 / 1 at logits -200 / +200 in float32
        "clamps each log at -100": lambda r, f: F.binary_cross_entropy(torch.sigmoid(r), torch.ones_like(r))
        + F.binary_cross_entropy(torch.sigmoid(f), torch.zeros_like(f)),
        "underflows to log": lambda r, f: -(torch.log(torch.sigmoid(r)).mean()
                                            + torch.log(1 - torch.sigmoid(f)).mean()),
        "carries no gradient": lambda r, f: torch.tensor(discriminator_loss(r, f).item(), dtype=r.dtype),
        "should be a scalar tensor": lambda r, f: discriminator_loss(r, f).item(),
        "one number for the whole batch": lambda r, f: _bce(r, 1.0, "none").mean() + _bce(f, 0.0, "none"),
        r"shape \[N, 1\] instead of \[N\]": lambda r, f: _bce(r, 1.0, "none").mean(0) + _bce(f, 0.0, "none").mean(0),
    }
    for match, wrong in cases.items():
        with pytest.raises(CheckFailed, match=match):
            ex.check_discriminator_loss(wrong)


def test_check_generator_loss_accepts_the_reference():
    ex.check_generator_loss(generator_loss)
    ex.check_generator_loss(lambda a, s: F.logsigmoid(-a).mean() if s else -F.logsigmoid(a).mean())


def test_check_generator_loss_rejects_typical_mistakes():
    def non_saturating(a):
        return _bce(a, 1.0)

    def saturating(a):
        return -_bce(a, 0.0)

    cases = {
        "the two forms are swapped": lambda a, s: generator_loss(a, not s),
        "ignores the `saturating` flag": lambda a, s: generator_loss(a, False),
        "non-saturating form: wrong sign": lambda a, s: saturating(a) if s else -non_saturating(a),
        "non-saturating form: you used label 0": lambda a, s: saturating(a) if s else _bce(a, 0.0),
        "non-saturating form: you summed": lambda a, s: saturating(a) if s else _bce(a, 1.0, "sum"),
        "saturating form: wrong sign": lambda a, s: _bce(a, 0.0) if s else non_saturating(a),
        r"not log D\(G\(z\)\)": lambda a, s: F.logsigmoid(a).mean() if s else non_saturating(a),
        "saturating form: you summed": lambda a, s: -_bce(a, 0.0, "sum") if s else non_saturating(a),
        "treats them as probabilities": lambda a, s: F.binary_cross_entropy(a, torch.ones_like(a)),
        # sigmoid, then BCE: fine at moderate logits, 100 instead of 200 at logit -200
        "logit -200": lambda a, s: saturating(a) if s else F.binary_cross_entropy(torch.sigmoid(a),
                                                                                     torch.ones_like(a)),
        "rounds to 0 there": lambda a, s: saturating(a) if s else -torch.log(torch.sigmoid(a)).mean(),
        "carries no gradient": lambda a, s: generator_loss(a, s).detach(),
        # the right values, but the gradient is cut: what G learns from is wrong
        "gradients at D's logit": lambda a, s: generator_loss(a, s).detach() + 0 * a.sum(),
    }
    for match, wrong in cases.items():
        with pytest.raises(CheckFailed, match=match):
            ex.check_generator_loss(wrong)


def _d_step_variant(detach=True, zero_grad=True, step=True, swap=False, sign=1.0, half=None, scale=1.0,
                    returns="item"):
    def student(discriminator, generator, real, z, d_optimizer):
        fake = generator(z).detach() if detach else generator(z)
        real_logits, fake_logits = discriminator(real), discriminator(fake)
        if half == "real":
            loss = _bce(real_logits, 1.0)
        elif half == "fake":
            loss = _bce(fake_logits, 0.0)
        elif swap:
            loss = discriminator_loss(fake_logits, real_logits)
        else:
            loss = discriminator_loss(real_logits, fake_logits)
        loss = sign * scale * loss
        if zero_grad:
            d_optimizer.zero_grad()
        loss.backward()
        if step:
            d_optimizer.step()
        if returns == "tensor":
            return loss
        if returns == "after":
            with torch.no_grad():
                return float(discriminator_loss(discriminator(real), discriminator(generator(z))))
        return loss.item()
    return student


def test_check_discriminator_step():
    ex.check_discriminator_step(train.discriminator_step)
    ex.check_discriminator_step(_d_step_variant())
    cases = {
        "detach the fakes": _d_step_variant(detach=False),
        "zero_grad": _d_step_variant(zero_grad=False),
        r"call d_optimizer.step\(\)": _d_step_variant(step=False),
        r"D moved \*up\* its loss": _d_step_variant(sign=-1.0),
        "labels are swapped": _d_step_variant(swap=True),
        "only learned from the real images": _d_step_variant(half="real"),
        "only learned from the fakes": _d_step_variant(half="fake"),
        "D's update differs": _d_step_variant(scale=0.5),
        r"return loss.item\(\) \(a Python float\), not the tensor": _d_step_variant(returns="tensor"),
        "the loss of this step": _d_step_variant(returns="after"),
    }
    for match, wrong in cases.items():
        with pytest.raises(CheckFailed, match=match):
            ex.check_discriminator_step(wrong)


def test_check_optimal_discriminator():
    ex.check_optimal_discriminator(gan.optimal_discriminator)
    ex.check_optimal_discriminator(lambda p, q: p / (p + q))
    cases = {"fake": lambda p, q: q / (p + q), "ratio": lambda p, q: p / np.where(q > 0, q, np.inf),
             "only where": lambda p, q: 0.5 + 0 * p, "shape": lambda p, q: (p / (p + q)).sum(),
             "return an array": lambda p, q: {"d": p}}
    for match, wrong in cases.items():
        with pytest.raises(CheckFailed, match=match):
            ex.check_optimal_discriminator(wrong)


def _criterion(pd, pg, dx, offset=0.0, factor=1.0, naive=False):
    if naive:
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(((pd * np.log(pd / (pd + pg)) + pg * np.log(pg / (pd + pg))).sum()) * dx)
    t = np.zeros_like(pd)
    m = pd > 0
    t[m] += pd[m] * np.log(pd[m] / (pd[m] + pg[m]))
    m = pg > 0
    t[m] += pg[m] * np.log(pg[m] / (pd[m] + pg[m]))
    return factor * float(t.sum() * dx) + offset


def test_check_virtual_criterion_on_grid():
    ex.check_virtual_criterion_on_grid(_criterion)
    ex.check_virtual_criterion_on_grid(gan.virtual_criterion_on_grid)
    cases = {"log 4": lambda pd, pg, dx: _criterion(pd, pg, dx, offset=math.log(4)),
             "wrong sign": lambda pd, pg, dx: _criterion(pd, pg, dx, factor=-1.0),
             "dx": lambda pd, pg, dx: _criterion(pd, pg, dx) / dx,
             "0 \\* log 0": lambda pd, pg, dx: _criterion(pd, pg, dx, naive=True)}
    for match, wrong in cases.items():
        with pytest.raises(CheckFailed, match=match):
            ex.check_virtual_criterion_on_grid(wrong)


def test_gan_round_takes_k_d_steps_then_one_g_step_on_fresh_batches():
    torch.manual_seed(0)
    g_net, d_net = mlp([2, 8, 2]), mlp([2, 8, 1])
    calls = {"real": 0, "noise": 0}

    def real():
        calls["real"] += 1
        return torch.randn(16, 2) + 3

    def noise():
        calls["noise"] += 1
        return torch.randn(16, 2)

    g_before = [p.detach().clone() for p in g_net.parameters()]
    d_loss, g_loss = gan.gan_round(g_net, d_net, real, noise, torch.optim.SGD(g_net.parameters(), lr=0.1),
                                   torch.optim.SGD(d_net.parameters(), lr=0.1), k=3)
    assert calls == {"real": 3, "noise": 4}
    assert isinstance(d_loss, float) and isinstance(g_loss, float) and math.isfinite(d_loss + g_loss)
    assert any(not torch.equal(p, q) for p, q in zip(g_net.parameters(), g_before))
    with pytest.raises(ValueError):
        gan.gan_round(g_net, d_net, real, noise, torch.optim.SGD(g_net.parameters(), lr=0.1),
                      torch.optim.SGD(d_net.parameters(), lr=0.1), k=0)


def _round_with(d_steps, g_first=False, mean=True, fresh_real=True):
    def student(G, D, sample_real, sample_noise, g_opt, d_opt, k):
        g_loss = train.generator_step(D, G, sample_noise(), g_opt) if g_first else None
        real = sample_real()
        losses = []
        for i in range(d_steps(k)):
            losses.append(train.discriminator_step(D, G, real if not fresh_real else (real if i == 0 else sample_real()),
                                                   sample_noise(), d_opt))
        if not g_first:
            g_loss = train.generator_step(D, G, sample_noise(), g_opt)
        return (sum(losses) / len(losses) if mean else sum(losses)), g_loss
    return student


def test_check_gan_round_accepts_the_reference_and_names_each_mistake():
    ex.check_gan_round(lambda *args: gan.gan_round(*args))
    cases = [(_round_with(lambda k: k + 1), "took"), (_round_with(lambda k: k, g_first=True), "before"),
             (_round_with(lambda k: k, mean=False), "sum"), (_round_with(lambda k: k, fresh_real=False), "fresh real"),
             (lambda *args: None, "took 0")]
    for student, words in cases:
        with pytest.raises(CheckFailed, match=words):
            ex.check_gan_round(student)


def test_train_gan_recipe_learns_resumes_and_returns_the_average(tmp_path, monkeypatch):
    """Lecture 6's one-function GAN loop: the losses move, a finished run is loaded, the EMA copy is returned."""
    monkeypatch.setenv("COURSE_CHECKPOINT_DIR", str(tmp_path))
    from course_lib.train import train_gan
    torch.manual_seed(0)
    images = torch.rand(256, 1, 28, 28) * 2 - 1
    g, d = gan.MLPGenerator(hidden=(32,)), gan.MLPDiscriminator(hidden=(32,))
    out, history = train_gan(g, d, images, steps=20, name="t_gan", latent_dim=gan.LATENT_DIM, batch_size=16,
                             ema_decay=0.9, instance_noise=0.1, real_label=0.9)
    assert len(history["d_loss"]) == 20 and out is not g and not out.training
    g2, d2 = gan.MLPGenerator(hidden=(32,)), gan.MLPDiscriminator(hidden=(32,))
    _, history2 = train_gan(g2, d2, images, steps=20, name="t_gan", latent_dim=gan.LATENT_DIM, batch_size=16,
                            ema_decay=0.9)
    assert history2["d_loss"] == history["d_loss"]          # loaded, not retrained
    assert all(torch.equal(a, b) for a, b in zip(g.state_dict().values(), g2.state_dict().values()))
