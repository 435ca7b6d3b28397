"""Shared fixtures: every test starts with a clean course environment (no COURSE_* switch set)."""
import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from course_lib.config import SWITCHES  # noqa: E402

# The unit tests use small tensors, for which one thread is faster than two (no start-up per op) and does
# not slow to a crawl when another process shares the two cores.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def clean_course_env(monkeypatch):
    for name in SWITCHES:
        monkeypatch.delenv(name, raising=False)
    yield
    import matplotlib.pyplot as plt
    plt.close("all")
