"""Unit tests of course_lib.gan (lecture 4) and of the tests behind its check cells."""
import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib import gan
from course_lib.checks import CheckFailed
from course_lib.exercises import lecture04 as ex


def _linear_classifier(seed=0, pixels=16):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(pixels, 10))
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


# ---- 1. adversarial examples and fooling images ----------------------------------------------

def test_fgsm_moves_each_pixel_by_eps_up_the_loss_and_stays_in_range():
    model = _linear_classifier()
    x = torch.rand(8, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 10, (8,), generator=torch.Generator().manual_seed(1))
    adv = gan.fgsm(model, x, y, eps=0.1)
    assert adv.shape == x.shape and not adv.requires_grad
    assert float((adv - x).abs().max()) <= 0.1 + 1e-6
    assert float(adv.min()) >= 0 and float(adv.max()) <= 1
    inside = (x > 0.1) & (x < 0.9)                    # pixels the clamp cannot touch move by exactly eps
    assert torch.allclose((adv - x).abs()[inside], torch.full_like(x[inside], 0.1), atol=1e-6)
    assert F.cross_entropy(model(adv), y) > F.cross_entropy(model(x), y)
    assert model[1].weight.grad is None               # the weights get no gradient


def test_pgd_stays_in_the_eps_box_and_beats_fgsm():
    model = _linear_classifier()
    x = torch.rand(32, 1, 4, 4, generator=torch.Generator().manual_seed(0)) * 0.8 + 0.1
    y = model(x).argmax(1)                             # attack the model's own predictions
    adv = gan.pgd_attack(model, x, y, eps=0.05, steps=10)
    assert float((adv - x).abs().max()) <= 0.05 + 1e-6 and float(adv.min()) >= 0 and float(adv.max()) <= 1
    loss_pgd = F.cross_entropy(model(adv), y)
    assert loss_pgd >= F.cross_entropy(model(gan.fgsm(model, x, y, 0.05)), y) - 1e-4
    target = (y + 1) % 10
    targeted = gan.pgd_attack(model, x, target, eps=0.3, steps=20, targeted=True)
    assert F.cross_entropy(model(targeted), target) < F.cross_entropy(model(x), target)
    report = gan.attack_report(model, x, adv, y)
    assert report["clean_accuracy"] == 1.0 and report["max_change"] <= 0.05 + 1e-6
    assert 0 <= report["flip_rate"] <= 1 and report["adversarial_accuracy"] == pytest.approx(1 - report["flip_rate"])


def test_attacks_reject_bad_inputs():
    model = _linear_classifier()
    x = torch.rand(2, 1, 4, 4)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        gan.fgsm(model, x * 255, torch.tensor([0, 1]), 0.1)
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        gan.fgsm(model, x[0], torch.tensor([0]), 0.1)
    with pytest.raises(TypeError, match="int64"):
        gan.fgsm(model, x, torch.tensor([0.0, 1.0]), 0.1)
    with pytest.raises(ValueError, match=r"shape \[2\]"):
        gan.fgsm(model, x, torch.tensor([0, 1, 2]), 0.1)
    with pytest.raises(ValueError, match="eps"):
        gan.fgsm(model, x, torch.tensor([0, 1]), -0.1)
    with pytest.raises(ValueError, match="steps"):
        gan.pgd_attack(model, x, torch.tensor([0, 1]), 0.1, steps=0)
    with pytest.raises(ValueError, match="same shape"):
        gan.attack_report(model, x, x[:1], torch.tensor([0, 1]))


def test_total_variation_values():
    flat = torch.full((2, 1, 5, 5), 0.3)
    assert torch.allclose(gan.total_variation(flat), torch.zeros(2))
    ramp = torch.arange(4.0).repeat(4, 1)[None, None]          # each step right is 1, down is 0
    assert float(gan.total_variation(ramp)) == pytest.approx(9.0)   # 3 x 3 pixels with both neighbours
    assert float(gan.total_variation(ramp, beta=1.0)) == pytest.approx(9.0, rel=1e-3)
    noise = torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    assert float(gan.total_variation(noise)) > float(gan.total_variation(torch.full_like(noise, noise.mean().item())))
    with pytest.raises(ValueError, match="H, W >= 2"):
        gan.total_variation(torch.zeros(1, 1, 1, 5))
    with pytest.raises(ValueError, match="beta"):
        gan.total_variation(noise, beta=0)


