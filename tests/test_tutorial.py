"""docs/tutorial.md works as written: its files are written and its commands run, in order,
in an empty directory, with the installed ``streamsim`` command."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TUTORIAL = ROOT / "docs" / "tutorial.md"
CAPTURE = ROOT.parent / "shared" / "data" / "binance-usdm-capture" / "btcusdt_20240808.gz"
BLOCK = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```$", re.S | re.M)


def steps() -> list[tuple[str, str]]:
    """The tutorial's steps in order: ``(name, text)`` for a file to write (a block whose
    info string says ``file=name``), ``("$", command)`` for each ``$`` line of a
    ``console`` block."""
    out: list[tuple[str, str]] = []
    for language, info, body in BLOCK.findall(TUTORIAL.read_text(encoding="utf-8")):
        name = re.search(r"file=(\S+)", info)
        if name:
            out.append((name.group(1), body))
        elif language == "console":
            out += [("$", line[2:]) for line in body.splitlines() if line.startswith("$ ")]
    return out


def test_the_tutorial_has_its_steps() -> None:
    names = [name for name, _ in steps()]
    assert names.count("$") >= 6 and {"dip.py", "sample.toml", "mydata.toml"} <= set(names)


def test_every_step_of_the_tutorial_runs_as_written(tmp_path: Path) -> None:
    if not CAPTURE.exists():
        pytest.skip(f"the shared capture {CAPTURE} is not here")
    shutil.copy(CAPTURE, tmp_path / "my_capture.gz")
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.pop("STREAMSIM_DEBUG", None)
    outputs = []
    for name, text in steps():
        if name != "$":
            (tmp_path / name).write_text(text, encoding="utf-8")
            continue
        command = text.replace("python ", f"{sys.executable} ", 1)
        done = subprocess.run(
            command,
            shell=True,
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"$ {text}\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout)
    everything = "\n".join(outputs)
    assert "no problems found" in everything and "fills; total return" in everything
    for run in ("demo", "dip", "mine"):
        assert (tmp_path / "runs" / run / "report.html").exists()
    assert "mark_fallback" in everything  # the data note on how positions were marked
