"""One run config: every knob of a run, typed, validated strictly, serialisable.

A :class:`RunConfig` is what the CLI's TOML file *is*, what a run's ``manifest.json``
records, and what the Python API takes (:func:`run_config`, or the builders such as
:meth:`RunConfig.backtest_options`). Durations are int ns or a string with a unit
(``"20ms"``, ``"1.5s"``); times are int ns, an ISO-8601 string or a TOML datetime. Both
are stored as int ns, so :meth:`RunConfig.to_dict` is canonical and round-trips. Any
unknown key, wrong type or bad value is a :class:`~streamsim.errors.ConfigError` naming
the dotted key and what is allowed. Building data sources from ``[data]`` is the
adapters' job (the core never imports them).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import re
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal, Union

import msgspec
import orjson
import tomli_w

from .book import REBUILD_WINDOW, BookPolicy
from .errors import ConfigError
from .feed import plausibility
from .feed.feed_models import CausalQuantile, FeedModel, open_interest_preset
from .feed.feed_models import Constant as ConstantFeed
from .feed.feed_models import Recorded as RecordedFeed
from .feed.feed_models import fixed as fixed_feed
from .feed.merge import feed_key_error
from .feed.sources import Source
from .instruments import ContractKind, Instrument
from .path_parts import check_path_part
from .results.metrics import Trials
from .run.clock import PacedClock
from .run.engine import RunResult, run_backtest
from .run.live import run_paper_live
from .run.watchdog import DEFAULT_CALLBACK_TIMEOUT
from .sim.exchange import Exchange, NullExchange
from .sim.fees import FeeModel, Fees, FeeTable
from .sim.guard import GuardConfig
from .sim.latency import ConstantLatency, LognormalLatency, OrderLatency, RecordedLatency
from .sim.latency_file import read_latency_file
from .sim.matching import SimExchange
from .sim.portfolio import BracketTable, MarginBracket
from .sim.queue_models import Conservative, LogQueue, PowerQueue, QueueModel
from .strategy import Strategy
from .units import DURATION_UNITS, MS, SECOND, parse_duration, utc_ns


class Nanos(int):
    """A duration in ns; read from int ns or a string with a unit (``"20ms"``)."""


class Time(int):
    """A time in ns since the epoch, UTC; read from int ns, ISO-8601 or a TOML datetime."""


class Seed(int):
    """A random seed: an integer in ``0 .. 2**64 - 1`` (an unsigned 64-bit word)."""


#: Every int a config holds fits a signed 64-bit word (NumPy's int64), seeds an unsigned one.
_INT64 = (-(2**63), 2**63 - 1)
_SEED = (0, 2**64 - 1)
#: The most rows a rolling feed-model window may span (each batch pads by the window).
MAX_WINDOW = 1_000_000


def _dec_hook(kind: type, value: Any) -> Any:
    if kind is Nanos:
        if isinstance(value, int) and not isinstance(value, bool):
            return Nanos(value)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return Nanos(parse_duration(value))
        raise ValueError(
            f"expected a duration: int ns or a number with a unit ({', '.join(DURATION_UNITS)}), "
            f"e.g. 20ms; got {value!r}"
        )
    if kind is Time:
        if isinstance(value, int) and not isinstance(value, bool):
            return Time(value)
        if isinstance(value, datetime):
            return Time(utc_ns(value))
        if isinstance(value, date):
            raise ValueError(f"a date is not a time: write {value.isoformat()}T00:00:00Z")
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                pass
            else:
                return Time(utc_ns(parsed))
        raise ValueError(f"expected a time: int ns, ISO-8601 or a TOML datetime; got {value!r}")
    if kind is Seed:
        if isinstance(value, int) and not isinstance(value, bool):
            return Seed(value)
        raise ValueError(f"expected an integer seed in 0..2**64-1, got {value!r}")
    raise NotImplementedError


#: A value rule of one table: (holds, key in the table, what the key allows, its value).
Rule = tuple[bool, str, str, Any]


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A table of the config: unknown keys are errors."""

    def rules(self) -> list[Rule]:
        """The table's value rules beyond its types (checked by :func:`check_values`)."""
        return []


class _Model(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="model"):
    """A model chosen by name (its ``model`` key) with that model's parameters."""

    def rules(self) -> list[Rule]:
        """The model's value rules beyond its types (checked by :func:`check_values`)."""
        return []


# -- [data] --------------------------------------------------------------------------------

#: The data adapters the CLI knows (``adapters/``); the core only names them.
Adapter = Literal["sample", "cryptohftdata", "store", "tardis", "capture"]
Kind = Literal["depth", "trades", "mark_price", "open_interest", "ticker", "liquidations"]


