"""Lecture 6: evaluating generative models. The pieces only this lecture needs.

The metrics themselves (IS, FID, KID, precision/recall, density/coverage) are toolkit code in
:mod:`course_lib.metrics` (later lectures use them); this module holds the experiments on them:

1. the FID paper's **disturbances** (Heusel et al. 2017, section 4 and appendix), on digits:
   :func:`disturb` with a strength ``level`` in [0, 1];
2. **degenerate generators** that a metric should catch: :func:`one_image_per_class` (perfect
   digits, no diversity) and :func:`copy_training_images` (memorization);
3. the **"which one is real?"** quiz (:func:`real_or_fake_quiz`), ipywidgets with a static fallback;
4. the **models under test**: :func:`load_finished_run` takes a generator from an earlier lecture's
   finished checkpoint, read-only;
5. figures: a metric against the disturbance level, FID against 1/N with the FID_inf line, the models'
   scores side by side.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from . import viz
from .config import mode_name
from .frontend import why_no_widgets
from .shapes import make_shapes
from .train.checkpoints import checkpoint_dir, load_checkpoint
from .validate import check_choice, check_images, check_int, check_labels, check_number

# --------------------------------------------------------------------------------------------
# 1. Disturbances (the FID paper's experiment)
# --------------------------------------------------------------------------------------------

#: The disturbances :func:`disturb` knows, in the order the notebook plots them.
DISTURBANCES = ("gaussian noise", "blur", "salt and pepper", "black rectangles", "swirl", "mixed with shapes")
#: The strength of each disturbance at ``level = 1`` (level 0 leaves the images as they are).
MAX_STRENGTH = {"gaussian noise": 0.5,     # weight of the noise image in (1 - a) x + a noise
                "blur": 2.0,               # standard deviation of the Gaussian kernel, pixels
                "salt and pepper": 0.3,    # share of pixels set to 0 or 1
                "black rectangles": 10,    # side of each of the 5 rectangles, pixels
                "swirl": 2.0,              # rotation at the centre, radians (more turns a stroke back)
                "mixed with shapes": 0.5}  # share of the images replaced by geometric shapes


def _gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=images.dtype)
    kernel = torch.exp(-x**2 / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    padded = F.pad(images, [radius] * 4, mode="replicate")
    out = F.conv2d(padded, kernel.view(1, 1, 1, -1))            # separable: rows, then columns
    return F.conv2d(out, kernel.view(1, 1, -1, 1))


def _swirl(images: torch.Tensor, strength: float, radius: float = 14.0) -> torch.Tensor:
    """scikit-image's swirl: each pixel is read from a point rotated by strength * exp(-r / radius')."""
    size = images.shape[-1]
    ys, xs = torch.meshgrid(torch.arange(size, dtype=images.dtype), torch.arange(size, dtype=images.dtype),
                            indexing="ij")
    centre = (size - 1) / 2
    dy, dx = ys - centre, xs - centre
    r = torch.sqrt(dx**2 + dy**2)
    theta = torch.atan2(dy, dx) + strength * torch.exp(-r / (radius / math.log(2)))
    grid_x, grid_y = centre + r * torch.cos(theta), centre + r * torch.sin(theta)
    grid = torch.stack([grid_x, grid_y], -1) / (size - 1) * 2 - 1        # to grid_sample's [-1, 1]
    return F.grid_sample(images, grid.expand(len(images), -1, -1, -1), mode="bilinear", padding_mode="zeros",
                         align_corners=True)


def shape_images(n: int, seed: int = 0) -> torch.Tensor:
    """Lecture 6. ``n`` images ``[n, 1, 28, 28]`` in [0, 1] of another kind: white geometric shapes on black.

    Lecture 1's synthetic shapes (circles, squares, triangles), drawn as masks at 28x28, so that
    they look like digits in style (white strokes on black) but are no digits.
    """
    check_int(n, "n", 1)
    _, masks = make_shapes(n, size=28, max_shapes=2, seed=seed)
    return (masks > 0).float()[:, None]


def disturb(images: torch.Tensor, kind: str, level: float, *, seed: int = 0) -> torch.Tensor:
    """Lecture 6. ``images`` ``[N, 1, 28, 28]`` in [0, 1] disturbed by ``kind`` at strength ``level`` in [0, 1].

    ``kind`` is one of :data:`DISTURBANCES`; :data:`MAX_STRENGTH` gives what ``level = 1`` means
    for each. Level 0 returns a copy of the images. The result is in [0, 1]; the randomness
    (noise, pixel and rectangle positions, which images are replaced) comes from ``seed``.
    """
    check_images(images, "images", channels=1, size=28, value_range=(0.0, 1.0))
    check_choice(kind, "kind", DISTURBANCES)
    level = check_number(level, "level", 0.0, maximum=1.0)
    x = images.detach().float().cpu().clone()
    if level == 0:
        return x
    strength = MAX_STRENGTH[kind] * level
    generator = torch.Generator().manual_seed(seed)
    n = len(x)
    if kind == "gaussian noise":
        noise = (0.5 + 0.5 * torch.randn(x.shape, generator=generator)).clamp(0, 1)
        x = (1 - strength) * x + strength * noise
    elif kind == "blur":
        x = _gaussian_blur(x, strength)
    elif kind == "salt and pepper":
        hit = torch.rand(x.shape, generator=generator) < strength
        salt = torch.rand(x.shape, generator=generator) < 0.5
        x = torch.where(hit, salt.float(), x)
    elif kind == "black rectangles":
        side = max(1, round(strength))
        corners = torch.randint(0, 28 - side + 1, (n, 5, 2), generator=generator)
        ys, xs = torch.arange(28).view(1, 1, 28, 1), torch.arange(28).view(1, 1, 1, 28)
        covered = torch.zeros(n, 1, 28, 28, dtype=torch.bool)
        for r in range(5):
            y0, x0 = corners[:, r, 0].view(n, 1, 1, 1), corners[:, r, 1].view(n, 1, 1, 1)
            covered |= (ys >= y0) & (ys < y0 + side) & (xs >= x0) & (xs < x0 + side)
        x = x.masked_fill(covered, 0.0)
    elif kind == "swirl":
        x = _swirl(x, strength)
    else:  # mixed with shapes
        replaced = torch.randperm(n, generator=generator)[:round(strength * n)]
        if len(replaced):
            x[replaced] = shape_images(len(replaced), seed=seed)
    return x.clamp(0, 1)


# --------------------------------------------------------------------------------------------
# 2. Generators that fool a metric
# --------------------------------------------------------------------------------------------

def class_prototypes(images: torch.Tensor, labels: torch.Tensor, features: torch.Tensor,
                     num_classes: int = 10) -> torch.Tensor:
    """Lecture 6. One typical image per class ``[num_classes, 1, 28, 28]``: the one whose features are nearest the class mean.

    ``features [N, D]`` are the images' features (e.g. the course classifier's embedding); every
    class must occur in ``labels``.
    """
    check_images(images, "images", channels=1, size=28)
    check_labels(labels, len(images))
    if features.dim() != 2 or len(features) != len(images):
        raise ValueError(f"features must be [N, D] for the N = {len(images)} images, got {tuple(features.shape)}")
    chosen = []
    for c in range(num_classes):
        members = (labels == c).nonzero().flatten()
        if len(members) == 0:
            raise ValueError(f"class {c} does not occur in labels")
        f = features[members].double()
        chosen.append(members[(f - f.mean(0)).pow(2).sum(1).argmin()])
    return images[torch.stack(chosen)].clone()


def one_image_per_class(prototypes: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """Lecture 6. A "generator" of ``n`` samples, each a copy of one of the ``prototypes`` (classes equally likely).

    Every sample is a perfect digit and all classes are there, so the Inception Score is as high as
    for real data; but within a class there is no variety at all (intra-class mode collapse).
    """
    check_int(n, "n", 1)
    generator = torch.Generator().manual_seed(seed)
    which = torch.randint(0, len(prototypes), (n,), generator=generator)
    return prototypes[which].clone()


def copy_training_images(train_images: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """Lecture 6. A "generator" that returns ``n`` training images drawn at random (without replacement): memorization."""
    check_int(n, "n", 1)
    if n > len(train_images):
        raise ValueError(f"cannot copy {n} distinct images out of {len(train_images)}")
    generator = torch.Generator().manual_seed(seed)
    return train_images[torch.randperm(len(train_images), generator=generator)[:n]].clone()


# --------------------------------------------------------------------------------------------
# 3. Human judgement: which one is real?
# --------------------------------------------------------------------------------------------

def quiz_pairs(real: torch.Tensor, fake: torch.Tensor, rounds: int, seed: int = 0
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Lecture 6. ``rounds`` pairs ``[rounds, 2, 1, 28, 28]`` (one real and one generated image each, in [0, 1]) and
    the side ``[rounds]`` (0 = left, 1 = right) on which the real one is."""
    check_int(rounds, "rounds", 1)
    check_images(real, "real", channels=1, size=28, value_range=(0.0, 1.0))
    check_images(fake, "fake", channels=1, size=28, value_range=(0.0, 1.0))
    if rounds > min(len(real), len(fake)):
        raise ValueError(f"{rounds} rounds need at least {rounds} real and {rounds} generated images")
    generator = torch.Generator().manual_seed(seed)
    real_side = torch.randint(0, 2, (rounds,), generator=generator)
    r, f = real[:rounds].cpu(), fake[:rounds].cpu()
    left = torch.where(real_side.view(-1, 1, 1, 1) == 0, r, f)
    right = torch.where(real_side.view(-1, 1, 1, 1) == 0, f, r)
    return torch.stack([left, right], 1), real_side


