"""The live Binance USD-M feed client: routed connections, book sync, live ``Source``s.

See ``docs/live.md`` ("The feed client").
"""

from .client import BinanceFeed
from .config import FeedConfig
from .connection import Backoff, RoutedConnection
from .open_interest import OpenInterestSource
from .sources import DepthSource, MarkPriceSource, TradeSource
from .sync import DepthSync, SyncCounts

__all__ = [
    "Backoff",
    "BinanceFeed",
    "DepthSource",
    "DepthSync",
    "FeedConfig",
    "MarkPriceSource",
    "OpenInterestSource",
    "RoutedConnection",
    "SyncCounts",
    "TradeSource",
]
