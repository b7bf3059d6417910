"""Positions, cash ledger and cross margin for linear (USD-M) and inverse (coin-M) perpetuals.

Money is float64 in the portfolio's one margin asset (:attr:`Portfolio.margin_asset`): the
quote (USDT) for linear contracts, the base coin (BTC) for inverse ones. At the API boundary
quantities are integer lots and fill prices integer ticks. Every cash movement is one
:class:`LedgerEntry`, so the sum of the ledger is the wallet balance. Margin follows Binance
cross margin: initial margin is notional / leverage, maintenance margin comes from the venue's
bracket table, and the account is liquidated at the mark price when its margin balance falls
to its maintenance margin.

With ``u`` = lots x lot_size x contract_size (base units for linear, USD face value for
inverse), signed, entry ``e`` and price ``p``:

=============  ======================  ================================
value          linear                  inverse
=============  ======================  ================================
notional       ``|u| * p``             ``|u| / p``
PnL            ``u * (p - e)``         ``u * (1/e - 1/p)``
entry on add   lot-weighted mean       harmonic (lot-weighted mean of 1/p)
funding paid   ``u * mark * rate``     ``u / mark * rate``
=============  ======================  ================================

The contract kind is branched on in :meth:`Position.after_fill` and the ``_value`` helpers of
:class:`Portfolio`; nothing else knows it.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from ..errors import ConfigError
from ..instruments import ContractKind, Instrument

LedgerReason = Literal["fill_pnl", "fee", "funding", "liquidation_fee", "deposit"]

#: ``Fill.ref`` of the fills that close positions in a liquidation.
LIQUIDATION_REF = "liquidation"

#: Relative slack, against the account's total notional, under which a margin balance still
#: counts as equal to the maintenance margin: a mark at exactly :meth:`Portfolio.liquidation_price`
#: liquidates despite float rounding.
_LIQUIDATION_TOLERANCE = 1e-9


# --------------------------------------------------------------------------- brackets


@dataclass(frozen=True, slots=True)
class MarginBracket:
    """One row of a venue's leverage bracket table.

    ``notional_cap`` is the inclusive upper bound of the position notional in this bracket
    (or of its size in contracts, for a table whose ``unit`` is ``"contracts"``);
    ``maint_amount`` is Binance's ``cum``, in the margin asset, which keeps the maintenance
    margin continuous across brackets.
    """

    notional_cap: float
    max_leverage: int
    maint_margin_rate: float
    maint_amount: float


@dataclass(frozen=True, slots=True)
class BracketTable:
    """A symbol's brackets, sorted by cap; a notional above the last cap uses the last row.

    ``unit`` says what the caps bound: ``"notional"`` (Binance USD-M ``notionalCap``, in the
    margin asset) or ``"contracts"`` (Binance COIN-M ``qtyCap``, the position size in
    contracts). The bracket's maintenance rate always applies to the notional.
    """

    brackets: tuple[MarginBracket, ...]
    unit: Literal["notional", "contracts"] = "notional"
    _caps: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        brackets = tuple(self.brackets)
        if not brackets:
            raise ConfigError("a bracket table needs at least one bracket")
        caps = tuple(b.notional_cap for b in brackets)
        if any(lo >= hi for lo, hi in itertools.pairwise(caps)) or caps[0] <= 0:
            raise ConfigError(f"bracket caps must be > 0 and strictly increasing, got {caps}")
        if self.unit not in ("notional", "contracts"):
            raise ConfigError(f"bracket unit must be 'notional' or 'contracts', got {self.unit!r}")
        for b in brackets:
            if b.max_leverage < 1 or not 0 <= b.maint_margin_rate < 1:
                raise ConfigError(f"bracket needs max_leverage >= 1 and 0 <= rate < 1: {b}")
        object.__setattr__(self, "brackets", brackets)
        object.__setattr__(self, "_caps", caps)

    @classmethod
    def from_binance(cls, rows: Iterable[Mapping[str, object]]) -> BracketTable:
        """Build a table from the ``brackets`` list of Binance's leverage bracket endpoint.

        USD-M rows (``GET /fapi/v1/leverageBracket``) cap ``notionalCap``; COIN-M rows
        (``GET /dapi/v2/leverageBracket``) cap ``qtyCap``, the position in contracts, and give
        a table with ``unit="contracts"``. Also reads ``initialLeverage``, ``maintMarginRatio``
        and ``cum``; numbers may be JSON numbers or strings.
        """
        rows = list(rows)
        by_qty = bool(rows) and all("qtyCap" in row for row in rows)
        cap_key = "qtyCap" if by_qty else "notionalCap"
        missing = [i for i, row in enumerate(rows) if cap_key not in row]
        if missing:
            raise ConfigError(
                f"leverage bracket row {missing[0]} has no {cap_key!r} (rows must all be "
                "USD-M 'notionalCap' rows or all COIN-M 'qtyCap' rows)"
            )
        brackets = [
            MarginBracket(
                notional_cap=float(str(row[cap_key])),
                max_leverage=int(str(row["initialLeverage"])),
                maint_margin_rate=float(str(row["maintMarginRatio"])),
                maint_amount=float(str(row["cum"])),
            )
            for row in rows
        ]
        unit: Literal["notional", "contracts"] = "contracts" if by_qty else "notional"
        return cls(tuple(sorted(brackets, key=lambda b: b.notional_cap)), unit)

    def floor(self, index: int) -> float:
        """Exclusive lower bound of bracket ``index``'s notional (the previous cap, or 0)."""
        return 0.0 if index == 0 else self._caps[index - 1]

    def index_for(self, notional: float) -> int:
        """Index of the bracket holding ``notional`` (caps inclusive)."""
        if not notional >= 0:
            raise ValueError(f"notional must be >= 0, got {notional}")
        return min(bisect.bisect_left(self._caps, notional), len(self._caps) - 1)

    def bracket_for(self, notional: float) -> MarginBracket:
        """The bracket whose range ``(previous cap, cap]`` holds ``notional``."""
        return self.brackets[self.index_for(notional)]

    def maintenance_margin(self, notional: float, contracts: float = 0.0) -> float:
        """``notional * rate - cum`` of the bracket holding ``notional``, or of the bracket
        holding ``contracts`` when the table's caps are in contracts."""
        bracket = self.bracket_for(notional if self.unit == "notional" else contracts)
        return notional * bracket.maint_margin_rate - bracket.maint_amount


