"""What every benchmark shares: the machine it ran on, its section of BENCHMARKS.md, its folder."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"


def machine() -> str:
    """CPU model, core count, kernel, Python and SQLite versions, in one line."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{model}, {os.cpu_count()} CPUs (nproc), Linux {platform.release()}, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )


def write_section(heading: str, text: str) -> None:
    """Replace (or append) the `heading` section of BENCHMARKS.md with `text`."""
    current = BENCHMARKS.read_text() if BENCHMARKS.exists() else "# Benchmarks\n"
    section = f"{heading}\n\n{text.rstrip()}\n"
    if heading in current:
        head, rest = current.split(heading, 1)
        following = rest.find("\n## ")
        tail = rest[following + 1 :] if following != -1 else ""
        current = head + section + ("\n" + tail if tail else "")
    else:
        current = current.rstrip("\n") + "\n\n" + section
    BENCHMARKS.write_text(current)


@contextlib.contextmanager
def scratch_folder(prefix: str, *, keep: bool) -> Iterator[Path]:
    """A fresh folder for a run's databases and logs; removed afterwards unless `keep`."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    finally:
        if keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
