"""course_lib.attacks: FGSM, PGD, predictions and the attack report, total variation, fooling images."""
import matplotlib.pyplot as plt
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib import attacks

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _linear_classifier(seed=0, pixels=16, device="cpu"):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(pixels, 10))
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval().to(device)


def _images(n, seed=0, side=4):
    return torch.rand(n, 1, side, side, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("device", DEVICES)
def test_fgsm_moves_each_pixel_by_eps_up_the_loss_and_stays_in_range(device):
    model = _linear_classifier(device=device)
    x = _images(8).to(device)
    y = torch.randint(0, 10, (8,), generator=torch.Generator().manual_seed(1)).to(device)
    x_before = x.clone()
    adv = attacks.fgsm(model, x, y, eps=0.1)
    assert adv.shape == x.shape and adv.device == x.device and not adv.requires_grad
    assert torch.equal(x, x_before)
    assert float((adv - x).abs().max()) <= 0.1 + 1e-6
    assert float(adv.min()) >= 0 and float(adv.max()) <= 1
    inside = (x > 0.1) & (x < 0.9)                    # pixels the clamp cannot touch move by exactly eps
    assert torch.allclose((adv - x).abs()[inside], torch.full_like(x[inside], 0.1), atol=1e-6)
    assert F.cross_entropy(model(adv), y) > F.cross_entropy(model(x), y)
    assert model[1].weight.grad is None               # the weights get no gradient
    assert torch.equal(attacks.fgsm(model, x, y, eps=0.0), x)


@pytest.mark.parametrize("device", DEVICES)
def test_pgd_stays_in_the_eps_box_beats_fgsm_and_can_target_a_class(device):
    model = _linear_classifier(device=device)
    x = (_images(32) * 0.8 + 0.1).to(device)
    y = model(x).argmax(1)                             # attack the model's own predictions
    adv = attacks.pgd_attack(model, x, y, eps=0.05, steps=10)
    assert adv.device == x.device and not adv.requires_grad
    assert float((adv - x).abs().max()) <= 0.05 + 1e-6 and float(adv.min()) >= 0 and float(adv.max()) <= 1
    loss_pgd = F.cross_entropy(model(adv), y)
    assert loss_pgd >= F.cross_entropy(model(attacks.fgsm(model, x, y, 0.05)), y) - 1e-4
    target = (y + 1) % 10
    targeted = attacks.pgd_attack(model, x, target, eps=0.3, steps=20, targeted=True)
    assert F.cross_entropy(model(targeted), target) < F.cross_entropy(model(x), target)
    assert float((targeted - x).abs().max()) <= 0.3 + 1e-6


@pytest.mark.parametrize("device", DEVICES)
def test_predict_returns_cpu_classes_and_probabilities(device):
    model = _linear_classifier(device=device)
    model.train()
    x = _images(5).to(device)
    classes, confidence = attacks.predict(model, x)
    assert classes.device.type == confidence.device.type == "cpu" and model.training
    with torch.no_grad():
        probabilities = model(x).softmax(1).cpu()
    assert classes.dtype == torch.int64 and torch.equal(classes, probabilities.argmax(1))
    assert torch.allclose(confidence, probabilities.max(1).values)


@pytest.mark.parametrize("device", DEVICES)
def test_attack_report_counts_flips_of_correct_predictions(device):
    model = _linear_classifier(device=device)
    x = (_images(32) * 0.8 + 0.1).to(device)
    predicted = model(x).argmax(1)
    labels = predicted.clone()
    labels[:4] = (labels[:4] + 1) % 10                 # 4 images the model gets wrong before any attack
    adv = attacks.pgd_attack(model, x, labels, eps=0.05, steps=10)
    report = attacks.attack_report(model, x, adv, labels)
    after = model(adv).argmax(1)
    correct = predicted == labels
    assert report["clean_accuracy"] == pytest.approx(28 / 32)
    assert report["adversarial_accuracy"] == pytest.approx(float((after == labels).float().mean()))
    assert report["flip_rate"] == pytest.approx(float(((after != labels) & correct).sum()) / 28)
    assert report["max_change"] == pytest.approx(float((adv - x).abs().max()))
    assert report["mean_change"] == pytest.approx(float((adv - x).abs().mean()))
    assert attacks.attack_report(model, x, x, labels)["flip_rate"] == 0.0
    cpu_labels = attacks.attack_report(model, x, adv, labels.cpu())          # labels on either device
    assert cpu_labels == pytest.approx(report)


def test_attacks_reject_bad_inputs():
    model = _linear_classifier()
    x = torch.rand(2, 1, 4, 4)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        attacks.fgsm(model, x * 255, torch.tensor([0, 1]), 0.1)
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        attacks.fgsm(model, x[0], torch.tensor([0]), 0.1)
    with pytest.raises(TypeError, match="int64"):
        attacks.fgsm(model, x, torch.tensor([0.0, 1.0]), 0.1)
    with pytest.raises(ValueError, match=r"shape \[2\]"):
        attacks.fgsm(model, x, torch.tensor([0, 1, 2]), 0.1)
    with pytest.raises(ValueError, match="eps"):
        attacks.fgsm(model, x, torch.tensor([0, 1]), -0.1)
    with pytest.raises(ValueError, match="steps"):
        attacks.pgd_attack(model, x, torch.tensor([0, 1]), 0.1, steps=0)
    with pytest.raises(ValueError, match="step_size"):
        attacks.pgd_attack(model, x, torch.tensor([0, 1]), 0.1, step_size=0.0)
    with pytest.raises(ValueError, match="same shape"):
        attacks.attack_report(model, x, x[:1], torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        attacks.attack_report(model, x, x + 2, torch.tensor([0, 1]))


def test_total_variation_values():
    flat = torch.full((2, 1, 5, 5), 0.3)
    assert torch.allclose(attacks.total_variation(flat), torch.zeros(2))
    ramp = torch.arange(4.0).repeat(4, 1)[None, None]          # each step right is 1, down is 0
    assert float(attacks.total_variation(ramp)) == pytest.approx(9.0)   # 3 x 3 pixels with both neighbours
    assert float(attacks.total_variation(ramp, beta=1.0)) == pytest.approx(9.0, rel=1e-3)
    assert float(attacks.total_variation(2 * ramp)) == pytest.approx(36.0)
    assert float(attacks.total_variation(torch.cat([ramp, ramp], dim=1))) == pytest.approx(18.0)   # channels add
    noise = torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    assert float(attacks.total_variation(noise)) > float(attacks.total_variation(torch.full_like(noise, 0.5)))
    with pytest.raises(ValueError, match="H, W >= 2"):
        attacks.total_variation(torch.zeros(1, 1, 1, 5))
    with pytest.raises(ValueError, match="beta"):
        attacks.total_variation(noise, beta=0)


def test_fooling_images_get_the_target_class_and_tv_makes_them_smoother():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    for p in model.parameters():
        p.requires_grad_(False)
    targets = torch.arange(4)
    plain = attacks.fooling_images(model, targets, steps=60, lr=0.05, image_shape=(1, 8, 8))
    smooth = attacks.fooling_images(model, targets, steps=60, lr=0.05, tv_weight=0.5, image_shape=(1, 8, 8))
    assert plain.shape == (4, 1, 8, 8) and float(plain.min()) >= 0 and float(plain.max()) <= 1
    assert not plain.requires_grad
    assert torch.equal(attacks.predict(model, plain)[0], targets)
    assert attacks.total_variation(smooth).mean() < 0.5 * attacks.total_variation(plain).mean()
    assert torch.equal(plain, attacks.fooling_images(model, targets, steps=60, lr=0.05, image_shape=(1, 8, 8)))
    with pytest.raises(TypeError, match="int64"):
        attacks.fooling_images(model, torch.tensor([1.0]), image_shape=(1, 8, 8))
    with pytest.raises(ValueError, match="tv_weight"):
        attacks.fooling_images(model, targets, tv_weight=-1.0, image_shape=(1, 8, 8))


def test_fooling_images_tv_beta_is_the_exponent_of_the_regularizer():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    for p in model.parameters():
        p.requires_grad_(False)
    targets = torch.arange(4)
    square = attacks.fooling_images(model, targets, steps=40, lr=0.05, tv_weight=0.5, image_shape=(1, 8, 8))
    absolute = attacks.fooling_images(model, targets, steps=40, lr=0.05, tv_weight=0.5, tv_beta=1.0,
                                      image_shape=(1, 8, 8))
    assert not torch.equal(square, absolute)     # the exponent reaches the loss
    assert torch.equal(square, attacks.fooling_images(model, targets, steps=40, lr=0.05, tv_weight=0.5, tv_beta=2.0,
                                                      image_shape=(1, 8, 8)))
    with pytest.raises(ValueError, match="tv_beta"):
        attacks.fooling_images(model, targets, tv_weight=0.5, tv_beta=0.0, image_shape=(1, 8, 8))


def test_plot_attack_draws_three_rows():
    model = _linear_classifier(pixels=784)
    clean = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    fig = attacks.plot_attack(clean, clean.flip(0), model, n=3)
    assert isinstance(fig, plt.Figure) and len(fig.axes) == 9


def _conv_layer(seed=0):
    torch.manual_seed(seed)
    layer = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, padding=1))
    for p in layer.parameters():
        p.requires_grad_(False)
    return layer.eval()


