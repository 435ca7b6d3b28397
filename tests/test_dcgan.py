"""Unit tests of course_lib.dcgan (lecture 5) and of the tests behind its check cells."""
import copy
import math

import pytest
import torch
from torch import nn

from course_lib import dcgan, gan
from course_lib.checks import CheckFailed
from course_lib.exercises import lecture05 as ex


# ---- building blocks and models ------------------------------------------------------------

@pytest.mark.parametrize("upsample", ["transposed", "resize"])
def test_generator_block_doubles_the_map(upsample):
    block = dcgan.generator_block(8, 4, upsample)
    with torch.no_grad():
        out = block(torch.randn(2, 8, 7, 7))
    assert out.shape == (2, 4, 14, 14) and float(out.min()) >= 0
    kinds = [type(m) for m in block]
    assert nn.BatchNorm2d in kinds and nn.ReLU in kinds
    assert (nn.ConvTranspose2d in kinds) == (upsample == "transposed")


def test_discriminator_block_halves_the_map_and_follows_the_guidelines():
    block = dcgan.discriminator_block(4, 8)
    assert block(torch.randn(2, 4, 14, 14)).shape == (2, 8, 7, 7)
    assert block(torch.randn(2, 4, 7, 7)).shape == (2, 8, 3, 3)
    leaky = [m for m in block if isinstance(m, nn.LeakyReLU)]
    assert leaky and leaky[0].negative_slope == 0.2
    assert not any(isinstance(m, nn.BatchNorm2d) for m in dcgan.discriminator_block(1, 8, batch_norm=False))


def test_blocks_reject_bad_arguments():
    with pytest.raises(ValueError, match="in_channels"):
        dcgan.generator_block(0, 4)
    with pytest.raises(ValueError, match="upsample"):
        dcgan.generator_block(4, 4, upsample="bilinear-ish")
    with pytest.raises(TypeError, match="batch_norm"):
        dcgan.discriminator_block(4, 4, batch_norm="yes")
    with pytest.raises(ValueError, match="out_channels"):
        dcgan.generator_output_layer(4, -1)


@pytest.mark.parametrize("image_size", [28, 32])
@pytest.mark.parametrize("upsample", ["transposed", "resize"])
def test_models_shapes_and_ranges(image_size, upsample):
    g = dcgan.DCGANGenerator(latent_dim=16, width=8, image_size=image_size, upsample=upsample)
    d = dcgan.DCGANDiscriminator(width=8, image_size=image_size)
    x = g(torch.randn(3, 16))
    assert x.shape == (3, 1, image_size, image_size)
    assert float(x.detach().abs().max()) <= 1.0
    assert g(torch.randn(3, 16, 1, 1)).shape == x.shape
    assert d(x).shape == (3,)
    features = d.features(x)
    assert [f.shape[1] for f in features] == [8, 16, 32]
    # guidelines: no pooling, no fully connected layer, batch norm not at D's input nor G's output
    for model in (g, d):
        assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.Linear)) for m in model.modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in d.blocks[0])
    assert not any(isinstance(m, nn.BatchNorm2d) for m in g.output)
    assert isinstance(list(g.output)[-1], nn.Tanh)


def test_models_reject_bad_inputs():
    g = dcgan.DCGANGenerator(latent_dim=16, width=8)
    d = dcgan.DCGANDiscriminator(width=8)
    with pytest.raises(ValueError, match=r"\[N, 16\]"):
        g(torch.randn(2, 15))
    with pytest.raises(TypeError, match="floating-point"):
        g(torch.ones(2, 16, dtype=torch.int64))
    with pytest.raises(ValueError, match="1, 28, 28"):
        d(torch.randn(2, 1, 32, 32))
    with pytest.raises(ValueError, match="image_size"):
        dcgan.DCGANGenerator(image_size=64)
    with pytest.raises(ValueError, match="width"):
        dcgan.DCGANDiscriminator(width=0)
    with pytest.raises(ValueError, match="custom block"):
        dcgan.DCGANGenerator(upsample="resize", block=dcgan.generator_block)


