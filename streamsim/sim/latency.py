"""Order latency models: how long an order message takes to reach the venue, and back.

``entry(t)`` is the delay of a message sent by the strategy at local time ``t``;
``response(t)`` the delay of a venue response produced at exchange time ``t``. Cancels
travel the same path as submits. Randomness always comes from an explicit seed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from ..errors import ConfigError


class OrderLatency(Protocol):
    """Entry and response delays, in ns."""

    def entry(self, now: int) -> int: ...

    def response(self, now: int) -> int: ...


class ConstantLatency:
    """The same delays for every message."""

    def __init__(self, entry: int, response: int | None = None) -> None:
        response = entry if response is None else response
        if entry < 0 or response < 0:
            raise ConfigError("latencies must be >= 0 ns")
        self._entry = entry
        self._response = response

    def entry(self, now: int) -> int:
        return self._entry

    def response(self, now: int) -> int:
        return self._response


class LognormalLatency:
    """Seeded lognormal delays with a floor: ``max(floor, median * exp(sigma * N(0, 1)))``."""

    def __init__(
        self,
        entry_median: int,
        response_median: int | None = None,
        sigma: float = 0.5,
        floor: int = 0,
        seed: int = 0,
    ) -> None:
        response_median = entry_median if response_median is None else response_median
        if entry_median <= 0 or response_median <= 0 or sigma < 0 or floor < 0:
            raise ConfigError("lognormal latency needs medians > 0, sigma >= 0 and floor >= 0")
        self._mu = (math.log(entry_median), math.log(response_median))
        self._sigma = sigma
        self._floor = floor
        self._rng = random.Random(seed)

    def _draw(self, mu: float) -> int:
        return max(self._floor, round(self._rng.lognormvariate(mu, self._sigma)))

    def entry(self, now: int) -> int:
        return self._draw(self._mu[0])

    def response(self, now: int) -> int:
        return self._draw(self._mu[1])


class RecordedLatency:
    """Delays interpolated linearly in time from a recorded series (held flat at the ends)."""

    def __init__(
        self, times: Sequence[int], entry: Sequence[int], response: Sequence[int] | None = None
    ) -> None:
        self._times = np.asarray(times, dtype=np.float64)
        self._entry = np.asarray(entry, dtype=np.float64)
        self._response = self._entry if response is None else np.asarray(response, np.float64)
        if not len(self._times) or not (
            len(self._times) == len(self._entry) == len(self._response)
        ):
            raise ConfigError("recorded latency needs equal, non-empty times and delays")
        if np.any(np.diff(self._times) < 0):
            raise ConfigError("recorded latency times must be non-decreasing")
        if np.any(self._entry < 0) or np.any(self._response < 0):
            raise ConfigError("recorded latencies must be >= 0 ns")

    def entry(self, now: int) -> int:
        return round(float(np.interp(now, self._times, self._entry)))

    def response(self, now: int) -> int:
        return round(float(np.interp(now, self._times, self._response)))
