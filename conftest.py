"""pytest settings for the nbval runs over notebooks/ and solutions/ (see course.sh test)."""


def pytest_collection_modifyitems(items):
    # nbval waits only 5 s for a cell's queued output after the cell finished; on a busy 2-core
    # machine torch's spinning worker threads can starve the kernel's output thread that long.
    for item in items:
        if hasattr(item, "output_timeout"):
            item.output_timeout = 120
