"""Shared fixtures: every test starts with a clean course environment (no COURSE_* switch set)."""
import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from course_lib.config import SWITCHES  # noqa: E402


@pytest.fixture(autouse=True)
def clean_course_env(monkeypatch):
    for name in SWITCHES:
        monkeypatch.delenv(name, raising=False)
    yield
    import matplotlib.pyplot as plt
    plt.close("all")
