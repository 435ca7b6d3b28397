"""Unit tests of course_lib.dcgan (lecture 5) and of the checks behind its check cells (exercises.lecture05).

The toolkit pieces lecture 5 uses have their own files: test_blocks.py (the DCGAN stages and init),
test_ema.py (moving average, batch-norm recalibration), test_latent.py (lerp/slerp, attribute
directions), test_probes.py (linear probes), test_schedules.py (the learning-rate schedule)."""
import copy
import math

import matplotlib.pyplot as plt
import pytest
import torch
from torch import nn

from course_lib import dcgan, latent, train
from course_lib.checks import CheckFailed
from course_lib.exercises import lecture05 as ex
from course_lib.nn import blocks

# ---- the models ------------------------------------------------------------------------------

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
    # D ends in a convolution: one logit per image, no sigmoid (the loss takes logits)
    assert not any(isinstance(m, nn.Sigmoid) for m in d.modules()) and isinstance(d.head, nn.Conv2d)
    assert d.head.kernel_size == ((3, 3) if image_size == 28 else (4, 4))


def test_models_start_from_the_dcgan_initialization():
    torch.manual_seed(0)
    for model in (dcgan.DCGANGenerator(latent_dim=32, width=32), dcgan.DCGANDiscriminator(width=32)):
        convs = torch.cat([m.weight.detach().flatten() for m in model.modules()
                           if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))])
        assert abs(float(convs.std()) - blocks.INIT_STD) < 0.001
        gamma = torch.cat([m.weight.detach() for m in model.modules() if isinstance(m, nn.BatchNorm2d)])
        assert abs(float(gamma.mean()) - 1) < 0.01 and float(gamma.std()) > 0.01
    g = dcgan.DCGANGenerator(latent_dim=7, width=4, channels=3, image_size=32)
    assert (g.latent_dim, g.width, g.channels, g.image_size, g.upsample) == (7, 4, 3, 32, "transposed")
    assert g(torch.randn(2, 7)).shape == (2, 3, 32, 32)


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
        dcgan.DCGANGenerator(upsample="resize", block=blocks.generator_block)


def test_models_accept_custom_blocks():
    calls = []

    def g_block(a, b):
        calls.append((a, b))
        return blocks.generator_block(a, b)

    def d_block(a, b, batch_norm=True):
        calls.append((a, b, batch_norm))
        return blocks.discriminator_block(a, b, batch_norm)

    g = dcgan.DCGANGenerator(latent_dim=8, width=4, block=g_block)
    d = dcgan.DCGANDiscriminator(width=4, block=d_block)
    assert d(g(torch.randn(2, 8))).shape == (2,)
    assert calls == [(16, 8), (8, 4), (1, 4, False), (4, 8, True), (8, 16, True)]


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


# ---- checkerboard artifacts, measured ------------------------------------------------------

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
        g = dcgan.DCGANGenerator(latent_dim=16, width=8, upsample=upsample)
        train.recalibrate_batchnorm(g, latent.noise_batches(16, batches=2, batch_size=64))
        values[upsample] = float(dcgan.period2_energy(latent.generate(g, 64)).mean())
    assert values["transposed"] > 10 * values["resize"]


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


# ---- the discriminator as a feature extractor ----------------------------------------------------

def test_discriminator_features_shape_mode_and_no_change_to_d():
    torch.manual_seed(0)
    d = dcgan.DCGANDiscriminator(width=4)
    d.train()
    d(torch.rand(8, 1, 28, 28) * 2 - 1)                   # some running statistics of its own
    before = {k: v.clone() for k, v in d.state_dict().items()}
    images = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    f = dcgan.discriminator_features(d, images, batch_size=2)
    assert f.shape == (5, 4 * 16 + 8 * 16 + 16 * 9) and f.device.type == "cpu" and d.training
    assert all(torch.equal(v, before[k]) for k, v in d.state_dict().items())      # batch norm stats untouched
    d.eval()
    with torch.no_grad():                                 # eval mode, images mapped from [0, 1] to [-1, 1]
        maps = d.features(images * 2 - 1)
    expected = torch.cat([nn.functional.adaptive_max_pool2d(h, min(4, h.shape[-1])).flatten(1) for h in maps], 1)
    assert torch.allclose(f, expected, atol=1e-6)
    tanh = dcgan.discriminator_features(d, images * 2 - 1, value_range=(-1, 1))
    assert torch.allclose(tanh, f, atol=1e-5) and not d.training
    assert dcgan.discriminator_features(d, images, grid=1).shape == (5, 4 + 8 + 16)
    with pytest.raises(TypeError, match="DCGANDiscriminator"):
        dcgan.discriminator_features(nn.Linear(2, 2), images)


