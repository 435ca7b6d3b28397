"""Lecture 4: GANs, the minimax game.

What is specific to this lecture (the toolkit holds the rest: :mod:`course_lib.attacks` for
adversarial examples and fooling images, :mod:`course_lib.losses.gan` and
:mod:`course_lib.train.adversarial` for the losses and the players' steps, :mod:`course_lib.toys`
for the toy densities, :mod:`course_lib.metrics.coverage` for mode coverage,
:mod:`course_lib.latent` for noise and sampling). Read top to bottom:

1. the two players of the lecture: :class:`MLPGenerator` (100-128-512-1024-784, tanh) and
   :class:`MLPDiscriminator` (784-1024-512-128-1, a logit);
2. the theory with numbers: :func:`optimal_discriminator`, :func:`jensen_shannon`,
   :func:`value_function`, :func:`virtual_criterion` (``C(G) = max_D V(D, G)``) and
   :func:`virtual_criterion_on_grid`, :func:`train_discriminator_1d`, :func:`compare_with_optimal`,
   :func:`generator_loss_gradient`;
3. the same game on points instead of images: :func:`train_toy_gan`, and one iteration of
   Algorithm 1 with ``k`` discriminator steps, :func:`gan_round`;
4. the lecture's figures.

Conventions: discriminators return logits (``D(x) = sigmoid(logit)``); generated images are in
[-1, 1] (tanh). All logarithms are natural (nats).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .config import module_device
from .inference import in_batches
from .losses.gan import discriminator_loss, generator_loss
from .metrics.coverage import mode_coverage
from .nn.blocks import mlp
from .toys import GaussianMixture1D
from .train.adversarial import discriminator_step, generator_step, gradient_norm
from .train.schedules import lr_schedule
from .validate import check_int, check_number, check_tensor

#: Size of the noise vector z of the lecture's generator.
LATENT_DIM = 100
#: MNIST / Fashion-MNIST images.
IMAGE_SHAPE = (1, 28, 28)


# --------------------------------------------------------------------------------------------
# 1. The players
# --------------------------------------------------------------------------------------------


class MLPGenerator(nn.Module):
    """Lecture 4. The lecture's generator: z in R^100 -> 128 -> 512 -> 1024 -> 784 pixels, tanh.

    ``forward(z [N, latent_dim]) -> images [N, 1, 28, 28]`` in [-1, 1]. Hidden layers use
    LeakyReLU(0.2) (the slides use ReLU; the leaky version trains a little more reliably).
    """

    def __init__(self, latent_dim: int = LATENT_DIM, hidden: Sequence[int] = (128, 512, 1024),
                 image_shape: tuple[int, ...] = IMAGE_SHAPE) -> None:
        super().__init__()
        self.latent_dim = check_int(latent_dim, "latent_dim", 1)
        self.image_shape = tuple(image_shape)
        self.net = mlp([latent_dim, *hidden, math.prod(self.image_shape)], out_activation="tanh")

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        check_tensor(z, "z", floating=True)
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"the generator takes noise [N, {self.latent_dim}], got shape {tuple(z.shape)}")
        return self.net(z).view(len(z), *self.image_shape)


class MLPDiscriminator(nn.Module):
    """Lecture 4. The lecture's discriminator: 784 pixels -> 1024 -> 512 -> 128 -> 1 logit.

    ``forward(x [N, 1, 28, 28] or [N, 784]) -> [N]``: one logit per image; ``sigmoid(logit)`` is
    the probability that ``x`` is real (the losses apply it, see :mod:`course_lib.losses.gan`).
    Hidden layers use LeakyReLU(0.2); ``dropout`` (default 0) is an option for small datasets.
    """

    def __init__(self, image_shape: tuple[int, ...] = IMAGE_SHAPE, hidden: Sequence[int] = (1024, 512, 128),
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.in_features = math.prod(image_shape)
        self.net = mlp([self.in_features, *hidden, 1], dropout=dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", floating=True)
        flat = x.reshape(len(x), -1)
        if flat.shape[1] != self.in_features:
            raise ValueError(f"the discriminator takes images of {self.in_features} pixels, got shape {tuple(x.shape)}")
        return self.net(flat).squeeze(1)


# --------------------------------------------------------------------------------------------
# 2. The theory with numbers: D*, C(G) and the Jensen-Shannon divergence
# --------------------------------------------------------------------------------------------


def optimal_discriminator(p_data: np.ndarray | torch.Tensor,
                          p_g: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Lecture 4. ``D*(x) = p_data(x) / (p_data(x) + p_g(x))``, the best D for a fixed G.

    Densities evaluated at the same points (arrays or tensors of one shape). Where both are 0 the
    formula is 0/0; this returns 1/2 there (nothing to tell apart).
    """
    if isinstance(p_data, torch.Tensor) != isinstance(p_g, torch.Tensor):
        raise TypeError("p_data and p_g must both be tensors or both be arrays")
    lib = torch if isinstance(p_data, torch.Tensor) else np
    p_data, p_g = (p_data, p_g) if lib is torch else (np.asarray(p_data, float), np.asarray(p_g, float))
    if p_data.shape != p_g.shape:
        raise ValueError(f"p_data and p_g must have the same shape, got {tuple(p_data.shape)} and {tuple(p_g.shape)}")
    if (p_data < 0).any() or (p_g < 0).any():
        raise ValueError("densities cannot be negative")
    total = p_data + p_g
    safe = lib.where(total > 0, total, lib.ones_like(total))
    return lib.where(total > 0, p_data / safe, 0.5 * lib.ones_like(total))