def real_or_fake_quiz(real: torch.Tensor, fake: torch.Tensor, rounds: int = 10, seed: int = 0) -> None:
    """Lecture 6. The two-alternative quiz: click the image you think is real; the score comes at the end.

    With a widget frontend (JupyterLab, Colab) it shows one pair at a time with two buttons. Without
    one (CI, nbconvert) it draws all pairs in one figure and prints the answer key under it, so a
    reader can play it on paper.
    """
    pairs, real_side = quiz_pairs(real, fake, rounds, seed)
    reason = why_no_widgets()
    if reason is not None:
        fig, axes = plt.subplots(2, rounds, figsize=(1.1 * rounds, 2.4), squeeze=False)
        for i in range(rounds):
            for side in range(2):
                axes[side, i].imshow(pairs[i, side, 0].numpy(), cmap="gray", vmin=0, vmax=1)
                axes[side, i].set_xticks([])
                axes[side, i].set_yticks([])
            axes[0, i].set_title(f"{i + 1}", fontsize=9)
        axes[0, 0].set_ylabel("top")
        axes[1, 0].set_ylabel("bottom")
        fig.suptitle("Which of each pair is real? (top or bottom)", fontsize=10)
        viz.show(fig)
        print(f"(static quiz: {reason}) Answer key, the real one is: "
              + ", ".join(f"{i + 1} {'top' if s == 0 else 'bottom'}" for i, s in enumerate(real_side.tolist())))
        return
    import ipywidgets as widgets
    from IPython.display import display

    state = {"round": 0, "right": 0}
    output = widgets.Output()
    buttons = [widgets.Button(description="left is real"), widgets.Button(description="right is real")]
    status = widgets.Label()

    def draw() -> None:
        output.clear_output(wait=True)
        with output:
            _, axes = plt.subplots(1, 2, figsize=(3, 1.6))
            for side in range(2):
                axes[side].imshow(pairs[state["round"], side, 0].numpy(), cmap="gray", vmin=0, vmax=1)
                axes[side].axis("off")
            plt.show()
        status.value = f"pair {state['round'] + 1} of {rounds}"

    def answer(side: int) -> None:
        state["right"] += int(side == int(real_side[state["round"]]))
        state["round"] += 1
        if state["round"] == rounds:
            for button in buttons:
                button.disabled = True
            status.value = (f"You picked the real image {state['right']} times out of {rounds} "
                            f"({state['right'] / rounds:.0%}; guessing gives 50%).")
        else:
            draw()

    buttons[0].on_click(lambda _: answer(0))
    buttons[1].on_click(lambda _: answer(1))
    display(widgets.VBox([output, widgets.HBox(buttons), status]))
    draw()


