"""Lecture 2's library (course_lib.autoencoders) and its exercise checks (course_lib.exercises.lecture02).

Everything runs on small synthetic tensors: no dataset is needed. Nearest neighbours and k-NN
accuracy moved to the toolkit (course_lib.metrics): see tests/test_neighbours.py.
"""
import inspect
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib import autoencoders as ae
from course_lib.checks import CheckFailed
from course_lib.exercises import lecture02 as ex
from course_lib.nn import count_parameters


def _images(n=6, seed=0):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------------------------
# 1. KL divergence and maximum likelihood
# --------------------------------------------------------------------------------------------


def test_kl_entropy_cross_entropy_by_hand():
    p = torch.tensor([0.6, 0.3, 0.1], dtype=torch.float64)
    q = torch.tensor([0.2, 0.4, 0.4], dtype=torch.float64)
    assert float(ae.kl_divergence(p, q)) == pytest.approx(0.6 * math.log(3) + 0.3 * math.log(0.75) + 0.1 * math.log(0.25))
    assert float(ae.entropy(p)) == pytest.approx(-(0.6 * math.log(0.6) + 0.3 * math.log(0.3) + 0.1 * math.log(0.1)))
    assert float(ae.cross_entropy(p, q)) == pytest.approx(float(ae.entropy(p)) + float(ae.kl_divergence(p, q)))
    assert float(ae.kl_divergence(p, p)) == pytest.approx(0.0, abs=1e-12)
    assert float(ae.kl_divergence(q, p)) != pytest.approx(float(ae.kl_divergence(p, q)))  # not symmetric


def test_kl_handles_zeros_and_batches():
    p = torch.tensor([0.5, 0.5, 0.0])
    q = torch.tensor([0.25, 0.25, 0.5])
    assert float(ae.kl_divergence(p, q)) == pytest.approx(math.log(2))
    assert float(ae.entropy(p)) == pytest.approx(math.log(2))
    assert math.isinf(float(ae.kl_divergence(q, p)))       # q uses a category that p rules out
    batch = ae.kl_divergence(torch.stack([p, q]), torch.stack([q, q]))
    assert batch.shape == (2,) and float(batch[1]) == pytest.approx(0.0, abs=1e-7)
    torch_kl = torch.distributions.kl_divergence(torch.distributions.Categorical(probs=p),
                                                 torch.distributions.Categorical(probs=q))
    assert float(ae.kl_divergence(p, q)) == pytest.approx(float(torch_kl), abs=1e-6)


@pytest.mark.parametrize("p,q,error,match", [
    (torch.tensor([0.5, 0.6]), torch.tensor([0.5, 0.5]), ValueError, "sum to 1"),
    (torch.tensor([1.5, -0.5]), torch.tensor([0.5, 0.5]), ValueError, "non-negative"),
    (torch.tensor([0.5, 0.5]), torch.tensor([0.2, 0.3, 0.5]), ValueError, "same shape"),
    (torch.tensor([1, 0]), torch.tensor([0.5, 0.5]), TypeError, "floating-point"),
    ([0.5, 0.5], torch.tensor([0.5, 0.5]), TypeError, "torch.Tensor"),
    (torch.tensor(1.0), torch.tensor(1.0), ValueError, "at least one category"),
])
def test_kl_refuses_bad_distributions(p, q, error, match):
    with pytest.raises(error, match=match):
        ae.kl_divergence(p, q)


def test_average_nll_and_empirical_distribution():
    samples = torch.tensor([0, 0, 1, 2])
    p_data = ae.empirical_distribution(samples, 3)
    assert torch.allclose(p_data, torch.tensor([0.5, 0.25, 0.25], dtype=torch.float64))
    q = torch.tensor([0.25, 0.5, 0.25], dtype=torch.float64)
    nll = ae.average_nll(samples, q)
    assert float(nll) == pytest.approx(-(2 * math.log(0.25) + math.log(0.5) + math.log(0.25)) / 4)
    assert float(nll) == pytest.approx(float(ae.kl_divergence(p_data, q) + ae.entropy(p_data)))
    with pytest.raises(ValueError, match="lie in 0..2"):
        ae.average_nll(torch.tensor([0, 3]), q)
    with pytest.raises(TypeError, match="integer"):
        ae.empirical_distribution(torch.tensor([0.0, 1.0]), 3)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        ae.empirical_distribution(torch.zeros(2, 2, dtype=torch.long), 3)


