"""The course classifier: a small CNN that recognises the course's digits (and clothes), trained once.

Generated images are hard to judge by eye, so the course asks a classifier trained on the real
data (lecture 3 on): :mod:`course_lib.metrics.judging` counts how many samples it recognises with
confidence and which classes they cover, and :meth:`CourseClassifier.features` gives the compact
embedding that the distance-based metrics of lecture 6 compare (the role Inception-v3's pool
features play for ImageNet-sized images).

:func:`load_classifier` returns it trained: from the weights shipped in ``course_lib/weights/``
when they were trained on exactly the data this machine has (same fingerprint), else from the
checkpoint cache, else it trains once (a few minutes on a laptop CPU) and caches the result.
Reproduce the shipped weights with ``python -m course_lib.metrics.classifier --ship``.
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .. import data
from ..config import seed_everything
from ..inference import in_batches
from ..train import checkpoints, fit, lr_schedule
from ..validate import check_choice, check_images, check_labels

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
#: Datasets the classifier knows, with their class names taken from ``course_lib.data``.
KNOWN_DATASETS = ("mnist", "fashion_mnist")
#: How many training images the classifier sees in all (epochs = this / training-set size, at least 3).
IMAGES_SEEN = 120_000
#: Size of the embedding :meth:`CourseClassifier.features` returns.
FEATURE_DIM = 128


class CourseClassifier(nn.Module):
    """Lecture 3. A small CNN for 28x28 grey images in [0, 1]: class logits ``[N, num_classes]``.

    Three stages of 3x3 conv + batch norm + ReLU (28x28 -> 14x14 -> 7x7, widths ``w, 2w, 4w``),
    global average pooling to a ``4w``-dimensional embedding (:meth:`features`), dropout and one
    linear layer to the logits.
    """

    def __init__(self, num_classes: int = 10, width: int = 32) -> None:
        super().__init__()

        def block(c_in: int, c_out: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())

        self.body = nn.Sequential(
            block(1, width), block(width, width), nn.MaxPool2d(2),                  # 14x14
            block(width, 2 * width), block(2 * width, 2 * width), nn.MaxPool2d(2),  # 7x7
            block(2 * width, 4 * width), nn.AdaptiveAvgPool2d(1), nn.Flatten(),     # [N, 4w]
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(4 * width, num_classes))

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """The embedding ``[N, 4w]`` (128 numbers for the default width) before the last layer."""
        if images.dim() != 4 or tuple(images.shape[1:]) != (1, 28, 28):
            raise ValueError(f"the course classifier takes images [N, 1, 28, 28], got {tuple(images.shape)}")
        return self.body(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


def data_fingerprint(images: torch.Tensor, labels: torch.Tensor) -> str:
    """Lecture 3. A short hash of a training set: weights are reused only for exactly the same data."""
    digest = hashlib.md5(usedforsecurity=False)
    digest.update((images * 255).round().to(torch.uint8).numpy().tobytes())
    digest.update(labels.to(torch.int64).numpy().tobytes())
    return digest.hexdigest()[:12]


def _shift(images: torch.Tensor, generator: torch.Generator, max_shift: int = 2) -> torch.Tensor:
    """Random translations by up to ``max_shift`` pixels: cheap augmentation that adds ~0.5% accuracy."""
    padded = F.pad(images, [max_shift] * 4)
    dx, dy = torch.randint(0, 2 * max_shift + 1, (2,), generator=generator).tolist()
    return padded[:, :, dy:dy + 28, dx:dx + 28]


def junk_images(n: int, generator: torch.Generator) -> torch.Tensor:
    """Lecture 3. ``n`` images ``[n, 1, 28, 28]`` in [0, 1] that are no digit: uniform noise, smooth noise, blobs, flat grey.

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


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    """Lecture 3. Share of ``images`` ``[N, 1, 28, 28]`` in [0, 1] whose predicted class equals ``labels`` ``[N]``."""
    check_images(images, channels=1, size=28, value_range=(0.0, 1.0))
    check_labels(labels, len(images))
    predicted = in_batches(model, images, fn=lambda x: model(x).argmax(1), batch_size=batch_size)
    return float((predicted == labels.cpu()).double().mean())


