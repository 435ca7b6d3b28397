"""Measuring models and samples, by topic.

* :mod:`~course_lib.metrics.classifier`: the course classifier (logits and a 128-D ``features()`` embedding);
* :mod:`~course_lib.metrics.judging`: confident share and class-histogram entropy of samples;
* :mod:`~course_lib.metrics.neighbours`: nearest neighbours (holes in a latent space, copied training images);
* :mod:`~course_lib.metrics.coverage`: modes of a known mixture covered by samples;
* :mod:`~course_lib.metrics.probes`: k-NN accuracy and linear probes of a representation;
* :mod:`~course_lib.metrics.embedding`: the features and logits lecture 6's metrics compare (course classifier, Inception-v3);
* :mod:`~course_lib.metrics.scores`: Inception Score, FID (and FID_inf), KID;
* :mod:`~course_lib.metrics.manifold`: k-NN precision/recall and density/coverage.
"""
from . import classifier, coverage, embedding, judging, manifold, neighbours, probes, scores  # noqa: F401