def test_fooling_images_get_the_target_class_and_tv_makes_them_smoother():
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    torch.manual_seed(0)
    for p in model.parameters():
        p.requires_grad_(False)
    targets = torch.arange(4)
    plain = gan.fooling_images(model, targets, steps=60, lr=0.05, image_shape=(1, 8, 8))
    smooth = gan.fooling_images(model, targets, steps=60, lr=0.05, tv_weight=0.5, image_shape=(1, 8, 8))
    assert plain.shape == (4, 1, 8, 8) and float(plain.min()) >= 0 and float(plain.max()) <= 1
    assert torch.equal(gan.predict(model, plain)[0], targets)
    assert gan.total_variation(smooth).mean() < 0.5 * gan.total_variation(plain).mean()
    with pytest.raises(TypeError, match="int64"):
        gan.fooling_images(model, torch.tensor([1.0]), image_shape=(1, 8, 8))
    with pytest.raises(ValueError, match="tv_weight"):
        gan.fooling_images(model, targets, tv_weight=-1.0, image_shape=(1, 8, 8))


# ---- 2. the players ---------------------------------------------------------------------------

def test_lecture_players_have_the_lecture_shapes():
    generator, discriminator = gan.MLPGenerator(), gan.MLPDiscriminator()
    linear_g = [m for m in generator.modules() if isinstance(m, nn.Linear)]
    linear_d = [m for m in discriminator.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear_g] == [(100, 128), (128, 512), (512, 1024), (1024, 784)]
    assert [(m.in_features, m.out_features) for m in linear_d] == [(784, 1024), (1024, 512), (512, 128), (128, 1)]
    images = generator(torch.randn(5, 100)).detach()
    assert images.shape == (5, 1, 28, 28) and float(images.abs().max()) <= 1
    p = discriminator(images).detach()
    assert p.shape == (5, 1) and float(p.min()) >= 0 and float(p.max()) <= 1
    assert discriminator(images.view(5, 784)).shape == (5, 1)
    with pytest.raises(ValueError, match=r"\[N, 100\]"):
        generator(torch.randn(5, 10))
    with pytest.raises(ValueError, match="784"):
        discriminator(torch.randn(5, 1, 14, 14))
    assert any(isinstance(m, nn.Dropout) for m in gan.MLPDiscriminator(dropout=0.3).modules())


def test_mlp_builder_and_helpers_validate():
    net = gan.mlp([2, 8, 1], out_activation="sigmoid")
    assert isinstance(net[-1], nn.Sigmoid) and isinstance(net[1], nn.LeakyReLU)
    with pytest.raises(ValueError, match="out_activation"):
        gan.mlp([2, 1], out_activation="relu")
    with pytest.raises(ValueError, match="at least"):
        gan.mlp([2])
    with pytest.raises(ValueError, match="layer size"):
        gan.mlp([2, 0, 1])
    assert gan.sample_noise(3, seed=1).equal(gan.sample_noise(3, seed=1))
    x = torch.rand(2, 1, 28, 28)
    assert torch.allclose(gan.from_gan_range(gan.to_gan_range(x)), x)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        gan.from_gan_range(x * 3)
    generator = gan.MLPGenerator()
    samples = gan.generate(generator, 7, seed=0, batch_size=3)
    assert samples.shape == (7, 1, 28, 28) and torch.allclose(samples, gan.generate(generator, 7, seed=0), atol=1e-6)


# ---- 3. losses and steps ---------------------------------------------------------------------------

