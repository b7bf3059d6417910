"""Duplicate depth messages are seen: exact copies are counted (one replayed), conflicting
copies (same update ids, other levels) fail or are quarantined, within a row group, across
row groups and across files."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_cryptohftdata import (
    DAY,
    START,
    START_MS,
    book_table_of,
    one_stream,
    quarantined,
    replay,
    three_level_messages,
)

import streamsim as ss
from adapters.cli import main
from adapters.cryptohftdata.orderbook import CONFLICTING, EXACT_NOTE

HOUR = ["--symbol", "BTCUSDT", "--start", "2025-07-01T12:00:00Z", "--end", "2025-07-01T12:59:59Z"]


def with_copy(table: pa.Table, message: int, *, at: int, delay_ns: int = 7, edit: bool = False):
    """``table`` with a second copy of message ``message`` (its rows, received ``delay_ns``
    later; ``edit``: one size changed) inserted before row ``at``."""
    final = table["final_update_id"].to_numpy()
    recv = table["received_time"].to_numpy()
    mine = final == np.unique(final)[message]
    rows = np.flatnonzero(mine & (recv == recv[mine].min()))  # the original's rows only
    copy = table.take(pa.array(rows))
    recv = copy["received_time"].to_numpy() + delay_ns
    copy = copy.set_column(0, "received_time", pa.array(recv, pa.int64()))
    if edit:
        qty = copy["quantity"].to_pylist()
        qty[0] = "9.000"
        copy = copy.set_column(copy.schema.get_field_index("quantity"), "quantity", pa.array(qty))
    return pa.concat_tables([table.slice(0, at), copy, table.slice(at)])


def write_book(root: Path, table: pa.Table, name: str = "orderbook_12.parquet", **options) -> Path:
    path = root / "orderbook" / DAY / name
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, **options)
    return path


@pytest.mark.parametrize("where", ["same row group", "later row group"])
def test_an_exact_copy_is_counted_and_replayed_once(tmp_path: Path, where: str) -> None:
    table = book_table_of(three_level_messages(10))
    at = 9 if where == "same row group" else table.num_rows  # row 9: message 3, after 2
    options = {"row_group_size": 6} if where == "later row group" else {}
    write_book(tmp_path, with_copy(table, 2, at=at), **options)
    source = one_stream(tmp_path, "depth")  # policy "fail": an exact copy does not fail
    _, seen = replay([source])
    assert [u.final for u in seen.depth] == list(range(100, 110))
    assert any(f"1 {EXACT_NOTE}" in note for note in source.notes)


def test_a_conflicting_copy_fails_naming_file_and_row(tmp_path: Path) -> None:
    table = book_table_of(three_level_messages(10))
    path = write_book(tmp_path, with_copy(table, 4, at=table.num_rows, edit=True))
    with pytest.raises(ss.DataError) as caught:
        replay([one_stream(tmp_path, "depth")])
    text = str(caught.value)
    assert f"{path}, row 12, column 'final_update_id': {CONFLICTING}" in text


def test_a_conflicting_copy_is_quarantined_whole_and_counted(tmp_path: Path) -> None:
    table = book_table_of(three_level_messages(10))
    write_book(tmp_path, with_copy(table, 4, at=3, edit=True), row_group_size=8)
    quarantine = ss.Quarantine(tmp_path / "q.jsonl")
    result, seen = replay(
        [one_stream(tmp_path, "depth", policy="quarantine", quarantine=quarantine)]
    )
    quarantine.close()
    line, gap = quarantined(tmp_path / "q.jsonl")
    assert line["reason"] == CONFLICTING and line["record"]["final_update_id"] == 104
    assert line["record"]["copies"] == 2
    # Dropping both copies breaks the update-id chain: the next message records the gap.
    assert gap["reason"].startswith("sequence gap") and gap["record"]["final_update_id"] == 105
    counts = result.quality.quarantined["BTCUSDT.depth"]
    assert counts[CONFLICTING] == 1 and sum(counts.values()) == 2
    assert 104 not in [u.final for u in seen.depth]  # neither copy: the book sees the gap


def test_copies_across_files_are_told_apart(tmp_path: Path) -> None:
    table = book_table_of(three_level_messages(4))
    write_book(tmp_path, table)
    final = table["final_update_id"].to_numpy()
    last = table.filter(pa.array(final == 103))
    nxt = book_table_of(three_level_messages(2), START_MS + 3_600_000, 104)
    # The next file starts with an exact copy of message 103, received again.
    recv = last["received_time"].to_numpy() + 11
    copy = last.set_column(0, "received_time", pa.array(recv, pa.int64()))
    write_book(tmp_path, pa.concat_tables([copy, nxt]), "orderbook_13.parquet")
    window = (START, START + 2 * ss.HOUR - 1)
    source = one_stream(tmp_path, "depth", window=window)
    _, seen = replay([source])
    assert [u.final for u in seen.depth] == [100, 101, 102, 103, 104, 105]
    assert any(f"1 {EXACT_NOTE}" in note for note in source.notes)


@given(
    st.lists(
        st.tuples(st.integers(0, 11), st.booleans(), st.integers(1, 50)),
        max_size=4,
        unique_by=lambda copy: copy[2],  # copies received at one instant would be one message
    ),
    st.sampled_from([4, 7, 1000]),
)
@settings(max_examples=40, deadline=None)
def test_any_mix_of_copies_is_counted_exactly(
    tmp_path_factory: pytest.TempPathFactory, copies: list[tuple[int, bool, int]], group: int
) -> None:
    """Each extra copy is either counted as exact or makes its message conflicting; the
    replayed messages are the others, once each, in order."""
    root = tmp_path_factory.mktemp("dups")
    table = book_table_of(three_level_messages(12))
    conflicting: set[int] = set()
    for message, edit, delay in copies:
        table = with_copy(table, message, at=table.num_rows, delay_ns=delay, edit=edit)
        if edit:
            conflicting.add(message)
    exact = sum(1 for message, edit, _ in copies if not edit and message not in conflicting)
    write_book(root, table, row_group_size=group)
    quarantine = ss.Quarantine(root / "q.jsonl")
    source = one_stream(root, "depth", policy="quarantine", quarantine=quarantine)
    result, seen = replay([source])
    quarantine.close()
    assert [u.final for u in seen.depth] == [100 + i for i in range(12) if i not in conflicting]
    got = dict(result.quality.quarantined.get("BTCUSDT.depth", {}))
    assert got.pop(CONFLICTING, 0) == len(conflicting)
    # Each run of dropped messages between two kept ones breaks the update-id chain once.
    kept = [i for i in range(12) if i not in conflicting]
    gaps = sum(1 for a, b in itertools.pairwise(kept) if b - a > 1)
    assert sum(got.values()) == gaps
    assert all(reason.startswith("sequence gap") for reason in got)
    noted = [n for n in source.notes if EXACT_NOTE in n]
    assert noted == ([f"BTCUSDT.depth: {exact:,} {EXACT_NOTE}"] if exact else [])


def test_validate_lists_conflicting_copies_and_notes_exact_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = book_table_of(three_level_messages(10))
    write_book(tmp_path, with_copy(with_copy(table, 2, at=9), 6, at=0, edit=True))
    code = main(["validate", str(tmp_path), *HOUR, "--kinds", "depth"])
    out = capsys.readouterr().out
    assert code == 1
    assert f"1 x {CONFLICTING}" in out
    assert f"1 {EXACT_NOTE}" in out


def test_a_trade_id_repeated_two_row_groups_later_is_a_duplicate(tmp_path: Path) -> None:
    from test_cryptohftdata import TRADES_KEY, trades_table

    table = trades_table(30)
    ids = table["trade_id"].to_pylist()
    ids[25] = ids[2]  # 23 rows later: three row groups of 10 rows apart
    table = table.set_column(table.schema.get_field_index("trade_id"), "trade_id", pa.array(ids))
    path = tmp_path / TRADES_KEY
    path.parent.mkdir(parents=True)
    pq.write_table(table, path, row_group_size=10)
    with pytest.raises(ss.DataError, match=r"row 25, column 'trade_id': duplicate trade_id"):
        replay([one_stream(tmp_path, "trades")])
