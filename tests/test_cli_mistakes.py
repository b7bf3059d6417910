"""User mistakes through the installed ``streamsim`` command: one line naming the culprit,
the documented exit code, never a traceback; values are checked before the run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import adapters.cli.run
from adapters.cli import main

ROOT = Path(__file__).resolve().parent.parent
COMMAND = Path(sys.executable).with_name("streamsim")
SAMPLE = '[data]\nadapter = "sample"\nkinds = ["trades", "mark_price"]\n'
MM = '[strategy]\nclass = "strategies.market_maker:MarketMaker"\n'


def streamsim(
    *args: str, cwd: Path, extra_path: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The installed command, with this checkout's code first on the path."""
    return subprocess.run(
        [str(COMMAND), *args],
        cwd=cwd,
        env=_env(extra_path),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def _env(extra_path: Path | None = None) -> dict[str, str]:
    paths = [str(ROOT)] + ([str(extra_path)] if extra_path else [])
    paths += [os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    env.pop("STREAMSIM_DEBUG", None)
    return env


def one_line_error(done: subprocess.CompletedProcess[str], code: int = 2) -> str:
    """The output of a command that failed with ``code`` and one line, no traceback."""
    output = done.stdout + done.stderr
    assert done.returncode == code, output
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    return lines[0]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


pytestmark = pytest.mark.skipif(not COMMAND.exists(), reason="streamsim is not installed")


# -- the strategy ----------------------------------------------------------------------------

STRATEGY_FILES = {
    "syntax.py": ("import streamsim as ss\nclass S(ss.Strategy)\n    pass\n", "S"),
    "imports.py": ("import streamsim as ss\nimport no_such_package_xyz\n", "S"),
    "raises.py": ("import streamsim as ss\nVALUE = 1 / 0\n", "S"),
    "ctor.py": (
        "import streamsim as ss\n\n\nclass S(ss.Strategy):\n"
        "    def __init__(self, qty: int = 1) -> None:\n"
        "        raise ValueError(f'qty {qty} is too big')\n\n\nNOT_A_CLASS = 3\n",
        "S",
    ),
}


@pytest.mark.parametrize(
    ("file", "cls", "params", "expected"),
    [
        ("syntax.py", "S", "", ["syntax.py, line 2: syntax error"]),
        ("imports.py", "S", "", ["imports.py, line 2: import failed", "no_such_package_xyz"]),
        ("raises.py", "S", "", ["raises.py, line 2: raised while importing", "ZeroDivision"]),
        (
            "ctor.py",
            "S",
            "params = {qty = 3}\n",
            ["S(qty=3) raised ValueError: qty 3 is too big", "ctor.py, line 6"],
        ),
        ("ctor.py", "Nope", "", ["strategy class not found: Nope", "it has S"]),
        ("ctor.py", "NOT_A_CLASS", "", ["NOT_A_CLASS is not a streamsim.Strategy subclass"]),
        ("missing.py", "S", "", ["strategy file not found", "missing.py"]),
    ],
)
def test_a_broken_strategy_file_is_one_line_naming_file_line_or_class(
    tmp_path: Path, file: str, cls: str, params: str, expected: list[str]
) -> None:
    for name, (text, _) in STRATEGY_FILES.items():
        write(tmp_path / name, text)
    config = write(tmp_path / "c.toml", f'{SAMPLE}[strategy]\nclass = "{file}:{cls}"\n{params}')
    line = one_line_error(streamsim("run", str(config), "--out", "o", cwd=tmp_path))
    for part in expected:
        assert part in line
    assert not (tmp_path / "o").exists()


def test_a_strategy_module_whose_own_import_fails_says_which_import(tmp_path: Path) -> None:
    write(tmp_path / "my_strategies.py", "import streamsim as ss\nfrom no_such_lib import x\n")
    config = write(tmp_path / "c.toml", f'{SAMPLE}[strategy]\nclass = "my_strategies:S"\n')
    done = streamsim("run", str(config), cwd=tmp_path, extra_path=tmp_path)
    line = one_line_error(done)
    assert "strategy module my_strategies" in line and "No module named 'no_such_lib'" in line
    assert "my_strategies.py, line 2" in line
    config = write(tmp_path / "c.toml", f'{SAMPLE}[strategy]\nclass = "not_there_at_all:S"\n')
    line = one_line_error(streamsim("run", str(config), cwd=tmp_path, extra_path=tmp_path))
    assert "strategy module not found: not_there_at_all" in line


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ("{qty = 1.5}", "strategy.params.qty: MarketMaker takes int, got float 1.5 (a fraction"),
        ("{qty = true}", "strategy.params.qty: MarketMaker takes int, got bool True"),
        ("{half_spread = 'wide'}", "strategy.params.half_spread: MarketMaker takes float"),
        ("{qtty = 1}", "strategy.params.qtty: MarketMaker has no such parameter; it takes:"),
        ("{symbol = 7}", "strategy.params.symbol: MarketMaker takes str, got int 7"),
        ("{skew = nan}", "strategy.params.skew: expected a finite number, got nan"),
    ],
)
def test_strategy_params_are_checked_against_the_constructor_before_the_run(
    tmp_path: Path, params: str, expected: str
) -> None:
    config = write(tmp_path / "c.toml", f"{SAMPLE}{MM}params = {params}\n")
    line = one_line_error(streamsim("run", str(config), "--out", "o", cwd=tmp_path))
    assert expected in line
    assert not (tmp_path / "o").exists()


