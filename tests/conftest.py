"""Fixtures shared by every test package."""

from __future__ import annotations

import os

# Tests talk to servers on 127.0.0.1 only: never through a proxy from the environment.
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
os.environ.setdefault("PTB_TIMEDELTA", "1")