def test_discretized_gaussian_is_a_distribution_peaked_at_its_mean():
    q = ae.discretized_gaussian(torch.tensor(3.0), torch.tensor(0.0), 10)
    assert q.shape == (10,) and float(q.sum()) == pytest.approx(1.0) and int(q.argmax()) == 3
    with pytest.raises(TypeError, match="0-d tensor"):
        ae.discretized_gaussian(3.0, torch.tensor(0.0), 10)


def _two_bump_samples(n=600):
    generator = torch.Generator().manual_seed(0)
    p = 0.4 * ae.discretized_gaussian(torch.tensor(3.0, dtype=torch.float64), torch.tensor(0.0, dtype=torch.float64), 16) \
        + 0.6 * ae.discretized_gaussian(torch.tensor(11.0, dtype=torch.float64), torch.tensor(0.5, dtype=torch.float64), 16)
    return torch.multinomial(p, n, replacement=True, generator=generator)


def test_max_likelihood_fits_keep_nll_minus_kl_equal_to_the_entropy():
    samples = _two_bump_samples()
    free = ae.fit_categorical_by_max_likelihood(samples, 16, steps=200, lr=0.1)
    bump = ae.fit_discretized_gaussian(samples, 16, steps=200, lr=0.1)
    for fit in (free, bump):
        assert len(fit.nll) == len(fit.kl) == len(fit.qs) == 201
        assert fit.max_gap_error() < 1e-10
        assert fit.nll[-1] < fit.nll[0] and fit.kl[-1] < fit.kl[0]
    assert free.kl[-1] < 0.01                     # a free categorical recovers p_data
    assert bump.kl[-1] > 0.1                      # one bump cannot fit two
    assert 4 < float((torch.arange(16) * bump.q).sum()) < 10   # ... and sits between them


def test_fits_refuse_bad_arguments():
    samples = _two_bump_samples(50)
    with pytest.raises(ValueError, match="steps"):
        ae.fit_categorical_by_max_likelihood(samples, 16, steps=0)
    with pytest.raises(ValueError, match="lr"):
        ae.fit_discretized_gaussian(samples, 16, lr=0.0)
    with pytest.raises(ValueError, match="lie in"):
        ae.fit_categorical_by_max_likelihood(samples, 4)


# --------------------------------------------------------------------------------------------
# 2. Models
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [lambda d: ae.MLPAutoencoder(d, hidden=(64, 32)), lambda d: ae.ConvAutoencoder(d, (8, 16)),
                                  lambda d: ae.ConvAutoencoder(d, (8, 16), batch_norm=False)])
@pytest.mark.parametrize("latent_dim", [2, 16])
def test_autoencoders_map_images_to_codes_and_back(make, latent_dim):
    torch.manual_seed(0)
    model = make(latent_dim)
    x = _images(5)
    z = model.encode(x)
    assert z.shape == (5, latent_dim)
    x_hat = model.decode(z).detach()
    assert x_hat.shape == (5, 1, 28, 28) and 0 <= float(x_hat.min()) and float(x_hat.max()) <= 1
    assert model(x).shape == x.shape
    model(x).mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_encoders_have_an_out_dim_for_reuse():
    assert ae.ConvEncoder(32)(_images(2)).shape == (2, 32)
    assert ae.MLPEncoder(8, hidden=(16,))(_images(2)).shape == (2, 8)
    assert ae.ConvDecoder(4, (8, 8, 4))(torch.randn(3, 4)).shape == (3, 1, 28, 28)
    assert ae.MLPDecoder(4, hidden=(16,))(torch.randn(3, 4)).shape == (3, 1, 28, 28)


