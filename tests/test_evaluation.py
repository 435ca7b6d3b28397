"""Lecture 6's experiments: the disturbances, the generators that fool a metric, the quiz."""
from __future__ import annotations

import pytest
import torch

from course_lib import evaluation


def _digits(n: int = 16) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(n, 1, 28, 28)
    x[:, :, 6:22, 12:16] = torch.rand(n, 1, 16, 4, generator=g) * 0.5 + 0.5   # a stroke
    return x


@pytest.mark.parametrize("kind", evaluation.DISTURBANCES)
def test_every_disturbance_keeps_shape_and_range_and_grows_with_the_level(kind):
    x = _digits()
    assert torch.equal(evaluation.disturb(x, kind, 0.0), x)
    changes = []
    for level in (0.25, 0.5, 1.0):
        y = evaluation.disturb(x, kind, level, seed=1)
        assert y.shape == x.shape and float(y.min()) >= 0 and float(y.max()) <= 1
        changes.append(float((y - x).abs().mean()))
    assert changes[0] > 0
    assert changes[0] <= changes[1] * 1.05 <= changes[2] * 1.1, changes
    assert torch.equal(evaluation.disturb(x, kind, 0.5, seed=3), evaluation.disturb(x, kind, 0.5, seed=3))


def test_disturb_rejects_bad_input():
    with pytest.raises(ValueError, match="kind"):
        evaluation.disturb(_digits(), "fog", 0.5)
    with pytest.raises(ValueError, match="level"):
        evaluation.disturb(_digits(), "blur", 1.5)
    with pytest.raises(ValueError):
        evaluation.disturb(torch.rand(4, 3, 28, 28), "blur", 0.5)


def test_mixing_replaces_the_stated_share_with_shapes():
    x = _digits(40)
    y = evaluation.disturb(x, "mixed with shapes", 1.0)
    changed = (y != x).flatten(1).any(1).float().mean()
    assert abs(float(changed) - evaluation.MAX_STRENGTH["mixed with shapes"]) < 0.05
    shapes = evaluation.shape_images(5)
    assert shapes.shape == (5, 1, 28, 28) and set(shapes.unique().tolist()) <= {0.0, 1.0}


def test_prototypes_and_degenerate_generators():
    images = torch.rand(30, 1, 28, 28)
    labels = torch.arange(30) % 10
    features = images.flatten(1)
    protos = evaluation.class_prototypes(images, labels, features)
    assert protos.shape == (10, 1, 28, 28)
    samples = evaluation.one_image_per_class(protos, 200)
    assert len(torch.unique(samples.flatten(1), dim=0)) == 10
    copies = evaluation.copy_training_images(images, 12)
    assert all(any(torch.equal(c, i) for i in images) for c in copies)
    with pytest.raises(ValueError, match="distinct"):
        evaluation.copy_training_images(images, 31)
    with pytest.raises(ValueError, match="class 9"):
        evaluation.class_prototypes(images[:9], labels[:9], features[:9])


def test_quiz_pairs_put_the_real_image_on_the_stated_side():
    real, fake = torch.ones(6, 1, 28, 28), torch.zeros(6, 1, 28, 28)
    pairs, side = evaluation.quiz_pairs(real, fake, 6, seed=2)
    for i in range(6):
        assert float(pairs[i, int(side[i])].mean()) == 1.0 and float(pairs[i, 1 - int(side[i])].mean()) == 0.0
    with pytest.raises(ValueError, match="rounds"):
        evaluation.quiz_pairs(real, fake, 7)


def test_static_quiz_prints_the_answer_key(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_STATIC_WIDGETS", "1")
    evaluation.real_or_fake_quiz(torch.ones(4, 1, 28, 28), torch.zeros(4, 1, 28, 28), rounds=4)
    assert "Answer key" in capsys.readouterr().out


def test_figures_draw():
    fig = evaluation.plot_disturbance_response([0, 0.5, 1], {"FID": {"blur": [0, 1, 2]}, "IS": {"blur": [9, 8, 7]}},
                                               examples={"blur": torch.rand(3, 1, 28, 28)})
    assert len(fig.axes) == 3
    fig = evaluation.plot_fid_bias({500: 2.0, 1000: 1.0}, 0.0, 1000.0)
    assert fig.axes
