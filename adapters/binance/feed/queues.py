"""Draining a stream's queue into runs of frames, one batch's worth at a time."""

from __future__ import annotations

import asyncio

from .markers import Item


async def take(queue: asyncio.Queue[Item], limit: int) -> list[Item]:
    """Wait for one entry, then take what else is already there (at most ``limit``)."""
    items = [await queue.get()]
    while len(items) < limit and not queue.empty():
        items.append(queue.get_nowait())
    return items