def test_models_accept_custom_blocks():
    calls = []

    def g_block(a, b):
        calls.append((a, b))
        return dcgan.generator_block(a, b)

    def d_block(a, b, batch_norm=True):
        calls.append((a, b, batch_norm))
        return dcgan.discriminator_block(a, b, batch_norm)

    g = dcgan.DCGANGenerator(latent_dim=8, width=4, block=g_block)
    d = dcgan.DCGANDiscriminator(width=4, block=d_block)
    assert d(g(torch.randn(2, 8))).shape == (2,)
    assert calls == [(16, 8), (8, 4), (1, 4, False), (4, 8, True), (8, 16, True)]


def test_init_weights_statistics():
    torch.manual_seed(0)
    g = dcgan.DCGANGenerator(latent_dim=32, width=32)
    g.apply(dcgan.init_weights)
    conv = torch.cat([m.weight.detach().flatten() for m in g.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))])
    assert abs(float(conv.std()) - 0.02) < 0.001 and abs(float(conv.mean())) < 0.001
    gamma = torch.cat([m.weight.detach() for m in g.modules() if isinstance(m, nn.BatchNorm2d)])
    assert abs(float(gamma.mean()) - 1) < 0.01 and 0.01 < float(gamma.std()) < 0.03
    with pytest.raises(TypeError, match="nn.Module"):
        dcgan.init_weights("not a module")


def test_make_optimizers_uses_the_dcgan_settings():
    g, d = dcgan.DCGANGenerator(width=4), dcgan.DCGANDiscriminator(width=4)
    opt_g, opt_d = dcgan.make_optimizers(g, d)
    for opt in (opt_g, opt_d):
        assert opt.param_groups[0]["lr"] == 2e-4 and opt.param_groups[0]["betas"] == (0.5, 0.999)
    assert {id(p) for p in opt_g.param_groups[0]["params"]} == {id(p) for p in g.parameters()}
    with pytest.raises(ValueError, match="lr"):
        dcgan.make_optimizers(g, d, lr=0)
    with pytest.raises(ValueError, match="betas"):
        dcgan.make_optimizers(g, d, betas=(0.5, 1.5))


# ---- training helpers ------------------------------------------------------------------------

def test_ema_update_and_copy():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    ema = dcgan.ema_copy(model)
    assert all(not p.requires_grad for p in ema.parameters())
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
        model[1].running_mean.fill_(3.0)
    before = [p.clone() for p in ema.parameters()]
    dcgan.ema_update(ema, model, 0.75)
    for b, p, e in zip(before, model.parameters(), ema.parameters()):
        assert torch.allclose(e, 0.75 * b + 0.25 * p)
    assert torch.equal(ema[1].running_mean, model[1].running_mean)
    with pytest.raises(ValueError, match="decay"):
        dcgan.ema_update(ema, model, 1.5)
    with pytest.raises(ValueError, match="same architecture"):
        dcgan.ema_update(ema, nn.Linear(2, 3), 0.5)


def test_recalibrate_batchnorm_matches_batch_statistics():
    torch.manual_seed(0)
    g = dcgan.DCGANGenerator(latent_dim=8, width=4)
    ema = dcgan.ema_copy(g)
    with torch.no_grad():
        for p in ema.parameters():
            p.mul_(1.5)
    dcgan.recalibrate_batchnorm(ema, batches=4, batch_size=512)
    assert not ema.training
    z = gan.sample_noise(512, 8, seed=3)
    eval_out = ema(z)
    ema.train()
    with torch.no_grad():
        train_out = ema(z)
    ema.eval()
    assert float((eval_out - train_out).abs().mean()) < 0.02
    with pytest.raises(TypeError, match="DCGANGenerator"):
        dcgan.recalibrate_batchnorm(nn.Linear(2, 2))


def test_lr_factor_schedule():
    assert dcgan.lr_factor(0, 100) == 1.0 and dcgan.lr_factor(50, 100) == 1.0
    assert math.isclose(dcgan.lr_factor(75, 100), 0.5) and dcgan.lr_factor(100, 100) == 0.0
    assert dcgan.lr_factor(10, 100, decay_from=0.0) == 0.9
    with pytest.raises(ValueError, match="decay_from"):
        dcgan.lr_factor(1, 10, decay_from=2)
    with pytest.raises(ValueError, match="step"):
        dcgan.lr_factor(-1, 10)


