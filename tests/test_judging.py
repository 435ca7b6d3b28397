"""course_lib.metrics.judging: SampleJudgement's numbers, judge_samples' value ranges and errors, the figure."""
import math

import matplotlib.pyplot as plt
import pytest
import torch
from torch import nn

from course_lib.metrics import judging


def _judgement(predictions, confidences, threshold=0.9, num_classes=10):
    return judging.SampleJudgement(torch.tensor(predictions), torch.tensor(confidences), threshold, num_classes)


def test_one_class_has_zero_entropy():
    judgement = judging.SampleJudgement(torch.zeros(20, dtype=torch.long), torch.ones(20), 0.9)
    assert judgement.entropy == 0.0 and judgement.classes_present == 1 and judgement.confident_share == 1.0
    assert judgement.class_counts.tolist() == [20] + [0] * 9
    assert judgement.confident_counts().tolist() == [20] + [0] * 9
    assert "entropy 0.000 nats" in judgement.summary()      # not "-0.000"


def test_counts_shares_entropy_and_confident_classes():
    j = _judgement([0, 0, 1, 2, 2, 2, 3, 3], [0.95, 0.5, 0.99, 0.9, 0.2, 0.91, 0.3, 0.1], num_classes=5)
    assert j.class_counts.tolist() == [2, 1, 3, 2, 0]
    assert torch.allclose(j.class_share, torch.tensor([0.25, 0.125, 0.375, 0.25, 0.0]))
    assert j.confident_counts().tolist() == [1, 1, 2, 0, 0]       # >= threshold counts (0.9 is in)
    assert j.confident_share == pytest.approx(4 / 8)
    assert j.classes_present == 3                                 # class 3 is predicted, never confidently
    shares = torch.tensor([0.25, 0.125, 0.375, 0.25])
    assert j.entropy == pytest.approx(float(-(shares * shares.log()).sum()))
    uniform = _judgement(list(range(10)) * 3, [1.0] * 30)
    assert uniform.entropy == pytest.approx(math.log(10)) and uniform.classes_present == 10
    summary = j.summary()
    assert summary.startswith("8 samples: 50.0% classified with confidence >= 0.9, 3/5 classes present")
    assert f"max {math.log(5):.3f}" in summary


class _BrightnessClassifier(nn.Module):
    """Predicts class round(9 * mean brightness) with a confidence that grows with a scale; records its inputs."""

    def __init__(self, scale=20.0):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(scale))
        self.seen = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        brightness = x.mean(dim=(1, 2, 3))
        centres = torch.arange(10.0) / 9
        return -self.scale * (brightness[:, None] - centres).abs() * 9


def _images(brightness):
    return torch.stack([torch.full((1, 28, 28), float(b)) for b in brightness])


def test_judge_samples_maps_the_value_range_to_unit_and_restores_the_mode():
    classifier = _BrightnessClassifier()
    classifier.train()
    unit = _images([0.0, 1 / 9, 5 / 9, 1.0])
    judged = judging.judge_samples(unit, classifier)
    assert judged.predictions.tolist() == [0, 1, 5, 9] and judged.num_classes == 10 and classifier.training
    assert all(float(c) > 0.99 for c in judged.confidences)
    tanh = judging.judge_samples(unit * 2 - 1, classifier, value_range=(-1, 1))
    assert torch.equal(tanh.predictions, judged.predictions)
    assert torch.allclose(classifier.seen[-1], unit)            # the classifier always sees [0, 1]
    lenient = judging.judge_samples(unit, _BrightnessClassifier(scale=0.1), confidence=0.5)
    assert lenient.threshold == 0.5 and lenient.confident_share == 0.0


def test_judge_samples_batches_give_the_same_answer():
    classifier = _BrightnessClassifier()
    images = _images(torch.rand(7, generator=torch.Generator().manual_seed(0)).tolist())
    whole = judging.judge_samples(images, classifier)
    batched = judging.judge_samples(images, classifier, batch_size=3)
    assert torch.equal(whole.predictions, batched.predictions)
    assert torch.allclose(whole.confidences, batched.confidences)
    assert [len(x) for x in classifier.seen[-3:]] == [3, 3, 1]


@pytest.mark.parametrize("images, kwargs, error, message", [
    (torch.rand(4, 28, 28), {}, ValueError, "shape"),
    (torch.rand(4, 3, 28, 28), {}, ValueError, "channel"),
    (torch.rand(4, 1, 32, 32), {}, ValueError, "28x28"),
    (torch.randint(0, 255, (4, 1, 28, 28)), {}, TypeError, "float"),
    (torch.full((4, 1, 28, 28), float("nan")), {}, ValueError, "NaN"),
    (torch.rand(4, 1, 28, 28) * 2 - 1, {}, ValueError, r"pass value_range=\(-1, 1\)"),
    (torch.rand(4, 1, 28, 28) * 255, {}, ValueError, r"must lie in \[0, 1\]"),
    (torch.rand(4, 1, 28, 28), {"value_range": (-1, 1)}, None, None),
    (torch.rand(4, 1, 28, 28), {"value_range": (1, -1)}, ValueError, "high > low"),
    (torch.rand(4, 1, 28, 28) * 3, {"value_range": (-1, 1)}, ValueError, r"\[-1, 1\]"),
    (torch.rand(4, 1, 28, 28), {"confidence": 1.5}, ValueError, "confidence"),
    (torch.rand(4, 1, 28, 28), {"confidence": 0.0}, ValueError, "confidence"),
])
def test_judge_samples_errors(images, kwargs, error, message):
    classifier = _BrightnessClassifier()
    if error is None:                       # [0, 1] images are inside (-1, 1): accepted
        assert len(judging.judge_samples(images, classifier, **kwargs).predictions) == 4
        return
    with pytest.raises(error, match=message):
        judging.judge_samples(images, classifier, **kwargs)
    assert classifier.seen == []            # rejected before the classifier runs


def test_show_judgement_draws_bars_and_samples():
    j = _judgement([0, 1, 1, 2], [0.95, 0.5, 0.99, 0.9])
    fig = judging.show_judgement(j, images=_images([0.1, 0.2, 0.3, 0.4]), title="t")
    assert isinstance(fig, plt.Figure) and len(fig.axes) == 2 and fig.axes[0].get_title() == "t"
    heights = [bar.get_height() for bar in fig.axes[0].patches]
    assert heights[:10] == [1, 2, 1] + [0] * 7 and heights[10:] == [1, 1, 1] + [0] * 7
    assert len(judging.show_judgement(j).axes) == 1
