"""Fee models: the rate a fill pays on its notional, one home for the fee rule.

A :class:`FeeModel` answers the rate of each fill (maker or taker, per symbol, and it may
look at the fill's size and price, e.g. for a tiered schedule). A negative rate is a
rebate (a maker rebate is the usual case). :class:`Fees` is one maker and one taker rate
for every symbol (the default); :class:`FeeTable` gives some symbols their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


class FeeModel(Protocol):
    """The fee rate of a fill, as a fraction of its notional (negative: a rebate)."""

    def rate(self, symbol: str, maker: bool, lots: int, price: int) -> float:
        """The rate of a fill of ``lots`` at ``price`` (ticks) on ``symbol``; ``maker``
        if our order rested and was hit."""
        ...


@dataclass(frozen=True)
class Fees:
    """Maker and taker fee rates on notional (a negative maker rate is a rebate)."""

    maker: float = 0.0002
    taker: float = 0.0005

    def rate(self, symbol: str, maker: bool, lots: int, price: int) -> float:
        """The maker or the taker rate, whatever the symbol."""
        return self.maker if maker else self.taker


@dataclass(frozen=True)
class FeeTable:
    """Per-symbol schedules: ``symbols[s]`` for a symbol listed, ``default`` for the rest."""

    default: Fees = Fees()
    symbols: Mapping[str, Fees] = field(default_factory=dict)

    def rate(self, symbol: str, maker: bool, lots: int, price: int) -> float:
        """The rate of the symbol's schedule (the default's if it has none)."""
        fees = self.symbols.get(symbol, self.default)
        return fees.maker if maker else fees.taker
