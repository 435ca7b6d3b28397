"""Training that is killed (issue 12, part 5): SIGKILL during training and during a checkpoint write, then resume.

A child process trains one of three course recipes on lecture 1's shape images, single-threaded so that the
arithmetic repeats exactly:

* ``autoencoder``: lecture 2's convolutional autoencoder, 3,000 images, 6 epochs (`autoencoders.train_autoencoder`,
  a checkpoint after every epoch); deterministic once the batches are;
* ``vae``: lecture 3's MLP VAE, the same images and epochs (`vae.train_vae`): the reparameterization draws noise
  from torch's global random number generator at every step;
* ``gan``: lecture 4's MLP players with dropout in D, trained by `cl.train.train_gan` for 60 steps (a checkpoint
  every 10) with instance noise and a moving average of G: endless batches counted in steps, and noise for z,
  for D's inputs and for dropout.

The parent

1. runs it once without interruption (the reference weights);
2. starts it again with a fresh checkpoint folder and kills it (SIGKILL) in the middle of unit 3 (an epoch, or
   ten steps);
3. restarts it, and kills it while it writes the checkpoint of unit 4: after the temporary file is complete,
   before the rename (the moment a non-atomic save would leave a truncated checkpoint);
4. restarts it once more and lets it finish.

Each restart must resume from the last *complete* checkpoint (unit 2, then unit 3), never load the partial file,
and the final weights must equal the uninterrupted run's (max |difference| <= 1e-6; in practice identical): the
resumed run sees the batches and the random numbers of a run that never stopped.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent('''
    import os, sys, time
    import torch
    torch.set_num_threads(1)
    from course_lib import autoencoders as ae, data, evaluation, gan, vae
    from course_lib.train import checkpoints, gan_recipe, train_gan

    recipe, mode, out = sys.argv[1], sys.argv[2], sys.argv[3]
    images = evaluation.shape_images(3000, seed=0)
    torch.manual_seed(0)
    pause_at = {"autoencoder": 2 * 24 + 5, "vae": 2 * 24 + 5, "gan": 25}[recipe]   # in unit 3 (24 batches an epoch)
    seen = {"batches": 0}

    def count(step):
        def counted(*args, **kwargs):
            seen["batches"] += 1
            if mode == "pause-in-training" and seen["batches"] == pause_at:
                print("PAUSED", flush=True)      # the parent kills us here, in the middle of unit 3
                time.sleep(60)
            return step(*args, **kwargs)
        return counted

    if mode == "pause-in-save":
        real_replace, saves = os.replace, {"n": 0}

        def slow_replace(src, dst):
            saves["n"] += 1
            if str(dst).endswith(".pt") and saves["n"] == 2:   # this run's second save
                print("WRITING", flush=True)  # the temporary file is written, the rename has not happened
                time.sleep(60)
            return real_replace(src, dst)

        checkpoints.os.replace = slow_replace

    if recipe == "autoencoder":
        model = ae.ConvAutoencoder(latent_dim=8, channels=(16, 32))
        ae.train_autoencoder(model, images, epochs=6, lr=3e-3, loss=count(ae.reconstruction_loss),
                             checkpoint="kill_resume", desc="AE")
        weights = model.state_dict()
    elif recipe == "vae":
        model = vae.MLPVAE(latent_dim=8, hidden=64)
        vae.train_vae(model, images, epochs=6, lr=3e-3, loss=count(vae.negative_elbo), checkpoint="kill_resume")
        weights = model.state_dict()
    else:
        generator = gan.MLPGenerator(latent_dim=16, hidden=(64,))
        discriminator = gan.MLPDiscriminator(hidden=(64,), dropout=0.2)
        gan_recipe.discriminator_step = count(gan_recipe.discriminator_step)
        average, _ = train_gan(generator, discriminator, data.to_gan_range(images), steps=60, name="kill_resume",
                               latent_dim=16, batch_size=64, instance_noise=0.1, ema_decay=0.9, checkpoint_every=10,
                               desc="GAN")
        players = {"G": generator, "D": discriminator, "G_ema": average}   # all three: each sees other batches
        weights = {f"{name}.{key}": value for name, player in players.items()
                   for key, value in player.state_dict().items()}
    torch.save(weights, out)
    print("DONE", flush=True)
''')


def _start(recipe: str, mode: str, checkpoint_dir: Path, out: Path, script: Path) -> subprocess.Popen:
    env = dict(os.environ, COURSE_CHECKPOINT_DIR=str(checkpoint_dir), TQDM_DISABLE="1", OMP_NUM_THREADS="1",
               PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, str(script), recipe, mode, str(out)], env=env, cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _run_until(process: subprocess.Popen, marker: str | None, timeout: float = 300) -> str:
    """Read the child's output until ``marker`` (then SIGKILL it) or until it exits; return the output."""
    lines = []
    for line in process.stdout:
        lines.append(line)
        if marker is not None and line.strip() == marker:
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=timeout)
    return "".join(lines)


def _checkpoint_step(folder: Path) -> int:
    files = [p for p in folder.glob("kill_resume-*.pt")]
    assert len(files) == 1, files
    return int(torch.load(files[0], map_location="cpu", weights_only=False)["step"])


@pytest.mark.parametrize("recipe, unit, resumed_after", [
    ("autoencoder", 1, "after epoch {}/6"), ("vae", 1, "after epoch {}/6"), ("gan", 10, "after {} steps")])
def test_killed_training_resumes_from_the_last_complete_checkpoint_and_ends_the_same(tmp_path, recipe, unit,
                                                                                    resumed_after):
    script = tmp_path / "child.py"
    script.write_text(CHILD)

    output = _run_until(_start(recipe, "plain", tmp_path / "reference", tmp_path / "reference.pt", script), None)
    assert "DONE" in output, output

    folder = tmp_path / "killed"
    output = _run_until(_start(recipe, "pause-in-training", folder, tmp_path / "resumed.pt", script), "PAUSED")
    assert "DONE" not in output and _checkpoint_step(folder) == 2 * unit, output

    output = _run_until(_start(recipe, "pause-in-save", folder, tmp_path / "resumed.pt", script), "WRITING")
    assert resumed_after.format(2 * unit) in output, output
    assert "DONE" not in output and _checkpoint_step(folder) == 3 * unit, output   # unit 4's save never landed
    assert list(folder.glob("*.tmp")), "the interrupted save should have left its (complete) temporary file"

    output = _run_until(_start(recipe, "plain", folder, tmp_path / "resumed.pt", script), None)
    assert resumed_after.format(3 * unit) in output and "DONE" in output, output
    assert "stale" not in output and "cannot be read" not in output, output
    reference = torch.load(tmp_path / "reference.pt", weights_only=True)
    resumed = torch.load(tmp_path / "resumed.pt", weights_only=True)
    worst = max(float((reference[k] - resumed[k]).abs().max()) for k in reference)
    print(f"{recipe}: largest weight difference, killed twice and resumed vs never stopped: {worst:.3g}")
    assert worst <= 1e-6, worst
