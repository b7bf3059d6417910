"""What a run leaves behind: recorded order handles, artifacts and the HTML report."""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

import streamsim as ss
from streamsim.orders import OrderHandle
from streamsim.results.artifacts import write_artifacts


class _RecordingBroker:
    """``ctx.broker`` that also keeps every handle it returns (for ``orders.csv``)."""

    def __init__(self, inner: Any, sink: list[OrderHandle]) -> None:
        self._inner = inner
        self._sink = sink

    def submit(self, order: ss.Order) -> OrderHandle:
        handle: OrderHandle = self._inner.submit(order)
        self._sink.append(handle)
        return handle

    def cancel(self, handle: OrderHandle) -> None:
        self._inner.cancel(handle)

    def amend(
        self, handle: OrderHandle, price: int | None = None, qty: int | None = None
    ) -> OrderHandle:
        new: OrderHandle = self._inner.amend(handle, price=price, qty=qty)
        self._sink.append(new)
        return new


def record_orders(strategy: ss.Strategy) -> list[OrderHandle]:
    """Wrap ``strategy.on_start`` so its ``ctx.broker`` records the handles it returns."""
    handles: list[OrderHandle] = []
    original = strategy.on_start

    async def on_start(ctx: ss.Context) -> None:
        ctx.broker = _RecordingBroker(ctx.broker, handles)  # type: ignore[assignment]
        await original(ctx)

    strategy.on_start = on_start  # type: ignore[method-assign]
    return handles


def _write_outputs(
    console: Console,
    result: ss.RunResult,
    exchange: ss.SimExchange,
    out: Path,
    orders: Sequence[OrderHandle],
    config: Mapping[str, Any],
    seed: int | None,
    inputs: Sequence[Path],
) -> None:
    """Artifacts, plus the HTML report when ``streamsim.results.report.write_report`` exists."""
    write_artifacts(result, exchange, out, orders=orders, config=config, seed=seed, inputs=inputs)
    try:
        report = importlib.import_module("streamsim.results.report")
    except ImportError:
        report = None
    write_report = getattr(report, "write_report", None)
    if write_report is not None:
        try:
            write_report(out)
        except Exception as error:  # the report is optional; the artifacts are written
            console.print(f"[yellow]report not written: {escape(str(error))}")
    console.print(f"artifacts written to [bold]{out}")
