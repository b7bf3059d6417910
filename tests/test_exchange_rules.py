"""One home per exchange rule: a user-written queue model, per-symbol fee schedules, and
every reject code a venue can send listed in streamsim.order_checks."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from helpers import book_levels
from hypothesis import given
from hypothesis import strategies as st
from test_matching import BTC, Venue, book_market, depth, trade

import streamsim as ss
from streamsim.config import RunConfig
from streamsim.events import DepthUpdate
from streamsim.orders import OrderRequest, OrderStatus, OrderType, TimeInForce
from streamsim.sim.queue_models import RestingOrder

ROOT = Path(__file__).resolve().parent.parent
ETH = ss.Instrument("ETHUSDT", tick_size="0.01", lot_size="0.001", min_notional="0.001")


class FrontOfQueue:
    """A user's queue model written from the protocol alone: we are always first in the
    queue, so every trade at our price fills us."""

    def join(self, order: RestingOrder, level: int, ours: int) -> None:
        order.level = level
        order.ahead = 0.0

    def on_trade(self, order: RestingOrder, qty: int, participation: float) -> int:
        return qty

    def on_trade_through(self, order: RestingOrder, qty: int) -> int:
        return order.remaining

    def on_level(self, order: RestingOrder, level: int) -> None:
        order.level = level

    def on_cross(self, order: RestingOrder) -> int:
        return order.remaining


class NoCrossFills(ss.QueueRule):
    """streamsim's rule, except that a book crossing our price fills nothing."""

    def on_decrease(self, order: Any, before: int, after: int, decrease: float) -> None:
        order.ahead = min(order.ahead, float(after))

    def on_cross(self, order: RestingOrder) -> int:
        return 0


def test_a_user_written_queue_model_decides_the_fills_of_a_resting_order() -> None:
    ours = book_market(queue=FrontOfQueue())
    default = book_market()  # Conservative: 5 lots ahead of us at 1000
    for m in (ours, default):
        cid = m.send(ss.BUY, 3, 1000)
        m.feed(trade(1000, 2, ss.SELL))
        m.feed(trade(1000, 2, ss.SELL))
        m.cid = cid  # type: ignore[attr-defined]
    assert ours.of(ours.cid) == [  # type: ignore[attr-defined]
        ("NEW", 0, 0, 0, False),
        ("PARTIALLY_FILLED", 2, 2, 1000, True),
        ("FILLED", 3, 1, 1000, True),
    ]
    assert default.of(default.cid) == [("NEW", 0, 0, 0, False)]  # type: ignore[attr-defined]


def test_a_queue_model_that_refuses_cross_fills_leaves_the_order_resting() -> None:
    for model, fills in ((NoCrossFills(), False), (ss.Conservative(), True)):
        m = book_market(queue=model)
        cid = m.send(ss.BUY, 2, 1000)
        m.feed(depth([(1000, 0)], [(1001, 0), (1000, 4)]))  # the asks move onto our price
        assert (m.last(cid).status is OrderStatus.FILLED) is fills
        assert (len(m.exchange._resting["BTCUSDT"]) == 0) is fills


def test_the_shipped_models_are_queue_rules_and_satisfy_the_protocol() -> None:
    for model in (ss.Conservative(), ss.PowerQueue(2), ss.LogQueue()):
        assert isinstance(model, ss.QueueRule)
        for step in ("join", "on_trade", "on_trade_through", "on_level", "on_cross"):
            assert callable(getattr(model, step))


def test_a_model_of_the_old_on_decrease_only_protocol_is_a_config_error_naming_queue() -> None:
    class Old:
        def on_decrease(self, order: Any, before: int, after: int, decrease: float) -> None:
            order.ahead = min(order.ahead, float(after))

    with pytest.raises(ss.ConfigError, match=r"^queue: .* lacks join, on_trade, .*QueueRule"):
        ss.SimExchange([BTC], queue=Old())  # type: ignore[arg-type]


