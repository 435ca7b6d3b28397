import random

import numpy as np
import pytest
import torch

from course_lib import config


def test_pick_follows_the_quick_switch(monkeypatch):
    assert config.pick(full=10, quick=1) == 10 and config.mode_name() == "full"
    for on in ("1", "true", "YES", "on"):
        monkeypatch.setenv("COURSE_QUICK", on)
        assert config.is_quick() and config.pick(full=10, quick=1) == 1 and config.mode_name() == "quick"
    monkeypatch.setenv("COURSE_QUICK", "0")
    assert not config.is_quick()


def test_get_device_defaults_and_forcing(monkeypatch):
    assert config.get_device().type in ("cpu", "cuda", "mps")
    assert config.get_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert config.get_device() == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_asking_for_missing_cuda_is_a_clear_error():
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        config.get_device("cuda")


def test_seeding_repeats_exactly():
    config.seed_everything(3)
    first = (random.random(), np.random.rand(), torch.rand(3))
    config.seed_everything(3)
    second = (random.random(), np.random.rand(), torch.rand(3))
    assert first[0] == second[0] and first[1] == second[1] and torch.equal(first[2], second[2])
    generator = config.seed_everything(5)
    assert torch.equal(torch.rand(2, generator=generator), torch.rand(2, generator=torch.Generator().manual_seed(5)))


@pytest.mark.parametrize("bad", [-1, 1.5, "3"])
def test_bad_seed(bad):
    with pytest.raises(ValueError):
        config.seed_everything(bad)