class PlausibilityConfig(_Section, frozen=True):
    """Value rules beyond type and sign (:class:`~streamsim.feed.plausibility.Limits`);
    ``0`` (or ``[]`` for ``time_range``) turns a rule off."""

    time_range: list[Time] = msgspec.field(
        default_factory=lambda: [Time(plausibility.TIME_LOW), Time(plausibility.TIME_HIGH)]
    )
    max_clock_offset: Nanos = Nanos(plausibility.MAX_CLOCK_OFFSET)
    max_price_jump: float = plausibility.MAX_PRICE_JUMP
    max_level_ratio: float = 0.0
    funding_cap: float = plausibility.FUNDING_CAP
    date_slack: Nanos = Nanos(plausibility.DATE_SLACK)
    mark_mid_deviation: float = plausibility.MARK_MID_DEVIATION

    def rules(self) -> list[Rule]:
        span = self.time_range
        return [
            (
                not span or (len(span) == 2 and span[0] < span[1]),
                "time_range",
                "[] or two times [low, high] with low < high",
                span,
            ),
            (
                self.max_price_jump >= 0,
                "max_price_jump",
                "a number > 0, or 0 (off)",
                self.max_price_jump,
            ),
            (
                self.max_level_ratio == 0 or self.max_level_ratio > 1,
                "max_level_ratio",
                "a number > 1, or 0 (off)",
                self.max_level_ratio,
            ),
            (self.funding_cap >= 0, "funding_cap", "a number > 0, or 0 (off)", self.funding_cap),
            (
                self.mark_mid_deviation >= 0,
                "mark_mid_deviation",
                "a number > 0, or 0 (off)",
                self.mark_mid_deviation,
            ),
        ]

    def limits(self) -> plausibility.Limits:
        """These rules as :class:`~streamsim.feed.plausibility.Limits`."""
        span = self.time_range
        return plausibility.Limits(
            time_range=(int(span[0]), int(span[1])) if span else None,
            max_clock_offset=int(self.max_clock_offset) or None,
            max_price_jump=self.max_price_jump or None,
            max_level_ratio=self.max_level_ratio or None,
            funding_cap=self.funding_cap or None,
            date_slack=int(self.date_slack) if self.date_slack else None,
            mark_mid_deviation=self.mark_mid_deviation or None,
        )


class InstrumentConfig(_Section, frozen=True):
    """An instrument's grid and contract, for adapters whose data does not carry one
    (Tardis CSV; a capture's inferred grid can be overridden): decimal strings."""

    tick_size: str
    lot_size: str
    min_notional: str = "0"
    contract_size: str = "1"
    kind: Literal["linear", "inverse"] = "linear"
    quote: str = "USDT"
    margin_asset: str = ""

    def rules(self) -> list[Rule]:
        return [
            (_positive_decimal(self.tick_size), "tick_size", "a decimal > 0", self.tick_size),
            (_positive_decimal(self.lot_size), "lot_size", "a decimal > 0", self.lot_size),
            (
                _positive_decimal(self.contract_size),
                "contract_size",
                "a decimal > 0",
                self.contract_size,
            ),
            (
                _positive_decimal(self.min_notional, zero=True),
                "min_notional",
                "a decimal >= 0",
                self.min_notional,
            ),
        ]

    def build(self, symbol: str) -> Instrument:
        """The :class:`~streamsim.instruments.Instrument` ``symbol`` of this table."""
        return Instrument(
            symbol,
            Decimal(self.tick_size),
            Decimal(self.lot_size),
            Decimal(self.min_notional),
            Decimal(self.contract_size),
            ContractKind(self.kind),
            self.quote,
            self.margin_asset,
        )


def _positive_decimal(text: str, zero: bool = False) -> bool:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return False
    return value.is_finite() and (value > 0 or (zero and value == 0))


class DataConfig(_Section, frozen=True):
    """Where the market data comes from; the adapters build the sources from it.

    ``policy`` is what a bad row does: ``"fail"`` stops the run naming file, row and
    column; ``"quarantine"`` skips it, writes it to the ``quarantine`` JSONL file (by
    default ``quarantine.jsonl`` beside the run's artifacts directory) and counts it in the
    run's report. ``plausibility`` holds the value rules.
    """

    adapter: Adapter = "sample"
    root: str | None = None
    exchange: str = "binance_futures"
    symbols: list[str] | None = None
    kinds: list[Kind] | None = None
    start: Time | None = None
    end: Time | None = None
    policy: Literal["fail", "quarantine"] = "fail"
    quarantine: str | None = None
    #: ``cryptohftdata``: a file the window needs that is absent fails the run, or is
    #: skipped and listed in the run's notes.
    missing: Literal["fail", "skip"] = "fail"
    plausibility: PlausibilityConfig = msgspec.field(default_factory=PlausibilityConfig)
    #: ``cryptohftdata`` with an ``s3://bucket/prefix`` root: an S3-compatible server.
    endpoint_url: str | None = None
    #: ``capture``: the recording's files, in order; ``tardis``: files of one data type.
    files: list[str] | None = None
    #: ``tardis``: the data types (``incremental_book_L2``, ``trades``, ...).
    data_types: list[str] | None = None
    #: ``capture``: depth levels off the grid: dropped if few, else bad input (``"auto"``,
    #: the default), always bad input (``"raise"``) or always dropped (``"drop"``).
    off_grid: Literal["auto", "raise", "drop"] | None = None
    #: Per symbol: the grid and contract (required by ``tardis`` for depth and trades).
    instruments: dict[str, InstrumentConfig] | None = None


# -- [feed] --------------------------------------------------------------------------------


