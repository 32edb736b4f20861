"""`python bot.py ...` in a child process, measured: exit status, output, peak memory, time.

The bot runs under a small wrapper process that caps its address space (a safety net: a
regression fails fast instead of swapping the machine) and reads its peak RSS from `os.wait4`.
The wrapper is there because Linux counts in a child's peak RSS the memory of the process it
was forked from: forked from pytest, the figure would include pytest's own size.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ADDRESS_SPACE_CAP = 2 << 30  # threads reserve address space far beyond what they use

_WRAPPER = """\
import json, os, resource, subprocess, sys
cap, report, command = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
def limit():
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
child = subprocess.Popen(command, preexec_fn=limit)
_, status, usage = os.wait4(child.pid, 0)
with open(report, "w") as f:
    json.dump({"status": os.waitstatus_to_exitcode(status), "max_rss_kb": usage.ru_maxrss}, f)
"""


@dataclass
class Measured:
    returncode: int
    stdout: str
    stderr: str
    max_rss_mb: float
    seconds: float


def run_measured(*args: str, env: dict[str, str], cwd: Path, timeout: float = 60) -> Measured:
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "usage.json"
        command = [sys.executable, str(ROOT / "bot.py"), *args]
        started = time.monotonic()
        wrapper = subprocess.Popen(
            [sys.executable, "-c", _WRAPPER, str(ADDRESS_SPACE_CAP), str(report), *command],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            stdout, stderr = wrapper.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(wrapper.pid, signal.SIGKILL)
            stdout, stderr = wrapper.communicate()
        seconds = time.monotonic() - started
        usage = json.loads(report.read_text()) if report.exists() else {}
    return Measured(
        usage.get("status", -1),
        stdout.decode(errors="replace"),
        stderr.decode(errors="replace"),
        usage.get("max_rss_kb", 0) / 1024,  # kilobytes on Linux
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