def test_parameter_counts_by_hand():
    assert count_parameters(ae.MLPEncoder(16)) == 784 * 512 + 512 + 512 * 256 + 256 + 256 * 16 + 16
    # ConvTranspose2d(64, 32, 4): 64*32*16 weights + 32 biases
    assert count_parameters(nn.ConvTranspose2d(64, 32, 4)) == 64 * 32 * 16 + 32
    # the decoder of the exercise: Linear(16, 3136), Conv2d(64, 64, 3), ConvT(64, 32, 4), ConvT(32, 16, 4),
    # Conv2d(16, 1, 3), three batch norms (weight and bias each)
    assert count_parameters(ae.ConvDecoder(16)) == (16 * 3136 + 3136 + 64 * 64 * 9 + 64 + 64 * 32 * 16 + 32
                                                    + 32 * 16 * 16 + 16 + 16 * 9 + 1 + 2 * (64 + 32 + 16))
    frozen = ae.MLPEncoder(2, hidden=(4,))
    frozen[1].weight.requires_grad_(False)
    assert count_parameters(frozen) == 4 + 4 * 2 + 2      # only trainable numbers count


def test_plugged_in_parts_are_used():
    decoder = ae.ConvDecoder(16)
    model = ae.ConvAutoencoder(16, decoder=decoder)
    assert model.decoder is decoder
    encoder = ae.MLPEncoder(3)
    assert ae.MLPAutoencoder(3, encoder=encoder).encoder is encoder


@pytest.mark.parametrize("bad", [torch.rand(2, 28, 28), torch.rand(2, 3, 28, 28), torch.rand(2, 1, 32, 32)])
def test_encode_refuses_images_of_the_wrong_shape(bad):
    with pytest.raises(ValueError, match=r"\[N, 1, 28, 28\]"):
        ae.MLPAutoencoder(4, hidden=(8,)).encode(bad)


def test_encode_checks_shapes_only_not_values():
    # encode runs every training step: it must not read values back (no range or NaN check there)
    torch.manual_seed(0)
    model = ae.MLPAutoencoder(4, hidden=(8,))
    assert torch.isnan(model.encode(torch.full((2, 1, 28, 28), float("nan")))).all()
    assert model.encode(_images(2) * 255).shape == (2, 4)


@pytest.mark.parametrize("bad,error,match", [
    (torch.rand(2, 28, 28), ValueError, r"\[N, C, H, W\]"),
    (torch.rand(2, 3, 28, 28), ValueError, "1 channel"),
    (torch.rand(2, 1, 32, 32), ValueError, "28x28"),
    ((torch.rand(2, 1, 28, 28) * 255).to(torch.uint8), TypeError, "divide by 255"),
    (torch.full((2, 1, 28, 28), float("nan")), ValueError, "NaN"),
    (torch.rand(0, 1, 28, 28), ValueError, "empty"),
    ("images", TypeError, "torch.Tensor"),
])
def test_encode_all_refuses_bad_images(bad, error, match):
    with pytest.raises(error, match=match):
        ae.encode_all(ae.MLPAutoencoder(4, hidden=(8,)), bad)


def test_decode_refuses_codes_of_the_wrong_size():
    model = ae.MLPAutoencoder(4, hidden=(8,))
    with pytest.raises(ValueError, match=r"\[N, 4\]"):
        model.decode(torch.randn(3, 5))
    with pytest.raises(ValueError, match=r"\[N, 4\]"):
        model.decode(torch.randn(4))


def test_a_mismatched_part_is_reported():
    model = ae.MLPAutoencoder(4, encoder=ae.MLPEncoder(5, hidden=(8,)), decoder=ae.MLPDecoder(4, hidden=(8,)))
    with pytest.raises(ValueError, match="encoder returned shape"):
        model.encode(_images(2))


