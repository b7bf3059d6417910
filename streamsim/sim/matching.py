"""The simulated exchange: the orchestrator of the venue's rules, on the exchange timeline.

Taker orders walk the exchange-side book level by level up to their limit, net of what
our own orders and the market's trades took since the venue last reported each level.
Triggered stops fill after every event of their trigger instant. Resting orders do not
change the book others see; they fill when trades reach them through the queue ahead,
when a trade prints through their price, or when the opposite side of the book moves
through their price. Every state change is answered through the venue with Binance's
statuses and reject codes.

Where each rule lives (this class only routes events and orders to them):

* order checks and every reject code: :mod:`streamsim.order_checks`;
* what a taker finds in the book (self-impact, trade depletion): :mod:`streamsim.sim.liquidity`;
* stop triggering: :mod:`streamsim.sim.stops`;
* resting orders and the maker fills market events give them: :mod:`streamsim.sim.resting`,
  by the queue rule of :mod:`streamsim.sim.queue_models`;
* fee rates: :mod:`streamsim.sim.fees`;
* the account, margin, funding and liquidation: :mod:`streamsim.sim.portfolio`; when
  funding is due (and what a mark stream with holes skipped): :mod:`streamsim.sim.funding`;
* marks without a mark-price stream: :mod:`streamsim.sim.marking`;
* the bankrupt state of a wallet below zero: :mod:`streamsim.sim.bankruptcy`;
* the book guard: :mod:`streamsim.sim.guard`;
* the report, book health and account updates: :mod:`streamsim.sim.venue_report`.

How to read the class: :meth:`SimExchange.on_market` routes each market event
(``_on_depth``, ``_on_trade``, ``_on_mark``) and, after the last event of an exchange
instant, runs ``_end_instant`` (triggered stops fill, liquidation is checked, a newly
bankrupt account's orders are cancelled); :meth:`SimExchange.on_order` checks an order and
``_execute``s it (take what crosses, then rest or expire); every fill goes through
``_fill`` (fee, account, record, account update, then order update).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from itertools import count
from typing import Any

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
    reducible,
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
from .funding import FundingClock
from .guard import BookGuard, GuardConfig, GuardStats
from .liquidity import FillAudit, Liquidity
from .marking import FallbackMarks, MarkFallback, check_mark_fallback, plan_marks
from .portfolio import BracketTable, Fill, Portfolio, default_brackets
from .queue_models import Conservative, QueueModel, RestingOrder, check_queue_model
from .resting import RestingBook
from .stops import StopBook, Trigger
from .venue_report import account_update, book_health, sync_ledger, venue_report

_STOP_TYPES = (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)


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
        trade_depletion: bool = True,
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
        self.trade_depletion = trade_depletion
        self.liquidity = {s: Liquidity(b, trade_depletion) for s, b in self.books.items()}
        self.stops = StopBook(self.instruments, stop_trigger)
        self.fill_audit = FillAudit()
        self._resting = {s: RestingBook(self.queue, participation) for s in self.instruments}
        # Client id -> broker serial of each open order (a client id is unique among open
        # orders; answers carry the serial so they reach the right handle).
        self._live: dict[str, int] = {}
        self._funding = FundingClock()
        self._produced = False
        # Work left for the end of the current instant (see _end_instant).
        self._after_instant = False
        self._liquidation_due = False
        self._bankrupt_cancelled = False
        self._maker_fills = 0
        self._liquidation_ids = count(1)
        self._record: RunRecord | None = None

    def bind(self, venue: Venue) -> None:
        self._venue = venue
        self._record = venue.record
        self._sync_ledger()

    @property
    def stop_trigger(self) -> Trigger:
        """What triggers a stop that names no trigger: ``"last"`` trade or ``"mark"``."""
        return self.stops.default_trigger

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
        open_orders = sum(len(r) for r in self._resting.values()) + len(self.stops)
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
            self.trade_depletion,
            self.fill_audit,
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
        solvent = not self.bankruptcy.bankrupt
        bankrupt = self.bankruptcy.check(now, self.portfolio.wallet)
        if bankrupt and solvent:  # its orders are cancelled at the end of the instant
            self._after_instant = True
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
        if not maker:
            side = ASK if order.side == BUY else BID
            through = self.liquidity[symbol].printed_through(side, price)
            self.fill_audit.count(order.type in _STOP_TYPES, through)
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
        stops = self.stops
        fallback = self._fallback
        books = self.books
        for i in range(start, stop):
            event = events[i]
            kind = type(event)
            if event.symbol in books:
                if kind is DepthUpdate:
                    self._on_depth(event)
                elif kind is Trade:
                    self._on_trade(event)
                elif kind is MarkPrice:
                    self._on_mark(event)
                if fallback is not None and kind is fallback.event_type:
                    self._fallback_mark(fallback, event)
            if (stops.triggered or self._after_instant) and (
                i + 1 == len(events) or events[i + 1].ts_exchange > event.ts_exchange
            ):
                self._end_instant(event.ts_exchange)
            if self._produced:
                return i + 1
        return stop

    def _end_instant(self, now: int) -> None:
        """What waits for the end of an exchange instant (every event of time ``now``
        applied): triggered stops fill on the book its trades left, then liquidation is
        checked, then a newly bankrupt account's orders are cancelled."""
        if self.stops.triggered:
            self._fill_triggered(now)
        if self._liquidation_due:
            self._liquidation_due = False
            self._check_liquidation(now)
        if self.bankruptcy.bankrupt and not self._bankrupt_cancelled:
            self._bankrupt_cancelled = True
            for symbol in sorted(self.instruments):
                self._cancel_all(symbol, now, "bankrupt")
        self._after_instant = False

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
        liquidity = self.liquidity[symbol]
        liquidity.on_depth(update)
        resting = self._resting[symbol]
        if not resting or (guard is not None and guard.reason is not None):
            return
        for order, lots in resting.on_book(book, liquidity):
            self._maker_fill(symbol, order, lots, now)

    def _on_trade(self, trade: Trade) -> None:
        symbol = trade.symbol
        self.liquidity[symbol].on_trade(trade)
        stops = self.stops
        stops.last[symbol] = trade.price
        if stops.waiting:
            stops.on_price(symbol, "last")
        now = trade.ts_exchange
        resting = self._resting[symbol]
        if not resting or self._halted(symbol, now) is not None:
            return  # a guarded book: trades fill nothing on it
        for order, lots in resting.on_trade(trade):
            self._maker_fill(symbol, order, lots, now)

    def _on_mark(self, mark: MarkPrice) -> None:
        symbol = mark.symbol
        now = mark.ts_exchange
        due = self._funding.on_mark(mark, self.record.quality)
        if due is not None:
            paid = self.portfolio.apply_funding(due[0], symbol, due[1], mark.mark)
            if paid:
                self._tell_account(now, AccountReason.FUNDING_FEE, symbol, paid)
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
        stops = self.stops
        stops.mark[symbol] = price
        self.portfolio.mark(now, symbol, price)
        self._sample(now)
        if stops.waiting:
            stops.on_price(symbol, "mark")
        self._liquidation_due = self._after_instant = True

    def _check_liquidation(self, now: int) -> None:
        """Liquidate if the account's margin is exhausted (after the instant's stops)."""
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
        if self.stops.triggered or self._after_instant:
            # Live only (the kernel ends every instant before an order arrives): the last
            # instant's work first, now.
            self._end_instant(now)
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
        if order.type in _STOP_TYPES:
            self.stops.add(cid, order)
            return
        self._execute(cid, order, now)
        if self._after_instant:  # the order's fills made the account bankrupt
            self._end_instant(now)

    def _check(self, order: Order, now: int) -> tuple[int, str] | None:
        """Why the venue rejects ``order`` now (:func:`~streamsim.order_checks.venue_reject`);
        a bankrupt account may still reduce its positions."""
        if self.bankruptcy.bankrupt and not order.reduce_only:
            return self.bankruptcy.reject()
        symbol = order.symbol
        return venue_reject(
            order,
            self.instruments.get(symbol),
            self.books.get(symbol),
            self.portfolio,
            self._guards.get(symbol),
            now,
            self.stops.last.get(symbol),
            self.stops.would_trigger,
        )

    def _execute(self, cid: str, order: Order, now: int) -> None:
        """Match a live order: take what crosses, then rest, expire or finish."""
        symbol = order.symbol
        market = order.type in (OrderType.MARKET, OrderType.STOP_MARKET)
        limit = None if market else order.price
        liquidity = self.liquidity[symbol]
        opposite_side = ASK if order.side == BUY else BID
        if order.tif is TimeInForce.FOK and liquidity.available(opposite_side, limit) < order.qty:
            self._respond(symbol, cid, OrderStatus.EXPIRED, now)
            return
        filled = 0
        book = self.books[symbol]
        opposite = book.best_ask if order.side == BUY else book.best_bid
        crosses = opposite is not None and (
            limit is None or (opposite <= limit if order.side == BUY else opposite >= limit)
        )
        fills = liquidity.take(opposite_side, order.qty, limit) if crosses else []
        for price, lots in fills:
            filled += lots
            self._fill(symbol, cid, order, lots, price, filled, False, now)
        if filled >= order.qty:
            return
        if market or order.tif in (TimeInForce.IOC, TimeInForce.FOK):
            self._respond(symbol, cid, OrderStatus.EXPIRED, now, filled)
            return
        assert limit is not None
        level = book.qty_at(-opposite_side, limit)
        self._resting[symbol].join(cid, order, limit, filled, now, level)
        self.record.rested_orders += 1

    def _maker_fill(self, symbol: str, order: RestingOrder, lots: int, now: int) -> None:
        if order.order.reduce_only:
            allowed = reducible(order.side, self.portfolio.position(symbol).lots)
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

    def _fill_triggered(self, now: int) -> None:
        """Fill the stops triggered in the instant that just ended, in trigger order."""
        for cid, order in self.stops.due():
            symbol = order.symbol
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
                allowed = reducible(order.side, self.portfolio.position(symbol).lots)
                if allowed == 0:  # nothing left to reduce: it expires
                    self._respond(symbol, cid, OrderStatus.EXPIRED, now)
                    continue
                order = replace(order, qty=min(order.qty, allowed))
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
        resting = self._resting.get(symbol)
        order = None if resting is None else resting.pop(cid)
        if order is not None:
            self._respond(symbol, cid, OrderStatus.CANCELED, now, order.filled)
            return
        if self.stops.cancel(cid):
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
            stops = self.stops.count(symbol)
            self.guard_stats.count(symbol, "cancelled", len(self._resting[symbol]) + stops)
        for order in self._resting[symbol].clear():
            self._respond(
                symbol, order.client_id, OrderStatus.CANCELED, now, order.filled, error=(0, reason)
            )
        for cid in self.stops.cancel_symbol(symbol):
            self._respond(symbol, cid, OrderStatus.CANCELED, now, error=(0, reason))
