"""Run the real Prometheus server for tests, scraping itself every second.

Checked against Prometheus 2.42 (Debian's `prometheus`). It cannot report a port it picked itself, so a free
port is found here; the test waits until the first scrape gives `up` a value.
"""
from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.alertmanager import free_port
from tests.processes import log_tail, stop_process

INSTALL_HINT = "apt-get install prometheus"
_START_ATTEMPTS = 3


@dataclass
class RunningPrometheus:
    url: str
    process: asyncio.subprocess.Process
    log_path: Path

    async def stop(self) -> None:
        await stop_process(self.process)

    def log_tail(self, lines: int = 30) -> str:
        return log_tail(self.log_path, lines)


async def _has_data(prometheus: RunningPrometheus, timeout: float = 30.0) -> bool:
    """Wait until the self-scrape has given `up` a value; False if the process exits first."""
    deadline = asyncio.get_running_loop().time() + timeout
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as session:
        while asyncio.get_running_loop().time() < deadline:
            if prometheus.process.returncode is not None:
                return False
            try:
                async with session.get(prometheus.url + "/api/v1/query", params={"query": "up"}) as response:
                    if response.status == 200 and (await response.json())["data"]["result"]:
                        return True
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, KeyError):
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"Prometheus at {prometheus.url} had no data within {timeout}s; its log:\n"
                         f"{prometheus.log_tail()}")


async def start_prometheus(tmp_path: Path) -> RunningPrometheus:
    """Start Prometheus on a free port, scraping itself; skip the test when it is not installed."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip(f"the Prometheus binary is not installed ({INSTALL_HINT})")
    home = tmp_path / "prometheus"
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / "prometheus.log"
    for _ in range(_START_ATTEMPTS):
        port = free_port()
        config = home / "prometheus.yml"
        config.write_text("global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                          "scrape_configs:\n  - job_name: prometheus\n"
                          f"    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n")
        with open(log_path, "ab") as log:
            process = await asyncio.create_subprocess_exec(
                binary, f"--config.file={config}", f"--storage.tsdb.path={home / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}", stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log)
        prometheus = RunningPrometheus(f"http://127.0.0.1:{port}", process, log_path)
        try:
            if await _has_data(prometheus):
                return prometheus
        except BaseException:
            await prometheus.stop()
            raise
        await prometheus.stop()
    raise AssertionError(f"Prometheus would not start; its log:\n{prometheus.log_tail()}")