@pytest.mark.parametrize("build,error", [
    (lambda: ae.MLPAutoencoder(0), ValueError),
    (lambda: ae.MLPAutoencoder(2.5), TypeError),
    (lambda: ae.ConvAutoencoder(4, channels=(8,)), ValueError),
    (lambda: ae.ConvDecoder(4, channels=(8, 8)), ValueError),
    (lambda: ae.MLPEncoder(4, hidden=(0,)), ValueError),
    (lambda: ae.Autoencoder("encoder", nn.Identity(), 2), TypeError),
])
def test_bad_model_arguments(build, error):
    with pytest.raises(error):
        build()


# --------------------------------------------------------------------------------------------
# 3. Training
# --------------------------------------------------------------------------------------------


def test_reconstruction_loss_is_the_per_pixel_mse():
    x, x_hat = _images(3, 0), _images(3, 1)
    assert float(ae.reconstruction_loss(x_hat, x)) == pytest.approx(float(((x_hat - x) ** 2).mean()))
    assert float(ae.reconstruction_loss(x, x)) == 0.0
    with pytest.raises(ValueError, match="same shape"):
        ae.reconstruction_loss(x_hat[:2], x)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ae.reconstruction_loss(x_hat, x * 255)


def test_add_noise_statistics_clamping_and_repeatability():
    grey = torch.full((32, 1, 28, 28), 0.5)
    noisy = ae.add_noise(grey, 0.1, generator=torch.Generator().manual_seed(0))
    assert noisy.shape == grey.shape and torch.equal(grey, torch.full_like(grey, 0.5))
    assert float((noisy - grey).std()) == pytest.approx(0.1, rel=0.05)
    assert abs(float((noisy - grey).mean())) < 0.005
    again = ae.add_noise(grey, 0.1, generator=torch.Generator().manual_seed(0))
    assert torch.equal(noisy, again)
    edges = ae.add_noise(torch.cat([torch.zeros(4, 1, 28, 28), torch.ones(4, 1, 28, 28)]), 1.0)
    assert float(edges.min()) >= 0 and float(edges.max()) <= 1 and float(edges[:4].mean()) > 0.2
    assert torch.equal(ae.add_noise(grey, 0.0), grey)
    with pytest.raises(ValueError, match="std"):
        ae.add_noise(grey, -0.1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ae.add_noise(grey * 4, 0.1)


def test_loss_fn_corrupts_the_input_but_not_the_target():
    seen = {}

    class Spy(nn.Module):
        def forward(self, x):
            seen["input"] = x
            return x

    x = _images(2)
    loss = ae.autoencoder_loss_fn(corrupt=lambda b: torch.zeros_like(b))(Spy(), x)
    assert torch.equal(seen["input"], torch.zeros_like(x))
    assert float(loss) == pytest.approx(float((x ** 2).mean()))
    assert float(ae.autoencoder_loss_fn()(Spy(), (x, torch.zeros(2)))) == 0.0   # (images, labels) batches


def test_train_autoencoder_learns_and_resumes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_CHECKPOINT_DIR", str(tmp_path))
    torch.manual_seed(0)
    # 64 images built from 4 prototypes: easy to compress into 2 numbers. Predicting their mean
    # image only reaches about 0.75 of the untrained error; half of it needs real codes.
    prototypes = torch.rand(4, 1, 28, 28)
    images = prototypes[torch.arange(64) % 4]
    model = ae.MLPAutoencoder(2, hidden=(64,))
    before = ae.reconstruction_mse(model, images)
    history = ae.train_autoencoder(model, images, epochs=10, lr=5e-3, batch_size=4, checkpoint="tiny",
                                   evaluate=lambda m: {"mse": ae.reconstruction_mse(m, images)})
    after = ae.reconstruction_mse(model, images)
    assert after < 0.5 * before and len(history["eval_mse"]) == 10 and len(history["loss"]) == 10 * 16
    assert history["eval_mse"][-1] == pytest.approx(after, rel=1e-5)
    # the one checkpoint format of the course
    state = torch.load(tmp_path / "tiny-full.pt", weights_only=False)
    assert state["format"] == 1 and state["step"] == 10
    assert set(state["parts"]) == {"model", "optimizer", "scheduler"}
    assert state["parts"]["model"].keys() == model.state_dict().keys()
    assert set(state["extra"]) == {"history"} and state["extra"]["history"]["eval_mse"] == history["eval_mse"]
    assert not list(tmp_path.glob("*.stale"))
    # a finished run is loaded, not retrained
    capsys.readouterr()
    resumed = ae.MLPAutoencoder(2, hidden=(64,))
    again = ae.train_autoencoder(resumed, images, epochs=10, lr=5e-3, batch_size=4, checkpoint="tiny")
    assert "Resumed" in capsys.readouterr().out
    assert again["loss"] == history["loss"]
    for name, tensor in model.state_dict().items():
        assert torch.equal(resumed.state_dict()[name], tensor), name


def test_train_autoencoder_default_learning_rate():
    assert inspect.signature(ae.train_autoencoder).parameters["lr"].default == 3e-3


def test_train_autoencoder_uses_the_given_loss_and_corruption():
    calls = {"loss": 0, "corrupt": 0}

    def loss(x_hat, x):
        calls["loss"] += 1
        return ae.reconstruction_loss(x_hat, x)

    def corrupt(x):
        calls["corrupt"] += 1
        return x

    torch.manual_seed(0)
    history = ae.train_autoencoder(ae.MLPAutoencoder(2, hidden=(8,)), _images(12), epochs=2, batch_size=5,
                                   loss=loss, corrupt=corrupt)
    assert calls == {"loss": 6, "corrupt": 6} and len(history["loss"]) == 6   # 3 batches an epoch


def _checkpoint_misfits(tmp_path):
    """(what is written in place of a checkpoint, words of the one-line message)."""
    model = ae.MLPAutoencoder(2, hidden=(16,))
    return [
        (lambda path: ae.train_autoencoder(model, _images(8), epochs=1, checkpoint="run"), "other shapes for 'model'"),
        (lambda path: torch.save({"model": model.state_dict(), "epoch": 1}, path), "another format"),
        (lambda path: path.write_bytes(b"not a checkpoint"), "cannot be read"),
        (lambda path: torch.save([1, 2, 3], path), "not a checkpoint of this course"),
    ]


@pytest.mark.parametrize("case", range(4))
def test_a_checkpoint_that_does_not_fit_is_moved_aside(tmp_path, monkeypatch, capsys, case):
    monkeypatch.setenv("COURSE_CHECKPOINT_DIR", str(tmp_path))
    write, words = _checkpoint_misfits(tmp_path)[case]
    path = tmp_path / "run-full.pt"
    write(path)
    original = path.read_bytes()
    capsys.readouterr()
    torch.manual_seed(0)
    model = ae.MLPAutoencoder(2, hidden=(8,))
    history = ae.train_autoencoder(model, _images(8), epochs=1, checkpoint="run")
    out = capsys.readouterr().out
    assert words in out and "run-full.pt.stale" in out and len(out.strip().splitlines()) == 1
    assert (tmp_path / "run-full.pt.stale").read_bytes() == original          # kept, not deleted
    assert torch.load(path, weights_only=False)["format"] == 1                # a fresh run was saved
    assert len(history["epoch_loss"]) == 1                                     # ... after training


def test_a_course_checkpoint_without_a_history_does_not_crash_training(tmp_path, monkeypatch, capsys):
    # format 1 and parts that fit, but no "history" in extra (saved by another loop through Run.save):
    # the run must either use it or move it aside, never fail with a KeyError.
    monkeypatch.setenv("COURSE_CHECKPOINT_DIR", str(tmp_path))
    torch.manual_seed(0)
    images = _images(8)
    ae.train_autoencoder(ae.MLPAutoencoder(2, hidden=(8,)), images, epochs=1, checkpoint="bare")
    path = tmp_path / "bare-full.pt"
    state = torch.load(path, weights_only=False)
    state["extra"] = {}
    torch.save(state, path)
    history = ae.train_autoencoder(ae.MLPAutoencoder(2, hidden=(8,)), images, epochs=2, checkpoint="bare")
    assert len(history["epoch_loss"]) in (1, 2)


def test_train_autoencoder_refuses_bad_arguments():
    model = ae.MLPAutoencoder(2, hidden=(8,))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ae.train_autoencoder(model, _images(4) * 255, epochs=1)
    with pytest.raises(ValueError, match="epochs"):
        ae.train_autoencoder(model, _images(4), epochs=-1)
    with pytest.raises(TypeError, match="nn.Module"):
        ae.train_autoencoder("model", _images(4), epochs=1)


# --------------------------------------------------------------------------------------------
# 4. Evaluation
# --------------------------------------------------------------------------------------------


def test_batched_helpers_match_a_single_pass():
    torch.manual_seed(0)
    model = ae.ConvAutoencoder(3, (4, 8)).eval()
    x = _images(7)
    with torch.no_grad():
        z, x_hat = model.encode(x), model(x)
    assert torch.allclose(ae.encode_all(model, x, batch_size=3), z, atol=1e-6)
    assert torch.allclose(ae.reconstruct_all(model, x, batch_size=2), x_hat, atol=1e-6)
    assert torch.allclose(ae.decode_all(model, z, batch_size=4), model.decode(z).detach(), atol=1e-6)
    assert ae.reconstruction_mse(model, x, batch_size=3) == pytest.approx(float(F.mse_loss(x_hat, x)), rel=1e-5)
    noisy = ae.add_noise(x, 0.3)
    with torch.no_grad():
        expected = float(F.mse_loss(model(noisy), x))
    assert ae.reconstruction_mse(model, x, inputs=noisy) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="same shape"):
        ae.reconstruction_mse(model, x, inputs=noisy[:3])
    with pytest.raises(ValueError, match="batch_size"):
        ae.encode_all(model, x, batch_size=0)


