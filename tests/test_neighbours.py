"""Nearest neighbours (course_lib.metrics.neighbours) and the k-NN vote (course_lib.metrics.probes.knn_accuracy)."""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pytest
import torch

from course_lib.metrics import neighbours as nb
from course_lib.metrics.probes import knn_accuracy


def _points(n, d, seed=0, scale=1.0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed)) * scale


def _brute_force(queries, references, k, exclude_self=False):
    """Every distance the slow way: per pair, the norm of the difference (float64)."""
    q, r = queries.double().flatten(1), references.double().flatten(1)
    d = torch.stack([torch.stack([(a - b).norm() for b in r]) for a in q])
    if exclude_self:
        d = torch.where(d == 0, torch.full_like(d, math.inf), d)
    best = d.sort(dim=1, stable=True)
    return best.values[:, :k], best.indices[:, :k]


# ---- pairwise distances ------------------------------------------------------------------------------------

def test_pairwise_sq_distances_by_hand():
    a = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    b = torch.tensor([[0.0, 0.0], [6.0, 8.0], [3.0, 0.0]])
    d = nb.pairwise_sq_distances(a, b)
    assert d.dtype == torch.float64
    assert d.tolist() == [[0.0, 100.0, 9.0], [25.0, 25.0, 16.0]]
    assert (nb.pairwise_sq_distances(_points(30, 5), _points(20, 5, seed=1)) >= 0).all()


def test_pairwise_sq_distances_refuse_mismatched_rows():
    with pytest.raises(ValueError, match=r"b must have shape \[N, 2\]"):
        nb.pairwise_sq_distances(torch.zeros(3, 2), torch.zeros(3, 3))
    with pytest.raises(ValueError, match=r"\[N, D\]"):
        nb.pairwise_sq_distances(torch.zeros(3), torch.zeros(3, 3))


# ---- nearest_neighbours --------------------------------------------------------------------------------------

def test_nearest_neighbours_on_a_small_example():
    references = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [5.0, 5.0]])
    queries = torch.tensor([[0.9, 0.0], [0.0, 1.9], [4.0, 4.0]])
    distances, indices = nb.nearest_neighbours(queries, references, k=2)
    assert indices.tolist() == [[1, 0], [2, 0], [3, 2]]
    assert distances.dtype == torch.float32 and distances.shape == (3, 2)
    assert torch.allclose(distances, torch.tensor([[0.1, 0.9], [0.1, 1.9], [math.sqrt(2), math.sqrt(20)]]), atol=1e-6)


@pytest.mark.parametrize("k", [1, 3, 7])
def test_nearest_neighbours_match_brute_force(k):
    queries, references = _points(15, 4, seed=1), _points(25, 4, seed=2)
    distances, indices = nb.nearest_neighbours(queries, references, k=k, batch_size=4)   # chunked queries
    want_d, want_i = _brute_force(queries, references, k)
    assert torch.equal(indices, want_i)
    assert torch.allclose(distances.double(), want_d, atol=1e-5)
    assert (distances[:, 1:] >= distances[:, :-1]).all()                  # nearest first


def test_nearest_neighbours_flatten_images_and_ignore_gradients():
    g = torch.Generator().manual_seed(0)
    references = torch.rand(12, 1, 4, 4, generator=g, requires_grad=True)
    queries = references[:5].detach() + 0.01 * torch.rand(5, 1, 4, 4, generator=g)
    distances, indices = nb.nearest_neighbours(queries, references)
    assert indices[:, 0].tolist() == [0, 1, 2, 3, 4] and not distances.requires_grad
    want_d, _ = _brute_force(queries, references.detach(), 1)
    assert torch.allclose(distances.double(), want_d, atol=1e-5)


def test_exclude_self_skips_the_point_itself():
    points = _points(20, 3, seed=3)
    distances, indices = nb.nearest_neighbours(points, points, k=2, exclude_self=True)
    assert not (indices == torch.arange(20)[:, None]).any()
    want_d, want_i = _brute_force(points, points, 2, exclude_self=True)
    assert torch.equal(indices, want_i) and torch.allclose(distances.double(), want_d, atol=1e-5)
    included, idx = nb.nearest_neighbours(points, points, k=1)
    assert torch.equal(idx[:, 0], torch.arange(20)) and float(included.max()) == 0.0


@pytest.mark.parametrize("scale,dim", [(100.0, 128), (1000.0, 784)])
def test_exclude_self_works_for_large_feature_values(scale, dim):
    # Features are not always small: unnormalized activations, pixels in 0..255. A point's distance to
    # itself must still come out as 0 (the module promises it), so that exclude_self skips it.
    points = _points(300, dim, seed=4, scale=scale)
    _, indices = nb.nearest_neighbours(points, points, k=1, exclude_self=True)
    found_itself = int((indices[:, 0] == torch.arange(300)).sum())
    assert found_itself == 0, f"{found_itself} of 300 points were their own nearest neighbour"
    assert float(nb.pairwise_sq_distances(points, points).diagonal().abs().max()) == 0.0


def test_nearest_distances():
    a = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    b = torch.tensor([[0.0, 0.0], [6.0, 8.0]])
    assert torch.allclose(nb.nearest_distances(a, b), torch.tensor([0.0, 5.0]))
    assert torch.allclose(nb.nearest_distances(b, b, exclude_self=True), torch.tensor([10.0, 10.0]))
    assert nb.nearest_distances(a, b).shape == (2,)


