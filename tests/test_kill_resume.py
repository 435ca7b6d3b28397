"""Training that is killed (issue 12, part 5): SIGKILL during an epoch and during a checkpoint write, then resume.

A child process trains lecture 2's convolutional autoencoder on 3,000 of lecture 1's shape images
for 6 epochs with the course recipe (`autoencoders.train_autoencoder`, a checkpoint after every
epoch), single-threaded so that the arithmetic repeats exactly. The parent

1. runs it once without interruption (the reference weights);
2. starts it again with a fresh checkpoint folder and kills it (SIGKILL) in the middle of epoch 3;
3. restarts it, and kills it while it writes the checkpoint of epoch 4: after the temporary file is
   complete, before the rename (the moment a non-atomic save would leave a truncated checkpoint);
4. restarts it once more and lets it finish.

Each restart must resume from the last *complete* checkpoint (epoch 2, then epoch 3), never load
the partial file, and the final weights must equal the uninterrupted run's (max |difference| <= 1e-6;
in practice identical).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
EPOCHS = 6

CHILD = textwrap.dedent('''
    import os, sys, time
    import torch
    torch.set_num_threads(1)
    from course_lib import autoencoders as ae, evaluation
    from course_lib.train import checkpoints

    mode, out = sys.argv[1], sys.argv[2]
    images = evaluation.shape_images(3000, seed=0)
    torch.manual_seed(0)
    model = ae.ConvAutoencoder(latent_dim=8, channels=(16, 32))
    seen = {"batches": 0}

    def loss(x_hat, x):
        seen["batches"] += 1
        if mode == "pause-in-epoch" and seen["batches"] == 2 * 24 + 5:   # 24 batches an epoch: epoch 3
            print("PAUSED", flush=True)      # the parent kills us here, in the middle of an epoch
            time.sleep(60)
        return ae.reconstruction_loss(x_hat, x)

    if mode == "pause-in-save":
        real_replace, saves = os.replace, {"n": 0}

        def slow_replace(src, dst):
            saves["n"] += 1
            if str(dst).endswith(".pt") and saves["n"] == 2:   # this run's second save
                print("WRITING", flush=True)  # the temporary file is written, the rename has not happened
                time.sleep(60)
            return real_replace(src, dst)

        checkpoints.os.replace = slow_replace

    ae.train_autoencoder(model, images, epochs=EPOCHS, lr=3e-3, loss=loss, checkpoint="kill_resume", desc="AE")
    torch.save(model.state_dict(), out)
    print("DONE", flush=True)
''').replace("EPOCHS", str(EPOCHS))


def _start(mode: str, checkpoint_dir: Path, out: Path, script: Path) -> subprocess.Popen:
    env = dict(os.environ, COURSE_CHECKPOINT_DIR=str(checkpoint_dir), TQDM_DISABLE="1", OMP_NUM_THREADS="1",
               PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, str(script), mode, str(out)], env=env, cwd=ROOT, text=True,
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


def _checkpoint_epoch(folder: Path) -> int:
    files = [p for p in folder.glob("kill_resume-*.pt")]
    assert len(files) == 1, files
    return int(torch.load(files[0], map_location="cpu", weights_only=False)["step"])


def test_killed_training_resumes_from_the_last_complete_checkpoint_and_ends_the_same(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)

    output = _run_until(_start("plain", tmp_path / "reference", tmp_path / "reference.pt", script), None)
    assert "DONE" in output, output

    folder = tmp_path / "killed"
    output = _run_until(_start("pause-in-epoch", folder, tmp_path / "resumed.pt", script), "PAUSED")
    assert "DONE" not in output and _checkpoint_epoch(folder) == 2, output

    output = _run_until(_start("pause-in-save", folder, tmp_path / "resumed.pt", script), "WRITING")
    assert "after epoch 2/6" in output, output
    assert "DONE" not in output and _checkpoint_epoch(folder) == 3, output   # epoch 4's save never landed
    assert list(folder.glob("*.tmp")), "the interrupted save should have left its (complete) temporary file"

    output = _run_until(_start("plain", folder, tmp_path / "resumed.pt", script), None)
    assert "after epoch 3/6" in output and "DONE" in output, output
    assert "stale" not in output and "cannot be read" not in output, output
    reference = torch.load(tmp_path / "reference.pt", weights_only=True)
    resumed = torch.load(tmp_path / "resumed.pt", weights_only=True)
    worst = max(float((reference[k] - resumed[k]).abs().max()) for k in reference)
    print(f"largest weight difference, killed twice and resumed vs never stopped: {worst:.3g}")
    assert worst <= 1e-6, worst