def _binance_table(rows: Iterable[tuple[float, int, float, float]]) -> BracketTable:
    return BracketTable(tuple(MarginBracket(*row) for row in rows))


#: Binance USD-M BTCUSDT brackets: (notional cap, max leverage, maintenance rate, cum).
#: These are the commonly published values (not checked against the live endpoint; the
#: date of this snapshot is unknown, older snapshots have lower caps). Binance revises them
#: often: for a real run fetch ``GET /fapi/v1/leverageBracket`` and pass
#: ``BracketTable.from_binance(...)`` to :class:`Portfolio` via ``brackets=``.
BTCUSDT_BRACKETS = _binance_table(
    [
        (50_000, 125, 0.004, 0),
        (500_000, 100, 0.005, 50),
        (8_000_000, 50, 0.01, 2_550),
        (50_000_000, 20, 0.025, 122_550),
        (80_000_000, 10, 0.05, 1_372_550),
        (100_000_000, 5, 0.1, 5_372_550),
        (120_000_000, 4, 0.125, 7_872_550),
        (200_000_000, 3, 0.15, 10_872_550),
        (300_000_000, 2, 0.25, 30_872_550),
        (math.inf, 1, 0.5, 105_872_550),
    ]
)

#: Bracket table for symbols given none: one bracket, 20x, 1 % maintenance, no ``cum`` (so
#: it reads the same in any margin asset).
DEFAULT_BRACKETS = BracketTable((MarginBracket(math.inf, 20, 0.01, 0.0),))


