"""course_lib: the shared helpers of the course-pack *Generative Models for Vision*.

Where to find the code of each lecture:

==========================  ============================================================
module                      what it holds (lecture that introduces it)
==========================  ============================================================
``config``                  quick/full mode, ``pick``, device, seeding (all lectures)
``data``                    MNIST / Fashion-MNIST / CIFAR-10 as tensors, ``Batches`` (L2)
``shapes``                  the synthetic shapes segmentation dataset (L1)
``viz``                     grids, curves, latent plots, strips, overlays (L1, L2)
``train``                   ``fit`` with progress bar, NaN checks, checkpoints (L1), cosine schedule (L2)
``checks``                  exercise checks and ``use_if_passes`` (L1)
``results``                 visible, recorded result checks (L1)
``segmentation``            FCN, U-Net, conv arithmetic, IoU/Dice (L1)
``autoencoders``            MLP and conv autoencoders, KL demo (L2)
``vae``                     ELBO, reparameterization, IWAE bound, MLP/conv/conditional VAE,
                            latent explorer (L3)
``gan``                     the minimax game: adversarial examples, fooling images, the lecture's MLP
                            GAN, losses and steps, D* and C(G) = 2 JSD - log 4, mode coverage, sampling
                            and resumable GAN checkpoints (L4)
``classifier``              the course classifier that judges generated digits (L4 on; used in L3)
``dcgan``                   DCGAN blocks and init, transposed vs resize-conv, moving average of weights,
                            checkerboard spectra, slerp, latent directions, discriminator probe (L5)
``exercises.lectureNN``     the tests behind lecture NN's check cells
==========================  ============================================================
"""
from . import checks, config, data, results, shapes, train, viz  # noqa: F401
from .config import get_device, is_quick, pick, seed_everything  # noqa: F401

__version__ = "0.1.0"
