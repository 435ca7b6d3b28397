"""Measure the course on this machine: notebook times, reached quality, data-loading speed.

    bash course.sh bench                      # everything (full mode takes a while)
    bash course.sh bench --only quick loader  # skip the full-mode runs
    bash course.sh bench --lectures 01        # one lecture
    bash course.sh bench --only recipe        # the AE/VAE training recipe against the usual PyTorch loop
    bash course.sh bench --only fid           # course FID against torchmetrics on 10,000 x 10,000 features

Prints a Markdown report and writes it to build/benchmark.md (JSON beside it).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from course_meta import NOTEBOOKS, REPO_ROOT, SOLUTIONS  # noqa: E402
from execute import execute  # noqa: E402


def _selected(folder: Path, lectures: list[str]) -> list[Path]:
    return [p for p in sorted(folder.glob("*.ipynb")) if not lectures or p.name[:2] in lectures]


def bench_notebooks(lectures: list[str], quick: bool, scratch: Path) -> list[dict]:
    rows = []
    folders = (NOTEBOOKS, SOLUTIONS) if quick else (SOLUTIONS,)
    for folder in folders:
        for notebook in _selected(folder, lectures):
            results_dir = scratch / f"results-{folder.name}"
            env = {"COURSE_QUICK": "1" if quick else "0", "COURSE_RESULTS_DIR": str(results_dir),
                   "COURSE_CHECKPOINT_DIR": str(scratch / f"ckpt-{folder.name}-{notebook.stem}"),
                   "MPLBACKEND": "Agg"}
            print(f"  {'quick' if quick else 'full'} {folder.name}/{notebook.name} ...", end=" ", flush=True)
            seconds, ok, tail = execute(notebook, scratch / folder.name / notebook.name, env)
            print(f"{seconds:.0f} s {'ok' if ok else 'FAILED'}")
            if not ok:
                print(tail)
            mode = "quick" if quick else "full"
            result_file = results_dir / f"{notebook.stem}-{mode}.json"
            results = json.loads(result_file.read_text()) if result_file.is_file() else {}
            rows.append({"notebook": f"{folder.name}/{notebook.name}", "mode": mode, "seconds": round(seconds, 1),
                         "ok": ok, "results": results})
    return rows


def bench_loader(batch_size: int = 128) -> dict:
    """One shuffled MNIST epoch: course_lib's Batches vs DataLoader + ToTensor over the same images."""
    import torch
    from PIL import Image
    from torchvision.transforms import ToTensor

    from course_lib.data import Batches, load_mnist

    train = load_mnist("train")
    pixels = (train.images[:, 0] * 255).round().to(torch.uint8)

    class PILDigits(torch.utils.data.Dataset):
        """What torchvision.datasets.MNIST does per sample: uint8 array -> PIL image -> transform."""

        def __init__(self) -> None:
            self.to_tensor = ToTensor()

        def __len__(self) -> int:
            return len(pixels)

        def __getitem__(self, i: int):
            return self.to_tensor(Image.fromarray(pixels[i].numpy(), mode="L")), int(train.labels[i])

    def epoch_rate(make_iter, repeats: int = 3) -> float:
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            seen = sum(len(batch[1]) for batch in make_iter())
            best = min(best, time.perf_counter() - start)
        return seen / best

    ours = epoch_rate(lambda: Batches(train.images, train.labels, batch_size=batch_size, shuffle=True, seed=None))
    loader = epoch_rate(lambda: torch.utils.data.DataLoader(PILDigits(), batch_size=batch_size, shuffle=True))
    return {"images": len(train), "batches_per_s_images": round(ours), "dataloader_images_per_s": round(loader),
            "ratio": round(ours / loader, 1)}


