"""media_items.py

A modality's items of a batch, as `MultimodalLM` takes them: ONE tensor ``(N, *item)`` when every item has
the same shape (today's images, and videos of one frame count), else a LIST of per-item tensors (videos
sampled by frame rate: ``(T_i, C, H, W)`` with ``T_i`` varying). The same holds for what comes out of an
encoder and a projector (``(N, L, D)`` or a list of ``(L_i, D)``).

    items = stack_items([a, b, c])            # a tensor if shapes agree, else [a, b, c]
    for slots, stacked in item_groups(items):  # same-shape groups, each one batched call
        ...

Groups keep the order of first appearance; ``slots`` are the items' positions in ``items``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

MediaItems = torch.Tensor | list[torch.Tensor]  # (N, *item) or N tensors of differing shapes


def stack_items(items: Sequence[torch.Tensor]) -> MediaItems:
    """One tensor when all ``items`` share a shape (or there are none), else the list itself."""
    if len({tuple(t.shape) for t in items}) <= 1:
        return torch.stack(list(items)) if items else torch.empty(0)
    return list(items)


def item_count(items: MediaItems) -> int:
    """How many items."""
    return len(items) if isinstance(items, list) else int(items.shape[0])


def item_groups(items: MediaItems) -> list[tuple[list[int], torch.Tensor]]:
    """``(slots, stacked)`` per shape: the items of one shape stacked, with their positions in ``items``."""
    if not isinstance(items, list):
        return [(list(range(int(items.shape[0]))), items)] if items.shape[0] else []
    slots: dict[tuple[int, ...], list[int]] = {}
    for i, item in enumerate(items):
        slots.setdefault(tuple(item.shape), []).append(i)
    return [(group, torch.stack([items[i] for i in group])) for group in slots.values()]


def unstack(items: MediaItems) -> list[torch.Tensor]:
    """The items one by one."""
    return list(items) if isinstance(items, list) else list(items.unbind(0))


def item_lengths(items: MediaItems) -> list[int]:
    """Tokens (first dimension) of each item of ``(N, L, D)`` / ``[(L_i, D)]``."""
    if isinstance(items, list):
        return [int(t.shape[0]) for t in items]
    return [int(items.shape[1])] * int(items.shape[0])


def to_device(items: MediaItems | None, device: torch.device | str) -> MediaItems | None:
    """``items`` moved to ``device`` (None stays None)."""
    if items is None:
        return None
    if isinstance(items, list):
        return [t.to(device, non_blocking=True) for t in items]
    return items.to(device, non_blocking=True)
