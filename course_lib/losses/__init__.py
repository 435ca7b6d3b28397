"""Losses on network outputs, by topic: :mod:`course_lib.losses.gan` (the GAN players' losses on logits)."""
from . import gan  # noqa: F401