def test_batched_helpers_run_in_eval_mode_and_restore_the_mode():
    torch.manual_seed(0)
    model = ae.ConvAutoencoder(3, (4, 8))
    x = _images(7)
    model(x)                                   # one train-mode pass moves the batch-norm statistics
    model.eval()
    with torch.no_grad():
        z, x_hat = model.encode(x), model(x)
    model.train()
    assert torch.allclose(ae.encode_all(model, x, batch_size=3), z, atol=1e-6)
    assert torch.allclose(ae.reconstruct_all(model, x, batch_size=2), x_hat, atol=1e-6)
    assert model.training
    with torch.no_grad():
        train_mode_codes = model.encode(x)
    assert not torch.allclose(train_mode_codes, z, atol=1e-4)   # the two modes really differ here
    assert not ae.encode_all(model, x).requires_grad


# --------------------------------------------------------------------------------------------
# 5. Sampling the latent space
# --------------------------------------------------------------------------------------------


def test_gaussian_and_box_samplers_match_the_codes():
    generator = torch.Generator().manual_seed(0)
    codes = torch.randn(2000, 3, generator=generator) * torch.tensor([1.0, 5.0, 0.2]) + torch.tensor([3.0, -1.0, 0.0])
    samples = ae.sample_gaussian_like(codes, 4000, generator=generator)
    assert samples.shape == (4000, 3) and samples.dtype == torch.float32
    assert torch.allclose(samples.mean(0), codes.mean(0), atol=0.3)
    assert torch.allclose(samples.std(0), codes.std(0), rtol=0.1)
    box = ae.sample_uniform_box(codes, 1000, generator=generator)
    assert (box >= codes.min(0).values).all() and (box <= codes.max(0).values).all()
    with pytest.raises(ValueError, match="more codes"):
        ae.sample_gaussian_like(codes[:3], 10)