class RecordedModel(_Model, frozen=True, tag="recorded", kw_only=True):
    base_latency: Nanos = Nanos(1 * MS)
    window: int = 10_000
    correct_offset: bool = True

    def rules(self) -> list[Rule]:
        return [
            (self.base_latency > 0, "base_latency", "a duration > 0", self.base_latency),
            _window_rule(self.window),
        ]

    def build(self) -> FeedModel:
        return RecordedFeed(self.base_latency, self.window, self.correct_offset)


class ConstantModel(_Model, frozen=True, tag="constant", kw_only=True):
    delay: Nanos = Nanos(0)
    not_before_recv: bool = False

    def build(self) -> FeedModel:
        return ConstantFeed(self.delay, self.not_before_recv)


class FixedModel(_Model, frozen=True, tag="fixed", kw_only=True):
    delay: Nanos = Nanos(0)
    not_before_recv: bool = False

    def build(self) -> FeedModel:
        return fixed_feed(self.delay, self.not_before_recv)


class CausalQuantileModel(_Model, frozen=True, tag="causal_quantile", kw_only=True):
    q: float = 0.5
    window: int = 100
    min_delay: Nanos = Nanos(0)
    max_delay: Nanos = Nanos(300 * SECOND)
    not_before_recv: bool = False

    def rules(self) -> list[Rule]:
        return [
            (0 <= self.q <= 1, "q", "a quantile in [0, 1]", self.q),
            _window_rule(self.window),
            (
                self.min_delay <= self.max_delay,
                "max_delay",
                f"a duration >= min_delay ({self.min_delay} ns)",
                self.max_delay,
            ),
        ]

    def build(self) -> FeedModel:
        return CausalQuantile(
            self.q, self.window, self.min_delay, self.max_delay, self.not_before_recv
        )


class OpenInterestPresetModel(_Model, frozen=True, tag="open_interest_preset", kw_only=True):
    def build(self) -> FeedModel:
        return open_interest_preset()


FeedModelConfig = (
    RecordedModel | ConstantModel | FixedModel | CausalQuantileModel | OpenInterestPresetModel
)

# -- [latency] -----------------------------------------------------------------------------


class ConstantLatencyModel(_Model, frozen=True, tag="constant", kw_only=True):
    entry: Nanos = Nanos(0)
    response: Nanos | None = None

    def build(self) -> OrderLatency:
        return ConstantLatency(self.entry, self.response)


class LognormalLatencyModel(_Model, frozen=True, tag="lognormal", kw_only=True):
    entry_median: Nanos = Nanos(20 * MS)
    response_median: Nanos | None = None
    sigma: float = 0.5
    floor: Nanos = Nanos(0)
    seed: Seed = Seed(0)

    def rules(self) -> list[Rule]:
        response = self.response_median
        return [
            (self.entry_median > 0, "entry_median", "a duration > 0", self.entry_median),
            (response is None or response > 0, "response_median", "a duration > 0", response),
            (self.sigma >= 0, "sigma", "a number >= 0", self.sigma),
        ]

    def build(self) -> OrderLatency:
        return LognormalLatency(
            self.entry_median, self.response_median, self.sigma, self.floor, self.seed
        )


class RecordedLatencyModel(_Model, frozen=True, tag="recorded", kw_only=True):
    """A recorded latency series: inline (``times``, ``entry``, ``response``) or read from
    ``file`` (CSV or Parquet, see :func:`~streamsim.sim.latency_file.read_latency_file`)."""

    times: list[Time] | None = None
    entry: list[Nanos] | None = None
    response: list[Nanos] | None = None
    file: str | None = None

    def rules(self) -> list[Rule]:
        if self.file is not None:
            inline = self.times is None and self.entry is None and self.response is None
            return [(inline, "file", "a file or inline times/entry, not both", self.file)]
        times = self.times or []
        n = len(times)
        return [
            (n > 0, "times", "a non-empty list of times (or a file)", self.times),
            (
                all(a <= b for a, b in itertools.pairwise(times)),
                "times",
                "non-decreasing times",
                self.times,
            ),
            (
                self.entry is not None and len(self.entry) == n,
                "entry",
                f"{n} durations, one per time",
                self.entry,
            ),
            (
                self.response is None or len(self.response) == n,
                "response",
                f"{n} durations, one per time",
                self.response,
            ),
        ]

    def build(self) -> OrderLatency:
        if self.file is not None:
            return read_latency_file(self.file, "latency.file")
        return RecordedLatency(self.times or [], self.entry or [], self.response)


LatencyConfig = ConstantLatencyModel | LognormalLatencyModel | RecordedLatencyModel

# -- [exchange] ----------------------------------------------------------------------------


class ConservativeQueue(_Model, frozen=True, tag="conservative", kw_only=True):
    def build(self) -> QueueModel:
        return Conservative()


class PowerQueueModel(_Model, frozen=True, tag="power", kw_only=True):
    n: float = 2.0

    def rules(self) -> list[Rule]:
        return [(self.n > 0, "n", "a number > 0", self.n)]

    def build(self) -> QueueModel:
        return PowerQueue(self.n)


class LogQueueModel(_Model, frozen=True, tag="log", kw_only=True):
    def build(self) -> QueueModel:
        return LogQueue()


QueueConfig = ConservativeQueue | PowerQueueModel | LogQueueModel