def train_classifier(train_set: data.ImageSet, test_set: data.ImageSet | None = None, *,
                     images_seen: int = IMAGES_SEEN, seed: int = 0,
                     device: torch.device | str = "cpu") -> tuple[CourseClassifier, dict]:
    """Lecture 3. Train a :class:`CourseClassifier` from scratch; returns the model (eval mode) and a report.

    Cross-entropy on the images (randomly shifted by up to 2 pixels) plus, on :func:`junk_images`,
    cross-entropy to the uniform distribution, so that non-digits get low confidence. AdamW with
    a warm-up and a cosine decay. The report holds the data fingerprint, the test accuracy and
    the share of junk images classified with confidence >= 0.9.
    """
    from .judging import judge_samples

    seed_everything(seed)
    generator = torch.Generator().manual_seed(seed)
    model = CourseClassifier(num_classes=len(train_set.classes)).to(device)
    epochs = max(3, math.ceil(images_seen / len(train_set)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=4e-3, weight_decay=1e-4)
    batches = data.Batches(train_set.images, train_set.labels, batch_size=128, shuffle=True, drop_last=True,
                           device=device, seed=seed)
    total = epochs * len(batches)
    scheduler = lr_schedule(optimizer, total, shape="cosine", warmup=total // 4)

    def loss_fn(net: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        images, labels = batch
        junk = junk_images(len(images) // 4, generator).to(images.device)
        logits = net(torch.cat([_shift(images, generator), junk]))
        digits_loss = F.cross_entropy(logits[:len(images)], labels)
        junk_loss = -logits[len(images):].log_softmax(1).mean()   # cross-entropy to the uniform distribution
        return digits_loss + 0.5 * junk_loss, {"junk_loss": junk_loss.detach()}

    start = time.time()
    fit(model, optimizer, loss_fn, batches, epochs, desc=f"course classifier ({train_set.name})", scheduler=scheduler)
    report = {"dataset": train_set.name, "train_size": len(train_set), "epochs": epochs,
              "seconds": round(time.time() - start, 1),
              "fingerprint": data_fingerprint(train_set.images, train_set.labels)}
    if test_set is not None:
        report["test_accuracy"] = accuracy(model, test_set.images, test_set.labels)
        junk = judge_samples(junk_images(1000, torch.Generator().manual_seed(seed + 1)), model)
        report["junk_confident_share"] = junk.confident_share
    return model.eval(), report


def _weights_name(dataset: str, fingerprint: str) -> str:
    return f"classifier-{dataset}-{fingerprint}.pt"


def _save(model: CourseClassifier, report: dict, path: Path) -> None:
    # Half precision halves the shipped file; the predictions do not change measurably.
    checkpoints.save_parts(path, 0, {"model": copy.deepcopy(model).cpu().half()}, report=report)


def _load(path: Path, num_classes: int, device: torch.device | str) -> tuple[CourseClassifier, dict] | None:
    model = CourseClassifier(num_classes=num_classes)
    # shipped weights that do not fit are left where they are (they belong to the package); cached ones move aside
    loaded = checkpoints.load_parts(path, {"model": model}, keep_misfits=path.parent == WEIGHTS_DIR)
    if loaded is None:
        return None
    return model.to(device).eval(), loaded[1]["report"]


def load_classifier(dataset: str = "mnist", device: torch.device | str | None = None,
                    verbose: bool = True) -> CourseClassifier:
    """Lecture 3. The course classifier for ``dataset``, trained on its training split, frozen, in eval mode.

    Input ``[N, 1, 28, 28]`` in [0, 1]; output logits ``[N, 10]``. Looks for weights trained on
    exactly this machine's training data: first those shipped with the course, then the
    checkpoint cache; otherwise trains once and caches the weights.
    """
    check_choice(dataset, "dataset", KNOWN_DATASETS)
    device = torch.device(device) if device is not None else torch.device("cpu")
    train_set = data.load_dataset(dataset, "train")
    fingerprint = data_fingerprint(train_set.images, train_set.labels)
    name = _weights_name(dataset, fingerprint)
    loaded = None
    for path in (WEIGHTS_DIR / name, checkpoints.checkpoint_dir() / name):
        loaded = _load(path, len(train_set.classes), device)
        if loaded is not None:
            break
    if loaded is None:
        cache = checkpoints.checkpoint_dir() / name
        print(f"No course classifier for this {dataset} data yet: training one (once; cached as {cache}).")
        loaded = train_classifier(train_set, data.load_dataset(dataset, "test"), device=device)
        _save(*loaded, cache)
    model, report = loaded
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    if verbose and "test_accuracy" in report:
        print(f"Course classifier for {dataset}: test accuracy {report['test_accuracy']:.2%} "
              f"(trained on {report['train_size']} images).")
    return model


def main() -> None:
    """Lecture 3. ``python -m course_lib.metrics.classifier [--dataset mnist] [--ship]``: train and report; ``--ship``
    writes the weights into ``course_lib/weights/`` (what the course ships for its CI data)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--dataset", default="mnist", choices=KNOWN_DATASETS)
    parser.add_argument("--ship", action="store_true", help="write into course_lib/weights/ instead of the cache")
    args = parser.parse_args()
    train_set, test_set = data.load_dataset(args.dataset, "train"), data.load_dataset(args.dataset, "test")
    model, report = train_classifier(train_set, test_set)
    folder = WEIGHTS_DIR if args.ship else checkpoints.checkpoint_dir()
    path = folder / _weights_name(args.dataset, report["fingerprint"])
    _save(model, report, path)
    print(f"{report}\nsaved to {path}")


if __name__ == "__main__":
    main()
