"""Draining a stream's queue into runs of frames, one batch's worth at a time."""

from __future__ import annotations

import asyncio

from .markers import Item


async def take(queue: asyncio.Queue[Item], limit: int, timeout: float | None) -> list[Item]:
    """Wait for one entry, then take what else is already there (at most ``limit``);
    nothing if none came within ``timeout`` seconds."""
    try:
        first = await asyncio.wait_for(queue.get(), timeout)
    except TimeoutError:
        return []
    items = [first]
    while len(items) < limit and not queue.empty():
        items.append(queue.get_nowait())
    return items
