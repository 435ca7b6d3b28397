"""The course classifier: a small CNN that judges generated digits (lecture 4 on).

Generative models are hard to evaluate by eye, so from lecture 4 on the course asks a classifier
trained on the real data: how many samples does it recognise with confidence, and are all ten
classes there? Read it top to bottom:

* :class:`CourseClassifier`, the network (two conv stages, ~110k parameters);
* :func:`load_classifier`, which returns it trained: from the weights shipped in
  ``course_lib/weights/`` when they were trained on exactly the data this machine has, else from
  the checkpoint cache, else it trains once (a few minutes on a laptop CPU) and caches the result;
* :func:`judge_samples` and :class:`SampleJudgement`: confident share, class histogram, entropy;
* :func:`nearest_training_images` / :func:`show_nearest`: is the generator copying its data?

Reproduce the shipped weights with ``python -m course_lib.classifier --ship`` (see ``main``).
"""
from __future__ import annotations

import argparse
import hashlib
import math
import time
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from . import data, train, viz
from .config import seed_everything

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
#: Datasets the classifier knows, with their class names taken from ``course_lib.data``.
KNOWN_DATASETS = ("mnist", "fashion_mnist")
#: How many training images the classifier sees in all (epochs = this / training-set size, at least 3).
IMAGES_SEEN = 120_000


class CourseClassifier(nn.Module):
    """A small CNN for 28x28 grey images in [0, 1]; returns class logits ``[N, 10]``."""

    def __init__(self, num_classes: int = 10, width: int = 32) -> None:
        super().__init__()

        def block(c_in: int, c_out: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())

        self.features = nn.Sequential(
            block(1, width), block(width, width), nn.MaxPool2d(2),              # 14x14
            block(width, 2 * width), block(2 * width, 2 * width), nn.MaxPool2d(2),  # 7x7
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(2 * width * 7 * 7, num_classes))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        _check_images(images, (0.0, 1.0), "classifier input")
        return self.head(self.features(images))


def _check_images(images: torch.Tensor, value_range: tuple[float, float], what: str) -> None:
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{what}: expected a tensor of images, got {type(images).__name__}")
    if images.dim() != 4 or tuple(images.shape[1:]) != (1, 28, 28):
        raise ValueError(f"{what}: expected images of shape [N, 1, 28, 28], got {list(images.shape)}")
    if not images.is_floating_point():
        raise TypeError(f"{what}: expected float pixels, got dtype {images.dtype}")
    if images.numel() and not torch.isfinite(images).all():
        raise ValueError(f"{what}: the images contain NaN or infinite values")
    low, high = value_range
    if images.numel() and (images.min() < low - 1e-3 or images.max() > high + 1e-3):
        raise ValueError(f"{what}: pixel values span [{images.min():.3g}, {images.max():.3g}], outside the "
                         f"declared value_range {value_range}. Pass value_range=(-1, 1) for tanh outputs.")


def data_fingerprint(images: torch.Tensor, labels: torch.Tensor) -> str:
    """A short hash of the training data: weights are reused only for exactly the same data."""
    digest = hashlib.md5()
    digest.update((images * 255).round().to(torch.uint8).numpy().tobytes())
    digest.update(labels.to(torch.int64).numpy().tobytes())
    return digest.hexdigest()[:12]


def _shift(images: torch.Tensor, generator: torch.Generator, max_shift: int = 2) -> torch.Tensor:
    """Random translations by up to ``max_shift`` pixels: cheap augmentation that adds ~0.5% accuracy."""
    padded = F.pad(images, [max_shift] * 4)
    dx, dy = torch.randint(0, 2 * max_shift + 1, (2,), generator=generator).tolist()
    return padded[:, :, dy:dy + 28, dx:dx + 28]