# ---- checkerboard measure --------------------------------------------------------------------

def test_period2_energy_on_known_patterns():
    ii, jj = torch.meshgrid(torch.arange(8), torch.arange(8), indexing="ij")
    checker = ((ii + jj) % 2).float()[None, None]
    smooth = torch.sin(ii.float() / 8 * 2 * math.pi)[None, None]
    assert math.isclose(float(dcgan.period2_energy(checker)), 1.0, rel_tol=1e-6)
    assert float(dcgan.period2_energy(smooth)) < 1e-6
    noise = torch.randn(400, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert abs(float(dcgan.period2_energy(noise).mean()) - 55 / 783) < 0.005
    assert dcgan.mean_power_spectrum(noise).shape == (28, 28)
    with pytest.raises(ValueError, match="even"):
        dcgan.period2_energy(torch.randn(2, 1, 7, 7))


def test_untrained_transposed_generator_has_more_checkerboard_than_resize():
    torch.manual_seed(0)
    values = {}
    for upsample in ("transposed", "resize"):
        g = dcgan.recalibrate_batchnorm(dcgan.DCGANGenerator(latent_dim=16, width=8, upsample=upsample), 2, 64)
        values[upsample] = float(dcgan.period2_energy(gan.generate(g, 64)).mean())
    assert values["transposed"] > 10 * values["resize"]


# ---- latent walks ----------------------------------------------------------------------------

def test_lerp_and_slerp_endpoints_norms_and_shapes():
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(64, generator=g), torch.randn(64, generator=g)
    z1 = z1 / z1.norm() * z0.norm()
    for f in (dcgan.lerp, dcgan.slerp):
        assert torch.allclose(f(z0, z1, 0.0), z0, atol=1e-5) and torch.allclose(f(z0, z1, 1.0), z1, atol=1e-5)
    path = dcgan.slerp(z0, z1, torch.linspace(0, 1, 7))
    assert path.shape == (7, 64)
    assert torch.allclose(path.norm(dim=1), z0.norm().expand(7), rtol=1e-4)
    assert float(dcgan.lerp(z0, z1, 0.5).norm()) < 0.8 * float(z0.norm())
    batch = dcgan.slerp(torch.randn(3, 5), torch.randn(3, 5), torch.linspace(0, 1, 4))
    assert batch.shape == (4, 3, 5)
    parallel = dcgan.slerp(z0, 2 * z0, 0.5)
    assert torch.isfinite(parallel).all() and torch.allclose(parallel, 1.5 * z0, atol=1e-4)
    assert dcgan.interpolation_path(z0, z1, 5, "lerp").shape == (5, 64)


def test_latent_walks_reject_bad_inputs():
    with pytest.raises(ValueError, match="same shape"):
        dcgan.slerp(torch.zeros(3), torch.zeros(4), 0.5)
    with pytest.raises(TypeError, match="t must"):
        dcgan.lerp(torch.zeros(3), torch.ones(3), "half")
    with pytest.raises(ValueError, match="method"):
        dcgan.interpolation_path(torch.zeros(3), torch.ones(3), 5, "cubic")
    with pytest.raises(ValueError, match="steps"):
        dcgan.interpolation_path(torch.zeros(3), torch.ones(3), 1)


def test_prior_norm_band_is_around_sqrt_d():
    low, median, high = dcgan.prior_norm_band(100)
    assert low < median < high and abs(median - 10) < 0.1 and high - low < 4
    norms = torch.randn(20000, 100, generator=torch.Generator().manual_seed(0)).norm(dim=1)
    inside = ((norms > low) & (norms < high)).float().mean()
    assert abs(float(inside) - 0.99) < 0.005
    with pytest.raises(ValueError, match="probability"):
        dcgan.prior_norm_band(10, 1.5)


# ---- attributes ------------------------------------------------------------------------------

def _slanted_bar(shear: float, size: int = 28) -> torch.Tensor:
    """A vertical bar whose top is shifted right by shear * (rows above the centre); values in [-1, 1]."""
    image = -torch.ones(1, size, size)
    for row in range(4, size - 4):
        col = round(size / 2 + shear * (size / 2 - row))
        image[0, row, col - 1:col + 2] = 1.0
    return image


def test_measure_slant_sign_and_size():
    bars = torch.stack([_slanted_bar(s) for s in (-0.5, 0.0, 0.5)])
    slant = dcgan.measure_slant(bars)
    assert abs(float(slant[1])) < 1.0
    assert float(slant[2]) > 20 and float(slant[0]) < -20
    assert math.isclose(float(slant[2]), math.degrees(math.atan(0.5)), abs_tol=3)
    unit = dcgan.measure_slant((bars + 1) / 2, value_range=(0, 1))
    assert torch.allclose(unit, slant, atol=1e-4)
    blank = dcgan.measure_slant(-torch.ones(1, 1, 28, 28))
    assert torch.isnan(blank).all()
    with pytest.raises(ValueError, match="value_range"):
        dcgan.measure_slant(bars, value_range=(1, -1))
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        dcgan.measure_slant(torch.zeros(28, 28))


def test_extreme_latents_respects_mask_and_falls_back():
    z = torch.arange(12.0).view(6, 2)
    values = torch.tensor([5.0, float("nan"), 1.0, 9.0, 3.0, 7.0])
    assert torch.equal(dcgan.extreme_latents(z, values, k=2), z[[3, 5]])
    assert torch.equal(dcgan.extreme_latents(z, values, k=2, largest=False), z[[2, 4]])
    mask = torch.tensor([True, False, True, False, True, False])
    assert torch.equal(dcgan.extreme_latents(z, values, k=2, among=mask), z[[0, 4]])
    only_one = torch.tensor([False, False, False, True, False, False])
    assert torch.equal(dcgan.extreme_latents(z, values, k=2, among=only_one), z[[3, 5]])
    with pytest.raises(ValueError, match="fewer than k"):
        dcgan.extreme_latents(z, values, k=6)


def test_attribute_direction_and_sweep():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(500, 6, generator=g)
    values = 3 * z[:, 2] + 0.1 * torch.randn(500, generator=g)
    values[0] = float("nan")
    v = dcgan.attribute_direction(z, values, fraction=0.2)
    assert int(v.abs().argmax()) == 2 and float(v[2]) > 0
    with pytest.raises(ValueError, match="fraction"):
        dcgan.attribute_direction(z, values, fraction=0.9)
    with pytest.raises(ValueError, match=r"values \[N\]"):
        dcgan.attribute_direction(z, values[:10])
    gen = dcgan.DCGANGenerator(latent_dim=6, width=4)
    images, measured = dcgan.attribute_sweep(gen, z[:3], v, [-1, 0, 1], measure=dcgan.ink_share)
    assert images.shape == (3, 3, 1, 28, 28) and measured.shape == (3, 3)
    with pytest.raises(ValueError, match="direction"):
        dcgan.attribute_sweep(gen, z[:3], v[:2], [0])


# ---- representation --------------------------------------------------------------------------

def test_discriminator_features_shape_and_mode():
    d = dcgan.DCGANDiscriminator(width=4)
    d.train()
    f = dcgan.discriminator_features(d, torch.rand(5, 1, 28, 28))
    assert f.shape == (5, 4 * 16 + 8 * 16 + 16 * 9) and d.training
    with pytest.raises(TypeError, match="DCGANDiscriminator"):
        dcgan.discriminator_features(nn.Linear(2, 2), torch.rand(5, 1, 28, 28))


def test_few_labels_picks_per_class():
    labels = torch.arange(10).repeat(20)
    idx = few_labels = dcgan.few_labels(labels, 5, seed=0)
    assert len(idx) == 50 and torch.equal(torch.bincount(labels[few_labels]), torch.full((10,), 5))
    assert not torch.equal(idx, dcgan.few_labels(labels, 5, seed=1))
    with pytest.raises(ValueError, match="fewer than"):
        dcgan.few_labels(labels, 30)
    with pytest.raises(TypeError, match="integer"):
        dcgan.few_labels(labels.float(), 3)


def test_linear_probe_separates_separable_data_and_comparison_runs():
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(3, 20, generator=g) * 3
    labels = torch.arange(3).repeat_interleave(60)
    feats = centres[labels] + torch.randn(180, 20, generator=g)
    acc = dcgan.linear_probe_accuracy(feats[::2], labels[::2], feats[1::2], labels[1::2])
    assert acc > 0.95
    noise = torch.randn(180, 20, generator=g)
    table = dcgan.probe_comparison({"informative": (feats, feats), "noise": (noise, noise)}, labels, labels,
                                   per_class=(5, 20), seeds=(0, 1))
    assert table["informative"][20] > table["noise"][20] + 0.3
    assert set(table["noise"]) == {5, 20}
    with pytest.raises(ValueError, match="differ in size"):
        dcgan.linear_probe_accuracy(feats, labels, feats[:, :5], labels)
    with pytest.raises(ValueError, match="weight_decay"):
        dcgan.linear_probe_accuracy(feats, labels, feats, labels, weight_decay=-1)


# ---- figures ---------------------------------------------------------------------------------

def test_figures_draw_and_validate():
    images = torch.rand(4, 1, 28, 28) * 2 - 1
    assert dcgan.show_snapshots([(0, images), (100, images)], per_row=4) is not None
    history = {k: [0.5, 0.6, 0.7] for k in ("loss_d", "loss_g", "d_real", "d_fake")}
    assert dcgan.plot_gan_losses(history, smooth=2) is not None
    assert dcgan.show_spectra({"a": images, "b": images}, n_images=3) is not None
    paths = {"lerp": torch.randn(5, 10), "slerp": torch.randn(5, 10)}
    assert dcgan.plot_interpolation_norms(paths, 10) is not None
    assert dcgan.plot_attribute_sweep([-1, 0, 1], torch.randn(3, 4)) is not None
    with pytest.raises(ValueError, match="snapshots"):
        dcgan.show_snapshots([])
    with pytest.raises(ValueError, match="lacks"):
        dcgan.plot_gan_losses({"loss_d": [1.0]})
    with pytest.raises(ValueError, match="len\\(alphas\\)"):
        dcgan.plot_attribute_sweep([0, 1], torch.randn(3, 4))


# ---- the exercise checks: correct answers pass, typical wrong answers get specific feedback ----

def _g_block(conv=None, norm=True, act=None, order=None):
    def make(a, b):
        layers = {"conv": conv(a, b) if conv else nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False),
                  "norm": nn.BatchNorm2d(b) if norm else None, "act": act or nn.ReLU()}
        return nn.Sequential(*[layers[k] for k in (order or ("conv", "norm", "act")) if layers[k] is not None])
    return make


