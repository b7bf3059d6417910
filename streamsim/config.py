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

import math
import re
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Union

import msgspec
import orjson
import tomli_w

from .errors import ConfigError
from .feed.feed_models import CausalQuantile, FeedModel, open_interest_preset
from .feed.feed_models import Constant as ConstantFeed
from .feed.feed_models import Recorded as RecordedFeed
from .feed.feed_models import fixed as fixed_feed
from .feed.sources import Source
from .instruments import Instrument
from .run.clock import PacedClock
from .run.engine import RunResult, run_backtest
from .run.live import run_paper_live
from .run.watchdog import DEFAULT_CALLBACK_TIMEOUT
from .sim.exchange import Exchange, NullExchange
from .sim.guard import GuardConfig
from .sim.latency import ConstantLatency, LognormalLatency, OrderLatency, RecordedLatency
from .sim.matching import Fees, SimExchange
from .sim.portfolio import BracketTable, MarginBracket
from .sim.queue_models import Conservative, LogQueue, PowerQueue, QueueModel
from .strategy import Strategy
from .units import HOUR, MINUTE, MS, NS, SECOND, US


class Nanos(int):
    """A duration in ns; read from int ns or a string with a unit (``"20ms"``)."""


class Time(int):
    """A time in ns since the epoch, UTC; read from int ns, ISO-8601 or a TOML datetime."""


_UNITS = {"ns": NS, "us": US, "ms": MS, "s": SECOND, "m": MINUTE, "h": HOUR}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ns|us|ms|s|m|h)\s*$")


def _to_time(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp()) * SECOND + value.microsecond * US


def _dec_hook(kind: type, value: Any) -> Any:
    if kind is Nanos:
        if isinstance(value, int) and not isinstance(value, bool):
            return Nanos(value)
        if isinstance(value, str) and (match := _DURATION.match(value)):
            return Nanos(round(float(match.group(1)) * _UNITS[match.group(2)]))
        raise ValueError(
            f"expected a duration: int ns or a number with a unit ({', '.join(_UNITS)}), "
            f"e.g. 20ms; got {value!r}"
        )
    if kind is Time:
        if isinstance(value, int) and not isinstance(value, bool):
            return Time(value)
        if isinstance(value, datetime):
            return Time(_to_time(value))
        if isinstance(value, str):
            try:
                return Time(_to_time(datetime.fromisoformat(value.replace("Z", "+00:00"))))
            except ValueError:
                pass
        raise ValueError(f"expected a time: int ns, ISO-8601 or a TOML datetime; got {value!r}")
    raise NotImplementedError


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A table of the config: unknown keys are errors."""


class _Model(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="model"):
    """A model chosen by name (its ``model`` key) with that model's parameters."""


# -- [data] --------------------------------------------------------------------------------

#: The data adapters the CLI knows (``adapters/``); the core only names them.
Adapter = Literal["sample", "cryptohftdata", "store"]
Kind = Literal["depth", "trades", "mark_price", "open_interest", "ticker", "liquidations"]


class DataConfig(_Section, frozen=True):
    """Where the market data comes from; the adapters build the sources from it."""

    adapter: Adapter = "sample"
    root: str | None = None
    exchange: str = "binance_futures"
    symbols: list[str] | None = None
    kinds: list[Kind] | None = None
    start: Time | None = None
    end: Time | None = None


# -- [feed] --------------------------------------------------------------------------------


class RecordedModel(_Model, frozen=True, tag="recorded", kw_only=True):
    base_latency: Nanos = Nanos(1 * MS)
    window: int = 10_000
    correct_offset: bool = True

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
    seed: int = 0

    def build(self) -> OrderLatency:
        return LognormalLatency(
            self.entry_median, self.response_median, self.sigma, self.floor, self.seed
        )


class RecordedLatencyModel(_Model, frozen=True, tag="recorded", kw_only=True):
    times: list[Time]
    entry: list[Nanos]
    response: list[Nanos] | None = None

    def build(self) -> OrderLatency:
        return RecordedLatency(self.times, self.entry, self.response)


LatencyConfig = ConstantLatencyModel | LognormalLatencyModel | RecordedLatencyModel

# -- [exchange] ----------------------------------------------------------------------------


class ConservativeQueue(_Model, frozen=True, tag="conservative", kw_only=True):
    def build(self) -> QueueModel:
        return Conservative()