# --------------------------------------------------------------------------------------------
# 4. The models under test: earlier lectures' checkpoints
# --------------------------------------------------------------------------------------------

def load_finished_run(model: nn.Module, run: str, part: str, steps: int,
                      map_location: str | torch.device = "cpu") -> Path | None:
    """Lecture 6. Load ``part`` of an earlier lecture's *finished* run ``run`` into ``model``; return the file, or None.

    Looks in the checkpoint folder for this mode's files of the run, ``<run>-<mode>.pt`` or
    ``<run>-<letters>-<mode>.pt`` (the letters say whose code trained it, see
    :func:`course_lib.checks.run_name`), newest first, and takes the first that reached ``steps``
    (steps or epochs, as that run counts) and whose ``part`` fits ``model``. Read-only: a file that
    does not qualify is skipped, never moved or rewritten, and ``model`` stays as it was.
    """
    check_int(steps, "steps", 1)
    folder = checkpoint_dir()
    candidates = [p for p in folder.glob(f"{run}*-{mode_name()}.pt")
                  if p.name == f"{run}-{mode_name()}.pt" or p.name[len(run)] == "-"] if folder.is_dir() else []
    for path in sorted(candidates, key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            state = load_checkpoint(path, map_location=map_location)
            if int(state.get("step", -1)) < steps:
                continue   # an interrupted run: its lecture resumes it, we do not use it half-trained
            weights = state["parts"][part]
            before = {k: v.clone() for k, v in model.state_dict().items()}
            try:
                model.load_state_dict(weights)
            except (RuntimeError, ValueError, TypeError):
                model.load_state_dict(before)
                continue
        except (RuntimeError, KeyError, TypeError, ValueError, AttributeError):
            continue
        return path
    return None


# --------------------------------------------------------------------------------------------
# 5. Figures
# --------------------------------------------------------------------------------------------

def plot_disturbance_response(levels: Sequence[float], curves: Mapping[str, Mapping[str, Sequence[float]]],
                              examples: Mapping[str, torch.Tensor] | None = None) -> plt.Figure:
    """Lecture 6. One panel per metric: its value against the disturbance level, one line per disturbance.

    ``curves[metric][disturbance]`` holds one value per level. ``examples`` (optional) maps each
    disturbance to one image per level ``[len(levels), 1, 28, 28]``, drawn as a strip above.
    """
    metrics = list(curves)
    rows = 2 if examples else 1
    fig = plt.figure(figsize=(4.2 * len(metrics), 3.4 * rows + (0.0 if not examples else 0.4)))
    grid = fig.add_gridspec(rows, len(metrics))
    if examples:
        ax = fig.add_subplot(grid[0, :])
        strip = torch.cat([torch.cat(list(images), dim=-1) for images in examples.values()], dim=-2)
        ax.imshow(strip[0].numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_yticks([14 + 28 * i for i in range(len(examples))], list(examples))
        ax.set_xticks([14 + 28 * i for i in range(len(levels))], [f"{v:g}" for v in levels])
        ax.set_xlabel("level")
        ax.set_title("the disturbances, every level")
    for j, metric in enumerate(metrics):
        ax = fig.add_subplot(grid[rows - 1, j])
        for name, values in curves[metric].items():
            ax.plot(levels, values, marker="o", label=name)
        ax.set_xlabel("disturbance level")
        ax.set_title(metric)
        if metric.lower().startswith("fid") or metric.lower().startswith("kid"):
            ax.set_yscale("symlog", linthresh=1.0)
    fig.axes[-1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_fid_bias(fid_at: Mapping[int, float], fid_inf: float, slope: float, title: str = "") -> plt.Figure:
    """Lecture 6. FID against 1/N with the fitted line FID_N = FID_inf + slope / N (Chong & Forsyth 2020)."""
    sizes = sorted(fid_at)
    x = [1 / n for n in sizes]
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.plot(x, [fid_at[n] for n in sizes], "o", label="measured")
    line_x = [0.0] + x
    ax.plot(line_x, [fid_inf + slope * v for v in line_x], "--", label=f"fit: {fid_inf:.3g} + {slope:.3g} / N")
    ax.plot([0], [fid_inf], "s", color="C3", label=f"FID_inf = {fid_inf:.3g}")
    for n in sizes:
        ax.annotate(f"N={n}", (1 / n, fid_at[n]), textcoords="offset points", xytext=(4, -10), fontsize=8)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("1 / N")
    ax.set_ylabel("FID")
    ax.set_title(title or "FID's bias with the sample size")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_scores(table: Mapping[str, Mapping[str, float]], metrics: Sequence[str],
                lower_is_better: Sequence[str] = ("FID", "KID")) -> plt.Figure:
    """Lecture 6. One bar panel per metric, one bar per row of ``table`` (``table[row][metric]``), real data in grey.

    Rows whose name starts with ``"real"`` are drawn in grey: they are the bar a model is measured
    against. Panels of ``lower_is_better`` metrics say so in their title (and FID's uses a log scale);
    density's says that about 1 is what real data gets (above 1 means crowding where real data is dense).
    """
    rows = list(table)
    if not rows or not metrics:
        raise ValueError("plot_scores needs at least one row and one metric")
    cols = min(4, len(metrics))
    lines = math.ceil(len(metrics) / cols)
    fig, axes = plt.subplots(lines, cols, figsize=(3.6 * cols, 3.0 * lines), squeeze=False)
    colours = ["0.6" if r.startswith("real") else f"C{i}" for i, r in enumerate(rows)]
    for ax, metric in zip(axes.flat, metrics):
        values = [float(table[r][metric]) for r in rows]
        ax.barh(range(len(rows)), values, color=colours)
        ax.set_yticks(range(len(rows)), rows if ax in axes[:, 0] else [""] * len(rows), fontsize=8)
        ax.invert_yaxis()
        better = ("lower is better" if metric in lower_is_better
                  else "about 1 for real data" if metric == "density" else "higher is better")
        ax.set_title(f"{metric} ({better})", fontsize=9)
        if metric == "FID" and min(values) > 0:
            ax.set_xscale("log")
        ax.tick_params(axis="x", labelsize=8)
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    fig.tight_layout()
    return fig
