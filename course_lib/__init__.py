"""course_lib: the shared helpers of the course-pack *Generative Models for Vision*.

Two tiers. The **toolkit**, by topic, is imported by any lecture; each public function names
the lecture that introduces it ("Lecture N." at the start of its docstring). The **lecture
modules** hold only what is specific to one lecture; they import the toolkit and never each
other (``tests/test_library_tiers.py`` checks both rules).

The toolkit:

==========================  ============================================================
module                      what it holds
==========================  ============================================================
``config``                  the ``COURSE_*`` switches, quick/full mode, ``pick``, device, seeding
``validate``                input checks at the library's boundaries (``check_images``, ...)
``checks``                  exercise checks, ``use_if_passes``, ``run_name`` (whose code trained a run)
``results``                 visible, recorded result checks
``data``                    MNIST / Fashion-MNIST / CIFAR-10 as tensors, ``Batches``, value ranges
``shapes``                  the synthetic shapes segmentation dataset
``toys``                    1-D Gaussian mixtures, the ring of 2-D Gaussians
``viz``                     ``show``, grids, curves, grouped bars, strips, snapshots, overlays
``frontend``                is there a widget frontend? (sliders or a static fallback)
``inference``               ``in_batches``: a model over many inputs, eval mode, no gradients
``train``                   ``fit``, ``lr_schedule``, checkpoints and ``Run``, EMA and batch-norm
                            recalibration, the AE/VAE recipe, the GAN players' steps
``nn``                      ``mlp``, DCGAN blocks and init, lecture 1's U-Net
``losses``                  the GAN losses on logits
``metrics``                 the course classifier (logits, ``features()``), judging samples,
                            nearest neighbours, mode coverage, k-NN accuracy and linear probes,
                            IS, FID, KID, precision/recall, density/coverage
``latent``                  noise and sampling, lerp/slerp, attribute directions
``attacks``                 adversarial examples, fooling images, total variation
==========================  ============================================================

The lecture modules:

==========================  ============================================================
module                      lecture
==========================  ============================================================
``segmentation``            1. FCN, conv arithmetic, convolutionalization, IoU/Dice
``autoencoders``            2. KL and maximum likelihood, MLP/conv autoencoders, latent holes
``vae``                     3. ELBO, reparameterization, IWAE bound, MLP/conv/conditional VAE
``gan``                     4. the lecture's MLP players, D* and C(G) = 2 JSD - log 4, toy GANs
``dcgan``                   5. DCGAN models, checkerboard spectra, slant, discriminator features
``evaluation``              6. disturbances, generators that fool a metric, the real-or-fake quiz
``exercises.lectureNN``     the tests behind lecture NN's check cells
==========================  ============================================================
"""
from . import (attacks, checks, config, data, frontend, inference, latent, losses, metrics, nn,  # noqa: F401
               results, shapes, toys, train, validate, viz)
from .config import get_device, is_quick, pick, seed_everything  # noqa: F401

#: The lecture tier: module name -> the lecture it belongs to.
LECTURE_MODULES = {"segmentation": 1, "autoencoders": 2, "vae": 3, "gan": 4, "dcgan": 5, "evaluation": 6}

#: The toolkit tier (modules and packages), in the order of the map above.
TOOLKIT = ("config", "validate", "checks", "results", "data", "shapes", "toys", "viz", "frontend", "inference",
           "train", "nn", "losses", "metrics", "latent", "attacks")

__version__ = "0.2.0"
