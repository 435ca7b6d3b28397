"""course_lib.metrics.classifier: the architecture, the shipped weights (loaded, never trained here), judging.

The tests that need data use the offline MNIST copy in ../shared/datasets (the official test split
standing in for both splits); without it they are skipped."""
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from course_lib import data
from course_lib.metrics import classifier, judging

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
needs_mnist = pytest.mark.skipif(not (SHARED / "MNIST/raw/t10k-images-idx3-ubyte.gz").is_file(),
                                 reason="needs the offline MNIST copy in ../shared/datasets")


def _offline_mnist(patch, cache):
    patch.setenv("COURSE_DATA_DIR", str(SHARED))
    patch.setenv("COURSE_MNIST_STANDIN", "1")
    patch.setenv("COURSE_OFFLINE", "1")
    patch.setenv("COURSE_CHECKPOINT_DIR", str(cache))      # an empty cache: only the shipped weights can load


def _no_training(*args, **kwargs):
    raise AssertionError("load_classifier trained a classifier instead of loading the shipped weights")


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """(model, stand-in test split, what load_classifier printed), loaded with training forbidden."""
    cache = tmp_path_factory.mktemp("checkpoints")
    with pytest.MonkeyPatch.context() as patch:
        _offline_mnist(patch, cache)
        patch.setattr(classifier, "train_classifier", _no_training)
        model = classifier.load_classifier("mnist")
        test = data.load_mnist("test")
    assert not any(cache.iterdir())                       # nothing trained, nothing cached
    return model, test


@pytest.fixture(scope="module")
def model(loaded):
    return loaded[0]


@pytest.fixture(scope="module")
def mnist(loaded):
    return loaded[1]


# ---- the architecture (no data needed) -------------------------------------------------------------

def test_architecture_features_and_logits():
    torch.manual_seed(0)
    net = classifier.CourseClassifier()
    net.eval()
    x = torch.rand(3, 1, 28, 28)
    features = net.features(x)
    assert features.shape == (3, 128) == (3, classifier.FEATURE_DIM)
    logits = net(x)
    assert logits.shape == (3, 10)
    assert torch.allclose(logits, net.head(features), atol=1e-6)          # logits come from the features
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [m.out_channels for m in convs] == [32, 32, 64, 64, 128]
    assert sum(isinstance(m, nn.MaxPool2d) for m in net.modules()) == 2      # 28 -> 14 -> 7: three stages
    assert any(isinstance(m, nn.AdaptiveAvgPool2d) for m in net.modules())
    assert any(isinstance(m, nn.Dropout) for m in net.head) and net.head[-1].in_features == 128
    assert classifier.CourseClassifier(num_classes=4, width=8)(x).shape == (3, 4)
    assert classifier.CourseClassifier(width=8).features(x).shape == (3, 32)
    with pytest.raises(ValueError, match=r"\[N, 1, 28, 28\]"):
        net.features(torch.rand(3, 3, 28, 28))
    with pytest.raises(ValueError, match=r"\[N, 1, 28, 28\]"):
        net(torch.rand(3, 28, 28))


def test_junk_images_and_fingerprints():
    junk = classifier.junk_images(64, torch.Generator().manual_seed(0))
    assert junk.shape == (64, 1, 28, 28) and float(junk.min()) >= 0 and float(junk.max()) <= 1
    assert torch.equal(junk, classifier.junk_images(64, torch.Generator().manual_seed(0)))
    images = torch.rand(10, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    labels = torch.arange(10)
    fingerprint = classifier.data_fingerprint(images, labels)
    assert len(fingerprint) == 12 and fingerprint == classifier.data_fingerprint(images.clone(), labels.clone())
    other_labels = labels.clone()
    other_labels[0] = 1
    assert classifier.data_fingerprint(images, other_labels) != fingerprint
    assert classifier.data_fingerprint(images.roll(1, 0), labels) != fingerprint


def test_accuracy_counts_correct_predictions():
    class Constant(nn.Module):
        def __init__(self):
            super().__init__()
            self.bias = nn.Parameter(torch.zeros(10))

        def forward(self, x):
            return self.bias.expand(len(x), 10) + nn.functional.one_hot(torch.full((len(x),), 3), 10)

    images = torch.rand(8, 1, 28, 28)
    assert classifier.accuracy(Constant(), images, torch.tensor([3, 3, 3, 0, 0, 0, 0, 0]), batch_size=3) == 3 / 8
    with pytest.raises(ValueError, match="shape"):
        classifier.accuracy(Constant(), images, torch.tensor([3]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        classifier.accuracy(Constant(), images * 2 - 1, torch.zeros(8, dtype=torch.long))
    with pytest.raises(ValueError, match="dataset"):
        classifier.load_classifier("svhn")


# ---- the shipped weights -------------------------------------------------------------------------

@needs_mnist
def test_shipped_weights_reach_99_percent_on_the_standin_test_part(model, mnist):
    assert len(mnist) == 2000                                 # the stand-in's test part, disjoint from its train part
    assert classifier.accuracy(model, mnist.images, mnist.labels) >= 0.99


@needs_mnist
def test_classifier_is_frozen_and_in_eval_mode(model):
    assert isinstance(model, classifier.CourseClassifier)
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())
    assert all(p.dtype == torch.float32 and p.device.type == "cpu" for p in model.parameters())


@needs_mnist
def test_real_digits_are_recognised_and_junk_is_not(model, mnist):
    real = judging.judge_samples(mnist.images[:300], model)
    assert real.confident_share > 0.95 and real.classes_present == 10
    assert real.entropy > 0.95 * math.log(10)
    assert "classes present" in real.summary()
    # Non-digits must not pass as confident digits (the classifier saw such junk with uniform targets).
    generator = torch.Generator().manual_seed(123)
    for junk in (torch.rand(200, 1, 28, 28, generator=generator), classifier.junk_images(200, generator),
                 torch.full((20, 1, 28, 28), 0.5), torch.zeros(5, 1, 28, 28)):
        judgement = judging.judge_samples(junk, model)
        assert judgement.confident_share < 0.1, judgement.summary()


@needs_mnist
def test_value_range_is_applied(model, mnist):
    unit = judging.judge_samples(mnist.images[:100], model)
    tanh = judging.judge_samples(mnist.images[:100] * 2 - 1, model, value_range=(-1, 1))
    assert torch.equal(unit.predictions, tanh.predictions)
    assert torch.allclose(unit.confidences, tanh.confidences, atol=1e-5)
    with pytest.raises(ValueError, match=r"value_range=\(-1, 1\)"):
        judging.judge_samples(mnist.images[:4] * 2 - 1, model)


@needs_mnist
def test_features_of_the_trained_classifier_separate_the_classes(model, mnist):
    features = model.features(mnist.images[:200])
    assert features.shape == (200, 128) and torch.isfinite(features).all()
    labels = mnist.labels[:200]
    centroids = torch.stack([features[labels == c].mean(0) for c in range(10)])
    nearest = torch.cdist(features, centroids).argmin(1)
    assert float((nearest == labels).float().mean()) > 0.9