def test_exercise_generator_block():
    ex.test_generator_block(dcgan.generator_block)
    ex.test_generator_block(_g_block(conv=lambda a, b: nn.ConvTranspose2d(a, b, 4, 2, 1)))   # a bias is fine
    cases = [
        (_g_block(conv=lambda a, b: nn.ConvTranspose2d(a, b, 4, 2, 0)), "kernel_size=4, stride=2, padding=1"),
        (_g_block(conv=lambda a, b: nn.ConvTranspose2d(a, b, 3, 1, 1)), "stride=1"),
        (_g_block(norm=False), "batch norm is missing"),
        (_g_block(act=nn.LeakyReLU(0.2)), "plain ReLU"),
        (_g_block(order=("conv", "act", "norm")), "order"),
        (lambda a, b: nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(a, b, 3, 1, 1), nn.BatchNorm2d(b),
                                    nn.ReLU()), "resize-convolution"),
        (lambda a, b: None, "returned None"),
        (lambda a, b: _g_block()(8, 4), "use the arguments"),
    ]
    for student, message in cases:
        with pytest.raises(CheckFailed, match=message):
            ex.test_generator_block(student)


def _d_block(slope=0.2, pool=False, conv=None, act=None):
    def make(a, b, batch_norm=True):
        layers = [conv(a, b) if conv else nn.Conv2d(a, b, 4, 2, 1)]
        if pool:
            layers = [nn.Conv2d(a, b, 3, 1, 1), nn.MaxPool2d(2)]
        if batch_norm:
            layers.append(nn.BatchNorm2d(b))
        layers.append(act or nn.LeakyReLU(slope))
        return nn.Sequential(*layers)
    return make


