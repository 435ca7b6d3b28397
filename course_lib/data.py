"""Datasets as tensors: MNIST, Fashion-MNIST, CIFAR-10, Oxford-IIIT Pet, a batch iterator, the two pixel ranges.

Files live in a checksum-verified cache: ``$COURSE_DATA_DIR`` if set, else ``datasets/`` in the
repository. The layout is torchvision's (``MNIST/raw/*.gz``, ``FashionMNIST/raw/*.gz``,
``cifar-10-batches-py/``), so a folder torchvision filled works as it is. Each split is parsed once
per process into uint8 tensors; callers get float images in [0, 1] with shape ``[N, C, H, W]``.

Environment switches (all optional):

* ``COURSE_DATA_DIR``: where the dataset files are.
* ``COURSE_OFFLINE=1``: never try to download; a missing file is an error straight away.
* ``COURSE_MNIST_STANDIN=1``: when the MNIST *training* files are missing, serve the official
  MNIST test split as a stand-in, cut into fixed disjoint train/test parts (says so in one line).
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from .config import REPO_ROOT, flag, setting
from .validate import check_int, check_tensor

DATA_DIR_ENV = "COURSE_DATA_DIR"
OFFLINE_ENV = "COURSE_OFFLINE"
STANDIN_ENV = "COURSE_MNIST_STANDIN"

#: Size of the stand-in's training part; the rest of the 10,000 test images is its test part.
STANDIN_TRAIN_SIZE = 8000
_STANDIN_SEED = 2024


class DatasetNotFoundError(FileNotFoundError):
    """Lecture 1. A dataset file is missing. The message says what, where we looked, and how to get it."""


class DatasetCorruptError(RuntimeError):
    """Lecture 2. A dataset file exists but its checksum is wrong (truncated download, wrong file)."""


@dataclass(frozen=True)
class DatasetFiles:
    """Lecture 2. Where a dataset's files live under the data root and what their md5 sums must be."""

    name: str
    folder: str                 # relative to the data root
    files: dict[str, dict[str, str]]   # split -> {filename: md5}
    classes: tuple[str, ...]
    fmt: str                    # "idx" (MNIST family) or "cifar"