def test_losses_match_the_value_function():
    d_real = torch.tensor([[0.9], [0.6], [0.8]])
    d_fake = torch.tensor([[0.2], [0.4]])
    value = torch.log(d_real).mean() + torch.log(1 - d_fake).mean()
    assert torch.allclose(gan.discriminator_loss(d_real, d_fake), -value)
    assert torch.allclose(gan.generator_loss(d_fake), -torch.log(d_fake).mean())
    assert torch.allclose(gan.generator_loss(d_fake, saturating=True), torch.log(1 - d_fake).mean())
    # at D = 1/2 everywhere the discriminator loss is log 4 (V = -log 4)
    half = torch.full((4, 1), 0.5)
    assert float(gan.discriminator_loss(half, half)) == pytest.approx(math.log(4))
    # exact 0 and 1 outputs stay finite
    assert torch.isfinite(gan.discriminator_loss(torch.ones(2, 1), torch.ones(2, 1)))


def test_losses_reject_logits_and_bad_flags():
    with pytest.raises(ValueError, match="sigmoid"):
        gan.discriminator_loss(torch.tensor([[2.0]]), torch.tensor([[0.5]]))
    with pytest.raises(ValueError, match="empty"):
        gan.generator_loss(torch.zeros(0))
    with pytest.raises(TypeError, match="True or False"):
        gan.generator_loss(torch.tensor([0.5]), saturating="yes")
    with pytest.raises(TypeError, match="floating"):
        gan.discriminator_loss(torch.tensor([1]), torch.tensor([0]))


def test_discriminator_step_leaves_the_generator_alone_and_lowers_the_loss():
    torch.manual_seed(0)
    generator = gan.mlp([3, 16, 4], out_activation="tanh")
    discriminator = gan.mlp([4, 16, 1], out_activation="sigmoid")
    real = torch.rand(64, 4) * 0.5 + 0.5
    z = torch.randn(64, 3)
    optimizer = torch.optim.Adam(discriminator.parameters(), lr=1e-2)
    losses = [gan.discriminator_step(discriminator, generator, real, z, optimizer) for _ in range(30)]
    assert isinstance(losses[0], float) and losses[-1] < losses[0]
    assert all(p.grad is None for p in generator.parameters())


def test_generator_step_freezes_d_and_moves_d_of_fakes_up():
    torch.manual_seed(0)
    generator = gan.mlp([3, 16, 4])
    discriminator = gan.mlp([4, 16, 1], out_activation="sigmoid")
    z = torch.randn(64, 3)
    optimizer = torch.optim.Adam(generator.parameters(), lr=1e-2)
    with torch.no_grad():
        before = float(discriminator(generator(z)).mean())
    for _ in range(30):
        gan.generator_step(discriminator, generator, z, optimizer)
    with torch.no_grad():
        assert float(discriminator(generator(z)).mean()) > before
    assert all(p.grad is None and p.requires_grad for p in discriminator.parameters())
    assert gan.gradient_norm(generator) > 0 and gan.gradient_norm(discriminator) == 0.0
    scores = gan.discriminator_scores(discriminator, generator, torch.randn(8, 4), z)
    assert set(scores) == {"d_real", "d_fake"}


def test_decay_factor_is_flat_then_linear():
    factors = [gan.decay_factor(e, 10, start=0.6) for e in range(10)]
    assert factors[:6] == [1.0] * 6
    assert factors[6:] == pytest.approx([1.0, 0.75, 0.5, 0.25])
    assert gan.decay_factor(0, 1, start=0.0) == 1.0
    with pytest.raises(ValueError, match="start"):
        gan.decay_factor(0, 10, start=1.0)
    with pytest.raises(ValueError, match="epochs"):
        gan.decay_factor(0, 0)


def test_frozen_restores_flags_even_after_an_error():
    net = gan.mlp([2, 2])
    net[0].bias.requires_grad_(False)
    with pytest.raises(RuntimeError):
        with gan.frozen(net):
            assert not any(p.requires_grad for p in net.parameters())
            raise RuntimeError("boom")
    assert net[0].weight.requires_grad and not net[0].bias.requires_grad


# ---- 4. theory with numbers ---------------------------------------------------------------------

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