def junk_images(n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` images that are no digit: uniform noise, smooth noise, blobs, flat grey (lecture 4).

    A plain CNN calls such images "8" with 100% confidence, which would let an untrained generator
    look good. Training the classifier to answer them with a uniform distribution ("outlier
    exposure") makes "classified with confidence >= 0.9" mean "looks like a digit".
    """
    kind = torch.randint(0, 4, (n, 1, 1, 1), generator=generator)
    uniform = torch.rand(n, 1, 28, 28, generator=generator)
    cells = int(torch.randint(3, 10, (1,), generator=generator))
    smooth = F.interpolate(torch.rand(n, 1, cells, cells, generator=generator), size=28, mode="bilinear",
                           align_corners=False)
    blobs = (smooth > 0.6).float()
    flat = torch.rand(n, 1, 1, 1, generator=generator).expand(n, 1, 28, 28)
    return torch.where(kind == 0, uniform, torch.where(kind == 1, smooth, torch.where(kind == 2, blobs, flat)))


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    """Share of ``images`` (in [0, 1]) whose predicted class equals ``labels`` (lecture 4)."""
    was_training = model.training
    model.eval()
    correct = sum((model(images[i:i + batch_size]).argmax(1) == labels[i:i + batch_size]).sum().item()
                  for i in range(0, len(images), batch_size))
    model.train(was_training)
    return correct / len(images)


def train_classifier(train_set: data.ImageSet, test_set: data.ImageSet | None = None, *,
                     images_seen: int = IMAGES_SEEN, seed: int = 0,
                     device: torch.device | str = "cpu") -> tuple[CourseClassifier, dict]:
    """Train a :class:`CourseClassifier` from scratch (lecture 4). Returns the model and a report.

    Cross-entropy on the digits (randomly shifted by up to 2 pixels) plus, on :func:`junk_images`,
    cross-entropy to the uniform distribution, so that non-digits get low confidence.
    """
    seed_everything(seed)
    generator = torch.Generator().manual_seed(seed)
    model = CourseClassifier(num_classes=len(train_set.classes)).to(device)
    epochs = max(3, math.ceil(images_seen / len(train_set)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    batches = data.Batches(train_set.images, train_set.labels, batch_size=128, shuffle=True, drop_last=True,
                           device=device, seed=seed)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=4e-3, total_steps=epochs * len(batches))

    def loss_fn(net: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        images, labels = batch
        junk = junk_images(len(images) // 4, generator).to(images.device)
        logits = net(torch.cat([_shift(images, generator), junk]))
        digits_loss = F.cross_entropy(logits[:len(images)], labels)
        junk_loss = -logits[len(images):].log_softmax(1).mean()   # cross-entropy to the uniform distribution
        return digits_loss + 0.5 * junk_loss, {"junk_loss": junk_loss.item()}

    start = time.time()
    train.fit(model, optimizer, loss_fn, batches, epochs, desc=f"course classifier ({train_set.name})",
              scheduler=scheduler)
    report = {"dataset": train_set.name, "train_size": len(train_set), "epochs": epochs,
              "seconds": round(time.time() - start, 1),
              "fingerprint": data_fingerprint(train_set.images, train_set.labels)}
    if test_set is not None:
        report["test_accuracy"] = accuracy(model, test_set.images.to(device), test_set.labels.to(device))
        junk = judge_samples(junk_images(1000, torch.Generator().manual_seed(seed + 1)), model)
        report["junk_confident_share"] = junk.confident_share
    return model.eval(), report


def _weights_name(dataset: str, fingerprint: str) -> str:
    return f"classifier-{dataset}-{fingerprint}.pt"


def _save(model: CourseClassifier, report: dict, path: Path) -> None:
    # Half precision halves the shipped file; the predictions do not change measurably.
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    train.save_checkpoint(path, {"model": state, "report": report})


def _load(path: Path, num_classes: int, device: torch.device | str) -> tuple[CourseClassifier, dict]:
    saved = train.load_checkpoint(path)
    model = CourseClassifier(num_classes=num_classes)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in saved["model"].items()})
    return model.to(device).eval(), saved["report"]


def load_classifier(dataset: str = "mnist", device: torch.device | str | None = None,
                    verbose: bool = True) -> CourseClassifier:
    """The course classifier for ``dataset``, trained on its training split, frozen, in eval mode (lecture 4).

    Looks for weights trained on exactly this machine's training data (same fingerprint): first
    the ones shipped with the course, then the checkpoint cache; otherwise trains once (about a
    few minutes on a laptop CPU) and caches the weights. Input: ``[N, 1, 28, 28]`` in [0, 1].
    """
    if dataset not in KNOWN_DATASETS:
        raise ValueError(f"load_classifier: dataset must be one of {KNOWN_DATASETS}, got {dataset!r}")
    device = torch.device(device) if device is not None else torch.device("cpu")
    train_set = data.load_dataset(dataset, "train")
    fingerprint = data_fingerprint(train_set.images, train_set.labels)
    name = _weights_name(dataset, fingerprint)
    for path in (WEIGHTS_DIR / name, train.checkpoint_dir() / name):
        if path.is_file():
            model, report = _load(path, len(train_set.classes), device)
            break
    else:
        print(f"No course classifier for this {dataset} data yet: training one (once; cached as "
              f"{train.checkpoint_dir() / name}).")
        model, report = train_classifier(train_set, data.load_dataset(dataset, "test"), device=device)
        _save(model, report, train.checkpoint_dir() / name)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    if verbose and "test_accuracy" in report:
        print(f"Course classifier for {dataset}: test accuracy {report['test_accuracy']:.2%} "
              f"(trained on {report['train_size']} images).")
    return model


@dataclass(frozen=True)
class SampleJudgement:
    """What the course classifier says about a batch of samples (lecture 4).

    ``predictions`` and ``confidences`` hold, per sample, the most likely class and its probability.
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
        """How many samples were assigned to each class (all samples, confident or not)."""
        return torch.bincount(self.predictions, minlength=self.num_classes)

    @property
    def class_share(self) -> torch.Tensor:
        """:attr:`class_counts` as fractions."""
        return self.class_counts.float() / max(len(self.predictions), 1)

    @property
    def entropy(self) -> float:
        """Entropy (nats) of the predicted-class histogram: ln 10 = 2.303 when all classes are equally common."""
        share = self.class_share
        share = share[share > 0]
        return float(-(share * share.log()).sum())

    @property
    def classes_present(self) -> int:
        """Classes predicted with confidence >= ``threshold`` at least once."""
        confident = self.predictions[self.confidences >= self.threshold]
        return int(torch.unique(confident).numel())

    def summary(self) -> str:
        """One line for printing."""
        return (f"{len(self.predictions)} samples: {self.confident_share:.1%} classified with confidence "
                f">= {self.threshold}, {self.classes_present}/{self.num_classes} classes present, class-histogram "
                f"entropy {self.entropy:.3f} nats (max {math.log(self.num_classes):.3f})")


@torch.no_grad()
def judge_samples(images: torch.Tensor, classifier: nn.Module, *, value_range: tuple[float, float] = (0.0, 1.0),
                  confidence: float = 0.9, batch_size: int = 1000) -> SampleJudgement:
    """Classify generated ``images`` ``[N, 1, 28, 28]`` with the course classifier (lecture 4).

    ``value_range``: the range the images are in, e.g. ``(-1, 1)`` for a tanh generator.
    """
    _check_images(images, value_range, "judge_samples")
    if len(images) == 0:
        raise ValueError("judge_samples: got 0 images")
    if not 0 < confidence < 1:
        raise ValueError(f"judge_samples: confidence must be in (0, 1), got {confidence}")
    device = next(classifier.parameters()).device
    unit = viz.to_unit_range(images.detach().float(), value_range)
    probabilities = torch.cat([classifier(unit[i:i + batch_size].to(device)).softmax(1).cpu()
                               for i in range(0, len(unit), batch_size)])
    top, predictions = probabilities.max(1)
    return SampleJudgement(predictions, top, confidence, num_classes=probabilities.shape[1])


def show_judgement(judgement: SampleJudgement, images: torch.Tensor | None = None, title: str | None = None,
                   value_range: tuple[float, float] = (0.0, 1.0), class_names: tuple[str, ...] | None = None
                   ) -> plt.Figure:
    """Bar chart of the predicted classes (confident part darker); optionally a few samples beside it."""
    counts = judgement.class_counts.float()
    confident = torch.bincount(judgement.predictions[judgement.confidences >= judgement.threshold],
                               minlength=judgement.num_classes).float()
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


@torch.no_grad()
def nearest_training_images(samples: torch.Tensor, train_images: torch.Tensor, k: int = 1,
                            value_range: tuple[float, float] = (0.0, 1.0), chunk: int = 256
                            ) -> tuple[torch.Tensor, torch.Tensor]:
    """For each sample, the ``k`` closest training images in pixel space (lecture 4).

    ``samples`` are in ``value_range``; ``train_images`` in [0, 1] (as ``course_lib.data`` loads them).
    Returns ``(distances, indices)``, both ``[N, k]``; distances are root-mean-square pixel
    differences in [0, 1] units. Small distances for many samples mean the generator copies.
    """
    _check_images(samples, value_range, "nearest_training_images (samples)")
    _check_images(train_images, (0.0, 1.0), "nearest_training_images (train_images)")
    if not isinstance(k, int) or not 1 <= k <= len(train_images):
        raise ValueError(f"k must be an int between 1 and {len(train_images)}, got {k!r}")
    flat_train = train_images.detach().float().flatten(1).cpu()
    flat_samples = viz.to_unit_range(samples.detach().float(), value_range).flatten(1).cpu()
    distances, indices = [], []
    for i in range(0, len(flat_samples), chunk):
        d = torch.cdist(flat_samples[i:i + chunk], flat_train)
        best = d.topk(k, dim=1, largest=False)
        distances.append(best.values / math.sqrt(flat_train.shape[1]))
        indices.append(best.indices)
    return torch.cat(distances), torch.cat(indices)


def show_nearest(samples: torch.Tensor, train_images: torch.Tensor, n: int = 8,
                 value_range: tuple[float, float] = (0.0, 1.0)) -> plt.Figure:
    """Top row: ``n`` samples; bottom row: the closest training image to each, with its distance."""
    distances, indices = nearest_training_images(samples[:n], train_images, 1, value_range)
    n = len(distances)
    fig, axes = plt.subplots(2, n, figsize=(1.3 * n, 3), squeeze=False)
    unit = viz.to_unit_range(samples[:n].detach().float().cpu(), value_range)
    for j in range(n):
        axes[0, j].imshow(unit[j, 0].numpy(), cmap="gray", vmin=0, vmax=1)
        axes[1, j].imshow(train_images[indices[j, 0]].detach().float().cpu()[0].numpy(), cmap="gray", vmin=0, vmax=1)
        axes[1, j].set_title(f"d={distances[j, 0]:.2f}", fontsize=8)
        axes[0, j].axis("off")
        axes[1, j].axis("off")
    axes[0, 0].set_title("sample", fontsize=8, loc="left")
    fig.suptitle("generated samples (top) and their nearest training images (bottom)", fontsize=10)
    fig.tight_layout()
    return fig


def main() -> None:
    """``python -m course_lib.classifier [--dataset mnist] [--ship]``: train and report; ``--ship``
    writes the weights into ``course_lib/weights/`` (what the course ships for its CI data)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--dataset", default="mnist", choices=KNOWN_DATASETS)
    parser.add_argument("--ship", action="store_true", help="write into course_lib/weights/ instead of the cache")
    args = parser.parse_args()
    train_set, test_set = data.load_dataset(args.dataset, "train"), data.load_dataset(args.dataset, "test")
    model, report = train_classifier(train_set, test_set)
    folder = WEIGHTS_DIR if args.ship else train.checkpoint_dir()
    path = folder / _weights_name(args.dataset, report["fingerprint"])
    _save(model, report, path)
    print(f"{report}\nsaved to {path}")


if __name__ == "__main__":
    main()
