"""Unit tests of course_lib.vae (lecture 3) and of the checks behind its check cells."""
import inspect
import math

import pytest
import torch
import torch.nn.functional as F
from torch import distributions as D

from course_lib import vae
from course_lib.checks import CheckFailed
from course_lib.exercises import lecture03 as ex


def _mu_logvar(n=4, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64), torch.randn(n, d, generator=g, dtype=torch.float64)


# ---- the pieces of the ELBO ---------------------------------------------------------------

def test_reparameterize_statistics_and_gradient():
    mu = torch.full((50000, 2), 1.0, requires_grad=True)
    logvar = torch.tensor([[math.log(4.0), 0.0]]).expand(50000, 2).clone().requires_grad_(True)
    z = vae.reparameterize(mu, logvar, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(z.mean(0), torch.tensor([1.0, 1.0]), atol=0.05)
    assert torch.allclose(z.std(0), torch.tensor([2.0, 1.0]), rtol=0.03)
    z.sum().backward()
    assert torch.allclose(mu.grad, torch.ones_like(mu))


def test_reparameterize_rejects_bad_inputs():
    with pytest.raises(ValueError, match="same shape"):
        vae.reparameterize(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(TypeError, match="floating-point"):
        vae.reparameterize(torch.zeros(2, 3, dtype=torch.int64), torch.zeros(2, 3))
    with pytest.raises(TypeError, match="torch.Tensor"):
        vae.reparameterize([0.0], torch.zeros(1))


def test_gaussian_kl_matches_torch_distributions_and_is_zero_at_prior():
    mu, logvar = _mu_logvar()
    q = D.Independent(D.Normal(mu, torch.exp(0.5 * logvar)), 1)
    p = D.Independent(D.Normal(torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)), 1)
    assert torch.allclose(vae.gaussian_kl(mu, logvar), D.kl_divergence(q, p), atol=1e-10)
    assert vae.gaussian_kl(mu, logvar).shape == (4,)
    assert torch.allclose(vae.gaussian_kl(torch.zeros(2, 5), torch.zeros(2, 5)), torch.zeros(2))


def test_gaussian_kl_rejects_bad_inputs():
    with pytest.raises(ValueError):
        vae.gaussian_kl(torch.zeros(2, 3), torch.zeros(3, 2))
    with pytest.raises(ValueError, match="at least one dimension"):
        vae.gaussian_kl(torch.tensor(0.0), torch.tensor(0.0))


def test_bernoulli_log_likelihood_sums_over_pixels():
    g = torch.Generator().manual_seed(0)
    logits, x = torch.randn(3, 1, 4, 4, generator=g), torch.rand(3, 1, 4, 4, generator=g)
    expected = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=(1, 2, 3))
    assert torch.allclose(vae.bernoulli_log_likelihood(logits, x), expected, atol=1e-5)
    # logits 0 means p = 1/2 everywhere: exactly -16 log 2 whatever x is
    assert torch.allclose(vae.bernoulli_log_likelihood(torch.zeros(2, 1, 4, 4), x[:2]),
                          torch.full((2,), -16 * math.log(2)), atol=1e-5)


def test_bernoulli_log_likelihood_does_not_read_values_back():
    # the hot path checks shapes only; the range of x is checked once, by train_vae
    assert torch.isfinite(vae.bernoulli_log_likelihood(torch.zeros(2, 4), torch.full((2, 4), 255.0))).all()


def test_bernoulli_log_likelihood_rejects_bad_inputs():
    with pytest.raises(ValueError, match="same shape"):
        vae.bernoulli_log_likelihood(torch.zeros(2, 4), torch.zeros(2, 5))
    with pytest.raises(ValueError, match="batch"):
        vae.bernoulli_log_likelihood(torch.zeros(4), torch.zeros(4))


def test_gaussian_log_likelihood_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mean, x = torch.rand(2, 6, generator=g, dtype=torch.float64), torch.rand(2, 6, generator=g, dtype=torch.float64)
    expected = D.Normal(mean, 0.3).log_prob(x).sum(1)
    assert torch.allclose(vae.gaussian_log_likelihood(mean, x, 0.3), expected, atol=1e-10)
    with pytest.raises(ValueError, match="sigma"):
        vae.gaussian_log_likelihood(mean, x, 0.0)


# ---- the linear-Gaussian model --------------------------------------------------------------