def _integrate(f: Callable[[float], float], lo: float, hi: float, points: Sequence[float],
               tolerance: float = 1e-10) -> float:
    from scipy import integrate

    inside = sorted(p for p in points if lo < p < hi)
    value, _ = integrate.quad(f, lo, hi, points=inside or None, limit=500, epsabs=tolerance, epsrel=tolerance)
    return float(value)


def _interval(p: GaussianMixture1D, q: GaussianMixture1D) -> tuple[float, float, list[float]]:
    lo = min(p.support()[0], q.support()[0])
    hi = max(p.support()[1], q.support()[1])
    return lo, hi, [*p.means, *q.means]


def _check_mixtures(p: object, q: object) -> None:
    if not isinstance(p, GaussianMixture1D) or not isinstance(q, GaussianMixture1D):
        raise TypeError(f"expected two GaussianMixture1D densities, got {type(p).__name__} and {type(q).__name__}")


def jensen_shannon(p: GaussianMixture1D, q: GaussianMixture1D) -> float:
    """Lecture 4. ``JSD(p || q) = KL(p || m)/2 + KL(q || m)/2`` with ``m = (p + q)/2``, in nats.

    Integrated numerically with ``scipy.integrate.quad`` (in log space, so the tails are safe).
    Between 0 (equal densities) and ``log 2`` (disjoint supports).
    """
    _check_mixtures(p, q)

    def integrand(x: float) -> float:
        lp, lq = p.logpdf_scalar(x), q.logpdf_scalar(x)
        lm = float(np.logaddexp(lp, lq)) - math.log(2)
        return 0.5 * (math.exp(lp) * (lp - lm) + math.exp(lq) * (lq - lm))

    return _integrate(integrand, *_interval(p, q))


def value_function(d: Callable[[np.ndarray], np.ndarray], p_data: GaussianMixture1D,
                   p_g: GaussianMixture1D) -> float:
    """Lecture 4. ``V(D, G) = E_{p_data}[log D(x)] + E_{p_g}[log(1 - D(x))]`` by numerical integration.

    ``d`` maps points to probabilities in (0, 1) (values are clipped to [1e-12, 1 - 1e-12]).
    """
    _check_mixtures(p_data, p_g)

    def integrand(x: float) -> float:
        dx = float(np.clip(d(np.array([x]))[0], 1e-12, 1 - 1e-12))
        return math.exp(p_data.logpdf_scalar(x)) * math.log(dx) + math.exp(p_g.logpdf_scalar(x)) * math.log(1 - dx)

    # A network is only piecewise smooth (LeakyReLU kinks): 1e-7 is far finer than any use here.
    return _integrate(integrand, *_interval(p_data, p_g), tolerance=1e-7)