#: Symbols whose published venue brackets are built in; the one home of bracket defaults.
PUBLISHED_BRACKETS: Mapping[str, BracketTable] = {"BTCUSDT": BTCUSDT_BRACKETS}


def default_brackets(symbol: str) -> BracketTable:
    """The bracket table a backtest uses for ``symbol`` when given none: its published table
    (:data:`PUBLISHED_BRACKETS`), else :data:`DEFAULT_BRACKETS`. :class:`Portfolio` itself
    takes only published tables by default and asks for the rest."""
    return PUBLISHED_BRACKETS.get(symbol, DEFAULT_BRACKETS)


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One cash movement; ``amount`` is signed, positive into the wallet."""

    ts: int
    symbol: str
    reason: LedgerReason
    amount: float
    ref: str = ""


@dataclass(frozen=True, slots=True)
class Fill:
    """A fill as the portfolio booked it.

    ``fee`` is the trading fee paid (negative for a maker rebate); ``realized_pnl`` is the PnL
    this fill closed, before fees. A liquidation fill is at the mark price, which need not be
    on the tick grid: its ``price_ticks`` is ``None``, its ``fee`` 0 (the liquidation fee is a
    separate ``"liquidation_fee"`` ledger entry) and its ``ref`` is ``"liquidation"``.
    """

    ts: int
    symbol: str
    side: int
    lots: int
    price_ticks: int | None
    price: float
    qty: float
    notional: float
    fee: float
    realized_pnl: float
    ref: str = ""


def _units_per_lot(instrument: Instrument) -> float:
    """Units per lot: base units of a linear contract, USD face value of an inverse one."""
    return float(instrument.lot_size * instrument.contract_size)


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


@dataclass(frozen=True, slots=True)
class Position:
    """A symbol's net position: signed lots, average entry price and realized PnL so far."""

    symbol: str
    lots: int = 0
    entry_price: float = 0.0
    realized_pnl: float = 0.0

    def after_fill(
        self, signed_lots: int, price: float, units_per_lot: float, inverse: bool = False
    ) -> tuple[Position, float]:
        """The position after a fill of ``signed_lots`` at ``price``, and the PnL it realizes.

        Adding moves the entry to the lot-weighted average (linear) or the lot-weighted
        harmonic mean (inverse); reducing realizes ``(price - entry) * units * sign`` (linear)
        or ``(1/entry - 1/price) * units * sign`` (inverse, in the base coin); a flip closes
        the old side and opens the rest at ``price``.
        """
        old = self.lots
        new = old + signed_lots
        if old == 0 or _sign(old) == _sign(signed_lots):
            if inverse and old == 0:
                entry = price
            elif inverse:
                entry = abs(new) / (abs(old) / self.entry_price + abs(signed_lots) / price)
            else:
                entry = (abs(old) * self.entry_price + abs(signed_lots) * price) / abs(new)
            return Position(self.symbol, new, entry, self.realized_pnl), 0.0
        closed = min(abs(old), abs(signed_lots))
        if inverse:
            realized = (1.0 / self.entry_price - 1.0 / price) * closed * units_per_lot * _sign(old)
        else:
            realized = (price - self.entry_price) * closed * units_per_lot * _sign(old)
        if new == 0:
            entry = 0.0
        elif _sign(new) == _sign(old):
            entry = self.entry_price
        else:
            entry = price
        return Position(self.symbol, new, entry, self.realized_pnl + realized), realized


# --------------------------------------------------------------------------- portfolio


