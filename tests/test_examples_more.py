"""The paper-replay, custom-strategy and read-results examples run as they are."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_example(name: str) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / name)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=ROOT,
    )
    return done.stdout


def test_paper_replay_is_paced_and_cut_at_end() -> None:
    out = run_example("paper_replay.py")
    paced = re.search(r"paced replay: ([\d.]+) simulated s in ([\d.]+) wall s \(speed 10x\)", out)
    assert paced is not None
    simulated, wall = float(paced.group(1)), float(paced.group(2))
    assert 15.0 <= simulated <= 20.0  # cut by end= at the sample's start + 20 s
    assert wall >= 0.8 * simulated / 10  # paced: not faster than 10x wall clock
    depth = re.search(r"BTCUSDT\.depth: ([\d,]+)/16,111 delivered", out)
    assert depth is not None and 0 < int(depth.group(1).replace(",", "")) < 16_111
    fills = re.search(r"orders: (\d+), fills: (\d+) \((\d+) maker\)", out)
    assert fills is not None and int(fills.group(1)) > 0


def test_custom_strategy_trades() -> None:
    out = run_example("custom_strategy.py")
    trips = re.search(r"round trips: (\d+), fills: (\d+), position: (-?\d+)", out)
    assert trips is not None and int(trips.group(1)) > 0 and int(trips.group(2)) > 0
    assert re.search(r"equity: [\d,]+\.\d\d USDT, ledger: \{'deposit': 10000\.0", out)


def test_read_results_prints_every_part() -> None:
    out = run_example("read_results.py")
    for header in ("== summary", "== data quality", "== exchange report", "== metrics"):
        assert header in out
    assert "BTCUSDT.trades: rows 12,935, delivered 12,935" in out
    assert "open_interest of the bundled sample is synthetic" in out
    maker = re.search(r"^maker_fills: (\d+)$", out, flags=re.M)
    assert maker is not None and int(maker.group(1)) > 0
    assert "ledger sums to wallet: True" in out
    assert re.search(r"^total_return: -?\d", out, flags=re.M)
