"""Snapshot times kept within their neighbours': the one rule for a snapshot stamped by
another clock than the diffs around it.

A venue's REST snapshot (and a vendor's snapshot message built from one) carries the time
the snapshot server took it, which may lie before a diff received before it or after one
received after it. Replaying it at that time would reorder the stream; the rule moves its
``ts_exchange`` to ``max(latest before, min(its time, earliest after))`` and leaves update
ids, receive times and levels alone. Callers say in a note what was moved.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]

_LOW = np.iinfo(np.int64).min
_HIGH = np.iinfo(np.int64).max


def snapshots_within_neighbours(
    ts: IntArray, is_snapshot: npt.NDArray[np.bool_], before: int = _LOW
) -> IntArray:
    """``ts`` with each snapshot's time moved within the times of the diffs around it.

    ``before`` is the latest time already delivered ahead of ``ts`` (a previous batch of
    the same stream); diffs are never moved.
    """
    snapshot = np.asarray(is_snapshot, dtype=np.bool_)
    if not snapshot.any():
        return ts
    prior = np.concatenate(([before], np.where(snapshot, _LOW, ts)[:-1]))
    diffs_before = np.maximum.accumulate(prior)
    after = np.minimum.accumulate(np.where(snapshot, _HIGH, ts)[::-1])[::-1]
    diffs_after = np.concatenate((after[1:], [_HIGH]))
    fixed: IntArray = np.where(snapshot, np.maximum(diffs_before, np.minimum(ts, diffs_after)), ts)
    return fixed


def shift_text(shift: IntArray) -> str:
    """How far snapshots moved, in ms: ``"3 ms"`` or ``"1 to 12.5 ms"``."""
    least, most = int(shift.min()) / 1e6, int(shift.max()) / 1e6
    return f"{least:g} ms" if least == most else f"{least:g} to {most:g} ms"
