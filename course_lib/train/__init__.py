"""Training, by topic: the loop, learning-rate schedules, checkpoints and resumable runs, moving
averages of weights, the AE/VAE recipe and the GAN players' steps.

* :mod:`~course_lib.train.loop`: :func:`fit` (progress bar, history, NaN check, resumable);
* :mod:`~course_lib.train.schedules`: :func:`lr_schedule`, the one schedule helper;
* :mod:`~course_lib.train.checkpoints`: atomic checkpoints, the ``.stale`` policy, :class:`Run`;
* :mod:`~course_lib.train.ema`: :func:`ema_update`, :func:`ema_copy`, :func:`recalibrate_batchnorm`;
* :mod:`~course_lib.train.recipes`: :func:`train_on_tensors` (autoencoders and VAEs);
* :mod:`~course_lib.train.adversarial`: :func:`discriminator_step`, :func:`generator_step` and helpers;
* :mod:`~course_lib.train.gan_recipe`: :func:`train_gan`, lectures 4-5's loop as one function (lecture 6 on).

The names used most are importable from here: ``cl.train.fit``, ``cl.train.Run``, ...
"""
from . import adversarial, checkpoints, ema, gan_recipe, loop, recipes, schedules  # noqa: F401
from .adversarial import discriminator_scores, discriminator_step, frozen, generator_step, gradient_norm  # noqa: F401
from .checkpoints import (CheckpointError, Run, checkpoint_dir, checkpoint_path, load_checkpoint,  # noqa: F401
                          save_checkpoint)
from .ema import ema_copy, ema_update, recalibrate_batchnorm  # noqa: F401
from .gan_recipe import adam, train_gan  # noqa: F401
from .loop import TrainingDiverged, fit  # noqa: F401
from .recipes import train_on_tensors  # noqa: F401
from .schedules import lr_factor, lr_schedule  # noqa: F401
