"""`streamsim demo`'s report in a real browser: every plot draws, nothing remote loads.

Runs Debian's headless Chromium over the DevTools protocol (on loopback) and saves a
screenshot next to the report. Skipped, saying so, where Chromium is not installed;
``.ci/run`` installs it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium not found: install Debian's chromium package "
    "(apt-get install chromium) to run the report's browser test; .ci/run does",
)

# Per SVG: its width on the page and how many of its shapes have a non-empty box.
MEASURE = """(() => [...document.querySelectorAll('svg')].map(svg => ({
  width: svg.getBoundingClientRect().width,
  drawn: [...svg.querySelectorAll('polyline, path, rect, polygon, circle')]
    .filter(e => { const b = e.getBBox(); return b.width > 0 || b.height > 0; }).length,
  lines: [...svg.querySelectorAll('polyline')].filter(e => e.points.numberOfItems > 1).length,
})))()"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _page_socket(port: int) -> str:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as reply:
                pages = [t for t in json.load(reply) if t.get("type") == "page"]
            if pages:
                return str(pages[0]["webSocketDebuggerUrl"])
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("Chromium's DevTools endpoint did not come up")
        time.sleep(0.1)


async def _inspect(ws_url: str, page: str) -> tuple[list[str], list[dict[str, Any]], bytes]:
    """Load ``page``; return the URLs it requested, the SVG measurements, a PNG."""
    requested: list[str] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(ws_url) as ws:
        ids = iter(range(1, 1_000))

        async def call(method: str, **params: Any) -> Any:
            number = next(ids)
            await ws.send_json({"id": number, "method": method, "params": params})
            while True:
                message = await ws.receive_json()
                if message.get("method") == "Network.requestWillBeSent":
                    requested.append(message["params"]["request"]["url"])
                if message.get("id") == number:
                    return message.get("result", {})

        await call("Network.enable")
        await call("Page.enable")
        await call(
            "Emulation.setDeviceMetricsOverride",
            width=1280,
            height=2400,
            deviceScaleFactor=1,
            mobile=False,
        )
        await call("Page.navigate", url=page)
        while True:  # until the page has loaded
            message = await ws.receive_json()
            if message.get("method") == "Network.requestWillBeSent":
                requested.append(message["params"]["request"]["url"])
            if message.get("method") == "Page.loadEventFired":
                break
        measured = await call("Runtime.evaluate", expression=MEASURE, returnByValue=True)
        shot = await call("Page.captureScreenshot", format="png")
    return requested, measured["result"]["value"], base64.b64decode(shot["data"])


def test_demo_report_draws_every_plot_and_loads_nothing_remote(tmp_path: Path) -> None:
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 0
    report = tmp_path / "demo" / "report.html"
    port = _free_port()
    assert CHROMIUM is not None
    browser = subprocess.Popen(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--remote-debugging-address=127.0.0.1",
            f"--remote-debugging-port={port}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        requested, svgs, png = asyncio.run(
            asyncio.wait_for(_inspect(_page_socket(port), report.as_uri()), timeout=60)
        )
    finally:
        browser.kill()
        browser.wait(timeout=10)
    screenshot = report.with_name("report.png")
    screenshot.write_bytes(png)
    assert requested == [report.as_uri()]  # the page itself, nothing else
    assert len(svgs) >= 5, svgs  # equity, drawdown, position, PnL, fills (and more)
    for svg in svgs:
        assert svg["width"] > 100 and svg["drawn"] > 0, svg
    assert sum(svg["lines"] for svg in svgs) >= 2  # the equity and position lines
    assert png.startswith(b"\x89PNG") and len(png) > 20_000