# -- the config file and its values ------------------------------------------------------------


def test_a_config_path_that_is_no_toml_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    write(tmp_path / "broken.toml", f"{SAMPLE}{MM}[run\nspeed = 2\n")
    (tmp_path / "binary.toml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    cases = {
        "folder": "config folder is a directory",
        "absent.toml": "config file not found: absent.toml",
        "broken.toml": "broken.toml: invalid TOML: ",
        "binary.toml": "binary.toml: not a TOML file (not UTF-8 text at byte",
    }
    for name, expected in cases.items():
        line = one_line_error(streamsim("run", name, cwd=tmp_path))
        assert expected in line
    assert "(at line 6, column 5)" in one_line_error(streamsim("run", "broken.toml", cwd=tmp_path))


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads anything")
def test_an_unreadable_config_is_one_line(tmp_path: Path) -> None:
    config = write(tmp_path / "secret.toml", f"{SAMPLE}{MM}")
    config.chmod(0)
    line = one_line_error(streamsim("run", str(config), cwd=tmp_path))
    assert "secret.toml cannot be read: Permission denied" in line


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--set", "exchange.initial_balance=0"], "exchange.initial_balance: expected > 0"),
        (["--set", "exchange.fees.taker=nan"], "exchange.fees.taker: expected a finite number"),
        (["--set", "exchange.fees.maker=-inf"], "exchange.fees.maker: expected a finite number"),
        (["--set", "exchange.fees.taker=5"], "exchange.fees.taker: expected a fraction"),
        (["--set", "exchange.participation=nan"], "exchange.participation: expected a finite"),
        (["--set", "run.seed=18446744073709551616"], "run.seed: expected a seed in 0..2**64-1"),
        (["--set", "run.seed=-1"], "run.seed: expected a seed in 0..2**64-1, got -1"),
        (["--speed", "nan"], "run.speed: expected a finite number, got nan"),
        (["--speed", "inf"], "run.speed: expected a finite number, got inf"),
        (["--speed", "-2"], "run.speed: expected a number > 0, got -2.0"),
        (["--set", "latency.entry=-5"], "latency.entry: expected a duration"),
        (["--set", "run.linger=-1"], "run.linger: expected a duration >= 0, got -1 ns"),
        (["--set", "exchange.leverage=0"], "exchange.leverage: expected an integer >= 1"),
        (["--set", "exchange.leverage=2.5"], "exchange.leverage: expected int"),
        (
            [
                "--set",
                "exchange.brackets={BTCUSDT=[{notional_cap=0.0, max_leverage=5, "
                "maint_margin_rate=0.01}]}",
            ],
            "exchange.brackets.BTCUSDT[0].notional_cap: expected a number > 0",
        ),
        (
            ["--set", "feed.trades={model='causal_quantile', q=1.5}"],
            "feed.trades.q: expected a quantile in [0, 1], got 1.5",
        ),
    ],
)
def test_bad_values_are_named_before_the_run(
    tmp_path: Path, options: list[str], expected: str
) -> None:
    config = write(tmp_path / "c.toml", f"{SAMPLE}{MM}")
    line = one_line_error(streamsim("run", str(config), "--out", "o", *options, cwd=tmp_path))
    assert expected in line
    assert not (tmp_path / "o").exists()


# -- Ctrl-C, --debug and bugs ------------------------------------------------------------------

SLOW = '''
import json
import os
import time
from pathlib import Path

import streamsim as ss

if os.environ.get("SLOW_IMPORT"):
    Path(os.environ["SLOW_IMPORT"]).write_text("importing")
    time.sleep(60)


class Slow(ss.Strategy):
    """Marks its first trade in a file (then blocks ``stall`` s), then takes 2 ms of wall
    time per trade."""

    def __init__(self, marker: str, stall: float = 0.0) -> None:
        self.marker = Path(marker)
        self.stall = stall

    async def on_trade(self, trade: object) -> None:
        if not self.marker.exists():
            self.marker.write_text("running")
            time.sleep(self.stall)
        time.sleep(0.002)
'''


