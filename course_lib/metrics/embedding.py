"""Features for lecture 6's metrics: the course classifier's embedding and logits, or Inception-v3's.

IS, FID, KID, precision/recall and density/coverage all compare sets of feature vectors. For the
course's 28x28 images those come from the course classifier (:func:`embed`: the 128-D
``features()`` and the logits, in one pass); :func:`inception_v3_features` gives the standard
2048-D Inception pool features, but only when its ImageNet weights are already on this machine
(or downloading is allowed).

:class:`CourseFeatureExtractor` hands the classifier to torchmetrics, whose FID/KID/IS metrics call
``feature(imgs)`` on whatever ``update(imgs)`` received. torch-fidelity is compared on features
directly: ``torch_fidelity.metric_prc.prc_features_to_metric(fake, real, ...)`` is the function its
``calculate_metrics(prc=True)`` runs once its feature extractor is done, so giving it our feature
tensors exercises its real precision/recall code without registering an extractor class globally
(``register_feature_extractor`` refuses a second registration of a name) or wrapping the images in a
Dataset; the tests also run the full ``calculate_metrics`` path once, with a registered extractor.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch
import torch.nn.functional as F
from torch import nn

from .. import viz
from ..config import module_device
from ..inference import in_batches
from ..validate import check_choice, check_images, check_int, check_value_range

#: torchvision's ImageNet weights for Inception-v3. Not the 2015 TensorFlow graph that the original FID code
#: (and torch-fidelity's, torchmetrics' default extractor) uses: FIDs on them are not comparable to published ones.
INCEPTION_URL = "https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Embedding:
    """Lecture 6. A set of images as a metric sees it: ``features [N, D]`` and ``logits [N, C]``, float64 on the CPU."""

    features: torch.Tensor
    logits: torch.Tensor

    def __len__(self) -> int:
        return len(self.features)


def _last_linear(classifier: nn.Module) -> nn.Linear:
    linears = [m for m in getattr(classifier, "head", nn.Identity()).modules() if isinstance(m, nn.Linear)]
    if not hasattr(classifier, "features") or not linears:
        raise TypeError(f"expected the course classifier (with .features() and a .head ending in nn.Linear), "
                        f"got {type(classifier).__name__}")
    return linears[-1]


def embed(images: torch.Tensor, classifier: nn.Module, *, value_range: tuple[float, float] = (0.0, 1.0),
          batch_size: int = 1000) -> Embedding:
    """Lecture 6. The course classifier's view of ``images`` ``[N, 1, 28, 28]``: features ``[N, 128]`` and logits ``[N, C]``.

    ``value_range``: the range the images are in (e.g. ``(-1, 1)`` for a tanh generator); they are
    mapped to [0, 1] first. One pass per batch (features, then the head on those same features), in
    eval mode without gradients; both come back float64 on the CPU, ready for
    :mod:`~course_lib.metrics.scores` and :mod:`~course_lib.metrics.manifold`.
    """
    low, high = check_value_range(value_range)
    check_images(images, "images", channels=1, size=28, value_range=(low, high))
    _last_linear(classifier)
    unit = viz.to_unit_range(images.detach().float(), (low, high))

    def one_pass(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = classifier.features(x)
        return features, classifier.head(features)

    features, logits = in_batches(classifier, unit, fn=one_pass, batch_size=batch_size)
    return Embedding(features.double(), logits.double())


class CourseFeatureExtractor(nn.Module):
    """Lecture 6. The course classifier as the ``feature=`` module of torchmetrics' FID, KID and InceptionScore.

    ``forward(images)`` returns ``[N, num_features]`` float32: the ``features()`` embedding
    (``output="features"``, 128-D for the default width) or the logits (``output="logits"``, for
    ``InceptionScore``, which applies the softmax itself). ``images``: ``[N, 1, 28, 28]`` (or
    ``[N, 28, 28]``, or 3 equal grey channels), float in [0, 1] or uint8 in [0, 255]. torchmetrics
    passes a custom module whatever ``update`` received, so use ``normalize=False`` and float images
    in [0, 1] (``InceptionScore(normalize=True)`` hands over uint8, which works too). Always runs
    the classifier in eval mode without gradients. A metric's ``set_dtype(torch.float64)`` converts
    the classifier itself to float64 (wrap a copy if it is used elsewhere); the output is then float64.
    """

    def __init__(self, classifier: nn.Module, output: str = "features") -> None:
        super().__init__()
        check_choice(output, "output", ("features", "logits"))
        linear = _last_linear(classifier)
        self.classifier = classifier
        self.output = output
        #: what torchmetrics reads to size its states (without it, it would probe with a 299x299 RGB image)
        self.num_features = linear.in_features if output == "features" else linear.out_features

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images
        if isinstance(x, torch.Tensor) and x.dtype == torch.uint8:
            x = x.float() / 255
        if isinstance(x, torch.Tensor) and x.dim() == 3:
            x = x[:, None]
        check_images(x, "images", channels=(1, 3), size=28, value_range=(0.0, 1.0))
        if x.shape[1] == 3:
            x = x.mean(1, keepdim=True)
        # the metric's set_dtype(torch.float64) also converts this module: feed the classifier its own dtype
        x = x.to(next(self.classifier.parameters()).dtype)
        fn = self.classifier.features if self.output == "features" else self.classifier
        out = in_batches(self.classifier, x, fn=fn, batch_size=len(x), to_cpu=False)
        return out if out.dtype == torch.float64 else out.float()


def _inception_weights_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(INCEPTION_URL).path).name


def inception_weights_available() -> bool:
    """Lecture 6. Are torchvision's ImageNet Inception-v3 weights already in the torch hub cache? (No network.)"""
    return _inception_weights_path().is_file()