def _fee_rules(maker: float, taker: float) -> list[Rule]:
    fraction = "a fraction of notional in {} (5 bps is 0.0005)"
    return [
        (-1 < maker < 1, "maker", fraction.format("(-1, 1)"), maker),
        (0 <= taker < 1, "taker", fraction.format("[0, 1)"), taker),
    ]


class SymbolFeesConfig(_Section, frozen=True):
    """One symbol's fee rates (both keys required)."""

    maker: float
    taker: float

    def rules(self) -> list[Rule]:
        return _fee_rules(self.maker, self.taker)


class FeesConfig(_Section, frozen=True):
    """Fee rates as fractions of notional (5 bps is 0.0005); a negative maker fee is a
    rebate. ``symbols``: per-symbol rates (``[exchange.fees.symbols.BTCUSDT]``) for the
    symbols listed; the others pay ``maker`` / ``taker``."""

    maker: float = Fees.maker
    taker: float = Fees.taker
    symbols: dict[str, SymbolFeesConfig] = msgspec.field(default_factory=dict)

    def rules(self) -> list[Rule]:
        return _fee_rules(self.maker, self.taker)

    def build(self, instruments: Sequence[Instrument]) -> FeeModel:
        """The fee model: :class:`Fees`, or a :class:`FeeTable` if symbols are listed."""
        default = Fees(self.maker, self.taker)
        if not self.symbols:
            return default
        known = {i.symbol for i in instruments}
        for symbol in self.symbols:
            if symbol not in known:
                raise ConfigError(
                    f"exchange.fees.symbols.{symbol}: no such instrument in the run; "
                    f"allowed: {', '.join(sorted(known))}"
                )
        table = {s: Fees(f.maker, f.taker) for s, f in self.symbols.items()}
        return FeeTable(default, table)


class GuardSection(_Section, frozen=True):
    """The book guard (:class:`~streamsim.sim.guard.GuardConfig`): on by default (it blocks
    matching on a gapped or crossed book); ``enabled = false`` turns it off."""

    enabled: bool = True
    max_spread_ticks: int | None = None
    max_spread_bps: float | None = None
    max_staleness: Nanos | None = None
    block_crossed: bool = True
    block_gap: bool = True
    warmup_messages: int = 0
    cooldown: Nanos = Nanos(0)

    def rules(self) -> list[Rule]:
        ticks, bps = self.max_spread_ticks, self.max_spread_bps
        return [
            (ticks is None or ticks >= 1, "max_spread_ticks", "an integer >= 1", ticks),
            (bps is None or bps > 0, "max_spread_bps", "a number > 0", bps),
            (self.warmup_messages >= 0, "warmup_messages", "an integer >= 0", self.warmup_messages),
        ]


class BracketConfig(_Section, frozen=True):
    notional_cap: float
    max_leverage: int
    maint_margin_rate: float
    maint_amount: float = 0.0

    def rules(self) -> list[Rule]:
        rate = self.maint_margin_rate
        return [
            (self.notional_cap > 0, "notional_cap", "a number > 0", self.notional_cap),
            (self.max_leverage >= 1, "max_leverage", "an integer >= 1", self.max_leverage),
            (0 <= rate < 1, "maint_margin_rate", "a rate in [0, 1)", rate),
            (self.maint_amount >= 0, "maint_amount", "a number >= 0", self.maint_amount),
        ]


class ExchangeConfig(_Section, frozen=True):
    """The venue: ``"simulated"`` (:class:`SimExchange`) or ``"null"`` (never fills)."""

    venue: Literal["simulated", "null"] = "simulated"
    fees: FeesConfig = msgspec.field(default_factory=FeesConfig)
    queue: QueueConfig = msgspec.field(default_factory=ConservativeQueue)
    participation: float = 1.0
    initial_balance: float = 10_000.0
    leverage: int | dict[str, int] = 20
    brackets: dict[str, list[BracketConfig]] = msgspec.field(default_factory=dict)
    guard: GuardSection = msgspec.field(default_factory=GuardSection)
    liquidation_fee_rate: float = 0.0125
    stop_trigger: Literal["last", "mark"] = "last"
    sequencing: Literal["futures", "spot", "none"] = "futures"
    trade_depletion: bool = True
    #: How symbols without a mark_price stream are marked; unset: the run fails at start.
    mark_fallback: Literal["mid", "last"] | None = None

    def rules(self) -> list[Rule]:
        leverage = self.leverage
        levels = leverage.values() if isinstance(leverage, dict) else [leverage]
        rules: list[Rule] = [
            (0 < self.participation <= 1, "participation", "in (0, 1]", self.participation),
            (self.initial_balance > 0, "initial_balance", "> 0", self.initial_balance),
            (
                all(level >= 1 for level in levels),
                "leverage",
                "an integer >= 1 (or a table of them by symbol)",
                leverage,
            ),
            (
                0 <= self.liquidation_fee_rate < 1,
                "liquidation_fee_rate",
                "a rate in [0, 1)",
                self.liquidation_fee_rate,
            ),
        ]
        for symbol, rows in self.brackets.items():
            caps = [row.notional_cap for row in rows]
            increasing = all(a < b for a, b in itertools.pairwise(caps))
            allowed = "a non-empty list of brackets with strictly increasing notional_cap"
            rules.append((bool(rows) and increasing, f"brackets.{symbol}", allowed, caps))
        return rules


