"""Feed models: when a strategy may see each market event (its ``ts_local``).

A model turns a batch's ``ts_exchange`` (and ``ts_recv`` where the data has it) into
``ts_local``, using only rows already received. One instance serves one stream: the feed
copies the instance you configure for every stream it applies to. The feed then enforces
``ts_local >= ts_exchange`` and per-stream monotonicity and counts every change in the
run's :class:`~streamsim.quality.DataQuality`.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError
from ..units import MS, SECOND
from .quality import StreamQuality

IntArray = npt.NDArray[np.int64]
_NO_VALUE = np.iinfo(np.int64).max


class FeedModel(Protocol):
    """Assigns ``ts_local`` to the rows of one stream, batch after batch."""

    #: Forbid showing a row before its recorded ``ts_recv``.
    not_before_recv: bool

    def describe(self) -> str:
        """A short label for reports, e.g. ``constant(5000000)``."""
        ...

    def local_times(
        self, ts_exchange: IntArray, ts_recv: IntArray | None, quality: StreamQuality
    ) -> IntArray:
        """``ts_local`` for the next rows of the stream (before the feed's clamps)."""
        ...


def _need_recv(model: FeedModel, ts_recv: IntArray | None, quality: StreamQuality) -> IntArray:
    if ts_recv is None:
        raise ConfigError(
            f"stream {quality.stream!r} has no ts_recv, which feed model "
            f"{model.describe()} needs; use constant(...) or fixed(...) for it"
        )
    return ts_recv


def rolling_min(values: IntArray, window: int) -> IntArray:
    """Minimum of each row and up to ``window - 1`` rows before it, in O(n).

    Van Herk / Gil-Werman: pad in front with ``window - 1`` sentinels, cut into blocks of
    ``window``, and take the minimum of one block suffix and the next block prefix.
    """
    n = len(values)
    if n == 0 or window <= 1:
        return values.copy()
    padded_len = n + window - 1
    blocks = -(-padded_len // window)
    padded = np.full(blocks * window, _NO_VALUE, dtype=np.int64)
    padded[window - 1 : window - 1 + n] = values
    grid = padded.reshape(blocks, window)
    prefix = np.minimum.accumulate(grid, axis=1).ravel()
    suffix = np.minimum.accumulate(grid[:, ::-1], axis=1)[:, ::-1].ravel()
    ends = np.arange(window - 1, window - 1 + n)
    return np.minimum(suffix[ends - window + 1], prefix[ends])


class Recorded:
    """``ts_local = ts_recv``, corrected for the recorder's clock offset.

    Recorders' clocks drift from the venue's: receive times can precede the venue's event
    time. The offset estimate is the minimum of ``ts_recv - ts_exchange`` over the last
    ``window`` rows received up to and including this one (all known to the recorder at
    that moment). Where that minimum is below ``base_latency`` the row is shifted later by
    the difference, so the fastest recent row arrives after exactly ``base_latency`` and
    every other keeps its recorded jitter above it: never negative, never all zero. Rows
    already at or above ``base_latency`` are left as recorded. Every shifted row is
    counted with the size of its shift. ``correct_offset=False`` falls back to a plain
    clamp to ``ts_exchange`` (also counted).
    """

    not_before_recv = True

    def __init__(
        self, base_latency: int = 1 * MS, window: int = 10_000, correct_offset: bool = True
    ) -> None:
        if base_latency <= 0:
            raise ConfigError("recorded(base_latency=...) must be > 0 ns")
        if window < 1:
            raise ConfigError("recorded(window=...) must be >= 1 row")
        self.base_latency = base_latency
        self.window = window
        self.correct_offset = correct_offset
        self._history = np.empty(0, dtype=np.int64)

    def describe(self) -> str:
        if not self.correct_offset:
            return "recorded(no offset correction)"
        return f"recorded(base_latency={self.base_latency}, window={self.window})"

    def local_times(
        self, ts_exchange: IntArray, ts_recv: IntArray | None, quality: StreamQuality
    ) -> IntArray:
        recv = _need_recv(self, ts_recv, quality)
        if not self.correct_offset:
            return recv.copy()
        delay = recv - ts_exchange
        joined = np.concatenate((self._history, delay))
        floor = rolling_min(joined, self.window)[len(self._history) :]
        self._history = joined[-(self.window - 1) :] if self.window > 1 else joined[:0]
        shift = np.maximum(self.base_latency - floor, 0)
        shifted = shift > 0
        if shifted.any():
            moved = shift[shifted]
            quality.note_offset_shift(int(shifted.sum()), int(moved.min()), int(moved.max()))
        return recv + shift


class Constant:
    """``ts_local = ts_exchange + delay`` for every row."""

    def __init__(self, delay: int, not_before_recv: bool = False, label: str = "constant") -> None:
        if delay < 0:
            raise ConfigError(f"{label}(delay) must be >= 0 ns, got {delay}")
        self.delay = delay
        self.not_before_recv = not_before_recv
        self._label = label

    def describe(self) -> str:
        return f"{self._label}({self.delay})"

    def local_times(
        self, ts_exchange: IntArray, ts_recv: IntArray | None, quality: StreamQuality
    ) -> IntArray:
        return ts_exchange + self.delay


def fixed(delay: int, not_before_recv: bool = False) -> Constant:
    """A deterministic, pre-calibrated delay (``ts_exchange + delay``), labelled ``fixed``."""
    return Constant(delay, not_before_recv=not_before_recv, label="fixed")


class CausalQuantile:
    """Delay = the ``q``-quantile of the last ``window`` observed ``ts_recv - ts_exchange``.

    Only rows before this one count, never the row itself or any later row; the result is
    clamped to ``[min_delay, max_delay]``. The first row of a stream has no past and gets
    ``max_delay`` (the conservative choice). This is how open interest is aligned: the
    venue stamps a bucket, the value is published later.
    """

    _CHUNK = 4096

    def __init__(
        self,
        q: float,
        window: int = 100,
        min_delay: int = 0,
        max_delay: int = 300 * SECOND,
        not_before_recv: bool = False,
    ) -> None:
        if not 0.0 <= q <= 1.0:
            raise ConfigError(f"causal_quantile(q) must be in [0, 1], got {q}")
        if window < 1:
            raise ConfigError("causal_quantile(window) must be >= 1 row")
        if not 0 <= min_delay <= max_delay:
            raise ConfigError("causal_quantile needs 0 <= min_delay <= max_delay")
        self.q = q
        self.window = window
        self.min_delay = min_delay
        self.max_delay = max_delay
        self.not_before_recv = not_before_recv
        self._history = np.empty(0, dtype=np.int64)

    def describe(self) -> str:
        return (
            f"causal_quantile(q={self.q}, window={self.window}, "
            f"min={self.min_delay}, max={self.max_delay})"
        )

    def local_times(
        self, ts_exchange: IntArray, ts_recv: IntArray | None, quality: StreamQuality
    ) -> IntArray:
        recv = _need_recv(self, ts_recv, quality)
        observed = recv - ts_exchange
        joined = np.concatenate((self._history, observed))
        past = len(self._history)
        delays = np.empty(len(observed), dtype=np.float64)
        # Rows with fewer than `window` rows before them: an expanding window.
        for i in range(min(len(observed), max(self.window - past, 0))):
            end = past + i
            delays[i] = np.quantile(joined[:end], self.q) if end else self.max_delay
        first_full = max(self.window - past, 0)
        if first_full < len(observed):
            windows = np.lib.stride_tricks.sliding_window_view(joined, self.window)
            # windows[k] covers joined[k : k + window], the past of row (k + window - past).
            for lo in range(first_full, len(observed), self._CHUNK):
                hi = min(lo + self._CHUNK, len(observed))
                rows = windows[past + lo - self.window : past + hi - self.window]
                delays[lo:hi] = np.quantile(rows, self.q, axis=1)
        self._history = joined[-self.window :]
        result = np.clip(np.rint(delays), self.min_delay, self.max_delay).astype(np.int64)
        return ts_exchange + result


def open_interest_preset() -> CausalQuantile:
    """DESIGN.md's recommended open-interest alignment: median delay within [5 s, 300 s]."""
    return CausalQuantile(q=0.5, min_delay=5 * SECOND, max_delay=300 * SECOND)