def test_gaussian_mixture_density_and_samples():
    p = gan.GaussianMixture1D((-1.0, 2.0), (0.5, 1.0), (1.0, 3.0))
    assert p.weights == pytest.approx((0.25, 0.75))
    x = np.linspace(*p.support(), 20001)
    assert np.trapezoid(p.pdf(x), x) == pytest.approx(1.0, abs=1e-6)
    assert np.isfinite(p.logpdf(np.array([-1e3, 1e3]))).all()           # tails in log space
    assert p.logpdf_scalar(0.7) == pytest.approx(float(p.logpdf(0.7)), abs=1e-12)
    s = p.sample(200_000, torch.Generator().manual_seed(0))
    assert s.shape == (200_000, 1) and s.dtype == torch.float32
    assert float(s.mean()) == pytest.approx(0.25 * -1 + 0.75 * 2, abs=0.02)
    with pytest.raises(ValueError, match="as many"):
        gan.GaussianMixture1D((0.0, 1.0), (1.0,))
    with pytest.raises(ValueError, match="positive"):
        gan.GaussianMixture1D((0.0,), (0.0,))
    with pytest.raises(ValueError, match="weights"):
        gan.GaussianMixture1D((0.0,), (1.0,), (-1.0,))


def test_jsd_bounds_and_the_identity_c_of_g():
    p = gan.GaussianMixture1D((-1.5, 1.0), (0.5, 0.8), (0.4, 0.6))
    q = gan.GaussianMixture1D((0.0,), (1.5,))
    far = gan.GaussianMixture1D((60.0,), (0.5,))
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


def test_trained_1d_discriminator_approaches_d_star():
    p = gan.GaussianMixture1D((-1.0,), (0.6,))
    q = gan.GaussianMixture1D((1.0,), (0.8,))
    d = gan.train_discriminator_1d(p, q, steps=400, batch_size=256, progress=False)
    grid = np.linspace(-3, 3, 121)
    result = gan.compare_with_optimal(d, p, q, grid, min_density=0.05)
    assert result["max_abs_error"] < 0.1 and result["mask"].any()
    assert d(np.array([0.0])).shape == (1,)
    with pytest.raises(ValueError, match="no grid point"):
        gan.compare_with_optimal(d, p, q, np.linspace(50, 60, 5))
    with pytest.raises(ValueError, match="1-D array"):
        gan.compare_with_optimal(d, p, q, np.zeros((2, 2)))


def test_generator_loss_gradient_matches_the_analytic_form():
    values = np.array([1e-4, 0.01, 0.5, 0.9])
    assert np.allclose(gan.generator_loss_gradient(values, saturating=True), values, rtol=1e-6)
    assert np.allclose(gan.generator_loss_gradient(values, saturating=False), 1 - values, rtol=1e-6)
    with pytest.raises(ValueError, match="strictly between"):
        gan.generator_loss_gradient([0.0, 0.5], True)


# ---- 5. the ring of Gaussians and the toy GAN --------------------------------------------------

def test_ring_and_mode_coverage():
    centers = gan.ring_centers(8, 2.0)
    assert centers.shape == (8, 2) and torch.allclose(centers.norm(dim=1), torch.full((8,), 2.0))
    samples = gan.sample_ring(4000, std=0.05, generator=torch.Generator().manual_seed(0))
    cover = gan.mode_coverage(samples, centers, std=0.05)
    assert cover.modes_covered == 8 and cover.high_quality_share > 0.98
    collapsed = centers[3] + 0.01 * torch.randn(500, 2)
    one = gan.mode_coverage(collapsed, centers, std=0.05)
    assert one.modes_covered == 1 and one.counts[3] == 500 and "1/8 modes" in one.summary()
    nowhere = gan.mode_coverage(torch.zeros(100, 2), centers, std=0.05)
    assert nowhere.modes_covered == 0 and nowhere.high_quality_share == 0
    with pytest.raises(ValueError, match="same D"):
        gan.mode_coverage(torch.zeros(5, 3), centers, 0.05)
    with pytest.raises(ValueError, match="std"):
        gan.mode_coverage(samples, centers, 0.0)
    with pytest.raises(ValueError, match="empty"):
        gan.mode_coverage(torch.zeros(0, 2), centers, 0.05)


