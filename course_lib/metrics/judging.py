"""Judging generated images with the course classifier: the confident share and the class histogram.

"Classified with confidence >= 0.9" counts samples that look like *some* digit (the classifier
was trained to give non-digits low confidence); the entropy of the predicted-class histogram
says whether all classes are there (ln 10 = 2.303 nats when they are equally common) or the
generator collapsed onto a few.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import torch
from torch import nn

from .. import viz
from ..inference import in_batches
from ..validate import check_images, check_number, check_value_range


@dataclass(frozen=True)
class SampleJudgement:
    """Lecture 4. What the course classifier says about a batch of samples.

    ``predictions`` and ``confidences`` (``[N]``): the most likely class of each sample and its
    probability; ``threshold``: the confidence that counts as "recognised".
    """

    predictions: torch.Tensor
    confidences: torch.Tensor
    threshold: float
    num_classes: int = 10

    @property
    def confident_share(self) -> float:
        """Share of samples whose top class has probability >= ``threshold``."""
        return (self.confidences >= self.threshold).float().mean().item()

    @property
    def class_counts(self) -> torch.Tensor:
        """How many samples were assigned to each class (all samples, confident or not), ``[num_classes]``."""
        return torch.bincount(self.predictions, minlength=self.num_classes)

    @property
    def class_share(self) -> torch.Tensor:
        """:attr:`class_counts` as fractions."""
        return self.class_counts.float() / max(len(self.predictions), 1)

    @property
    def entropy(self) -> float:
        """Entropy (nats) of the predicted-class histogram: ln(num_classes) when all classes are equally common."""
        share = self.class_share
        share = share[share > 0]
        return float(-(share * share.log()).sum()) + 0.0   # + 0.0 turns -0.0 (one class only) into 0.0

    @property
    def classes_present(self) -> int:
        """Classes predicted with confidence >= ``threshold`` at least once."""
        confident = self.predictions[self.confidences >= self.threshold]
        return int(torch.unique(confident).numel())

    def confident_counts(self) -> torch.Tensor:
        """Confidently classified samples per class, ``[num_classes]``."""
        return torch.bincount(self.predictions[self.confidences >= self.threshold], minlength=self.num_classes)

    def summary(self) -> str:
        """One line for printing."""
        return (f"{len(self.predictions)} samples: {self.confident_share:.1%} classified with confidence "
                f">= {self.threshold}, {self.classes_present}/{self.num_classes} classes present, class-histogram "
                f"entropy {self.entropy:.3f} nats (max {math.log(self.num_classes):.3f})")


def judge_samples(images: torch.Tensor, classifier: nn.Module, *, value_range: tuple[float, float] = (0.0, 1.0),
                  confidence: float = 0.9, batch_size: int = 1000) -> SampleJudgement:
    """Lecture 4. Classify generated ``images`` ``[N, 1, 28, 28]`` with the course classifier.

    ``value_range``: the range the images are in, e.g. ``(-1, 1)`` for a tanh generator; they are
    mapped to [0, 1] (what the classifier takes) first.
    """
    low, high = check_value_range(value_range)
    check_images(images, "images", channels=1, size=28, value_range=(low, high))
    check_number(confidence, "confidence", 0.0, strict=True, maximum=1.0)
    unit = viz.to_unit_range(images.detach().float(), (low, high))
    probabilities = in_batches(classifier, unit, fn=lambda x: classifier(x).softmax(1), batch_size=batch_size)
    top, predictions = probabilities.max(1)
    return SampleJudgement(predictions, top, confidence, num_classes=probabilities.shape[1])


def show_judgement(judgement: SampleJudgement, images: torch.Tensor | None = None, title: str | None = None,
                   value_range: tuple[float, float] = (0.0, 1.0), class_names: tuple[str, ...] | None = None
                   ) -> plt.Figure:
    """Lecture 4. Bar chart of the predicted classes (the confident part darker); optionally 32 samples beside it."""
    counts = judgement.class_counts.float()
    confident = judgement.confident_counts().float()
    names = class_names or tuple(str(c) for c in range(judgement.num_classes))
    fig, axes = plt.subplots(1, 2 if images is not None else 1, figsize=(11 if images is not None else 6, 3.2),
                             squeeze=False)
    ax = axes[0, 0]
    ax.bar(names, counts.numpy(), color="#c7d7ea", label="all samples")
    ax.bar(names, confident.numpy(), color="#2b6cb0", label=f"confidence >= {judgement.threshold}")
    ax.axhline(len(judgement.predictions) / judgement.num_classes, color="grey", ls="--", lw=1, label="uniform")
    ax.set_ylabel("samples")
    ax.set_title(title or f"{judgement.confident_share:.0%} confident, entropy {judgement.entropy:.2f} nats")
    ax.legend(fontsize=8)
    if images is not None:
        grid = viz.image_grid(images[:32].detach().cpu(), nrow=8, value_range=value_range)
        axes[0, 1].imshow(grid)
        axes[0, 1].axis("off")
        axes[0, 1].set_title("samples")
    fig.tight_layout()
    return fig