def test_linear_gaussian_gap_equals_kl_to_posterior():
    model = vae.LinearGaussianModel(latent_dim=2, data_dim=4, sigma=0.7, seed=1)
    _, x = model.sample(torch.Generator().manual_seed(0))
    mean, cov = model.posterior(x)
    log_px = model.log_evidence(x)
    assert abs(float(log_px - model.elbo(x, mean, cov))) < 1e-10
    q_mean, q_cov = mean + 0.5, torch.diag(torch.diagonal(cov)) * 1.5
    gap = log_px - model.elbo(x, q_mean, q_cov)
    assert float(gap) > 0.01
    assert abs(float(gap - vae.kl_mvn(q_mean, q_cov, mean, cov))) < 1e-10
    mc = model.elbo_monte_carlo(x, q_mean, q_cov, samples=200_000)
    assert abs(float(mc - model.elbo(x, q_mean, q_cov))) < 0.02


def test_linear_gaussian_rejects_bad_inputs():
    model = vae.LinearGaussianModel(latent_dim=2, data_dim=4)
    with pytest.raises(ValueError, match="shape"):
        model.log_evidence(torch.zeros(5, dtype=torch.float64))
    with pytest.raises(ValueError):
        vae.LinearGaussianModel(latent_dim=0)
    with pytest.raises(ValueError, match="sigma"):
        vae.LinearGaussianModel(sigma=-1.0)


def test_gradient_estimators_are_unbiased_and_reparam_has_lower_variance():
    est = vae.gradient_estimates(lambda t: t**2, mu=2.0, sigma=1.0, samples=100_000)
    assert abs(float(est["reparam"].mean()) - 4.0) < 0.05
    assert abs(float(est["score"].mean()) - 4.0) < 0.3
    assert float(est["score"].var()) > 3 * float(est["reparam"].var())
    with pytest.raises(ValueError):
        vae.gradient_estimates(lambda t: t, 0.0, 0.0, 10)


# ---- models, objective, bound -----------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda: vae.MLPVAE(latent_dim=5, hidden=32),
                                  lambda: vae.ConvVAE(latent_dim=5, hidden=32, channels=4)])
def test_models_shapes(make):
    torch.manual_seed(0)
    model = make()
    x = torch.rand(3, 1, 28, 28)
    logits, mu, logvar = model(x)
    assert logits.shape == (3, 1, 28, 28) and mu.shape == (3, 5) and logvar.shape == (3, 5)
    images = model.decode(torch.zeros(2, 5)).detach()
    assert images.shape == (2, 1, 28, 28) and float(images.min()) >= 0 and float(images.max()) <= 1
    z = 3 * torch.randn(2, 5)
    logits = model.decode_logits(z).detach()
    assert torch.allclose(model.decode(z).detach(), torch.sigmoid(logits))   # decode_logits gives logits ...
    assert float(logits.min()) < 0                                            # ... not probabilities


def test_conditional_vae_needs_valid_labels():
    model = vae.ConditionalVAE(latent_dim=3, hidden=16)
    x = torch.rand(2, 1, 28, 28)
    assert model(x, torch.tensor([1, 7]))[0].shape == (2, 1, 28, 28)
    with pytest.raises(ValueError, match="labels"):
        model(x)
    with pytest.raises(ValueError, match="0..9"):
        model(x, torch.tensor([1, 10]))
    with pytest.raises(ValueError, match="int64"):
        model(x, torch.tensor([1.0, 2.0]))


def test_elbo_and_negative_elbo_agree_and_training_steps_lower_the_loss():
    torch.manual_seed(0)
    model = vae.MLPVAE(latent_dim=4, hidden=32)
    x = torch.rand(8, 1, 28, 28)
    torch.manual_seed(1)
    value, rec, kl = vae.elbo(model, x)
    torch.manual_seed(1)
    loss = vae.negative_elbo(model, x)
    assert loss.shape == () and loss.requires_grad
    assert torch.allclose(loss, -value.mean()) and torch.allclose(value, rec - kl)
    assert (kl >= 0).all() and (rec <= 0).all()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    before = vae.evaluate_elbo(model, x)["neg_elbo"]
    for _ in range(30):
        opt.zero_grad()
        vae.negative_elbo(model, x).backward()
        opt.step()
    assert vae.evaluate_elbo(model, x)["neg_elbo"] < before - 20