def bench_recipe(epoch_counts: tuple[int, ...] = (10, 45), seed: int = 1) -> list[dict]:
    """The course's VAE recipe (``vae.train_vae``) against the loop of the PyTorch VAE example.

    Both train the same 784-400-20 VAE on the same MNIST images for the same epochs, batch 128:
    the reference with its own loop over ``DataLoader`` + ``ToTensor`` (PIL images) and Adam at a
    constant 1e-3 on the summed BCE + KL; the recipe with ``Batches`` and a constant-then-linear
    learning rate. Both are scored by the same test -ELBO (nats per image, one seeded sample).
    """
    import torch
    import torch.nn.functional as F
    from PIL import Image
    from torchvision.transforms import ToTensor

    from course_lib import vae
    from course_lib.data import load_mnist

    train, test = load_mnist("train"), load_mnist("test")
    pixels = (train.images[:, 0] * 255).round().to(torch.uint8)

    class PILDigits(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(pixels)

        def __getitem__(self, i: int):
            return ToTensor()(Image.fromarray(pixels[i].numpy(), mode="L")), int(train.labels[i])

    class ExampleVAE(torch.nn.Module):
        """784-400-20 with a sigmoid output, as in the PyTorch example."""

        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.fc21, self.fc22 = torch.nn.Linear(784, 400), torch.nn.Linear(400, 20), torch.nn.Linear(400, 20)
            self.fc3, self.fc4 = torch.nn.Linear(20, 400), torch.nn.Linear(400, 784)

        def forward(self, x):
            h = F.relu(self.fc1(x.view(-1, 784)))
            mu, logvar = self.fc21(h), self.fc22(h)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            return torch.sigmoid(self.fc4(F.relu(self.fc3(z)))), mu, logvar

    def summed_loss(recon, x, mu, logvar):
        bce = F.binary_cross_entropy(recon, x.view(-1, 784), reduction="sum")
        return bce - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())

    @torch.no_grad()
    def example_test_nats(model) -> float:
        torch.manual_seed(0)
        model.eval()
        recon, mu, logvar = model(test.images)
        model.train()
        return float(summed_loss(recon, test.images, mu, logvar)) / len(test)

    rows = []
    torch.manual_seed(seed)
    model = ExampleVAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = torch.utils.data.DataLoader(PILDigits(), batch_size=128, shuffle=True)
    start = time.perf_counter()
    for epoch in range(1, max(epoch_counts) + 1):
        for x, _ in loader:
            recon, mu, logvar = model(x)
            loss = summed_loss(recon, x, mu, logvar)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if epoch in epoch_counts:
            rows.append({"loop": "PyTorch example (DataLoader + ToTensor, constant lr)", "epochs": epoch,
                         "test_nats": round(example_test_nats(model), 2),
                         "seconds": round(time.perf_counter() - start, 1)})
    for epochs in epoch_counts:
        torch.manual_seed(seed)
        model = vae.MLPVAE(latent_dim=20, hidden=400)
        start = time.perf_counter()
        vae.train_vae(model, train.images, epochs=epochs, desc=f"recipe, {epochs} epochs")
        seconds = time.perf_counter() - start
        rows.append({"loop": "course recipe (vae.train_vae)", "epochs": epochs,
                     "test_nats": round(vae.evaluate_elbo(model, test.images)["neg_elbo"], 2),
                     "seconds": round(seconds, 1)})
    return rows


def bench_fid(n: int = 10_000, dims: tuple[int, ...] = (128, 2048), seed: int = 0) -> list[dict]:
    """Course FID (``metrics.scores.fid``) against torchmetrics' ``FrechetInceptionDistance`` on the same features.

    Two sets of ``n`` correlated Gaussian feature vectors (a random mixing matrix, the second set
    shifted and rescaled a little), for each feature dimension in ``dims``: 128 (the course
    classifier) and 2048 (Inception-v3). torchmetrics gets them through an identity "feature
    network", so both see identical numbers; its time includes ``update`` (it accumulates the sums
    there) and ``compute``. Best of three runs each.
    """
    import torch
    from torchmetrics.image.fid import FrechetInceptionDistance

    from course_lib.metrics import scores

    class Rows(torch.nn.Module):
        def __init__(self, d: int) -> None:
            super().__init__()
            self.num_features = d

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    def best_of(fn, repeats: int = 3) -> tuple[float, float]:
        times, value = [], None
        for _ in range(repeats):
            start = time.perf_counter()
            value = fn()
            times.append(time.perf_counter() - start)
        return min(times), value

    rows = []
    for d in dims:
        g = torch.Generator().manual_seed(seed)
        mixing = torch.randn(d, d, generator=g) / d ** 0.5
        a = torch.randn(n, d, generator=g) @ mixing
        b = (1.1 * torch.randn(n, d, generator=g) + 0.05) @ mixing

        def library(a: torch.Tensor = a, b: torch.Tensor = b, d: int = d) -> float:
            metric = FrechetInceptionDistance(feature=Rows(d))
            metric.update(a, real=True)
            metric.update(b, real=False)
            return float(metric.compute())

        ours_s, ours = best_of(lambda a=a, b=b: scores.fid(a, b))
        theirs_s, theirs = best_of(library)
        rows.append({"n": n, "d": d, "course_fid": ours, "torchmetrics_fid": theirs,
                     "relative_difference": abs(ours - theirs) / abs(theirs), "course_s": round(ours_s, 3),
                     "torchmetrics_s": round(theirs_s, 3), "time_ratio": round(ours_s / theirs_s, 2)})
    return rows