def test_train_toy_gan_records_history_and_snapshots():
    torch.manual_seed(0)
    generator, discriminator = gan.mlp([2, 16, 2]), gan.mlp([2, 16, 1], out_activation="sigmoid")
    run = gan.train_toy_gan(lambda n, g: gan.sample_ring(n, generator=g), generator, discriminator, latent_dim=2,
                            steps=25, k=2, batch_size=32, d_warmup=3, snapshot_every=10, snapshot_size=50,
                            g_optimizer=torch.optim.Adam(generator.parameters(), 1e-3),
                            d_optimizer=torch.optim.Adam(discriminator.parameters(), 1e-3), progress=False)
    assert len(run.history["d_loss"]) == 50 and len(run.history["g_loss"]) == 25
    assert [s for s, _ in run.snapshots] == [0, 10, 20, 25] and run.snapshots[0][1].shape == (50, 2)
    with pytest.raises(ValueError, match="k"):
        gan.train_toy_gan(lambda n, g: torch.zeros(n, 2), generator, discriminator, latent_dim=2, steps=1, k=0,
                          g_optimizer=None, d_optimizer=None)


def test_saturating_loss_stalls_with_sgd_where_non_saturating_learns():
    data = gan.GaussianMixture1D((3.0,), (0.5,))
    means = {}
    for saturating in (True, False):
        torch.manual_seed(0)
        generator, discriminator = gan.mlp([1, 32, 32, 1]), gan.mlp([1, 32, 32, 1], out_activation="sigmoid")
        run = gan.train_toy_gan(data.sample, generator, discriminator, latent_dim=1, steps=400, batch_size=256,
                                saturating=saturating, d_warmup=300, snapshot_every=400,
                                g_optimizer=torch.optim.SGD(generator.parameters(), lr=0.01),
                                d_optimizer=torch.optim.Adam(discriminator.parameters(), lr=1e-3), progress=False)
        means[saturating] = float(run.snapshots[-1][1].mean())
        first_grad = run.history["g_grad_norm"][0]
        assert first_grad < 0.1 if saturating else first_grad > 1.0
    assert abs(means[True] - 3.0) > 2.5 and abs(means[False] - 3.0) < 1.0


# ---- 6. checkpoints and figures -------------------------------------------------------------------

def test_save_and_restore_training_round_trip_and_stale_files(tmp_path, capsys):
    torch.manual_seed(0)
    generator, discriminator = gan.mlp([2, 4, 2]), gan.mlp([2, 4, 1], out_activation="sigmoid")
    parts = {"G": generator, "D": discriminator, "opt_g": torch.optim.Adam(generator.parameters())}
    path = tmp_path / "run.pt"
    assert gan.restore_training(path, parts) == (0, {})
    gan.save_training(path, 3, parts, history={"d_loss": [1.0, 0.5]})
    fresh_g, fresh_d = gan.mlp([2, 4, 2]), gan.mlp([2, 4, 1], out_activation="sigmoid")
    fresh = {"G": fresh_g, "D": fresh_d, "opt_g": torch.optim.Adam(fresh_g.parameters())}
    assert gan.restore_training(path, fresh, unit="epoch") == (3, {"history": {"d_loss": [1.0, 0.5]}})
    assert "after 3 epochs" in capsys.readouterr().out
    assert all(torch.equal(a, b) for a, b in zip(fresh_g.parameters(), generator.parameters()))
    other = gan.mlp([2, 8, 2])
    assert gan.restore_training(path, {**fresh, "G": other}) == (0, {})
    assert "does not fit" in capsys.readouterr().out
    assert (tmp_path / "run.pt.stale").is_file() and not path.exists()
    gan.save_training(path, 1, parts)
    assert gan.restore_training(path, {"G": generator}) == (0, {})      # other parts than were saved
    with pytest.raises(TypeError, match="state_dict"):
        gan.save_training(path, 1, {"x": 3})
    with pytest.raises(ValueError, match="step"):
        gan.save_training(path, -1, parts)


