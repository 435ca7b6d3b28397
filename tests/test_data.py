"""Data loading: checksums, stand-in, missing data, Fashion-MNIST and CIFAR-10 on files the tests write;
the Batches iterator; the two pixel ranges."""
import gzip
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from course_lib import data, viz

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def _fake_idx_dataset(root: Path, key: str, monkeypatch, n_train=30, n_test=20, seed=0) -> dict:
    """Write small IDX files under the dataset's folder and register their md5 sums."""
    rng = np.random.default_rng(seed)
    spec = data.DATASETS[key]
    folder = root / spec.folder
    folder.mkdir(parents=True)
    arrays = {}
    md5s = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28))
        labels = rng.integers(0, 10, size=n)
        names = list(spec.files[split])
        _write_idx(folder / names[0], images)
        _write_idx(folder / names[1], labels)
        md5s[split] = {name: data.md5sum(folder / name) for name in names}
        arrays[split] = (images, labels)
    monkeypatch.setitem(data.DATASETS, key, data.DatasetFiles(spec.name, spec.folder, md5s, spec.classes, spec.fmt))
    return arrays


def test_fashion_mnist_loads_and_matches_the_files(tmp_path, monkeypatch):
    arrays = _fake_idx_dataset(tmp_path, "fashion_mnist", monkeypatch)
    train = data.load_fashion_mnist("train", root=tmp_path)
    test = data.load_fashion_mnist("test", root=tmp_path)
    assert train.images.shape == (30, 1, 28, 28) and train.images.dtype == torch.float32
    assert test.labels.shape == (20,) and test.labels.dtype == torch.int64
    assert float(train.images.min()) >= 0 and float(train.images.max()) <= 1
    assert torch.equal((train.images[:, 0] * 255).round().to(torch.uint8), torch.from_numpy(arrays["train"][0].astype(np.uint8)))
    assert torch.equal(test.labels, torch.from_numpy(arrays["test"][1]).long())
    assert train.classes[0] == "T-shirt/top" and len(train) == 30


def test_checksum_mismatch_is_reported(tmp_path, monkeypatch):
    _fake_idx_dataset(tmp_path, "fashion_mnist", monkeypatch, seed=1)
    target = tmp_path / "FashionMNIST/raw/t10k-labels-idx1-ubyte.gz"
    target.write_bytes(target.read_bytes()[:-3])  # a truncated download
    with pytest.raises(data.DatasetCorruptError, match="md5") as info:
        data.load_fashion_mnist("test", root=tmp_path)
    assert "t10k-labels" in str(info.value) and "Delete it" in str(info.value)


