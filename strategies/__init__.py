"""Reference strategies: small, readable examples of the strategy contract.

Each shows a technique (oracles, schedules, bars, quoting, funding data); none is meant
to make money.
"""

from .base import Tracked
from .breakout import StopBreakout
from .funding import FundingFade
from .ma_cross import BarBuilder, MovingAverageCross
from .market_maker import MarketMaker
from .oracles import AlwaysLong, AlwaysShort, Flat, Oracle, RandomOracle
from .schedule import Scheduled
from .sweep_chaser import SweepChaser

__all__ = [
    "AlwaysLong",
    "AlwaysShort",
    "BarBuilder",
    "Flat",
    "FundingFade",
    "MarketMaker",
    "MovingAverageCross",
    "Oracle",
    "RandomOracle",
    "Scheduled",
    "StopBreakout",
    "SweepChaser",
    "Tracked",
]
