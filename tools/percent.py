"""Convert between a notebook and a plain-text "percent" script, for editing notebooks as text.

    python tools/percent.py to-py solutions/01_segmentation.ipynb /tmp/l1.py
    python tools/percent.py to-ipynb /tmp/l1.py solutions/01_segmentation.ipynb

Cells start with ``# %%`` (code) or ``# %% [markdown]`` (markdown; each line prefixed by ``# ``).
The notebook stays the source of truth: the script is a scratch copy, not committed.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

KERNEL = {"display_name": "Python 3", "language": "python", "name": "python3"}


def to_py(nb: dict) -> str:
    parts = []
    for cell in nb["cells"]:
        src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            body = "\n".join(("# " + line) if line else "#" for line in src.split("\n"))
            parts.append("# %% [markdown]\n" + body)
        else:
            parts.append("# %%\n" + src)
    return "\n\n".join(parts) + "\n"


def to_ipynb(text: str) -> dict:
    cells = []
    chunks = text.split("# %%")
    for chunk in chunks[1:]:
        header, _, body = chunk.partition("\n")
        body = body.rstrip("\n")
        if header.strip() == "[markdown]":
            lines = [line[2:] if line.startswith("# ") else line.lstrip("#") for line in body.split("\n")]
            cells.append({"cell_type": "markdown", "metadata": {}, "source": "\n".join(lines)})
        else:
            cells.append({"cell_type": "code", "metadata": {}, "source": body,
                          "outputs": [], "execution_count": None})
    return {"cells": cells, "metadata": {"kernelspec": KERNEL, "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def main() -> int:
    if len(sys.argv) != 4 or sys.argv[1] not in ("to-py", "to-ipynb"):
        print(__doc__)
        return 2
    mode, src, dst = sys.argv[1:]
    if mode == "to-py":
        Path(dst).write_text(to_py(json.loads(Path(src).read_text())))
    else:
        nb = to_ipynb(Path(src).read_text())
        for i, cell in enumerate(nb["cells"]):
            cell["id"] = f"c{i:03d}"
        Path(dst).write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