def virtual_criterion(p_data: GaussianMixture1D, p_g: GaussianMixture1D) -> float:
    """Lecture 4. ``C(G) = max_D V(D, G) = V(D*, G)``, integrated numerically (nats).

    With ``D* = p_data / (p_data + p_g)``: ``C(G) = E_{p_data}[log D*] + E_{p_g}[log(1 - D*)]``,
    which Goodfellow et al. show equals ``2 JSD(p_data || p_g) - log 4``; its minimum ``-log 4``
    is reached exactly when ``p_g = p_data``.
    """
    _check_mixtures(p_data, p_g)

    def integrand(x: float) -> float:
        lp, lq = p_data.logpdf_scalar(x), p_g.logpdf_scalar(x)
        ls = float(np.logaddexp(lp, lq))
        return math.exp(lp) * (lp - ls) + math.exp(lq) * (lq - ls)

    return _integrate(integrand, *_interval(p_data, p_g))


def virtual_criterion_on_grid(p_data: np.ndarray, p_g: np.ndarray, dx: float) -> float:
    """Lecture 4. ``C(G) ~ sum_x [p_data log D* + p_g log(1 - D*)] dx`` from densities on a uniform grid.

    Points where a density is 0 contribute 0 (``0 log 0 = 0``). The grid must cover (nearly) all of
    both densities' mass; then this agrees with :func:`virtual_criterion` to many digits.
    """
    p_data, p_g = np.asarray(p_data, dtype=float), np.asarray(p_g, dtype=float)
    if p_data.shape != p_g.shape or p_data.ndim != 1:
        raise ValueError(f"p_data and p_g must be 1-D arrays of one shape, got {p_data.shape} and {p_g.shape}")
    if (p_data < 0).any() or (p_g < 0).any():
        raise ValueError("densities cannot be negative")
    dx = check_number(dx, "dx", strict=True)
    total = p_data + p_g
    terms = np.zeros_like(total)
    for p in (p_data, p_g):
        positive = p > 0
        terms[positive] += p[positive] * np.log(p[positive] / total[positive])
    return float(terms.sum() * dx)


@dataclass
class Discriminator1D:
    """Lecture 4. A small trained 1-D discriminator: call it on a NumPy array of points to get ``D(x)``.

    ``network`` maps points ``[N, 1]`` to logits; calling the object returns the probabilities
    ``sigmoid(logit)`` with the shape of ``x``. ``history``: D's loss at every training step.
    """

    network: nn.Module
    history: list[float]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        points = torch.as_tensor(np.asarray(x, dtype=np.float32)).reshape(-1, 1)
        logits = in_batches(self.network, points, batch_size=100_000)
        return torch.sigmoid(logits).double().numpy().reshape(np.shape(x))


def train_discriminator_1d(p_data: GaussianMixture1D, p_g: GaussianMixture1D, *, steps: int = 3000,
                           batch_size: int = 512, lr: float = 3e-3, hidden: int = 64, seed: int = 0,
                           loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = discriminator_loss,
                           device: torch.device | str = "cpu", progress: bool = True) -> Discriminator1D:
    """Lecture 4. Train a small D (1 -> hidden -> hidden -> 1 logit) on fresh samples of two densities.

    Each step draws ``batch_size`` points from ``p_data`` (label real) and from ``p_g`` (label fake)
    and takes an Adam step on ``loss_fn`` (the discriminator loss); the learning rate decays along a
    cosine so the last steps average out the sampling noise. G is fixed: this is the inner ``max_D``.
    """
    from tqdm.auto import tqdm

    _check_mixtures(p_data, p_g)
    check_int(steps, "steps", 1)
    check_int(batch_size, "batch_size", 1)
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    network = mlp([1, hidden, hidden, 1]).to(device)
    optimizer = torch.optim.Adam(network.parameters(), lr=check_number(lr, "lr", strict=True))
    schedule = lr_schedule(optimizer, steps, shape="cosine", final=0.01)
    history: list[float] = []
    for _ in tqdm(range(steps), desc="1-D discriminator", leave=False, disable=not progress, mininterval=0.5):
        real = p_data.sample(batch_size, g).to(device)
        fake = p_g.sample(batch_size, g).to(device)
        loss = loss_fn(network(real), network(fake))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        history.append(loss.item())
    return Discriminator1D(network.eval(), history)


