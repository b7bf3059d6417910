"""COIN-M (inverse) contracts from the venue's own formats: dapi exchangeInfo and captures.

There is no real COIN-M capture in ``../shared/data``; :func:`coin_m_capture` rewrites an
excerpt of the real 2023 USD-M BTCUSDT capture into the dapi stream format (symbol
BTCUSD_PERP, ``ps`` pair, ``aggTrade`` trades, sizes as whole contracts: 0.001 BTC -> 1
contract) so that a backtest runs on real prices and real message timing.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest

import streamsim as ss
from adapters.binance import instruments_from_exchange_info, read_capture, sources_from_capture
from adapters.binance.wire.filters import parse_exchange_info
from streamsim.errors import DataError
from streamsim.results.artifacts import write_artifacts

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "binance-usdm-capture"
SOURCE = DATA / "btcusdt_20230404.dat.gz"
SYMBOL = "BTCUSD_PERP"
LINES = 4_000

#: The shape of a ``GET /dapi/v1/exchangeInfo`` symbols entry (fields this reader uses).
DAPI_ENTRY: dict[str, Any] = {
    "symbol": SYMBOL,
    "pair": "BTCUSD",
    "contractType": "PERPETUAL",
    "baseAsset": "BTC",
    "quoteAsset": "USD",
    "marginAsset": "BTC",
    "contractSize": 100,
    "filters": [
        {"filterType": "PRICE_FILTER", "tickSize": "0.1", "minPrice": "1000"},
        {"filterType": "LOT_SIZE", "stepSize": "1", "minQty": "1"},
    ],
}
FAPI_ENTRY: dict[str, Any] = {
    "symbol": "BTCUSDT",
    "pair": "BTCUSDT",
    "contractType": "PERPETUAL",
    "baseAsset": "BTC",
    "quoteAsset": "USDT",
    "marginAsset": "USDT",
    "filters": [
        {"filterType": "PRICE_FILTER", "tickSize": "0.10"},
        {"filterType": "LOT_SIZE", "stepSize": "0.001"},
        {"filterType": "MIN_NOTIONAL", "notional": "5"},
    ],
}


def _contracts(qty: str) -> str:
    return str(round(float(qty) * 1000))


def _levels(levels: list[list[str]]) -> list[list[str]]:
    return [[price, _contracts(qty)] for price, qty in levels]


def _rewrite(data: dict[str, Any]) -> dict[str, Any]:
    """One USD-M payload as its COIN-M counterpart."""
    if "lastUpdateId" in data:
        return {**data, "bids": _levels(data["bids"]), "asks": _levels(data["asks"])}
    out = {**data, "s": SYMBOL}
    event = data["e"]
    if event == "depthUpdate":
        out.update(ps="BTCUSD", b=_levels(data["b"]), a=_levels(data["a"]))
    elif event == "trade":
        trade_id = out.pop("t")
        out.pop("X", None)
        out.update(e="aggTrade", ps="BTCUSD", a=trade_id, f=trade_id, l=trade_id)
        out["q"] = _contracts(data["q"])
    elif event == "bookTicker":
        out.update(ps="BTCUSD", B=_contracts(data["B"]), A=_contracts(data["A"]))
    elif event == "markPriceUpdate":
        out["ps"] = "BTCUSD"
    return out


def coin_m_capture(path: Path, lines: int = LINES) -> Path:
    """Write the first ``lines`` lines of the USD-M capture as a COIN-M one at ``path``."""
    out = []
    with gzip.open(SOURCE, "rb") as f:
        for _, line in zip(range(lines), f, strict=False):
            recv, raw = line.rstrip(b"\n").split(b" ", 1)
            message = orjson.loads(raw)
            if "stream" in message:
                kind = message["stream"].split("@", 1)[1].replace("trade", "aggTrade")
                message = {"stream": f"btcusd_perp@{kind}", "data": _rewrite(message["data"])}
            else:
                message = _rewrite(message)
            out.append(recv + b" " + orjson.dumps(message))
    path.write_bytes(gzip.compress(b"\n".join(out) + b"\n"))
    return path


def test_a_dapi_exchange_info_builds_inverse_instruments_margined_in_the_coin(
    tmp_path: Path,
) -> None:
    found = parse_exchange_info({"symbols": [DAPI_ENTRY, FAPI_ENTRY]})
    coin = found[SYMBOL]
    assert coin.kind is ss.ContractKind.INVERSE
    assert (coin.contract_size, coin.margin_asset, coin.quote) == (100, "BTC", "USD")
    assert coin.notional(280_000, 1) == pytest.approx(100 / 28_000)  # 0.00357 BTC
    linear = found["BTCUSDT"]
    assert (linear.kind, linear.margin_asset) == (ss.ContractKind.LINEAR, "USDT")
    # the cryptofeed REST framing, as instruments_from_exchange_info reads it
    recorded = tmp_path / "dapi.0"
    url = "https://dapi.binance.com/dapi/v1/exchangeInfo"
    body = orjson.dumps({"symbols": [DAPI_ENTRY]}).decode()
    recorded.write_text(f"{url} -> 1680652700.0: {body}\n")
    assert instruments_from_exchange_info(recorded)[SYMBOL] == coin


def test_a_coin_m_entry_is_never_booked_as_linear() -> None:
    no_size = {k: v for k, v in DAPI_ENTRY.items() if k != "contractSize"}
    with pytest.raises(DataError, match=r"BTCUSD_PERP: coin-margined .* no contractSize"):
        parse_exchange_info({"symbols": [no_size]})
    odd = {**DAPI_ENTRY, "marginAsset": "BNB"}
    with pytest.raises(DataError, match="marginAsset 'BNB' is neither"):
        parse_exchange_info({"symbols": [odd]})


def test_a_coin_m_capture_needs_its_exchange_info_or_an_instrument(tmp_path: Path) -> None:
    path = coin_m_capture(tmp_path / "btcusd_perp.dat.gz", lines=200)
    with pytest.raises(DataError, match="BTCUSD_PERP is a COIN-M"):
        read_capture(path)
    # recorded with the capture, the dapi exchangeInfo makes it an inverse instrument
    info = tmp_path / "dapi.0"
    body = orjson.dumps({"symbols": [DAPI_ENTRY]}).decode()
    info.write_text(f"https://dapi.binance.com/dapi/v1/exchangeInfo -> 1680652700.0: {body}\n")
    instrument = read_capture([info, path])[SYMBOL].instrument
    assert (instrument.kind, instrument.contract_size) == (ss.ContractKind.INVERSE, 100)


class RoundTrip(ss.Strategy):
    """Buys one contract at market once the book is valid, sells it 500 trades later."""

    def __init__(self) -> None:
        self.ctx: ss.Context | None = None
        self.trades = 0
        self.handles: list[ss.OrderHandle] = []

    async def on_start(self, ctx: ss.Context) -> None:
        self.ctx = ctx

    async def on_trade(self, trade: ss.Trade) -> None:
        assert self.ctx is not None
        self.trades += 1
        if self.trades in (100, 600) and self.ctx.books[SYMBOL].valid:
            side = ss.BUY if self.trades == 100 else ss.SELL
            order = ss.Order(SYMBOL, side, 1, type=ss.OrderType.MARKET)
            self.handles.append(self.ctx.broker.submit(order))


def test_a_coin_m_capture_backtests_end_to_end_with_money_in_btc(tmp_path: Path) -> None:
    """One 100 USD contract at about 28,145 USD/BTC is 100 / 28145 = 0.003553 BTC of
    notional; the 5 bp taker fee on it is 0.0000018 BTC; over a few seconds BTC moves a few
    dollars, so the round trip's PnL is well under 100 * 50 / 28000**2 = 0.0000064 BTC."""
    path = coin_m_capture(tmp_path / "btcusd_perp.dat.gz")
    capture = read_capture(path, instruments=parse_exchange_info({"symbols": [DAPI_ENTRY]}))
    instrument = capture[SYMBOL].instrument
    assert instrument.kind is ss.ContractKind.INVERSE
    exchange = ss.SimExchange([instrument], initial_balance=1.0)
    strategy = RoundTrip()
    result = ss.run_backtest(
        sources_from_capture(capture),
        strategy,
        exchange=exchange,
        latency=ss.ConstantLatency(5 * ss.MS),
    )
    assert result.events[f"{SYMBOL}.trades"] > 600
    portfolio = exchange.portfolio
    assert portfolio.margin_asset == "BTC"
    buy, sell = portfolio.fills
    for fill in (buy, sell):
        assert 27_000 < fill.price < 29_000
        assert fill.notional == pytest.approx(100 / fill.price, rel=1e-12)
        assert 0.0034 < fill.notional < 0.0037
        assert fill.fee == pytest.approx(0.0005 * fill.notional, rel=1e-12)
    assert sell.realized_pnl == pytest.approx(100 * (1 / buy.price - 1 / sell.price), rel=1e-9)
    assert abs(sell.realized_pnl) < 0.0000064
    assert portfolio.position(SYMBOL).lots == 0
    assert portfolio.wallet == pytest.approx(1.0 + sell.realized_pnl - buy.fee - sell.fee)
    assert 0.99999 < portfolio.wallet < 1.00001
    # the artifacts and the report say the money is in BTC, and never name USDT
    written = write_artifacts(result, tmp_path / "out")
    manifest = orjson.loads(written["manifest.json"].read_bytes())
    assert manifest["run"]["margin_asset"] == "BTC"
    html = written["report.html"].read_text()
    assert "Equity and drawdown (BTC)" in html and "PnL decomposition (BTC)" in html
    assert "USDT" not in html