def test_hole_fraction_sees_the_gap_between_two_clusters():
    generator = torch.Generator().manual_seed(0)
    centres = torch.tensor([[-5.0, 0.0], [5.0, 0.0]])
    train_codes = centres[torch.arange(1000) % 2] + 0.3 * torch.randn(1000, 2, generator=generator)
    test_codes = centres[torch.arange(400) % 2] + 0.3 * torch.randn(400, 2, generator=generator)
    in_gap = torch.zeros(50, 2)
    on_clusters = test_codes[:50]
    fraction_gap, radius = ae.hole_fraction(in_gap, train_codes, test_codes)
    fraction_real, _ = ae.hole_fraction(on_clusters, train_codes, test_codes)
    assert fraction_gap == 1.0 and fraction_real <= 0.05 and 0 < radius < 1
    with pytest.raises(ValueError, match="quantile"):
        ae.hole_fraction(in_gap, train_codes, test_codes, quantile=1.0)


def test_figures_draw_and_refuse_bad_input():
    import matplotlib.pyplot as plt

    p = torch.tensor([0.2, 0.3, 0.5])
    fig = ae.show_distributions({"p": p, "q": torch.tensor([0.5, 0.3, 0.2])}, title="t")
    assert isinstance(fig, plt.Figure) and len(fig.axes[0].patches) == 6
    with pytest.raises(ValueError, match="same categories"):
        ae.show_distributions({"p": p, "q": torch.tensor([0.5, 0.5])})
    codes = torch.randn(100, 2)
    fig = ae.show_latent_holes(codes, torch.randn(20, 2) * 5, radius=0.5)
    assert isinstance(fig, plt.Figure)
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        ae.show_latent_holes(torch.randn(100, 3), torch.randn(20, 3), radius=0.5)