@pytest.mark.parametrize("beta", [0.0, 0.5, 4.0])
def test_negative_elbo_weights_the_kl_by_beta(beta):
    torch.manual_seed(0)
    model = vae.MLPVAE(latent_dim=4, hidden=16)
    x = torch.rand(5, 1, 28, 28)
    torch.manual_seed(3)
    _, rec, kl = vae.elbo(model, x)
    torch.manual_seed(3)
    assert torch.allclose(vae.negative_elbo(model, x, beta=beta), -(rec - beta * kl).mean())
    torch.manual_seed(3)
    assert torch.allclose(vae.elbo(model, x, beta=beta)[0], rec - beta * kl)


def test_negative_elbo_of_a_conditional_vae_uses_the_labels():
    torch.manual_seed(0)
    model = vae.ConditionalVAE(latent_dim=3, hidden=16)
    x = torch.rand(4, 1, 28, 28)
    y, other = torch.tensor([0, 1, 2, 3]), torch.tensor([9, 8, 7, 6])
    torch.manual_seed(2)
    with_y = vae.negative_elbo(model, x, y)
    torch.manual_seed(2)
    with_other = vae.negative_elbo(model, x, other)
    assert not torch.allclose(with_y, with_other)
    with pytest.raises(ValueError, match="labels"):
        vae.negative_elbo(model, x)


def test_vae_loss_fn_unpacks_batches_and_passes_labels_only_to_conditional_models():
    seen = []

    def loss(model, x, y, beta):
        seen.append((x.shape[0], None if y is None else y.tolist(), beta))
        return torch.tensor(0.0)

    x, y = torch.rand(3, 1, 28, 28), torch.tensor([1, 2, 3])
    loss_fn = vae.vae_loss_fn(loss, beta=2.0)
    loss_fn(vae.MLPVAE(2, 8), x)
    loss_fn(vae.MLPVAE(2, 8), (x, y))
    loss_fn(vae.ConditionalVAE(2, 8), [x, y])
    assert seen == [(3, None, 2.0), (3, None, 2.0), (3, [1, 2, 3], 2.0)]
    assert vae.vae_loss_fn.__defaults__[0] is vae.negative_elbo
    with pytest.raises(ValueError, match="beta must be >= 0"):
        vae.vae_loss_fn(beta=-1.0)


def test_elbo_rejects_bad_inputs():
    model = vae.MLPVAE(latent_dim=2, hidden=8)
    with pytest.raises(ValueError, match="\\[N, C, H, W\\]"):
        vae.elbo(model, torch.rand(3, 784))
    with pytest.raises(TypeError, match="VAE"):
        vae.elbo(torch.nn.Linear(2, 2), torch.rand(1, 1, 28, 28))
    with pytest.raises(ValueError, match="labels"):
        vae.elbo(vae.ConditionalVAE(2, 8), torch.rand(1, 1, 28, 28))


def test_iwae_bound_k1_is_elbo_and_grows_with_k():
    torch.manual_seed(0)
    model = vae.MLPVAE(latent_dim=3, hidden=16).double()
    x = torch.rand(4, 1, 28, 28, dtype=torch.float64)
    torch.manual_seed(0)
    k1 = torch.stack([vae.iwae_bound(model, x, 1) for _ in range(300)]).mean(0)
    torch.manual_seed(1)
    el = torch.stack([vae.elbo(model, x)[0].detach() for _ in range(300)]).mean(0)
    assert torch.allclose(k1, el, atol=3.0)   # Monte Carlo noise of 300 one-sample estimates
    torch.manual_seed(2)
    k100 = vae.iwae_bound(model, x, 100, chunk=37)   # chunking must not change the result's meaning
    assert k100.shape == (4,) and (k100 > el).all()


def test_iwae_bound_is_stable_and_validates_k():
    model = vae.MLPVAE(latent_dim=2, hidden=8)
    with torch.no_grad():
        model.decoder[-1].bias.fill_(60.0)           # log-weights around -4e4
    bound = vae.iwae_bound(model, torch.zeros(2, 1, 28, 28), 20)
    assert torch.isfinite(bound).all() and (bound < -1000).all()
    for bad, error in ((0, ValueError), (-1, ValueError), (2.5, TypeError), (True, TypeError)):
        with pytest.raises(error, match="k must"):
            vae.iwae_bound(model, torch.zeros(1, 1, 28, 28), bad)


