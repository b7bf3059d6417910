"""The Binance capture reader checks each symbol's depth update-id chain.

A futures diff's ``pu`` must be the previous diff's ``u``; a spot diff (no ``pu``) must
have ``U`` equal to the previous diff's ``u + 1``; REST snapshots are outside the chain.
Under ``policy="fail"`` a break raises :class:`DataError` naming the file and line of the
diff that breaks it; under ``"quarantine"`` the break is recorded and counted, the diff is
kept, and the run's book sees the gap and resyncs. The real captures show no break.
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers import Recorder

import streamsim as ss
from adapters.binance import capture_sources, read_capture
from adapters.binance.capture import CHAIN_REASONS, chain_breaks
from adapters.binance.sample import SAMPLE_INSTRUMENT
from streamsim.errors import DataError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
USDM = SHARED / "binance-usdm-capture"
SPOT = SHARED / "binance-spot-capture"
FUTURES_WS = SHARED / "binance-futures-ws"
PATHS = [USDM / "btcusdt_20230404.dat.gz", USDM / "btcusdt_20230405.dat.gz"]
SYMBOL = "BTCUSDT"
DIFFS = 16_110


def _without_a_diff(source: Path, target: Path, which: float = 0.5) -> tuple[int, dict[str, Any]]:
    """Copy ``source`` to ``target`` (gzip) without one depthUpdate line, about ``which`` of
    the way through; returns the line number in ``target`` of the next depthUpdate (where
    the chain breaks) and the removed diff."""
    with gzip.open(source, "rb") as f:
        lines = f.read().split(b"\n")
    diffs = [i for i, line in enumerate(lines) if b'"depthUpdate"' in line]
    gone = diffs[int(len(diffs) * which)]
    removed = orjson.loads(lines[gone].split(b" ", 1)[1])["data"]
    kept = lines[:gone] + lines[gone + 1 :]
    with gzip.open(target, "wb") as f:
        f.write(b"\n".join(kept))
    following = next(i for i in diffs if i > gone)
    return following, removed  # 0-based in source = 1-based in target (one line gone)


def test_intact_real_captures_show_no_chain_break() -> None:
    recordings = {
        "usdm 2023": (PATHS, "pu"),
        "usdm 2024": ([USDM / "btcusdt_20240808.gz"], "pu"),
        "spot": (sorted(SPOT.glob("*.dat.gz")), "U"),
        "futures-ws": (sorted(p for p in FUTURES_WS.iterdir()), "pu"),
    }
    for name, (paths, field) in recordings.items():
        capture = read_capture(paths, off_grid="drop")  # policy "fail": a break would raise
        for symbol, data in capture.symbols.items():
            depth = data.depth
            index, _, _ = chain_breaks(depth)
            assert len(index) == 0, (name, symbol)
            diffs = int((~depth.is_snapshot).sum())
            assert diffs > 100, (name, symbol)
            # The rule checked is the venue's: pu on futures, U on spot.
            spot = bool((depth.prev_final[~depth.is_snapshot] < 0).all())
            assert spot == (field == "U"), (name, symbol)


def test_policy_fail_names_the_file_and_line_of_a_missing_depth_update(tmp_path: Path) -> None:
    damaged = tmp_path / "btcusdt_20230405.dat.gz"
    line, removed = _without_a_diff(PATHS[1], damaged)
    with pytest.raises(DataError) as info:
        read_capture([PATHS[0], damaged], {SYMBOL: SAMPLE_INSTRUMENT})
    text = str(info.value)
    assert text.startswith(f"{damaged}, line {line}, column 'pu': sequence gap")
    assert f"pu {removed['u']}, expected {removed['pu']};" in text  # the removed diff's ids
    assert "policy='quarantine'" in text


def test_a_quarantined_chain_break_is_counted_and_the_book_resyncs(tmp_path: Path) -> None:
    damaged = tmp_path / "btcusdt_20230405.dat.gz"
    line, removed = _without_a_diff(PATHS[1], damaged)
    quarantine = ss.Quarantine(tmp_path / "q.jsonl")
    sources = capture_sources(
        [PATHS[0], damaged],
        {SYMBOL: SAMPLE_INSTRUMENT},
        policy="quarantine",
        quarantine=quarantine,
    )
    recorder = Recorder()
    result = ss.run_backtest(sources, recorder)
    quarantine.close()

    [record] = [json.loads(x) for x in (tmp_path / "q.jsonl").read_text().splitlines()]
    assert (record["file"], record["row"], record["column"]) == (str(damaged), line, "pu")
    assert record["stream"] == f"{SYMBOL}.depth"
    assert (record["record"]["pu"], record["record"]["expected_pu"]) == (
        removed["u"],
        removed["pu"],
    )
    assert quarantine.summary() == {f"{SYMBOL}.depth": {CHAIN_REASONS["pu"]: 1}}
    # The diff after the gap is kept (it is not bad in itself): every other diff arrives.
    assert result.events[f"{SYMBOL}.depth"] == DIFFS - 1 + 1
    book = result.quality.books[SYMBOL]
    assert book["gaps"] == 1 and book["rebuilds"] == 1, book
    assert recorder.ctx is not None and recorder.ctx.books[SYMBOL].valid
    assert result.quality.quarantined[f"{SYMBOL}.depth"] == {CHAIN_REASONS["pu"]: 1}


def test_a_spot_capture_is_chained_by_first_update_id(tmp_path: Path) -> None:
    damaged = tmp_path / "nexousdt_20240723.dat.gz"
    line, removed = _without_a_diff(SPOT / "nexousdt_20240723.dat.gz", damaged, 0.3)
    with pytest.raises(DataError) as info:
        read_capture(damaged)
    text = str(info.value)
    assert text.startswith(f"{damaged}, line {line}, column 'U': sequence gap")
    assert f"U {removed['u'] + 1}, expected {removed['U']};" in text


# -- seeded fuzz: deleted diffs are found exactly where the chain resumes ------------------


def _diff(first: int, final: int, prev: int | None) -> dict[str, Any]:
    data: dict[str, Any] = {"e": "depthUpdate", "E": 1_700_000_000_000 + final, "s": SYMBOL}
    data |= {"U": first, "u": final, "b": [["99.0", "1.000"]], "a": [["101.0", "1.000"]]}
    if prev is not None:
        data["pu"] = prev
    return {"stream": "btcusdt@depth", "data": data}


def _snapshot(last: int) -> dict[str, Any]:
    return {"lastUpdateId": last, "E": 1_700_000_000_000 + last, "bids": [], "asks": []}


@pytest.mark.parametrize("spot", [False, True])
def test_deleted_diffs_break_the_chain_exactly_where_it_resumes(tmp_path: Path, spot: bool) -> None:
    rng = random.Random(11 + spot)
    for round_ in range(25):
        n = rng.randint(2, 30)
        ids = [(10 * k + 1, 10 * k + rng.randint(1, 10)) for k in range(1, n + 1)]
        messages = [
            _diff(first, final, None if spot else (ids[k - 1][1] if k else 10))
            for k, (first, final) in enumerate(ids)
        ]
        if spot:  # spot ids are contiguous: U is the previous u + 1
            messages = [_diff(10 * k + 1, 10 * k + 10, None) for k in range(1, n + 1)]
        deleted = {k for k in range(n) if rng.random() < 0.25} - {rng.randrange(n)}
        lines, expected = [], []
        snapshot_at = rng.randint(0, n)
        for k, message in enumerate(messages):
            if k == snapshot_at:  # outside the chain: never a break, wherever it sits
                lines.append(_snapshot(10 * k + 5))
            if k in deleted:
                continue
            lines.append(message)
            kept_before = [j for j in range(k) if j not in deleted]
            if kept_before and kept_before[-1] != k - 1:
                expected.append(len(lines))  # 1-based line of this diff
        path = tmp_path / f"{spot}-{round_}.dat"
        path.write_bytes(
            b"".join(
                str(1_700_000_000_000_000 + 1000 * i).encode() + b" " + orjson.dumps(m) + b"\n"
                for i, m in enumerate(lines)
            )
        )
        quarantine = ss.Quarantine(tmp_path / f"q-{spot}-{round_}.jsonl")
        read_capture(path, policy="quarantine", quarantine=quarantine)
        quarantine.close()
        records = [json.loads(x) for x in quarantine.path.read_text().splitlines()]
        assert [r["row"] for r in records] == expected, (round_, deleted)
        assert {r["column"] for r in records} <= {"U" if spot else "pu"}
        if expected:
            with pytest.raises(DataError, match=rf"line {expected[0]}, column '"):
                read_capture(path)
        else:
            read_capture(path)


def test_spot_data_run_with_the_default_sequencing_is_checked_by_the_spot_rule_and_noted(
    tmp_path: Path,
) -> None:
    path = tmp_path / "spot.gz"
    lines = [f"{1_700_000_000_000_000 + 100} {json.dumps(_snapshot(100))}"]
    lines += [
        f"{1_700_000_000_000_000 + 1000 * i} {json.dumps(_diff(100 + i, 100 + i, None))}"
        for i in range(1, 20)
    ]
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    result = ss.run_backtest(
        capture_sources([path], {SYMBOL: SAMPLE_INSTRUMENT}),
        Recorder(),
        exchange=ss.SimExchange([SAMPLE_INSTRUMENT], mark_fallback="mid"),
    )
    for side in (result.quality.books, result.quality.exchange_books):
        assert side[SYMBOL]["gaps"] == 0 and side[SYMBOL]["spot_rule"] >= 15, side
    assert any("spot rule" in note for note in result.quality.notes)