# --------------------------------------------------------------------------------------------
# The exercise tests: they pass the reference and fail typical mistakes with a specific message
# --------------------------------------------------------------------------------------------


CHECKS = [(ex.check_kl_divergence, ae.kl_divergence), (ex.check_reconstruction_loss, ae.reconstruction_loss),
          (ex.check_mlp_encoder, ae.MLPEncoder), (ex.check_conv_decoder, ae.ConvDecoder),
          (ex.check_add_noise, ae.add_noise)]


@pytest.mark.parametrize("check,reference", CHECKS, ids=[c.__name__ for c, _ in CHECKS])
def test_exercise_checks_accept_the_references(check, reference):
    check(reference)


@pytest.mark.parametrize("check", [c for c, _ in CHECKS], ids=[c.__name__ for c, _ in CHECKS])
def test_exercise_checks_pass_a_stub_through_as_not_done(check):
    def stub(*args, **kwargs):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        check(stub)


def test_every_lecture_2_check_is_tested():
    public = {name for name in vars(ex) if name.startswith("check_")}
    assert public == {c.__name__ for c, _ in CHECKS}
    assert not [name for name in vars(ex) if name.startswith("test_")], "exercise checks are named check_*"


def _kl_plain(p, q):
    return (p * (torch.log(p) - torch.log(q))).sum(-1)


