"""Fee models: the rate a fill pays on its notional.

A negative rate is a rebate (a maker rebate is the usual case).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fees:
    """Maker and taker fee rates on notional (a negative maker rate is a rebate)."""

    maker: float = 0.0002
    taker: float = 0.0005
