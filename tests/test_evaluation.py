"""Lecture 6's experiments: the disturbances, the generators that fool a metric, the quiz."""
from __future__ import annotations

import math

import pytest
import scipy.linalg
import torch

from course_lib import evaluation
from course_lib.checks import CheckFailed
from course_lib.exercises import lecture06 as ex
from course_lib.metrics import scores


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


# ---------------------------------------------------------------- the checks behind the exercises

def _reference_is(probs):
    return scores.inception_score(probs, from_logits=False)


def _solution_fd(m1, c1, m2, c2):
    """The notebook's solution route: scipy's sqrtm, imaginary round-off checked and dropped."""
    m1, c1, m2, c2 = (t.detach().double() for t in (m1, c1, m2, c2))
    root = scipy.linalg.sqrtm((c1 @ c2).numpy())
    if root.dtype.kind == "c":
        assert abs(root.imag).max() <= 1e-6 * max(abs(root.real).max(), 1e-12)
        root = root.real
    return float(((m1 - m2) ** 2).sum() + torch.trace(c1) + torch.trace(c2)) - 2 * float(root.trace())


def _eig_fd(m1, c1, m2, c2):
    """The other route the exercise names: square roots of the eigenvalues of C1 C2."""
    m1, c1, m2, c2 = (t.detach().double() for t in (m1, c1, m2, c2))
    roots = torch.linalg.eigvals(c1 @ c2).real.clamp_min(0).sqrt().sum()
    return float(((m1 - m2) ** 2).sum() + torch.trace(c1) + torch.trace(c2) - 2 * roots)


def _mmd(x, y, gamma=None, degree=3, biased=False, cross=2.0):
    gamma = 1 / x.shape[1] if gamma is None else gamma
    kxx, kyy, kxy = ((gamma * a @ b.T + 1) ** degree for a, b in ((x, x), (y, y), (x, y)))
    if biased:
        return float(kxx.mean() + kyy.mean() - 2 * kxy.mean())
    m, n = len(x), len(y)
    return float((kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
                 + (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1)) - cross * kxy.mean())


def test_check_inception_score():
    ex.check_inception_score(_reference_is)

    def no_exp(p):
        m = p.mean(0)
        return float((torch.xlogy(p, p) - torch.xlogy(p, m.expand_as(p))).sum(1).mean())

    def swapped(p):
        m = p.mean(0)
        return math.exp(float(-torch.xlogy(p, p).sum(1).mean() + torch.xlogy(m, m).sum()))

    def naive_log(p):   # p * log(p): NaN at exact zeros
        m = p.mean(0)
        return float(torch.exp((p * torch.log(p) - p * torch.log(m)).sum(1).mean()))

    def row_marginal(p):
        m = p.mean(1, keepdim=True)
        return float(torch.exp((torch.xlogy(p, p) - torch.xlogy(p, m.expand_as(p))).sum(1).mean()))

    def mean_of_exp(p):
        m = p.mean(0)
        return float(torch.exp((torch.xlogy(p, p) - torch.xlogy(p, m.expand_as(p))).sum(1)).mean())

    def in_place(p):
        value = _reference_is(p)
        p[0] = p[0].flip(0)
        return value

    cases = [(lambda p: None, "None"), (no_exp, "ln 10"), (swapped, "swapped"), (naive_log, "NaN|0 \\* log 0"),
             (row_marginal, "mean over the samples"), (mean_of_exp, "exp of the average"),
             (in_place, "in place"), (lambda p: torch.tensor([1.0, 2.0]), "shape"),
             (lambda p: complex(_reference_is(p), 1.0), "complex")]
    for student, message in cases:
        with pytest.raises(CheckFailed, match=message):
            ex.check_inception_score(student)


