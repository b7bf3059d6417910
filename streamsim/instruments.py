"""Instruments and exact conversions between prices/sizes and integer ticks/lots."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import numpy as np
import numpy.typing as npt

from .errors import DataError

#: Largest distance from the grid, in grid units, still read as on the grid. Decimal strings
#: pass through float64 on the vectorised path; this absorbs that rounding, nothing more.
GRID_TOLERANCE = 1e-6


class ContractKind(enum.Enum):
    """How a contract's notional and PnL are computed."""

    LINEAR = "linear"  # quote-margined (USDT): notional = qty * price * contract_size
    INVERSE = "inverse"  # coin-margined: notional = qty * contract_size / price


def _decimal(value: str | float | int | Decimal, name: str) -> Decimal:
    try:
        result = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation as exc:
        raise DataError(f"{name} is not a number: {value!r}") from exc
    if not result.is_finite():
        raise DataError(f"{name} is not finite: {value!r}")
    return result


def _on_grid(value: str | float | int | Decimal, step: Decimal, name: str) -> int:
    amount = _decimal(value, name)
    units, remainder = divmod(amount, step)
    if remainder != 0:
        raise DataError(f"{name} {value!r} is off the grid of step {step}")
    return int(units)


def _array_on_grid(
    values: npt.ArrayLike, step: Decimal, name: str, where: str
) -> npt.NDArray[np.int64]:
    floats = np.asarray(values, dtype=np.float64)
    scaled = floats / float(step)
    units = np.rint(scaled)
    bad = ~np.isfinite(scaled) | (np.abs(scaled - units) > GRID_TOLERANCE)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        value = np.asarray(values)[row].item()
        raise DataError(
            f"{where}row {row}, column {name!r}: {value} is off the grid of step {step}"
        )
    return units.astype(np.int64)


@dataclass(frozen=True)
class Instrument:
    """A tradable contract: its grid and how its notional is computed.

    ``tick_size``, ``lot_size``, ``min_notional`` and ``contract_size`` are kept as
    ``Decimal`` so that conversions of decimal strings are exact. ``margin_asset`` is the
    currency of its notional, fees, PnL and margin: the quote for a linear contract (the
    default), the base coin for an inverse one (``"BTC"`` for Binance's BTCUSD_PERP, which
    must be given: an inverse instrument without one cannot be accounted).
    """

    symbol: str
    tick_size: Decimal
    lot_size: Decimal
    min_notional: Decimal = Decimal(0)
    contract_size: Decimal = Decimal(1)
    kind: ContractKind = ContractKind.LINEAR
    quote: str = "USDT"
    margin_asset: str = ""
    _tick: float = field(init=False, repr=False, compare=False)
    _lot: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("tick_size", "lot_size", "min_notional", "contract_size"):
            object.__setattr__(self, name, _decimal(getattr(self, name), name))
        if self.tick_size <= 0 or self.lot_size <= 0 or self.contract_size <= 0:
            raise DataError(f"{self.symbol}: tick_size, lot_size and contract_size must be > 0")
        if not self.margin_asset and self.kind is ContractKind.LINEAR:
            object.__setattr__(self, "margin_asset", self.quote)
        object.__setattr__(self, "_tick", float(self.tick_size))
        object.__setattr__(self, "_lot", float(self.lot_size))

    def price_to_ticks(self, price: str | float | int | Decimal) -> int:
        """Exact price -> ticks; a price off the grid raises :class:`DataError`."""
        return _on_grid(price, self.tick_size, f"{self.symbol} price")

    def qty_to_lots(self, qty: str | float | int | Decimal) -> int:
        """Exact size -> lots; a size off the grid raises :class:`DataError`."""
        return _on_grid(qty, self.lot_size, f"{self.symbol} size")

    def ticks_to_price(self, ticks: int) -> float:
        """Ticks -> price as float (for money arithmetic)."""
        return float(ticks * self.tick_size)

    def lots_to_qty(self, lots: int) -> float:
        """Lots -> size as float (for money arithmetic)."""
        return float(lots * self.lot_size)

    def ticks_to_decimal(self, ticks: int) -> Decimal:
        """Ticks -> exact decimal price (for order messages and reports)."""
        return ticks * self.tick_size

    def lots_to_decimal(self, lots: int) -> Decimal:
        """Lots -> exact decimal size (for order messages and reports)."""
        return lots * self.lot_size

    def prices_to_ticks(self, prices: npt.ArrayLike, where: str = "") -> npt.NDArray[np.int64]:
        """Vectorised price -> ticks for float or numeric-string arrays, checked against the grid.

        ``where`` prefixes the error message (for example ``"trades.parquet, "``), which then
        names the row and the column of the first price off the grid.
        """
        return _array_on_grid(prices, self.tick_size, "price", where)

    def qtys_to_lots(self, qtys: npt.ArrayLike, where: str = "") -> npt.NDArray[np.int64]:
        """Vectorised size -> lots, checked against the grid like :meth:`prices_to_ticks`."""
        return _array_on_grid(qtys, self.lot_size, "quantity", where)

    def price_to_ticks_floor(self, price: float) -> int:
        """The grid price at or below ``price`` (for comparing off-grid reference prices)."""
        return int((Decimal(str(price)) / self.tick_size).to_integral_value(rounding="ROUND_FLOOR"))

    def notional(self, ticks: int, lots: int) -> float:
        """Quote-currency notional of ``lots`` at ``ticks`` (linear) or coin notional (inverse)."""
        qty = lots * self._lot * float(self.contract_size)
        if self.kind is ContractKind.LINEAR:
            return ticks * self._tick * qty
        return qty / (ticks * self._tick)