def test_generate_from_restores_mode_and_validates():
    torch.manual_seed(0)
    g = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16))
    g.train()
    z = gan.sample_noise(5, 8, seed=2)
    out = gan.generate_from(g, z, batch_size=2)
    assert g.training and out.shape == (5, 16) and out.device.type == "cpu"
    assert torch.allclose(out, g.eval()(z), atol=1e-6)        # eval mode: batch size does not matter
    with pytest.raises(ValueError, match="non-empty"):
        gan.generate_from(g, torch.zeros(0, 8))
    with pytest.raises(TypeError, match="latent_dim"):
        gan.generate(nn.Linear(2, 2), 3)


def test_figures_return_figures():
    images = torch.rand(10, 1, 28, 28) * 2 - 1
    grid = gan.sample_grid(images, nrow=5)
    assert grid.shape[2] == 3 and grid.min() >= 0 and grid.max() <= 1
    model = _linear_classifier(pixels=784)
    clean = torch.rand(4, 1, 28, 28)
    assert isinstance(gan.plot_attack(clean, clean.flip(0), model, n=3), plt.Figure)
    p, q = gan.GaussianMixture1D((0.0,), (1.0,)), gan.GaussianMixture1D((1.0,), (1.0,))
    x = np.linspace(-3, 3, 50)
    d_star = gan.optimal_discriminator(p.pdf(x), q.pdf(x))
    assert isinstance(gan.plot_optimal_discriminator(x, p, q, d_star, d_star, d_star > 0.2), plt.Figure)
    v = np.logspace(-4, -0.1, 20)
    assert isinstance(gan.plot_generator_gradients(v, v, 1 - v), plt.Figure)
    centers = gan.ring_centers()
    fig = gan.plot_ring_snapshots([(0, torch.zeros(10, 2)), (5, centers)], centers, 0.05, real=centers)
    assert isinstance(fig, plt.Figure)
    with pytest.raises(ValueError, match="snapshots"):
        gan.plot_ring_snapshots([], centers, 0.05)
    snaps = [(1, torch.rand(16, 1, 28, 28) * 2 - 1), (2, torch.rand(16, 1, 28, 28) * 2 - 1)]
    assert isinstance(gan.plot_image_snapshots(snaps, n=16), plt.Figure)
    assert isinstance(gan.plot_coverage([0, 1], {"a modes": [0, 3], "a quality": [0.0, 0.5]}, 8), plt.Figure)


# ---- the exercise tests accept the reference and reject typical mistakes -------------------------

def test_exercise_fgsm():
    ex.test_fgsm(gan.fgsm)

    def grad(model, x, y):
        x = x.detach().clone().requires_grad_(True)
        return torch.autograd.grad(F.cross_entropy(model(x), y), x)[0]

    wrongs = {
        "the loss \\(x - eps": lambda m, x, y, e: (x - e * grad(m, x, y).sign()).clamp(0, 1),
        "raw gradient": lambda m, x, y, e: (x + e * grad(m, x, y)).clamp(0, 1),
        "clamp": lambda m, x, y, e: x + e * grad(m, x, y).sign(),
    }
    for match, wrong in wrongs.items():
        with pytest.raises(CheckFailed, match=match):
            ex.test_fgsm(wrong)

    def in_place(m, x, y, e):
        x += 0.0 * x + e * grad(m, x, y).sign()
        return x.clamp_(0, 1)

    with pytest.raises(CheckFailed, match="in place"):
        ex.test_fgsm(in_place)