class PowerQueueModel(_Model, frozen=True, tag="power", kw_only=True):
    n: float = 2.0

    def build(self) -> QueueModel:
        return PowerQueue(self.n)


class LogQueueModel(_Model, frozen=True, tag="log", kw_only=True):
    def build(self) -> QueueModel:
        return LogQueue()


QueueConfig = ConservativeQueue | PowerQueueModel | LogQueueModel


class FeesConfig(_Section, frozen=True):
    maker: float = Fees.maker
    taker: float = Fees.taker


class GuardSection(_Section, frozen=True):
    """The book guard (:class:`~streamsim.sim.guard.GuardConfig`); off unless given."""

    max_spread_ticks: int | None = None
    max_spread_bps: float | None = None
    max_staleness: Nanos | None = None
    block_crossed: bool = True
    block_gap: bool = True
    warmup_messages: int = 0
    cooldown: Nanos = Nanos(0)


class BracketConfig(_Section, frozen=True):
    notional_cap: float
    max_leverage: int
    maint_margin_rate: float
    maint_amount: float = 0.0


class ExchangeConfig(_Section, frozen=True):
    """The venue: ``"simulated"`` (:class:`SimExchange`) or ``"null"`` (never fills)."""

    venue: Literal["simulated", "null"] = "simulated"
    fees: FeesConfig = msgspec.field(default_factory=FeesConfig)
    queue: QueueConfig = msgspec.field(default_factory=ConservativeQueue)
    participation: float = 1.0
    initial_balance: float = 10_000.0
    leverage: int | dict[str, int] = 20
    brackets: dict[str, list[BracketConfig]] = msgspec.field(default_factory=dict)
    guard: GuardSection | None = None
    liquidation_fee_rate: float = 0.0125
    stop_trigger: Literal["last", "mark"] = "last"
    sequencing: Literal["futures", "spot", "none"] = "futures"


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
    seed: int | None = None
    end: Time | None = None
    linger: Nanos = Nanos(60 * SECOND)
    out_of_order: Literal["fail", "clamp"] = "fail"
    prefetch: int = 4
    sequencing: Literal["futures", "spot", "none"] = "futures"
    #: The watchdog's budget: wall seconds a callback may run without awaiting (0: off).
    callback_timeout: float = DEFAULT_CALLBACK_TIMEOUT


class OutputConfig(_Section, frozen=True):
    dir: str | None = None
    report: bool = True


class RunConfig(_Section, frozen=True):
    """A whole run (see the module docstring and ``docs/config.md``)."""

    strategy: StrategyConfig
    data: DataConfig = msgspec.field(default_factory=DataConfig)
    feed: dict[str, FeedModelConfig] = msgspec.field(default_factory=dict)
    latency: LatencyConfig = msgspec.field(default_factory=ConstantLatencyModel)
    exchange: ExchangeConfig = msgspec.field(default_factory=ExchangeConfig)
    run: RunSection = msgspec.field(default_factory=RunSection)
    output: OutputConfig = msgspec.field(default_factory=OutputConfig)

    def __post_init__(self) -> None:
        checks = [
            (self.run.speed > 0, "run.speed", "a number > 0"),
            (self.run.prefetch >= 1, "run.prefetch", "an integer >= 1"),
            (self.run.linger >= 0, "run.linger", "a duration >= 0"),
            (
                math.isfinite(self.run.callback_timeout) and self.run.callback_timeout >= 0,
                "run.callback_timeout",
                "wall-clock seconds >= 0 (0 disables the watchdog)",
            ),
            (0 < self.exchange.participation <= 1, "exchange.participation", "in (0, 1]"),
            (self.exchange.initial_balance >= 0, "exchange.initial_balance", ">= 0"),
            (self.exchange.fees.taker >= 0, "exchange.fees.taker", ">= 0"),
        ]
        for ok, key, allowed in checks:
            if not ok:
                raise ConfigError(f"{key}: expected {allowed}, got {_get(self, key)!r}")
        leverage = self.exchange.leverage
        for value in leverage.values() if isinstance(leverage, dict) else [leverage]:
            if value < 1:
                raise ConfigError(f"exchange.leverage: expected an integer >= 1, got {value}")
        start, end = self.data.start, self.data.end
        if start is not None and end is not None and end < start:
            raise ConfigError(f"data.end ({end}) is before data.start ({start})")

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
            raise ConfigError(f"invalid TOML: {error}") from error
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
        guard = (
            None
            if venue.guard is None
            else GuardConfig(**msgspec.to_builtins(venue.guard, enc_hook=int))
        )
        return SimExchange(
            instruments,
            fees=Fees(venue.fees.maker, venue.fees.taker),
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
        )

    def run_options(self, instruments: Sequence[Instrument]) -> dict[str, Any]:
        """Keyword options for :func:`~streamsim.backtest` (backtest, paper replay) or
        :func:`~streamsim.paper_live` (paper live), as ``run.mode`` says."""
        run = self.run
        options: dict[str, Any] = {
            "feed": self.feed_config(),
            "latency": self.latency_model(),
            "exchange": self.make_exchange(instruments),
            "end": run.end,
            "linger": int(run.linger),
            "out_of_order": run.out_of_order,
            "sequencing": _sequencing(run.sequencing),
            "callback_timeout": run.callback_timeout,
        }
        if run.mode == "paper-live":
            options["speed"] = run.speed
        else:
            options["prefetch"] = run.prefetch
            options["clock"] = PacedClock(run.speed) if run.mode == "paper-replay" else None
        return options


