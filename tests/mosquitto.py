"""A Mosquitto broker of the test's own (or the machine's, when no binary is installed)."""
from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import shutil
import socket
from pathlib import Path

import pytest

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
        return True
    return False


class Mosquitto:
    """A Mosquitto broker process of the test's own, on a fixed port so it can be restarted in place."""

    def __init__(self, workdir: Path, *, persistent: bool) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self._workdir = workdir
        self._persistent = persistent
        self._process: asyncio.subprocess.Process | None = None

    def _write_config(self) -> Path:
        lines = [f"listener {self.port} {self.host}", "allow_anonymous true", f"user {getpass.getuser()}"]
        if self._persistent:
            lines += ["persistence true", f"persistence_location {self._workdir}/", "autosave_interval 1"]
        else:
            lines += ["persistence false"]
        config = self._workdir / "mosquitto.conf"
        config.write_text("\n".join(lines) + "\n")
        return config

    async def start(self) -> None:
        config = self._write_config()
        log_path = self._workdir / "mosquitto.log"
        with log_path.open("ab") as log_file:
            self._process = await asyncio.create_subprocess_exec(
                MOSQUITTO, "-c", str(config), stdout=log_file, stderr=log_file,
            )
        deadline = asyncio.get_running_loop().time() + 5
        while not await asyncio.to_thread(port_open, self.port):
            if self._process.returncode is not None or asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"mosquitto did not start on port {self.port}: {log_path.read_text()[-500:]}")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        """Stop gracefully (SIGTERM), so a persistent broker saves its sessions."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 5)
        except TimeoutError:
            process.kill()
            await process.wait()


class ExternalBroker:
    """The machine's own broker, used only when no mosquitto binary is installed."""

    host = "127.0.0.1"
    port = 1883

    async def stop(self) -> None:
        return None


async def make_broker(tmp_path: Path, *, persistent: bool) -> Mosquitto | ExternalBroker:
    if MOSQUITTO:
        broker = Mosquitto(tmp_path, persistent=persistent)
        await broker.start()
        return broker
    if persistent:
        pytest.skip("needs its own mosquitto binary to restart the broker; none found on PATH or /usr/sbin")
    if not await asyncio.to_thread(port_open, 1883):
        pytest.skip("no mosquitto binary found and no broker listening on 127.0.0.1:1883")
    return ExternalBroker()