@pytest.mark.parametrize("queries,references,kwargs,error,match", [
    (torch.zeros(3, 2), torch.zeros(4, 3), {}, ValueError, "same row size"),
    (torch.zeros(0, 2), torch.zeros(4, 2), {}, ValueError, "non-empty"),
    (torch.zeros(3, 2), torch.zeros(4, 2), {"k": 5}, ValueError, "k = 5 is more than the 4 reference rows"),
    (torch.zeros(3, 2), torch.zeros(4, 2), {"k": 0}, ValueError, "k must be >= 1"),
    (torch.zeros(3, 2, dtype=torch.int64), torch.zeros(4, 2), {}, TypeError, "queries must be a floating-point"),
    (torch.zeros(3, 2), [[0.0, 0.0]], {}, TypeError, "references must be a torch.Tensor"),
])
def test_nearest_neighbours_refuse_bad_input(queries, references, kwargs, error, match):
    with pytest.raises(error, match=match):
        nb.nearest_neighbours(queries, references, **kwargs)


def test_nearest_training_images_in_rms_pixel_units():
    g = torch.Generator().manual_seed(0)
    train = torch.rand(10, 1, 4, 4, generator=g)
    samples = train[[3, 7]] * 2 - 1                                   # exact copies, in a tanh range
    samples[1] += 0.2                                                  # one of them brightened by 0.1 in [0, 1]
    distances, indices = nb.nearest_training_images(samples.clamp(-1, 1), train, value_range=(-1, 1))
    assert indices[:, 0].tolist() == [3, 7] and float(distances[0, 0]) == pytest.approx(0.0, abs=1e-6)
    assert 0 < float(distances[1, 0]) <= 0.1 + 1e-6
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
        nb.nearest_training_images(samples, train)                     # [-1, 1] samples without value_range
    fig = nb.show_nearest(samples.clamp(-1, 1), train, n=2, value_range=(-1, 1))
    assert isinstance(fig, plt.Figure) and len(fig.axes) == 4


# ---- k-NN accuracy -----------------------------------------------------------------------------------------

def _clusters(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    labels = torch.arange(n) % 3
    return centres[labels] + torch.randn(n, 2, generator=g), labels


def test_knn_accuracy_is_perfect_on_separable_clusters_and_near_chance_on_shuffled_labels():
    codes, labels = _clusters(300)
    assert knn_accuracy(codes[:200], labels[:200], codes[200:], labels[200:], k=5) == 1.0
    assert knn_accuracy(codes[:200], labels[:200], codes[200:], labels[200:], k=1) == 1.0
    shuffled = labels[torch.randperm(300, generator=torch.Generator().manual_seed(1))]
    assert knn_accuracy(codes[:200], shuffled[:200], codes[200:], shuffled[200:], k=5) < 0.6


def test_knn_accuracy_counts_the_share_of_right_votes():
    train = torch.tensor([[0.0], [1.0], [10.0], [11.0]])
    train_labels = torch.tensor([0, 0, 1, 1])
    test = torch.tensor([[0.5], [10.5], [9.0], [2.0]])
    assert knn_accuracy(train, train_labels, test, torch.tensor([0, 1, 0, 0]), k=1) == 0.75
    assert knn_accuracy(train, train_labels, test, torch.tensor([0, 1, 1, 0]), k=2) == 1.0


def test_knn_ties_go_to_the_nearest_neighbours_label():
    # k = 2: one neighbour of each class; the nearer one decides, whichever class it is
    train = torch.tensor([[0.0], [3.0]])
    train_labels = torch.tensor([1, 0])
    near_class_1 = torch.tensor([[1.0]])
    near_class_0 = torch.tensor([[2.0]])
    assert knn_accuracy(train, train_labels, near_class_1, torch.tensor([1]), k=2) == 1.0
    assert knn_accuracy(train, train_labels, near_class_0, torch.tensor([0]), k=2) == 1.0
    # k = 4: two votes each; the nearest point's class wins the tie
    train = torch.tensor([[0.0], [1.5], [-1.6], [2.0]])
    train_labels = torch.tensor([2, 0, 0, 2])
    assert knn_accuracy(train, train_labels, torch.tensor([[0.1]]), torch.tensor([2]), k=4) == 1.0
    # a majority still beats the nearest point
    train_labels = torch.tensor([2, 0, 0, 0])
    assert knn_accuracy(train, train_labels, torch.tensor([[0.1]]), torch.tensor([0]), k=4) == 1.0


@pytest.mark.parametrize("args,kwargs,error,match", [
    ((torch.zeros(4, 2), torch.zeros(4, dtype=torch.int64), torch.zeros(2, 2), torch.zeros(2, dtype=torch.int64)),
     {"k": 5}, ValueError, "k = 5 is more than the 4 reference rows"),
    ((torch.zeros(4, 2), torch.zeros(3, dtype=torch.int64), torch.zeros(2, 2), torch.zeros(2, dtype=torch.int64)),
     {}, ValueError, r"train_labels must be integer class indices \[4\]"),
    ((torch.zeros(4, 2), torch.zeros(4), torch.zeros(2, 2), torch.zeros(2, dtype=torch.int64)),
     {}, ValueError, "train_labels must be integer"),
    ((torch.zeros(4, 2), torch.zeros(4, dtype=torch.int64), torch.zeros(2, 3), torch.zeros(2, dtype=torch.int64)),
     {}, ValueError, "same row size"),
    ((torch.zeros(4), torch.zeros(4, dtype=torch.int64), torch.zeros(2, 2), torch.zeros(2, dtype=torch.int64)),
     {}, ValueError, r"train_codes must have shape \[N, D\]"),
    ((torch.zeros(4, 2), torch.zeros(4, dtype=torch.int64), torch.zeros(2, 2), torch.zeros(2, dtype=torch.int64)),
     {"k": 0}, ValueError, "k must be >= 1"),
])
def test_knn_accuracy_refuses_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        knn_accuracy(*args, **kwargs)