def test_evaluate_functions_and_training_wrapper(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CHECKPOINT_DIR", str(tmp_path))
    torch.manual_seed(0)
    images = (torch.rand(64, 1, 28, 28) > 0.7).float()
    model = vae.MLPVAE(latent_dim=2, hidden=16)
    before = vae.evaluate_elbo(model, images)
    assert before == vae.evaluate_elbo(model, images)         # fixed seed: repeatable
    assert before["neg_elbo"] == pytest.approx(before["rec"] + before["kl"], rel=1e-5)
    history = vae.train_vae(model, images, epochs=3, lr=1e-2, batch_size=16, checkpoint="t_vae")
    assert len(history["epoch_loss"]) == 3 and len(history["loss"]) == 12
    state = torch.load(tmp_path / "t_vae-full.pt", weights_only=False)
    assert state["format"] == 1 and state["step"] == 3 and set(state["parts"]) == {"model", "optimizer", "scheduler"}
    assert state["extra"]["history"]["loss"] == history["loss"]
    after = vae.evaluate_elbo(model, images)
    assert after["neg_elbo"] < before["neg_elbo"]
    assert vae.evaluate_iwae(model, images[:8], k=10) <= vae.evaluate_elbo(model, images[:8])["neg_elbo"] + 1.0
    assert vae.encode_means(model, images).shape == (64, 2)
    assert vae.sample_prior(model, 5).shape == (5, 1, 28, 28)
    with pytest.raises(ValueError, match="labels"):
        vae.train_vae(vae.ConditionalVAE(2, 8), images, epochs=1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        vae.train_vae(model, images * 255, epochs=1)           # the range is checked once, here
    with pytest.raises(TypeError, match="VAE"):
        vae.train_vae(torch.nn.Linear(2, 2), images, epochs=1)


def test_train_vae_defaults():
    parameters = inspect.signature(vae.train_vae).parameters
    assert parameters["lr"].default == 3e-3 and parameters["loss"].default is vae.negative_elbo


def test_train_vae_trains_on_the_given_loss():
    images = (torch.rand(20, 1, 28, 28, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    calls = []

    def counting_loss(model, x, y, beta):
        calls.append((x.shape[0], y, beta))
        return vae.negative_elbo(model, x, y, beta)

    torch.manual_seed(0)
    vae.train_vae(vae.MLPVAE(latent_dim=2, hidden=8), images, epochs=2, batch_size=8, beta=0.25, loss=counting_loss)
    assert [n for n, _, _ in calls] == [8, 8, 4, 8, 8, 4]                      # every step, every batch
    assert all(y is None and beta == 0.25 for _, y, beta in calls)

    # a loss without gradient leaves the model exactly as it was: the default loss is not used behind it
    torch.manual_seed(1)
    model = vae.MLPVAE(latent_dim=2, hidden=8)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    vae.train_vae(model, images, epochs=1, batch_size=8, loss=lambda m, x, y, beta: 0.0 * vae.negative_elbo(m, x, y))
    assert all(torch.equal(model.state_dict()[k], v) for k, v in start.items())
    torch.manual_seed(1)
    trained = vae.MLPVAE(latent_dim=2, hidden=8)
    vae.train_vae(trained, images, epochs=1, batch_size=8)
    assert not all(torch.equal(trained.state_dict()[k], v) for k, v in start.items())


def test_train_vae_passes_labels_to_a_conditional_loss():
    g = torch.Generator().manual_seed(0)
    images = (torch.rand(12, 1, 28, 28, generator=g) > 0.5).float()
    labels = torch.arange(12) % 10
    seen = []

    def loss(model, x, y, beta):
        seen.append(y)
        return vae.negative_elbo(model, x, y, beta)

    torch.manual_seed(0)
    vae.train_vae(vae.ConditionalVAE(latent_dim=2, hidden=8), images, labels, epochs=1, batch_size=12, loss=loss)
    assert len(seen) == 1 and sorted(seen[0].tolist()) == sorted(labels.tolist())
    # a non-conditional model trained with labels gets y=None (its loss must not see them)
    seen.clear()
    vae.train_vae(vae.MLPVAE(latent_dim=2, hidden=8), images, labels, epochs=1, batch_size=12, loss=loss)
    assert seen == [None]


class _ModeSpyVAE(vae.MLPVAE):
    """Records the train/eval mode and the grad mode every time it encodes."""

    def __init__(self):
        super().__init__(latent_dim=2, hidden=8)
        self.seen = []

    def encode(self, x, y=None):
        self.seen.append((self.training, torch.is_grad_enabled()))
        return super().encode(x, y)


@pytest.mark.parametrize("evaluate", [
    lambda m, x: vae.evaluate_elbo(m, x, batch_size=3),
    lambda m, x: vae.evaluate_iwae(m, x, k=3, batch_size=3),
    lambda m, x: vae.encode_means(m, x, batch_size=3),
], ids=["evaluate_elbo", "evaluate_iwae", "encode_means"])
def test_evaluation_runs_in_eval_mode_without_gradients_and_restores_the_mode(evaluate):
    torch.manual_seed(0)
    model = _ModeSpyVAE().train()
    evaluate(model, torch.rand(7, 1, 28, 28))
    assert model.seen and all(mode == (False, False) for mode in model.seen)
    assert len(model.seen) == 3                                     # batches of 3, 3 and 1
    assert model.training


def test_evaluate_elbo_is_one_seeded_sample_and_leaves_the_global_generator_alone():
    torch.manual_seed(0)
    model = vae.MLPVAE(latent_dim=3, hidden=8)
    x = torch.rand(6, 1, 28, 28)
    torch.manual_seed(11)
    with torch.no_grad():
        value, rec, kl = vae.elbo(model.eval(), x)
    result = vae.evaluate_elbo(model, x, seed=11)
    assert result["neg_elbo"] == pytest.approx(float(-value.mean()), rel=1e-6)
    assert result["rec"] == pytest.approx(float(-rec.mean()), rel=1e-6)
    assert result["kl"] == pytest.approx(float(kl.mean()), rel=1e-6)
    assert vae.evaluate_elbo(model, x, seed=12) != result
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    vae.evaluate_elbo(model, x)
    assert torch.equal(torch.rand(3), expected)


def test_sample_prior_and_encode_means_of_a_conditional_vae():
    torch.manual_seed(0)
    model = vae.ConditionalVAE(latent_dim=3, hidden=8).train()
    labels = torch.tensor([1, 2, 3, 4])
    images = vae.sample_prior(model, 4, labels, seed=3)
    assert images.shape == (4, 1, 28, 28) and torch.equal(images, vae.sample_prior(model, 4, labels, seed=3))
    with torch.no_grad():
        z = torch.randn(4, 3, generator=torch.Generator().manual_seed(3))
        assert torch.allclose(images, model.decode(z, labels))
    assert not torch.equal(images, vae.sample_prior(model, 4, torch.tensor([5, 6, 7, 8]), seed=3))
    x = torch.rand(4, 1, 28, 28)
    assert vae.encode_means(model, x, labels).shape == (4, 3)
    with pytest.raises(ValueError, match="labels"):
        vae.encode_means(model, x)
    assert model.training


def test_latent_explorer_static_fallback(monkeypatch, capsys):
    import matplotlib.pyplot as plt

    monkeypatch.setenv("COURSE_STATIC_WIDGETS", "1")
    torch.manual_seed(0)
    model = vae.MLPVAE(latent_dim=3, hidden=8)
    fig = vae.latent_explorer(model.decode, 3, dims=2, steps=5)
    assert isinstance(fig, plt.Figure) and len(fig.axes) == 10
    # closed: shown once as the cell's value, not again by the inline backend at the end of the cell
    assert fig.number not in plt.get_fignums()
    assert "COURSE_STATIC_WIDGETS is set" in capsys.readouterr().out
    fig = vae.latent_explorer(model.decode, 3, dims=5, steps=2, interactive=False)   # dims capped at latent_dim
    assert len(fig.axes) == 6 and "asked for" in capsys.readouterr().out
    with pytest.raises(ValueError, match="base"):
        vae.latent_explorer(model.decode, 3, base=torch.zeros(4))
    with pytest.raises(ValueError, match="high > low"):
        vae.latent_explorer(model.decode, 3, low=1.0, high=0.0)


def test_latent_explorer_widget_when_asked():
    pytest.importorskip("ipywidgets")
    model = vae.MLPVAE(latent_dim=3, hidden=8)
    widget = vae.latent_explorer(model.decode, 3, dims=2, interactive=True)
    assert len(widget.children) >= 2                  # two sliders and the output area


# ---- the exercise checks accept the reference and reject typical mistakes -------------------------

def test_every_lecture_3_check_is_tested():
    assert {name for name in vars(ex) if name.startswith("check_")} == {
        "check_reparameterize", "check_gaussian_kl", "check_negative_elbo", "check_iwae_bound"}
    assert not [name for name in vars(ex) if name.startswith("test_")], "exercise checks are named check_*"


@pytest.mark.parametrize("check", [ex.check_reparameterize, ex.check_gaussian_kl, ex.check_negative_elbo,
                                   ex.check_iwae_bound], ids=lambda c: c.__name__)
def test_exercise_checks_pass_a_stub_through_as_not_done(check):
    def stub(*args, **kwargs):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        check(stub)


@pytest.mark.parametrize("wrong,message", [
    (lambda m, lv: m + torch.exp(lv) * torch.randn_like(m), "exp\\(logvar\\) = the variance"),
    (lambda m, lv: m + lv * torch.randn_like(m), "logvar itself as the standard deviation"),
    (lambda m, lv: m.detach() + torch.exp(0.5 * lv.detach()) * torch.randn_like(m), "no gradient"),
    (lambda m, lv: m + 0 * lv, "forgot the noise"),
    (lambda m, lv: m + torch.exp(0.5 * lv) * torch.randn(m.shape, generator=torch.Generator().manual_seed(0),
                                                         dtype=m.dtype), "new noise on every call"),
])
def test_exercise_reparameterize(wrong, message):
    ex.check_reparameterize(vae.reparameterize)
    with pytest.raises(CheckFailed, match=message):
        ex.check_reparameterize(wrong)


@pytest.mark.parametrize("wrong,message", [
    (lambda m, lv: -vae.gaussian_kl(m, lv), "sign"),
    (lambda m, lv: 2 * vae.gaussian_kl(m, lv), "2 times"),
    (lambda m, lv: 0.5 * (m**2 + torch.exp(0.5 * lv) - 1 - lv).sum(-1), "standard deviation"),
    (lambda m, lv: 0.5 * (m**2 + lv.exp() - 1 - lv).mean(-1), "averaged over the latent dimensions"),
    (lambda m, lv: 0.5 * (m**2 + lv.exp() - 1 - lv), "shape"),
    (lambda m, lv: 0.5 * (m**2 + lv.exp() - lv).sum(-1), "- 1' term"),
])
def test_exercise_gaussian_kl(wrong, message):
    ex.check_gaussian_kl(vae.gaussian_kl)
    with pytest.raises(CheckFailed, match=message):
        ex.check_gaussian_kl(wrong)


def _loss_pixel_mean(model, x, y=None, beta=1.0):
    logits, mu, logvar = model(x, y)
    return F.binary_cross_entropy_with_logits(logits, x) + beta * vae.gaussian_kl(mu, logvar).mean()


def _terms(model, x, y):
    logits, mu, logvar = model(x, y)
    return vae.bernoulli_log_likelihood(logits, x), vae.gaussian_kl(mu, logvar)


def _beta_on_the_reconstruction(model, x, y=None, beta=1.0):
    rec, kl = _terms(model, x, y)
    return -(beta * rec - kl).mean()


def _summed_over_the_batch(model, x, y=None, beta=1.0):
    rec, kl = _terms(model, x, y)
    return -(rec - beta * kl).sum()


def _kl_added_with_the_wrong_sign(model, x, y=None, beta=1.0):
    rec, kl = _terms(model, x, y)
    return -(rec + beta * kl).mean()


def _detached(model, x, y=None, beta=1.0):
    return vae.negative_elbo(model, x, y, beta).detach()


@pytest.mark.parametrize("wrong,message", [
    (_loss_pixel_mean, "784"),
    (lambda model, x, y=None, beta=1.0: -vae.negative_elbo(model, x, y, beta), "\\+ELBO"),
    (lambda model, x, y=None, beta=1.0: -vae.bernoulli_log_likelihood(model(x, y)[0], x).mean(), "KL term is missing"),
    (_kl_added_with_the_wrong_sign, "wrong sign"),
    (_summed_over_the_batch, "summed over the batch"),
    (_detached, "no gradient"),
    (lambda model, x, y=None, beta=1.0: vae.negative_elbo(model, x, y), "multiply the KL by beta"),
    (_beta_on_the_reconstruction, "beta=0"),
    (lambda model, x, y=None, beta=1.0: vae.negative_elbo(model, x, None, beta), "pass the labels on"),
    (lambda model, x, y=None, beta=1.0: vae.negative_elbo(model, x, y, beta).reshape(1), "shape"),
    (lambda model, x, y=None, beta=1.0: vae.negative_elbo(model, x, y, beta).item(), "scalar tensor"),
])
def test_exercise_negative_elbo(wrong, message):
    ex.check_negative_elbo(vae.negative_elbo)
    with pytest.raises(CheckFailed, match=message):
        ex.check_negative_elbo(wrong)


def test_exercise_negative_elbo_accepts_an_equivalent_solution():
    def by_hand(model, x, y=None, beta=1.0):
        logits, mu, logvar = model(x, y)
        rec = -F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum() / x.shape[0]
        return -(rec - beta * kl)

    ex.check_negative_elbo(by_hand)


def test_exercise_iwae_bound():
    ex.check_iwae_bound(vae.iwae_bound)

    def mean_of_logs(model, x, k):
        return torch.stack([vae.iwae_bound(model, x, 1) for _ in range(k)]).mean(0)

    def plus_log_k(model, x, k):
        return vae.iwae_bound(model, x, k) + math.log(k)

    def minus_log_k_twice(model, x, k):
        return vae.iwae_bound(model, x, k) - math.log(k)

    def naive_exp(model, x, k):
        return torch.log(torch.exp(torch.stack([vae.iwae_bound(model, x, 1) for _ in range(k)])).mean(0))

    for wrong, message in ((mean_of_logs, "lower than the ELBO|differs"), (plus_log_k, "log\\(k\\) too high"),
                           (minus_log_k_twice, "log\\(k\\) too low"), (naive_exp, "-inf|NaN or inf")):
        with pytest.raises(CheckFailed, match=message):
            ex.check_iwae_bound(wrong)


def test_gaussian_decoder_vae_keeps_its_variance_above_the_floor_and_its_elbo_adds_up():
    torch.manual_seed(0)
    model = vae.GaussianMLPVAE(latent_dim=4, hidden=16, min_std=0.05)
    x = torch.rand(3, 1, 28, 28)
    z = torch.randn(3, 4)
    with torch.no_grad():
        mean, logvar = model.decode_params(z)
    assert mean.shape == logvar.shape == (3, 1, 28, 28)
    assert float(mean.min()) >= 0 and float(mean.max()) <= 1
    assert float(logvar.min()) >= 2 * math.log(0.05) - 1e-6
    with torch.no_grad():
        assert torch.allclose(model.decode(z), mean) and torch.allclose(model.decode_logvar(z), logvar)
    objective, rec, kl = vae.gaussian_elbo(model, x)
    assert objective.shape == rec.shape == kl.shape == (3,)
    assert torch.allclose(objective, rec - kl)
    torch.manual_seed(3)                                       # the same reparameterized sample in both calls
    loss = vae.gaussian_negative_elbo(model, x, beta=2.0)
    torch.manual_seed(3)
    _, rec3, kl3 = vae.gaussian_elbo(model, x)
    assert float(loss.detach()) == pytest.approx(float((2 * kl3 - rec3).mean().detach()), rel=1e-5)
    # with the variance pinned to 1, log p(x|z) is the fixed-sigma Gaussian of the MSE decoder
    torch.manual_seed(1)
    fixed = vae.GaussianMLPVAE(latent_dim=4, hidden=16, min_std=1.0)
    with torch.no_grad():
        fixed.decoder[-1].weight[784:].zero_()
        fixed.decoder[-1].bias[784:].fill_(-50.0)          # softplus(-50 - 0) ~ 0: log-variance = log 1 = 0
        mu, lv = fixed.encode(x)
        torch.manual_seed(2)
        _, rec_fixed, _ = vae.gaussian_elbo(fixed, x)
        torch.manual_seed(2)
        mean_fixed, _ = fixed.decode_params(vae.reparameterize(mu, lv))
    assert torch.allclose(rec_fixed, vae.gaussian_log_likelihood(mean_fixed, x, sigma=1.0), atol=1e-3)
    with pytest.raises(TypeError):
        vae.gaussian_elbo(vae.MLPVAE(), x)
