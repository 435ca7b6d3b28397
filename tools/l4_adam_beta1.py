"""Lecture 4's Adam beta_1 comparison at equal budgets, as quoted in the notebook's training-loop section.

    COURSE_MNIST_STANDIN=1 python tools/l4_adam_beta1.py 0.5 0.9     # about 8 minutes on 2 CPU cores

The lecture's MLP GAN (batch 64, constant lr 2e-4, seed 0) with each beta_1; the course classifier judges
1,000 samples after 2,000, 3,000 and 4,000 steps.
"""
from __future__ import annotations

import sys
import time

import torch

import course_lib as cl
from course_lib import data, gan, latent
from course_lib.metrics import classifier, judging

STEPS, JUDGED_AT, BATCH = 4000, (2000, 3000, 4000), 64


def main(beta1_values: list[float]) -> None:
    clf = classifier.load_classifier("mnist")
    images = data.to_gan_range(cl.data.load_mnist("train").images)
    for beta1 in beta1_values:
        torch.manual_seed(0)
        G, D = gan.MLPGenerator(), gan.MLPDiscriminator()
        g_opt = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(beta1, 0.999))
        d_opt = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(beta1, 0.999))
        batches = iter(cl.data.Batches(images, batch_size=BATCH, drop_last=True, endless=True))
        start = time.time()
        for step in range(1, STEPS + 1):
            cl.train.discriminator_step(D, G, next(batches), torch.randn(BATCH, gan.LATENT_DIM), d_opt)
            cl.train.generator_step(D, G, torch.randn(BATCH, gan.LATENT_DIM), g_opt)
            if step in JUDGED_AT:
                judgement = judging.judge_samples(latent.generate(G, 1000, seed=123), clf, value_range=(-1.0, 1.0))
                print(f"beta1 = {beta1}, step {step}: {judgement.summary()} ({time.time() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main([float(v) for v in sys.argv[1:]] or [0.5, 0.9])
