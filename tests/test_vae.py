"""Unit tests of course_lib.vae (lecture 3) and of the tests behind its check cells."""
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


def test_bernoulli_log_likelihood_rejects_bad_inputs():
    with pytest.raises(ValueError, match="\\[0, 1\\]"):
        vae.bernoulli_log_likelihood(torch.zeros(2, 4), torch.full((2, 4), 255.0))
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


def test_elbo_and_loss_agree_and_training_step_lowers_loss():
    torch.manual_seed(0)
    model = vae.MLPVAE(latent_dim=4, hidden=32)
    x = torch.rand(8, 1, 28, 28)
    torch.manual_seed(1)
    value, rec, kl = vae.elbo(model, x)
    torch.manual_seed(1)
    loss, logs = vae.negative_elbo_loss(model, x)
    assert torch.allclose(loss, -value.mean()) and set(logs) == {"rec_nats", "kl_nats"}
    assert torch.allclose(value, rec - kl)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    before = vae.evaluate_elbo(model, x)["neg_elbo"]
    for _ in range(30):
        opt.zero_grad()
        vae.negative_elbo_loss(model, x)[0].backward()
        opt.step()
    assert vae.evaluate_elbo(model, x)["neg_elbo"] < before - 20


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
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="k"):
            vae.iwae_bound(model, torch.zeros(1, 1, 28, 28), bad)


def test_evaluate_functions_and_training_wrapper(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CHECKPOINT_DIR", str(tmp_path))
    torch.manual_seed(0)
    images = (torch.rand(64, 1, 28, 28) > 0.7).float()
    model = vae.MLPVAE(latent_dim=2, hidden=16)
    before = vae.evaluate_elbo(model, images)
    assert before == vae.evaluate_elbo(model, images)         # fixed seed: repeatable
    history = vae.train_vae(model, images, epochs=3, lr=1e-2, batch_size=16, checkpoint="t_vae")
    assert len(history["epoch_loss"]) == 3 and (tmp_path / "t_vae-full.pt").is_file()
    after = vae.evaluate_elbo(model, images)
    assert after["neg_elbo"] < before["neg_elbo"]
    assert vae.evaluate_iwae(model, images[:8], k=10) <= vae.evaluate_elbo(model, images[:8])["neg_elbo"] + 1.0
    assert vae.encode_means(model, images).shape == (64, 2)
    assert vae.sample_prior(model, 5).shape == (5, 1, 28, 28)
    with pytest.raises(ValueError, match="labels"):
        vae.train_vae(vae.ConditionalVAE(2, 8), images, epochs=1)


def test_latent_explorer_static_fallback(monkeypatch):
    import matplotlib.pyplot as plt

    monkeypatch.setenv("COURSE_STATIC_WIDGETS", "1")
    model = vae.MLPVAE(latent_dim=3, hidden=8)
    fig = vae.latent_explorer(model.decode, 3, dims=2, steps=5)
    assert isinstance(fig, plt.Figure) and len(fig.axes) == 10
    assert vae._no_widget_frontend() is not None
    with pytest.raises(ValueError, match="base"):
        vae.latent_explorer(model.decode, 3, base=torch.zeros(4))
    with pytest.raises(ValueError, match="high > low"):
        vae.latent_explorer(model.decode, 3, low=1.0, high=0.0)


def test_latent_explorer_widget_when_asked():
    pytest.importorskip("ipywidgets")
    model = vae.MLPVAE(latent_dim=3, hidden=8)
    widget = vae.latent_explorer(model.decode, 3, dims=2, interactive=True)
    assert len(widget.children) >= 2                  # two sliders and the output area


# ---- the exercise tests accept the reference and reject typical mistakes -------------------------

def test_exercise_reparameterize():
    ex.test_reparameterize(vae.reparameterize)
    for wrong in (lambda m, lv: m + torch.exp(lv) * torch.randn_like(m),
                  lambda m, lv: m + lv * torch.randn_like(m),
                  lambda m, lv: m.detach() + torch.exp(0.5 * lv.detach()) * torch.randn_like(m),
                  lambda m, lv: m + 0 * lv):
        with pytest.raises(CheckFailed):
            ex.test_reparameterize(wrong)


def test_exercise_gaussian_kl():
    ex.test_gaussian_kl(vae.gaussian_kl)
    wrongs = {
        "sign": lambda m, lv: -vae.gaussian_kl(m, lv),
        "half": lambda m, lv: 2 * vae.gaussian_kl(m, lv),
        "std": lambda m, lv: 0.5 * (m**2 + torch.exp(0.5 * lv) - 1 - lv).sum(-1),
        "mean over dims": lambda m, lv: 0.5 * (m**2 + lv.exp() - 1 - lv).mean(-1),
        "no sum": lambda m, lv: 0.5 * (m**2 + lv.exp() - 1 - lv),
    }
    for name, wrong in wrongs.items():
        with pytest.raises(CheckFailed):
            ex.test_gaussian_kl(wrong)
    with pytest.raises(CheckFailed, match="sign"):
        ex.test_gaussian_kl(wrongs["sign"])
    with pytest.raises(CheckFailed, match="standard deviation"):
        ex.test_gaussian_kl(wrongs["std"])


def _loss_pixel_mean(model, x):
    logits, mu, logvar = model(x)
    return F.binary_cross_entropy_with_logits(logits, x) + vae.gaussian_kl(mu, logvar).mean()


def test_exercise_negative_elbo():
    ex.test_negative_elbo(lambda model, x: vae.negative_elbo_loss(model, x)[0])
    with pytest.raises(CheckFailed, match="784"):
        ex.test_negative_elbo(_loss_pixel_mean)
    with pytest.raises(CheckFailed, match="negative ELBO"):
        ex.test_negative_elbo(lambda model, x: -vae.negative_elbo_loss(model, x)[0])
    with pytest.raises(CheckFailed, match="KL"):
        ex.test_negative_elbo(lambda model, x: -vae.bernoulli_log_likelihood(model(x)[0], x).mean())


def test_exercise_iwae_bound():
    ex.test_iwae_bound(vae.iwae_bound)

    def mean_of_logs(model, x, k):
        return torch.stack([vae.iwae_bound(model, x, 1) for _ in range(k)]).mean(0)

    def plus_log_k(model, x, k):
        return vae.iwae_bound(model, x, k) + math.log(k)

    def naive_exp(model, x, k):
        return torch.log(torch.exp(torch.stack([vae.iwae_bound(model, x, 1) for _ in range(k)])).mean(0))

    for wrong in (mean_of_logs, plus_log_k, naive_exp):
        with pytest.raises(CheckFailed):
            ex.test_iwae_bound(wrong)