def compare_with_optimal(d: Callable[[np.ndarray], np.ndarray], p_data: GaussianMixture1D,
                         p_g: GaussianMixture1D, grid: np.ndarray, min_density: float = 0.05,
                         d_star: Callable[[np.ndarray, np.ndarray], np.ndarray] = optimal_discriminator
                         ) -> dict[str, object]:
    """Lecture 4. A trained D against ``D*`` on ``grid``, where ``p_data + p_g >= min_density``.

    Returns ``{"max_abs_error", "mean_abs_error", "mask", "d", "d_star"}``: the largest and mean
    absolute difference (in probability units) over the masked points, plus the curves.
    """
    _check_mixtures(p_data, p_g)
    grid = np.asarray(grid, dtype=float)
    if grid.ndim != 1 or len(grid) < 2:
        raise ValueError(f"grid must be a 1-D array of at least 2 points, got shape {grid.shape}")
    pd, pg = p_data.pdf(grid), p_g.pdf(grid)
    mask = (pd + pg) >= min_density
    if not mask.any():
        raise ValueError(f"no grid point has p_data + p_g >= {min_density}: lower min_density or widen the grid")
    trained, best = d(grid), np.asarray(d_star(pd, pg), dtype=float)
    error = np.abs(trained - best)[mask]
    return {"max_abs_error": float(error.max()), "mean_abs_error": float(error.mean()),
            "mask": mask, "d": trained, "d_star": best}


def generator_loss_gradient(d_fake: np.ndarray | Sequence[float], saturating: bool,
                            loss_fn: Callable[..., torch.Tensor] = generator_loss) -> np.ndarray:
    """Lecture 4. ``|d loss / d a|`` at D's logit ``a`` (``D(G(z)) = sigmoid(a)``), for each given value of ``D(G(z))``.

    Every gradient G gets passes through that logit. Analytically the saturating loss gives
    ``D(G(z))`` (vanishing as D gets confident) and the non-saturating one ``1 - D(G(z))``.
    Computed by autograd through ``loss_fn(logits, saturating)``, one point at a time.
    """
    values = np.asarray(d_fake, dtype=float).reshape(-1)
    if values.size == 0 or (values <= 0).any() or (values >= 1).any():
        raise ValueError("d_fake values must lie strictly between 0 and 1")
    logits = torch.logit(torch.tensor(values, dtype=torch.float64)).requires_grad_(True)
    out = np.empty_like(values)
    for i in range(len(values)):
        (grad,) = torch.autograd.grad(loss_fn(logits[i:i + 1], saturating), logits)
        out[i] = abs(float(grad[i]))
    return out


# --------------------------------------------------------------------------------------------
# 3. The game on points: mode collapse and the two generator losses
# --------------------------------------------------------------------------------------------


@dataclass
class ToyRun:
    """Lecture 4. The record of :func:`train_toy_gan`: per-step history and sample snapshots."""

    history: dict[str, list[float]]
    snapshots: list[tuple[int, torch.Tensor]]