def _interrupt_when(
    marker: Path,
    tmp_path: Path,
    env: dict[str, str],
    *flags: str,
    times: int = 1,
    stall: float = 0.0,
) -> tuple[int, str]:
    """Run the slow strategy, SIGINT it ``times`` times (0.2 s apart) once ``marker``
    exists; (exit code, output)."""
    write(tmp_path / "slow.py", SLOW)
    params = f'params = {{marker = "{tmp_path / "running"}", stall = {stall}}}\n'
    config = write(tmp_path / "c.toml", f'{SAMPLE}[strategy]\nclass = "slow.py:Slow"\n{params}')
    process = subprocess.Popen(
        [str(COMMAND), "run", str(config), "--out", str(tmp_path / "o"), *flags],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for _ in range(1200):
        if marker.exists() or process.poll() is not None:
            break
        time.sleep(0.05)
    assert marker.exists(), "the run never got there"
    for i in range(times):
        if i:
            time.sleep(0.2)
        process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    return process.returncode, stdout + stderr


@pytest.mark.parametrize("mode", ["backtest", "paper-replay"])
def test_one_ctrl_c_during_a_run_stops_it_there_and_writes_the_results(
    tmp_path: Path, mode: str
) -> None:
    # Changed in issue 13: one Ctrl-C used to abort with nothing written.
    code, output = _interrupt_when(tmp_path / "running", tmp_path, _env(), "--mode", mode)
    assert code == 130, output
    assert "Traceback" not in output
    assert "stopped by Ctrl-C at 2023-04-0" in output
    assert f"artifacts written to {tmp_path / 'o'}" in output
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    notes = manifest["run"]["quality"]["notes"]
    assert any(n.startswith("stopped by the user at 2023-04-0") for n in notes), notes
    run = manifest["run"]
    assert run["end_time"] < 1_680_653_215 * 10**9  # before the sample's end
    assert sum(run["events"].values()) < 29_000  # the whole sample is ~29,500


def test_a_second_ctrl_c_aborts_a_run_that_has_not_stopped_yet(tmp_path: Path) -> None:
    # The strategy blocks 8 s in a callback, so the first Ctrl-C cannot end the run yet;
    # the second aborts it at once, with nothing written (had it not, the run would end
    # after the stall and write its results).
    code, output = _interrupt_when(tmp_path / "running", tmp_path, _env(), times=2, stall=8.0)
    assert code == 130, output
    assert "Traceback" not in output
    assert output.strip() == "interrupted (Ctrl-C) while running (backtest); nothing was written"
    assert not (tmp_path / "o").exists()


def test_ctrl_c_while_loading_the_strategy_exits_130_with_one_line(tmp_path: Path) -> None:
    marker = tmp_path / "importing"
    code, output = _interrupt_when(marker, tmp_path, {**_env(), "SLOW_IMPORT": str(marker)})
    assert code == 130, output
    assert "Traceback" not in output
    assert output.strip().startswith("interrupted (Ctrl-C) while loading the strategy")
    assert "slow.py:Slow" in output


def test_ctrl_c_while_writing_says_so_and_exits_130(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(adapters.cli.run, "_write_outputs", interrupted)
    config = write(tmp_path / "c.toml", f"{SAMPLE}{MM}")
    assert main(["run", str(config), "--out", str(tmp_path / "o")]) == 130
    assert f"interrupted (Ctrl-C) while writing the artifacts to {tmp_path / 'o'}" in (
        capsys.readouterr().out
    )


def test_a_bug_is_one_line_with_the_traceback_in_a_file_or_shown_with_debug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(adapters.cli.run, "plan_data", broken)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    config = write(tmp_path / "c.toml", f"{SAMPLE}{MM}")
    assert main(["run", str(config)]) == 70
    out, err = capsys.readouterr()
    assert "internal error: RuntimeError: a bug - this is a bug in streamsim" in out
    assert "Traceback" not in out + err
    (crash,) = tmp_path.glob("streamsim-crash-*.txt")
    assert str(crash) in out.replace("\n", "")
    assert "Traceback" in crash.read_text() and "RuntimeError: a bug" in crash.read_text()
    assert main(["run", str(config), "--debug"]) == 70
    out, err = capsys.readouterr()
    assert "the traceback follows" in out and "Traceback" in err and "RuntimeError" in err
    monkeypatch.setenv("STREAMSIM_DEBUG", "1")
    assert main(["run", str(config)]) == 70
    assert "Traceback" in capsys.readouterr().err


def test_debug_shows_the_traceback_of_a_user_mistake_too(tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", f"{SAMPLE}{MM}")
    done = streamsim("--debug", "run", str(config), "--set", "run.speed=nan", cwd=tmp_path)
    assert done.returncode == 2
    assert "run.speed: expected a finite number" in done.stdout
    assert "Traceback" in done.stderr and "ConfigError" in done.stderr


@pytest.mark.parametrize("options", [["--out", ""], ["--out", "  "], ["--set", "output.dir=''"]])
def test_an_empty_output_path_is_a_usage_error_not_the_default_directory(
    tmp_path: Path,
    options: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write(tmp_path / "c.toml", f"{SAMPLE}{MM}")
    monkeypatch.chdir(tmp_path)
    try:
        code = main(["run", str(config), *options])
    except SystemExit as exit_:  # argparse's usage error
        code = exit_.code
    assert code == 2
    out = capsys.readouterr()
    assert "empty" in out.out + out.err
    assert not (tmp_path / "runs").exists()