class Portfolio:
    """One cross-margin account in one margin asset, over linear or inverse perpetuals.

    Every instrument must have the same ``margin_asset`` (a linear USDT contract and a coin-M
    BTC one cannot share a wallet: :class:`ConfigError` names them). ``leverage`` is one value
    for every symbol or one per symbol; the leverage used is the smaller of it and the
    bracket's maximum for the position's notional. ``brackets`` maps symbols to bracket
    tables; a symbol in :data:`PUBLISHED_BRACKETS` (BTCUSDT) defaults to its table, any other
    symbol must be given one. ``liquidation_fee_rate`` defaults to 1.25%, Binance's clearance
    fee for BTCUSDT; it is charged on the notional closed by a liquidation.

    Unrealized PnL and margins use the last mark price of each symbol (:meth:`mark`,
    :meth:`apply_funding`); until a symbol is first marked, its last fill price stands in.
    Ledger entries with a zero amount are not booked.
    """

    def __init__(
        self,
        instruments: Mapping[str, Instrument],
        initial_balance: float,
        leverage: Mapping[str, int] | int = 20,
        brackets: Mapping[str, BracketTable] | None = None,
        liquidation_fee_rate: float = 0.0125,
    ) -> None:
        if not math.isfinite(initial_balance) or initial_balance < 0:
            raise ConfigError(f"initial_balance must be finite and >= 0, got {initial_balance}")
        if not 0 <= liquidation_fee_rate < 1:
            raise ConfigError(f"liquidation_fee_rate must be in [0, 1), got {liquidation_fee_rate}")
        self._instruments = dict(instruments)
        self.margin_asset = _one_margin_asset(self._instruments)
        self._units = {s: _units_per_lot(i) for s, i in self._instruments.items()}
        self._inverse = {s: i.kind is ContractKind.INVERSE for s, i in self._instruments.items()}
        self._lot_contracts = {s: float(i.lot_size) for s, i in self._instruments.items()}
        self._leverage: dict[str, int] = {}
        self._brackets: dict[str, BracketTable] = {}
        given = dict(brackets or {})
        for symbol in sorted(self._instruments):
            lev = leverage if isinstance(leverage, int) else leverage.get(symbol)
            if lev is None or lev < 1:
                raise ConfigError(f"{symbol}: leverage must be an int >= 1, got {lev!r}")
            self._leverage[symbol] = lev
            table = given.get(symbol, PUBLISHED_BRACKETS.get(symbol))
            if table is None:
                raise ConfigError(
                    f"{symbol}: no margin bracket table; pass brackets={{{symbol!r}: "
                    "BracketTable.from_binance(...)}} with the venue's brackets"
                )
            self._brackets[symbol] = table
        self.liquidation_fee_rate = liquidation_fee_rate
        self._positions = {s: Position(s) for s in self._instruments}
        self._marks: dict[str, float] = {}
        self._last_fill_price: dict[str, float] = {}
        self._last_funding: dict[str, int] = {}
        self._wallet = 0.0
        self.ledger: list[LedgerEntry] = []
        self.fills: list[Fill] = []
        self._book(0, "", "deposit", float(initial_balance))

    # ----------------------------------------------------------------- cash

    def _book(
        self, ts: int, symbol: str, reason: LedgerReason, amount: float, ref: str = ""
    ) -> None:
        """The one place the wallet changes: append the entry, then move the cash."""
        if amount == 0.0:
            return
        self.ledger.append(LedgerEntry(ts, symbol, reason, amount, ref))
        self._wallet += amount

    @property
    def wallet(self) -> float:
        """Wallet balance: deposits + realized PnL - fees + funding - liquidation fees."""
        return self._wallet

    # ----------------------------------------------------------------- events

    def apply_fill(
        self,
        ts: int,
        symbol: str,
        side: int,
        lots: int,
        price_ticks: int,
        fee_rate: float,
        ref: str = "",
    ) -> Fill:
        """Book a fill: update the position, realize PnL, charge ``notional * fee_rate``.

        ``side`` is +1 (buy) or -1 (sell); a negative ``fee_rate`` is a maker rebate.
        """
        instrument = self._instrument(symbol)
        if side not in (1, -1):
            raise ValueError(f"side must be +1 or -1, got {side}")
        if lots <= 0 or price_ticks <= 0:
            raise ValueError(f"lots and price_ticks must be > 0, got {lots} and {price_ticks}")
        price = instrument.ticks_to_price(price_ticks)
        notional = instrument.notional(price_ticks, lots)
        return self._execute(ts, symbol, side, lots, price_ticks, price, notional, fee_rate, ref)

    def _execute(
        self,
        ts: int,
        symbol: str,
        side: int,
        lots: int,
        price_ticks: int | None,
        price: float,
        notional: float,
        fee_rate: float,
        ref: str,
    ) -> Fill:
        units = self._units[symbol]
        position, realized = self._positions[symbol].after_fill(
            side * lots, price, units, self._inverse[symbol]
        )
        self._positions[symbol] = position
        self._last_fill_price[symbol] = price
        fee = notional * fee_rate
        self._book(ts, symbol, "fill_pnl", realized, ref)
        self._book(ts, symbol, "fee", -fee, ref)
        fill = Fill(
            ts, symbol, side, lots, price_ticks, price, lots * units, notional, fee, realized, ref
        )
        self.fills.append(fill)
        return fill

    def mark(self, ts: int, symbol: str, mark_price: float) -> None:
        """Store the mark price used for unrealized PnL and margins (``ts`` is informative)."""
        self._instrument(symbol)
        if not (math.isfinite(mark_price) and mark_price > 0):
            raise ValueError(f"{symbol}: mark price must be finite and > 0, got {mark_price}")
        self._marks[symbol] = mark_price

    def apply_funding(self, ts: int, symbol: str, rate: float, mark_price: float) -> float:
        """Settle funding at funding time ``ts``; returns the wallet change.

        The position pays its signed notional at ``mark_price`` times ``rate`` (``qty * mark *
        rate`` linear, ``qty / mark * rate`` inverse, in the base coin; longs pay when
        ``rate > 0``). Each
        funding time is settled once per symbol: a call whose ``ts`` is not after the last
        settled one is ignored and returns 0.0. Otherwise ``mark_price`` also becomes the
        stored mark.
        """
        self._instrument(symbol)
        last = self._last_funding.get(symbol)
        if last is not None and ts <= last:
            return 0.0
        self.mark(ts, symbol, mark_price)
        self._last_funding[symbol] = ts
        lots = self._positions[symbol].lots
        if self._inverse[symbol]:
            amount = -lots * self._units[symbol] / mark_price * rate
        else:
            amount = -lots * self._units[symbol] * mark_price * rate
        self._book(ts, symbol, "funding", amount)
        return amount + 0.0  # normalise -0.0

    def check_liquidation(self, ts: int) -> list[str]:
        """Liquidate every position at its mark if margin balance <= maintenance margin.

        Each position is closed by a fill at its mark (ref ``"liquidation"``) and charged
        ``liquidation_fee_rate * notional``. Returns the liquidated symbols, sorted; the
        wallet may end negative (no insurance fund is modelled).
        """
        open_symbols = sorted(s for s, p in self._positions.items() if p.lots != 0)
        if not open_symbols:
            return []
        slack = _LIQUIDATION_TOLERANCE * max(1.0, sum(self.notional(s) for s in open_symbols))
        if self.margin_balance > self.maintenance_margin() + slack:
            return []
        for symbol in open_symbols:
            lots = self._positions[symbol].lots
            price = self._mark_price(symbol)
            notional = self._notional_at(symbol, lots, price)
            self._execute(
                ts, symbol, -_sign(lots), abs(lots), None, price, notional, 0.0, LIQUIDATION_REF
            )
            self._book(
                ts,
                symbol,
                "liquidation_fee",
                -self.liquidation_fee_rate * notional,
                LIQUIDATION_REF,
            )
        return open_symbols

    # ----------------------------------------------------------------- queries

    def position(self, symbol: str) -> Position:
        """The symbol's current position (an immutable snapshot)."""
        self._instrument(symbol)
        return self._positions[symbol]

    def mark_price(self, symbol: str) -> float:
        """The price positions of ``symbol`` are marked at: the last mark, else the last
        fill price, else 0.0."""
        self._instrument(symbol)
        return self._mark_price(symbol)

    def realized(self, symbol: str | None = None) -> float:
        """Realized PnL of fills (before fees and funding), of one symbol or all."""
        return sum(p.realized_pnl for p in self._selected(symbol))

    def unrealized(self, symbol: str | None = None) -> float:
        """Unrealized PnL at the stored marks, of one symbol or all."""
        total = 0.0
        for p in self._selected(symbol):
            if p.lots:
                if self._inverse[p.symbol]:
                    inverse_gain = 1.0 / p.entry_price - 1.0 / self._mark_price(p.symbol)
                    total += inverse_gain * p.lots * self._units[p.symbol]
                    continue
                total += (
                    (self._mark_price(p.symbol) - p.entry_price) * p.lots * self._units[p.symbol]
                )
        return total

    @property
    def equity(self) -> float:
        """Wallet plus unrealized PnL at the stored marks."""
        return self._wallet + self.unrealized()

    @property
    def margin_balance(self) -> float:
        """Cross margin: the margin balance is the equity."""
        return self.equity

    def notional(self, symbol: str) -> float:
        """Absolute notional of the position at its mark, in the margin asset."""
        p = self.position(symbol)
        return self._notional_at(symbol, p.lots, self._mark_price(symbol)) if p.lots else 0.0

    def leverage(self, symbol: str, notional: float | None = None, lots: int | None = None) -> int:
        """Leverage in force: min(configured, the bracket's max at ``notional``, default now).

        A table whose caps are in contracts picks the bracket by ``lots`` (default: the
        position's) instead of the notional.
        """
        self._instrument(symbol)
        table = self._brackets[symbol]
        if table.unit == "contracts":
            size = abs(self._positions[symbol].lots if lots is None else lots)
            at = size * self._lot_contracts[symbol]
        else:
            at = self.notional(symbol) if notional is None else notional
        return min(self._leverage[symbol], table.bracket_for(at).max_leverage)

    def initial_margin(self, symbol: str | None = None) -> float:
        """Notional / leverage in force, of one symbol or summed over all."""
        symbols = self._symbols(symbol)
        return sum(self.notional(s) / self.leverage(s) for s in symbols)

    def maintenance_margin(self, symbol: str | None = None) -> float:
        """Maintenance margin from the bracket table, of one symbol or summed over all."""
        symbols = self._symbols(symbol)
        return sum(
            self._brackets[s].maintenance_margin(self.notional(s), self._contracts(s))
            for s in symbols
        )

    @property
    def available_balance(self) -> float:
        """Margin balance minus the positions' initial margin.

        Returned raw: it is negative when losses have eaten into the initial margin. Open
        orders' margin is not counted here; the exchange checks each order with
        :meth:`can_open`.
        """
        return self.margin_balance - self.initial_margin()

    def can_open(self, symbol: str, side: int, lots: int, price_ticks: int) -> bool:
        """Whether the position after this order fits the available balance.

        An order that only reduces the position always fits. Otherwise the symbol's initial
        margin is replaced by that of the resulting position valued at the order price, and
        the result must not exceed the margin balance (fees and opening loss are ignored).
        """
        instrument = self._instrument(symbol)
        if side not in (1, -1) or lots <= 0 or price_ticks <= 0:
            raise ValueError(
                "need side +1 or -1, lots > 0 and price_ticks > 0, "
                f"got {side}, {lots}, {price_ticks}"
            )
        old = self._positions[symbol].lots
        new = old + side * lots
        if abs(new) <= abs(old) and _sign(new) in (0, _sign(old)):
            return True
        notional = instrument.notional(price_ticks, abs(new))
        required = notional / self.leverage(symbol, notional, new)
        return required <= self.available_balance + self.initial_margin(symbol)

    def liquidation_price(self, symbol: str) -> float | None:
        """Mark price of ``symbol`` at which margin balance == maintenance margin.

        Other symbols' marks are held fixed. For signed base quantity ``q``, entry ``e`` and
        the bracket's rate ``r`` and ``cum``, solves
        ``wallet + other_upnl + q * (p - e) = other_mm + |q| * p * r - cum``, i.e.
        ``p = (other_mm - cum - wallet - other_upnl + q * e) / (q - |q| * r)``, in the bracket
        whose notional range holds ``|q| * p``. ``None`` when flat or when no positive price
        solves it (a long whose collateral covers it at any price, or a short already below
        maintenance at every price).

        Inverse, with ``q`` the signed USD face value and everything else in the coin:
        ``fixed + q * (1/e - 1/p) = |q| / p * r - cum``, i.e.
        ``p = (q + |q| * r) / (fixed + cum + q / e)`` with ``fixed = wallet + other_upnl -
        other_mm``. ``None`` for a short whose collateral covers it at any price (its coin loss
        is bounded by ``|q| / e``) or a long below maintenance at every price.
        """
        p = self.position(symbol)
        if p.lots == 0:
            return None
        q = p.lots * self._units[symbol]
        inverse = self._inverse[symbol]
        others = [s for s in self._symbols(None) if s != symbol]
        fixed = self._wallet + sum(self.unrealized(s) for s in others)
        fixed -= sum(self.maintenance_margin(s) for s in others)
        table = self._brackets[symbol]
        contracts = self._contracts(symbol)
        best, best_gap = math.nan, math.inf
        for i, bracket in enumerate(table.brackets):
            rate, cum = bracket.maint_margin_rate, bracket.maint_amount
            if inverse:
                denominator = fixed + cum + q / p.entry_price
                if denominator == 0:
                    continue
                candidate = (q + abs(q) * rate) / denominator
                if candidate <= 0:
                    continue
                notional = abs(q) / candidate
            else:
                denominator = q - abs(q) * rate
                candidate = (q * p.entry_price - cum - fixed) / denominator
                notional = abs(q) * candidate
            at = notional if table.unit == "notional" else contracts
            gap = max(table.floor(i) - at, at - bracket.notional_cap, 0.0)
            if gap < best_gap:
                best, best_gap = candidate, gap
        return best if best > 0 else None

    # ----------------------------------------------------------------- helpers

    def _instrument(self, symbol: str) -> Instrument:
        try:
            return self._instruments[symbol]
        except KeyError:
            known = ", ".join(sorted(self._instruments))
            raise ValueError(f"unknown symbol {symbol!r}; the portfolio has {known}") from None

    def _symbols(self, symbol: str | None) -> list[str]:
        if symbol is None:
            return sorted(self._positions)
        self._instrument(symbol)
        return [symbol]

    def _selected(self, symbol: str | None) -> list[Position]:
        return [self._positions[s] for s in self._symbols(symbol)]

    def _notional_at(self, symbol: str, lots: int, price: float) -> float:
        """Absolute notional of ``lots`` at ``price``, in the margin asset."""
        if self._inverse[symbol]:
            return abs(lots) * self._units[symbol] / price
        return abs(lots) * self._units[symbol] * price

    def _contracts(self, symbol: str) -> float:
        """Absolute position size in contracts (what COIN-M brackets cap)."""
        return abs(self._positions[symbol].lots) * self._lot_contracts[symbol]

    def _mark_price(self, symbol: str) -> float:
        mark = self._marks.get(symbol)
        if mark is None:
            mark = self._last_fill_price.get(symbol, 0.0)
        return mark


def _one_margin_asset(instruments: Mapping[str, Instrument]) -> str:
    """The margin asset all ``instruments`` share; :class:`ConfigError` if none or several."""
    unnamed = sorted(s for s, i in instruments.items() if not i.margin_asset)
    if unnamed:
        raise ConfigError(
            f"{', '.join(unnamed)}: inverse instruments need a margin_asset (the base coin their "
            "PnL and margin are in, e.g. 'BTC' for BTCUSD_PERP)"
        )
    assets: dict[str, list[str]] = {}
    for symbol, instrument in sorted(instruments.items()):
        assets.setdefault(instrument.margin_asset, []).append(symbol)
    if len(assets) > 1:
        listed = "; ".join(f"{asset}: {', '.join(syms)}" for asset, syms in sorted(assets.items()))
        raise ConfigError(
            f"symbols margined in different assets cannot share one account ({listed}); "
            "run each margin asset as its own backtest"
        )
    return next(iter(assets), "USDT")
