"""Examples and the README's code run as they are, so they never rot."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quickstart_example_runs_and_reports() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    out = done.stdout
    # The bundled sample: the real 2023 BTCUSDT recording plus synthetic open interest.
    assert "BTCUSDT.depth: 16,111/16,111 delivered" in out
    assert "BTCUSDT.trades: 12,935/12,935 delivered" in out
    assert "BTCUSDT.mark_price: 514/514 delivered" in out
    assert "BTCUSDT.open_interest: 2/2 delivered, causal_quantile(q=0.5" in out
    assert "open_interest of the bundled sample is synthetic" in out
    acks = re.search(r"ack round trips \(ms\): \[(.*)\]", out)
    assert acks is not None
    rounds = [float(x) for x in acks.group(1).split(",")]
    assert len(rounds) == 8 and min(rounds) >= 10.0  # two legs, each floored at 5 ms
    fills = re.search(r"fills: (\d+) \((\d+) maker\), lots bought: (\d+)", out)
    assert fills is not None and int(fills.group(1)) > 0 and int(fills.group(3)) > 0
    assert re.search(r"total return -?\d+\.\d+%, max drawdown \d+\.\d+%", out)


def test_readme_strategy_block_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert blocks, "README has no python block"
    namespace: dict[str, object] = {"__name__": "readme"}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    result = namespace["result"]
    assert result.total_events == 100_000  # type: ignore[attr-defined]
    assert result.orders_submitted > 0  # type: ignore[attr-defined]


def test_readme_paper_live_block_runs_the_same_strategy_on_the_wall_clock() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    namespace: dict[str, object] = {"__name__": "readme"}
    exec(compile(blocks[0] + blocks[1], "README.md", "exec"), namespace)
    paper = namespace["paper"]
    assert paper.total_events == 16_000  # type: ignore[attr-defined]
    assert paper.orders_submitted > 0  # type: ignore[attr-defined]
    assert not paper.interrupted  # type: ignore[attr-defined]


def test_concepts_example_runs() -> None:
    text = (ROOT / "docs" / "concepts.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    namespace: dict[str, object] = {"__name__": "concepts"}
    exec(compile(blocks[-1], "docs/concepts.md", "exec"), namespace)
    acks = namespace["strategy"].acks  # type: ignore[attr-defined]
    assert len(acks) >= 5 and all(a >= 10 * 1_000_000 for a in acks)