def test_exercise_discriminator_block():
    ex.test_discriminator_block(dcgan.discriminator_block)
    cases = [
        (_d_block(slope=0.01), "defaults to 0.01"),
        (_d_block(act=nn.ReLU()), "LeakyReLU\\(0.2\\), not ReLU"),
        (_d_block(pool=True), "no pooling"),
        (_d_block(conv=lambda a, b: nn.Conv2d(a, b, 3, 2, 1)), "kernel_size=3"),
        (lambda a, b, batch_norm=True: _d_block()(a, b, True), "batch_norm=False"),
        (lambda a, b, batch_norm=True: _d_block()(a, b, False), "needs an nn.BatchNorm2d"),
        (lambda a, b, batch_norm=True: nn.Sequential(*_d_block()(a, b, batch_norm), nn.Sigmoid()), "no sigmoid"),
    ]
    for student, message in cases:
        with pytest.raises(CheckFailed, match=message):
            ex.test_discriminator_block(student)


def _init(conv_std=0.02, gamma_mean=1.0, kinds=(nn.Conv2d, nn.ConvTranspose2d), gamma_std=0.02, zero_bias=True):
    def init(m):
        if isinstance(m, kinds):
            nn.init.normal_(m.weight, 0.0, conv_std)
            if m.bias is not None and zero_bias:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d) and gamma_mean is not None:
            nn.init.normal_(m.weight, gamma_mean, gamma_std)
            nn.init.zeros_(m.bias)
    return init