def test_missing_dataset_offline_says_what_where_and_how(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    with pytest.raises(data.DatasetNotFoundError) as info:
        data.load_fashion_mnist("train", root=tmp_path / "empty")
    message = str(info.value)
    assert "Fashion-MNIST" in message and "train-images-idx3-ubyte.gz" in message
    assert str(tmp_path / "empty") in message and "COURSE_DATA_DIR" in message


def test_failed_download_is_a_clear_error(tmp_path, monkeypatch):
    def no_network(key, root):
        raise OSError("network unreachable")
    monkeypatch.setattr(data, "_download", no_network)
    with pytest.raises(data.DatasetNotFoundError, match="download failed.*network unreachable"):
        data.load_dataset("cifar10", "test", root=tmp_path)


def test_cifar10_loads_from_pickled_batches(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    spec = data.DATASETS["cifar10"]
    folder = tmp_path / spec.folder
    folder.mkdir()
    md5s = {"train": {}, "test": {}}
    expected = {}
    for split, names in spec.files.items():
        for name in names:
            pixels = rng.integers(0, 256, size=(4, 3 * 32 * 32), dtype=np.uint8)
            labels = rng.integers(0, 10, size=4).tolist()
            with open(folder / name, "wb") as handle:
                pickle.dump({"data": pixels, "labels": labels}, handle)
            md5s[split][name] = data.md5sum(folder / name)
            expected.setdefault(split, []).append((pixels, labels))
    monkeypatch.setitem(data.DATASETS, "cifar10", data.DatasetFiles(spec.name, spec.folder, md5s, spec.classes, spec.fmt))
    train = data.load_dataset("cifar10", "train", root=tmp_path)
    assert train.images.shape == (20, 3, 32, 32) and train.labels.shape == (20,)
    first = torch.from_numpy(expected["train"][0][0][0].reshape(3, 32, 32))
    assert torch.equal((train.images[0] * 255).round().to(torch.uint8), first)
    assert train.labels[:4].tolist() == expected["train"][0][1]
    assert data.load_dataset("cifar10", "test", root=tmp_path).images.shape == (4, 3, 32, 32)


def test_mnist_standin_needs_the_switch_and_says_so(tmp_path, monkeypatch, capsys):
    arrays = _fake_idx_dataset(tmp_path, "mnist", monkeypatch, n_train=1, n_test=40, seed=2)
    for name in data.DATASETS["mnist"].files["train"]:
        (tmp_path / "MNIST/raw" / name).unlink()  # only the test split is at hand
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    with pytest.raises(data.DatasetNotFoundError, match="COURSE_MNIST_STANDIN"):
        data.load_mnist("train", root=tmp_path)
    monkeypatch.setenv("COURSE_MNIST_STANDIN", "1")
    monkeypatch.setattr(data, "STANDIN_TRAIN_SIZE", 30)
    data._announced.clear()
    train, test = data.load_mnist("train", root=tmp_path), data.load_mnist("test", root=tmp_path)
    assert len(train) == 30 and len(test) == 10
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and "stand" in printed[0] and "COURSE_MNIST_STANDIN" in printed[0]
    # disjoint parts that together are exactly the official test split
    def as_rows(s):
        return {tuple((s.images[i, 0] * 255).round().int().flatten().tolist()) for i in range(len(s))}

    official = {tuple(a.flatten().tolist()) for a in arrays["test"][0].astype(int)}
    assert as_rows(train).isdisjoint(as_rows(test)) and as_rows(train) | as_rows(test) == official
    # deterministic
    assert torch.equal(data.load_mnist("train", root=tmp_path).labels, train.labels)


def _offline_mnist(monkeypatch):
    """Point the loader at the offline copy beside the repository, as CI does (skip without it)."""
    if not (SHARED_MNIST / "MNIST/raw/t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip("the offline MNIST copy is not beside the repository (../shared/datasets)")
    monkeypatch.setenv("COURSE_DATA_DIR", str(SHARED_MNIST))
    monkeypatch.setenv("COURSE_MNIST_STANDIN", "1")
    monkeypatch.setenv("COURSE_OFFLINE", "1")


def test_real_mnist_test_split_verifies_and_loads(monkeypatch):
    _offline_mnist(monkeypatch)
    assert data.data_root() == SHARED_MNIST.resolve()
    test = data.load_mnist("test")
    train = data.load_mnist("train")
    assert len(train) == data.STANDIN_TRAIN_SIZE and len(test) == 10_000 - data.STANDIN_TRAIN_SIZE
    assert train.images.shape[1:] == (1, 28, 28) and train.images.dtype == torch.float32
    assert sorted(train.labels.unique().tolist()) == list(range(10))
    assert abs(float(train.images.mean()) - 0.13) < 0.01  # MNIST's well-known mean intensity
    assert float(train.images.min()) == 0.0 and float(train.images.max()) == 1.0


def test_data_root_follows_the_switch(monkeypatch, tmp_path):
    assert data.data_root() == data.REPO_ROOT / "datasets"
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    assert data.data_root() == tmp_path.resolve()


def test_image_set_take_and_to():
    images = data.ImageSet(torch.rand(5, 1, 2, 2), torch.arange(5), ("a",), "toy")
    first = images.take(2)
    assert len(first) == 2 and torch.equal(first.labels, torch.arange(2)) and first.name == "toy"
    assert images.to("cpu").images.device.type == "cpu"
    with pytest.raises(ValueError, match="n > 0"):
        images.take(0)


@pytest.mark.parametrize("name,split", [("imagenet", "train"), ("mnist", "validation")])
def test_bad_names_are_rejected(name, split):
    with pytest.raises(ValueError):
        data.load_dataset(name, split)


def test_read_idx_rejects_garbage(tmp_path):
    bad = tmp_path / "bad.gz"
    with gzip.open(bad, "wb") as handle:
        handle.write(b"\x01\x02\x03\x04hello")
    with pytest.raises(data.DatasetCorruptError, match="magic"):
        data.read_idx(bad)


def test_batches_cover_every_example_once_per_epoch():
    x = torch.arange(103).float()[:, None]
    y = torch.arange(103)
    batches = data.Batches(x, y, batch_size=10, seed=0)
    assert len(batches) == 11
    seen = torch.cat([labels for _, labels in batches])
    assert sorted(seen.tolist()) == list(range(103))
    for images, labels in batches:
        assert torch.equal(images[:, 0].long(), labels)  # rows stay paired
    fresh = data.Batches(x, y, batch_size=10, seed=0)
    first, second = [torch.cat([b[1] for b in fresh]) for _ in range(2)]
    assert not torch.equal(first, second)  # reshuffled every epoch
    again = torch.cat([b[1] for b in data.Batches(x, y, batch_size=10, seed=0)])
    assert torch.equal(first, again)  # the same seed repeats


def test_batches_drop_last_and_no_shuffle():
    x = torch.arange(25)
    batches = data.Batches(x, batch_size=10, shuffle=False, drop_last=True)
    out = list(batches)
    assert len(batches) == 2 and [b.tolist() for b in out] == [list(range(10)), list(range(10, 20))]
    assert len(data.Batches(x, batch_size=5)) == 5
    kept = [b.tolist() for b in data.Batches(x, batch_size=10, shuffle=False)]
    assert kept[-1] == list(range(20, 25)) and len(kept) == 3


def test_batches_keep_image_shapes():
    images = torch.arange(6 * 2 * 3 * 3).float().view(6, 2, 3, 3)
    labels = torch.arange(6)
    for x, y in data.Batches(images, labels, batch_size=4, seed=1):
        assert x.shape[1:] == (2, 3, 3)
        assert torch.equal(x, images[y])            # rows gathered whole and paired with their labels


def test_drop_last_with_fewer_examples_than_a_batch_is_an_error():
    with pytest.raises(ValueError, match="drop_last=True with 5 examples and batch_size=8 gives no batch"):
        data.Batches(torch.zeros(5), batch_size=8, drop_last=True)
    assert len(data.Batches(torch.zeros(8), batch_size=8, drop_last=True)) == 1
    assert len(data.Batches(torch.zeros(5), batch_size=8)) == 1      # without drop_last: one short batch


def test_endless_batches_go_past_one_epoch_and_reshuffle():
    y = torch.arange(10)
    batches = data.Batches(y, batch_size=4, seed=0, endless=True)
    assert len(batches) == 3                          # len() is still one pass
    stream = iter(batches)
    taken = [next(stream) for _ in range(3 * 4)]      # four passes
    assert [len(b) for b in taken] == [4, 4, 2] * 4   # each pass ends with its short batch
    passes = [torch.cat(taken[i:i + 3]) for i in range(0, 12, 3)]
    for one_pass in passes:
        assert sorted(one_pass.tolist()) == list(range(10))
    assert len({tuple(p.tolist()) for p in passes}) > 1          # reshuffled after every pass
    again = iter(data.Batches(y, batch_size=4, seed=0, endless=True))
    assert all(torch.equal(next(again), b) for b in taken)       # and repeatable from the seed


def test_finite_batches_stop_after_one_pass_and_endless_drop_last_drops_every_pass():
    assert len(list(data.Batches(torch.arange(10), batch_size=4))) == 3
    stream = iter(data.Batches(torch.arange(10), batch_size=4, drop_last=True, endless=True, shuffle=False))
    assert [next(stream).tolist() for _ in range(4)] == [[0, 1, 2, 3], [4, 5, 6, 7]] * 2


def test_gan_range_and_back():
    x = torch.tensor([0.0, 0.25, 0.5, 1.0])
    assert torch.equal(data.to_gan_range(x), torch.tensor([-1.0, -0.5, 0.0, 1.0]))
    images = torch.rand(3, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    # back to [0, 1] the way the library does it: viz.to_unit_range with the tanh range
    assert torch.allclose(viz.to_unit_range(data.to_gan_range(images), (-1, 1)), images, atol=1e-7)
    with pytest.raises(TypeError, match="floating-point"):
        data.to_gan_range(torch.zeros(2, dtype=torch.uint8))
    with pytest.raises(TypeError, match="torch.Tensor"):
        data.to_gan_range([0.0])


@pytest.mark.parametrize("args,kwargs,error", [
    ((), {"batch_size": 2}, ValueError),
    ((torch.zeros(3), torch.zeros(4)), {"batch_size": 2}, ValueError),
    ((torch.zeros(3),), {"batch_size": 0}, ValueError),
    (([1, 2, 3],), {"batch_size": 1}, TypeError),
    ((torch.zeros(0, 2),), {"batch_size": 1}, ValueError),
])
def test_batches_bad_input(args, kwargs, error):
    with pytest.raises(error):
        data.Batches(*args, **kwargs)


def _fake_pets(root, names=("cat_1", "dog_2", "cat_3")):
    from PIL import Image
    folder = root / "oxford-iiit-pet"
    (folder / "images").mkdir(parents=True)
    (folder / "annotations" / "trimaps").mkdir(parents=True)
    lines = []
    for i, name in enumerate(names):
        Image.fromarray(np.full((20, 30, 3), 40 * i, dtype=np.uint8)).save(folder / "images" / f"{name}.jpg")
        trimap = np.full((20, 30), 2, dtype=np.uint8)        # background
        trimap[5:15, 10:20] = 1                                # the pet
        trimap[4, 10:20] = 3                                   # its border
        Image.fromarray(trimap).save(folder / "annotations" / "trimaps" / f"{name}.png")
        lines.append(f"{name} {i + 1} 1 1")
    for split in ("trainval", "test"):
        (folder / "annotations" / f"{split}.txt").write_text("\n".join(lines) + "\n")


def test_load_oxford_pets_resizes_and_maps_the_trimap_classes(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    _fake_pets(tmp_path)
    images, masks = data.load_oxford_pets("trainval", size=10, root=tmp_path)
    assert images.shape == (3, 3, 10, 10) and images.dtype == torch.float32
    assert float(images.min()) >= 0 and float(images.max()) <= 1
    assert masks.shape == (3, 10, 10) and masks.dtype == torch.long
    assert set(masks.unique().tolist()) <= {0, 1, 2} and int(masks[0, 0, 0]) == 0 and int(masks[0, 5, 5]) == 1
    some, _ = data.load_oxford_pets("test", size=10, limit=2, seed=1, root=tmp_path)
    assert some.shape[0] == 2
    with pytest.raises(ValueError, match="split"):
        data.load_oxford_pets("train", root=tmp_path)


def test_load_oxford_pets_offline_without_files_says_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    with pytest.raises(data.DatasetNotFoundError, match="no download tried"):
        data.load_oxford_pets(root=tmp_path)


def test_skip_passes_gives_a_resumed_loop_the_shuffles_of_one_that_never_stopped():
    x = torch.arange(20.0).view(20, 1)
    never_stopped = data.Batches(x, batch_size=20, seed=3)
    passes = [next(iter(never_stopped)) for _ in range(3)]
    resumed = data.Batches(x, batch_size=20, seed=3)
    resumed.skip_passes(2)
    assert torch.equal(next(iter(resumed)), passes[2])
    assert not torch.equal(passes[0], passes[2])
    ordered = data.Batches(x, batch_size=20, shuffle=False)
    ordered.skip_passes(5)                       # nothing to skip without shuffling
    assert torch.equal(next(iter(ordered)), x)


def test_skip_batches_resumes_an_endless_loop_on_the_batch_where_it_stopped():
    x = torch.arange(20.0).view(20, 1)
    never_stopped = iter(data.Batches(x, batch_size=6, drop_last=True, seed=3, endless=True))   # 3 batches a pass
    batches = [next(never_stopped) for _ in range(10)]
    for done in (0, 2, 3, 7):                    # at the start, mid-pass, at a pass boundary, two passes on
        resumed = data.Batches(x, batch_size=6, drop_last=True, seed=3, endless=True)
        resumed.skip_batches(done)
        again = iter(resumed)
        for expected in batches[done:]:
            assert torch.equal(next(again), expected), done
    epochs = data.Batches(x, batch_size=8, seed=3)                   # not endless: the resumed pass is shorter
    first_pass = list(epochs)
    resumed = data.Batches(x, batch_size=8, seed=3)
    resumed.skip_batches(1)
    rest = list(resumed)
    assert len(rest) == 2 and all(torch.equal(a, b) for a, b in zip(rest, first_pass[1:]))
    assert len(list(resumed)) == 3                                   # the next pass is whole again
    with pytest.raises(ValueError):
        resumed.skip_batches(-1)
