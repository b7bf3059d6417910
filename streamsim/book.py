"""The L2 order book in integer ticks and lots, used on both timelines.

Both sides live in one dense NumPy array over a window of ticks, interleaved (the bid of
price ``p`` at ``2 * (p - lo)``, the ask at the next slot); the window grows when a level
falls outside it (a whole instrument's price range in ticks fits in a few MB). A message
is applied with a handful of array operations whatever its size, using per-batch arrays
computed once (:class:`~streamsim.events.BookLevels`); the best bid and ask are kept
incrementally, with a short rescan when the best level is deleted. Within one message the
last row for a price wins, as in the venue's files: the per-batch pass drops the rows it
overrides, since NumPy's fancy assignment promises no order among repeated indices.

A damaged or unsynced book is never used silently: a sequence gap, a crossed book, or
update ids before the first snapshot make it invalid (``valid`` False,
``invalid_reason`` says why) until it (re)syncs, as its :class:`BookPolicy` says (see
``docs/execution.md``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from .errors import ConfigError, DataError
from .events import BookLevels, DepthUpdate, Levels
from .sequencing import Sequencing as Sequencing  # noqa: PLC0414 (re-export)
from .sequencing import chains_by_prev_final, follows, straddles
from .units import SECOND

IntArray = npt.NDArray[np.int64]

BID = 1
ASK = -1

#: A window wider than this many ticks is refused (2 x 8 bytes each: 512 MB).
MAX_WIDTH = 1 << 25
_MARGIN = 4096
#: Diffs kept from before the first snapshot, to replay after it.
EARLY_DIFFS = 10_000
_RESCAN = 64

Resync = Literal["rebuild", "snapshot"]
OnCrossed = Literal["fail", "resync", "keep"]

#: ``invalid_reason`` of a book whose data has update ids while no snapshot has synced it.
AWAITING_SNAPSHOT = "awaiting_snapshot"

#: Exchange time a rebuilt book must stay two-sided and uncrossed before it is valid again.
REBUILD_WINDOW = 5 * SECOND


@dataclass(frozen=True)
class BookPolicy:
    """What a book does when it breaks.

    ``resync``: after a gap or a crossed state, ``"rebuild"`` (default) clears the book and
    rebuilds it from the following diffs; it is valid again once ``rebuild_window`` ns of
    exchange time have passed and both sides are non-empty and uncrossed (a documented
    synthetic resync: levels not touched since the break are missing). ``"snapshot"``
    keeps the last levels, skips diffs and waits for the next snapshot. A snapshot always
    resyncs at once. ``crossed``: a crossed book (best bid >= best ask) raises
    :class:`CrossedBookError` (``"fail"``, default), invalidates the book and resyncs
    (``"resync"``), or is only flagged and counted (``"keep"``, the raw book).
    """

    resync: Resync = "rebuild"
    rebuild_window: int = REBUILD_WINDOW
    crossed: OnCrossed = "fail"

    def __post_init__(self) -> None:
        if self.resync not in ("rebuild", "snapshot"):
            raise ConfigError(f"resync must be 'rebuild' or 'snapshot', got {self.resync!r}")
        if self.crossed not in ("fail", "resync", "keep"):
            raise ConfigError(f"crossed must be 'fail', 'resync' or 'keep', got {self.crossed!r}")
        if not isinstance(self.rebuild_window, int) or self.rebuild_window < 0:
            raise ConfigError(
                f"rebuild_window must be an int of ns >= 0, got {self.rebuild_window!r}"
            )


class CrossedBookError(DataError):
    """A book became crossed under the ``crossed="fail"`` policy."""

    def __init__(
        self,
        symbol: str,
        ts_exchange: int,
        bid: int,
        ask: int,
        final: int,
        tick_size: float | None = None,
    ) -> None:
        prices = f" ({bid * tick_size:.10g} >= {ask * tick_size:.10g})" if tick_size else ""
        super().__init__(
            f"{symbol or 'book'}: crossed at ts_exchange {ts_exchange} ns: best bid {bid} "
            f"ticks >= best ask {ask} ticks{prices}, after the message with final_update_id "
            f"{final}; pass crossed='resync' (run.crossed_book) to block matching on it "
            "and resync instead"
        )
        self.symbol = symbol
        self.ts_exchange = ts_exchange
        self.bid = bid
        self.ask = ask
        self.final = final


@dataclass
class BookStats:
    """What the book saw: messages, snapshots, gaps, crossings, resyncs, stale messages.

    ``crossed`` counts the times the book became crossed; ``resyncs`` snapshots that made
    an invalid book valid; ``rebuilds`` rebuild windows completed; ``invalid_ns`` the
    exchange time spent invalid (up to the book's last message).
    """

    messages: int = 0
    snapshots: int = 0
    gaps: int = 0
    crossed: int = 0
    stale_skipped: int = 0
    skipped_while_invalid: int = 0
    resyncs: int = 0
    rebuilds: int = 0
    invalid_ns: int = 0
    #: Diffs with update ids but no ``prev_final`` (spot data) a ``"futures"`` book checked
    #: by the spot rule instead of calling every one a gap.
    spot_rule: int = 0

    @property
    def damaged(self) -> bool:
        """True if the book ever broke (a gap or a crossed state)."""
        return bool(self.gaps or self.crossed)


class L2Book:
    """Price levels of one symbol. Prices in ticks, sizes in lots; size 0 deletes a level.

    ``sequencing`` checks Binance update ids: ``"futures"`` (each diff's ``prev_final``
    equals the previous ``final``), ``"spot"`` (``first`` equals the previous
    ``final + 1``) or ``None`` (no checks). After a snapshot the first diff must
    straddle the snapshot's id, and diffs older than it are skipped (the venue's sync
    procedure); diffs that arrived before the first snapshot are replayed after it. Until
    then the book is not synced: invalid with ``invalid_reason`` ``"awaiting_snapshot"``
    (on data without snapshots, until a rebuild window completes, under
    ``resync="rebuild"``). A gap or a crossed state marks the book invalid
    (``"sequence_gap"`` or ``"crossed"``), is counted, and the book resyncs as ``policy``
    (:class:`BookPolicy`) says. The chain rule itself is :mod:`streamsim.sequencing`'s.
    """

    def __init__(
        self,
        symbol: str = "",
        sequencing: Sequencing = "futures",
        policy: BookPolicy | None = None,
    ) -> None:
        self.symbol = symbol
        self.sequencing = sequencing
        self.policy = policy or BookPolicy()
        self.stats = BookStats()
        self.valid = True
        self.invalid_reason: str | None = None
        #: Rebuilding from diffs after a break (``resync="rebuild"``), not yet valid.
        self.rebuilding = False
        self.crossed = False
        self.last_update_id: int | None = None
        self._after_snapshot = False
        self._awaited = False  # the first message with update ids has been seen
        self._invalid_mark = 0  # exchange time up to which invalid time is counted
        self._rebuild_start = 0
        # Diffs before the first snapshot are applied (data without snapshots starts from an
        # empty book) and kept, to be replayed once a snapshot arrives.
        self._early: deque[DepthUpdate] | None = (
            deque(maxlen=EARLY_DIFFS) if sequencing is not None else None
        )
        self._lo = 0
        self._cap = 0
        self._qty = np.zeros(0, dtype=np.int64)  # bids in [0, cap), asks in [cap, 2 cap)
        self.best_bid: int | None = None
        self.best_ask: int | None = None

    # -- applying -------------------------------------------------------------------------

    def apply(self, update: DepthUpdate) -> bool:
        """Apply one venue message; False if the sequence rules skipped it."""
        if not self.valid:
            now = update.ts_exchange
            self.stats.invalid_ns += max(0, now - self._invalid_mark)
            self._invalid_mark = max(self._invalid_mark, now)
        if not self._in_sequence(update):
            return False
        if not self._awaited and self._early is not None and update.final >= 0:
            self._await_snapshot(update)
        levels = update.levels
        self._apply(levels, levels.for_book(), update.index, update.is_snapshot)
        if update.final >= 0:
            self.last_update_id = update.final
        if self.crossed and self.policy.crossed != "keep":
            self._on_crossed(update)
        elif self.rebuilding:
            self._check_rebuilt(update.ts_exchange)
        if self._early is not None and update.final >= 0:
            if not update.is_snapshot:
                self._early.append(update)
            else:
                self._replay_early()
        return True

    def _await_snapshot(self, update: DepthUpdate) -> None:
        """A diff with update ids before the first snapshot: the book is not synced yet.

        It is invalid (``"awaiting_snapshot"``) until the snapshot, or, under
        ``resync="rebuild"``, until a rebuild window from this first diff completes (data
        with update ids but no snapshot, such as CryptoHFTData's, starts this way).
        """
        self._awaited = True
        if update.is_snapshot or not self.valid:
            return
        now = update.ts_exchange
        self.valid = False
        self._invalid_mark = now
        self.invalid_reason = AWAITING_SNAPSHOT
        self.rebuilding = self.policy.resync == "rebuild"
        self._rebuild_start = now

    def _invalidate(self, reason: str, now: int) -> None:
        """Mark the book invalid from exchange time ``now``; rebuild mode clears it."""
        if self.valid:
            self.valid = False
            self._invalid_mark = now
        self.invalid_reason = reason
        if self.policy.resync == "rebuild":
            self.rebuilding = True
            self._rebuild_start = now
            self._after_snapshot = False
            self._clear()

    def _clear(self) -> None:
        self._qty[:] = 0
        self.best_bid = self.best_ask = None
        self.crossed = False

    def _on_crossed(self, update: DepthUpdate) -> None:
        if self.policy.crossed == "fail":
            assert self.best_bid is not None and self.best_ask is not None
            raise CrossedBookError(
                self.symbol, update.ts_exchange, self.best_bid, self.best_ask, update.final
            )
        self._invalidate("crossed", update.ts_exchange)

    def _check_rebuilt(self, now: int) -> None:
        """A rebuilding book is valid again after the window, two-sided and uncrossed."""
        if (
            now - self._rebuild_start >= self.policy.rebuild_window
            and self.best_bid is not None
            and self.best_ask is not None
            and not self.crossed
        ):
            self.stats.rebuilds += self.invalid_reason != AWAITING_SNAPSHOT
            self.valid = True
            self.rebuilding = False
            self.invalid_reason = None

    def _replay_early(self) -> None:
        """Diffs received before the first snapshot: the snapshot replaced their effect, so
        replay the ones it does not already contain (the venue's buffering step)."""
        early, self._early = self._early, None
        for update in early or ():
            self.apply(update)

    def apply_levels(
        self, price: IntArray, qty: IntArray, n_bids: int, snapshot: bool = False
    ) -> None:
        """Apply one message given as arrays: the first ``n_bids`` levels are bids."""
        levels = Levels(
            np.asarray(price, dtype=np.int64),
            np.asarray(qty, dtype=np.int64),
            np.array([0, len(price)], dtype=np.int64),
            np.array([n_bids], dtype=np.int64),
        )
        self._apply(levels, levels.for_book(), 0, snapshot)

    def _in_sequence(self, update: DepthUpdate) -> bool:
        stats = self.stats
        if update.is_snapshot:
            if not self.valid and self.invalid_reason != AWAITING_SNAPSHOT:
                stats.resyncs += 1
            self.valid = True
            self.rebuilding = False
            self.invalid_reason = None
            self._after_snapshot = True
            return True
        if not self.valid and not self.rebuilding and self.invalid_reason != AWAITING_SNAPSHOT:
            stats.skipped_while_invalid += 1
            return False
        mode = self.sequencing
        last = self.last_update_id
        if mode is None or last is None:
            return True
        spot = mode == "spot"
        if not spot and update.first >= 0 and not chains_by_prev_final(update.prev_final):
            stats.spot_rule += 1  # no pu in the data: spot diffs, chained by first
            spot = True
        if self._after_snapshot:
            if update.final < last or (spot and update.final == last):
                stats.stale_skipped += 1
                return False
            if not straddles(update.first, last, not spot):
                return self._gap(update)
            self._after_snapshot = False
            return True
        if follows(not spot, update.first, update.prev_final, last):
            return True
        return self._gap(update)

    def _gap(self, update: DepthUpdate) -> bool:
        """Count a gap and invalidate; in rebuild mode the message starts the rebuild."""
        self.stats.gaps += 1
        self._invalidate("sequence_gap", update.ts_exchange)
        return self.rebuilding

    def _apply(self, levels: Levels, prep: BookLevels, i: int, snapshot: bool) -> None:
        stats = self.stats
        stats.messages += 1
        if snapshot:
            stats.snapshots += 1
            self._qty[:] = 0
            self.best_bid = self.best_ask = None
        start = prep.starts[i]
        end = prep.ends[i]
        if start < end:
            lo = self._lo
            if prep.low[i] < lo or prep.high[i] >= lo + self._cap:
                self._grow(prep.low[i], prep.high[i])
                lo = self._lo
            book = self._qty
            book[prep.key[start:end] - 2 * lo] = prep.qty[start:end]
            best = self.best_bid
            top = prep.top_bid[i]
            if top != _LOWEST and (best is None or top > best):
                best = top
            if best is not None and book[2 * (best - lo)] == 0:
                best = self._scan_bid(best - lo)
            self.best_bid = best
            best = self.best_ask
            top = prep.top_ask[i]
            if top != _HIGHEST and (best is None or top < best):
                best = top
            if best is not None and book[2 * (best - lo) + 1] == 0:
                best = self._scan_ask(best - lo)
            self.best_ask = best
        bid, ask = self.best_bid, self.best_ask
        crossed = bid is not None and ask is not None and bid >= ask
        if crossed and not self.crossed:
            stats.crossed += 1
        self.crossed = crossed

    def _scan_bid(self, offset: int) -> int | None:
        """Best bid strictly below window offset ``offset`` (bids sit at even slots)."""
        book = self._qty
        hi = offset
        step = _RESCAN
        while hi > 0:
            lo = max(0, hi - step)
            found = np.flatnonzero(book[2 * lo : 2 * hi : 2])
            if len(found):
                return self._lo + lo + int(found[-1])
            hi = lo
            step *= 4
        return None

    def _scan_ask(self, offset: int) -> int | None:
        """Best ask strictly above window offset ``offset`` (asks sit at odd slots)."""
        book = self._qty
        cap = self._cap
        lo = offset + 1
        step = _RESCAN
        while lo < cap:
            hi = min(cap, lo + step)
            found = np.flatnonzero(book[2 * lo + 1 : 2 * hi + 1 : 2])
            if len(found):
                return self._lo + lo + int(found[0])
            lo = hi
            step *= 4
        return None

    def _grow(self, low: int, high: int) -> None:
        if self._cap == 0:
            new_lo = low - _MARGIN
            new_hi = high + _MARGIN
        else:
            extra = self._cap
            top = self._lo + self._cap
            new_lo = min(self._lo, low - extra) if low < self._lo else self._lo
            new_hi = max(top, high + extra) if high >= top else top
        width = new_hi - new_lo
        if width > MAX_WIDTH:
            raise DataError(
                f"{self.symbol} book: levels from tick {low} to {high} span more than "
                f"{MAX_WIDTH} ticks; check the instrument's tick size"
            )
        grown = np.zeros(2 * width, dtype=np.int64)
        shift = self._lo - new_lo
        grown[2 * shift : 2 * (shift + self._cap)] = self._qty
        self._qty = grown
        self._lo = new_lo
        self._cap = width

    # -- reading --------------------------------------------------------------------------

    def qty_at(self, side: int, price: int) -> int:
        """Size (lots) resting at ``price`` on ``side`` (``BID`` or ``ASK``)."""
        offset = price - self._lo
        if not 0 <= offset < self._cap:
            return 0
        return int(self._qty[2 * offset + (side == ASK)])

    @property
    def best_bid_qty(self) -> int:
        return 0 if self.best_bid is None else self.qty_at(BID, self.best_bid)

    @property
    def best_ask_qty(self) -> int:
        return 0 if self.best_ask is None else self.qty_at(ASK, self.best_ask)

    @property
    def mid(self) -> float | None:
        """Mid price in ticks (may be a half tick), None if a side is empty."""
        if self.best_bid is None or self.best_ask is None:
            return None
        return (self.best_bid + self.best_ask) / 2

    @property
    def spread(self) -> int | None:
        """Best ask minus best bid in ticks, None if a side is empty."""
        if self.best_bid is None or self.best_ask is None:
            return None
        return self.best_ask - self.best_bid

    def levels(self, side: int, n: int) -> tuple[IntArray, IntArray]:
        """The best ``n`` levels of ``side``: prices (best first) and sizes.

        Scans outward from the best price in growing chunks, so reading the top of a wide
        book costs little.
        """
        best = self.best_bid if side == BID else self.best_ask
        if best is None or n <= 0:
            return _EMPTY, _EMPTY
        book = self._qty
        origin = best - self._lo
        found: list[IntArray] = []
        count = 0
        reach = max(4 * n, _RESCAN)
        done = 0
        while count < n:
            if side == BID:
                hi = origin + 1 - done
                lo = max(0, hi - reach)
                part = np.flatnonzero(book[2 * lo : 2 * hi : 2])[::-1] + lo
                exhausted = lo == 0
            else:
                lo = origin + done
                hi = min(self._cap, lo + reach)
                part = np.flatnonzero(book[2 * lo + 1 : 2 * hi + 1 : 2]) + lo
                exhausted = hi == self._cap
            found.append(part)
            count += len(part)
            done += reach
            reach *= 4
            if exhausted:
                break
        offsets = np.concatenate(found)[:n] if len(found) > 1 else found[0][:n]
        slots = 2 * offsets + (side == ASK)
        return offsets + self._lo, book[slots]

    def depth(self, side: int, n: int) -> IntArray:
        """Cumulative size of the best ``n`` levels of ``side``."""
        return np.cumsum(self.levels(side, n)[1])

    def impact_price(self, side: int, lots: int) -> float | None:
        """Average price (ticks) to take ``lots`` from ``side``; None if the side is too thin.

        ``side`` is the side consumed: ``ASK`` for a buy, ``BID`` for a sell.
        """
        if lots <= 0:
            return None
        n = 64
        while True:
            prices, sizes = self.levels(side, n)
            filled = np.cumsum(sizes)
            if len(filled) and filled[-1] >= lots:
                k = int(np.searchsorted(filled, lots))
                taken = sizes[: k + 1].copy()
                taken[k] -= int(filled[k]) - lots
                return float(np.dot(prices[: k + 1], taken)) / lots
            if len(prices) < n:
                return None
            n *= 4

    def impact_lots_for_notional(self, side: int, notional_ticks_lots: float) -> int:
        """Lots takeable from ``side`` until ``sum(price * lots)`` reaches the given amount
        (in tick-lot units: multiply by ``tick_size * lot_size`` for the quote amount)."""
        n = 64
        while True:
            prices, sizes = self.levels(side, n)
            spent = np.cumsum(prices * sizes)
            if len(spent) and spent[-1] >= notional_ticks_lots:
                k = int(np.searchsorted(spent, notional_ticks_lots))
                before = float(spent[k - 1]) if k else 0.0
                return int(np.sum(sizes[:k])) + int((notional_ticks_lots - before) // prices[k])
            if len(prices) < n:
                return int(np.sum(sizes))
            n *= 4

    def snapshot(self, n: int | None = None) -> dict[str, list[tuple[int, int]]]:
        """Levels as plain lists (best first), for tests and debugging."""
        width = self._cap if n is None else n
        bids = self.levels(BID, width)
        asks = self.levels(ASK, width)
        return {
            "bids": list(zip(bids[0].tolist(), bids[1].tolist(), strict=True)),
            "asks": list(zip(asks[0].tolist(), asks[1].tolist(), strict=True)),
        }


_EMPTY = np.empty(0, dtype=np.int64)
_LOWEST = int(np.iinfo(np.int64).min)
_HIGHEST = int(np.iinfo(np.int64).max)