# ---- figures ---------------------------------------------------------------------------------

def test_figures_draw_and_validate():
    images = torch.rand(4, 1, 28, 28) * 2 - 1
    fig = dcgan.show_spectra({"a": images, "b": images}, n_images=3)
    assert isinstance(fig, plt.Figure) and fig.axes[3].get_title().startswith("period-2 share")
    paths = {"lerp": torch.randn(5, 10), "slerp": torch.randn(5, 10)}
    assert isinstance(dcgan.plot_interpolation_norms(paths, 10), plt.Figure)
    assert isinstance(dcgan.plot_attribute_sweep([-1, 0, 1], torch.randn(3, 4)), plt.Figure)
    with pytest.raises(ValueError, match="at least one"):
        dcgan.show_spectra({})
    with pytest.raises(ValueError, match=r"len\(alphas\)"):
        dcgan.plot_attribute_sweep([0, 1], torch.randn(3, 4))


# ---- the exercise checks: correct answers pass, typical wrong answers get specific feedback ----

def _g_block(conv=None, norm=True, act=None, order=None):
    def make(a, b):
        layers = {"conv": conv(a, b) if conv else nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False),
                  "norm": nn.BatchNorm2d(b) if norm else None, "act": act or nn.ReLU()}
        return nn.Sequential(*[layers[k] for k in (order or ("conv", "norm", "act")) if layers[k] is not None])
    return make


def test_check_generator_block():
    ex.check_generator_block(blocks.generator_block)
    ex.check_generator_block(_g_block(conv=lambda a, b: nn.ConvTranspose2d(a, b, 4, 2, 1)))   # a bias is fine
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
            ex.check_generator_block(student)


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


def test_check_discriminator_block():
    ex.check_discriminator_block(blocks.discriminator_block)
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
            ex.check_discriminator_block(student)


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


def test_check_init_weights():
    ex.check_init_weights(blocks.init_weights)
    ex.check_init_weights(_init())
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
            ex.check_init_weights(student)


def test_check_ema_update():
    ex.check_ema_update(train.ema_update)

    @torch.no_grad()
    def swapped(ema, model, decay):
        for e, p in zip(ema.parameters(), model.parameters()):
            e.copy_((1 - decay) * e + decay * p)

    def rebinds(ema, model, decay):
        for e, p in zip(ema.parameters(), model.parameters()):
            e = decay * e + (1 - decay) * p   # the classic slip: nothing is written back

    @torch.no_grad()
    def copies(ema, model, decay):
        for e, p in zip(ema.parameters(), model.parameters()):
            e.copy_(p)

    def new_model(ema, model, decay):
        return copy.deepcopy(model)

    for student, message in [(swapped, "swapped"), (rebinds, "did not change"), (copies, "a copy, not"),
                             (new_model, "in place")]:
        with pytest.raises(CheckFailed, match=message):
            ex.check_ema_update(student)


def test_check_slerp():
    ex.check_slerp(latent.slerp)

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
        (lambda z0, z1, t: latent.slerp(z0, z1, 1 - t), "swapped"),
        (unnormalized, "normalize"),
        (whole_tensor_angle, "each row needs its own angle"),
        (no_fallback, "fall back to linear"),
        (lambda z0, z1, t: latent.slerp(z0, z1, t).numpy(), "should be a tensor"),
    ]
    for student, message in cases:
        with pytest.raises(CheckFailed, match=message):
            ex.check_slerp(student)