def report(rows: list[dict], loader: dict | None, recipe: list[dict] | None = None,
           fid: list[dict] | None = None) -> str:
    lines = ["# Course benchmark", "",
             f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
             f"Python {platform.python_version()}", ""]
    if rows:
        lines += ["| notebook | mode | seconds | ok | results |", "|---|---|---:|---|---|"]
        for row in rows:
            results = ", ".join(f"{k}={v:.4g}" for k, v in sorted(row["results"].items()))
            lines.append(f"| {row['notebook']} | {row['mode']} | {row['seconds']:.0f} | "
                         f"{'yes' if row['ok'] else 'NO'} | {results} |")
        lines.append("")
    if loader:
        lines += ["| MNIST epoch (shuffled, batch 128) | images/s |", "|---|---:|",
                  f"| course_lib Batches | {loader['batches_per_s_images']:,} |",
                  f"| DataLoader + ToTensor | {loader['dataloader_images_per_s']:,} |",
                  f"| ratio | {loader['ratio']}x |", ""]
    if recipe:
        lines += ["| VAE training loop | epochs | test -ELBO (nats) | seconds |", "|---|---:|---:|---:|"]
        lines += [f"| {r['loop']} | {r['epochs']} | {r['test_nats']:.2f} | {r['seconds']:.1f} |" for r in recipe]
        lines.append("")
    if fid:
        lines += [("| FID of 10,000 x 10,000 features | course | torchmetrics | relative difference | course s | "
                   "torchmetrics s | time ratio |"), "|---|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {r['n']:,} x {r['n']:,}, d = {r['d']} | {r['course_fid']:.6f} | {r['torchmetrics_fid']:.6f} | "
                  f"{r['relative_difference']:.1e} | {r['course_s']:.3f} | {r['torchmetrics_s']:.3f} | "
                  f"{r['time_ratio']:.2f} |" for r in fid]
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=["quick", "full", "loader", "recipe", "fid"],
                        default=["quick", "full", "loader", "recipe", "fid"])
    parser.add_argument("--lectures", nargs="*", default=[], help="lecture numbers, e.g. 01 02")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "build")
    args = parser.parse_args()
    lectures = [n.zfill(2) for n in args.lectures]
    rows: list[dict] = []
    loader = recipe = fid = None
    with tempfile.TemporaryDirectory() as scratch:
        if "loader" in args.only:
            print("Data loading ...")
            loader = bench_loader()
        if "recipe" in args.only:
            print("VAE recipe vs the PyTorch example's loop ...")
            recipe = bench_recipe()
        if "fid" in args.only:
            print("Course FID vs torchmetrics on 10,000 x 10,000 features ...")
            fid = bench_fid()
        if "quick" in args.only:
            print("Quick mode (every notebook, student and solution versions):")
            rows += bench_notebooks(lectures, quick=True, scratch=Path(scratch))
        if "full" in args.only:
            print("Full mode (solution notebooks):")
            rows += bench_notebooks(lectures, quick=False, scratch=Path(scratch))
    text = report(rows, loader, recipe, fid)
    print("\n" + text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "benchmark.md").write_text(text)
    (args.out / "benchmark.json").write_text(json.dumps({"notebooks": rows, "loader": loader, "recipe": recipe, "fid": fid},
                                                               indent=1))
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
