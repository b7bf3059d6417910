"""streamsim: an asyncio streaming simulator for crypto perpetual futures.

One strategy class runs unchanged in a backtest over recorded data, in paper replay at
wall-clock speed, and live. See ``docs/concepts.md``.
"""

from .account import AccountReason, AccountState, AccountUpdate, AccountView, PositionState
from .book import ASK, BID, BookPolicy, BookStats, CrossedBookError, L2Book
from .broker import Broker
from .config import RunConfig, load_config, run_config
from .errors import (
    ArtifactError,
    ConfigError,
    DataError,
    OutOfOrderError,
    SourceError,
    StrategyError,
    StreamsimError,
)
from .events import (
    BUY,
    SELL,
    Bar,
    DepthUpdate,
    Liquidation,
    MarkPrice,
    OpenInterest,
    Ticker,
    Trade,
)
from .feed.batches import (
    BarBatch,
    Batch,
    DepthBatch,
    LiquidationBatch,
    MarkPriceBatch,
    OpenInterestBatch,
    TickerBatch,
    TradeBatch,
)
from .feed.feed_models import (
    CausalQuantile,
    Constant,
    FeedModel,
    Recorded,
    fixed,
    open_interest_preset,
)
from .feed.plausibility import Limits
from .feed.quality import DataQuality, StreamQuality
from .feed.quarantine import Ingest, Policy, Quarantine, QuarantineCounts
from .feed.sources import MemorySource, Source, Stream
from .instruments import ContractKind, Instrument
from .order_checks import BANKRUPT_REJECT, GUARD_REJECT, REJECT_CODES
from .orders import (
    Order,
    OrderHandle,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUpdate,
    TimeInForce,
)
from .results.record import FillRecord, OrderRecord, RunRecord
from .results.verify import Verified, verify_artifacts
from .run.clock import Clock, PacedClock, Scheduler, Timer, VirtualClock, WallClock
from .run.engine import RunResult, backtest, run_backtest
from .run.halt import Halt
from .run.live import Connection, LiveRuntime, LiveTask, paper_live, run_paper_live
from .run.parking import SimEvent
from .sim.exchange import Exchange, NullExchange, Venue
from .sim.fees import FeeModel, Fees, FeeTable
from .sim.guard import GuardConfig
from .sim.latency import ConstantLatency, LognormalLatency, OrderLatency, RecordedLatency
from .sim.matching import SimExchange
from .sim.portfolio import (
    BTCUSDT_BRACKETS,
    DEFAULT_BRACKETS,
    PUBLISHED_BRACKETS,
    BracketTable,
    Fill,
    LedgerEntry,
    MarginBracket,
    Portfolio,
    Position,
    default_brackets,
)
from .sim.queue_models import (
    Conservative,
    LogQueue,
    PowerQueue,
    QueueModel,
    QueueRule,
    RestingOrder,
)
from .strategy import Context, Strategy
from .units import DAY, HOUR, MINUTE, MS, NS, SECOND, US

__version__ = "0.1.0"

__all__ = [
    "ASK",
    "BANKRUPT_REJECT",
    "BID",
    "BTCUSDT_BRACKETS",
    "BUY",
    "DAY",
    "DEFAULT_BRACKETS",
    "GUARD_REJECT",
    "HOUR",
    "MINUTE",
    "MS",
    "NS",
    "PUBLISHED_BRACKETS",
    "REJECT_CODES",
    "SECOND",
    "SELL",
    "US",
    "AccountReason",
    "AccountState",
    "AccountUpdate",
    "AccountView",
    "ArtifactError",
    "Bar",
    "BarBatch",
    "Batch",
    "BookPolicy",
    "BookStats",
    "BracketTable",
    "Broker",
    "CausalQuantile",
    "Clock",
    "ConfigError",
    "Connection",
    "Conservative",
    "Constant",
    "ConstantLatency",
    "Context",
    "ContractKind",
    "CrossedBookError",
    "DataError",
    "DataQuality",
    "DepthBatch",
    "DepthUpdate",
    "Exchange",
    "FeeModel",
    "FeeTable",
    "FeedModel",
    "Fees",
    "Fill",
    "FillRecord",
    "GuardConfig",
    "Halt",
    "Ingest",
    "Instrument",
    "L2Book",
    "LedgerEntry",
    "Limits",
    "Liquidation",
    "LiquidationBatch",
    "LiveRuntime",
    "LiveTask",
    "LogQueue",
    "LognormalLatency",
    "MarginBracket",
    "MarkPrice",
    "MarkPriceBatch",
    "MemorySource",
    "NullExchange",
    "OpenInterest",
    "OpenInterestBatch",
    "Order",
    "OrderHandle",
    "OrderLatency",
    "OrderRecord",
    "OrderRequest",
    "OrderStatus",
    "OrderType",
    "OrderUpdate",
    "OutOfOrderError",
    "PacedClock",
    "Policy",
    "Portfolio",
    "Position",
    "PositionState",
    "PowerQueue",
    "Quarantine",
    "QuarantineCounts",
    "QueueModel",
    "QueueRule",
    "Recorded",
    "RecordedLatency",
    "RestingOrder",
    "RunConfig",
    "RunRecord",
    "RunResult",
    "Scheduler",
    "SimEvent",
    "SimExchange",
    "Source",
    "SourceError",
    "Strategy",
    "StrategyError",
    "Stream",
    "StreamQuality",
    "StreamsimError",
    "Ticker",
    "TickerBatch",
    "TimeInForce",
    "Timer",
    "Trade",
    "TradeBatch",
    "Venue",
    "Verified",
    "VirtualClock",
    "WallClock",
    "__version__",
    "backtest",
    "default_brackets",
    "fixed",
    "load_config",
    "open_interest_preset",
    "paper_live",
    "run_backtest",
    "run_config",
    "run_paper_live",
    "verify_artifacts",
]