def train_toy_gan(sample_data: Callable[[int, torch.Generator], torch.Tensor], generator: nn.Module,
                  discriminator: nn.Module, *, latent_dim: int, steps: int,
                  g_optimizer: torch.optim.Optimizer, d_optimizer: torch.optim.Optimizer,
                  batch_size: int = 256, k: int = 1, saturating: bool = False, d_warmup: int = 0,
                  snapshot_every: int = 0, snapshot_size: int = 1000, seed: int = 0,
                  d_loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = discriminator_loss,
                  g_loss_fn: Callable[..., torch.Tensor] = generator_loss,
                  desc: str = "toy GAN", progress: bool = True) -> ToyRun:
    """Lecture 4. Algorithm 1 on low-dimensional points: ``k`` D steps, then one G step, ``steps`` times.

    ``sample_data(n, torch_generator) -> [n, dim]`` draws real points; ``generator`` maps noise
    ``[n, latent_dim]`` to points, ``discriminator`` points to logits.
    ``d_warmup``: D-only steps before the game (a D that starts out confident, as early in real
    training). History per step: ``d_loss``, ``g_loss``, ``d_fake`` (mean ``D(G(z))`` in the G step)
    and ``g_grad_norm``. Every ``snapshot_every`` steps (and at the end) ``snapshot_size`` samples of
    G are kept, drawn from a fixed noise batch.
    """
    check_int(latent_dim, "latent_dim", 1)
    check_int(steps, "steps", 0)
    check_int(batch_size, "batch_size", 1)
    check_int(k, "k", 1)
    check_int(d_warmup, "d_warmup", 0)
    check_int(snapshot_every, "snapshot_every", 0)
    device = module_device(generator)
    g = torch.Generator().manual_seed(seed)

    def noise(n: int) -> torch.Tensor:
        return torch.randn(n, latent_dim, generator=g).to(device)

    def d_step() -> float:
        return discriminator_step(discriminator, generator, sample_data(batch_size, g).to(device),
                                  noise(batch_size), d_optimizer, d_loss_fn)

    z_fixed = noise(snapshot_size)
    history: dict[str, list[float]] = {"d_loss": [], "g_loss": [], "d_fake": [], "g_grad_norm": []}
    snapshots: list[tuple[int, torch.Tensor]] = []

    def snapshot(step: int) -> None:
        with torch.no_grad():
            snapshots.append((step, generator(z_fixed).cpu()))

    for _ in range(d_warmup):
        d_step()
    if snapshot_every:
        snapshot(0)
    for step in tqdm(range(1, steps + 1), desc=desc, leave=False, disable=not progress, mininterval=0.5):
        for _ in range(k):
            history["d_loss"].append(d_step())
        z = noise(batch_size)
        with torch.no_grad():
            history["d_fake"].append(float(torch.sigmoid(discriminator(generator(z))).mean()))
        history["g_loss"].append(generator_step(discriminator, generator, z, g_optimizer, saturating, g_loss_fn))
        history["g_grad_norm"].append(gradient_norm(generator))
        if snapshot_every and (step % snapshot_every == 0 or step == steps):
            snapshot(step)
    return ToyRun(history, snapshots)


def gan_round(generator: nn.Module, discriminator: nn.Module, sample_real: Callable[[], torch.Tensor],
              sample_noise: Callable[[], torch.Tensor], g_optimizer: torch.optim.Optimizer,
              d_optimizer: torch.optim.Optimizer, k: int = 1,
              d_step: Callable[..., float] = discriminator_step,
              g_loss_fn: Callable[..., torch.Tensor] = generator_loss) -> tuple[float, float]:
    """Lecture 4. One iteration of Algorithm 1: ``k`` discriminator steps, then one generator step.

    Each D step takes a fresh real batch ``sample_real()`` and fresh noise ``sample_noise()``
    (``d_step(discriminator, generator, real, z, d_optimizer)``); the G step takes fresh noise and
    the non-saturating loss ``g_loss_fn``. Returns ``(mean of the k D losses, the G loss)``.
    """
    check_int(k, "k", 1)
    d_losses = [float(d_step(discriminator, generator, sample_real(), sample_noise(), d_optimizer)) for _ in range(k)]
    g_loss = generator_step(discriminator, generator, sample_noise(), g_optimizer, loss_fn=g_loss_fn)
    return sum(d_losses) / k, g_loss


# --------------------------------------------------------------------------------------------
# 4. Figures
# --------------------------------------------------------------------------------------------