def _sequencing(value: str) -> Any:
    return None if value == "none" else value


def run_config(
    config: RunConfig,
    sources: Sequence[Source],
    strategies: Strategy | Sequence[Strategy],
    instruments: Sequence[Instrument],
) -> RunResult:
    """Run ``strategies`` over ``sources`` as ``config`` says (its ``run.mode`` picks
    :func:`~streamsim.run_backtest` or :func:`~streamsim.run_paper_live`)."""
    options = config.run_options(instruments)
    if config.run.mode == "paper-live":
        return run_paper_live(sources, strategies, **options)
    return run_backtest(sources, strategies, **options)


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> RunConfig:
    """A config from a TOML file, or from a run's ``manifest.json`` (its ``config``)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as error:
        raise ConfigError(f"config file not found: {path}") from error
    if path.suffix == ".json":
        try:
            manifest = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            raise ConfigError(f"{path}: invalid JSON: {error}") from error
        if not isinstance(manifest, dict) or not isinstance(manifest.get("config"), dict):
            raise ConfigError(f"{path}: not a run manifest (no 'config' table)")
        config = RunConfig.from_dict(manifest["config"])
    else:
        try:
            config = RunConfig.from_toml(raw.decode("utf-8"))
        except ConfigError as error:
            raise ConfigError(f"{path}: {error}") from None
    return config.with_overrides(overrides) if overrides else config


def parse_override(text: str) -> tuple[list[str], Any]:
    """``section.key=value`` -> (path, value); the value is TOML, else a bare string."""
    key, sep, raw = text.partition("=")
    path = [part.strip() for part in key.split(".")]
    if not sep or len(path) < 2 or not all(path):
        raise ConfigError(f"--set expects section.key=value, got {text!r}")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()  # a bare word such as paper-replay
    return path, value


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> None:
    """Apply ``section.key=value`` overrides to plain config data, in place."""
    for text in overrides:
        path, value = parse_override(text)
        node = data
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {text}: {part} is not a table")
            node = child
        node[path[-1]] = value


# -- errors --------------------------------------------------------------------------------

_PATH = re.compile(r" - at `\$(.*)`$")


def _config_error(message: str, data: Mapping[str, Any]) -> ConfigError:
    """msgspec's ``... - at `$.a.b``` as ``a.b: ...``, with what the key allows."""
    match = _PATH.search(message)
    parts = re.findall(r"\.(\w+)|\[([^\]]*)\]", match.group(1)) if match else []
    keys = [name or f"[{index}]" for name, index in parts]
    text = message[: match.start()] if match else message
    text = text.replace("`", "")
    where = ".".join(keys).replace(".[", "[")
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
        if key.startswith("[") and lists:
            kind, node = typing.get_args(lists[0])[0], None
            continue
        if key.startswith("[") and dicts:
            kind, node = typing.get_args(dicts[0])[1], None
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


def _get(config: RunConfig, key: str) -> Any:
    value: Any = config
    for part in key.split("."):
        value = getattr(value, part)
    return value


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value