def inception_v3_features(images: torch.Tensor, *, value_range: tuple[float, float] = (0.0, 1.0),
                          allow_download: bool = False, batch_size: int = 100,
                          device: torch.device | str | None = None) -> Embedding | None:
    """Lecture 6. Inception-v3's pool features ``[N, 2048]`` and ImageNet logits ``[N, 1000]`` of ``images``, or None.

    ``images``: ``[N, 1 or 3, H, W]`` in ``value_range``; grey images are repeated to 3 channels,
    everything is resized to 299x299 (bilinear) and normalized with ImageNet's mean and std. The
    weights are used only if already in ``torch.hub.get_dir()/checkpoints`` (see
    :func:`inception_weights_available`), or downloaded when ``allow_download``; otherwise this returns
    None without touching the network. Runs on ``device`` (default: the CPU; slow there, ~0.1 s per image).
    """
    low, high = check_value_range(value_range)
    check_images(images, "images", channels=(1, 3), value_range=(low, high))
    check_int(batch_size, "batch_size", 1)
    path = _inception_weights_path()
    if path.is_file():
        state = torch.load(path, map_location="cpu", weights_only=True)
    elif allow_download:
        state = torch.hub.load_state_dict_from_url(INCEPTION_URL, map_location="cpu", check_hash=True)
    else:
        return None
    from torchvision.models import inception_v3

    # What inception_v3(weights=IMAGENET1K_V1) builds, loaded from the file found above.
    model = inception_v3(weights=None, aux_logits=True, transform_input=True, init_weights=False)
    model.load_state_dict(state)
    fc, model.fc = model.fc, nn.Identity()   # the model then returns the 2048-D pool features
    model.to(torch.device(device) if device is not None else torch.device("cpu"))
    fc.to(module_device(model))
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)

    def one_pass(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        x = (x - mean.to(x.device)) / std.to(x.device)
        features = model(x)
        return features, fc(features)

    unit = viz.to_unit_range(images.detach().float(), (low, high))
    features, logits = in_batches(model, unit, fn=one_pass, batch_size=batch_size)
    return Embedding(features.double(), logits.double())
