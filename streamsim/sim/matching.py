"""The simulated exchange: the orchestrator of the venue's rules, on the exchange timeline.

Taker orders walk the exchange-side book level by level up to their limit. Liquidity we
take stays gone (self-impact) until the venue next changes that level. Resting orders do
not change the book others see; they fill when trades reach them through the queue
ahead, when a trade prints through their price, or when the opposite side of the book
moves through their price. Every state change is answered through the venue with
Binance's statuses and reject codes.

Where each rule lives (this class only routes events and orders to them):

* order checks and every reject code: :mod:`streamsim.order_checks`;
* the queue rule of resting orders: :mod:`streamsim.sim.queue_models`;
* fee rates: :mod:`streamsim.sim.fees`;
* the account, margin, funding and liquidation: :mod:`streamsim.sim.portfolio`;
* marks without a mark-price stream: :mod:`streamsim.sim.marking`;
* the bankrupt state of a wallet below zero: :mod:`streamsim.sim.bankruptcy`;
* the book guard: :mod:`streamsim.sim.guard`;
* the report, book health and account updates: :mod:`streamsim.sim.venue_report`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from itertools import count
from typing import Any, Literal

from ..account import AccountReason, AccountUpdate
from ..book import ASK, BID, BookPolicy, CrossedBookError, L2Book, Sequencing
from ..errors import ConfigError
from ..events import BUY, DepthUpdate, MarkPrice, Trade
from ..feed.plausibility import DEFAULT_LIMITS, Limits, check_mark_against_mid
from ..instruments import Instrument
from ..order_checks import (
    DUPLICATE_ID,
    GUARD_MESSAGE,
    GUARD_REJECT,
    NO_SUCH_ORDER,
    UNKNOWN_ORDER,
    UNKNOWN_ORDER_MESSAGE,
    venue_reject,
)
from ..orders import (
    LIQUIDATION_PREFIX,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUpdate,
    TimeInForce,
)
from ..results.record import FillRecord, RunRecord
from .bankruptcy import Bankruptcy
from .exchange import Venue
from .fees import FeeModel
from .fees import Fees as Fees  # noqa: PLC0414 (re-export)
from .guard import BookGuard, GuardConfig, GuardStats
from .marking import FallbackMarks, MarkFallback, check_mark_fallback, plan_marks
from .portfolio import BracketTable, Fill, Portfolio, default_brackets
from .queue_models import Conservative, QueueModel, RestingOrder, check_queue_model
from .venue_report import account_update, book_health, sync_ledger, venue_report

Trigger = Literal["last", "mark"]


class SimExchange:
    """A simulated venue for linear or inverse perpetuals of one margin asset (see the module
    docstring)."""

    wants_market = True

    def __init__(
        self,
        instruments: Sequence[Instrument] | Mapping[str, Instrument],
        *,
        fees: FeeModel | None = None,
        queue: QueueModel | None = None,
        participation: float = 1.0,
        initial_balance: float = 10_000.0,
        leverage: int | Mapping[str, int] = 20,
        brackets: Mapping[str, BracketTable] | None = None,
        guard: GuardConfig | None = GuardConfig(),  # noqa: B008 (frozen)
        liquidation_fee_rate: float = 0.0125,
        stop_trigger: Trigger = "last",
        sequencing: Sequencing = "futures",
        book_policy: BookPolicy | None = None,
        plausibility: Limits | None = None,
        mark_fallback: MarkFallback | None = None,
    ) -> None:
        if not isinstance(instruments, Mapping):
            instruments = {i.symbol: i for i in instruments}
        if not 0 < participation <= 1:
            raise ConfigError(f"participation must be in (0, 1], got {participation}")
        self.instruments = dict(instruments)
        self.fees: FeeModel = fees or Fees()
        self.queue: QueueModel = queue or Conservative()
        check_queue_model(self.queue)
        self.participation = participation
        self.stop_trigger = stop_trigger
        self.mark_fallback = check_mark_fallback(mark_fallback)
        self._fallback: FallbackMarks | None = None  # set by check_streams
        self.bankruptcy = Bankruptcy()
        self.limits = plausibility or DEFAULT_LIMITS
        tables = {s: default_brackets(s) for s in self.instruments}
        tables.update(brackets or {})
        self.portfolio = Portfolio(
            self.instruments, initial_balance, leverage, tables, liquidation_fee_rate
        )
        self.books = {s: L2Book(s, sequencing, book_policy) for s in self.instruments}
        self.guard_stats = GuardStats()
        self._guards = (
            {s: BookGuard(guard, self.guard_stats, s) for s in self.instruments} if guard else {}
        )
        self._venue: Venue | None = None
        self._resting: dict[str, list[RestingOrder]] = {s: [] for s in self.instruments}
        self._stops: dict[str, tuple[str, Order]] = {}
        # Client id -> broker serial of each open order (a client id is unique among open
        # orders; answers carry the serial so they reach the right handle).
        self._live: dict[str, int] = {}
        self._consumed: dict[str, dict[tuple[int, int], int]] = {s: {} for s in self.instruments}
        self._last: dict[str, int] = {}
        self._mark: dict[str, float] = {}
        self._funding: dict[str, tuple[int, float]] = {}
        self._produced = False
        self._maker_fills = 0
        self._liquidation_ids = count(1)
        self._record: RunRecord | None = None

    def bind(self, venue: Venue) -> None:
        self._venue = venue
        self._record = venue.record
        self._sync_ledger()

    @property
    def record(self) -> RunRecord:
        """The run's record this venue writes into (given by :meth:`bind`)."""
        assert self._record is not None, "SimExchange used before bind()"
        return self._record

    def _sample(self, now: int) -> None:
        self.record.sample_equity(now, self.portfolio.equity)

    def _sync_ledger(self) -> None:
        sync_ledger(self.record, self.portfolio)

    def check_streams(self, streams: Sequence[str]) -> list[str]:
        """Symbols without a mark_price stream: a :class:`ConfigError` at start, or marked
        from ``mark_fallback`` (:mod:`streamsim.sim.marking`); returns its data notes."""
        self._fallback = plan_marks(self.instruments, streams, self.mark_fallback)
        return [] if self._fallback is None else self._fallback.notes()

    def snapshot(self, now: int) -> AccountUpdate:
        """The account now, with every symbol's position (reason ``SNAPSHOT``)."""
        symbols = sorted(self.instruments)
        bankrupt = self.bankruptcy.bankrupt
        return account_update(
            self.portfolio, now, AccountReason.SNAPSHOT, "", 0.0, symbols, bankrupt
        )

    def report(self) -> dict[str, Any]:
        """Fills, costs, the account, guard counts and book counts."""
        open_orders = sum(len(r) for r in self._resting.values()) + len(self._stops)
        return venue_report(
            self.portfolio,
            self.record,
            self._maker_fills,
            open_orders,
            self.books,
            self.guard_stats,
            self._guards,
            self.bankruptcy,
            self._fallback,
        )

    def book_health(self) -> dict[str, dict[str, int]]:
        """Per symbol: book counts and guard actions (:func:`.venue_report.book_health`)."""
        return book_health(self.books, self.guard_stats, self._guards)

    def _halted(self, symbol: str, now: int) -> str | None:
        """Why no fill may happen on ``symbol`` now (the guard's reason), or None."""
        guard = self._guards.get(symbol)
        return None if guard is None else guard.halts(self.books[symbol], now)

    # -- responses -------------------------------------------------------------------------

    def _respond(
        self,
        symbol: str,
        client_id: str,
        status: OrderStatus,
        now: int,
        filled: int = 0,
        last_qty: int = 0,
        last_price: int = 0,
        maker: bool = False,
        error: tuple[int, str] = (0, ""),
        side: int = 0,
        fee: float = 0.0,
        realized_pnl: float = 0.0,
        serial: int | None = None,
    ) -> None:
        """Answer about ``client_id``: the open order of that id unless ``serial`` names
        another (a reject of a request, or of a cancel of an order that is gone)."""
        assert self._venue is not None, "SimExchange used before bind()"
        self._produced = True
        if serial is None:
            serial = self._live.get(client_id, 0)
            if status.is_final:
                self._live.pop(client_id, None)
        self._venue.respond(
            OrderUpdate(
                symbol,
                now,
                None,
                now,
                client_id,
                status,
                filled,
                last_qty,
                last_price,
                maker,
                error[0],
                error[1],
                side,
                fee,
                realized_pnl,
                serial,
            )
        )

    def _tell_account(
        self, now: int, reason: AccountReason, symbol: str, change: float, ref: str = ""
    ) -> None:
        """Send the account update of a change on ``symbol`` (before the order update)."""
        assert self._venue is not None, "SimExchange used before bind()"
        self._sync_ledger()
        bankrupt = self.bankruptcy.check(now, self.portfolio.wallet)
        update = account_update(self.portfolio, now, reason, symbol, change, [symbol], bankrupt)
        update.ref = ref
        self._produced = True
        self._venue.respond(update)

    def _fill(
        self,
        symbol: str,
        client_id: str,
        order: Order,
        lots: int,
        price: int,
        filled: int,
        maker: bool,
        now: int,
        queue_wait: int | None = None,
    ) -> None:
        rate = self.fees.rate(symbol, maker, lots, price)
        self._maker_fills += maker
        mid = self.books[symbol].mid
        fill = self.portfolio.apply_fill(now, symbol, order.side, lots, price, rate, client_id)
        self.record.fills.append(
            FillRecord(
                fill,
                "maker" if maker else "taker",
                client_id,
                math.nan if mid is None else self.instruments[symbol].ticks_to_price(1) * mid,
                queue_wait,
                self._live.get(client_id, 0),
            )
        )
        self._sample(now)
        self._tell_account(
            now, AccountReason.ORDER, symbol, fill.realized_pnl - fill.fee, client_id
        )
        status = OrderStatus.FILLED if filled >= order.qty else OrderStatus.PARTIALLY_FILLED
        self._respond(
            symbol,
            client_id,
            status,
            now,
            filled,
            lots,
            price,
            maker,
            side=order.side,
            fee=fill.fee,
            realized_pnl=fill.realized_pnl,
        )

    # -- market data -----------------------------------------------------------------------

    def on_market(self, events: Sequence[Any], start: int, stop: int) -> int:
        self._produced = False
        if not self.record.equity_times and start < stop:
            self._sample(events[start].ts_exchange)
        fallback = self._fallback
        for i in range(start, stop):
            event = events[i]
            kind = type(event)
            if event.symbol not in self.books:
                continue
            if kind is DepthUpdate:
                self._on_depth(event)
            elif kind is Trade:
                self._on_trade(event)
            elif kind is MarkPrice:
                self._on_mark(event)
            if fallback is not None and kind is fallback.event_type:
                self._fallback_mark(fallback, event)
            if self._produced:
                return i + 1
        return stop

    def _on_depth(self, update: DepthUpdate) -> None:
        symbol = update.symbol
        book = self.books[symbol]
        try:
            applied = book.apply(update)
        except CrossedBookError as error:
            tick = self.instruments[symbol].ticks_to_price(1)
            raise CrossedBookError(
                symbol, error.ts_exchange, error.bid, error.ask, error.final, tick
            ) from None
        now = update.ts_exchange
        guard = self._guards.get(symbol)
        if guard is not None and guard.update(book, now, message=True):
            self._cancel_all(symbol, now, f"book guard tripped: {guard.reason}", guarded=True)
        if not applied:
            return
        consumed = self._consumed[symbol]
        if consumed:
            self._restore_taken(update, consumed)
        resting = self._resting[symbol]
        if not resting or (guard is not None and guard.reason is not None):
            return
        queue = self.queue
        for order in list(resting):
            side = BID if order.side == BUY else ASK
            level = book.qty_at(side, order.price)
            if level != order.level:
                queue.on_level(order, level)  # the venue reported our level
            opposite = book.best_ask if order.side == BUY else book.best_bid
            if opposite is None or (
                opposite > order.price if order.side == BUY else opposite < order.price
            ):
                continue
            want = min(queue.on_cross(order), order.remaining)
            crossing = self._take(symbol, order.side, want, order.price) if want > 0 else []
            if crossing:
                # Liquidity we have not taken now sits at or through our price: it would
                # have traded with us, the resting order.
                self._maker_fill(symbol, order, sum(lots for _, lots in crossing), now)

    @staticmethod
    def _restore_taken(update: DepthUpdate, consumed: dict[tuple[int, int], int]) -> None:
        """The venue updated levels we had taken from: their new size is the truth again."""
        touched = {(BID, p) for p in update.bid_prices.tolist()}
        touched.update((ASK, p) for p in update.ask_prices.tolist())
        for key in touched & consumed.keys():
            del consumed[key]

    def _on_trade(self, trade: Trade) -> None:
        symbol = trade.symbol
        self._last[symbol] = trade.price
        now = trade.ts_exchange
        if self._stops:
            price = self.instruments[symbol].ticks_to_price(trade.price)
            self._trigger_stops(symbol, price, "last", now)
        resting = self._resting[symbol]
        if not resting or self._halted(symbol, now) is not None:
            return  # a guarded book: trades fill nothing on it
        queue = self.queue
        for order in list(resting):
            if order.side == trade.side:
                continue  # the aggressor's side: trades there never fill a resting order
            through = trade.price < order.price if order.side == BUY else trade.price > order.price
            if through:
                lots = queue.on_trade_through(order, trade.qty)
            elif trade.price == order.price:
                lots = queue.on_trade(order, trade.qty, self.participation)
            else:
                continue
            if lots > 0:
                self._maker_fill(symbol, order, min(lots, order.remaining), now)

    def _on_mark(self, mark: MarkPrice) -> None:
        symbol = mark.symbol
        now = mark.ts_exchange
        due = self._funding.get(symbol)
        if due is not None and now >= due[0]:
            paid = self.portfolio.apply_funding(due[0], symbol, due[1], mark.mark)
            if paid:
                self._tell_account(now, AccountReason.FUNDING_FEE, symbol, paid)
        self._funding[symbol] = (mark.next_funding_time, mark.funding_rate)
        check_mark_against_mid(
            self.record.quality, mark, self.books[symbol], self.instruments[symbol], self.limits
        )
        self._apply_mark(symbol, mark.mark, now)

    def _fallback_mark(self, fallback: FallbackMarks, event: DepthUpdate | Trade) -> None:
        """Mark a symbol without a mark stream from its fallback, when one is due."""
        symbol = event.symbol
        price = fallback.price(event, self.books[symbol], self.instruments[symbol])
        if price is not None:
            self._apply_mark(symbol, price, event.ts_exchange)

    def _apply_mark(self, symbol: str, price: float, now: int) -> None:
        """A new mark: value the positions, trigger mark stops, check liquidation."""
        self._mark[symbol] = price
        self.portfolio.mark(now, symbol, price)
        self._sample(now)
        if self._stops:
            self._trigger_stops(symbol, price, "mark", now)
        portfolio = self.portfolio
        fills, booked = len(portfolio.fills), len(portfolio.ledger)
        for liquidated in portfolio.check_liquidation(now):
            self._cancel_all(liquidated, now, "liquidation")
        for fill in portfolio.fills[fills:]:
            change = sum(e.amount for e in portfolio.ledger[booked:] if e.symbol == fill.symbol)
            self._liquidated(fill, change, now)

    def _liquidated(self, fill: Fill, wallet_change: float, now: int) -> None:
        """Tell the account about a liquidation: the account update, then the venue's
        liquidation order (client id ``autoclose-N``) filled at the mark, nearest tick."""
        symbol = fill.symbol
        client_id = f"{LIQUIDATION_PREFIX}{next(self._liquidation_ids)}"
        self.record.fills.append(FillRecord(fill, "liquidation", client_id))
        self._tell_account(now, AccountReason.LIQUIDATION, symbol, wallet_change, client_id)
        tick = self.instruments[symbol].ticks_to_price(1)
        self._respond(
            symbol,
            client_id,
            OrderStatus.FILLED,
            now,
            fill.lots,
            fill.lots,
            round(fill.price / tick),
            side=fill.side,
            realized_pnl=fill.realized_pnl,
        )

    # -- orders ----------------------------------------------------------------------------

    def on_order(self, request: OrderRequest) -> None:
        assert self._venue is not None, "SimExchange used before bind()"
        now = self._venue.now()
        order = request.order
        symbol = order.symbol
        cid = request.client_id
        if request.action == "cancel":
            self._cancel(symbol, cid, now, request.serial)
            return
        replaced = request.action == "amend"
        if replaced and self._live.get(request.replaces_id) != request.replaces:
            error: tuple[int, str] | None = NO_SUCH_ORDER  # filled, cancelled, never placed
        else:
            error = DUPLICATE_ID if cid in self._live else self._check(order, now)
        if error is not None:
            self._respond(
                symbol, cid, OrderStatus.REJECTED, now, error=error, serial=request.serial
            )
            return
        if replaced:
            self._cancel(symbol, request.replaces_id, now, request.replaces)
        if not all(
            type(v) is int for v in (order.qty, order.price, order.stop_price) if v is not None
        ):
            order = replace(  # NumPy integers: plain ints from here on
                order,
                qty=int(order.qty),
                price=None if order.price is None else int(order.price),
                stop_price=None if order.stop_price is None else int(order.stop_price),
            )
        self._live[cid] = request.serial
        self._respond(symbol, cid, OrderStatus.NEW, now)
        if order.type in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT):
            self._stops[cid] = (symbol, order)
            return
        self._execute(cid, order, now)

    def _check(self, order: Order, now: int) -> tuple[int, str] | None:
        """Why the venue rejects ``order`` now (:func:`~streamsim.order_checks.venue_reject`)."""
        if self.bankruptcy.bankrupt:
            return self.bankruptcy.reject()
        symbol = order.symbol
        return venue_reject(
            order,
            self.instruments.get(symbol),
            self.books.get(symbol),
            self.portfolio,
            self._guards.get(symbol),
            now,
            self._last.get(symbol),
            self._would_trigger,
        )

    def _would_trigger(self, order: Order) -> bool:
        """A stop that would trigger at once, at the current trigger price."""
        current = self._trigger_price(order)
        return current is not None and self._stop_reached(order, current)

    def _execute(self, cid: str, order: Order, now: int) -> None:
        """Match a live order: take what crosses, then rest, expire or finish."""
        symbol = order.symbol
        market = order.type in (OrderType.MARKET, OrderType.STOP_MARKET)
        limit = None if market else order.price
        if order.tif is TimeInForce.FOK and self._available(symbol, order.side, limit) < order.qty:
            self._respond(symbol, cid, OrderStatus.EXPIRED, now)
            return
        filled = 0
        book = self.books[symbol]
        opposite = book.best_ask if order.side == BUY else book.best_bid
        crosses = opposite is not None and (
            limit is None or (opposite <= limit if order.side == BUY else opposite >= limit)
        )
        fills = self._take(symbol, order.side, order.qty, limit) if crosses else []
        for price, lots in fills:
            filled += lots
            self._fill(symbol, cid, order, lots, price, filled, False, now)
        if filled >= order.qty:
            return
        if market or order.tif in (TimeInForce.IOC, TimeInForce.FOK):
            self._respond(symbol, cid, OrderStatus.EXPIRED, now, filled)
            return
        assert limit is not None
        side = BID if order.side == BUY else ASK
        level = self.books[symbol].qty_at(side, limit)
        resting = self._resting[symbol]
        ours = sum(o.remaining for o in resting if o.side == order.side and o.price == limit)
        joined = RestingOrder(cid, order, limit, filled, now)
        self.queue.join(joined, level, ours)
        resting.append(joined)
        self.record.rested_orders += 1

    def _levels(self, symbol: str, side: int, limit: int | None) -> Iterator[tuple[int, int]]:
        """Levels of ``side`` from the best up to ``limit`` (inclusive), net of what we took."""
        book = self.books[symbol]
        consumed = self._consumed[symbol]
        taken = 0
        n = 8
        while True:
            prices, sizes = book.levels(side, n)
            for price, size in zip(prices[taken:].tolist(), sizes[taken:].tolist(), strict=True):
                if limit is not None and (price > limit if side == ASK else price < limit):
                    return
                visible = size - consumed.get((side, price), 0)
                if visible > 0:
                    yield price, visible
            if len(prices) < n:
                return
            taken = n
            n *= 4

    def _available(self, symbol: str, side: int, limit: int | None) -> int:
        opposite = ASK if side == BUY else BID
        return sum(visible for _, visible in self._levels(symbol, opposite, limit))

    def _take(self, symbol: str, side: int, qty: int, limit: int | None) -> list[tuple[int, int]]:
        """Walk the opposite side up to ``limit``; record the liquidity taken."""
        opposite = ASK if side == BUY else BID
        consumed = self._consumed[symbol]
        fills: list[tuple[int, int]] = []
        remaining = qty
        for price, visible in self._levels(symbol, opposite, limit):
            lots = min(remaining, visible)
            consumed[(opposite, price)] = consumed.get((opposite, price), 0) + lots
            fills.append((price, lots))
            remaining -= lots
            if remaining == 0:
                break
        return fills

    def _maker_fill(self, symbol: str, order: RestingOrder, lots: int, now: int) -> None:
        if order.order.reduce_only:
            position = self.portfolio.position(symbol).lots
            allowed = abs(position) if position * order.side < 0 else 0
            if allowed == 0:
                # The position it was reducing is gone: the venue expires it.
                self._resting[symbol].remove(order)
                self._respond(symbol, order.client_id, OrderStatus.EXPIRED, now, order.filled)
                return
            lots = min(lots, allowed)
        if lots <= 0:
            return
        order.filled += lots
        wait = None
        if order.remaining == 0:
            self._resting[symbol].remove(order)
            wait = now - order.joined
        self._fill(
            symbol, order.client_id, order.order, lots, order.price, order.filled, True, now, wait
        )

    def _stop_reached(self, order: Order, price: float) -> bool:
        """Buy stops trigger at or above their stop price, sell stops at or below."""
        assert order.stop_price is not None
        stop = self.instruments[order.symbol].ticks_to_price(order.stop_price)
        return price >= stop if order.side == BUY else price <= stop

    def _trigger_price(self, order: Order) -> float | None:
        """The current price a stop compares with: last trade or mark, if known."""
        if (order.trigger or self.stop_trigger) == "mark":
            return self._mark.get(order.symbol)
        last = self._last.get(order.symbol)
        return None if last is None else self.instruments[order.symbol].ticks_to_price(last)

    def _trigger_stops(self, symbol: str, price: float, source: Trigger, now: int) -> None:
        for cid, (stop_symbol, order) in list(self._stops.items()):
            trigger = order.trigger or self.stop_trigger
            if stop_symbol != symbol or trigger != source:
                continue
            if self._stop_reached(order, price):
                del self._stops[cid]
                halted = self._halted(symbol, now)
                if halted is not None:  # triggered on a guarded book: it cannot fill
                    self.guard_stats.count(symbol, "stops_expired")
                    self._respond(
                        symbol,
                        cid,
                        OrderStatus.EXPIRED,
                        now,
                        error=(GUARD_REJECT, GUARD_MESSAGE.format(halted)),
                    )
                    continue
                if order.reduce_only:
                    position = self.portfolio.position(symbol).lots
                    if position * order.side >= 0:  # nothing left to reduce: it expires
                        self._respond(symbol, cid, OrderStatus.EXPIRED, now)
                        continue
                    order = replace(order, qty=min(order.qty, abs(position)))
                self._execute(cid, order, now)

    def _cancel(self, symbol: str, cid: str, now: int, serial: int) -> None:
        if self._live.get(cid) != serial:  # gone, or the id now names a newer order
            self._respond(
                symbol,
                cid,
                OrderStatus.REJECTED,
                now,
                error=(UNKNOWN_ORDER, UNKNOWN_ORDER_MESSAGE),
                serial=serial,
            )
            return
        for order in self._resting.get(symbol, []):
            if order.client_id == cid:
                self._resting[symbol].remove(order)
                self._respond(symbol, cid, OrderStatus.CANCELED, now, order.filled)
                return
        if self._stops.pop(cid, None) is not None:
            self._respond(symbol, cid, OrderStatus.CANCELED, now)
            return
        self._respond(
            symbol,
            cid,
            OrderStatus.REJECTED,
            now,
            error=(UNKNOWN_ORDER, UNKNOWN_ORDER_MESSAGE),
            serial=serial,
        )

    def _cancel_all(self, symbol: str, now: int, reason: str, guarded: bool = False) -> None:
        if guarded:
            stops = sum(1 for stop_symbol, _ in self._stops.values() if stop_symbol == symbol)
            self.guard_stats.count(symbol, "cancelled", len(self._resting[symbol]) + stops)
        for order in self._resting[symbol]:
            self._respond(
                symbol, order.client_id, OrderStatus.CANCELED, now, order.filled, error=(0, reason)
            )
        self._resting[symbol].clear()
        for cid, (stop_symbol, _) in list(self._stops.items()):
            if stop_symbol == symbol:
                del self._stops[cid]
                self._respond(symbol, cid, OrderStatus.CANCELED, now, error=(0, reason))
