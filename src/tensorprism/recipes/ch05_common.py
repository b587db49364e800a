"""Helpers shared by the Chapter 5 recipes (no recipe is registered here)."""

from __future__ import annotations

from torch.utils.data import Dataset


class Items(Dataset):
    """A list of examples with the ``collate_fn`` the Trainer should batch them with."""

    def __init__(self, items: list, collate_fn):
        self.items, self.collate_fn = items, collate_fn

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        return self.items[i]
