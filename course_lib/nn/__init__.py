"""Network building blocks that several lectures share.

* :mod:`course_lib.nn.blocks`: ``mlp``, the DCGAN generator and discriminator stages and their
  N(0, 0.02) initialization, ``count_parameters``;
* :mod:`course_lib.nn.unet`: lecture 1's U-Net (reused for image-to-image translation and diffusion).
"""
from . import blocks, unet  # noqa: F401
from .blocks import count_parameters, mlp  # noqa: F401
