"""`python bot.py ...` in a child process, measured: exit status, output, peak memory, time.

The child runs under an address-space cap (a safety net: a regression fails fast instead of
swapping the machine); its own peak RSS comes from `os.wait4`, which reports on that child alone.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ADDRESS_SPACE_CAP = 2 << 30  # threads reserve address space far beyond what they use


@dataclass
class Measured:
    returncode: int
    stdout: str
    stderr: str
    max_rss_mb: float
    seconds: float


def run_measured(*args: str, env: dict[str, str], cwd: Path, timeout: float = 60) -> Measured:
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_CAP, ADDRESS_SPACE_CAP))

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        child = subprocess.Popen(
            [sys.executable, str(ROOT / "bot.py"), *args],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=err,
            preexec_fn=cap,
        )
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                child.kill()
                pid, status, usage = os.wait4(child.pid, 0)
                break
            time.sleep(0.02)
        seconds = time.monotonic() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(
            child.returncode,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
            usage.ru_maxrss / 1024,  # kilobytes on Linux
            seconds,
        )


def environment(database_url: str, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TELEGRAM_", "DATABASE_", "EMAIL_", "SENDGRID_", "ADMIN_"))
    }
    env.update(PYTHONPATH=str(ROOT), DATABASE_URL=database_url, EMAIL_BACKEND="console")
    env.update(extra)
    return env
