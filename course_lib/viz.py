"""Figures the lectures share: image grids, curves, grouped bars, latent plots, strips, overlays.

Every function draws with matplotlib and returns the figure, so it works inline in Jupyter and
headless (Agg) in CI alike; :func:`show` displays a figure and closes it. Images may be in any
value range, with 1 or 3 channels.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from torchvision.utils import make_grid

# One fixed palette for segmentation classes (background first).
SEG_COLOURS = np.array([[0, 0, 0], [230, 60, 60], [60, 160, 230], [250, 200, 40],
                        [120, 220, 120], [200, 90, 220], [240, 140, 40], [90, 90, 90]]) / 255.0


def show(fig: plt.Figure | None = None) -> None:
    """Lecture 1. Display ``fig`` (default: every open figure) and close it, so it is drawn once.

    Notebooks end a figure cell with ``viz.show(...)``; closing stops Jupyter from drawing the
    figure a second time and keeps memory flat over a long notebook.
    """
    plt.show()
    plt.close(fig if fig is not None else "all")


def _as_image_batch(images: torch.Tensor | np.ndarray, what: str = "images") -> torch.Tensor:
    """Accept [N, C, H, W], [N, H, W] or [C, H, W] / [H, W]; return float [N, C, H, W] on CPU."""
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{what} must be a tensor or array, got {type(images).__name__}")
    x = images.detach().float().cpu()
    if x.dim() == 2:
        x = x[None, None]
    elif x.dim() == 3:
        x = x[:, None] if x.shape[0] not in (1, 3) else x[None]
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"{what} must be [N, 1 or 3, H, W] (or [N, H, W]); got shape {tuple(images.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{what} contain NaN or infinite values: nothing sensible to draw.")
    return x


def to_unit_range(images: torch.Tensor, value_range: tuple[float, float] | None = None) -> torch.Tensor:
    """Lecture 1. Map images into [0, 1]: by ``value_range`` if given, else [0,1] / [-1,1] as detected, else min-max."""
    x = images.float()
    if value_range is None:
        lo, hi = float(x.min()), float(x.max())
        if lo >= 0 and hi <= 1:
            value_range = (0.0, 1.0)
        elif lo >= -1 and hi <= 1:
            value_range = (-1.0, 1.0)
        else:
            value_range = (lo, hi if hi > lo else lo + 1)
    lo, hi = value_range
    if hi <= lo:
        raise ValueError(f"value_range must be (low, high) with high > low, got {value_range}")
    return ((x - lo) / (hi - lo)).clamp(0, 1)


def image_grid(images: torch.Tensor, nrow: int = 8, value_range: tuple[float, float] | None = None,
               padding: int = 2) -> np.ndarray:
    """Lecture 2. Tile a batch into one H x W x 3 array in [0, 1], ready for ``imshow``."""
    x = to_unit_range(_as_image_batch(images), value_range)
    grid = make_grid(x, nrow=nrow, padding=padding, pad_value=1.0)
    return grid.permute(1, 2, 0).numpy()


def show_grid(images: torch.Tensor, nrow: int = 8, title: str | None = None,
              value_range: tuple[float, float] | None = None, ax: plt.Axes | None = None,
              scale: float = 0.6) -> plt.Figure:
    """Lecture 2. Show a batch of images as one tiled grid (sample grids, reconstructions)."""
    grid = image_grid(images, nrow=nrow, value_range=value_range)
    if ax is None:
        height, width = grid.shape[:2]
        _, ax = plt.subplots(figsize=(max(2.0, scale * width / 30), max(2.0, scale * height / 30)))
    ax.imshow(grid, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax.figure


def show_images(images: torch.Tensor, titles: Sequence[str] | None = None, ncols: int = 8,
                value_range: tuple[float, float] | None = None, suptitle: str | None = None,
                size: float = 1.4) -> plt.Figure:
    """Lecture 1. Show images in a grid of panels, each with its own title (labels, predictions, scores)."""
    x = to_unit_range(_as_image_batch(images), value_range)
    if titles is not None and len(titles) != len(x):
        raise ValueError(f"got {len(titles)} titles for {len(x)} images")
    ncols = max(1, min(ncols, len(x)))
    nrows = (len(x) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.4 if suptitle else 0)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < len(x):
            img = x[i].permute(1, 2, 0).numpy()
            ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1,
                      interpolation="nearest")
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_curves(curves: Mapping[str, Sequence[float]], title: str | None = None, xlabel: str = "step",
                ylabel: str | None = None, smooth: int = 1, logy: bool = False,
                ax: plt.Axes | None = None) -> plt.Figure:
    """Lecture 1. Plot named sequences (losses, metrics) on one axis; ``smooth`` averages over a moving window."""
    if not curves:
        raise ValueError("plot_curves needs at least one named curve")
    if not isinstance(smooth, int) or smooth < 1:
        raise ValueError(f"smooth must be a positive int, got {smooth!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for name, values in curves.items():
        y = np.asarray(values, dtype=float)
        if y.ndim != 1 or len(y) == 0:
            raise ValueError(f"curve {name!r} must be a non-empty 1-D sequence")
        if smooth > 1 and len(y) >= smooth:
            y = np.convolve(y, np.ones(smooth) / smooth, mode="valid")
        ax.plot(np.arange(len(y)) + (smooth - 1 if len(y) < len(values) else 0), y, label=name,
                marker="o" if len(y) < 30 else None)
    ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax.figure


def plot_gan_history(history: Mapping[str, Sequence[float]], smooth: int = 25, unit: str = "step",
                     outputs_unit: str | None = None, outputs_smooth: int | None = None) -> plt.Figure:
    """Lecture 4. A GAN run at a glance: the two losses (left) and D's mean outputs ``D(x)``, ``D(G(z))`` (right).

    ``history`` holds per-step lists ``"d_loss"`` and ``"g_loss"``, and ``"d_real"``, ``"d_fake"`` (mean
    probabilities; per step, or per ``outputs_unit`` such as an epoch). Curves are averaged over
    ``smooth`` (``outputs_smooth`` for the right panel) consecutive values. Dashed lines: D's BCE loss
    ``log 4`` and its output 1/2 when it cannot tell real from fake.
    """
    missing = [k for k in ("d_loss", "g_loss", "d_real", "d_fake") if not len(history.get(k, ()))]
    if missing:
        raise ValueError(f"history lacks {missing}")
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
    loss_smooth = max(1, min(smooth, len(history["d_loss"]), len(history["g_loss"])))
    output_smooth = max(1, min(smooth if outputs_smooth is None else outputs_smooth, len(history["d_real"])))
    plot_curves({"D loss": history["d_loss"], "G loss": history["g_loss"]}, title="losses", smooth=loss_smooth,
                xlabel=unit, ax=axes[0])
    axes[0].axhline(float(np.log(4)), color="grey", ls="--", lw=1)
    plot_curves({"D(x), real": history["d_real"], "D(G(z)), fake": history["d_fake"]}, smooth=output_smooth,
                title="D's mean output (probability 'real')", xlabel=outputs_unit or unit, ax=axes[1])
    axes[1].axhline(0.5, color="grey", ls="--", lw=1)
    axes[1].set_ylim(0, 1)
    fig.tight_layout()
    return fig


def grouped_bars(values: Mapping[str, Sequence[float]], labels: Sequence[str], title: str | None = None,
                 ylabel: str = "value", ylim: tuple[float, float] | None = None, value_labels: bool = True,
                 xlabel: str | None = None, ax: plt.Axes | None = None) -> plt.Figure:
    """Lecture 1. Grouped bars: one group per label, one bar per named series.

    ``values`` maps a series name (a model, a distribution) to one number per label, e.g.
    ``{"U-Net": [0.98, 0.95, 0.91]}`` for three classes. ``value_labels`` writes each bar's value
    on it (only when there are few bars).
    """
    if not values:
        raise ValueError("grouped_bars needs at least one named series")
    for name, series in values.items():
        if len(series) != len(labels):
            raise ValueError(f"{name!r} has {len(series)} values for {len(labels)} labels")
    if ax is None:
        _, ax = plt.subplots(figsize=(min(1.3 * len(labels) + 2.5, 12), 3.5))
    positions = np.arange(len(labels))
    width = 0.8 / len(values)
    for i, (name, series) in enumerate(values.items()):
        bars = ax.bar(positions + (i - (len(values) - 1) / 2) * width, np.asarray(series, dtype=float),
                      width, label=name)
        if value_labels and len(labels) * len(values) <= 24:
            ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=1)
    ax.set_xticks(positions, [str(label) for label in labels])
    ax.set_ylabel(ylabel)
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylim is not None:
        ax.set_ylim(*ylim)
    if title:
        ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return ax.figure


def latent_scatter(z: torch.Tensor, labels: torch.Tensor, title: str | None = None,
                   class_names: Sequence[str] | None = None, ax: plt.Axes | None = None,
                   point_size: float = 3.0) -> plt.Figure:
    """Lecture 2. Scatter 2-D latent codes ``[N, 2]`` coloured by their class ``[N]``."""
    z = torch.as_tensor(z).detach().float().cpu()
    labels = torch.as_tensor(labels).detach().cpu()
    if z.dim() != 2 or z.shape[1] != 2:
        raise ValueError(f"latent_scatter needs codes of shape [N, 2], got {tuple(z.shape)}; "
                         "project higher-dimensional codes to 2-D first")
    if labels.shape != (z.shape[0],):
        raise ValueError(f"labels must have shape [{z.shape[0]}], got {tuple(labels.shape)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 5))
    scatter = ax.scatter(z[:, 0], z[:, 1], c=labels.numpy(), cmap="tab10", s=point_size, alpha=0.7,
                         vmin=-0.5, vmax=9.5)
    cbar = ax.figure.colorbar(scatter, ax=ax, ticks=range(10))
    if class_names is not None:
        cbar.ax.set_yticklabels(class_names)
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if title:
        ax.set_title(title)
    return ax.figure


def latent_grid_points(low: float, high: float, n: int) -> torch.Tensor:
    """Lecture 2. An ``n x n`` grid of 2-D points, rows from high to low z_2 so the plot reads like axes."""
    if n < 2 or high <= low:
        raise ValueError(f"need n >= 2 and high > low, got n={n}, low={low}, high={high}")
    ticks = torch.linspace(low, high, n)
    z2, z1 = torch.meshgrid(ticks.flip(0), ticks, indexing="ij")
    return torch.stack([z1.reshape(-1), z2.reshape(-1)], dim=1)


@torch.no_grad()
def show_decoded_grid(decode: Callable[[torch.Tensor], torch.Tensor], low: float = -3.0, high: float = 3.0,
                      n: int = 15, title: str | None = None, device: torch.device | str = "cpu"
                      ) -> plt.Figure:
    """Lecture 3. Decode an ``n x n`` grid of 2-D latent points and tile the images (the 'manifold' figure)."""
    points = latent_grid_points(low, high, n).to(device)
    images = decode(points)
    fig = show_grid(images, nrow=n, title=title or f"decoded grid, $z \\in [{low}, {high}]^2$")
    return fig


def show_strip(rows: Mapping[str, torch.Tensor], value_range: tuple[float, float] | None = None,
               size: float = 0.9) -> plt.Figure:
    """Lecture 2. Rows of images with a label each: interpolation strips, before/after comparisons."""
    if not rows:
        raise ValueError("show_strip needs at least one row")
    batches = {name: to_unit_range(_as_image_batch(imgs, name), value_range) for name, imgs in rows.items()}
    ncols = max(len(b) for b in batches.values())
    fig, axes = plt.subplots(len(batches), ncols, figsize=(size * ncols + 1.2, size * len(batches)),
                             squeeze=False)
    for r, (name, batch) in enumerate(batches.items()):
        for c in range(ncols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < len(batch):
                img = batch[c].permute(1, 2, 0).numpy()
                ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1)
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    fig.tight_layout()
    return fig


def show_snapshots(snapshots: Sequence[tuple[int, torch.Tensor]], per_row: int = 12, unit: str = "step",
                   value_range: tuple[float, float] = (-1.0, 1.0), size: float = 0.7) -> plt.Figure:
    """Lecture 4. Samples of the same noise over training: one row per ``(step, images)`` snapshot.

    The first ``per_row`` images of each snapshot, labelled ``"<unit> <step>"``; images in
    ``value_range`` (a tanh generator's [-1, 1] by default).
    """
    if not snapshots:
        raise ValueError("no snapshots to show (the training loop stores them as it goes)")
    if isinstance(per_row, bool) or not isinstance(per_row, int) or per_row < 1:
        raise ValueError(f"per_row must be a positive int, got {per_row!r}")
    return show_strip({f"{unit} {step}": images[:per_row] for step, images in snapshots},
                      value_range=value_range, size=size)


def colour_mask(mask: torch.Tensor) -> np.ndarray:
    """Lecture 1. Map an integer class mask [H, W] to an RGB array [H, W, 3] with the fixed palette."""
    mask = torch.as_tensor(mask).detach().cpu().long()
    if mask.dim() != 2:
        raise ValueError(f"a mask must be [H, W], got {tuple(mask.shape)}")
    if mask.min() < 0 or mask.max() >= len(SEG_COLOURS):
        raise ValueError(f"mask values must lie in 0..{len(SEG_COLOURS) - 1}, got {int(mask.min())}..{int(mask.max())}")
    return SEG_COLOURS[mask.numpy()]


def overlay(image: torch.Tensor, mask: torch.Tensor, alpha: float = 0.5) -> np.ndarray:
    """Lecture 1. Blend a coloured class mask over a grey copy of the image, so class colours read true."""
    img = to_unit_range(_as_image_batch(image))[0].permute(1, 2, 0).numpy()
    img = np.repeat(img.mean(axis=-1, keepdims=True), 3, axis=-1)
    mask = torch.as_tensor(mask)
    if tuple(mask.shape) != img.shape[:2]:
        raise ValueError(f"mask {tuple(mask.shape)} and image {img.shape[:2]} must have the same H, W")
    colours = colour_mask(mask)
    weight = alpha * (mask.cpu().numpy() > 0)[..., None]
    return img * (1 - weight) + colours * weight


def show_segmentation(images: torch.Tensor, masks: torch.Tensor, predictions: Mapping[str, torch.Tensor] | None = None,
                      class_names: Sequence[str] | None = None, n: int = 6, size: float = 1.8) -> plt.Figure:
    """Lecture 1. Images, true masks and each model's predicted masks overlaid, one column per example."""
    predictions = dict(predictions or {})
    n = min(n, len(images))
    rows = [("image", None), ("truth", masks)] + list(predictions.items())
    fig, axes = plt.subplots(len(rows), n, figsize=(size * n, size * len(rows)), squeeze=False)
    for c in range(n):
        for r, (name, source) in enumerate(rows):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if source is None:
                ax.imshow(to_unit_range(_as_image_batch(images[c]))[0].permute(1, 2, 0).numpy())
            else:
                ax.imshow(overlay(images[c], source[c], alpha=0.6))
            if c == 0:
                ax.set_ylabel(name)
    if class_names is not None:
        handles = [plt.Rectangle((0, 0), 1, 1, color=SEG_COLOURS[i]) for i in range(1, len(class_names))]
        fig.legend(handles, class_names[1:], loc="lower center", ncol=len(class_names) - 1, frameon=False)
    fig.tight_layout(rect=(0, 0.05 if class_names is not None else 0, 1, 1))
    return fig
