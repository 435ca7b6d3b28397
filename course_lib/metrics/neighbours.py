"""Nearest neighbours in Euclidean distance: one search, used for codes, features and images alike.

:func:`nearest_neighbours` does the work (chunked, distances computed in float64 so that a
point's distance to itself is exactly 0); :func:`nearest_distances` and
:func:`nearest_training_images` are the two questions the lectures ask with it: how far is each
point from a set (holes in a latent space), and is a generator copying its training images?
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch

from .. import viz
from ..validate import check_images, check_int, check_tensor, check_value_range, check_vectors


def pairwise_sq_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Lecture 2. Squared Euclidean distances (float64) ``[len(a), len(b)]`` between the rows of ``a [N, D]`` and ``b [M, D]``.

    Computed as ``|a|^2 - 2 a.b + |b|^2`` (one matrix product); pairs that come out within rounding
    of 0 are recomputed directly, so identical rows are at distance exactly 0.
    """
    a, b = check_vectors(a, "a"), check_vectors(b, "b", a.shape[1])
    a, b = a.double(), b.double()
    norms_a, norms_b = (a * a).sum(1, keepdim=True), (b * b).sum(1)[None]
    d = (norms_a - 2 * a @ b.T + norms_b).clamp_min_(0)
    close_i, close_j = (d <= 1e-9 * (norms_a + norms_b)).nonzero(as_tuple=True)
    if len(close_i):
        d[close_i, close_j] = (a[close_i] - b[close_j]).pow(2).sum(1)
    return d


def nearest_neighbours(queries: torch.Tensor, references: torch.Tensor, k: int = 1, exclude_self: bool = False,
                       batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """Lecture 2. The ``k`` nearest reference rows of every query row: ``(distances [N, k], indices [N, k])``.

    Rows are flattened, so codes ``[N, D]`` and images ``[N, C, H, W]`` both work (on the CPU).
    Distances are Euclidean (float32), nearest first. ``exclude_self`` skips exact matches
    (distance 0), for a set measured against itself.
    """
    check_tensor(queries, "queries", floating=True)
    check_tensor(references, "references", floating=True)
    check_int(k, "k", 1)
    if queries.dim() == 0 or references.dim() == 0 or len(queries) == 0 or len(references) == 0:
        raise ValueError(f"queries and references must be non-empty batches, got {tuple(queries.shape)} and "
                         f"{tuple(references.shape)}")
    q = queries.detach().reshape(len(queries), -1).cpu()
    r = references.detach().reshape(len(references), -1).cpu()
    if q.shape[1] != r.shape[1]:
        raise ValueError(f"queries and references must be non-empty with the same row size, got "
                         f"{tuple(queries.shape)} and {tuple(references.shape)}")
    if k > len(r):
        raise ValueError(f"k = {k} is more than the {len(r)} reference rows")
    distances, indices = [], []
    for start in range(0, len(q), batch_size):
        d = pairwise_sq_distances(q[start:start + batch_size], r)
        if exclude_self:
            d = torch.where(d == 0, torch.full_like(d, float("inf")), d)
        best = d.topk(k, dim=1, largest=False)
        distances.append(best.values.sqrt().float())
        indices.append(best.indices)
    return torch.cat(distances), torch.cat(indices)


def nearest_distances(queries: torch.Tensor, references: torch.Tensor, exclude_self: bool = False) -> torch.Tensor:
    """Lecture 2. For each query row, the Euclidean distance to the nearest reference row, ``[N]``."""
    return nearest_neighbours(queries, references, 1, exclude_self)[0][:, 0]


def nearest_training_images(samples: torch.Tensor, train_images: torch.Tensor, k: int = 1,
                            value_range: tuple[float, float] = (0.0, 1.0)) -> tuple[torch.Tensor, torch.Tensor]:
    """Lecture 4. For each sample, the ``k`` closest training images in pixel space: ``(distances, indices)``, ``[N, k]``.

    ``samples`` are in ``value_range``, ``train_images`` in [0, 1] (as ``course_lib.data`` loads
    them). Distances are root-mean-square pixel differences in [0, 1] units: many small ones mean
    the generator copies its training data.
    """
    check_images(samples, "samples", value_range=check_value_range(value_range))
    check_images(train_images, "train_images", value_range=(0.0, 1.0))
    unit = viz.to_unit_range(samples.detach().float(), value_range)
    distances, indices = nearest_neighbours(unit, train_images.float(), k)
    return distances / math.sqrt(unit[0].numel()), indices


def show_nearest(samples: torch.Tensor, train_images: torch.Tensor, n: int = 8,
                 value_range: tuple[float, float] = (0.0, 1.0)) -> plt.Figure:
    """Lecture 4. Top row: ``n`` samples; bottom row: the closest training image to each, with its distance."""
    distances, indices = nearest_training_images(samples[:n], train_images, 1, value_range)
    n = len(distances)
    fig, axes = plt.subplots(2, n, figsize=(1.3 * n, 3), squeeze=False)
    unit = viz.to_unit_range(samples[:n].detach().float().cpu(), value_range)
    for j in range(n):
        axes[0, j].imshow(unit[j, 0].numpy(), cmap="gray", vmin=0, vmax=1)
        axes[1, j].imshow(train_images[indices[j, 0]].detach().float().cpu()[0].numpy(), cmap="gray", vmin=0, vmax=1)
        axes[1, j].set_title(f"d={float(distances[j, 0]):.2f}", fontsize=8)
        axes[0, j].axis("off")
        axes[1, j].axis("off")
    axes[0, 0].set_title("sample", fontsize=8, loc="left")
    fig.suptitle("generated samples (top) and their nearest training images (bottom)", fontsize=10)
    fig.tight_layout()
    return fig