# -- [strategy], [run], [output] -----------------------------------------------------------


class StrategyConfig(_Section, frozen=True):
    """``class`` is ``"module:Class"`` or ``"path/to/file.py:Class"``; ``params`` its
    keyword arguments."""

    cls: str = msgspec.field(name="class")
    params: dict[str, Any] = msgspec.field(default_factory=dict)


Mode = Literal["backtest", "paper-replay", "paper-live"]


class RunSection(_Section, frozen=True):
    """How the run goes: the world (``mode``), its clock speed, its end and its checks."""

    mode: Mode = "backtest"
    speed: float = 1.0
    seed: Seed | None = None
    end: Time | None = None
    linger: Nanos = Nanos(60 * SECOND)
    out_of_order: Literal["fail", "clamp"] = "fail"
    prefetch: int = 4
    sequencing: Literal["futures", "spot", "none"] = "futures"
    resync: Literal["rebuild", "snapshot"] = "rebuild"
    rebuild_window: Nanos = Nanos(REBUILD_WINDOW)
    crossed_book: Literal["fail", "resync", "keep"] | None = None

    def book_policy(self, data_policy: str = "fail") -> BookPolicy:
        """What every book of the run (exchange and strategy side) does when it breaks; a
        crossed book follows ``crossed_book``, else the data policy (``"fail"`` fails,
        ``"quarantine"`` resyncs)."""
        crossed = self.crossed_book or ("fail" if data_policy == "fail" else "resync")
        return BookPolicy(self.resync, int(self.rebuild_window), crossed)

    #: The watchdog's budget: wall seconds a callback may run without awaiting (0: off).
    callback_timeout: float = DEFAULT_CALLBACK_TIMEOUT

    def rules(self) -> list[Rule]:
        return [
            (self.speed > 0, "speed", "a number > 0", self.speed),
            (self.prefetch >= 1, "prefetch", "an integer >= 1", self.prefetch),
            (
                self.callback_timeout >= 0,
                "callback_timeout",
                "wall-clock seconds >= 0 (0 disables the watchdog)",
                self.callback_timeout,
            ),
        ]


class OutputConfig(_Section, frozen=True):
    dir: str | None = None
    report: bool = True

    def rules(self) -> list[Rule]:
        empty = self.dir is not None and not self.dir.strip()
        return [(not empty, "dir", "a directory path (not empty)", self.dir)]


class MetricsConfig(_Section, frozen=True):
    """What the metrics take from outside the run: the trials its DSR deflates for."""

    trials: int = 1
    trial_sharpe_variance: float = 0.0

    def rules(self) -> list[Rule]:
        many = self.trials == 1 or self.trial_sharpe_variance > 0
        return [
            (self.trials >= 1, "trials", "an integer >= 1", self.trials),
            (
                self.trial_sharpe_variance >= 0,
                "trial_sharpe_variance",
                "a number >= 0",
                self.trial_sharpe_variance,
            ),
            (
                many,
                "trial_sharpe_variance",
                f"the variance (> 0) of the {self.trials} trials' annualised Sharpe ratios, "
                "or the DSR would deflate nothing",
                self.trial_sharpe_variance,
            ),
        ]

    def build(self) -> Trials:
        return Trials(self.trials, self.trial_sharpe_variance)