DATASETS: dict[str, DatasetFiles] = {
    "mnist": DatasetFiles(
        "MNIST", "MNIST/raw",
        {"train": {"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                   "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432"},
         "test": {"t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
                  "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}},
        tuple(str(d) for d in range(10)), "idx"),
    "fashion_mnist": DatasetFiles(
        "Fashion-MNIST", "FashionMNIST/raw",
        {"train": {"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                   "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe"},
         "test": {"t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
                  "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"}},
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
         "Bag", "Ankle boot"), "idx"),
    "cifar10": DatasetFiles(
        "CIFAR-10", "cifar-10-batches-py",
        {"train": {"data_batch_1": "c99cafc152244af753f735de768cd75f",
                   "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
                   "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
                   "data_batch_4": "634d18415352ddfa80567beed471001a",
                   "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb"},
         "test": {"test_batch": "40351d587109b95175f43aff81a1287e"}},
        ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
        "cifar"),
}

_TORCHVISION_CLASS = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "cifar10": "CIFAR10"}


@dataclass(frozen=True)
class ImageSet:
    """Lecture 2. Images and labels held as tensors.

    ``images``: float32 ``[N, C, H, W]`` in [0, 1]. ``labels``: int64 ``[N]``.
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    name: str

    def __len__(self) -> int:
        return self.images.shape[0]

    def to(self, device: torch.device | str) -> "ImageSet":
        """The same set with both tensors on ``device``."""
        return ImageSet(self.images.to(device), self.labels.to(device), self.classes, self.name)

    def take(self, n: int) -> "ImageSet":
        """The first ``n`` examples (budgets in quick mode)."""
        if n <= 0:
            raise ValueError(f"take(n) needs n > 0, got {n}")
        return ImageSet(self.images[:n], self.labels[:n], self.classes, self.name)


def data_root() -> Path:
    """Lecture 2. The dataset cache: ``$COURSE_DATA_DIR`` if set, else ``<repo>/datasets``."""
    env = setting(DATA_DIR_ENV)
    return Path(env).expanduser().resolve() if env else REPO_ROOT / "datasets"


def md5sum(path: Path) -> str:
    """Lecture 2. The md5 hex digest of a file, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_idx(path: Path) -> np.ndarray:
    """Lecture 2. Parse an IDX file (the MNIST format), gzipped or not, into a uint8 array."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DatasetCorruptError(f"{path} is not an IDX file (bad magic number).")
    if raw[2] != 0x08:
        raise DatasetCorruptError(f"{path}: only unsigned-byte IDX files are supported.")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    expected = 4 + 4 * ndim + int(np.prod(dims))
    if len(raw) != expected:
        raise DatasetCorruptError(f"{path} holds {len(raw)} bytes; its header promises {expected}.")
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _how_to_get(key: str, root: Path) -> str:
    spec = DATASETS[key]
    lines = [f"To get {spec.name}: run once with internet access (the loader downloads it into {root}),",
             f"or copy the files into {root / spec.folder}, or point {DATA_DIR_ENV} at a folder that has them."]
    if key == "mnist":
        lines.append(f"With only the official test split at hand, set {STANDIN_ENV}=1 to use it as a stand-in.")
    return " ".join(lines)


def _missing(key: str, split: str, root: Path) -> list[Path]:
    folder = root / DATASETS[key].folder
    return [folder / name for name in DATASETS[key].files[split] if not (folder / name).is_file()]


def _verify(key: str, split: str, root: Path) -> None:
    folder = root / DATASETS[key].folder
    for name, expected in DATASETS[key].files[split].items():
        actual = md5sum(folder / name)
        if actual != expected:
            raise DatasetCorruptError(
                f"{folder / name} has md5 {actual}, expected {expected}: the file is damaged or not the "
                f"official one. Delete it and load again to re-download it.")


def _download(key: str, root: Path) -> None:
    import torchvision  # imported here: only downloads need it

    print(f"Downloading {DATASETS[key].name} into {root} (once; later runs use the cache) ...")
    dataset_class = getattr(torchvision.datasets, _TORCHVISION_CLASS[key])
    for train in (True, False):
        dataset_class(root=str(root), train=train, download=True)


def _parse(key: str, split: str, root: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images [N, C, H, W] and int64 labels [N] from verified files."""
    spec = DATASETS[key]
    folder = root / spec.folder
    names = list(spec.files[split])
    if spec.fmt == "idx":
        images = read_idx(folder / names[0])
        labels = read_idx(folder / names[1])
        if images.ndim != 3 or labels.shape != (images.shape[0],):
            raise DatasetCorruptError(f"{folder}: images {images.shape} and labels {labels.shape} do not match.")
        images = images[:, None]
    else:
        parts_x, parts_y = [], []
        for name in names:
            with open(folder / name, "rb") as handle:
                batch = pickle.load(handle, encoding="latin1")
            parts_x.append(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            parts_y.append(np.asarray(batch["labels"], dtype=np.int64))
        images, labels = np.concatenate(parts_x), np.concatenate(parts_y)
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


_announced: set[str] = set()


def _say_once(message: str) -> None:
    if message not in _announced:
        _announced.add(message)
        print(message)


def _standin(split: str, root: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Disjoint train/test parts of the official MNIST test split, fixed by a seed."""
    images, labels = _load_uint8("mnist", "test", str(root))
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(_STANDIN_SEED))
    part = order[:STANDIN_TRAIN_SIZE] if split == "train" else order[STANDIN_TRAIN_SIZE:]
    _say_once(f"MNIST: training files not found, so the official test split stands in "
              f"({STANDIN_TRAIN_SIZE} train / {len(labels) - STANDIN_TRAIN_SIZE} test images, disjoint; "
              f"{STANDIN_ENV}=1). Numbers are not comparable with full-MNIST results.")
    return images[part], labels[part]


@functools.lru_cache(maxsize=None)
def _load_uint8(key: str, split: str, root_str: str) -> tuple[torch.Tensor, torch.Tensor]:
    root = Path(root_str)
    if _missing(key, split, root):
        if not flag(OFFLINE_ENV):
            try:
                _download(key, root)
            except Exception as error:  # network down, read-only folder, ...
                missing = ", ".join(str(p) for p in _missing(key, split, root))
                raise DatasetNotFoundError(
                    f"{DATASETS[key].name} ({split}) is missing: {missing}. The download failed "
                    f"({type(error).__name__}: {error}). {_how_to_get(key, root)}") from None
        still_missing = _missing(key, split, root)
        if still_missing:
            raise DatasetNotFoundError(
                f"{DATASETS[key].name} ({split}) is missing: looked for "
                f"{', '.join(str(p) for p in still_missing)} ({OFFLINE_ENV}=1: no download tried). "
                f"{_how_to_get(key, root)}")
    _verify(key, split, root)
    return _parse(key, split, root)


def _uses_standin(key: str, root: Path) -> bool:
    return key == "mnist" and bool(_missing("mnist", "train", root)) and flag(STANDIN_ENV)


def load_dataset(name: str, split: str = "train", root: str | Path | None = None) -> ImageSet:
    """Lecture 2. Load a whole split as float images in [0, 1] and int64 labels (CPU tensors).

    ``name``: ``"mnist"``, ``"fashion_mnist"`` or ``"cifar10"``; ``split``: ``"train"`` or ``"test"``.
    With the MNIST stand-in on (see module doc), both splits come from the official test file.
    """
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}; choose one of {sorted(DATASETS)}.")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    root_path = Path(root).expanduser().resolve() if root is not None else data_root()
    if _uses_standin(name, root_path):
        images, labels = _standin(split, root_path)
    else:
        images, labels = _load_uint8(name, split, str(root_path))
    return ImageSet(images.float().div_(255), labels.clone(), DATASETS[name].classes, DATASETS[name].name)


def load_mnist(split: str = "train", root: str | Path | None = None) -> ImageSet:
    """Lecture 2. MNIST digits ``[N, 1, 28, 28]``."""
    return load_dataset("mnist", split, root)


def load_fashion_mnist(split: str = "train", root: str | Path | None = None) -> ImageSet:
    """Lecture 4. Fashion-MNIST clothes ``[N, 1, 28, 28]`` (the exercise dataset of lecture 4)."""
    return load_dataset("fashion_mnist", split, root)


#: Oxford-IIIT Pet trimap values (1 pet, 2 background, 3 border) -> course classes (0 background, 1 pet, 2 border).
PET_CLASSES = ("background", "pet", "border")
_TRIMAP_TO_CLASS = torch.tensor([0, 1, 0, 2])


def load_oxford_pets(split: str = "trainval", size: int = 64, limit: int | None = None, seed: int = 0,
                     root: str | Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Lecture 1. Oxford-IIIT Pet photos with their trimap masks, resized to ``size x size``.

    Returns images float32 ``[N, 3, size, size]`` in [0, 1] and masks int64 ``[N, size, size]`` with the
    classes of :data:`PET_CLASSES`. ``limit`` takes a seeded random subset (the file lists are sorted
    by breed, so the first images would be few breeds). Read by torchvision's ``OxfordIIITPet`` from
    ``<root>/oxford-iiit-pet``; when the files are missing it downloads them (about 800 MB, announced)
    unless ``COURSE_OFFLINE=1``, and raises :class:`DatasetNotFoundError` if they cannot be had.
    """
    from PIL import Image
    from torchvision.datasets import OxfordIIITPet

    if split not in ("trainval", "test"):
        raise ValueError(f"split must be 'trainval' or 'test', got {split!r}")
    if not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an int >= 8, got {size!r}")
    root_path = Path(root) if root is not None else data_root()
    folder = root_path / "oxford-iiit-pet"
    download = not flag(OFFLINE_ENV) and not (folder / "annotations").is_dir()
    if download:
        print(f"Downloading Oxford-IIIT Pet into {root_path} (about 800 MB, once) ...")
    try:
        dataset = OxfordIIITPet(str(root_path), split=split, target_types="segmentation", download=download)
    except Exception as error:  # torchvision's "Dataset not found", network down, read-only folder, ...
        tried = "the download failed" if download else f"{OFFLINE_ENV}=1: no download tried" \
            if flag(OFFLINE_ENV) else "no download tried"
        raise DatasetNotFoundError(
            f"Oxford-IIIT Pet ({split}) is not in {folder} ({tried}: {type(error).__name__}: {error}). "
            f"Run once with internet access and {OFFLINE_ENV} unset, or unpack images.tar.gz and "
            f"annotations.tar.gz from https://www.robots.ox.ac.uk/~vgg/data/pets/ into {folder}.") from None
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))
    chosen = order[:limit] if limit is not None else order
    images = torch.empty(len(chosen), 3, size, size)
    masks = torch.empty(len(chosen), size, size, dtype=torch.long)
    for row, index in enumerate(chosen.tolist()):
        image, trimap = dataset[index]
        image = image.convert("RGB").resize((size, size), Image.BILINEAR)
        trimap = trimap.resize((size, size), Image.NEAREST)
        images[row] = torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1).float() / 255
        masks[row] = _TRIMAP_TO_CLASS[torch.from_numpy(np.asarray(trimap, dtype=np.int64).copy()).clamp(0, 3)]
    return images, masks


class Batches:
    """Lecture 1. Minibatches sliced from tensors that already sit on the device.

    One ``randperm`` an epoch and one indexing op a batch: no per-sample Python work, no
    worker processes, no PIL. Yields a tensor when built from one tensor, else a tuple.
    ``len()`` is the number of batches in one pass. ``endless=True`` makes the iterator go on
    forever, reshuffling after every pass (for loops that count steps, not epochs).

    >>> for images, labels in Batches(train.images, train.labels, batch_size=128, device=device): ...
    """

    def __init__(self, *tensors: torch.Tensor, batch_size: int, shuffle: bool = True,
                 drop_last: bool = False, device: torch.device | str | None = None,
                 seed: int | None = 0, endless: bool = False) -> None:
        if not tensors:
            raise ValueError("Batches needs at least one tensor.")
        if not all(isinstance(t, torch.Tensor) for t in tensors):
            raise TypeError("Batches takes tensors; got " + ", ".join(type(t).__name__ for t in tensors))
        sizes = {t.shape[0] if t.dim() else -1 for t in tensors}
        if len(sizes) != 1 or -1 in sizes:
            raise ValueError(f"All tensors need the same first dimension; got {[tuple(t.shape) for t in tensors]}.")
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
        self.tensors = tuple(t.to(device) if device is not None else t for t in tensors)
        self.n = sizes.pop()
        if self.n == 0:
            raise ValueError("Batches got empty tensors (0 examples).")
        if drop_last and self.n < batch_size:
            raise ValueError(f"drop_last=True with {self.n} examples and batch_size={batch_size} gives no batch at all.")
        self._flat = tuple(t.reshape(self.n, -1) for t in self.tensors)
        self.batch_size, self.shuffle, self.drop_last, self.endless = batch_size, shuffle, drop_last, endless
        self._first_batch = 0    # where the next pass starts (skip_batches)
        self._generator = torch.Generator()
        if seed is not None:
            self._generator.manual_seed(seed)
        else:
            self._generator.seed()

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full if (self.drop_last or rest == 0) else full + 1

    def skip_passes(self, passes: int) -> None:
        """Lecture 2. Draw and discard the shuffles of ``passes`` epochs, so that a resumed run sees the same
        batches as one that never stopped (a no-op without shuffling)."""
        check_int(passes, "passes", 0)
        if self.shuffle:
            for _ in range(passes):
                torch.randperm(self.n, generator=self._generator)

    def skip_batches(self, batches: int) -> None:
        """Lecture 5. Skip ``batches`` batches of the passes to come, so that a loop that counts steps (an
        ``endless`` iterator) resumes on the very batches of one that never stopped: whole passes are skipped as
        :meth:`skip_passes` does, and the next pass starts at the batch where the run stopped."""
        check_int(batches, "batches", 0)
        passes, self._first_batch = divmod(batches, len(self))
        self.skip_passes(passes)

    def __iter__(self) -> Iterator[torch.Tensor | tuple[torch.Tensor, ...]]:
        yield from self._one_pass()
        while self.endless:
            yield from self._one_pass()

    def _one_pass(self) -> Iterator[torch.Tensor | tuple[torch.Tensor, ...]]:
        device = self.tensors[0].device
        order = (torch.randperm(self.n, generator=self._generator).to(device)
                 if self.shuffle else None)
        first, self._first_batch = self._first_batch, 0
        for batch in range(first, len(self)):
            start = batch * self.batch_size
            if order is None:
                parts = tuple(t[start:start + self.batch_size] for t in self.tensors)
            else:
                # Gathering rows of a 2-D view is one cheap copy; a multi-dimensional gather
                # pays OpenMP start-up on every call and is many times slower on small CPUs.
                index = order[start:start + self.batch_size]
                parts = tuple(flat[index].view(-1, *t.shape[1:])
                              for flat, t in zip(self._flat, self.tensors))
            yield parts[0] if len(parts) == 1 else parts


def to_gan_range(images: torch.Tensor) -> torch.Tensor:
    """Lecture 4. Pixels in [0, 1] (as the datasets load) to [-1, 1] (the range of a tanh generator): ``2x - 1``."""
    check_tensor(images, "images", floating=True)
    return images * 2.0 - 1.0
