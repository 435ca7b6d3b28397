"""Shared fixtures: every test starts with a clean course environment (no mode/data switches)."""
import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

COURSE_SWITCHES = ["COURSE_QUICK", "COURSE_DATA_DIR", "COURSE_OFFLINE", "COURSE_MNIST_STANDIN",
                   "COURSE_CHECKPOINT_DIR", "COURSE_RESULTS_DIR", "COURSE_DEVICE", "COURSE_STRICT_CHECKS"]


@pytest.fixture(autouse=True)
def clean_course_env(monkeypatch):
    for name in COURSE_SWITCHES:
        monkeypatch.delenv(name, raising=False)
    yield
    import matplotlib.pyplot as plt
    plt.close("all")