def plot_optimal_discriminator(grid: np.ndarray, p_data: GaussianMixture1D, p_g: GaussianMixture1D,
                               d_trained: np.ndarray, d_star: np.ndarray, mask: np.ndarray | None = None
                               ) -> plt.Figure:
    """Lecture 4. Left: the two densities. Right: the trained D against the formula ``D*``."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
    axes[0].plot(grid, p_data.pdf(grid), label="$p_{data}$")
    axes[0].plot(grid, p_g.pdf(grid), label="$p_g$")
    axes[0].set_title("the two densities")
    axes[0].legend()
    axes[1].plot(grid, d_star, "k", lw=2, label="$D^* = p_{data}/(p_{data}+p_g)$")
    axes[1].plot(grid, d_trained, "--", color="tab:orange", lw=2, label="trained D")
    if mask is not None:
        axes[1].fill_between(grid, 0, 1, where=~np.asarray(mask), color="grey", alpha=0.15,
                             label="$p_{data}+p_g$ tiny (not compared)")
    axes[1].set_ylim(-0.02, 1.02)
    axes[1].set_title("the discriminator")
    axes[1].legend(fontsize=8)
    for ax in axes:
        ax.set_xlabel("x")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_generator_gradients(d_fake: np.ndarray, saturating: np.ndarray, non_saturating: np.ndarray
                             ) -> plt.Figure:
    """Lecture 4. Gradient size at the discriminator's logit against ``D(G(z))`` for the two generator losses."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.loglog(d_fake, saturating, label="saturating: $\\log(1 - D(G(z)))$")
    ax.loglog(d_fake, non_saturating, label="non-saturating: $-\\log D(G(z))$")
    ax.axvspan(d_fake.min(), 0.05, color="grey", alpha=0.15, label="D confidently rejects the fakes")
    ax.set_xlabel("$D(G(z))$")
    ax.set_ylabel("|d loss / d logit|")
    ax.set_title("the gradient G receives")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_ring_snapshots(snapshots: Sequence[tuple[int, torch.Tensor]], centers: torch.Tensor, std: float,
                        real: torch.Tensor | None = None, ncols: int = 6, size: float = 2.3) -> plt.Figure:
    """Lecture 4. Scatter plots of G's samples at several steps, with the modes' 3-std circles."""
    if not snapshots:
        raise ValueError("no snapshots to draw")
    panels = ([("data", real)] if real is not None else []) + [(f"step {s}", x) for s, x in snapshots]
    ncols = min(check_int(ncols, "ncols", 1), len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.2), squeeze=False)
    limit = float(centers.norm(dim=1).max()) * 1.6
    for ax, (name, points) in zip(axes.flat, panels):
        points = points.detach().cpu().float()
        xy = points.numpy()
        ax.scatter(xy[:, 0], xy[:, 1], s=2, alpha=0.4, color="tab:green" if name == "data" else "tab:blue")
        for c in centers:
            ax.add_patch(plt.Circle((float(c[0]), float(c[1])), 3 * std, fill=False, color="crimson", lw=0.8))
        subtitle = "" if name == "data" else "\n" + mode_coverage(points, centers, std).summary().split(",")[0]
        ax.set_title(name + subtitle, fontsize=8)
        ax.set_xlim(-limit, limit)
        ax.set_ylim(-limit, limit)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in list(axes.flat)[len(panels):]:
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def plot_coverage(steps: Sequence[int], curves: dict[str, Sequence[float]], modes: int) -> plt.Figure:
    """Lecture 4. Modes covered (left) and high-quality share (right) over training, one line per run.

    ``curves``: ``{"<run> modes": [...], "<run> quality": [...]}``; keys ending in ``modes`` go left.
    """
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    for name, values in curves.items():
        ax = axes[0] if name.endswith("modes") else axes[1]
        ax.plot(list(steps), list(values), marker="o", ms=3, label=name)
    axes[0].set_ylim(-0.3, modes + 0.3)
    axes[0].set_ylabel(f"modes covered (of {modes})")
    axes[1].set_ylim(-0.02, 1.02)
    axes[1].set_ylabel("share within 3 std of a mode")
    for ax in axes:
        ax.set_xlabel("generator step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