def test_activation_strength_is_half_the_mean_square_or_one_channels_mean():
    layer = _conv_layer()
    x = _images(3, side=8)
    a = layer(x)
    assert torch.allclose(attacks.activation_strength(layer, x), 0.5 * a.pow(2).flatten(1).mean(1))
    assert torch.allclose(attacks.activation_strength(layer, x, channel=2), a[:, 2].flatten(1).mean(1))
    with pytest.raises(ValueError, match="channel"):
        attacks.activation_strength(layer, x, channel=6)


@pytest.mark.parametrize("channel", [None, 1])
def test_deep_dream_raises_the_activation_keeps_shape_and_range_and_is_seeded(channel):
    layer = _conv_layer()
    x = _images(4, side=12) * 0.6 + 0.2
    x_before = x.clone()
    dreamed = attacks.deep_dream(layer, x, steps=10, step_size=0.02, channel=channel, seed=3)
    assert dreamed.shape == x.shape and not dreamed.requires_grad and torch.equal(x, x_before)
    assert float(dreamed.min()) >= 0 and float(dreamed.max()) <= 1
    before = attacks.activation_strength(layer, x, channel)
    after = attacks.activation_strength(layer, dreamed, channel)
    assert bool((after > before).all())
    assert torch.equal(dreamed, attacks.deep_dream(layer, x, steps=10, step_size=0.02, channel=channel, seed=3))
    assert not torch.equal(dreamed, attacks.deep_dream(layer, x, steps=10, step_size=0.02, channel=channel, seed=4))
    single = attacks.deep_dream(layer, x, steps=10, octaves=(1.0,), jitter=0, channel=channel)
    assert single.shape == x.shape


