"""Waiting works in every world: under the simulation kernel and on a real event loop."""

from __future__ import annotations

import asyncio

import anyio
import pytest

import streamsim as ss
from streamsim.orders import OrderHandle, OrderStatus, OrderUpdate


def _update(handle: OrderHandle, status: OrderStatus, filled: int = 0) -> OrderUpdate:
    return OrderUpdate(
        symbol=handle.order.symbol,
        client_id=handle.client_id,
        status=status,
        ts_exchange=0,
        ts_recv=0,
        ts_local=0,
        filled_qty=filled,
        last_qty=filled,
    )


def test_order_handles_can_be_awaited_from_a_plain_asyncio_task_group() -> None:
    handle = OrderHandle(ss.Order("X", ss.BUY, 3, 100), "c1")
    seen: list[str] = []

    async def waiter() -> None:
        await handle.acked()
        seen.append("acked")
        await handle.filled()
        seen.append("filled")
        await handle.done()
        seen.append("done")

    async def venue() -> None:
        await asyncio.sleep(0)
        handle.apply(_update(handle, OrderStatus.NEW))
        await asyncio.sleep(0)
        handle.apply(_update(handle, OrderStatus.PARTIALLY_FILLED, 1))
        await asyncio.sleep(0)
        handle.apply(_update(handle, OrderStatus.FILLED, 3))

    async def main() -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(waiter())
            tg.create_task(venue())

    asyncio.run(main())
    assert seen == ["acked", "filled", "done"]
    assert not handle.is_open


def test_a_cancelled_real_loop_waiter_leaves_no_waiter_behind() -> None:
    event = ss.SimEvent()

    async def main() -> None:
        with anyio.move_on_after(0.01):
            await event
        event.set()  # must not try to wake the cancelled waiter's future

    anyio.run(main)
    assert event.is_set()


def test_a_simulated_sleep_awaited_outside_the_simulation_says_what_to_use() -> None:
    from streamsim.run.parking import Sleep

    async def main() -> None:
        await Sleep(10)

    with pytest.raises(RuntimeError, match=r"ctx\.spawn"):
        asyncio.run(main())
