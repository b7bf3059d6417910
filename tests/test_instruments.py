"""Exact conversions between prices/sizes and integer ticks/lots."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import streamsim as ss

BTC = ss.Instrument("BTCUSDT", tick_size="0.1", lot_size="0.001", min_notional="100")


def test_scalar_conversions_are_exact() -> None:
    assert BTC.price_to_ticks("65432.1") == 654321
    assert BTC.price_to_ticks(0.3) == 3
    assert BTC.qty_to_lots("0.007") == 7
    assert BTC.ticks_to_decimal(654321) == Decimal("65432.1")
    assert BTC.lots_to_decimal(7) == Decimal("0.007")
    assert BTC.ticks_to_price(3) == pytest.approx(0.3)
    assert BTC.notional(654321, 1000) == pytest.approx(65432.1)
    inverse = ss.Instrument(
        "BTCUSD_PERP", "0.1", "1", contract_size=100, kind=ss.ContractKind.INVERSE
    )
    assert inverse.notional(500000, 2) == pytest.approx(200 / 50000)


def test_off_grid_values_raise() -> None:
    with pytest.raises(ss.DataError, match=r"off the grid of step 0\.1"):
        BTC.price_to_ticks("65432.15")
    with pytest.raises(ss.DataError, match="not a number"):
        BTC.qty_to_lots("abc")
    with pytest.raises(ss.DataError, match="must be > 0"):
        ss.Instrument("X", "0", "1")


def test_vector_conversion_names_row_and_column() -> None:
    prices = np.array(["100.1", "100.2", "100.25"])
    with pytest.raises(ss.DataError, match=r"trades.parquet, row 2, column 'price': 100.25"):
        BTC.prices_to_ticks(prices, where="trades.parquet, ")
    with pytest.raises(ss.DataError, match="row 1, column 'quantity'"):
        BTC.qtys_to_lots(np.array([0.001, np.nan]))


@given(st.integers(0, 2_000_000), st.integers(0, 10_000_000))
def test_vector_matches_exact_decimal(ticks: int, lots: int) -> None:
    price = str(Decimal(ticks) * Decimal("0.1"))
    qty = str(Decimal(lots) * Decimal("0.001"))
    assert BTC.prices_to_ticks(np.array([price])).tolist() == [ticks] == [BTC.price_to_ticks(price)]
    assert BTC.qtys_to_lots(np.array([qty])).tolist() == [lots] == [BTC.qty_to_lots(qty)]
