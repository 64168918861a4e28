"""Run `python3 -m bot ...` as a user would, and the tools in-process for the finer cases."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks"
FIRING = ROOT / "tests" / "fixtures" / "alerts" / "alertmanager_webhook_firing.json"


def run_cli(*args: str, cwd: Path = ROOT, env: dict | None = None) -> tuple[int, str, str]:
    """`python3 -m bot ARGS` in `cwd`; returns the exit code, stdout and stderr."""
    done = subprocess.run([sys.executable, "-m", "bot", *args], cwd=str(cwd), capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT), **(env or {})), timeout=60)
    return done.returncode, done.stdout, done.stderr


def run_tool(tool: Callable[..., int], *args, **options) -> tuple[int, str]:
    """A tool function with its output captured."""
    out = io.StringIO()
    code = tool(*args, out=out, **options)
    return code, out.getvalue()
