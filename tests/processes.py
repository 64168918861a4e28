"""Helpers for the real servers tests start (Alertmanager, Prometheus): stopping them, reading their logs."""
from __future__ import annotations

import asyncio
from pathlib import Path


async def stop_process(process: asyncio.subprocess.Process, grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds."""
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), grace)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()


def log_tail(path: Path, lines: int = 30) -> str:
    """The end of a server's own log (for failure messages only)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