def test_deep_dream_rejects_bad_octaves_and_images():
    layer = _conv_layer()
    x = _images(2, side=8)
    for octaves in ((), (1.0, 0.5), (0.0, 1.0), (0.5, 1.5)):
        with pytest.raises(ValueError, match="octaves"):
            attacks.deep_dream(layer, x, octaves=octaves)
    with pytest.raises(ValueError):
        attacks.deep_dream(layer, x * 3.0)


def test_invert_features_lowers_the_feature_distance_and_the_tv_prior_smooths():
    layer = _conv_layer()
    target_images = _images(3, side=8, seed=5)
    target = layer(target_images)
    inverted, distances = attacks.invert_features(layer, target, steps=150, lr=0.05, image_shape=(1, 8, 8))
    assert inverted.shape == target_images.shape and not inverted.requires_grad
    assert len(distances) == 151 and distances[-1] < 0.25 * distances[0]
    assert float(inverted.min()) >= 0 and float(inverted.max()) <= 1
    smooth, _ = attacks.invert_features(layer, target, steps=150, lr=0.05, tv_weight=0.5, tv_beta=2.0,
                                        image_shape=(1, 8, 8))
    assert float(attacks.total_variation(smooth).mean()) < float(attacks.total_variation(inverted).mean())
    with pytest.raises(ValueError, match="shape"):
        attacks.invert_features(layer, target[:, :3], steps=2, image_shape=(1, 8, 8))
