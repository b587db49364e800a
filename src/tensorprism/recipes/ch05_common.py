"""Helpers shared by the Chapter 5 recipes (no recipe is registered here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset


class Items(Dataset):
    """A list of examples with the ``collate_fn`` the Trainer should batch them with."""

    def __init__(self, items: list, collate_fn):
        self.items, self.collate_fn = items, collate_fn

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        return self.items[i]


def save_result(out_dir: str | None, name: str, result: dict[str, Any]) -> dict[str, Any]:
    """Write ``result`` as ``<out_dir>/<name>.json`` (when ``out_dir`` is set) and return it."""
    if out_dir:
        p = Path(out_dir)
        p.mkdir(parents=True, exist_ok=True)
        (p / f"{name}.json").write_text(json.dumps(result, indent=2, default=str))
    return result