@pytest.mark.parametrize("wrong,message", [
    (lambda p, q: ae.kl_divergence(q, p), "KL(q || p)"),
    (lambda p, q: -ae.kl_divergence(p, q), "wrong sign"),
    (lambda p, q: ae.kl_divergence(p, q) / math.log(2), "bits"),
    (lambda p, q: ae.cross_entropy(p, q), "cross-entropy"),
    (_kl_plain, "0 log 0"),
    (lambda p, q: ae.kl_divergence(p, q).sum(), "last dimension"),
    (lambda p, q: ae.kl_divergence(p, q) + 0.1, "times the expected|differs|off by"),
])
def test_kl_exercise_rejects_mistakes(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        ex.check_kl_divergence(wrong)


@pytest.mark.parametrize("wrong,message", [
    (lambda x_hat, x: ((x_hat - x) ** 2).sum(dim=(1, 2, 3)).mean(), "784 times"),
    (lambda x_hat, x: ((x_hat - x) ** 2).sum(), "sum over everything"),
    (lambda x_hat, x: (x_hat - x).abs().mean(), "ABSOLUTE"),
    (lambda x_hat, x: ((x_hat - x) ** 2).mean().sqrt(), "RMSE"),
    (lambda x_hat, x: ((x_hat - x) ** 2).mean(dim=(1, 2, 3)), "one number"),
    (lambda x_hat, x: torch.tensor(((x_hat - x) ** 2).mean().item()), "no gradient"),
    (lambda x_hat, x: ((x_hat - x) ** 2).mean() * 0.5, "times the expected"),
])
def test_reconstruction_loss_exercise_rejects_mistakes(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        ex.check_reconstruction_loss(wrong)


@pytest.mark.parametrize("wrong,message", [
    (lambda d: nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, d)),
     "Flatten"),
    (lambda d: nn.Sequential(ae.MLPEncoder(d), nn.ReLU()), "never negative"),
    (lambda d: ae.MLPEncoder(d, hidden=(256, 128)), "parameters"),
    (lambda d: ae.MLPEncoder(d + 1), "shape"),
    (lambda d: None, "nn.Module"),
])
def test_mlp_encoder_exercise_rejects_mistakes(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        ex.check_mlp_encoder(wrong)


def _decoder_without_sigmoid(d):
    return nn.Sequential(*list(ae.ConvDecoder(d))[:-1])


def _decoder_with_upsample(d):
    return nn.Sequential(nn.Linear(d, 64 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)), nn.Upsample(scale_factor=4),
                         nn.Conv2d(64, 1, 3, padding=1), nn.Sigmoid())


def _decoder_wrong_size(d):
    return nn.Sequential(nn.Linear(d, 64 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)),
                         nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1), nn.ReLU(),
                         nn.ConvTranspose2d(32, 1, 3, stride=2, padding=1), nn.Sigmoid())


def _decoder_without_bias_before_bn(d):
    layers = []
    for layer in ae.ConvDecoder(d):
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)) and layer.out_channels > 1:
            kind = nn.ConvTranspose2d if isinstance(layer, nn.ConvTranspose2d) else nn.Conv2d
            layer = kind(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride, layer.padding,
                         bias=False)
        layers.append(layer)
    return nn.Sequential(*layers)


def test_conv_decoder_exercise_accepts_the_bias_free_variant():
    ex.check_conv_decoder(_decoder_without_bias_before_bn)


@pytest.mark.parametrize("wrong,message", [
    (_decoder_without_sigmoid, r"\[0, 1\]"),
    (_decoder_with_upsample, "two ConvTranspose2d"),
    (_decoder_wrong_size, r"size \(25, 25\)"),
    (lambda d: ae.ConvDecoder(d, channels=(32, 32, 16)), "parameters"),
    (lambda d: nn.Sequential(ae.ConvDecoder(d), nn.Flatten()), "shape"),
])
def test_conv_decoder_exercise_rejects_mistakes(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        ex.check_conv_decoder(wrong)


def _noise_in_place(images, std):
    images += std * torch.randn_like(images)
    return images.clamp_(0, 1)


@pytest.mark.parametrize("wrong,message", [
    (lambda x, std: x.clone(), "unchanged"),
    (lambda x, std: (x + std * torch.rand_like(x)).clamp(0, 1), "rand_like"),
    (lambda x, std: x + std * torch.randn_like(x), "clamp"),
    (lambda x, std: (x + std ** 2 * torch.randn_like(x)).clamp(0, 1), "variance"),
    (lambda x, std: (x + std * torch.randn(len(x), 1, 1, 1)).clamp(0, 1), "same noise value"),
    (lambda x, std: (x + std * math.sqrt(3) * (2 * torch.rand_like(x) - 1)).clamp(0, 1), "normal distribution"),
    (_noise_in_place, "in place"),
    (lambda x, std: (x + 2 * std * torch.randn_like(x)).clamp(0, 1), "times the expected|differs"),
])
def test_add_noise_exercise_rejects_mistakes(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        ex.check_add_noise(wrong)
