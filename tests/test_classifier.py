"""The course classifier (lecture 4 on): shipped weights, judging, nearest neighbours, bad inputs."""
import math

from pathlib import Path

import pytest
import torch

from course_lib import classifier, data

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
pytestmark = pytest.mark.skipif(not (SHARED / "MNIST/raw/t10k-images-idx3-ubyte.gz").is_file(),
                                reason="needs the offline MNIST copy in ../shared/datasets")


def _with_offline_mnist(load):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSE_DATA_DIR", str(SHARED))
        patch.setenv("COURSE_MNIST_STANDIN", "1")
        patch.setenv("COURSE_OFFLINE", "1")
        return load()


@pytest.fixture(scope="module")
def mnist():
    return _with_offline_mnist(lambda: data.load_mnist("test"))


@pytest.fixture(scope="module")
def model():
    # The stand-in's weights ship with the course, so this loads them and never trains.
    return _with_offline_mnist(lambda: classifier.load_classifier("mnist"))


def test_shipped_weights_reach_98_percent_on_the_test_split(model, mnist):
    assert classifier.accuracy(model, mnist.images, mnist.labels) >= 0.98


def test_classifier_is_frozen_and_in_eval_mode(model):
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())


def test_judging_real_digits_vs_noise(model, mnist):
    real = classifier.judge_samples(mnist.images[:500], model)
    assert real.confident_share > 0.95
    assert real.classes_present == 10
    assert real.entropy > 0.95 * math.log(10)
    # Non-digits must not pass as confident digits (the classifier saw such junk with uniform targets).
    generator = torch.Generator().manual_seed(123)
    for junk in (torch.rand(500, 1, 28, 28, generator=generator), classifier.junk_images(500, generator),
                 torch.full((50, 1, 28, 28), 0.5)):
        assert classifier.judge_samples(junk, model).confident_share < 0.1
    assert "classes present" in real.summary()


def test_value_range_is_applied(model, mnist):
    unit = classifier.judge_samples(mnist.images[:200], model)
    tanh = classifier.judge_samples(mnist.images[:200] * 2 - 1, model, value_range=(-1, 1))
    assert torch.equal(unit.predictions, tanh.predictions)


def test_histogram_and_entropy_of_one_class():
    judgement = classifier.SampleJudgement(torch.zeros(20, dtype=torch.long), torch.ones(20), 0.9)
    assert judgement.entropy == 0.0
    assert judgement.classes_present == 1
    assert judgement.class_counts.tolist() == [20] + [0] * 9


def test_nearest_training_image_of_a_training_image_is_itself(mnist):
    train = mnist.images[:300]
    distances, indices = classifier.nearest_training_images(train[[5, 17]] * 2 - 1, train, k=2, value_range=(-1, 1))
    assert indices[:, 0].tolist() == [5, 17]
    assert torch.allclose(distances[:, 0], torch.zeros(2), atol=1e-3)
    assert (distances[:, 1] > 0.05).all()


@pytest.mark.parametrize("images, message", [
    (torch.rand(4, 28, 28), "shape"),
    (torch.rand(4, 3, 28, 28), "shape"),
    (torch.randint(0, 255, (4, 1, 28, 28)), "float"),
    (torch.full((4, 1, 28, 28), float("nan")), "NaN"),
    (torch.rand(4, 1, 28, 28) * 2 - 1, "value_range"),
])
def test_bad_images_get_clear_errors(model, images, message):
    with pytest.raises((ValueError, TypeError), match=message):
        classifier.judge_samples(images, model)


def test_bad_arguments(model, mnist):
    with pytest.raises(ValueError, match="dataset"):
        classifier.load_classifier("svhn")
    with pytest.raises(ValueError, match="confidence"):
        classifier.judge_samples(mnist.images[:4], model, confidence=1.5)
    with pytest.raises(ValueError, match="k must"):
        classifier.nearest_training_images(mnist.images[:4], mnist.images[:10], k=11)


def test_figures_draw(model, mnist):
    import matplotlib.pyplot as plt
    judgement = classifier.judge_samples(mnist.images[:100], model)
    plt.close(classifier.show_judgement(judgement, images=mnist.images[:100]))
    plt.close(classifier.show_nearest(mnist.images[:4], mnist.images[:50]))