class RunConfig(_Section, frozen=True):
    """A whole run (see the module docstring and ``docs/config.md``)."""

    strategy: StrategyConfig
    data: DataConfig = msgspec.field(default_factory=DataConfig)
    feed: dict[str, FeedModelConfig] = msgspec.field(default_factory=dict)
    latency: LatencyConfig = msgspec.field(default_factory=ConstantLatencyModel)
    exchange: ExchangeConfig = msgspec.field(default_factory=ExchangeConfig)
    run: RunSection = msgspec.field(default_factory=RunSection)
    output: OutputConfig = msgspec.field(default_factory=OutputConfig)
    metrics: MetricsConfig = msgspec.field(default_factory=MetricsConfig)

    def __post_init__(self) -> None:
        check_values(self)
        check_path_part(self.data.exchange, "data.exchange")
        for i, symbol in enumerate(self.data.symbols or ()):
            check_path_part(symbol, f"data.symbols[{i}]")
        _refuse_null(self.strategy.params, "strategy.params")
        for key in self.feed:
            problem = feed_key_error(key)
            if problem is not None:
                raise ConfigError(f"feed.{key if _BARE.match(key) else repr(key)}: {problem}")

    def rules(self) -> list[Rule]:
        start, end = self.data.start, self.data.end
        after = end is None or start is None or end > start
        return [(after, "data.end", f"a time after data.start ({start})", end)]

    # -- reading and writing ---------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        """Validate ``data`` (as TOML or JSON gives it) into a config."""
        try:
            return msgspec.convert(dict(data), cls, dec_hook=_dec_hook, strict=True)
        except msgspec.ValidationError as error:
            raise _config_error(str(error), data) from None

    @classmethod
    def from_toml(cls, text: str) -> RunConfig:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"invalid TOML: {error}") from None
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON and TOML ready); unset optional keys are left out."""
        data: dict[str, Any] = _drop_none(msgspec.to_builtins(self, enc_hook=int))
        return data

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())

    def with_overrides(self, overrides: Sequence[str]) -> RunConfig:
        """A copy with ``section.key=value`` overrides applied (the value is read as TOML:
        a number, string, boolean, datetime, array or inline table; else a bare string)."""
        data = self.to_dict()
        apply_overrides(data, overrides)
        return RunConfig.from_dict(data)

    # -- building the run ------------------------------------------------------------------

    def feed_config(self) -> dict[str, FeedModel] | None:
        """``backtest(feed=...)``: a model per stream name, kind or ``"*"``."""
        return {key: model.build() for key, model in self.feed.items()} or None

    def latency_model(self) -> OrderLatency:
        return self.latency.build()

    def make_exchange(self, instruments: Sequence[Instrument]) -> Exchange:
        """The venue of the run over ``instruments``."""
        venue = self.exchange
        if venue.venue == "null":
            return NullExchange()
        settings = msgspec.to_builtins(venue.guard, enc_hook=int)
        guard = GuardConfig(**settings) if settings.pop("enabled") else None
        return SimExchange(
            instruments,
            fees=venue.fees.build(instruments),
            queue=venue.queue.build(),
            participation=venue.participation,
            initial_balance=venue.initial_balance,
            leverage=venue.leverage,
            brackets={
                symbol: BracketTable(
                    tuple(
                        MarginBracket(
                            b.notional_cap, b.max_leverage, b.maint_margin_rate, b.maint_amount
                        )
                        for b in rows
                    )
                )
                for symbol, rows in venue.brackets.items()
            },
            guard=guard,
            liquidation_fee_rate=venue.liquidation_fee_rate,
            stop_trigger=venue.stop_trigger,
            sequencing=_sequencing(venue.sequencing),
            book_policy=self.run.book_policy(self.data.policy),
            plausibility=self.data.plausibility.limits(),
            trade_depletion=venue.trade_depletion,
            mark_fallback=venue.mark_fallback,
        )

    def run_options(self, instruments: Sequence[Instrument]) -> dict[str, Any]:
        """Keyword options for :func:`~streamsim.backtest` (backtest, paper replay) or
        :func:`~streamsim.paper_live` (paper live), as ``run.mode`` says."""
        run = self.run
        options: dict[str, Any] = {
            "feed": self.feed_config(),
            "latency": self.latency_model(),
            "exchange": self.make_exchange(instruments),
            "end": _run_end(run.end, self.data.end),
            "linger": int(run.linger),
            "out_of_order": run.out_of_order,
            "sequencing": _sequencing(run.sequencing),
            "book_policy": run.book_policy(self.data.policy),
            "callback_timeout": run.callback_timeout,
            "trials": self.metrics.build(),
        }
        if run.mode == "paper-live":
            options["speed"] = run.speed
        else:
            options["prefetch"] = run.prefetch
            options["clock"] = PacedClock(run.speed) if run.mode == "paper-replay" else None
        return options


def _run_end(run_end: int | None, data_end: int | None) -> int | None:
    """The run ends at ``run.end`` or ``data.end``, whichever comes first: past the end of
    the data, timers would act on a book that no longer moves."""
    ends = [int(t) for t in (run_end, data_end) if t is not None]
    return min(ends) if ends else None


def _window_rule(window: int) -> Rule:
    return (1 <= window <= MAX_WINDOW, "window", f"rows in 1..{MAX_WINDOW:,}", window)


def check_values(value: Any, where: str = "") -> None:
    """Check every value below ``value`` (a config table), naming the dotted key of the
    first bad one in a :class:`~streamsim.errors.ConfigError`.

    The same rules hold everywhere: a float is finite (no NaN or infinity), an int fits
    64 bits (int64; a :class:`Seed` is in ``0 .. 2**64 - 1``), a duration is >= 0; then
    each table's own :meth:`rules`, once its values passed.
    """
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"{where}: expected a finite number, got {value!r}")
    elif isinstance(value, int):
        low, high = _SEED if isinstance(value, Seed) else _INT64
        if not low <= value <= high:
            kind = "a seed in 0..2**64-1" if isinstance(value, Seed) else "an int64 (|n| < 2**63)"
            raise ConfigError(f"{where}: expected {kind}, got {value}")
        if isinstance(value, Nanos) and value < 0:
            raise ConfigError(f"{where}: expected a duration >= 0, got {value} ns")
    elif isinstance(value, msgspec.Struct):
        for field in msgspec.structs.fields(value):
            check_values(getattr(value, field.name), _join(where, field.encode_name))
        rules: list[Rule] = value.rules() if isinstance(value, _Section | _Model) else []
        for ok, key, allowed, got in rules:
            if not ok:
                raise ConfigError(f"{_join(where, key)}: expected {allowed}, got {got!r}")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_values(item, _join(where, key if _BARE.match(str(key)) else f'"{key}"'))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_values(item, f"{where}[{index}]")


_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _refuse_null(value: Any, where: str) -> None:
    """``None`` anywhere in ``value`` is a ConfigError: TOML cannot write it, so a config
    holding one would not survive its own manifest."""
    if value is None:
        raise ConfigError(f"{where}: TOML has no null; omit the key to use the default")
    if isinstance(value, dict):
        for key, item in value.items():
            _refuse_null(item, _join(where, key if _BARE.match(str(key)) else f'"{key}"'))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _refuse_null(item, f"{where}[{index}]")


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _sequencing(value: str) -> Any:
    return None if value == "none" else value


def run_config(
    config: RunConfig,
    sources: Sequence[Source],
    strategies: Strategy | Sequence[Strategy],
    instruments: Sequence[Instrument],
) -> RunResult:
    """Run ``strategies`` over ``sources`` as ``config`` says (its ``run.mode`` picks
    :func:`~streamsim.run_backtest` or :func:`~streamsim.run_paper_live`). The result
    carries ``config`` (``result.config``), so its artifacts' manifest records it."""
    options = config.run_options(instruments)
    if config.run.mode == "paper-live":
        result = run_paper_live(sources, strategies, **options)
    else:
        result = run_backtest(sources, strategies, **options)
    result.config = config
    return result


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> RunConfig:
    """A config from a TOML file, or from a run's ``manifest.json`` (its ``config``)."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"config {path} is a directory, not a TOML file or manifest.json")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except OSError as error:
        raise ConfigError(f"config {path} cannot be read: {error.strerror or error}") from None
    if path.suffix == ".json":
        try:
            manifest = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            raise ConfigError(f"{path}: invalid JSON: {error}") from None
        if not isinstance(manifest, dict) or not isinstance(manifest.get("config"), dict):
            raise ConfigError(f"{path}: not a run manifest (no 'config' table)")
        config = RunConfig.from_dict(manifest["config"])
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ConfigError(
                f"{path}: not a TOML file (not UTF-8 text at byte {error.start})"
            ) from None
        try:
            config = RunConfig.from_toml(text)
        except ConfigError as error:
            raise ConfigError(f"{path}: {error}") from None
    return config.with_overrides(overrides) if overrides else config


def parse_override(text: str) -> tuple[list[str], Any]:
    """``section.key=value`` (or ``section={inline table}``) -> (path, value); the value
    is TOML, else a bare string."""
    key, sep, raw = text.partition("=")
    path = [part.strip() for part in key.split(".")]
    if not sep or not all(path):
        raise ConfigError(
            f"--set expects section.key=value or section={{inline table}}, got {text!r}"
        )
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()  # a bare word such as paper-replay
    if len(path) == 1 and not isinstance(value, dict):
        raise ConfigError(
            f"--set {text}: a whole section takes an inline table, such as "
            f'{path[0]}={{model="lognormal"}}; one key is set with {path[0]}.KEY=VALUE'
        )
    return path, value


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> None:
    """Apply ``section.key=value`` overrides to plain config data, in place.

    A table value is merged into the table it replaces, key by key. Choosing another
    ``model`` for a model table (``latency.model=lognormal``) resets that table to the new
    model's defaults, so the old model's keys do not linger; the table's other overrides
    still apply, in whatever order they are given (model choices are applied first).
    """
    parsed = [(text, *parse_override(text)) for text in overrides]
    first = [item for item in parsed if _chooses_model(item[1], item[2])]
    rest = [item for item in parsed if not _chooses_model(item[1], item[2])]
    for text, path, value in first + rest:
        node = data
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {text}: {part} is not a table")
            node = child
        if path[-1] == "model" and node.get("model", value) != value:
            node.clear()
        _merge(node, path[-1], value)


def _chooses_model(path: list[str], value: Any) -> bool:
    return path[-1] == "model" or (isinstance(value, dict) and "model" in value)


def _merge(node: dict[str, Any], key: str, value: Any) -> None:
    """``node[key] = value``, a table merged into an existing table (reset when its
    ``model`` changes)."""
    old = node.get(key)
    if not isinstance(value, dict) or not isinstance(old, dict):
        node[key] = value
        return
    if old.get("model", value.get("model")) != value.get("model", old.get("model")):
        old.clear()
    for child_key, child in value.items():
        _merge(old, child_key, child)


# -- errors --------------------------------------------------------------------------------

_PATH = re.compile(r" - at `\$(.*)`$")


def _config_error(message: str, data: Mapping[str, Any]) -> ConfigError:
    """msgspec's ``... - at `$.a.b``` as ``a.b: ...``, with what the key allows."""
    match = _PATH.search(message)
    parts = re.findall(r"\.(\w+)|\[([^\]]*)\]", match.group(1)) if match else []
    keys = _name_dict_keys([name or f"[{index}]" for name, index in parts], data)
    text = message[: match.start()] if match else message
    text = text.replace("`", "")
    where = _dotted(keys)
    unknown = re.match(r"Object contains unknown field (\w+)", text)
    if unknown:
        key = f"{where}.{unknown.group(1)}" if where else unknown.group(1)
        kind = _type_at(keys, data)
        allowed = _field_names(kind) if kind is not None else []
        if not where:
            return ConfigError(f"unknown section [{key}]; allowed sections: {', '.join(allowed)}")
        return ConfigError(f"unknown key {key}; allowed keys in [{where}]: {', '.join(allowed)}")
    if keys and keys[-1] == "model":
        models = _model_names(_type_at(keys[:-1], data, union=True))
        if models:
            return ConfigError(f"{where}: {text.lower()}; allowed models: {', '.join(models)}")
    if text.startswith("Object missing required field"):
        field = text.rsplit(" ", 1)[-1]
        return ConfigError(f"{where + '.' if where else ''}{field}: required key missing")
    if text.startswith("Invalid enum value"):
        allowed = _literal_values(_type_at(keys, data, literal=True))
        return ConfigError(f"{where}: {text.lower()}; allowed: {', '.join(allowed)}")
    return ConfigError(f"{where or 'config'}: {text[0].lower()}{text[1:]}")


