"""Probes of a representation: how much class information do codes or features carry?

* :func:`knn_accuracy`: a k-nearest-neighbour vote in the representation (lecture 2's codes);
* :func:`linear_probe_accuracy`: a linear softmax classifier fitted on frozen features
  (lecture 5's discriminator features, the DCGAN paper's Table 1 idea), and
  :func:`probe_comparison` to compare feature sets with few labels (:func:`few_labels`).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..validate import check_int, check_number, check_tensor, check_vectors
from .neighbours import nearest_neighbours


def _labels_for(labels: object, rows: int, name: str) -> torch.Tensor:
    labels = check_tensor(labels, name)
    if labels.is_floating_point() or labels.shape != (rows,):
        raise ValueError(f"{name} must be integer class indices [{rows}] (one per row), got "
                         f"{labels.dtype} {tuple(labels.shape)}")
    return labels.detach().cpu().long()


def knn_accuracy(train_codes: torch.Tensor, train_labels: torch.Tensor, test_codes: torch.Tensor,
                 test_labels: torch.Tensor, k: int = 5) -> float:
    """Lecture 2. Test accuracy of a k-nearest-neighbour vote (Euclidean) in code space.

    Each test row ``[M, D]`` takes the most common label among its ``k`` nearest training rows
    ``[N, D]``; a tie goes to the tied class with the nearest member. Chance is 1 / (number of classes).
    """
    train_codes, test_codes = check_vectors(train_codes, "train_codes"), check_vectors(test_codes, "test_codes")
    train_y = _labels_for(train_labels, len(train_codes), "train_labels")
    test_y = _labels_for(test_labels, len(test_codes), "test_labels")
    check_int(k, "k", 1)
    _, neighbours = nearest_neighbours(test_codes, train_codes, k)
    num_classes = int(max(train_y.max(), test_y.max())) + 1
    members = F.one_hot(train_y[neighbours], num_classes).double()          # [M, k, classes]
    nearness = torch.arange(k, 0, -1, dtype=torch.float64)[None, :, None] / k  # 1 for the nearest, 1/k for the last
    # one vote per neighbour; a tie goes to the class with the nearest member (a bonus below one vote)
    votes = members.sum(1) + 1e-3 * (members * nearness).amax(1)
    return float((votes.argmax(1) == test_y).double().mean())


def few_labels(labels: torch.Tensor, per_class: int, seed: int = 0) -> torch.Tensor:
    """Lecture 5. Indices of ``per_class`` randomly chosen examples of every class in ``labels [N]``."""
    labels = check_tensor(labels, "labels")
    labels = _labels_for(labels, labels.shape[0] if labels.dim() == 1 else -1, "labels")
    check_int(per_class, "per_class", 1)
    g = torch.Generator().manual_seed(seed)
    chosen = []
    for c in labels.unique().tolist():
        where = (labels == c).nonzero().flatten()
        if len(where) < per_class:
            raise ValueError(f"class {c} has only {len(where)} examples, fewer than per_class={per_class}")
        chosen.append(where[torch.randperm(len(where), generator=g)[:per_class]])
    return torch.cat(chosen)


def linear_probe_accuracy(train_features: torch.Tensor, train_labels: torch.Tensor, test_features: torch.Tensor,
                          test_labels: torch.Tensor, weight_decay: float = 1e-2, mean: torch.Tensor | None = None,
                          std: torch.Tensor | None = None, max_iter: int = 100) -> float:
    """Lecture 5. Test accuracy of a multinomial logistic regression on frozen features ``[N, F]``.

    Features are standardized with ``mean``/``std`` (default: those of ``train_features``), then a
    linear softmax classifier is fitted with L-BFGS to the cross-entropy plus
    ``weight_decay / 2 * ||W||^2``, in float64. The features are never changed.
    """
    train_features = check_vectors(train_features, "train_features")
    test_features = check_vectors(test_features, "test_features", train_features.shape[1])
    train_y = _labels_for(train_labels, len(train_features), "train_labels")
    test_y = _labels_for(test_labels, len(test_features), "test_labels")
    weight_decay = check_number(weight_decay, "weight_decay")
    mean = train_features.mean(0) if mean is None else mean
    std = (train_features.std(0) if std is None else std).clamp_min(1e-6)
    xtr = ((train_features - mean) / std).double().cpu()
    xte = ((test_features - mean) / std).double().cpu()
    classes = int(max(train_y.max(), test_y.max())) + 1
    weight = torch.zeros(xtr.shape[1], classes, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], lr=1, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(xtr @ weight + bias, train_y) + 0.5 * weight_decay * weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        return float(((xte @ weight + bias).argmax(1) == test_y).double().mean())


def probe_comparison(features: Mapping[str, tuple[torch.Tensor, torch.Tensor]], train_labels: torch.Tensor,
                     test_labels: torch.Tensor, per_class: Sequence[int] = (10, 100), seeds: Sequence[int] = (0, 1, 2),
                     weight_decay: float = 1e-2) -> dict[str, dict[int, float]]:
    """Lecture 5. The same linear probe on several feature sets: mean test accuracy per labels-per-class.

    ``features`` maps a name to ``(train_features [N, F], test_features [M, F])`` of all training
    images (their mean and standard deviation standardize the features; no labels needed). For
    each ``k`` in ``per_class`` and each seed, :func:`few_labels` picks ``k`` labelled images per
    class, the probe is fitted on them alone and scored on the whole test set. Returns
    ``{name: {k: mean accuracy over seeds}}``.
    """
    if not features:
        raise ValueError("probe_comparison needs at least one feature set")
    results: dict[str, dict[int, float]] = {}
    for name, (train_f, test_f) in features.items():
        mean, std = train_f.mean(0), train_f.std(0)
        results[name] = {}
        for k in per_class:
            accs = [linear_probe_accuracy(train_f[idx], train_labels[idx], test_f, test_labels,
                                          weight_decay=weight_decay, mean=mean, std=std)
                    for idx in (few_labels(train_labels, k, seed) for seed in seeds)]
            results[name][int(k)] = float(np.mean(accs))
    return results