def test_exercise_discriminator_loss():
    ex.test_discriminator_loss(gan.discriminator_loss)
    cases = {
        "wrong sign": lambda r, f: -gan.discriminator_loss(r, f),
        "swapped": lambda r, f: gan.discriminator_loss(f, r) if r.shape == f.shape else
        F.binary_cross_entropy(r, torch.zeros_like(r)) + F.binary_cross_entropy(f, torch.ones_like(f)),
        "only the real half": lambda r, f: F.binary_cross_entropy(r, torch.ones_like(r)),
        "averaged the two": lambda r, f: gan.discriminator_loss(r, f) / 2,
        "summed over the batch": lambda r, f: F.binary_cross_entropy(r, torch.ones_like(r), reduction="sum")
        + F.binary_cross_entropy(f, torch.zeros_like(f), reduction="sum"),
        "clamps": lambda r, f: -(torch.log(r).mean() + torch.log(1 - f).mean()),
        "no gradient": lambda r, f: torch.tensor(gan.discriminator_loss(r, f).item(), dtype=r.dtype),
    }
    for match, wrong in cases.items():
        with pytest.raises(CheckFailed, match=match):
            ex.test_discriminator_loss(wrong)


def test_exercise_generator_loss():
    ex.test_generator_loss(gan.generator_loss)
    cases = {
        "swapped": lambda d, s: gan.generator_loss(d, not s),
        "ignores": lambda d, s: gan.generator_loss(d, False),
        "non-saturating form: wrong sign": lambda d, s: gan.generator_loss(d, s) * (1 if s else -1),
        "label 0": lambda d, s: gan.generator_loss(d, True) if s else F.binary_cross_entropy(d, torch.zeros_like(d)),
        "saturating form: wrong sign": lambda d, s: -gan.generator_loss(d, True) if s else gan.generator_loss(d),
    }
    for match, wrong in cases.items():
        with pytest.raises(CheckFailed, match=match):
            ex.test_generator_loss(wrong)


def _d_step_variant(detach=True, zero_grad=True, step=True, swap=False, sign=1.0, return_tensor=False):
    def student(discriminator, generator, real, z, d_optimizer):
        fake = generator(z).detach() if detach else generator(z)
        d_real, d_fake = discriminator(real), discriminator(fake)
        loss = sign * (gan.discriminator_loss(d_fake, d_real) if swap else gan.discriminator_loss(d_real, d_fake))
        if zero_grad:
            d_optimizer.zero_grad()
        loss.backward()
        if step:
            d_optimizer.step()
        return loss if return_tensor else loss.item()
    return student


def test_exercise_discriminator_step():
    ex.test_discriminator_step(gan.discriminator_step)
    ex.test_discriminator_step(_d_step_variant())
    cases = {
        "detach": _d_step_variant(detach=False),
        "zero_grad": _d_step_variant(zero_grad=False),
        "d_optimizer.step": _d_step_variant(step=False),
        "swapped": _d_step_variant(swap=True),
        "its loss": _d_step_variant(sign=-1.0),
        "item": _d_step_variant(return_tensor=True),
    }
    for match, wrong in cases.items():
        with pytest.raises(CheckFailed, match=match):
            ex.test_discriminator_step(wrong)


def test_exercise_optimal_discriminator():
    ex.test_optimal_discriminator(gan.optimal_discriminator)
    ex.test_optimal_discriminator(lambda p, q: p / (p + q))
    cases = {"fake": lambda p, q: q / (p + q), "ratio": lambda p, q: p / np.where(q > 0, q, np.inf),
             "only where": lambda p, q: 0.5 + 0 * p, "shape": lambda p, q: (p / (p + q)).sum()}
    for match, wrong in cases.items():
        with pytest.raises(CheckFailed, match=match):
            ex.test_optimal_discriminator(wrong)


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


def test_exercise_virtual_criterion_on_grid():
    ex.test_virtual_criterion_on_grid(_criterion)
    ex.test_virtual_criterion_on_grid(gan.virtual_criterion_on_grid)
    cases = {"log 4": lambda pd, pg, dx: _criterion(pd, pg, dx, offset=math.log(4)),
             "wrong sign": lambda pd, pg, dx: _criterion(pd, pg, dx, factor=-1.0),
             "dx": lambda pd, pg, dx: _criterion(pd, pg, dx) / dx,
             "0 \\* log 0": lambda pd, pg, dx: _criterion(pd, pg, dx, naive=True)}
    for match, wrong in cases.items():
        with pytest.raises(CheckFailed, match=match):
            ex.test_virtual_criterion_on_grid(wrong)