class _DictKey(str):
    """A key of a table of the user's naming (``feed."*"``, ``exchange.leverage.BTCUSDT``)."""

    __slots__ = ()


def _name_dict_keys(keys: list[str], data: Mapping[str, Any]) -> list[str]:
    """``keys`` with each ``[...]`` (a table key msgspec does not name) replaced by the
    key whose value fails to convert (:class:`_DictKey`)."""
    named: list[str] = []
    node: Any = data
    for key in keys:
        if key == "[...]" and isinstance(node, dict):
            kinds = [m for m in _unwrap(_type_at(named, data, union=True)) if _is_dict(m)]
            value_type = typing.get_args(kinds[0])[1] if kinds else None
            bad = next((k for k, v in node.items() if not _converts(v, value_type)), None)
            if bad is not None:
                named.append(_DictKey(bad))
                node = node[bad]
                continue
        named.append(key)
        node = _child(node, key)
    return named


def _converts(value: Any, kind: Any) -> bool:
    if kind is None:
        return True
    try:
        msgspec.convert(value, kind, dec_hook=_dec_hook, strict=True)
    except (msgspec.ValidationError, ConfigError):
        return False
    return True


def _child(node: Any, key: str) -> Any:
    """The data below ``node`` at ``key`` (a field, a table key or ``[index]``), or None."""
    if isinstance(key, _DictKey) or not key.startswith("["):
        return node.get(key) if isinstance(node, dict) else None
    if isinstance(node, list) and key[1:-1].isdigit() and int(key[1:-1]) < len(node):
        return node[int(key[1:-1])]
    return None