def test_exercise_init_weights():
    ex.test_init_weights(dcgan.init_weights)
    ex.test_init_weights(_init())
    cases = [
        (_init(conv_std=math.sqrt(0.02)), "sqrt\\(0.02\\)"),
        (_init(kinds=(nn.Conv2d,)), "nn.ConvTranspose2d weights have standard deviation"),
        (_init(gamma_mean=0.0), "signal dies"),
        (_init(gamma_mean=None), "exactly 1"),
        (_init(zero_bias=False), "biases are not 0"),
        (_init(conv_std=0.2), "expected 0.02"),
    ]
    for student, message in cases:
        with pytest.raises(CheckFailed, match=message):
            ex.test_init_weights(student)


def test_exercise_ema_update():
    ex.test_ema_update(dcgan.ema_update)

    @torch.no_grad()
    def swapped(ema, model, decay):
        for e, p in zip(ema.parameters(), model.parameters()):
            e.copy_((1 - decay) * e + decay * p)

    def rebinds(ema, model, decay):
        for e, p in zip(ema.parameters(), model.parameters()):
            e = decay * e + (1 - decay) * p   # noqa: F841 - the classic slip: nothing is written back

    @torch.no_grad()
    def copies(ema, model, decay):
        for e, p in zip(ema.parameters(), model.parameters()):
            e.copy_(p)

    def new_model(ema, model, decay):
        return copy.deepcopy(model)

    for student, message in [(swapped, "swapped"), (rebinds, "did not change"), (copies, "a copy, not"),
                             (new_model, "in place")]:
        with pytest.raises(CheckFailed, match=message):
            ex.test_ema_update(student)


def test_exercise_slerp():
    ex.test_slerp(dcgan.slerp)

    def unnormalized(z0, z1, t):
        omega = torch.arccos((z0 * z1).sum(-1, keepdim=True))
        return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)

    def whole_tensor_angle(z0, z1, t):
        cos = (z0 * z1).sum() / (z0.norm() * z1.norm())
        omega = torch.arccos(cos.clamp(-1, 1))
        return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)

    def no_fallback(z0, z1, t):
        cos = (z0 * z1).sum(-1, keepdim=True) / (z0.norm(dim=-1, keepdim=True) * z1.norm(dim=-1, keepdim=True))
        omega = torch.arccos(cos.clamp(-1, 1))
        return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)

    cases = [
        (lambda z0, z1, t: (1 - t) * z0 + t * z1, "linear interpolation"),
        (lambda z0, z1, t: dcgan.slerp(z0, z1, 1 - t), "swapped"),
        (unnormalized, "normalize"),
        (whole_tensor_angle, "each row needs its own angle"),
        (no_fallback, "fall back to linear"),
        (lambda z0, z1, t: dcgan.slerp(z0, z1, t).numpy(), "should be a tensor"),
    ]
    for student, message in cases:
        with pytest.raises(CheckFailed, match=message):
            ex.test_slerp(student)