def test_check_frechet_distance():
    ex.check_frechet_distance(scores.frechet_distance)
    ex.check_frechet_distance(_solution_fd)
    ex.check_frechet_distance(_eig_fd)

    def squared(m1, c1, m2, c2):   # the slides' slip
        p = c1 @ c2
        return float(((m1 - m2) ** 2).sum() + torch.trace(c1) + torch.trace(c2) - 2 * torch.trace(p @ p))

    def no_mean(m1, c1, m2, c2):
        return _eig_fd(m1 * 0, c1, m2 * 0, c2)

    def elementwise(m1, c1, m2, c2):
        p = (c1.double() @ c2.double()).clamp_min(0).sqrt()
        return float(((m1 - m2) ** 2).sum() + torch.trace(c1) + torch.trace(c2) - 2 * torch.trace(p))

    def complex_root(m1, c1, m2, c2):
        root = scipy.linalg.sqrtm((c1.double() @ c2.double()).numpy().astype(complex))
        return complex(float(((m1 - m2) ** 2).sum() + torch.trace(c1) + torch.trace(c2)) - 2 * root.trace())

    def no_two(m1, c1, m2, c2):
        roots = torch.linalg.eigvals(c1.double() @ c2.double()).real.clamp_min(0).sqrt().sum()
        return float(((m1 - m2) ** 2).sum() + torch.trace(c1) + torch.trace(c2) - roots)

    cases = [(squared, "squared"), (no_mean, "mean term is missing"), (elementwise, "entry by entry"),
             (complex_root, "complex"), (no_two, "factor 2"), (lambda *a: None, "None"),
             (lambda *a: math.sqrt(max(_eig_fd(*a), 0)), "square root of the distance|expected")]
    for student, message in cases:
        with pytest.raises(CheckFailed, match=message):
            ex.check_frechet_distance(student)


def test_check_mmd2_unbiased():
    ex.check_mmd2_unbiased(lambda x, y: scores.kid(x, y).mean)
    ex.check_mmd2_unbiased(_mmd)
    cases = [(lambda x, y: _mmd(x, y, biased=True), "biased"), (lambda x, y: _mmd(x, y, gamma=1.0), "1/d"),
             (lambda x, y: _mmd(x, y, degree=2), "cubic"), (lambda x, y: _mmd(x, y, cross=1.0), "factor 2"),
             (lambda x, y: max(_mmd(x, y), 0.0), "clamp"), (lambda x, y: "0.1", "a float")]
    for student, message in cases:
        with pytest.raises(CheckFailed, match=message):
            ex.check_mmd2_unbiased(student)


def test_load_finished_run_takes_only_finished_fitting_runs_and_never_touches_files(tmp_path, monkeypatch):
    from torch import nn

    from course_lib.train import checkpoints

    monkeypatch.setenv("COURSE_CHECKPOINT_DIR", str(tmp_path))
    monkeypatch.setenv("COURSE_QUICK", "1")
    source, target = nn.Linear(3, 2), nn.Linear(3, 2)
    with torch.no_grad():
        source.weight.fill_(7.0)
    assert evaluation.load_finished_run(target, "l9_model", "G", steps=10) is None        # no file at all
    checkpoints.save_parts(tmp_path / "l9_model-sr-quick.pt", 5, {"G": source})           # interrupted run
    checkpoints.save_parts(tmp_path / "l9_model-full.pt", 10, {"G": source})              # another mode
    checkpoints.save_parts(tmp_path / "l9_modelx-s-quick.pt", 10, {"G": source})          # another run's name
    (tmp_path / "l9_model-rr-quick.pt").write_bytes(b"not a checkpoint")                  # broken file
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    original = target.weight.detach().clone()
    assert evaluation.load_finished_run(target, "l9_model", "G", steps=10) is None
    assert torch.equal(target.weight, original)
    checkpoints.save_parts(tmp_path / "l9_model-ss-quick.pt", 10, {"G": nn.Linear(4, 2)})  # does not fit
    assert evaluation.load_finished_run(target, "l9_model", "G", steps=10) is None
    assert torch.equal(target.weight, original)
    checkpoints.save_parts(tmp_path / "l9_model-s-quick.pt", 12, {"G": source, "D": nn.Linear(1, 1)})
    found = evaluation.load_finished_run(target, "l9_model", "G", steps=10)
    assert found is not None and found.name == "l9_model-s-quick.pt"
    assert float(target.weight.detach().min()) == 7.0
    assert all((tmp_path / name).read_bytes() == data for name, data in before.items())   # nothing rewritten