def _dotted(keys: list[str]) -> str:
    """``["exchange", "brackets", _DictKey("BTCUSDT"), "[0]"]`` as
    ``exchange.brackets.BTCUSDT[0]`` (a key that is no bare TOML key is quoted)."""
    text = ""
    for key in keys:
        if isinstance(key, _DictKey):
            text = _join(text, key if _BARE.match(key) else f'"{key}"')
        elif key.startswith("["):
            text += key
        else:
            text = _join(text, key)
    return text


def _is_dict(kind: Any) -> bool:
    return typing.get_origin(kind) is dict


def _unwrap(kind: Any) -> list[Any]:
    """The members of a union (or the type itself), without ``None``."""
    if typing.get_origin(kind) in (Union, types.UnionType):
        return [k for k in typing.get_args(kind) if k is not type(None)]
    return [kind]


def _type_at(keys: list[str], data: Any, union: bool = False, literal: bool = False) -> Any:
    """The config type at ``keys`` (tagged unions resolved by the data's ``model``)."""
    kind: Any = RunConfig
    node = data
    for key in keys:
        members = _unwrap(kind)
        structs = [m for m in members if isinstance(m, type) and issubclass(m, msgspec.Struct)]
        dicts = [m for m in members if typing.get_origin(m) is dict]
        lists = [m for m in members if typing.get_origin(m) is list]
        if key.startswith("[") and lists and not isinstance(key, _DictKey):
            kind, node = typing.get_args(lists[0])[0], _child(node, key)
            continue
        if (key.startswith("[") or isinstance(key, _DictKey)) and dicts:
            kind, node = typing.get_args(dicts[0])[1], _child(node, key)
            continue
        struct = _pick(structs, node)
        if struct is None:
            return None
        field = next((f for f in msgspec.structs.fields(struct) if f.encode_name == key), None)
        if field is None:
            return None
        kind = field.type
        node = node.get(key) if isinstance(node, dict) else None
    if union or literal:
        return kind
    structs = [m for m in _unwrap(kind) if isinstance(m, type) and issubclass(m, msgspec.Struct)]
    return _pick(structs, node)


def _pick(structs: list[type], node: Any) -> type | None:
    if len(structs) <= 1:
        return structs[0] if structs else None
    tag = node.get("model") if isinstance(node, dict) else None
    return next((s for s in structs if _tag(s) == tag), structs[0])


def _tag(kind: Any) -> Any:
    return kind.__struct_config__.tag


def _field_names(kind: type) -> list[str]:
    return [f.encode_name for f in msgspec.structs.fields(kind)]


def _model_names(kind: Any) -> list[str]:
    if typing.get_origin(kind) is dict:
        kind = typing.get_args(kind)[1]
    return [str(_tag(m)) for m in _unwrap(kind) if hasattr(m, "__struct_config__")]


def _literal_values(kind: Any) -> list[str]:
    values = [a for m in _unwrap(kind) if typing.get_origin(m) is Literal for a in m.__args__]
    return [repr(v) for v in values]


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value