@given(
    ahead=st.integers(0, 50),
    trades=st.lists(st.integers(1, 20), max_size=8),
    participation=st.sampled_from([1.0, 0.5, 0.3]),
)
def test_a_trade_at_our_price_fills_only_beyond_the_queue_ahead(
    ahead: int, trades: list[int], participation: float
) -> None:
    m = book_market(participation=participation)
    m.feed(depth([(1000, ahead)], []))
    cid = m.send(ss.BUY, 10, 1000)
    for qty in trades:
        m.feed(trade(1000, qty, ss.SELL))
    filled = m.last(cid).filled_qty
    # Each trade fills floor(part beyond the queue * participation); never more than ordered.
    expected, left = 0, float(ahead)
    for qty in trades:
        left -= qty
        if left < 0:
            expected += int(-left * participation // 1)
            left = 0.0
    assert filled == min(expected, 10)


# -- fees -----------------------------------------------------------------------------------


def _depth(symbol: str, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> DepthUpdate:
    levels = book_levels(bids, asks)
    return DepthUpdate(symbol, 0, None, 0, -1, -1, -1, True, levels, 0)


def _rates(exchange: ss.SimExchange) -> dict[tuple[str, str], float]:
    """Rest a bid on each symbol and fill it with a trade, then take the ask of each:
    (symbol, "maker" | "taker") -> the fill's fee / notional."""
    venue = Venue()
    exchange.bind(venue)
    for symbol in ("BTCUSDT", "ETHUSDT"):
        exchange.on_market([_depth(symbol, [(1000, 0)], [(1001, 5)])], 0, 1)
        order = ss.Order(symbol, ss.BUY, 2, 1000, client_id=f"m{symbol}")
        exchange.on_order(OrderRequest("new", f"m{symbol}", order, 0))
        exchange.on_market([ss.Trade(symbol, 0, None, 0, 1000, 2, ss.SELL, 0)], 0, 1)
        take = ss.Order(symbol, ss.BUY, 1, None, type=OrderType.MARKET, client_id=f"t{symbol}")
        exchange.on_order(OrderRequest("new", f"t{symbol}", take, 0))
    rates = {}
    for record in venue.record.fills:
        fill = record.fill
        rates[(fill.symbol, record.liquidity)] = round(fill.fee / fill.notional, 10)
    return rates


TABLE = {"BTCUSDT": ss.Fees(maker=-0.0001, taker=0.0004)}


def test_a_fee_table_rebates_the_maker_on_one_symbol_and_charges_the_default_on_another() -> None:
    fees = ss.FeeTable(ss.Fees(0.0002, 0.0005), TABLE)
    exchange = ss.SimExchange([BTC, ETH], fees=fees, sequencing=None, initial_balance=1e6)
    assert _rates(exchange) == {
        ("BTCUSDT", "maker"): -0.0001,
        ("BTCUSDT", "taker"): 0.0004,
        ("ETHUSDT", "maker"): 0.0002,
        ("ETHUSDT", "taker"): 0.0005,
    }


TOML = """
[strategy]
class = "m:S"

[exchange]
sequencing = "none"
initial_balance = 1000000.0

[exchange.fees]
maker = 0.0002
taker = 0.0005

[exchange.fees.symbols.BTCUSDT]
maker = -0.0001
taker = 0.0004
"""


def test_the_per_symbol_fee_table_comes_from_the_run_config_toml() -> None:
    config = RunConfig.from_toml(TOML)
    assert RunConfig.from_toml(config.to_toml()) == config
    exchange = config.make_exchange([BTC, ETH])
    assert isinstance(exchange, ss.SimExchange)
    assert exchange.fees == ss.FeeTable(ss.Fees(0.0002, 0.0005), TABLE)
    assert _rates(exchange)[("BTCUSDT", "maker")] == -0.0001
    assert _rates(exchange)[("ETHUSDT", "maker")] == 0.0002


def test_without_a_symbol_table_the_config_builds_plain_fees() -> None:
    config = RunConfig.from_dict(
        {"strategy": {"class": "m:S"}, "exchange": {"fees": {"maker": 0.0}}}
    )
    exchange = config.make_exchange([BTC])
    assert isinstance(exchange, ss.SimExchange) and exchange.fees == ss.Fees(0.0, 0.0005)


def test_a_fee_row_for_a_symbol_not_in_the_run_is_a_config_error_naming_the_key() -> None:
    config = RunConfig.from_toml(TOML.replace("symbols.BTCUSDT", "symbols.BTCUSD"))
    with pytest.raises(
        ss.ConfigError, match=r"exchange\.fees\.symbols\.BTCUSD: no such instrument"
    ):
        config.make_exchange([BTC, ETH])


@pytest.mark.parametrize(
    ("row", "key"),
    [({"maker": -1.5, "taker": 0.0}, "maker"), ({"maker": 0.0, "taker": -0.1}, "taker")],
)
def test_a_bad_per_symbol_rate_is_a_config_error_naming_the_key(
    row: dict[str, float], key: str
) -> None:
    data = {"strategy": {"class": "m:S"}, "exchange": {"fees": {"symbols": {"BTCUSDT": row}}}}
    with pytest.raises(ss.ConfigError, match=rf"exchange\.fees\.symbols\.BTCUSDT\.{key}"):
        RunConfig.from_dict(data)


def test_a_per_symbol_fee_row_needs_both_rates() -> None:
    data = {
        "strategy": {"class": "m:S"},
        "exchange": {"fees": {"symbols": {"BTCUSDT": {"maker": 0.0}}}},
    }
    with pytest.raises(ss.ConfigError, match="taker"):
        RunConfig.from_dict(data)


# -- reject codes -----------------------------------------------------------------------------

CHECKS = ROOT / "streamsim" / "order_checks.py"


def _venue_codes(path: Path) -> list[tuple[int, int]]:
    """(line, code) of every literal that looks like a reject code (an int <= -1000)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.UnaryOp)
            and isinstance(node.op, ast.USub)
            and isinstance(node.operand, ast.Constant)
            and type(node.operand.value) is int
            and node.operand.value >= 1000
        ):
            found.append((node.lineno, -node.operand.value))
    return found


#: The Binance wire codec's error table: it may write the protocol's own codes (transport,
#: auth, clock), never one the simulator emits (it takes those from order_checks).
WIRE_ERRORS = ROOT / "adapters" / "binance" / "wire" / "errors.py"


def test_no_module_but_order_checks_writes_a_reject_code() -> None:
    sources = [*(ROOT / "streamsim").rglob("*.py"), *(ROOT / "adapters").rglob("*.py")]
    stray = {
        f"{path.relative_to(ROOT)}:{line}": code
        for path in sources
        if path != CHECKS
        for line, code in _venue_codes(path)
        if not (path == WIRE_ERRORS and code not in ss.REJECT_CODES)
    }
    assert stray == {}
    assert {code for _, code in _venue_codes(CHECKS)} == set(ss.REJECT_CODES)


def _matches(code: int, reason: str) -> bool:
    templates = ss.REJECT_CODES.get(code, ())
    return any(
        re.fullmatch(re.escape(t).replace(r"\{\}", ".+"), reason) is not None for t in templates
    )


orders = st.builds(
    ss.Order,
    symbol=st.sampled_from(["BTCUSDT", "BTCUSDT", "ETHUSDT"]),
    side=st.sampled_from([ss.BUY, ss.SELL]),
    qty=st.integers(-2, 10**6),
    price=st.none() | st.integers(-1, 1010),
    type=st.sampled_from(list(OrderType)),
    tif=st.sampled_from(list(TimeInForce)),
    reduce_only=st.booleans(),
    stop_price=st.none() | st.integers(-1, 1010),
    client_id=st.sampled_from(["a", "b", "c", "bad id", "autoclose-1"]),
)


@given(
    actions=st.lists(
        st.tuples(st.sampled_from(["new", "new", "cancel", "amend"]), orders), max_size=12
    ),
    guarded=st.booleans(),
)
def test_every_reject_a_sim_exchange_sends_is_listed_with_its_message(
    actions: list[tuple[str, ss.Order]], guarded: bool
) -> None:
    guard = ss.GuardConfig(warmup_messages=5) if guarded else ss.GuardConfig()
    m = book_market(guard=guard, initial_balance=50.0)
    m.feed(trade(1001, 1, ss.BUY))
    for serial, (action, order) in enumerate(actions, 1):
        cid = order.client_id or "x"
        replaces = ("a", 1) if action == "amend" else ("", 0)
        request = OrderRequest(action, cid, order, 0, serial, *replaces)
        m.exchange.on_order(request)
    rejects = [u for u in m.venue.updates if u.status is OrderStatus.REJECTED]
    assert len(rejects) <= len(actions)
    for update in rejects:
        assert _matches(update.code, update.reason), (update.code, update.reason)
